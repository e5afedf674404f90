//! Marketing API: businesses, ad accounts, campaigns, ad sets, ads, insights.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::client::{GraphRequest, Session};
use crate::error::GraphError;
use crate::money::{MoneyError, meta_offset_amount_to_minor, parse_money};
use crate::webhook::{opt_string_or_number, string_or_number};

/// A business portfolio.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Business {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// An ad account. Money fields stay strings as Meta sends them; use the
/// helpers to convert.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct AdAccount {
    /// `act_<digits>`.
    pub id: String,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub account_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub timezone_name: Option<String>,
    #[serde(default)]
    pub timezone_offset_hours_utc: Option<f64>,
    /// 1 ACTIVE, 2 DISABLED, 3 UNSETTLED, 7 PENDING_RISK_REVIEW, …
    #[serde(default)]
    pub account_status: Option<i64>,
    #[serde(default)]
    pub disable_reason: Option<i64>,
    /// Meta offset units of `currency`.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub amount_spent: Option<String>,
    #[serde(default)]
    pub business: Option<Business>,
    /// Present on client ad accounts.
    #[serde(default)]
    pub permitted_tasks: Option<Vec<String>>,
}

impl AdAccount {
    /// The `account_status` as Meta's name (ACTIVE, DISABLED, …).
    pub fn status_name(&self) -> Option<&'static str> {
        Some(match self.account_status? {
            1 => "ACTIVE",
            2 => "DISABLED",
            3 => "UNSETTLED",
            7 => "PENDING_RISK_REVIEW",
            8 => "PENDING_SETTLEMENT",
            9 => "IN_GRACE_PERIOD",
            100 => "PENDING_CLOSURE",
            101 => "CLOSED",
            201 => "ANY_ACTIVE",
            202 => "ANY_CLOSED",
            _ => return None,
        })
    }

    /// `amount_spent` in ISO minor units.
    pub fn amount_spent_minor(&self) -> Option<Result<i64, MoneyError>> {
        let amount = self.amount_spent.as_deref()?;
        let currency = self.currency.as_deref()?;
        Some(meta_offset_amount_to_minor(amount, currency))
    }
}

const AD_ACCOUNT_FIELDS: &str = "id,account_id,name,currency,timezone_name,timezone_offset_hours_utc,account_status,disable_reason,amount_spent,business{id,name}";

/// A campaign.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Campaign {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// ACTIVE, PAUSED, DELETED, ARCHIVED.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub effective_status: Option<String>,
    #[serde(default)]
    pub objective: Option<String>,
    /// Meta offset units; only when the budget is set on the campaign.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub daily_budget: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub lifetime_budget: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub budget_remaining: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub stop_time: Option<String>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub updated_time: Option<String>,
}

impl Campaign {
    /// The daily budget in ISO minor units of the account's currency.
    pub fn daily_budget_minor(&self, currency: &str) -> Option<Result<i64, MoneyError>> {
        self.daily_budget
            .as_deref()
            .map(|b| meta_offset_amount_to_minor(b, currency))
    }

    pub fn lifetime_budget_minor(&self, currency: &str) -> Option<Result<i64, MoneyError>> {
        self.lifetime_budget
            .as_deref()
            .map(|b| meta_offset_amount_to_minor(b, currency))
    }
}

/// Every campaign `effective_status`: Meta hides DELETED and ARCHIVED
/// objects unless asked, but their past spend still needs a home.
const CAMPAIGN_STATUSES: &str =
    r#"["ACTIVE","PAUSED","DELETED","ARCHIVED","IN_PROCESS","WITH_ISSUES"]"#;
const ADSET_STATUSES: &str =
    r#"["ACTIVE","PAUSED","DELETED","ARCHIVED","IN_PROCESS","WITH_ISSUES","CAMPAIGN_PAUSED"]"#;
