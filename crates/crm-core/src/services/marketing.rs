//! Marketing Hub analytics: `stats`, `stats/roi`, `campaigns`,
//! `campaigns/{id}`, `campaigns/{id}/insights` and the sync status.
//!
//! Every number follows `docs/marketing-metrics.md` (the contract in
//! [`crate::metrics`]). Numbers come from the CRM's own store (synced insights
//! plus CRM data), never from a live Meta call. Money is converted to the
//! tenant's reporting currency at the FX rate of its date; a missing rate is
//! reported as a warning with the unconverted amounts, never guessed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use crm_db::entity::{
    marketing_daily as daily, marketing_daily_extra as extra, marketing_monthly as monthly,
    meta_ad_object, meta_sync_state, tenant,
};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::marketing_cache::{Cached, ReadCache};
use super::rollups;
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

// ---------------------------------------------------------------------------
// The engine: reads only the rollups (`services::rollups`), never raw leads,
// opportunities or sales.

/// Warnings and unconverted amounts collected while reading rollups.
pub struct Notes {
    target: String,
    missing: BTreeMap<String, BTreeSet<NaiveDate>>,
    unconverted: BTreeMap<String, i64>,
}

impl Notes {
    fn new(target: &str) -> Self {
        Self {
            target: target.to_owned(),
            missing: BTreeMap::new(),
            unconverted: BTreeMap::new(),
        }
    }

