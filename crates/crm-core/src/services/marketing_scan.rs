//! The Marketing Hub numbers computed by scanning the raw tables (leads,
//! opportunities, sales, insights). This was the engine before the rollups;
//! it stays as the reference the rollups are checked against (tests) and the
//! baseline `crm bench marketing` measures them against. The API never calls
//! it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use crm_db::entity::{
    fx_rate, lead, meta_ad_object, meta_insights_daily, opportunity, pipeline_stage, sale, tenant,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::marketing::{Acc, CurrencyAmount, UNKNOWN, Warning};
use crate::CoreError;
use crate::metrics::{self, DateRange, Model};
use crate::validate::currency_exponent;

/// Converts money to the reporting currency and collects what it cannot.
pub struct Converter {
    target: String,
    target_exp: u32,
    rates: HashMap<(String, NaiveDate), i64>,
    missing: BTreeMap<String, std::collections::BTreeSet<NaiveDate>>,
    unconverted: BTreeMap<String, i64>,
}

impl Converter {
    pub async fn load(
        conn: &impl ConnectionTrait,
        tenant_id: Uuid,
        target: &str,
    ) -> Result<Self, sea_orm::DbErr> {
        let rows = fx_rate::Entity::find()
            .filter(fx_rate::Column::TenantId.eq(tenant_id))
            .filter(fx_rate::Column::ToCurrency.eq(target))
            .all(conn)
            .await?;
        Ok(Self {
            target: target.to_owned(),
            target_exp: currency_exponent(target).unwrap_or(2),
            rates: rows
                .into_iter()
                .map(|r| ((r.from_currency, r.day), r.rate_e9))
                .collect(),
            missing: BTreeMap::new(),
            unconverted: BTreeMap::new(),
        })
    }

    /// Minor units in the reporting currency, or `None` (recorded) when no
    /// rate exists for that currency on that day.
    pub fn convert(&mut self, amount: i64, currency: &str, day: NaiveDate) -> Option<i64> {
        if currency == self.target {
            return Some(amount);
        }
        if amount == 0 {
            return Some(0);
        }
        match self.rates.get(&(currency.to_owned(), day)) {
            Some(rate) => Some(metrics::convert(
                amount,
                currency_exponent(currency).unwrap_or(2),
                self.target_exp,
                *rate,
            )),
            None => {
                self.missing
                    .entry(currency.to_owned())
                    .or_default()
                    .insert(day);
                *self.unconverted.entry(currency.to_owned()).or_default() += amount;
                None
            }
        }
    }

    pub fn warnings(&self) -> Vec<Warning> {
        self.missing
            .iter()
            .map(|(cur, days)| Warning {
                code: "missing_fx_rate".into(),
                message: format!(
                    "no {cur}→{} rate for {} day(s); those amounts are left out of the totals",
                    self.target,
                    days.len()
                ),
                details: json!({"from": cur, "to": self.target, "dates": days}),
            })
            .collect()
    }

    pub fn unconverted(&self) -> Vec<CurrencyAmount> {
        self.unconverted
            .iter()
            .map(|(c, a)| CurrencyAmount {
                currency: c.clone(),
                amount: metrics::major(*a, currency_exponent(c).unwrap_or(2)),
            })
            .collect()
    }
}

/// Everything computed for one period.
pub struct Computed {
    pub total: Acc,
    pub by_campaign: HashMap<String, Acc>,
    pub by_ad: HashMap<String, Acc>,
    pub by_channel: HashMap<String, Acc>,
    pub by_day: BTreeMap<NaiveDate, Acc>,
}

type LeadRow = (Uuid, DateTime<Utc>, Option<String>, Option<String>, String);
type OppRow = (Uuid, Uuid, DateTime<Utc>, Uuid, Option<DateTime<Utc>>);
type SaleRow = (
    Uuid,
    String,
    String,
    i64,
    String,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
);
type InsightRow = (NaiveDate, String, String, String, i64, i64, i64, i64, i64);

struct Ctx {
    tenant: tenant::Model,
    tz: Tz,
    /// Meta-attributed leads: id → (created day, campaign key, ad id, channel)
    leads: HashMap<Uuid, LeadInfo>,
    won_stages: HashSet<Uuid>,
}

#[derive(Clone)]
struct LeadInfo {
    day: NaiveDate,
    campaign: String,
    ad: Option<String>,
    channel: String,
}