const AD_STATUSES: &str = r#"["ACTIVE","PAUSED","DELETED","ARCHIVED","IN_PROCESS","WITH_ISSUES","CAMPAIGN_PAUSED","ADSET_PAUSED","PENDING_REVIEW","DISAPPROVED","PREAPPROVED","PENDING_BILLING_INFO"]"#;

const CAMPAIGN_FIELDS: &str = "id,name,status,effective_status,objective,daily_budget,lifetime_budget,budget_remaining,start_time,stop_time,created_time,updated_time";

/// An ad set.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct AdSet {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub effective_status: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub daily_budget: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub lifetime_budget: Option<String>,
    #[serde(default)]
    pub optimization_goal: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub updated_time: Option<String>,
}

const ADSET_FIELDS: &str = "id,name,campaign_id,status,effective_status,daily_budget,lifetime_budget,optimization_goal,start_time,end_time,created_time,updated_time";

/// An ad, with its creative's title and body.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Ad {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub adset_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub effective_status: Option<String>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub updated_time: Option<String>,
    #[serde(default)]
    pub creative: Option<AdCreative>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct AdCreative {
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

const AD_FIELDS: &str = "id,name,adset_id,campaign_id,status,effective_status,created_time,updated_time,creative{id,name,title,body}";

/// Normalises an ad account id to `act_<digits>`.
pub fn ad_account_path(id: &str) -> Result<String, GraphError> {
    let digits = id.trim().strip_prefix("act_").unwrap_or(id.trim());
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GraphError::InvalidInput(format!(
            "ad account id must be act_<digits> or <digits>, got {id:?}"
        )));
    }
    Ok(format!("act_{digits}"))
}

/// Validates a numeric Graph object id (page, form, business, WABA, …).
pub(crate) fn object_id(kind: &str, id: &str) -> Result<String, GraphError> {
    let id = id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(GraphError::InvalidInput(format!(
            "{kind} id must be alphanumeric, got {id:?}"
        )));
    }
    Ok(id.to_string())
}

// --------------------------------------------------------------------------
// Insights
// --------------------------------------------------------------------------

/// `level` of an insights query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InsightsLevel {
    Account,
    Campaign,
    Adset,
    Ad,
}

impl InsightsLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Campaign => "campaign",
            Self::Adset => "adset",
            Self::Ad => "ad",
        }
    }
}

/// The reporting period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsightsPeriod {
    /// `date_preset`, e.g. `last_30d`, `maximum`.
    Preset(String),
    /// Inclusive dates in the ad account's time zone.
    Range { since: NaiveDate, until: NaiveDate },
}

/// `time_increment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeIncrement {
    /// N days per row (1 = daily).
    Days(u32),
    Monthly,
    AllDays,
}

/// One `filtering` clause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsightsFilter {
    pub field: String,
    /// EQUAL, IN, GREATER_THAN, …
    pub operator: String,
    pub value: serde_json::Value,
}

/// Parameters of an insights query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InsightsQuery {
    pub level: Option<InsightsLevel>,
    pub period: Option<InsightsPeriod>,
    pub time_increment: Option<TimeIncrement>,
    /// Extra fields beyond the ones always requested (kept raw in `extra`).
    pub fields: Vec<String>,
    pub filtering: Vec<InsightsFilter>,
    pub breakdowns: Vec<String>,
    pub action_attribution_windows: Vec<String>,
    /// Currency used when a row lacks `account_currency`.
    pub fallback_currency: Option<String>,
}

/// Fields every insights query asks for.
pub const BASE_INSIGHTS_FIELDS: &[&str] = &[
    "account_id",
    "account_currency",
    "campaign_id",
    "campaign_name",
    "adset_id",
    "adset_name",
    "ad_id",
    "ad_name",
    "date_start",
    "date_stop",
    "spend",
    "impressions",
    "clicks",
    "reach",
    "inline_link_clicks",
    "actions",
    "cost_per_action_type",
];