    fn add(&mut self, currency: &str, day: NaiveDate, amount: i64) {
        self.missing
            .entry(currency.to_owned())
            .or_default()
            .insert(day);
        *self.unconverted.entry(currency.to_owned()).or_default() += amount;
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
#[derive(Default)]
pub struct Computed {
    pub total: Acc,
    pub by_campaign: HashMap<String, Acc>,
    pub by_ad: HashMap<String, Acc>,
    pub by_channel: HashMap<String, Acc>,
    pub by_day: BTreeMap<NaiveDate, Acc>,
}

/// Summed rollup columns of one group.
#[derive(Debug, Clone, Default, FromQueryResult)]
struct Sums {
    key: String,
    insight_rows: i64,
    spend: i64,
    impressions: i64,
    clicks: i64,
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

impl From<&daily::Model> for Sums {
    fn from(r: &daily::Model) -> Self {
        Sums {
            key: String::new(),
            insight_rows: r.insight_rows,
            spend: r.spend,
            impressions: r.impressions,
            clicks: r.clicks,
            meta_leads: r.meta_leads,
            messaging: r.messaging,
            leads: r.leads,
            opps_c: r.opps_c,
            won_c: r.won_c,
            customers_c: r.customers_c,
            revenue_c: r.revenue_c,
            opps_a: r.opps_a,
            won_a: r.won_a,
            revenue_a: r.revenue_a,
        }
    }
}

impl Sums {
    /// Adds another group's sums (same key) to these.
    fn add(&mut self, o: &Sums) {
        self.insight_rows += o.insight_rows;
        self.spend += o.spend;
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.meta_leads += o.meta_leads;
        self.messaging += o.messaging;
        self.leads += o.leads;
        self.opps_c += o.opps_c;
        self.won_c += o.won_c;
        self.customers_c += o.customers_c;
        self.revenue_c += o.revenue_c;
        self.opps_a += o.opps_a;
        self.won_a += o.won_a;
        self.revenue_a += o.revenue_a;
    }

    /// The row's figures in a model (activity customers come from the
    /// extras, see [`add_extras`]).
    fn acc(&self, model: Model) -> Acc {
        let cohort = model == Model::Cohort;
        Acc {
            leads: self.leads,
            opportunities: if cohort { self.opps_c } else { self.opps_a },
            won: if cohort { self.won_c } else { self.won_a },
            customers: if cohort { self.customers_c } else { 0 },
            revenue: if cohort {
                self.revenue_c
            } else {
                self.revenue_a
            },
            spend: self.spend,
            meta_leads: self.meta_leads,
            messaging: self.messaging,
            impressions: self.impressions,
            clicks: self.clicks,
        }
    }

    /// Whether the row counts anything a CRM lead brought.
    fn has_crm(&self, model: Model) -> bool {
        let a = self.acc(model);
        a.leads != 0 || a.opportunities != 0 || a.won != 0 || a.customers != 0 || a.revenue != 0
    }
}

const SUM_COLS: [(daily::Column, &str); 14] = [
    (daily::Column::InsightRows, "insight_rows"),
    (daily::Column::Spend, "spend"),
    (daily::Column::Impressions, "impressions"),
    (daily::Column::Clicks, "clicks"),
    (daily::Column::MetaLeads, "meta_leads"),
    (daily::Column::Messaging, "messaging"),
    (daily::Column::Leads, "leads"),
    (daily::Column::OppsC, "opps_c"),
    (daily::Column::WonC, "won_c"),
    (daily::Column::CustomersC, "customers_c"),
    (daily::Column::RevenueC, "revenue_c"),
    (daily::Column::OppsA, "opps_a"),
    (daily::Column::WonA, "won_a"),
    (daily::Column::RevenueA, "revenue_a"),
];

/// A filter on the rollup rows of one level.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Every campaign.
    Campaigns,
    /// One campaign.
    Campaign(&'a str),
    /// These ads.
    Ads(&'a [String]),
}

impl Scope<'_> {
    fn level(&self) -> &'static str {
        match self {
            Scope::Campaigns | Scope::Campaign(_) => rollups::CAMPAIGN,
            Scope::Ads(_) => rollups::AD,
        }
    }
    fn daily(&self) -> Condition {
        let c = Condition::all().add(daily::Column::Level.eq(self.level()));
        match self {
            Scope::Campaigns => c,
            Scope::Campaign(id) => c.add(daily::Column::CampaignId.eq(*id)),
            Scope::Ads(ids) => c.add(daily::Column::AdId.is_in(ids.iter().cloned())),
        }
    }
    fn extra(&self) -> Condition {
        let c = Condition::all().add(extra::Column::Level.eq(self.level()));
        match self {
            Scope::Campaigns => c,
            Scope::Campaign(id) => c.add(extra::Column::CampaignId.eq(*id)),
            Scope::Ads(ids) => c.add(extra::Column::AdId.is_in(ids.iter().cloned())),
        }
    }
    fn key_col(&self) -> daily::Column {
        match self {
            Scope::Ads(_) => daily::Column::AdId,
            _ => daily::Column::CampaignId,
        }
    }
    fn monthly(&self) -> Condition {
        let c = Condition::all().add(monthly::Column::Level.eq(self.level()));
        match self {
            Scope::Campaigns => c,
            Scope::Campaign(id) => c.add(monthly::Column::CampaignId.eq(*id)),
            Scope::Ads(ids) => c.add(monthly::Column::AdId.is_in(ids.iter().cloned())),
        }
    }
    fn monthly_key_col(&self) -> monthly::Column {
        match self {
            Scope::Ads(_) => monthly::Column::AdId,
            _ => monthly::Column::CampaignId,
        }
    }
}

/// Adds the extras of a level and range: the amounts without an FX rate, and
/// (activity model, when `group` names the key column) the customers per
/// group: a lead counts once, on its first sale day in the range, i.e. the
/// sale day rows whose previous sale day lies before the range.
#[allow(clippy::too_many_arguments)]
async fn add_extras(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    cond: Condition,
    range: DateRange,
    model: Model,
    notes: &mut Notes,
    group: Option<extra::Column>,
    mut add_customers: impl FnMut(String, i64),
) -> Result<(), CoreError> {
    let rev_kind = match model {
        Model::Cohort => rollups::UNCONV_REV_C,
        Model::Activity => rollups::UNCONV_REV_A,
    };
    let rows = extra::Entity::find()
        .filter(extra::Column::TenantId.eq(tenant_id))
        .filter(cond.clone())
        .filter(extra::Column::Day.gte(range.since))
        .filter(extra::Column::Day.lte(range.until))
        .filter(extra::Column::Kind.is_in([rollups::UNCONV_SPEND, rev_kind]))
        .all(db)
        .await?;
    for r in &rows {
        notes.add(&r.currency, r.ref_day, r.value);
    }
    if let (Model::Activity, Some(col)) = (model, group) {
        let rows: Vec<(String, i64)> = extra::Entity::find()
            .select_only()
            .column(col)
            .column_as(
                Expr::from(Func::cast_as(
                    Func::sum(Expr::col(extra::Column::Value)),
                    "BIGINT",
                )),
                "n",
            )
            .filter(extra::Column::TenantId.eq(tenant_id))
            .filter(cond)
            .filter(extra::Column::Kind.eq(rollups::CUST_A))
            .filter(extra::Column::Day.gte(range.since))
            .filter(extra::Column::Day.lte(range.until))
            .filter(extra::Column::RefDay.lt(range.since))
            .group_by(col)
            .into_tuple()
            .all(db)
            .await?;
        for (k, n) in rows {
            add_customers(k, n);
        }
    }
    Ok(())
}

/// Totals, per channel and per day, from the total-level rows.
async fn totals(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    range: DateRange,
    model: Model,
    notes: &mut Notes,
) -> Result<Computed, CoreError> {
    let rows = daily::Entity::find()
        .filter(daily::Column::TenantId.eq(tenant_id))
        .filter(daily::Column::Level.eq(rollups::TOTAL))
        .filter(daily::Column::Day.gte(range.since))
        .filter(daily::Column::Day.lte(range.until))
        .all(db)
        .await?;
    let mut c = Computed::default();
    for r in &rows {
        let s = Sums::from(r);
        let a = s.acc(model);
        c.total.add(&a);
        c.by_day.entry(r.day).or_default().add(&a);
        if s.has_crm(model) {
            c.by_channel.entry(r.channel.clone()).or_default().add(&a);
        }
    }
    let mut per_channel: HashMap<String, i64> = HashMap::new();
    let mut all = 0;
    add_extras(
        db,
        tenant_id,
        Condition::all().add(extra::Column::Level.eq(rollups::TOTAL)),
        range,
        model,
        notes,
        Some(extra::Column::Channel),
        |ch, n| {
            all += n;
            *per_channel.entry(ch).or_default() += n;
        },
    )
    .await?;
    c.total.customers += all;
    for (ch, n) in per_channel {
        c.by_channel.entry(ch).or_default().customers += n;
    }
    Ok(c)
}

/// A range cut at calendar months: the whole months it covers (first days
/// of the first and last), and the days of its partial months at either end.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MonthSplit {
    months: Option<(NaiveDate, NaiveDate)>,
    days: Vec<DateRange>,
}

fn split_months(range: DateRange) -> MonthSplit {
    use crm_db::rollups::{month_end, month_of};
    let first = if range.since.day() == 1 {
        Some(range.since)
    } else {
        month_end(month_of(range.since)).succ_opt()
    };
    let last = if month_end(month_of(range.until)) == range.until {
        Some(month_of(range.until))
    } else {
        month_of(range.until).pred_opt().map(month_of)
    };
    match (first, last) {
        (Some(first), Some(last)) if first <= last => {
            let mut days = Vec::new();
            if let Some(before) = first.pred_opt().filter(|d| range.since <= *d) {
                days.push(DateRange {
                    since: range.since,
                    until: before,
                });
            }
            if let Some(after) = month_end(last).succ_opt().filter(|d| *d <= range.until) {
                days.push(DateRange {
                    since: after,
                    until: range.until,
                });
            }
            MonthSplit {
                months: Some((first, last)),
                days,
            }
        }
        _ => MonthSplit {
            months: None,
            days: vec![range],
        },
    }
}

/// Per campaign or per ad figures of a range, summed in the database: whole
/// months from `marketing_monthly`, the partial months at the ends from
/// `marketing_daily`. Groups with nothing to show in the model are left out.
async fn grouped(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    scope: Scope<'_>,
    range: DateRange,
    model: Model,
    notes: &mut Notes,
) -> Result<HashMap<String, Acc>, CoreError> {
    let split = split_months(range);
    let mut parts: Vec<Vec<Sums>> = Vec::new();
    for days in &split.days {
        let mut q = daily::Entity::find()
            .select_only()
            .column_as(scope.key_col(), "key");
        for (col, name) in SUM_COLS {
            q = q.column_as(
                Expr::from(Func::cast_as(Func::sum(Expr::col(col)), "BIGINT")),
                name,
            );
        }
        parts.push(
            q.filter(daily::Column::TenantId.eq(tenant_id))
                .filter(scope.daily())
                .filter(daily::Column::Day.gte(days.since))
                .filter(daily::Column::Day.lte(days.until))
                .group_by(scope.key_col())
                .into_model::<Sums>()
                .all(db)
                .await?,
        );
    }
    if let Some((first, last)) = split.months {
        let key = scope.monthly_key_col();
        let mut q = monthly::Entity::find().select_only().column_as(key, "key");
        for (col, name) in crm_db::rollups::MONTHLY_SUMS
            .into_iter()
            .zip(crm_db::rollups::SUM_COLUMNS)
        {
            q = q.column_as(
                Expr::from(Func::cast_as(Func::sum(Expr::col(col)), "BIGINT")),
                *name,
            );
        }
        parts.push(
            q.filter(monthly::Column::TenantId.eq(tenant_id))
                .filter(scope.monthly())
                .filter(monthly::Column::Month.gte(first))
                .filter(monthly::Column::Month.lte(last))
                .group_by(key)
                .into_model::<Sums>()
                .all(db)
                .await?,
        );
    }
    let mut sums: HashMap<String, Sums> = HashMap::new();
    for row in parts.into_iter().flatten() {
        match sums.get_mut(&row.key) {
            Some(s) => s.add(&row),
            None => {
                sums.insert(row.key.clone(), row);
            }
        }
    }
    let mut out: HashMap<String, Acc> = sums
        .values()
        .filter(|s| s.insight_rows > 0 || s.has_crm(model))
        .map(|s| (s.key.clone(), s.acc(model)))
        .collect();
    let col = match scope {
        Scope::Ads(_) => extra::Column::AdId,
        _ => extra::Column::CampaignId,
    };
    add_extras(
        db,
        tenant_id,
        scope.extra(),
        range,
        model,
        notes,
        Some(col),
        |k, n| out.entry(k).or_default().customers += n,
    )
    .await?;
    Ok(out)
}

/// One campaign's figures per day.
async fn campaign_days(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    campaign: &str,
    range: DateRange,
    model: Model,
    notes: &mut Notes,
) -> Result<BTreeMap<NaiveDate, Acc>, CoreError> {
    let scope = Scope::Campaign(campaign);
    let rows = daily::Entity::find()
        .filter(daily::Column::TenantId.eq(tenant_id))
        .filter(scope.daily())
        .filter(daily::Column::Day.gte(range.since))
        .filter(daily::Column::Day.lte(range.until))
        .all(db)
        .await?;
    let mut out: BTreeMap<NaiveDate, Acc> = BTreeMap::new();
    for r in &rows {
        out.entry(r.day).or_default().add(&Sums::from(r).acc(model));
    }
    add_extras(
        db,
        tenant_id,
        scope.extra(),
        range,
        model,
        notes,
        None,
        |_, _| {},
    )
    .await?;
    Ok(out)
}

/// The first day with insights or a Meta-attributed lead.
async fn first_data_day(
    db: &DatabaseConnection,
    tenant_id: Uuid,
) -> Result<Option<NaiveDate>, CoreError> {
    Ok(daily::Entity::find()
        .select_only()
        .column(daily::Column::Day)
        .filter(daily::Column::TenantId.eq(tenant_id))
        .filter(daily::Column::Level.eq(rollups::TOTAL))
        .filter(
            Condition::any()
                .add(daily::Column::InsightRows.gt(0))
                .add(daily::Column::Leads.gt(0)),
        )
        .order_by_asc(daily::Column::Day)
        .limit(1)
        .into_tuple::<NaiveDate>()
        .one(db)
        .await?)
}

/// The tenant and its time zone.
struct Ctx {
    tenant: tenant::Model,
    tz: Tz,
}

async fn load_ctx(db: &DatabaseConnection, tenant_id: Uuid) -> Result<Ctx, CoreError> {
    let tenant = tenant::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    let tz: Tz = tenant.timezone.parse().unwrap_or(chrono_tz::UTC);
    Ok(Ctx { tenant, tz })
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
    today: NaiveDate,
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
    // Read-your-writes: clear pending rollup marks of this tenant first
    // (usually none; the worker clears them as changes happen).
    if rollups::is_dirty(db, ctx.tenant_id).await? {
        rollups::refresh(db, ctx.tenant_id).await?;
    }
    let cx = load_ctx(db, ctx.tenant_id).await?;
    let today = Utc::now().with_timezone(&cx.tz).date_naive();
    let first = first_data_day(db, ctx.tenant_id).await?;
    let range = metrics::resolve_period(time_range, since, until, today, first)?;
    Ok(Resolved {
        cx,
        today,
        range,
        model,
    })
}

/// The audit row of one Marketing Hub read, and what the answer depended on
/// besides the data (the tenant's time zone and day), for the read cache.
#[derive(Debug, Clone)]
pub struct ReadAudit {
    what: &'static str,
    resource: Option<String>,
    details: serde_json::Value,
    pub(crate) tz: Tz,
    pub(crate) today: NaiveDate,
}

impl ReadAudit {
    fn of(what: &'static str, resource: Option<String>, r: &Resolved) -> Self {
        ReadAudit {
            what,
            resource,
            details: json!({"since": r.range.since, "until": r.range.until, "model": r.model}),
            tz: r.cx.tz,
            today: r.today,
        }
    }