async fn load_ctx(db: &DatabaseConnection, tenant_id: Uuid) -> Result<Ctx, CoreError> {
    let tenant = tenant::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    let tz: Tz = tenant.timezone.parse().unwrap_or(chrono_tz::UTC);
    let ads: HashMap<String, (Option<String>, Option<String>)> = meta_ad_object::Entity::find()
        .select_only()
        .columns([
            meta_ad_object::Column::ExternalId,
            meta_ad_object::Column::AdsetId,
            meta_ad_object::Column::CampaignId,
        ])
        .filter(meta_ad_object::Column::TenantId.eq(tenant_id))
        .filter(meta_ad_object::Column::Level.eq("ad"))
        .into_tuple::<(String, Option<String>, Option<String>)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(a, s, c)| (a, (s, c)))
        .collect();
    let rows: Vec<LeadRow> = lead::Entity::find()
        .select_only()
        .columns([
            lead::Column::Id,
            lead::Column::CreatedAt,
            lead::Column::MetaCampaignId,
            lead::Column::MetaAdId,
            lead::Column::Channel,
        ])
        .filter(lead::Column::TenantId.eq(tenant_id))
        .filter(lead::Column::LeadSource.eq("META_ADS"))
        .into_tuple()
        .all(db)
        .await?;
    let mut leads = HashMap::with_capacity(rows.len());
    for (id, created, camp, ad, channel) in rows {
        let campaign = camp
            .filter(|c| !c.is_empty())
            .or_else(|| {
                ad.as_ref()
                    .and_then(|a| ads.get(a))
                    .and_then(|(_, c)| c.clone())
            })
            .unwrap_or_else(|| UNKNOWN.to_owned());
        leads.insert(
            id,
            LeadInfo {
                day: created.with_timezone(&tz).date_naive(),
                campaign,
                ad,
                channel,
            },
        );
    }
    let won_stages = pipeline_stage::Entity::find()
        .select_only()
        .column(pipeline_stage::Column::Id)
        .filter(pipeline_stage::Column::TenantId.eq(tenant_id))
        .filter(pipeline_stage::Column::Kind.eq("won"))
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(Ctx {
        tenant,
        tz,
        leads,
        won_stages,
    })
}

fn bump(c: &mut Computed, l: &LeadInfo, day: NaiveDate, f: impl Fn(&mut Acc)) {
    f(&mut c.total);
    f(c.by_campaign.entry(l.campaign.clone()).or_default());
    if let Some(ad) = &l.ad {
        f(c.by_ad.entry(ad.clone()).or_default());
    }
    f(c.by_channel.entry(l.channel.clone()).or_default());
    f(c.by_day.entry(day).or_default());
}