/// The aggregate lead action. Never add its components to it.
pub const LEAD_ACTION: &str = "lead";
/// Click-to-WhatsApp / Messenger conversations started (7-day window).
pub const MESSAGING_STARTED_ACTION: &str = "onsite_conversion.messaging_conversation_started_7d";

impl InsightsQuery {
    /// Daily rows for an inclusive date range at a level.
    pub fn daily(level: InsightsLevel, since: NaiveDate, until: NaiveDate) -> Self {
        Self {
            level: Some(level),
            period: Some(InsightsPeriod::Range { since, until }),
            time_increment: Some(TimeIncrement::Days(1)),
            ..Self::default()
        }
    }

    pub(crate) fn params(&self) -> Result<Vec<(String, String)>, GraphError> {
        let mut p: Vec<(String, String)> = Vec::new();
        let mut fields: Vec<String> = BASE_INSIGHTS_FIELDS.iter().map(|s| s.to_string()).collect();
        for f in &self.fields {
            let f = f.trim();
            if f.is_empty()
                || !f
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            {
                return Err(GraphError::InvalidInput(format!(
                    "invalid insights field {f:?}"
                )));
            }
            if !fields.iter().any(|x| x == f) {
                fields.push(f.to_string());
            }
        }
        p.push(("fields".into(), fields.join(",")));
        if let Some(level) = self.level {
            p.push(("level".into(), level.as_str().into()));
        }
        match &self.period {
            Some(InsightsPeriod::Preset(preset)) => {
                if preset.is_empty()
                    || !preset
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(GraphError::InvalidInput(format!(
                        "invalid date_preset {preset:?}"
                    )));
                }
                p.push(("date_preset".into(), preset.clone()));
            }
            Some(InsightsPeriod::Range { since, until }) => {
                if since > until {
                    return Err(GraphError::InvalidInput(format!(
                        "time_range since {since} is after until {until}"
                    )));
                }
                p.push((
                    "time_range".into(),
                    serde_json::json!({"since": since.to_string(), "until": until.to_string()})
                        .to_string(),
                ));
            }
            None => {}
        }
        match self.time_increment {
            Some(TimeIncrement::Days(0)) => {
                return Err(GraphError::InvalidInput(
                    "time_increment must be at least 1 day".into(),
                ));
            }
            Some(TimeIncrement::Days(n)) => p.push(("time_increment".into(), n.to_string())),
            Some(TimeIncrement::Monthly) => p.push(("time_increment".into(), "monthly".into())),
            Some(TimeIncrement::AllDays) => p.push(("time_increment".into(), "all_days".into())),
            None => {}
        }
        if !self.filtering.is_empty() {
            p.push((
                "filtering".into(),
                serde_json::to_string(&self.filtering)
                    .map_err(|e| GraphError::InvalidInput(e.to_string()))?,
            ));
        }
        if !self.breakdowns.is_empty() {
            p.push(("breakdowns".into(), self.breakdowns.join(",")));
        }
        if !self.action_attribution_windows.is_empty() {
            p.push((
                "action_attribution_windows".into(),
                serde_json::to_string(&self.action_attribution_windows)
                    .map_err(|e| GraphError::InvalidInput(e.to_string()))?,
            ));
        }
        Ok(p)
    }
}

/// One `actions` / `cost_per_action_type` entry, values as Meta's strings.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct ActionStat {
    pub action_type: String,
    #[serde(default, deserialize_with = "string_or_number")]
    pub value: String,
    /// Per-window values such as `7d_click`, `1d_view` when requested.
    #[serde(flatten)]
    pub windows: serde_json::Map<String, serde_json::Value>,
}