    /// Counts the read in the coalesced read log (no database write; see
    /// [`super::read_log`]).
    pub fn count(&self, log: &super::read_log::ReadLog, ctx: &TenantCtx) {
        log.record(
            ctx,
            format!("marketing.{}_read", self.what),
            "marketing",
            self.resource.clone(),
            self.details.clone(),
        );
    }

    /// Writes the audit row (`marketing.<what>_read`) at once (the uncached
    /// entry points, used by commands and benchmarks).
    pub async fn record(&self, db: &DatabaseConnection, ctx: &TenantCtx) -> Result<(), CoreError> {
        crm_db::audit::record(
            db,
            &ctx.actor(),
            &format!("marketing.{}_read", self.what),
            "marketing",
            self.resource.clone(),
            self.details.clone(),
        )
        .await?;
        Ok(())
    }
}

/// `GET /api/crm/marketing/stats`.
pub async fn stats(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &StatsQuery,
) -> Result<MarketingStats, CoreError> {
    let (out, read) = stats_inner(db, ctx, q).await?;
    read.record(db, ctx).await?;
    Ok(out)
}

/// [`stats`] through the read cache: a repeated view of unchanged data is
/// served from memory (still permission-checked and audited).
pub async fn stats_cached(
    db: &DatabaseConnection,
    cache: &ReadCache,
    ctx: &TenantCtx,
    q: &StatsQuery,
) -> Result<Cached<MarketingStats>, CoreError> {
    let key = format!("stats|{q:?}");
    cache
        .get_or_compute(db, ctx, key, || stats_inner(db, ctx, q))
        .await
}

async fn stats_inner(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &StatsQuery,
) -> Result<(MarketingStats, ReadAudit), CoreError> {
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
    let mut notes = Notes::new(&currency);
    let cur = totals(db, ctx.tenant_id, r.range, r.model, &mut notes).await?;
    let prev_range = r.range.previous();
    let prev = totals(
        db,
        ctx.tenant_id,
        prev_range,
        r.model,
        &mut Notes::new(&currency),
    )
    .await?;
    let sync = sync_states(db, ctx.tenant_id).await?;
    let f = cur.total.figures(exp);
    let mut warnings = notes.warnings();
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
    let read = ReadAudit::of("stats", None, &r);
    Ok((
        MarketingStats {
            currency,
            model: r.model,
            period: r.range.into(),
            previous_period: prev_range.into(),
            leads: cur.total.leads,
            leads_change: metrics::change(cur.total.leads, prev.total.leads),
            opportunities: cur.total.opportunities,
            opportunities_change: metrics::change(
                cur.total.opportunities,
                prev.total.opportunities,
            ),
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
            unconverted: notes.unconverted(),
            last_synced_at: last_synced(&sync),
            sync,
        },
        read,
    ))
}

/// A campaign not (yet) synced is still known when the tenant's leads name
/// it (Lead Ads, UTM ids), and the unknown-campaign row always is.
async fn known_campaign(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    id: &str,
) -> Result<bool, CoreError> {
    if id == UNKNOWN {
        return Ok(true);
    }
    Ok(daily::Entity::find()
        .select_only()
        .column(daily::Column::Day)
        .filter(daily::Column::TenantId.eq(tenant_id))
        .filter(daily::Column::Level.eq(rollups::CAMPAIGN))
        .filter(daily::Column::CampaignId.eq(id))
        .limit(1)
        .into_tuple::<NaiveDate>()
        .one(db)
        .await?
        .is_some())
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
    let (out, read) = campaigns_inner(db, ctx, q).await?;
    read.record(db, ctx).await?;
    Ok(out)
}

/// [`campaigns`] through the read cache: a repeated view of unchanged data is
/// served from memory (still permission-checked and audited).
pub async fn campaigns_cached(
    db: &DatabaseConnection,
    cache: &ReadCache,
    ctx: &TenantCtx,
    q: &CampaignsQuery,
) -> Result<Cached<CampaignList>, CoreError> {
    let key = format!("campaigns|{q:?}");
    cache
        .get_or_compute(db, ctx, key, || campaigns_inner(db, ctx, q))
        .await
}

async fn campaigns_inner(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &CampaignsQuery,
) -> Result<(CampaignList, ReadAudit), CoreError> {
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
    let mut notes = Notes::new(&currency);
    let by_campaign = grouped(
        db,
        ctx.tenant_id,
        Scope::Campaigns,
        r.range,
        r.model,
        &mut notes,
    )
    .await?;
    // Every lead and every insight row has exactly one campaign key, so the
    // rows add up to the totals by construction.
    let mut total = Acc::default();
    for a in by_campaign.values() {
        total.add(a);
    }
    let objs = campaign_objects(db, ctx.tenant_id).await?;
    let mut ids: HashSet<String> = by_campaign.keys().cloned().collect();
    for (id, o) in &objs {
        if o.status == "ACTIVE" || o.status == "PAUSED" {
            ids.insert(id.clone());
        }
    }
    let empty = Acc::default();
    let mut items: Vec<CampaignStat> = ids
        .iter()
        .map(|id| campaign_row(id, objs.get(id), by_campaign.get(id).unwrap_or(&empty), exp))
        .filter(|row| statuses.as_ref().is_none_or(|s| s.contains(&row.status)))
        .collect();
    sort_rows(&mut items, q.sort.as_deref(), q.order.as_deref())?;
    let sync = sync_states(db, ctx.tenant_id).await?;
    let mut warnings = notes.warnings();
    warnings.extend(tz_warnings(&r.cx, &sync));
    let read = ReadAudit::of("campaigns", None, &r);
    Ok((
        CampaignList {
            currency,
            model: r.model,
            period: r.range.into(),
            items,
            totals: total.figures(exp),
            warnings,
            unconverted: notes.unconverted(),
            last_synced_at: last_synced(&sync),
        },
        read,
    ))
}

/// `GET /api/crm/marketing/campaigns/{id}` with its ads.
pub async fn campaign(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: &str,
    q: &StatsQuery,
) -> Result<CampaignDetail, CoreError> {
    let (out, read) = campaign_inner(db, ctx, id, q).await?;
    read.record(db, ctx).await?;
    Ok(out)
}

/// [`campaign`] through the read cache: a repeated view of unchanged data is
/// served from memory (still permission-checked and audited).
pub async fn campaign_cached(
    db: &DatabaseConnection,
    cache: &ReadCache,
    ctx: &TenantCtx,
    id: &str,
    q: &StatsQuery,
) -> Result<Cached<CampaignDetail>, CoreError> {
    let key = format!("campaign|{id:?}|{q:?}");
    cache
        .get_or_compute(db, ctx, key, || campaign_inner(db, ctx, id, q))
        .await
}

async fn campaign_inner(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: &str,
    q: &StatsQuery,
) -> Result<(CampaignDetail, ReadAudit), CoreError> {
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
    if obj.is_none() && !known_campaign(db, ctx.tenant_id, id).await? {
        return Err(CoreError::NotFound("campaign"));
    }
    let currency = r.cx.tenant.currency.clone();
    let exp = currency_exponent(&currency).unwrap_or(2);
    let mut notes = Notes::new(&currency);
    let by_campaign = grouped(
        db,
        ctx.tenant_id,
        Scope::Campaign(id),
        r.range,
        r.model,
        &mut notes,
    )
    .await?;
    let empty = Acc::default();
    let row = campaign_row(id, obj, by_campaign.get(id).unwrap_or(&empty), exp);
    let ad_objs = meta_ad_object::Entity::find()
        .filter(meta_ad_object::Column::TenantId.eq(ctx.tenant_id))
        .filter(meta_ad_object::Column::Level.eq("ad"))
        .filter(meta_ad_object::Column::CampaignId.eq(id))
        .order_by_asc(meta_ad_object::Column::ExternalId)
        .all(db)
        .await?;
    let ad_ids: Vec<String> = ad_objs.iter().map(|a| a.external_id.clone()).collect();
    let by_ad = if ad_ids.is_empty() {
        HashMap::new()
    } else {
        grouped(
            db,
            ctx.tenant_id,
            Scope::Ads(&ad_ids),
            r.range,
            r.model,
            &mut Notes::new(&currency),
        )
        .await?
    };
    let ads = ad_objs
        .into_iter()
        .map(|a| AdStat {
            figures: by_ad.get(&a.external_id).unwrap_or(&empty).figures(exp),
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
    let read = ReadAudit::of("campaign", Some(id.to_owned()), &r);
    Ok((
        CampaignDetail {
            currency,
            model: r.model,
            period: r.range.into(),
            campaign: row,
            ads,
            status_history,
            warnings: notes.warnings(),
            last_synced_at: last_synced(&sync),
        },
        read,
    ))
}

/// `GET /api/crm/marketing/campaigns/{id}/insights`: the daily series.
pub async fn campaign_insights(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: &str,
    q: &StatsQuery,
) -> Result<CampaignInsights, CoreError> {
    let (out, read) = campaign_insights_inner(db, ctx, id, q).await?;
    read.record(db, ctx).await?;
    Ok(out)
}

/// [`campaign_insights`] through the read cache: a repeated view of unchanged data is
/// served from memory (still permission-checked and audited).
pub async fn campaign_insights_cached(
    db: &DatabaseConnection,
    cache: &ReadCache,
    ctx: &TenantCtx,
    id: &str,
    q: &StatsQuery,
) -> Result<Cached<CampaignInsights>, CoreError> {
    let key = format!("campaign_insights|{id:?}|{q:?}");
    cache
        .get_or_compute(db, ctx, key, || campaign_insights_inner(db, ctx, id, q))
        .await
}

async fn campaign_insights_inner(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: &str,
    q: &StatsQuery,
) -> Result<(CampaignInsights, ReadAudit), CoreError> {
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
    if !objs.contains_key(id) && !known_campaign(db, ctx.tenant_id, id).await? {
        return Err(CoreError::NotFound("campaign"));
    }
    let currency = r.cx.tenant.currency.clone();
    let exp = currency_exponent(&currency).unwrap_or(2);
    let mut notes = Notes::new(&currency);
    let by_day = campaign_days(db, ctx.tenant_id, id, r.range, r.model, &mut notes).await?;
    let items = r
        .range
        .iter_days()
        .map(|d| {
            let a = by_day.get(&d).cloned().unwrap_or_default();
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
    let read = ReadAudit::of("campaign_insights", Some(id.to_owned()), &r);
    Ok((
        CampaignInsights {
            currency,
            campaign_id: id.to_owned(),
            period: r.range.into(),
            items,
            warnings: notes.warnings(),
        },
        read,
    ))
}

/// `GET /api/crm/marketing/stats/roi`: funnel and breakdowns.
pub async fn roi(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &StatsQuery,
) -> Result<RoiBreakdown, CoreError> {
    let (out, read) = roi_inner(db, ctx, q).await?;
    read.record(db, ctx).await?;
    Ok(out)
}

/// [`roi`] through the read cache: a repeated view of unchanged data is
/// served from memory (still permission-checked and audited).
pub async fn roi_cached(
    db: &DatabaseConnection,
    cache: &ReadCache,
    ctx: &TenantCtx,
    q: &StatsQuery,
) -> Result<Cached<RoiBreakdown>, CoreError> {
    let key = format!("roi|{q:?}");
    cache
        .get_or_compute(db, ctx, key, || roi_inner(db, ctx, q))
        .await
}

async fn roi_inner(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &StatsQuery,
) -> Result<(RoiBreakdown, ReadAudit), CoreError> {
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
    let mut notes = Notes::new(&currency);
    let cur = totals(db, ctx.tenant_id, r.range, r.model, &mut notes).await?;
    let camp = grouped(
        db,
        ctx.tenant_id,
        Scope::Campaigns,
        r.range,
        r.model,
        &mut Notes::new(&currency),
    )
    .await?;
    let objs = campaign_objects(db, ctx.tenant_id).await?;
    let mut by_campaign: Vec<CampaignStat> = camp
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
    let read = ReadAudit::of("roi", None, &r);
    Ok((
        RoiBreakdown {
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
            warnings: notes.warnings(),
            last_synced_at: last_synced(&sync),
        },
        read,
    ))
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
    fn ranges_split_into_whole_months_and_partial_ends() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let r = |a: &str, b: &str| DateRange {
            since: d(a),
            until: d(b),
        };
        // A year to a mid-month day: 11 whole months, two partial ends.
        assert_eq!(
            split_months(r("2025-11-22", "2026-11-21")),
            MonthSplit {
                months: Some((d("2025-12-01"), d("2026-10-01"))),
                days: vec![r("2025-11-22", "2025-11-30"), r("2026-11-01", "2026-11-21")],
            }
        );
        // Exactly whole months: no daily part.
        assert_eq!(
            split_months(r("2026-01-01", "2026-02-28")),
            MonthSplit {
                months: Some((d("2026-01-01"), d("2026-02-01"))),
                days: vec![],
            }
        );
        // Starting on the first, ending mid-month.
        assert_eq!(
            split_months(r("2026-01-01", "2026-02-10")),
            MonthSplit {
                months: Some((d("2026-01-01"), d("2026-01-01"))),
                days: vec![r("2026-02-01", "2026-02-10")],
            }
        );
        // Inside one month, or across a month end without a whole month.
        for (a, b) in [
            ("2026-03-05", "2026-03-20"),
            ("2026-03-15", "2026-04-14"),
            ("2026-03-01", "2026-03-30"),
            ("2026-03-02", "2026-03-31"),
        ] {
            assert_eq!(
                split_months(r(a, b)),
                MonthSplit {
                    months: None,
                    days: vec![r(a, b)],
                },
                "{a}..{b}"
            );
        }
        // A single whole month.
        assert_eq!(
            split_months(r("2026-03-01", "2026-03-31")).months,
            Some((d("2026-03-01"), d("2026-03-01")))
        );
        // Every day of every split is covered exactly once.
        let start = d("2025-12-25");
        for len in 0..120 {
            for off in 0..40 {
                let since = start + chrono::Duration::days(off);
                let until = since + chrono::Duration::days(len);
                let sp = split_months(DateRange { since, until });
                let mut covered = Vec::new();
                for p in &sp.days {
                    covered.extend(p.iter_days());
                }
                if let Some((f, l)) = sp.months {
                    covered.extend(
                        DateRange {
                            since: f,
                            until: crm_db::rollups::month_end(l),
                        }
                        .iter_days(),
                    );
                }
                covered.sort();
                let want: Vec<NaiveDate> = DateRange { since, until }.iter_days().collect();
                assert_eq!(covered, want, "{since}..{until}");
            }
        }
    }

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
