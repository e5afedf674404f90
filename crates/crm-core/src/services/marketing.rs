//! Marketing Hub analytics: `stats`, `stats/roi`, `campaigns`,
//! `campaigns/{id}`, `campaigns/{id}/insights` and the sync status.
//!
//! Every number follows `docs/marketing-metrics.md` (the contract in
//! [`crate::metrics`]). Numbers come from the CRM's own store (synced insights
//! plus CRM data), never from a live Meta call. Money is converted to the
//! tenant's reporting currency at the FX rate of its date; a missing rate is
//! reported as a warning with the unconverted amounts, never guessed.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use crm_db::entity::{
    fx_rate, lead, meta_ad_object, meta_insights_daily, meta_sync_state, opportunity,
    pipeline_stage, sale, tenant,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::metrics::{self, DateRange, Model};
use crate::roles::Permission;
use crate::validate::currency_exponent;
use crate::{CoreError, TenantCtx};

/// The key of the "unknown campaign" row.
pub const UNKNOWN: &str = "unknown";

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// 7d, 30d (default), 90d, this_month, last_month, this_year, all (aliases
    /// last_7d, last_30d, last_90d, lifetime). Or give `since` and `until`.
    pub time_range: Option<String>,
    /// Inclusive first day (YYYY-MM-DD), with `until`.
    pub since: Option<NaiveDate>,
    /// Inclusive last day (YYYY-MM-DD), with `since`.
    pub until: Option<NaiveDate>,
    /// cohort (default) or activity.
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignsQuery {
    pub time_range: Option<String>,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub model: Option<String>,
    /// ACTIVE, PAUSED, DELETED or ARCHIVED (comma-separated for several).
    pub status: Option<String>,
    /// spend (default), leads, opportunities, revenue, roi, cpa, cpl, name.
    pub sort: Option<String>,
    /// desc (default) or asc.
    pub order: Option<String>,
}

