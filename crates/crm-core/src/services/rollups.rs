//! Marketing Hub rollups: the daily aggregates every headline number reads.
//!
//! Two stages, both pure functions of the raw data:
//!
//! 1. **Lead facts** (`marketing_lead_facts`): for each Meta-attributed lead,
//!    one row per counted event (the lead itself, each opportunity and win in
//!    both models, each completed sale or refund in both models, the customer
//!    in both models), keyed by the day it counts in. [`facts_of`] defines
//!    them; a lead's old facts say which days it used to count in, so a change
//!    (even a deletion) re-rolls exactly the days it moved.
//! 2. **Daily rollups** (`marketing_daily`, `marketing_daily_extra`): per
//!    tenant × level (total per channel, campaign, ad) × day, recomputed from
//!    that day's facts plus the synced insights, money converted to the
//!    reporting currency per fact at the rate of its date.
//! 3. **Monthly sums** (`marketing_monthly`): the daily rows summed per
//!    calendar month, recomputed in the same transaction as their days. Long
//!    ranges read whole months there and only their partial end months from
//!    the daily rows.
//!
//! Changes mark the lead or day dirty in their own transaction
//! ([`crm_db::rollups`]); [`refresh`] clears the marks, idempotently, with the
//! same functions that [`rebuild`] runs over everything.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use crm_db::entity::{
    fx_rate, lead, marketing_daily as daily, marketing_daily_extra as extra,
    marketing_lead_fact as fact, marketing_monthly as monthly, marketing_rollup_dirty as dirty,
    meta_ad_object, meta_insights_daily, opportunity, pipeline_stage, sale, tenant,
};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::metrics;
use crate::validate::currency_exponent;

/// `ref_day` of facts that have none (counts; a first sale).
pub fn no_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The key of the unknown-campaign row (same as `marketing::UNKNOWN`).
pub const UNKNOWN: &str = "unknown";

pub const LEADS: &str = "leads";
pub const OPPS_C: &str = "opps_c";
pub const WON_C: &str = "won_c";
pub const CUST_C: &str = "cust_c";
pub const REV_C: &str = "rev_c";
pub const OPPS_A: &str = "opps_a";
pub const WON_A: &str = "won_a";
pub const REV_A: &str = "rev_a";
pub const CUST_A: &str = "cust_a";

pub const UNCONV_SPEND: &str = "unconv_spend";
pub const UNCONV_REV_C: &str = "unconv_rev_c";
pub const UNCONV_REV_A: &str = "unconv_rev_a";

/// Level of a rollup row.
pub const TOTAL: &str = "t";
pub const CAMPAIGN: &str = "c";
pub const AD: &str = "a";

/// One counted event of a lead.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fact {
    pub kind: &'static str,
    pub campaign: String,
    pub ad: String,
    pub channel: String,
    pub day: NaiveDate,
    pub ref_day: NaiveDate,
    pub currency: String,
    pub value: i64,
}

/// What [`facts_of`] needs of a lead.
#[derive(Debug, Clone)]
pub struct LeadIn {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub lead_source: String,
    pub campaign_id: Option<String>,
    pub ad_id: Option<String>,
    pub channel: String,
}