/// An insights row exactly as Meta sends it (metrics are strings).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct RawInsightsRow {
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub account_id: Option<String>,
    #[serde(default)]
    pub account_currency: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub campaign_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub adset_id: Option<String>,
    #[serde(default)]
    pub adset_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub ad_id: Option<String>,
    #[serde(default)]
    pub ad_name: Option<String>,
    pub date_start: String,
    pub date_stop: String,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub spend: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub impressions: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub clicks: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub reach: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub inline_link_clicks: Option<String>,
    #[serde(default)]
    pub actions: Vec<ActionStat>,
    #[serde(default)]
    pub cost_per_action_type: Vec<ActionStat>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A typed insights row: money in minor units, counts as integers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsightsRow {
    pub account_id: Option<String>,
    pub currency: String,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub adset_id: Option<String>,
    pub adset_name: Option<String>,
    pub ad_id: Option<String>,
    pub ad_name: Option<String>,
    pub date_start: NaiveDate,
    pub date_stop: NaiveDate,
    /// Spend in ISO minor units of `currency`.
    pub spend_minor: i64,
    pub impressions: i64,
    pub clicks: i64,
    /// Omitted by Meta for some old breakdown queries.
    pub reach: Option<i64>,
    pub inline_link_clicks: Option<i64>,
    /// Meta's `lead` aggregate (never the sum of its components).
    pub leads: i64,
    /// `onsite_conversion.messaging_conversation_started_7d`.
    pub messaging_conversations_started: i64,
    pub actions: Vec<ActionStat>,
    pub cost_per_action_type: Vec<ActionStat>,
    /// Other requested fields, raw.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn count(field: &str, v: Option<&str>) -> Result<Option<i64>, GraphError> {
    let Some(s) = v else { return Ok(None) };
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Some(n));
    }
    // Some counts arrive as "12.0"; accept only whole numbers.
    match s.split_once('.') {
        Some((int, frac)) if frac.bytes().all(|b| b == b'0') => int
            .parse::<i64>()
            .map(Some)
            .map_err(|_| bad_metric(field, s)),
        _ => Err(bad_metric(field, s)),
    }
}

fn bad_metric(field: &str, value: &str) -> GraphError {
    GraphError::UnexpectedResponse {
        status: 200,
        message: format!("insights field {field} is not a whole number: {value:?}"),
    }
}

impl RawInsightsRow {
    /// Value of one action type (0 when absent).
    pub fn action_count(&self, action_type: &str) -> Result<i64, GraphError> {
        Ok(self
            .actions
            .iter()
            .find(|a| a.action_type == action_type)
            .map(|a| count(action_type, Some(&a.value)))
            .transpose()?
            .flatten()
            .unwrap_or(0))
    }

    /// Converts to a typed row.
    pub fn into_typed(self, fallback_currency: Option<&str>) -> Result<InsightsRow, GraphError> {
        let currency = self
            .account_currency
            .clone()
            .or_else(|| fallback_currency.map(str::to_string))
            .ok_or_else(|| GraphError::UnexpectedResponse {
                status: 200,
                message: "insights row has no account_currency".into(),
            })?;
        let date = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| GraphError::UnexpectedResponse {
                status: 200,
                message: format!("insights date {s:?}: {e}"),
            })
        };
        let spend_minor = match self.spend.as_deref() {
            None | Some("") => 0,
            Some(s) => parse_money(s, &currency).map_err(|e| GraphError::UnexpectedResponse {
                status: 200,
                message: format!("insights spend: {e}"),
            })?,
        };
        let leads = self.action_count(LEAD_ACTION)?;
        let messaging = self.action_count(MESSAGING_STARTED_ACTION)?;
        Ok(InsightsRow {
            date_start: date(&self.date_start)?,
            date_stop: date(&self.date_stop)?,
            spend_minor,
            impressions: count("impressions", self.impressions.as_deref())?.unwrap_or(0),
            clicks: count("clicks", self.clicks.as_deref())?.unwrap_or(0),
            reach: count("reach", self.reach.as_deref())?,
            inline_link_clicks: count("inline_link_clicks", self.inline_link_clicks.as_deref())?,
            leads,
            messaging_conversations_started: messaging,
            account_id: self.account_id,
            currency,
            campaign_id: self.campaign_id,
            campaign_name: self.campaign_name,
            adset_id: self.adset_id,
            adset_name: self.adset_name,
            ad_id: self.ad_id,
            ad_name: self.ad_name,
            actions: self.actions,
            cost_per_action_type: self.cost_per_action_type,
            extra: self.extra,
        })
    }
}