/// A money amount in one currency that could not be converted.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CurrencyAmount {
    pub currency: String,
    /// Major units.
    pub amount: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Warning {
    /// `missing_fx_rate` or `timezone_differs`.
    pub code: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncStateView {
    pub ad_account_id: String,
    pub account_name: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
    /// pending, running, ok, error, throttled.
    pub status: String,
    pub last_started_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Meta's own message when the last run failed.
    pub last_error: Option<String>,
    pub last_error_code: Option<i64>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub backfill_done: bool,
    pub progress_pct: i32,
}

impl From<meta_sync_state::Model> for SyncStateView {
    fn from(m: meta_sync_state::Model) -> Self {
        Self {
            ad_account_id: m.ad_account_id,
            account_name: m.account_name,
            currency: m.currency,
            timezone: m.timezone,
            status: m.status,
            last_started_at: m.last_started_at,
            last_success_at: m.last_success_at,
            last_error: m.last_error,
            last_error_code: m.last_error_code,
            last_error_at: m.last_error_at,
            next_run_at: m.next_run_at,
            backfill_done: m.backfill_done,
            progress_pct: m.progress_pct,
        }
    }
}

/// The figures of one row (a total, a campaign or an ad). Money in major
/// units of `currency`.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Figures {
    pub leads: i64,
    pub opportunities: i64,
    pub won: i64,
    pub customers: i64,
    pub sales_revenue: f64,
    pub marketing_spend: f64,
    pub roi_percentage: Option<f64>,
    pub roas: Option<f64>,
    pub cpa: Option<f64>,
    pub cpl: Option<f64>,
    pub lead_to_opportunity_rate: Option<f64>,
    pub opportunity_to_won_rate: Option<f64>,
    pub meta_reported_leads: i64,
    pub messaging_conversations_started: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub ctr: Option<f64>,
    pub cpc: Option<f64>,
    pub cpm: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayPoint {
    pub date: NaiveDate,
    pub spend: f64,
    pub revenue: f64,
    pub leads: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Period {
    pub since: NaiveDate,
    pub until: NaiveDate,
}

impl From<DateRange> for Period {
    fn from(r: DateRange) -> Self {
        Self {
            since: r.since,
            until: r.until,
        }
    }
}

/// `GET /api/crm/marketing/stats`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketingStats {
    pub currency: String,
    pub model: Model,
    pub period: Period,
    pub previous_period: Period,
    pub leads: i64,
    pub leads_change: Option<f64>,
    pub opportunities: i64,
    pub opportunities_change: Option<f64>,
    pub sales_revenue: f64,
    pub revenue_change: Option<f64>,
    pub marketing_spend: f64,
    pub spend_change: Option<f64>,
    pub roi_percentage: Option<f64>,
    /// Difference in percentage points.
    pub roi_change: Option<f64>,
    pub cpa: Option<f64>,
    pub cpl: Option<f64>,
    pub roas: Option<f64>,
    pub won: i64,
    pub customers: i64,
    pub lead_to_opportunity_rate: Option<f64>,
    pub opportunity_to_won_rate: Option<f64>,
    pub meta_reported_leads: i64,
    pub messaging_conversations_started: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub ctr: Option<f64>,
    pub cpc: Option<f64>,
    pub cpm: Option<f64>,
    pub series: Vec<DayPoint>,
    pub warnings: Vec<Warning>,
    /// Amounts left out of the totals because no FX rate exists for them.
    pub unconverted: Vec<CurrencyAmount>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub sync: Vec<SyncStateView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignStat {
    /// Meta campaign id, or `unknown` for Meta-attributed leads whose ad or
    /// campaign is not (yet) known.
    pub id: String,
    pub name: String,
    /// ACTIVE, PAUSED, DELETED or ARCHIVED as Meta reports it (UNKNOWN for the
    /// unknown row).
    pub status: String,
    pub effective_status: Option<String>,
    pub objective: Option<String>,
    pub ad_account_id: Option<String>,
    pub spend: f64,
    pub leads: i64,
    pub opportunities: i64,
    pub revenue: f64,
    pub roi: Option<f64>,
    pub cpa: Option<f64>,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignList {
    pub currency: String,
    pub model: Model,
    pub period: Period,
    pub items: Vec<CampaignStat>,
    /// The totals of the same period (the rows add up to these).
    pub totals: Figures,
    pub warnings: Vec<Warning>,
    pub unconverted: Vec<CurrencyAmount>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdStat {
    pub id: String,
    pub name: String,
    pub status: String,
    pub adset_id: Option<String>,
    pub creative_title: Option<String>,
    pub creative_body: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignDetail {
    pub currency: String,
    pub model: Model,
    pub period: Period,
    pub campaign: CampaignStat,
    pub ads: Vec<AdStat>,
    pub status_history: Vec<StatusChange>,
    pub warnings: Vec<Warning>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusChange {
    pub from_status: Option<String>,
    pub to_status: String,
    pub observed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InsightPoint {
    pub date: NaiveDate,
    pub spend: f64,
    pub impressions: i64,
    pub clicks: i64,
    pub meta_reported_leads: i64,
    pub leads: i64,
    pub revenue: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignInsights {
    pub currency: String,
    pub campaign_id: String,
    pub period: Period,
    pub items: Vec<InsightPoint>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FunnelStep {
    pub step: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceStat {
    /// lead_form, click_to_whatsapp or web (UTM).
    pub channel: String,
    pub leads: i64,
    pub opportunities: i64,
    pub won: i64,
    pub revenue: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoiBreakdown {
    pub currency: String,
    pub model: Model,
    pub period: Period,
    pub totals: Figures,
    pub funnel: Vec<FunnelStep>,
    pub by_campaign: Vec<CampaignStat>,
    pub by_source: Vec<SourceStat>,
    pub warnings: Vec<Warning>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------------------
// The engine

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

/// Additive counters of one row, money in reporting-currency minor units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acc {
    pub leads: i64,
    pub opportunities: i64,
    pub won: i64,
    pub customers: i64,
    pub revenue: i64,
    pub spend: i64,
    pub meta_leads: i64,
    pub messaging: i64,
    pub impressions: i64,
    pub clicks: i64,
}

impl Acc {
    pub fn add(&mut self, o: &Acc) {
        self.leads += o.leads;
        self.opportunities += o.opportunities;
        self.won += o.won;
        self.customers += o.customers;
        self.revenue += o.revenue;
        self.spend += o.spend;
        self.meta_leads += o.meta_leads;
        self.messaging += o.messaging;
        self.impressions += o.impressions;
        self.clicks += o.clicks;
    }

    pub fn figures(&self, exp: u32) -> Figures {
        let m = |v: i64| metrics::major(v, exp);
        Figures {
            leads: self.leads,
            opportunities: self.opportunities,
            won: self.won,
            customers: self.customers,
            sales_revenue: m(self.revenue),
            marketing_spend: m(self.spend),
            roi_percentage: metrics::roi_pct(self.revenue, self.spend),
            roas: metrics::roas(self.revenue, self.spend),
            cpa: metrics::per(self.spend, self.customers).map(m),
            cpl: metrics::per(self.spend, self.leads).map(m),
            lead_to_opportunity_rate: metrics::rate_pct(self.opportunities, self.leads),
            opportunity_to_won_rate: metrics::rate_pct(self.won, self.opportunities),
            meta_reported_leads: self.meta_leads,
            messaging_conversations_started: self.messaging,
            impressions: self.impressions,
            clicks: self.clicks,
            ctr: metrics::rate_pct(self.clicks, self.impressions),
            cpc: metrics::per(self.spend, self.clicks).map(m),
            cpm: metrics::cpm(self.spend, self.impressions).map(m),
        }
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

async fn sync_states(
    db: &DatabaseConnection,
    tenant_id: Uuid,
) -> Result<Vec<SyncStateView>, CoreError> {
    Ok(meta_sync_state::Entity::find()
        .filter(meta_sync_state::Column::TenantId.eq(tenant_id))
        .filter(meta_sync_state::Column::AdAccountId.starts_with("act_"))
        .order_by_asc(meta_sync_state::Column::AdAccountId)
        .all(db)
        .await?
        .into_iter()
        .map(SyncStateView::from)
        .collect())
}

fn tz_warnings(cx: &Ctx, sync: &[SyncStateView]) -> Vec<Warning> {
    sync.iter()
        .filter_map(|s| {
            let tz = s.timezone.as_deref()?;
            (tz != cx.tenant.timezone).then(|| Warning {
                code: "timezone_differs".into(),
                message: format!(
                    "ad account {} reports days in {tz}; CRM days are in {}",
                    s.ad_account_id, cx.tenant.timezone
                ),
                details: json!({"ad_account_id": s.ad_account_id, "account_timezone": tz, "tenant_timezone": cx.tenant.timezone}),
            })
        })
        .collect()
}

fn last_synced(sync: &[SyncStateView]) -> Option<DateTime<Utc>> {
    sync.iter().filter_map(|s| s.last_success_at).min()
}

struct Resolved {
    cx: Ctx,
    range: DateRange,
    model: Model,
}

async fn resolve(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    time_range: Option<&str>,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
    model: Option<&str>,
) -> Result<Resolved, CoreError> {
    ctx.require(Permission::MarketingRead)?;
    let model = Model::parse(model)?;
    let cx = load_ctx(db, ctx.tenant_id).await?;
    let today = Utc::now().with_timezone(&cx.tz).date_naive();
    let first = first_data_day(db, &cx).await?;
    let range = metrics::resolve_period(time_range, since, until, today, first)?;
    Ok(Resolved { cx, range, model })
}

async fn audit_read(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    what: &str,
    resource: Option<String>,
    r: &Resolved,
) -> Result<(), CoreError> {
    crm_db::audit::record(
        db,
        &ctx.actor(),
        &format!("marketing.{what}_read"),
        "marketing",
        resource,
        json!({"since": r.range.since, "until": r.range.until, "model": r.model}),
    )
    .await?;
    Ok(())
}

/// `GET /api/crm/marketing/stats`.
pub async fn stats(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &StatsQuery,
) -> Result<MarketingStats, CoreError> {
    let r = resolve(
        db,
        ctx,
        q.time_range.as_deref(),
        q.since,
        q.until,
        q.model.as_deref(),
    )
    .await?;
    let currency = r.cx.tenant.currency.clone();
    let exp = currency_exponent(&currency).unwrap_or(2);
    let mut conv = Converter::load(db, ctx.tenant_id, &currency).await?;
    let cur = compute(db, &r.cx, r.range, r.model, &mut conv).await?;
    let prev_range = r.range.previous();
    let mut conv_prev = Converter::load(db, ctx.tenant_id, &currency).await?;
    let prev = compute(db, &r.cx, prev_range, r.model, &mut conv_prev).await?;
    let sync = sync_states(db, ctx.tenant_id).await?;
    let f = cur.total.figures(exp);
    let mut warnings = conv.warnings();
    warnings.extend(tz_warnings(&r.cx, &sync));
    let series = r
        .range
        .iter_days()
        .map(|d| {
            let a = cur.by_day.get(&d).cloned().unwrap_or_default();
            DayPoint {
                date: d,
                spend: metrics::major(a.spend, exp),
                revenue: metrics::major(a.revenue, exp),
                leads: a.leads,
            }
        })
        .collect();
    audit_read(db, ctx, "stats", None, &r).await?;
    Ok(MarketingStats {
        currency,
        model: r.model,
        period: r.range.into(),
        previous_period: prev_range.into(),
        leads: cur.total.leads,
        leads_change: metrics::change(cur.total.leads, prev.total.leads),
        opportunities: cur.total.opportunities,
        opportunities_change: metrics::change(cur.total.opportunities, prev.total.opportunities),
        sales_revenue: f.sales_revenue,
        revenue_change: metrics::change(cur.total.revenue, prev.total.revenue),
        marketing_spend: f.marketing_spend,
        spend_change: metrics::change(cur.total.spend, prev.total.spend),
        roi_percentage: f.roi_percentage,
        roi_change: metrics::roi_change(
            f.roi_percentage,
            metrics::roi_pct(prev.total.revenue, prev.total.spend),
        ),
        cpa: f.cpa,
        cpl: f.cpl,
        roas: f.roas,
        won: f.won,
        customers: f.customers,
        lead_to_opportunity_rate: f.lead_to_opportunity_rate,
        opportunity_to_won_rate: f.opportunity_to_won_rate,
        meta_reported_leads: f.meta_reported_leads,
        messaging_conversations_started: f.messaging_conversations_started,
        impressions: f.impressions,
        clicks: f.clicks,
        ctr: f.ctr,
        cpc: f.cpc,
        cpm: f.cpm,
        series,
        warnings,
        unconverted: conv.unconverted(),
        last_synced_at: last_synced(&sync),
        sync,
    })
}

async fn campaign_objects(
    db: &DatabaseConnection,
    tenant_id: Uuid,
) -> Result<HashMap<String, meta_ad_object::Model>, CoreError> {
    Ok(meta_ad_object::Entity::find()
        .filter(meta_ad_object::Column::TenantId.eq(tenant_id))
        .filter(meta_ad_object::Column::Level.eq("campaign"))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.external_id.clone(), c))
        .collect())
}

fn campaign_row(
    id: &str,
    obj: Option<&meta_ad_object::Model>,
    acc: &Acc,
    exp: u32,
) -> CampaignStat {
    let f = acc.figures(exp);
    CampaignStat {
        id: id.to_owned(),
        name: obj.map(|o| o.name.clone()).unwrap_or_else(|| {
            if id == UNKNOWN {
                "Unknown campaign".into()
            } else {
                id.to_owned()
            }
        }),
        status: obj
            .map(|o| o.status.clone())
            .unwrap_or_else(|| "UNKNOWN".into()),
        effective_status: obj.and_then(|o| o.effective_status.clone()),
        objective: obj.and_then(|o| o.objective.clone()),
        ad_account_id: obj.map(|o| o.ad_account_id.clone()),
        spend: f.marketing_spend,
        leads: f.leads,
        opportunities: f.opportunities,
        revenue: f.sales_revenue,
        roi: f.roi_percentage,
        cpa: f.cpa,
        figures: f,
    }
}

fn sort_rows(
    rows: &mut [CampaignStat],
    sort: Option<&str>,
    order: Option<&str>,
) -> Result<(), CoreError> {
    let desc = match order.unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        o => {
            return Err(CoreError::validation(
                "invalid_order",
                format!("order must be asc or desc, not '{o}'"),
            ));
        }
    };
    let key = sort.unwrap_or("spend");
    let num = |r: &CampaignStat| -> Option<f64> {
        match key {
            "spend" => Some(r.spend),
            "leads" => Some(r.leads as f64),
            "opportunities" => Some(r.opportunities as f64),
            "revenue" => Some(r.revenue),
            "roi" => r.roi,
            "cpa" => r.cpa,
            "cpl" => r.figures.cpl,
            _ => None,
        }
    };
    if ![
        "spend",
        "leads",
        "opportunities",
        "revenue",
        "roi",
        "cpa",
        "cpl",
        "name",
    ]
    .contains(&key)
    {
        return Err(CoreError::validation(
            "invalid_sort",
            format!(
                "sort must be one of spend, leads, opportunities, revenue, roi, cpa, cpl, name, not '{key}'"
            ),
        ));
    }
    rows.sort_by(|a, b| {
        let ord = if key == "name" {
            a.name.to_lowercase().cmp(&b.name.to_lowercase())
        } else {
            // Nulls last in both orders.
            match (num(a), num(b)) {
                (Some(x), Some(y)) => {
                    let o = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
                    if desc { o.reverse() } else { o }
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        };
        let ord = if key == "name" && desc {
            ord.reverse()
        } else {
            ord
        };
        ord.then_with(|| a.id.cmp(&b.id))
    });
    Ok(())
}

const STATUSES: [&str; 4] = ["ACTIVE", "PAUSED", "DELETED", "ARCHIVED"];

/// `GET /api/crm/marketing/campaigns`: every campaign with spend or leads in
/// the period, plus active/paused campaigns without either, plus the
/// "unknown campaign" row when it has leads. Rows add up to `totals`.
pub async fn campaigns(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &CampaignsQuery,
) -> Result<CampaignList, CoreError> {
    let r = resolve(
        db,
        ctx,
        q.time_range.as_deref(),
        q.since,
        q.until,
        q.model.as_deref(),
    )
    .await?;
    let statuses: Option<Vec<String>> =
        match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                let v: Vec<String> = s.split(',').map(|x| x.trim().to_uppercase()).collect();
                if let Some(bad) = v.iter().find(|x| !STATUSES.contains(&x.as_str())) {
                    return Err(CoreError::validation(
                        "invalid_status",
                        format!("status must be ACTIVE, PAUSED, DELETED or ARCHIVED, not '{bad}'"),
                    ));
                }
                Some(v)
            }
        };
    let currency = r.cx.tenant.currency.clone();
    let exp = currency_exponent(&currency).unwrap_or(2);
    let mut conv = Converter::load(db, ctx.tenant_id, &currency).await?;
    let cur = compute(db, &r.cx, r.range, r.model, &mut conv).await?;
    let objs = campaign_objects(db, ctx.tenant_id).await?;
    let mut ids: HashSet<String> = cur.by_campaign.keys().cloned().collect();
    for (id, o) in &objs {
        if o.status == "ACTIVE" || o.status == "PAUSED" {
            ids.insert(id.clone());
        }
    }
    let empty = Acc::default();
    let mut items: Vec<CampaignStat> = ids
        .iter()
        .map(|id| {
            campaign_row(
                id,
                objs.get(id),
                cur.by_campaign.get(id).unwrap_or(&empty),
                exp,
            )
        })
        .filter(|row| statuses.as_ref().is_none_or(|s| s.contains(&row.status)))
        .collect();
    sort_rows(&mut items, q.sort.as_deref(), q.order.as_deref())?;
    let sync = sync_states(db, ctx.tenant_id).await?;
    let mut warnings = conv.warnings();
    warnings.extend(tz_warnings(&r.cx, &sync));
    audit_read(db, ctx, "campaigns", None, &r).await?;
    Ok(CampaignList {
        currency,
        model: r.model,
        period: r.range.into(),
        items,
        totals: cur.total.figures(exp),
        warnings,
        unconverted: conv.unconverted(),
        last_synced_at: last_synced(&sync),
    })
}

/// `GET /api/crm/marketing/campaigns/{id}` with its ads.
pub async fn campaign(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: &str,
    q: &StatsQuery,
) -> Result<CampaignDetail, CoreError> {
    let r = resolve(
        db,
        ctx,
        q.time_range.as_deref(),
        q.since,
        q.until,
        q.model.as_deref(),
    )
    .await?;
    let objs = campaign_objects(db, ctx.tenant_id).await?;
    let obj = objs.get(id);
    if obj.is_none() && id != UNKNOWN {
        return Err(CoreError::NotFound("campaign"));
    }
    let currency = r.cx.tenant.currency.clone();
    let exp = currency_exponent(&currency).unwrap_or(2);
    let mut conv = Converter::load(db, ctx.tenant_id, &currency).await?;
    let cur = compute(db, &r.cx, r.range, r.model, &mut conv).await?;
    let empty = Acc::default();
    let row = campaign_row(id, obj, cur.by_campaign.get(id).unwrap_or(&empty), exp);
    let ad_objs = meta_ad_object::Entity::find()
        .filter(meta_ad_object::Column::TenantId.eq(ctx.tenant_id))
        .filter(meta_ad_object::Column::Level.eq("ad"))
        .filter(meta_ad_object::Column::CampaignId.eq(id))
        .order_by_asc(meta_ad_object::Column::ExternalId)
        .all(db)
        .await?;
    let ads = ad_objs
        .into_iter()
        .map(|a| AdStat {
            figures: cur.by_ad.get(&a.external_id).unwrap_or(&empty).figures(exp),
            id: a.external_id,
            name: a.name,
            status: a.status,
            adset_id: a.adset_id,
            creative_title: a.creative_title,
            creative_body: a.creative_body,
        })
        .collect();
    let status_history = crm_db::entity::meta_ad_status_history::Entity::find()
        .filter(crm_db::entity::meta_ad_status_history::Column::TenantId.eq(ctx.tenant_id))
        .filter(crm_db::entity::meta_ad_status_history::Column::Level.eq("campaign"))
        .filter(crm_db::entity::meta_ad_status_history::Column::ExternalId.eq(id))
        .order_by_asc(crm_db::entity::meta_ad_status_history::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|h| StatusChange {
            from_status: h.from_status,
            to_status: h.to_status,
            observed_at: h.observed_at,
        })
        .collect();
    let sync = sync_states(db, ctx.tenant_id).await?;
    audit_read(db, ctx, "campaign", Some(id.to_owned()), &r).await?;
    Ok(CampaignDetail {
        currency,
        model: r.model,
        period: r.range.into(),
        campaign: row,
        ads,
        status_history,
        warnings: conv.warnings(),
        last_synced_at: last_synced(&sync),
    })
}

/// `GET /api/crm/marketing/campaigns/{id}/insights`: the daily series.
pub async fn campaign_insights(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: &str,
    q: &StatsQuery,
) -> Result<CampaignInsights, CoreError> {
    let r = resolve(
        db,
        ctx,
        q.time_range.as_deref(),
        q.since,
        q.until,
        q.model.as_deref(),
    )
    .await?;
    let objs = campaign_objects(db, ctx.tenant_id).await?;
    if !objs.contains_key(id) && id != UNKNOWN {
        return Err(CoreError::NotFound("campaign"));
    }
    let currency = r.cx.tenant.currency.clone();
    let exp = currency_exponent(&currency).unwrap_or(2);
    let mut conv = Converter::load(db, ctx.tenant_id, &currency).await?;
    // Per-day figures of this campaign only: compute over a context limited
    // to its leads.
    let mut cx = load_ctx(db, ctx.tenant_id).await?;
    cx.leads.retain(|_, l| l.campaign == id);
    let mut c = compute(db, &cx, r.range, r.model, &mut conv).await?;
    // Spend rows of other campaigns were added to by_day too: recompute the
    // day buckets from this campaign's insights.
    let ins: Vec<(NaiveDate, String, i64, i64, i64, i64)> = meta_insights_daily::Entity::find()
        .select_only()
        .columns([
            meta_insights_daily::Column::Day,
            meta_insights_daily::Column::Currency,
            meta_insights_daily::Column::SpendMinor,
            meta_insights_daily::Column::Impressions,
            meta_insights_daily::Column::Clicks,
            meta_insights_daily::Column::MetaLeads,
        ])
        .filter(meta_insights_daily::Column::TenantId.eq(ctx.tenant_id))
        .filter(meta_insights_daily::Column::CampaignId.eq(id))
        .filter(meta_insights_daily::Column::Day.gte(r.range.since))
        .filter(meta_insights_daily::Column::Day.lte(r.range.until))
        .into_tuple()
        .all(db)
        .await?;
    for a in c.by_day.values_mut() {
        a.spend = 0;
        a.impressions = 0;
        a.clicks = 0;
        a.meta_leads = 0;
    }
    for (day, cur, spend, imp, clicks, ml) in ins {
        let v = conv.convert(spend, &cur, day).unwrap_or(0);
        let a = c.by_day.entry(day).or_default();
        a.spend += v;
        a.impressions += imp;
        a.clicks += clicks;
        a.meta_leads += ml;
    }
    let items = r
        .range
        .iter_days()
        .map(|d| {
            let a = c.by_day.get(&d).cloned().unwrap_or_default();
            InsightPoint {
                date: d,
                spend: metrics::major(a.spend, exp),
                impressions: a.impressions,
                clicks: a.clicks,
                meta_reported_leads: a.meta_leads,
                leads: a.leads,
                revenue: metrics::major(a.revenue, exp),
            }
        })
        .collect();
    audit_read(db, ctx, "campaign_insights", Some(id.to_owned()), &r).await?;
    Ok(CampaignInsights {
        currency,
        campaign_id: id.to_owned(),
        period: r.range.into(),
        items,
        warnings: conv.warnings(),
    })
}

/// `GET /api/crm/marketing/stats/roi`: funnel and breakdowns.
pub async fn roi(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &StatsQuery,
) -> Result<RoiBreakdown, CoreError> {
    let r = resolve(
        db,
        ctx,
        q.time_range.as_deref(),
        q.since,
        q.until,
        q.model.as_deref(),
    )
    .await?;
    let currency = r.cx.tenant.currency.clone();
    let exp = currency_exponent(&currency).unwrap_or(2);
    let mut conv = Converter::load(db, ctx.tenant_id, &currency).await?;
    let cur = compute(db, &r.cx, r.range, r.model, &mut conv).await?;
    let objs = campaign_objects(db, ctx.tenant_id).await?;
    let mut by_campaign: Vec<CampaignStat> = cur
        .by_campaign
        .iter()
        .map(|(id, a)| campaign_row(id, objs.get(id), a, exp))
        .collect();
    sort_rows(&mut by_campaign, Some("revenue"), Some("desc"))?;
    let mut by_source: Vec<SourceStat> = cur
        .by_channel
        .iter()
        .map(|(ch, a)| SourceStat {
            channel: ch.clone(),
            leads: a.leads,
            opportunities: a.opportunities,
            won: a.won,
            revenue: metrics::major(a.revenue, exp),
        })
        .collect();
    by_source.sort_by(|a, b| {
        b.leads
            .cmp(&a.leads)
            .then_with(|| a.channel.cmp(&b.channel))
    });
    let t = &cur.total;
    let sync = sync_states(db, ctx.tenant_id).await?;
    audit_read(db, ctx, "roi", None, &r).await?;
    Ok(RoiBreakdown {
        currency,
        model: r.model,
        period: r.range.into(),
        totals: t.figures(exp),
        funnel: vec![
            FunnelStep {
                step: "leads".into(),
                count: t.leads,
            },
            FunnelStep {
                step: "opportunities".into(),
                count: t.opportunities,
            },
            FunnelStep {
                step: "won".into(),
                count: t.won,
            },
            FunnelStep {
                step: "customers".into(),
                count: t.customers,
            },
        ],
        by_campaign,
        by_source,
        warnings: conv.warnings(),
        last_synced_at: last_synced(&sync),
    })
}

/// `GET /api/crm/marketing/sync`: sync state per connected ad account.
pub async fn sync_status(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
) -> Result<Vec<SyncStateView>, CoreError> {
    ctx.require(Permission::MarketingRead)?;
    sync_states(db, ctx.tenant_id).await
}

/// `POST /api/crm/marketing/sync`: "sync now" for every connected account.
pub async fn sync_now(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
) -> Result<Vec<SyncStateView>, CoreError> {
    ctx.require(Permission::MarketingManage)?;
    let Some(conn) = super::meta_connection::connection_for_tenant(db, ctx.tenant_id).await? else {
        return Err(CoreError::conflict(
            "meta_not_connected",
            "Meta is not connected for this workspace; connect it in Settings → Meta",
        ));
    };
    if conn.ad_accounts.is_empty() {
        return Err(CoreError::conflict(
            "no_ad_account",
            "no ad account is selected; pick one in the Meta connection wizard",
        ));
    }
    let txn = sea_orm::TransactionTrait::begin_with_options(db, crm_db::write_txn()).await?;
    for a in &conn.ad_accounts {
        super::sync::enqueue_sync(&txn, ctx.tenant_id, &a.id, "manual").await?;
    }
    crm_db::audit::record(
        &txn,
        &ctx.actor(),
        "marketing.sync_requested",
        "meta_ad_account",
        None,
        json!({"ad_accounts": conn.ad_accounts.iter().map(|a| a.id.clone()).collect::<Vec<_>>()}),
    )
    .await?;
    txn.commit().await?;
    sync_states(db, ctx.tenant_id).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn figures_follow_the_contract() {
        let a = Acc {
            leads: 4,
            opportunities: 2,
            won: 1,
            customers: 1,
            revenue: 50_000,
            spend: 20_000,
            meta_leads: 7,
            messaging: 0,
            impressions: 10_000,
            clicks: 200,
        };
        let f = a.figures(2);
        assert_eq!(f.sales_revenue, 500.0);
        assert_eq!(f.marketing_spend, 200.0);
        assert_eq!(f.roi_percentage, Some(150.0));
        assert_eq!(f.roas, Some(2.5));
        assert_eq!(f.cpa, Some(200.0));
        assert_eq!(f.cpl, Some(50.0));
        assert_eq!(f.lead_to_opportunity_rate, Some(50.0));
        assert_eq!(f.opportunity_to_won_rate, Some(50.0));
        assert_eq!(f.ctr, Some(2.0));
        assert_eq!(f.cpc, Some(1.0));
        assert_eq!(f.cpm, Some(20.0));
        let z = Acc::default().figures(2);
        assert_eq!(
            (z.roi_percentage, z.cpa, z.cpl, z.ctr),
            (None, None, None, None)
        );
    }
}