#[derive(Debug, Clone)]
pub struct OppIn {
    pub created_at: DateTime<Utc>,
    pub won: bool,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SaleIn {
    pub kind: String,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The facts of one lead, per the metrics contract
/// (`docs/marketing-metrics.md`). `ad_campaign` resolves an ad to its campaign
/// from the synced structure. Not Meta-attributed: no facts.
pub fn facts_of(
    l: &LeadIn,
    opps: &[OppIn],
    sales: &[SaleIn],
    ad_campaign: &HashMap<String, String>,
    tz: Tz,
) -> Vec<Fact> {
    if l.lead_source != "META_ADS" {
        return Vec::new();
    }
    let day_of = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    let campaign = l
        .campaign_id
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| l.ad_id.as_ref().and_then(|a| ad_campaign.get(a).cloned()))
        .unwrap_or_else(|| UNKNOWN.to_owned());
    let ad = l.ad_id.clone().unwrap_or_default();
    let lead_day = day_of(l.created_at);
    let mut counts: BTreeMap<(&'static str, NaiveDate, NaiveDate), i64> = BTreeMap::new();
    let mut money: Vec<(&'static str, NaiveDate, NaiveDate, String, i64)> = Vec::new();
    counts.insert((LEADS, lead_day, no_day()), 1);
    let mut bump = |k: &'static str, d: NaiveDate, r: NaiveDate| {
        *counts.entry((k, d, r)).or_default() += 1;
    };
    for o in opps {
        bump(OPPS_C, lead_day, no_day());
        bump(OPPS_A, day_of(o.created_at), no_day());
        if o.won {
            bump(WON_C, lead_day, no_day());
            bump(WON_A, day_of(o.closed_at.unwrap_or(o.created_at)), no_day());
        }
    }
    let mut sale_days: BTreeSet<NaiveDate> = BTreeSet::new();
    for s in sales {
        let is_refund = s.kind == "refund";
        if s.status != "completed" && (is_refund || s.status != "refunded") {
            continue;
        }
        let day = day_of(s.paid_at.unwrap_or(s.created_at));
        let signed = if is_refund {
            -s.amount_minor
        } else {
            s.amount_minor
        };
        money.push((REV_C, lead_day, day, s.currency.clone(), signed));
        money.push((REV_A, day, day, s.currency.clone(), signed));
        if !is_refund {
            sale_days.insert(day);
        }
    }
    if !sale_days.is_empty() {
        bump(CUST_C, lead_day, no_day());
        let mut prev = no_day();
        for d in sale_days {
            bump(CUST_A, d, prev);
            prev = d;
        }
    }
    let mk = |kind, day, ref_day, currency: String, value| Fact {
        kind,
        campaign: campaign.clone(),
        ad: ad.clone(),
        channel: l.channel.clone(),
        day,
        ref_day,
        currency,
        value,
    };
    let mut out: Vec<Fact> = counts
        .into_iter()
        .map(|((k, d, r), v)| mk(k, d, r, String::new(), v))
        .collect();
    out.extend(money.into_iter().map(|(k, d, r, c, v)| mk(k, d, r, c, v)));
    out.sort();
    out
}

fn kind_static(k: &str) -> &'static str {
    match k {
        LEADS => LEADS,
        OPPS_C => OPPS_C,
        WON_C => WON_C,
        CUST_C => CUST_C,
        REV_C => REV_C,
        OPPS_A => OPPS_A,
        WON_A => WON_A,
        REV_A => REV_A,
        CUST_A => CUST_A,
        _ => "other",
    }
}

fn from_row(r: &fact::Model) -> Fact {
    Fact {
        kind: kind_static(&r.kind),
        campaign: r.campaign_id.clone(),
        ad: r.ad_id.clone(),
        channel: r.channel.clone(),
        day: r.day,
        ref_day: r.ref_day,
        currency: r.currency.clone(),
        value: r.value,
    }
}

/// The tenant's time zone and reporting currency.
pub struct TenantInfo {
    pub id: Uuid,
    pub tz: Tz,
    pub currency: String,
}

pub async fn tenant_info(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<TenantInfo, DbErr> {
    let t = tenant::Entity::find_by_id(tenant_id)
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("tenant {tenant_id}")))?;
    Ok(TenantInfo {
        id: t.id,
        tz: t.timezone.parse().unwrap_or(chrono_tz::UTC),
        currency: t.currency,
    })
}

/// Recomputes the facts of `ids` (absent or non-Meta leads get none) and
/// returns the days whose facts changed.
pub async fn refresh_leads(
    conn: &impl ConnectionTrait,
    t: &TenantInfo,
    ids: &[Uuid],
) -> Result<BTreeSet<NaiveDate>, DbErr> {
    refresh_leads_with(conn, t, ids, false).await
}