/// State of an async report run.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct ReportRun {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub account_id: Option<String>,
    /// "Job Not Started", "Job Started", "Job Running", "Job Completed",
    /// "Job Failed", "Job Skipped".
    #[serde(default)]
    pub async_status: String,
    #[serde(default)]
    pub async_percent_completion: Option<i64>,
    #[serde(default)]
    pub date_start: Option<String>,
    #[serde(default)]
    pub date_stop: Option<String>,
    #[serde(default)]
    pub is_running: Option<bool>,
    #[serde(default)]
    pub time_ref: Option<i64>,
    #[serde(default)]
    pub time_completed: Option<i64>,
    /// Set by Meta on failed runs (not requested explicitly).
    #[serde(default)]
    pub error_code: Option<i64>,
}

/// Coarse state of a [`ReportRun`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportState {
    Pending,
    Completed,
    Failed,
}

impl ReportRun {
    pub fn state(&self) -> ReportState {
        match self.async_status.as_str() {
            "Job Completed" => ReportState::Completed,
            "Job Failed" | "Job Skipped" => ReportState::Failed,
            _ => ReportState::Pending,
        }
    }
}

#[derive(Deserialize)]
struct ReportRunStarted {
    #[serde(deserialize_with = "string_or_number")]
    report_run_id: String,
}

impl Session {
    /// `GET /me/businesses`, every page.
    pub async fn businesses(&self) -> Result<Vec<Business>, GraphError> {
        self.all(GraphRequest::get("me/businesses").query("fields", "id,name"))
            .await
    }

    /// `GET /{business}/owned_ad_accounts`, every page.
    pub async fn owned_ad_accounts(&self, business_id: &str) -> Result<Vec<AdAccount>, GraphError> {
        let b = object_id("business", business_id)?;
        self.all(
            GraphRequest::get(format!("{b}/owned_ad_accounts")).query("fields", AD_ACCOUNT_FIELDS),
        )
        .await
    }

    /// `GET /{business}/client_ad_accounts`, every page.
    pub async fn client_ad_accounts(
        &self,
        business_id: &str,
    ) -> Result<Vec<AdAccount>, GraphError> {
        let b = object_id("business", business_id)?;
        self.all(
            GraphRequest::get(format!("{b}/client_ad_accounts"))
                .query("fields", format!("{AD_ACCOUNT_FIELDS},permitted_tasks")),
        )
        .await
    }

    /// `GET /me/adaccounts`, every page.
    pub async fn my_ad_accounts(&self) -> Result<Vec<AdAccount>, GraphError> {
        self.all(GraphRequest::get("me/adaccounts").query("fields", AD_ACCOUNT_FIELDS))
            .await
    }

    /// `GET /act_{id}`.
    pub async fn ad_account(&self, id: &str) -> Result<AdAccount, GraphError> {
        let act = ad_account_path(id)?;
        self.call(&GraphRequest::get(act).query("fields", AD_ACCOUNT_FIELDS))
            .await
    }

    /// `GET /act_{id}/campaigns`, every page, every status (archived and
    /// deleted included).
    pub async fn campaigns(&self, ad_account: &str) -> Result<Vec<Campaign>, GraphError> {
        let act = ad_account_path(ad_account)?;
        self.all(
            GraphRequest::get(format!("{act}/campaigns"))
                .query("fields", CAMPAIGN_FIELDS)
                .query("effective_status", CAMPAIGN_STATUSES),
        )
        .await
    }