async fn compute(
    db: &DatabaseConnection,
    cx: &Ctx,
    range: DateRange,
    model: Model,
    conv: &mut Converter,
) -> Result<Computed, CoreError> {
    let tid = cx.tenant.id;
    let mut c = Computed {
        total: Acc::default(),
        by_campaign: HashMap::new(),
        by_ad: HashMap::new(),
        by_channel: HashMap::new(),
        by_day: BTreeMap::new(),
    };
    let in_cohort = |l: &LeadInfo| range.contains(l.day);
    // Leads (same in both models: created in the period).
    for l in cx.leads.values().filter(|l| in_cohort(l)) {
        bump(&mut c, l, l.day, |a| a.leads += 1);
    }
    // Opportunities and wins.
    let opps: Vec<OppRow> = opportunity::Entity::find()
        .select_only()
        .columns([
            opportunity::Column::Id,
            opportunity::Column::LeadId,
            opportunity::Column::CreatedAt,
            opportunity::Column::StageId,
            opportunity::Column::ClosedAt,
        ])
        .filter(opportunity::Column::TenantId.eq(tid))
        .into_tuple()
        .all(db)
        .await?;
    for (_, lead_id, created, stage, closed) in opps {
        let Some(l) = cx.leads.get(&lead_id) else {
            continue;
        };
        let won = cx.won_stages.contains(&stage);
        match model {
            Model::Cohort => {
                if in_cohort(l) {
                    bump(&mut c, l, l.day, |a| {
                        a.opportunities += 1;
                        if won {
                            a.won += 1;
                        }
                    });
                }
            }
            Model::Activity => {
                let cd = created.with_timezone(&cx.tz).date_naive();
                if range.contains(cd) {
                    bump(&mut c, l, cd, |a| a.opportunities += 1);
                }
                if won {
                    let wd = closed.unwrap_or(created).with_timezone(&cx.tz).date_naive();
                    if range.contains(wd) {
                        bump(&mut c, l, wd, |a| a.won += 1);
                    }
                }
            }
        }
    }
    // Sales and refunds.
    let sales: Vec<SaleRow> = sale::Entity::find()
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
        .filter(sale::Column::TenantId.eq(tid))
        .filter(sale::Column::Status.is_in(["completed", "refunded"]))
        .order_by_asc(sale::Column::CreatedAt)
        .into_tuple()
        .all(db)
        .await?;
    let mut customers_seen: HashSet<Uuid> = HashSet::new();
    for (lead_id, kind, status, amount, currency, paid, created) in sales {
        let Some(l) = cx.leads.get(&lead_id) else {
            continue;
        };
        let is_refund = kind == "refund";
        if is_refund && status != "completed" {
            continue;
        }
        let at = paid.unwrap_or(created);
        let day = at.with_timezone(&cx.tz).date_naive();
        let counts = match model {
            Model::Cohort => in_cohort(l),
            Model::Activity => range.contains(day),
        };
        if !counts {
            continue;
        }
        let signed = if is_refund { -amount } else { amount };
        let bucket_day = match model {
            Model::Cohort => l.day,
            Model::Activity => day,
        };
        if let Some(v) = conv.convert(signed, &currency, day) {
            bump(&mut c, l, bucket_day, |a| a.revenue += v);
        }
        if !is_refund && customers_seen.insert(lead_id) {
            bump(&mut c, l, bucket_day, |a| a.customers += 1);
        }
    }
    // Spend and delivery from insights (the ad account's own days).
    let ins: Vec<InsightRow> = meta_insights_daily::Entity::find()
        .select_only()
        .columns([
            meta_insights_daily::Column::Day,
            meta_insights_daily::Column::CampaignId,
            meta_insights_daily::Column::AdId,
            meta_insights_daily::Column::Currency,
            meta_insights_daily::Column::SpendMinor,
            meta_insights_daily::Column::Impressions,
            meta_insights_daily::Column::Clicks,
            meta_insights_daily::Column::MetaLeads,
            meta_insights_daily::Column::MessagingStarted,
        ])
        .filter(meta_insights_daily::Column::TenantId.eq(tid))
        .filter(meta_insights_daily::Column::Day.gte(range.since))
        .filter(meta_insights_daily::Column::Day.lte(range.until))
        .into_tuple()
        .all(db)
        .await?;
    for (day, campaign, ad, currency, spend, imp, clicks, ml, msg) in ins {
        let spend_conv = conv.convert(spend, &currency, day).unwrap_or(0);
        let f = |a: &mut Acc| {
            a.spend += spend_conv;
            a.impressions += imp;
            a.clicks += clicks;
            a.meta_leads += ml;
            a.messaging += msg;
        };
        f(&mut c.total);
        f(c.by_campaign.entry(campaign).or_default());
        f(c.by_ad.entry(ad).or_default());
        f(c.by_day.entry(day).or_default());
    }
    Ok(c)
}

async fn first_data_day(db: &DatabaseConnection, cx: &Ctx) -> Result<Option<NaiveDate>, CoreError> {
    let first_spend: Option<NaiveDate> = meta_insights_daily::Entity::find()
        .select_only()
        .column(meta_insights_daily::Column::Day)
        .filter(meta_insights_daily::Column::TenantId.eq(cx.tenant.id))
        .order_by_asc(meta_insights_daily::Column::Day)
        .limit(1)
        .into_tuple::<NaiveDate>()
        .one(db)
        .await?;
    let first_lead = cx.leads.values().map(|l| l.day).min();
    Ok(match (first_spend, first_lead) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Scans the raw tables for one period and model: every figure of the
/// totals, per campaign, per ad, per channel and per day, plus the warnings
/// of the conversion.
pub async fn scan(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    range: DateRange,
    model: Model,
) -> Result<(Computed, Converter), CoreError> {
    let cx = load_ctx(db, tenant_id).await?;
    let mut conv = Converter::load(db, tenant_id, &cx.tenant.currency).await?;
    let c = compute(db, &cx, range, model, &mut conv).await?;
    Ok((c, conv))
}

/// The first day with insights or a Meta-attributed lead, by scanning.
pub async fn scan_first_day(
    db: &DatabaseConnection,
    tenant_id: Uuid,
) -> Result<Option<NaiveDate>, CoreError> {
    let cx = load_ctx(db, tenant_id).await?;
    first_data_day(db, &cx).await
}