/// [`refresh_leads`]; `none_stored` says the leads have no facts yet (a
/// rebuild has just deleted them all), so they are not read back.
async fn refresh_leads_with(
    conn: &impl ConnectionTrait,
    t: &TenantInfo,
    ids: &[Uuid],
    none_stored: bool,
) -> Result<BTreeSet<NaiveDate>, DbErr> {
    let mut changed = BTreeSet::new();
    if ids.is_empty() {
        return Ok(changed);
    }
    let leads: Vec<lead::Model> = lead::Entity::find()
        .filter(lead::Column::TenantId.eq(t.id))
        .filter(lead::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let meta: Vec<&lead::Model> = leads
        .iter()
        .filter(|l| l.lead_source == "META_ADS")
        .collect();
    let meta_ids: Vec<Uuid> = meta.iter().map(|l| l.id).collect();
    let need_ads: HashSet<String> = meta
        .iter()
        .filter(|l| l.meta_campaign_id.as_deref().is_none_or(str::is_empty))
        .filter_map(|l| l.meta_ad_id.clone())
        .collect();
    let ad_campaign: HashMap<String, String> = if need_ads.is_empty() {
        HashMap::new()
    } else {
        meta_ad_object::Entity::find()
            .select_only()
            .columns([
                meta_ad_object::Column::ExternalId,
                meta_ad_object::Column::CampaignId,
            ])
            .filter(meta_ad_object::Column::TenantId.eq(t.id))
            .filter(meta_ad_object::Column::Level.eq("ad"))
            .filter(meta_ad_object::Column::ExternalId.is_in(need_ads))
            .into_tuple::<(String, Option<String>)>()
            .all(conn)
            .await?
            .into_iter()
            .filter_map(|(a, c)| Some((a, c?)))
            .collect()
    };
    let won_stages: HashSet<Uuid> = pipeline_stage::Entity::find()
        .select_only()
        .column(pipeline_stage::Column::Id)
        .filter(pipeline_stage::Column::TenantId.eq(t.id))
        .filter(pipeline_stage::Column::Kind.eq("won"))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let mut opps: HashMap<Uuid, Vec<OppIn>> = HashMap::new();
    let mut sales: HashMap<Uuid, Vec<SaleIn>> = HashMap::new();
    if !meta_ids.is_empty() {
        type OppRow = (Uuid, DateTime<Utc>, Uuid, Option<DateTime<Utc>>);
        let rows: Vec<OppRow> = opportunity::Entity::find()
            .select_only()
            .columns([
                opportunity::Column::LeadId,
                opportunity::Column::CreatedAt,
                opportunity::Column::StageId,
                opportunity::Column::ClosedAt,
            ])
            .filter(opportunity::Column::TenantId.eq(t.id))
            .filter(opportunity::Column::LeadId.is_in(meta_ids.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        for (lead_id, created_at, stage, closed_at) in rows {
            opps.entry(lead_id).or_default().push(OppIn {
                created_at,
                won: won_stages.contains(&stage),
                closed_at,
            });
        }
        type Row = (
            Uuid,
            String,
            String,
            i64,
            String,
            Option<DateTime<Utc>>,
            DateTime<Utc>,
        );
        let rows: Vec<Row> = sale::Entity::find()
            .select_only()
            .columns([
                sale::Column::LeadId,
                sale::Column::Kind,
                sale::Column::Status,
                sale::Column::AmountMinor,
                sale::Column::Currency,
                sale::Column::PaidAt,
                sale::Column::CreatedAt,
            ])
            .filter(sale::Column::TenantId.eq(t.id))
            .filter(sale::Column::LeadId.is_in(meta_ids.iter().copied()))
            .filter(sale::Column::Status.is_in(["completed", "refunded"]))
            .into_tuple()
            .all(conn)
            .await?;
        for (lead_id, kind, status, amount_minor, currency, paid_at, created_at) in rows {
            sales.entry(lead_id).or_default().push(SaleIn {
                kind,
                status,
                amount_minor,
                currency,
                paid_at,
                created_at,
            });
        }
    }
    let mut new: HashMap<Uuid, Vec<Fact>> = HashMap::new();
    for l in &meta {
        let li = LeadIn {
            id: l.id,
            created_at: l.created_at,
            lead_source: l.lead_source.clone(),
            campaign_id: l.meta_campaign_id.clone(),
            ad_id: l.meta_ad_id.clone(),
            channel: l.channel.clone(),
        };
        let f = facts_of(
            &li,
            opps.get(&l.id).map(Vec::as_slice).unwrap_or_default(),
            sales.get(&l.id).map(Vec::as_slice).unwrap_or_default(),
            &ad_campaign,
            t.tz,
        );
        new.insert(l.id, f);
    }
    let old_rows: Vec<fact::Model> = if none_stored {
        Vec::new()
    } else {
        fact::Entity::find()
            .filter(fact::Column::TenantId.eq(t.id))
            .filter(fact::Column::LeadId.is_in(ids.iter().copied()))
            .all(conn)
            .await?
    };
    let mut old: HashMap<Uuid, Vec<Fact>> = HashMap::new();
    for r in &old_rows {
        old.entry(r.lead_id).or_default().push(from_row(r));
    }
    let mut replace: Vec<Uuid> = Vec::new();
    let mut inserts: Vec<fact::ActiveModel> = Vec::new();
    for id in ids {
        let mut o = old.remove(id).unwrap_or_default();
        o.sort();
        let n = new.remove(id).unwrap_or_default();
        if o == n {
            continue;
        }
        let by_day = |v: &[Fact]| {
            let mut m: BTreeMap<NaiveDate, Vec<Fact>> = BTreeMap::new();
            for f in v {
                m.entry(f.day).or_default().push(f.clone());
            }
            m
        };
        let (od, nd) = (by_day(&o), by_day(&n));
        for d in od.keys().chain(nd.keys()) {
            if od.get(d) != nd.get(d) {
                changed.insert(*d);
            }
        }
        if !o.is_empty() {
            replace.push(*id);
        }
        inserts.extend(n.into_iter().map(|f| fact::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(t.id),
            lead_id: Set(*id),
            kind: Set(f.kind.to_owned()),
            campaign_id: Set(f.campaign),
            ad_id: Set(f.ad),
            channel: Set(f.channel),
            day: Set(f.day),
            ref_day: Set(f.ref_day),
            currency: Set(f.currency),
            value: Set(f.value),
        }));
    }
    for chunk in replace.chunks(500) {
        fact::Entity::delete_many()
            .filter(fact::Column::TenantId.eq(t.id))
            .filter(fact::Column::LeadId.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
    }
    for chunk in inserts.chunks(1000) {
        fact::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await?;
    }
    Ok(changed)
}

/// FX rates of a tenant into its reporting currency.
pub struct Rates {
    target: String,
    target_exp: u32,
    rates: HashMap<(String, NaiveDate), i64>,
}

impl Rates {
    pub async fn load(conn: &impl ConnectionTrait, t: &TenantInfo) -> Result<Self, DbErr> {
        let rows = fx_rate::Entity::find()
            .filter(fx_rate::Column::TenantId.eq(t.id))
            .filter(fx_rate::Column::ToCurrency.eq(t.currency.as_str()))
            .all(conn)
            .await?;
        Ok(Self {
            target: t.currency.clone(),
            target_exp: currency_exponent(&t.currency).unwrap_or(2),
            rates: rows
                .into_iter()
                .map(|r| ((r.from_currency, r.day), r.rate_e9))
                .collect(),
        })
    }

    /// Minor units in the reporting currency, `Ok(None)` without a rate, an
    /// error when the converted amount does not fit.
    pub fn convert(
        &self,
        amount: i64,
        currency: &str,
        day: NaiveDate,
    ) -> Result<Option<i64>, Overflow> {
        if currency == self.target || amount == 0 {
            return Ok(Some(amount));
        }
        let Some(rate) = self.rates.get(&(currency.to_owned(), day)) else {
            return Ok(None);
        };
        metrics::checked_convert(
            amount,
            currency_exponent(currency).unwrap_or(2),
            self.target_exp,
            *rate,
        )
        .map(Some)
        .ok_or(Overflow)
    }
}

/// A sum or conversion that does not fit in 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// `slot += v`, or an overflow.
fn add(slot: &mut i64, v: i64) -> Result<(), Overflow> {
    *slot = slot.checked_add(v).ok_or(Overflow)?;
    Ok(())
}

/// The error a rollup rewrite fails with when a total would overflow: it
/// names the lead whose amounts pushed it over (or the synced insights),
/// never storing a wrapped total.
fn overflow_error(lead: Option<Uuid>, day: NaiveDate) -> DbErr {
    DbErr::Custom(match lead {
        Some(id) => format!(
            "amount_overflow: the Marketing Hub totals of {day} overflow at lead {id}; check that lead's sales and opportunities"
        ),
        None => format!(
            "amount_overflow: the Marketing Hub totals of {day} overflow in Meta's synced spend or counts"
        ),
    })
}

type Key = (&'static str, String, String, String);
type ExtraKey = (
    &'static str,
    String,
    String,
    String,
    &'static str,
    NaiveDate,
    String,
);

#[derive(Default)]
struct Wide {
    insight_rows: i64,
    spend: i64,
    impressions: i64,
    clicks: i64,
    reach: i64,
    meta_leads: i64,
    messaging: i64,
    leads: i64,
    opps_c: i64,
    won_c: i64,
    customers_c: i64,
    revenue_c: i64,
    opps_a: i64,
    won_a: i64,
    revenue_a: i64,
}

impl Wide {
    /// The additive figures, in [`crm_db::rollups::SUM_COLUMNS`] order.
    fn sums(&self) -> [i64; 14] {
        [
            self.insight_rows,
            self.spend,
            self.impressions,
            self.clicks,
            self.meta_leads,
            self.messaging,
            self.leads,
            self.opps_c,
            self.won_c,
            self.customers_c,
            self.revenue_c,
            self.opps_a,
            self.won_a,
            self.revenue_a,
        ]
    }
}

/// The keys a lead fact rolls into: its channel total, its campaign and, when
/// known, its ad.
fn lead_keys(campaign: &str, ad: &str, channel: &str) -> Vec<Key> {
    let mut k = vec![
        (TOTAL, String::new(), String::new(), channel.to_owned()),
        (CAMPAIGN, campaign.to_owned(), String::new(), String::new()),
    ];
    if !ad.is_empty() {
        k.push((AD, String::new(), ad.to_owned(), String::new()));
    }
    k
}

/// Recomputes the rollup rows of `days` from the facts and the synced
/// insights of those days. Idempotent.
pub async fn recompute_days(
    conn: &impl ConnectionTrait,
    t: &TenantInfo,
    rates: &Rates,
    days: &[NaiveDate],
) -> Result<(), DbErr> {
    crm_db::rollups::bump_version(conn, t.id).await?;
    for chunk in days.chunks(31) {
        // The rows this rewrite removes (exactly those: a concurrent rewrite
        // of the same day is caught by the unique key), taken away from
        // their months below.
        let old: Vec<daily::Model> = daily::Entity::delete_many()
            .filter(daily::Column::TenantId.eq(t.id))
            .filter(daily::Column::Day.is_in(chunk.iter().copied()))
            .exec_with_returning(conn)
            .await?;
        extra::Entity::delete_many()
            .filter(extra::Column::TenantId.eq(t.id))
            .filter(extra::Column::Day.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
        let mut wide: HashMap<(NaiveDate, Key), Wide> = HashMap::new();
        let mut extras: HashMap<(NaiveDate, ExtraKey), i64> = HashMap::new();
        let facts: Vec<fact::Model> = fact::Entity::find()
            .filter(fact::Column::TenantId.eq(t.id))
            .filter(fact::Column::Day.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        for f in &facts {
            let kind = kind_static(&f.kind);
            let fail = |_: Overflow| overflow_error(Some(f.lead_id), f.day);
            for key in lead_keys(&f.campaign_id, &f.ad_id, &f.channel) {
                let mut add_extra = |k: &'static str, r: NaiveDate, c: &str, v: i64| {
                    add(
                        extras
                            .entry((
                                f.day,
                                (
                                    key.0,
                                    key.1.clone(),
                                    key.2.clone(),
                                    key.3.clone(),
                                    k,
                                    r,
                                    c.to_owned(),
                                ),
                            ))
                            .or_default(),
                        v,
                    )
                };
                let w = wide.entry((f.day, key.clone())).or_default();
                match kind {
                    LEADS => add(&mut w.leads, f.value),
                    OPPS_C => add(&mut w.opps_c, f.value),
                    WON_C => add(&mut w.won_c, f.value),
                    CUST_C => add(&mut w.customers_c, f.value),
                    OPPS_A => add(&mut w.opps_a, f.value),
                    WON_A => add(&mut w.won_a, f.value),
                    REV_C | REV_A => match rates
                        .convert(f.value, &f.currency, f.ref_day)
                        .map_err(fail)?
                    {
                        Some(v) if kind == REV_C => add(&mut w.revenue_c, v),
                        Some(v) => add(&mut w.revenue_a, v),
                        None => add_extra(
                            if kind == REV_C {
                                UNCONV_REV_C
                            } else {
                                UNCONV_REV_A
                            },
                            f.ref_day,
                            &f.currency,
                            f.value,
                        ),
                    },
                    CUST_A => add_extra(CUST_A, f.ref_day, "", f.value),
                    _ => Ok(()),
                }
                .map_err(fail)?;
            }
        }
        type InsRow = (
            NaiveDate,
            String,
            String,
            String,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        );
        let ins: Vec<InsRow> = meta_insights_daily::Entity::find()
            .select_only()
            .columns([
                meta_insights_daily::Column::Day,
                meta_insights_daily::Column::CampaignId,
                meta_insights_daily::Column::AdId,
                meta_insights_daily::Column::Currency,
                meta_insights_daily::Column::SpendMinor,
                meta_insights_daily::Column::Impressions,
                meta_insights_daily::Column::Clicks,
                meta_insights_daily::Column::Reach,
                meta_insights_daily::Column::MetaLeads,
                meta_insights_daily::Column::MessagingStarted,
            ])
            .filter(meta_insights_daily::Column::TenantId.eq(t.id))
            .filter(meta_insights_daily::Column::Day.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        for (day, campaign, ad, currency, spend, imp, clicks, reach, ml, msg) in ins {
            let fail = |_: Overflow| overflow_error(None, day);
            let conv = rates.convert(spend, &currency, day).map_err(fail)?;
            for key in [
                (TOTAL, String::new(), String::new(), String::new()),
                (CAMPAIGN, campaign.clone(), String::new(), String::new()),
                (AD, String::new(), ad.clone(), String::new()),
            ] {
                if conv.is_none() {
                    add(
                        extras
                            .entry((
                                day,
                                (
                                    key.0,
                                    key.1.clone(),
                                    key.2.clone(),
                                    key.3.clone(),
                                    UNCONV_SPEND,
                                    day,
                                    currency.clone(),
                                ),
                            ))
                            .or_default(),
                        spend,
                    )
                    .map_err(fail)?;
                }
                let w = wide.entry((day, key)).or_default();
                w.insight_rows += 1;
                for (slot, v) in [
                    (&mut w.spend, conv.unwrap_or(0)),
                    (&mut w.impressions, imp),
                    (&mut w.clicks, clicks),
                    (&mut w.reach, reach),
                    (&mut w.meta_leads, ml),
                    (&mut w.messaging, msg),
                ] {
                    add(slot, v).map_err(fail)?;
                }
            }
        }
        // Each month changes by the new rows minus the old ones.
        let mut deltas: HashMap<crm_db::rollups::MonthKey, [i64; 14]> = HashMap::new();
        let month_key = |level: &str, campaign: &str, ad: &str, channel: &str, day: NaiveDate| {
            crm_db::rollups::MonthKey {
                level: level.to_owned(),
                campaign_id: campaign.to_owned(),
                ad_id: ad.to_owned(),
                channel: channel.to_owned(),
                month: crm_db::rollups::month_of(day),
            }
        };
        for ((day, (level, campaign, ad, channel)), w) in &wide {
            let d = deltas
                .entry(month_key(level, campaign, ad, channel, *day))
                .or_default();
            for (x, v) in d.iter_mut().zip(w.sums()) {
                add(x, v).map_err(|_| overflow_error(None, *day))?;
            }
        }
        for r in &old {
            let d = deltas
                .entry(month_key(
                    &r.level,
                    &r.campaign_id,
                    &r.ad_id,
                    &r.channel,
                    r.day,
                ))
                .or_default();
            for (x, v) in d.iter_mut().zip(r.sums()) {
                *x = x
                    .checked_sub(v)
                    .ok_or_else(|| overflow_error(None, r.day))?;
            }
        }
        let rows: Vec<daily::ActiveModel> = wide
            .into_iter()
            .map(
                |((day, (level, campaign, ad, channel)), w)| daily::ActiveModel {
                    id: Set(crm_db::new_id()),
                    tenant_id: Set(t.id),
                    level: Set(level.to_owned()),
                    campaign_id: Set(campaign),
                    ad_id: Set(ad),
                    channel: Set(channel),
                    day: Set(day),
                    insight_rows: Set(w.insight_rows),
                    spend: Set(w.spend),
                    impressions: Set(w.impressions),
                    clicks: Set(w.clicks),
                    reach: Set(w.reach),
                    meta_leads: Set(w.meta_leads),
                    messaging: Set(w.messaging),
                    leads: Set(w.leads),
                    opps_c: Set(w.opps_c),
                    won_c: Set(w.won_c),
                    customers_c: Set(w.customers_c),
                    revenue_c: Set(w.revenue_c),
                    opps_a: Set(w.opps_a),
                    won_a: Set(w.won_a),
                    revenue_a: Set(w.revenue_a),
                },
            )
            .collect();
        for c in rows.chunks(1000) {
            daily::Entity::insert_many(c.to_vec())
                .exec_without_returning(conn)
                .await?;
        }
        let rows: Vec<extra::ActiveModel> = extras
            .into_iter()
            .filter(|(_, v)| *v != 0)
            .map(
                |((day, (level, campaign, ad, channel, kind, ref_day, currency)), value)| {
                    extra::ActiveModel {
                        id: Set(crm_db::new_id()),
                        tenant_id: Set(t.id),
                        level: Set(level.to_owned()),
                        campaign_id: Set(campaign),
                        ad_id: Set(ad),
                        channel: Set(channel),
                        day: Set(day),
                        kind: Set(kind.to_owned()),
                        ref_day: Set(ref_day),
                        currency: Set(currency),
                        value: Set(value),
                    }
                },
            )
            .collect();
        for c in rows.chunks(1000) {
            extra::Entity::insert_many(c.to_vec())
                .exec_without_returning(conn)
                .await?;
        }
        crm_db::rollups::add_to_months(conn, t.id, deltas).await?;
    }
    let months: Vec<NaiveDate> = days
        .iter()
        .map(|d| crm_db::rollups::month_of(*d))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    crm_db::rollups::drop_empty_months(conn, t.id, &months).await?;
    Ok(())
}

/// Marks the days whose rollups an FX rate change can move: the rate's day
/// (spend and activity-model revenue) and the cohort days of leads with a sale
/// in that currency on that day. Call in the transaction that changes the rate.
pub async fn mark_fx_change(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    currency: &str,
    day: NaiveDate,
) -> Result<(), DbErr> {
    let mut days: BTreeSet<NaiveDate> = fact::Entity::find()
        .select_only()
        .column(fact::Column::Day)
        .distinct()
        .filter(fact::Column::TenantId.eq(tenant_id))
        .filter(fact::Column::Kind.eq(REV_C))
        .filter(fact::Column::RefDay.eq(day))
        .filter(fact::Column::Currency.eq(currency))
        .into_tuple::<NaiveDate>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    days.insert(day);
    crm_db::rollups::mark_days(conn, tenant_id, days).await
}

/// Marks the leads whose campaign was unknown but whose ad the sync may now
/// know. Call after storing the synced ad structure.
pub async fn mark_unknown_campaign_leads(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<(), DbErr> {
    let leads: Vec<Uuid> = fact::Entity::find()
        .select_only()
        .column(fact::Column::LeadId)
        .distinct()
        .filter(fact::Column::TenantId.eq(tenant_id))
        .filter(fact::Column::Kind.eq(LEADS))
        .filter(fact::Column::CampaignId.eq(UNKNOWN))
        .filter(fact::Column::AdId.ne(""))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    crm_db::rollups::mark_leads(conn, tenant_id, &leads).await
}

/// Whether the tenant has rollup work pending.
pub async fn is_dirty(conn: &impl ConnectionTrait, tenant_id: Uuid) -> Result<bool, DbErr> {
    Ok(dirty::Entity::find()
        .select_only()
        .column(dirty::Column::Id)
        .filter(dirty::Column::TenantId.eq(tenant_id))
        .limit(1)
        .into_tuple::<Uuid>()
        .one(conn)
        .await?
        .is_some())
}

async fn claim(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    kind: &str,
    batch: u64,
) -> Result<Vec<dirty::Model>, DbErr> {
    let mut q = dirty::Entity::find()
        .filter(dirty::Column::TenantId.eq(tenant_id))
        .filter(dirty::Column::Kind.eq(kind))
        .order_by_asc(dirty::Column::Key)
        .limit(batch);
    if crm_db::is_postgres(conn) {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    q.all(conn).await
}

async fn clear(conn: &impl ConnectionTrait, marks: &[dirty::Model]) -> Result<(), DbErr> {
    for c in marks.chunks(500) {
        dirty::Entity::delete_many()
            .filter(dirty::Column::Id.is_in(c.iter().map(|m| m.id)))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// What a refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    pub leads: usize,
    pub days: usize,
    pub rebuilt: bool,
}

/// Clears the tenant's dirty marks: leads first (their facts, marking the
/// days that moved), then days (their rollup rows). Each batch is one write
/// transaction; a mark made meanwhile survives and is picked up next time.
pub async fn refresh(db: &DatabaseConnection, tenant_id: Uuid) -> Result<RefreshReport, DbErr> {
    let started = std::time::Instant::now();
    let res = refresh_marked(db, tenant_id).await;
    ::metrics::histogram!("crm_rollup_refresh_seconds").record(started.elapsed().as_secs_f64());
    res
}

async fn refresh_marked(db: &DatabaseConnection, tenant_id: Uuid) -> Result<RefreshReport, DbErr> {
    let mut report = RefreshReport::default();
    // A whole-tenant mark: rebuild.
    let all = dirty::Entity::find()
        .filter(dirty::Column::TenantId.eq(tenant_id))
        .filter(dirty::Column::Kind.eq(crm_db::rollups::ALL))
        .one(db)
        .await?;
    if all.is_some() {
        rebuild(db, tenant_id).await?;
        report.rebuilt = true;
    }
    loop {
        let txn = db.begin_with_options(crm_db::write_txn()).await?;
        let t = tenant_info(&txn, tenant_id).await?;
        let marks = claim(&txn, tenant_id, crm_db::rollups::LEAD, 1000).await?;
        if marks.is_empty() {
            txn.commit().await?;
            break;
        }
        let ids: Vec<Uuid> = marks.iter().filter_map(|m| m.key.parse().ok()).collect();
        let days = refresh_leads(&txn, &t, &ids).await?;
        crm_db::rollups::mark_days(&txn, tenant_id, days).await?;
        clear(&txn, &marks).await?;
        txn.commit().await?;
        report.leads += marks.len();
    }
    loop {
        let txn = db.begin_with_options(crm_db::write_txn()).await?;
        let t = tenant_info(&txn, tenant_id).await?;
        let marks = claim(&txn, tenant_id, crm_db::rollups::DAY, 366).await?;
        if marks.is_empty() {
            txn.commit().await?;
            break;
        }
        let days: Vec<NaiveDate> = marks.iter().filter_map(|m| m.key.parse().ok()).collect();
        let rates = Rates::load(&txn, &t).await?;
        recompute_days(&txn, &t, &rates, &days).await?;
        clear(&txn, &marks).await?;
        txn.commit().await?;
        report.days += marks.len();
    }
    Ok(report)
}

/// Refreshes every tenant with pending marks (the worker's job).
pub async fn refresh_all(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let tenants: Vec<Uuid> = dirty::Entity::find()
        .select_only()
        .column(dirty::Column::TenantId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    for t in &tenants {
        refresh(db, *t).await?;
    }
    Ok(tenants.len())
}

/// What a rebuild did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub leads: usize,
    pub facts: u64,
    pub days: usize,
}

/// Recomputes a tenant's rollups from raw data with the same functions the
/// incremental path uses: drops its facts and rows, recomputes the facts of
/// every Meta-attributed lead (in batches), then every day with facts or
/// insights.
pub async fn rebuild(db: &DatabaseConnection, tenant_id: Uuid) -> Result<RebuildReport, DbErr> {
    let mut report = RebuildReport::default();
    // PostgreSQL plans the rebuild's `lead_id IN (…)` and `day IN (…)` reads
    // from its statistics. After a bulk load they may describe a much
    // smaller table (autovacuum off or behind), and the planner then filters
    // every row of the tenant for each chunk (seen: 8 s per chunk of 2,000
    // leads at 1M leads). A rebuild is rare and heavy: refresh them first.
    let pg = crm_db::is_postgres(db);
    if pg {
        db.execute_unprepared("ANALYZE leads, opportunities, sales, meta_insights_daily")
            .await?;
    }
    {
        let txn = db.begin_with_options(crm_db::write_txn()).await?;
        // Claim the whole-tenant mark (and everything else: it is all redone).
        dirty::Entity::delete_many()
            .filter(dirty::Column::TenantId.eq(tenant_id))
            .exec(&txn)
            .await?;
        fact::Entity::delete_many()
            .filter(fact::Column::TenantId.eq(tenant_id))
            .exec(&txn)
            .await?;
        daily::Entity::delete_many()
            .filter(daily::Column::TenantId.eq(tenant_id))
            .exec(&txn)
            .await?;
        extra::Entity::delete_many()
            .filter(extra::Column::TenantId.eq(tenant_id))
            .exec(&txn)
            .await?;
        monthly::Entity::delete_many()
            .filter(monthly::Column::TenantId.eq(tenant_id))
            .exec(&txn)
            .await?;
        crm_db::rollups::bump_version(&txn, tenant_id).await?;
        txn.commit().await?;
    }
    let mut after: Option<Uuid> = None;
    loop {
        let txn = db.begin_with_options(crm_db::write_txn()).await?;
        let t = tenant_info(&txn, tenant_id).await?;
        let mut q = lead::Entity::find()
            .select_only()
            .column(lead::Column::Id)
            .filter(lead::Column::TenantId.eq(tenant_id))
            .filter(lead::Column::LeadSource.eq("META_ADS"))
            .order_by_asc(lead::Column::Id)
            .limit(2000);
        if let Some(a) = after {
            q = q.filter(lead::Column::Id.gt(a));
        }
        let ids: Vec<Uuid> = q.into_tuple().all(&txn).await?;
        let Some(last) = ids.last().copied() else {
            txn.commit().await?;
            break;
        };
        refresh_leads_with(&txn, &t, &ids, true).await?;
        txn.commit().await?;
        report.leads += ids.len();
        after = Some(last);
    }
    if pg {
        db.execute_unprepared("ANALYZE marketing_lead_facts")
            .await?;
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let t = tenant_info(&txn, tenant_id).await?;
    let mut days: BTreeSet<NaiveDate> = fact::Entity::find()
        .select_only()
        .column(fact::Column::Day)
        .distinct()
        .filter(fact::Column::TenantId.eq(tenant_id))
        .into_tuple::<NaiveDate>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    days.extend(
        meta_insights_daily::Entity::find()
            .select_only()
            .column(meta_insights_daily::Column::Day)
            .distinct()
            .filter(meta_insights_daily::Column::TenantId.eq(tenant_id))
            .into_tuple::<NaiveDate>()
            .all(&txn)
            .await?,
    );
    report.facts = fact::Entity::find()
        .filter(fact::Column::TenantId.eq(tenant_id))
        .count(&txn)
        .await?;
    txn.commit().await?;
    // One calendar month per transaction, so each month's sums are
    // computed once.
    let mut by_month: BTreeMap<NaiveDate, Vec<NaiveDate>> = BTreeMap::new();
    for d in &days {
        by_month
            .entry(crm_db::rollups::month_of(*d))
            .or_default()
            .push(*d);
    }
    for chunk in by_month.values() {
        let txn = db.begin_with_options(crm_db::write_txn()).await?;
        let rates = Rates::load(&txn, &t).await?;
        recompute_days(&txn, &t, &rates, chunk).await?;
        txn.commit().await?;
    }
    report.days = days.len();
    if pg {
        // The Marketing Hub reads these next; plan them on their new size.
        db.execute_unprepared("ANALYZE marketing_daily, marketing_daily_extra, marketing_monthly")
            .await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn lead_in(source: &str) -> LeadIn {
        LeadIn {
            id: Uuid::nil(),
            created_at: at("2026-11-02T02:00:00Z"),
            lead_source: source.into(),
            campaign_id: None,
            ad_id: Some("ad1".into()),
            channel: "lead_form".into(),
        }
    }

    fn sale(kind: &str, status: &str, amount: i64, paid: &str) -> SaleIn {
        SaleIn {
            kind: kind.into(),
            status: status.into(),
            amount_minor: amount,
            currency: "USD".into(),
            paid_at: Some(at(paid)),
            created_at: at(paid),
        }
    }

    #[test]
    fn facts_follow_the_contract_in_the_tenant_day() {
        let tz: Tz = "America/Los_Angeles".parse().unwrap();
        let ads = HashMap::from([("ad1".to_owned(), "c1".to_owned())]);
        let opps = [
            OppIn {
                created_at: at("2026-11-03T20:00:00Z"),
                won: true,
                closed_at: Some(at("2026-11-05T20:00:00Z")),
            },
            OppIn {
                created_at: at("2026-11-03T21:00:00Z"),
                won: false,
                closed_at: None,
            },
        ];
        let sales = [
            sale("sale", "completed", 10_000, "2026-11-05T20:00:00Z"),
            sale("sale", "refunded", 3_000, "2026-11-07T20:00:00Z"),
            sale("refund", "completed", 3_000, "2026-11-08T20:00:00Z"),
            sale("sale", "pending", 999, "2026-11-08T20:00:00Z"),
        ];
        let f = facts_of(&lead_in("META_ADS"), &opps, &sales, &ads, tz);
        // 02:00 UTC on Nov 2 is Nov 1 in Los Angeles.
        let lead_day = d("2026-11-01");
        let get = |k: &str, day: NaiveDate| -> i64 {
            f.iter()
                .filter(|x| x.kind == k && x.day == day)
                .map(|x| x.value)
                .sum()
        };
        assert!(f.iter().all(|x| x.campaign == "c1" && x.ad == "ad1"));
        assert_eq!(get(LEADS, lead_day), 1);
        assert_eq!(get(OPPS_C, lead_day), 2);
        assert_eq!(get(WON_C, lead_day), 1);
        assert_eq!(get(OPPS_A, d("2026-11-03")), 2);
        assert_eq!(get(WON_A, d("2026-11-05")), 1);
        assert_eq!(get(CUST_C, lead_day), 1);
        assert_eq!(get(REV_C, lead_day), 10_000 + 3_000 - 3_000);
        assert_eq!(get(REV_A, d("2026-11-08")), -3_000);
        // Activity customers chain each sale day to the previous one.
        let cust: Vec<(NaiveDate, NaiveDate)> = f
            .iter()
            .filter(|x| x.kind == CUST_A)
            .map(|x| (x.day, x.ref_day))
            .collect();
        assert_eq!(
            cust,
            vec![
                (d("2026-11-05"), no_day()),
                (d("2026-11-07"), d("2026-11-05"))
            ]
        );
        assert!(facts_of(&lead_in("MANUAL"), &opps, &sales, &ads, tz).is_empty());
        let mut unknown = lead_in("META_ADS");
        unknown.ad_id = Some("ad9".into());
        assert!(
            facts_of(&unknown, &[], &[], &ads, tz)
                .iter()
                .all(|x| x.campaign == UNKNOWN)
        );
    }
}

#[cfg(test)]
#[path = "rollups_overflow_tests.rs"]
mod overflow_tests;