    /// `GET /act_{id}/adsets`, every page, every status.
    pub async fn adsets(&self, ad_account: &str) -> Result<Vec<AdSet>, GraphError> {
        let act = ad_account_path(ad_account)?;
        self.all(
            GraphRequest::get(format!("{act}/adsets"))
                .query("fields", ADSET_FIELDS)
                .query("effective_status", ADSET_STATUSES),
        )
        .await
    }

    /// `GET /act_{id}/ads` with creative title and body, every page, every status.
    pub async fn ads(&self, ad_account: &str) -> Result<Vec<Ad>, GraphError> {
        let act = ad_account_path(ad_account)?;
        self.all(
            GraphRequest::get(format!("{act}/ads"))
                .query("fields", AD_FIELDS)
                .query("effective_status", AD_STATUSES),
        )
        .await
    }

    /// Raw insights rows of an object (`act_…`, campaign, ad set or ad id), every page.
    pub async fn insights_raw(
        &self,
        object: &str,
        query: &InsightsQuery,
    ) -> Result<Vec<RawInsightsRow>, GraphError> {
        let obj = insights_object(object)?;
        let mut req = GraphRequest::get(format!("{obj}/insights"));
        for (k, v) in query.params()? {
            req = req.query(k, v);
        }
        self.all(req).await
    }

    /// Typed insights rows of an object, every page.
    pub async fn insights(
        &self,
        object: &str,
        query: &InsightsQuery,
    ) -> Result<Vec<InsightsRow>, GraphError> {
        self.insights_raw(object, query)
            .await?
            .into_iter()
            .map(|r| r.into_typed(query.fallback_currency.as_deref()))
            .collect()
    }

    /// Starts an async insights job (`POST /{object}/insights`); returns the report run id.
    pub async fn start_insights_report(
        &self,
        object: &str,
        query: &InsightsQuery,
    ) -> Result<String, GraphError> {
        let obj = insights_object(object)?;
        let mut req = GraphRequest::post(format!("{obj}/insights"));
        for (k, v) in query.params()? {
            req = req.form_field(k, v);
        }
        let started: ReportRunStarted = self.call(&req).await?;
        Ok(started.report_run_id)
    }

    /// Polls an async report run.
    pub async fn report_status(&self, report_run_id: &str) -> Result<ReportRun, GraphError> {
        let id = object_id("report run", report_run_id)?;
        self.call(&GraphRequest::get(id).query(
            "fields",
            "id,account_id,async_status,async_percent_completion,date_start,date_stop,time_ref,time_completed,is_running",
        ))
        .await
    }

    /// Rows of a completed report run (`GET /{id}/insights`), every page.
    pub async fn report_results(
        &self,
        report_run_id: &str,
        fallback_currency: Option<&str>,
    ) -> Result<Vec<InsightsRow>, GraphError> {
        let id = object_id("report run", report_run_id)?;
        let raw: Vec<RawInsightsRow> = self
            .all(GraphRequest::get(format!("{id}/insights")))
            .await?;
        raw.into_iter()
            .map(|r| r.into_typed(fallback_currency))
            .collect()
    }
}

fn insights_object(object: &str) -> Result<String, GraphError> {
    if object.trim().starts_with("act_") {
        ad_account_path(object)
    } else {
        object_id("insights object", object)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ad_account_ids() {
        assert_eq!(ad_account_path("123").unwrap(), "act_123");
        assert_eq!(ad_account_path("act_123").unwrap(), "act_123");
        assert!(ad_account_path("act_").is_err());
        assert!(ad_account_path("act_12/../me").is_err());
        assert!(object_id("page", "12/feed").is_err());
    }

    #[test]
    fn typed_row_from_meta_strings() {
        let raw: RawInsightsRow = serde_json::from_str(
            r#"{"account_id":"111","account_currency":"ARS","campaign_id":"222","campaign_name":"Promo","spend":"1234.56","impressions":"10000","clicks":"250","reach":"8000","actions":[{"action_type":"lead","value":"7"},{"action_type":"onsite_conversion.lead_grouped","value":"5"},{"action_type":"offsite_conversion.fb_pixel_lead","value":"2"},{"action_type":"onsite_conversion.messaging_conversation_started_7d","value":"11"}],"date_start":"2026-01-01","date_stop":"2026-01-01","ctr":"2.5"}"#,
        )
        .unwrap();
        let row = raw.into_typed(None).unwrap();
        assert_eq!(row.spend_minor, 123_456);
        assert_eq!(row.impressions, 10_000);
        assert_eq!(row.clicks, 250);
        assert_eq!(row.reach, Some(8000));
        assert_eq!(row.leads, 7, "the aggregate, not 7+5+2");
        assert_eq!(row.messaging_conversations_started, 11);
        assert_eq!(row.date_start, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert_eq!(row.extra.get("ctr").and_then(|v| v.as_str()), Some("2.5"));
    }

    #[test]
    fn zero_decimal_currency_and_missing_metrics() {
        let raw: RawInsightsRow = serde_json::from_str(
            r#"{"account_currency":"JPY","spend":"5000","date_start":"2026-02-01","date_stop":"2026-02-28"}"#,
        )
        .unwrap();
        let row = raw.into_typed(None).unwrap();
        assert_eq!(row.spend_minor, 5000);
        assert_eq!(row.impressions, 0);
        assert_eq!(row.leads, 0);
        assert_eq!(row.reach, None);
    }

    #[test]
    fn currency_is_required() {
        let raw: RawInsightsRow = serde_json::from_str(
            r#"{"spend":"1.00","date_start":"2026-02-01","date_stop":"2026-02-01"}"#,
        )
        .unwrap();
        assert!(raw.clone().into_typed(None).is_err());
        assert_eq!(raw.into_typed(Some("USD")).unwrap().spend_minor, 100);
    }

    #[test]
    fn bad_metrics_are_errors_not_zero() {
        let raw: RawInsightsRow = serde_json::from_str(
            r#"{"account_currency":"USD","impressions":"12.5","date_start":"2026-02-01","date_stop":"2026-02-01"}"#,
        )
        .unwrap();
        assert!(raw.into_typed(None).is_err());
    }

    #[test]
    fn query_params() {
        let q = InsightsQuery {
            filtering: vec![InsightsFilter {
                field: "campaign.effective_status".into(),
                operator: "IN".into(),
                value: serde_json::json!(["ACTIVE"]),
            }],
            fields: vec!["ctr".into(), "spend".into()],
            ..InsightsQuery::daily(
                InsightsLevel::Campaign,
                NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            )
        };
        let p: std::collections::HashMap<_, _> = q.params().unwrap().into_iter().collect();
        assert_eq!(p["level"], "campaign");
        assert_eq!(p["time_increment"], "1");
        assert_eq!(
            p["time_range"],
            r#"{"since":"2026-01-01","until":"2026-01-31"}"#
        );
        assert!(p["fields"].ends_with(",ctr"));
        assert_eq!(p["fields"].matches("spend").count(), 1);
        assert!(p["filtering"].contains("campaign.effective_status"));

        let bad = InsightsQuery::daily(
            InsightsLevel::Ad,
            NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        );
        assert!(bad.params().is_err());
    }

    #[test]
    fn report_states() {
        let mut r = ReportRun {
            async_status: "Job Running".into(),
            ..Default::default()
        };
        assert_eq!(r.state(), ReportState::Pending);
        r.async_status = "Job Completed".into();
        assert_eq!(r.state(), ReportState::Completed);
        r.async_status = "Job Failed".into();
        assert_eq!(r.state(), ReportState::Failed);
    }

    #[test]
    fn account_helpers() {
        let a: AdAccount = serde_json::from_str(
            r#"{"id":"act_1","account_id":"1","currency":"COP","account_status":1,"amount_spent":"25000"}"#,
        )
        .unwrap();
        assert_eq!(a.status_name(), Some("ACTIVE"));
        assert_eq!(a.amount_spent_minor().unwrap().unwrap(), 2_500_000);
    }
}
