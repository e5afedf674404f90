//! Leads: contact data, first-touch attribution (never overwritten), the touch
//! history, duplicate detection, consent, tags, notes, owner assignment and
//! the filtered, cursor-paginated list (also used by the CSV export).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use crm_db::audit::{self, Actor};
use crm_db::entity::{lead, lead_tag, lead_touch, meta_ad_object, tenant, user};
use crm_db::outbox;
use sea_orm::sea_query::{Expr, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::page::{self, Cursor, Page};
use super::timeline::{self, kind};
use super::{phone, pipeline};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx, validate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LeadSource {
    MetaAds,
    Organic,
    Website,
    Referral,
    Import,
    Other,
}

impl LeadSource {
    pub const ALL: [LeadSource; 6] = [
        Self::MetaAds,
        Self::Organic,
        Self::Website,
        Self::Referral,
        Self::Import,
        Self::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MetaAds => "META_ADS",
            Self::Organic => "ORGANIC",
            Self::Website => "WEBSITE",
            Self::Referral => "REFERRAL",
            Self::Import => "IMPORT",
            Self::Other => "OTHER",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        let up = s.trim().to_uppercase();
        Self::ALL.into_iter().find(|v| v.as_str() == up)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    LeadForm,
    ClickToWhatsapp,
    Web,
    Manual,
    Import,
    Api,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Self::LeadForm,
        Self::ClickToWhatsapp,
        Self::Web,
        Self::Manual,
        Self::Import,
        Self::Api,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeadForm => "lead_form",
            Self::ClickToWhatsapp => "click_to_whatsapp",
            Self::Web => "web",
            Self::Manual => "manual",
            Self::Import => "import",
            Self::Api => "api",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        let low = s.trim().to_lowercase();
        Self::ALL.into_iter().find(|v| v.as_str() == low)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    New,
    Contacted,
    Qualified,
    Unqualified,
    Customer,
    Lost,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 6] = [
        Self::New,
        Self::Contacted,
        Self::Qualified,
        Self::Unqualified,
        Self::Customer,
        Self::Lost,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Contacted => "contacted",
            Self::Qualified => "qualified",
            Self::Unqualified => "unqualified",
            Self::Customer => "customer",
            Self::Lost => "lost",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        let low = s.trim().to_lowercase();
        Self::ALL.into_iter().find(|v| v.as_str() == low)
    }
}

/// What `POST /api/leads` does when the contact matches an existing lead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// 409 `duplicate_lead` with `details.existing_id` (the default).
    #[default]
    Reject,
    /// Fill the existing lead's empty contact fields, add tags, and append the
    /// attribution as a later touch (the first touch is kept).
    Update,
}

/// One attribution touch: where a contact came from this time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TouchInput {
    /// Inferred when absent: META_ADS for a leadgen id, a CTWA click id or a
    /// Meta UTM source; otherwise OTHER.
    pub lead_source: Option<LeadSource>,
    /// Inferred when absent: lead_form, click_to_whatsapp, web, else api.
    pub channel: Option<Channel>,
    pub meta_campaign_id: Option<String>,
    pub meta_adset_id: Option<String>,
    pub meta_ad_id: Option<String>,
    pub meta_ad_headline: Option<String>,
    pub meta_ad_body: Option<String>,
    /// The ad's or post's link (CTWA `source_url`), when known.
    pub meta_source_url: Option<String>,
    /// Lead Ads leadgen id.
    pub meta_lead_id: Option<String>,
    pub meta_form_id: Option<String>,
    pub ctwa_clid: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub utm_term: Option<String>,
    pub fbclid: Option<String>,
    /// When the touch happened (default: now).
    pub occurred_at: Option<DateTime<Utc>>,
}

const META_UTM_SOURCES: [&str; 5] = ["facebook", "fb", "instagram", "ig", "meta"];

fn clean(v: &Option<String>, max: usize) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(max).collect())
}

impl TouchInput {
    fn cleaned(&self) -> TouchInput {
        TouchInput {
            lead_source: self.lead_source,
            channel: self.channel,
            meta_campaign_id: clean(&self.meta_campaign_id, 64),
            meta_adset_id: clean(&self.meta_adset_id, 64),
            meta_ad_id: clean(&self.meta_ad_id, 64),
            meta_ad_headline: clean(&self.meta_ad_headline, 1000),
            meta_ad_body: clean(&self.meta_ad_body, 4000),
            meta_source_url: clean(&self.meta_source_url, 2000),
            meta_lead_id: clean(&self.meta_lead_id, 64),
            meta_form_id: clean(&self.meta_form_id, 64),
            ctwa_clid: clean(&self.ctwa_clid, 512),
            utm_source: clean(&self.utm_source, 200),
            utm_medium: clean(&self.utm_medium, 200),
            utm_campaign: clean(&self.utm_campaign, 200),
            utm_content: clean(&self.utm_content, 200),
            utm_term: clean(&self.utm_term, 200),
            fbclid: clean(&self.fbclid, 512),
            occurred_at: self.occurred_at,
        }
    }

    fn has_any(&self) -> bool {
        self.lead_source.is_some()
            || self.channel.is_some()
            || self.meta_campaign_id.is_some()
            || self.meta_adset_id.is_some()
            || self.meta_ad_id.is_some()
            || self.meta_lead_id.is_some()
            || self.ctwa_clid.is_some()
            || self.utm_source.is_some()
            || self.fbclid.is_some()
    }

    fn meta_utm(&self) -> bool {
        self.utm_source
            .as_deref()
            .is_some_and(|s| META_UTM_SOURCES.contains(&s.to_lowercase().as_str()))
    }

    /// Source and channel, given or inferred from the ids present.
    pub fn resolved(&self, default: (LeadSource, Channel)) -> (LeadSource, Channel) {
        let inferred = if self.meta_lead_id.is_some() || self.meta_form_id.is_some() {
            Some((LeadSource::MetaAds, Channel::LeadForm))
        } else if self.ctwa_clid.is_some() {
            Some((LeadSource::MetaAds, Channel::ClickToWhatsapp))
        } else if self.meta_utm() || self.fbclid.is_some() {
            Some((LeadSource::MetaAds, Channel::Web))
        } else if self.utm_source.is_some() {
            Some((LeadSource::Website, Channel::Web))
        } else {
            None
        };
        let (src, ch) = inferred.unwrap_or(default);
        (self.lead_source.unwrap_or(src), self.channel.unwrap_or(ch))
    }

    fn details(&self) -> Value {
        json!({
            "meta_ad_headline": self.meta_ad_headline,
            "meta_ad_body": self.meta_ad_body,
            "meta_source_url": self.meta_source_url,
            "utm_source": self.utm_source,
            "utm_medium": self.utm_medium,
            "utm_campaign": self.utm_campaign,
            "utm_content": self.utm_content,
            "utm_term": self.utm_term,
            "fbclid": self.fbclid,
        })
    }
}

/// Input of `POST /api/leads`. A lead needs a name or at least one contact id
/// (phone, email, wa_id or bsuid); a contact may have no phone at all.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewLead {
    pub name: Option<String>,
    /// Any common format; stored as E.164 using the tenant's country as default.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// WhatsApp id (digits with country code).
    #[schema(pattern = r"^\s*\+?[0-9]{6,20}\s*$")]
    pub wa_id: Option<String>,
    /// WhatsApp business-scoped user id (`CC.<digits>`).
    pub bsuid: Option<String>,
    pub status: Option<LeadStatus>,
    /// Defaults to the caller for sellers; sellers cannot assign others.
    pub owner_id: Option<Uuid>,
    #[serde(default)]
    #[schema(max_items = 30)]
    pub tags: Vec<String>,
    /// IANA time zone; defaults to the tenant's.
    pub timezone: Option<String>,
    /// Ids of this contact in other systems, e.g. `{"hubspot": "123"}`.
    #[schema(value_type = Option<Object>)]
    pub external_ids: Option<Value>,
    /// First-touch attribution. Absent: source OTHER, channel manual (session)
    /// or api (token).
    pub attribution: Option<TouchInput>,
    /// Marketing consent given at creation (method, e.g. `web_form`).
    pub opt_in_method: Option<String>,
    pub opt_in_at: Option<DateTime<Utc>>,
}

/// Partial update of a lead. Attribution cannot be edited (first touch is
/// permanent; add touches instead). An empty string clears phone, email,
/// wa_id or bsuid.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct LeadPatch {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub status: Option<LeadStatus>,
    pub owner_id: Option<Uuid>,
    pub tags: Option<Vec<String>>,
    pub timezone: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub external_ids: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentAction {
    OptIn,
    OptOut,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ConsentInput {
    pub action: ConsentAction,
    /// How it was given or withdrawn, e.g. `web_form`, `whatsapp_stop`, `phone_call`.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub method: String,
    /// Default: now.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Consent {
    /// `opted_in`, `opted_out` (an opt-out later than any opt-in wins) or `unknown`.
    pub state: String,
    pub opt_in_at: Option<DateTime<Utc>>,
    pub opt_in_method: Option<String>,
    pub opt_out_at: Option<DateTime<Utc>>,
    pub opt_out_method: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadView {
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub status: LeadStatus,
    pub owner_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub lead_source: LeadSource,
    pub channel: Channel,
    pub meta_campaign_id: Option<String>,
    pub meta_adset_id: Option<String>,
    pub meta_ad_id: Option<String>,
    pub meta_ad_headline: Option<String>,
    pub meta_ad_body: Option<String>,
    pub meta_source_url: Option<String>,
    pub meta_lead_id: Option<String>,
    pub meta_form_id: Option<String>,
    pub ctwa_clid: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub utm_term: Option<String>,
    pub fbclid: Option<String>,
    #[schema(value_type = Object)]
    pub external_ids: Value,
    pub consent: Consent,
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// End of the WhatsApp 24-hour customer-service window (last inbound + 24 h),
    /// null when the lead never wrote.
    pub whatsapp_window_until: Option<DateTime<Utc>>,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn consent_of(m: &lead::Model) -> Consent {
    let state = match (m.opt_in_at, m.opt_out_at) {
        (_, Some(out)) if m.opt_in_at.is_none_or(|i| out >= i) => "opted_out",
        (Some(_), _) => "opted_in",
        _ => "unknown",
    };
    Consent {
        state: state.to_owned(),
        opt_in_at: m.opt_in_at,
        opt_in_method: m.opt_in_method.clone(),
        opt_out_at: m.opt_out_at,
        opt_out_method: m.opt_out_method.clone(),
    }
}

impl From<lead::Model> for LeadView {
    fn from(m: lead::Model) -> Self {
        let consent = consent_of(&m);
        Self {
            consent,
            id: m.id,
            name: m.name,
            phone: m.phone,
            email: m.email,
            wa_id: m.wa_id,
            bsuid: m.bsuid,
            status: LeadStatus::parse(&m.status).unwrap_or(LeadStatus::New),
            owner_id: m.owner_id,
            tags: serde_json::from_value(m.tags).unwrap_or_default(),
            lead_source: LeadSource::parse(&m.lead_source).unwrap_or(LeadSource::Other),
            channel: Channel::parse(&m.channel).unwrap_or(Channel::Api),
            meta_campaign_id: m.meta_campaign_id,
            meta_adset_id: m.meta_adset_id,
            meta_ad_id: m.meta_ad_id,
            meta_ad_headline: m.meta_ad_headline,
            meta_ad_body: m.meta_ad_body,
            meta_source_url: m.meta_source_url,
            meta_lead_id: m.meta_lead_id,
            meta_form_id: m.meta_form_id,
            ctwa_clid: m.ctwa_clid,
            utm_source: m.utm_source,
            utm_medium: m.utm_medium,
            utm_campaign: m.utm_campaign,
            utm_content: m.utm_content,
            utm_term: m.utm_term,
            fbclid: m.fbclid,
            external_ids: m.external_ids,
            whatsapp_window_until: m.last_inbound_at.map(|t| t + chrono::Duration::hours(24)),
            last_inbound_at: m.last_inbound_at,
            timezone: m.timezone,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The lead's first-touch attribution as a JSON object (copied into sale
/// snapshots and event payloads).
pub fn attribution_json(m: &lead::Model) -> Value {
    json!({
        "lead_source": m.lead_source,
        "channel": m.channel,
        "meta_campaign_id": m.meta_campaign_id,
        "meta_adset_id": m.meta_adset_id,
        "meta_ad_id": m.meta_ad_id,
        "meta_ad_headline": m.meta_ad_headline,
        "meta_ad_body": m.meta_ad_body,
        "meta_source_url": m.meta_source_url,
        "meta_lead_id": m.meta_lead_id,
        "meta_form_id": m.meta_form_id,
        "ctwa_clid": m.ctwa_clid,
        "utm_source": m.utm_source,
        "utm_medium": m.utm_medium,
        "utm_campaign": m.utm_campaign,
        "utm_content": m.utm_content,
        "utm_term": m.utm_term,
        "fbclid": m.fbclid,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TouchView {
    pub id: Uuid,
    pub is_first: bool,
    pub lead_source: LeadSource,
    pub channel: Channel,
    pub meta_campaign_id: Option<String>,
    pub meta_adset_id: Option<String>,
    pub meta_ad_id: Option<String>,
    pub meta_lead_id: Option<String>,
    pub meta_form_id: Option<String>,
    pub ctwa_clid: Option<String>,
    /// Headline, body, source URL, UTM fields and fbclid of this touch.
    #[schema(value_type = Object)]
    pub details: Value,
    pub occurred_at: DateTime<Utc>,
}

impl From<lead_touch::Model> for TouchView {
    fn from(m: lead_touch::Model) -> Self {
        Self {
            id: m.id,
            is_first: m.is_first,
            lead_source: LeadSource::parse(&m.lead_source).unwrap_or(LeadSource::Other),
            channel: Channel::parse(&m.channel).unwrap_or(Channel::Api),
            meta_campaign_id: m.meta_campaign_id,
            meta_adset_id: m.meta_adset_id,
            meta_ad_id: m.meta_ad_id,
            meta_lead_id: m.meta_lead_id,
            meta_form_id: m.meta_form_id,
            ctwa_clid: m.ctwa_clid,
            details: m.details,
            occurred_at: m.occurred_at,
        }
    }
}

/// `GET /api/leads/{id}`: the lead with its touch history and opportunities.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadDetail {
    pub lead: LeadView,
    pub owner_name: Option<String>,
    /// Every attribution touch, oldest first (the first is the lead's attribution).
    pub touches: Vec<TouchView>,
    pub opportunities: Vec<pipeline::OpportunityView>,
    /// Names of the lead's campaign, ad set and ad from the synced ad structure
    /// (null until the sync has seen them).
    pub ad_names: AdNames,
}

/// Names of the Meta objects a lead is attributed to, as last synced.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AdNames {
    pub campaign: Option<String>,
    pub adset: Option<String>,
    pub ad: Option<String>,
}

async fn ad_names<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    l: &lead::Model,
) -> Result<AdNames, CoreError> {
    let ids: Vec<&str> = [&l.meta_campaign_id, &l.meta_adset_id, &l.meta_ad_id]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .collect();
    if ids.is_empty() {
        return Ok(AdNames::default());
    }
    let objects = meta_ad_object::Entity::find()
        .filter(meta_ad_object::Column::TenantId.eq(tenant_id))
        .filter(meta_ad_object::Column::ExternalId.is_in(ids))
        .all(conn)
        .await?;
    let name_of = |level: &str, id: &Option<String>| {
        id.as_deref().and_then(|id| {
            objects
                .iter()
                .find(|o| o.level == level && o.external_id == id)
                .map(|o| o.name.clone())
        })
    };
    Ok(AdNames {
        campaign: name_of("campaign", &l.meta_campaign_id),
        adset: name_of("adset", &l.meta_adset_id),
        ad: name_of("ad", &l.meta_ad_id),
    })
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
pub enum LeadSort {
    /// Newest first (default).
    #[default]
    #[serde(rename = "-created_at")]
    NewestFirst,
    #[serde(rename = "created_at")]
    OldestFirst,
    #[serde(rename = "name")]
    NameAsc,
    #[serde(rename = "-name")]
    NameDesc,
    #[serde(rename = "-updated_at")]
    RecentlyUpdated,
}

/// Filters of the lead list (and of the CSV export).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadQuery {
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// Comma-separated `lead_source` values (META_ADS, ...).
    pub source: Option<String>,
    pub channel: Option<String>,
    /// Owner user id, or `none` for unassigned leads.
    pub owner: Option<String>,
    pub campaign_id: Option<String>,
    pub adset_id: Option<String>,
    pub ad_id: Option<String>,
    pub tag: Option<String>,
    /// Created at or after (RFC 3339).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub created_to: Option<DateTime<Utc>>,
    /// Text search over name, phone (digits) and email.
    pub q: Option<String>,
    /// `-created_at` (default), `created_at`, `name`, `-name` or `-updated_at`.
    #[param(value_type = Option<String>, example = "-created_at",
        pattern = r"^(-created_at|created_at|name|-name|-updated_at)$")]
    pub sort: Option<LeadSort>,
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<500, _>"
    )]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Contact identifiers used to find a lead (WhatsApp inbox, Lead Ads).
#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    /// Lead Ads leadgen id: matches a lead whose first or later touch has it.
    pub meta_lead_id: Option<String>,
    /// Tags to add (a new lead gets them; a found lead gets the missing ones
    /// while it has room, see `norm_tags`).
    pub tags: Vec<String>,
}

// ---------------------------------------------------------------------------
// Scope and lookups

/// The condition that limits leads to what the caller may see.
pub fn scope(ctx: &TenantCtx) -> Condition {
    let c = Condition::all().add(lead::Column::TenantId.eq(ctx.tenant_id));
    if ctx.role.own_records_only() {
        match ctx.user_id {
            Some(u) => c.add(lead::Column::OwnerId.eq(u)),
            None => c.add(lead::Column::Id.is_null()),
        }
    } else {
        c
    }
}

/// The lead if the caller may see it; 404 otherwise (also for other tenants).
pub async fn visible_lead(
    conn: &impl ConnectionTrait,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<lead::Model, CoreError> {
    lead::Entity::find()
        .filter(scope(ctx).add(lead::Column::Id.eq(id)))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("lead"))
}

pub(crate) async fn tenant_of(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<tenant::Model, CoreError> {
    tenant::Entity::find_by_id(tenant_id)
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("tenant"))
}

/// Checks an owner id: an active user of the tenant. Sellers may only own
/// records themselves.
pub(crate) async fn check_owner(
    conn: &impl ConnectionTrait,
    ctx: &TenantCtx,
    owner: Uuid,
) -> Result<user::Model, CoreError> {
    if ctx.role.own_records_only() && Some(owner) != ctx.user_id {
        return Err(CoreError::validation(
            "owner_not_allowed",
            "a seller can only assign records to themselves",
        ));
    }
    user::Entity::find()
        .filter(user::Column::Id.eq(owner))
        .filter(user::Column::TenantId.eq(ctx.tenant_id))
        .filter(user::Column::Status.eq("active"))
        .one(conn)
        .await?
        .ok_or_else(|| {
            CoreError::validation(
                "invalid_owner",
                "the owner must be an active user of this team",
            )
        })
}

pub(crate) fn norm_tags(tags: &[String]) -> Result<Vec<String>, CoreError> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > 64 || t.contains(',') {
            return Err(CoreError::validation(
                "invalid_tag",
                format!("tag '{t}' must have at most 64 characters and no commas"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > 30 {
        return Err(CoreError::validation(
            "too_many_tags",
            "a lead can have at most 30 tags",
        ));
    }
    out.sort();
    Ok(out)
}

fn norm_wa_id(raw: &str) -> Result<String, CoreError> {
    let d: String = raw.trim().trim_start_matches('+').to_owned();
    if d.len() >= 6 && d.len() <= 20 && d.chars().all(|c| c.is_ascii_digit()) {
        Ok(d)
    } else {
        Err(CoreError::validation(
            "invalid_wa_id",
            format!(
                "wa_id '{}' must be the digits of a WhatsApp number",
                raw.trim()
            ),
        ))
    }
}

fn norm_bsuid(raw: &str) -> Result<String, CoreError> {
    let v = raw.trim();
    let ok = v.split_once('.').is_some_and(|(cc, rest)| {
        cc.len() == 2
            && cc.chars().all(|c| c.is_ascii_uppercase())
            && !rest.is_empty()
            && rest.len() <= 128
            && rest.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if ok {
        Ok(v.to_owned())
    } else {
        Err(CoreError::validation(
            "invalid_bsuid",
            format!("bsuid '{v}' must look like CC.<id> (e.g. US.1349...)"),
        ))
    }
}

/// Normalized contact ids of a lead input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contact {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
}

fn opt_nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub fn normalize_contact(
    country: &str,
    phone_raw: Option<&str>,
    email_raw: Option<&str>,
    wa_raw: Option<&str>,
    bsuid_raw: Option<&str>,
) -> Result<Contact, CoreError> {
    let wa_id = wa_raw.map(norm_wa_id).transpose()?;
    let mut phone = phone_raw
        .map(|p| phone::normalize(p, country))
        .transpose()?;
    // A WhatsApp id is a phone number: use it when no phone was given.
    if phone.is_none()
        && let Some(w) = &wa_id
    {
        phone = phone::normalize(&format!("+{w}"), country).ok();
    }
    Ok(Contact {
        phone,
        email: email_raw.map(validate::email).transpose()?,
        wa_id,
        bsuid: bsuid_raw.map(norm_bsuid).transpose()?,
    })
}

/// Leads of the tenant matching any of the contact ids (duplicates), oldest
/// first. One lookup per id, each on its unique index: an OR over the four
/// columns makes SQLite walk every lead of the tenant.
pub async fn find_duplicates(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    c: &Contact,
) -> Result<Vec<lead::Model>, CoreError> {
    let mut out: Vec<lead::Model> = vec![];
    for (col, v) in [
        (lead::Column::Phone, &c.phone),
        (lead::Column::Email, &c.email),
        (lead::Column::WaId, &c.wa_id),
        (lead::Column::Bsuid, &c.bsuid),
    ] {
        let Some(v) = v else { continue };
        let found = lead::Entity::find()
            .filter(lead::Column::TenantId.eq(tenant_id))
            .filter(col.eq(v.as_str()))
            .all(conn)
            .await?;
        for l in found {
            if !out.iter().any(|o| o.id == l.id) {
                out.push(l);
            }
        }
    }
    out.sort_by_key(|l| l.id);
    Ok(out)
}

pub fn search_text(
    name: &str,
    phone: Option<&str>,
    email: Option<&str>,
    wa: Option<&str>,
) -> String {
    let mut s = name.to_lowercase();
    for p in [phone, wa].into_iter().flatten() {
        s.push(' ');
        s.push_str(&phone::digits(p));
    }
    if let Some(e) = email {
        s.push(' ');
        s.push_str(e);
    }
    s
}

fn refresh_search(am: &mut lead::ActiveModel) {
    let name = match &am.name {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => v.clone(),
        _ => String::new(),
    };
    let get = |v: &sea_orm::ActiveValue<Option<String>>| match v {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => v.clone(),
        _ => None,
    };
    let s = search_text(
        &name,
        get(&am.phone).as_deref(),
        get(&am.email).as_deref(),
        get(&am.wa_id).as_deref(),
    );
    am.search = Set(s);
}

// ---------------------------------------------------------------------------
// Create

/// A fully validated new lead, ready to insert (shared by the API, the
/// importer and `find_or_create_lead_by_contact`).
pub(crate) struct Prepared {
    pub model: lead::Model,
    pub touch: lead_touch::Model,
    pub tags: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare(
    tenant: &tenant::Model,
    name: Option<&str>,
    contact: Contact,
    status: LeadStatus,
    owner_id: Option<Uuid>,
    tags: Vec<String>,
    timezone: Option<&str>,
    external_ids: Option<Value>,
    touch: &TouchInput,
    default_source: (LeadSource, Channel),
    opt_in: Option<(DateTime<Utc>, String)>,
) -> Result<Prepared, CoreError> {
    let tags = norm_tags(&tags)?;
    let name = match name.map(str::trim).filter(|s| !s.is_empty()) {
        Some(n) => validate::name("name", n, 200)?,
        None => String::new(),
    };
    if name.is_empty()
        && contact.phone.is_none()
        && contact.email.is_none()
        && contact.wa_id.is_none()
        && contact.bsuid.is_none()
    {
        return Err(CoreError::validation(
            "lead_needs_identity",
            "a lead needs a name or at least one of phone, email, wa_id or bsuid",
        ));
    }
    let timezone = match timezone.map(str::trim).filter(|s| !s.is_empty()) {
        Some(tz) => validate::timezone(tz)?,
        None => tenant.timezone.clone(),
    };
    let external_ids = match external_ids {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(CoreError::validation(
                "invalid_external_ids",
                "external_ids must be a JSON object",
            ));
        }
    };
    let t = touch.cleaned();
    let (src, ch) = t.resolved(default_source);
    let now = Utc::now();
    let id = crm_db::new_id();
    let search = search_text(
        &name,
        contact.phone.as_deref(),
        contact.email.as_deref(),
        contact.wa_id.as_deref(),
    );
    let (opt_in_at, opt_in_method) = match opt_in {
        Some((at, m)) => (Some(at), Some(m)),
        None => (None, None),
    };
    let model = lead::Model {
        id,
        tenant_id: tenant.id,
        name,
        phone: contact.phone,
        email: contact.email,
        wa_id: contact.wa_id,
        bsuid: contact.bsuid,
        status: status.as_str().to_owned(),
        owner_id,
        tags: json!(tags),
        lead_source: src.as_str().to_owned(),
        channel: ch.as_str().to_owned(),
        meta_campaign_id: t.meta_campaign_id.clone(),
        meta_adset_id: t.meta_adset_id.clone(),
        meta_ad_id: t.meta_ad_id.clone(),
        meta_ad_headline: t.meta_ad_headline.clone(),
        meta_ad_body: t.meta_ad_body.clone(),
        meta_source_url: t.meta_source_url.clone(),
        meta_lead_id: t.meta_lead_id.clone(),
        meta_form_id: t.meta_form_id.clone(),
        ctwa_clid: t.ctwa_clid.clone(),
        utm_source: t.utm_source.clone(),
        utm_medium: t.utm_medium.clone(),
        utm_campaign: t.utm_campaign.clone(),
        utm_content: t.utm_content.clone(),
        utm_term: t.utm_term.clone(),
        fbclid: t.fbclid.clone(),
        external_ids,
        opt_in_at,
        opt_in_method,
        opt_out_at: None,
        opt_out_method: None,
        last_inbound_at: None,
        timezone,
        search,
        created_at: now,
        updated_at: now,
    };
    let touch = touch_model(tenant.id, id, true, &t, (src, ch), now);
    Ok(Prepared { model, touch, tags })
}

fn touch_model(
    tenant_id: Uuid,
    lead_id: Uuid,
    is_first: bool,
    t: &TouchInput,
    (src, ch): (LeadSource, Channel),
    now: DateTime<Utc>,
) -> lead_touch::Model {
    lead_touch::Model {
        id: crm_db::new_id(),
        tenant_id,
        lead_id,
        is_first,
        lead_source: src.as_str().to_owned(),
        channel: ch.as_str().to_owned(),
        meta_campaign_id: t.meta_campaign_id.clone(),
        meta_adset_id: t.meta_adset_id.clone(),
        meta_ad_id: t.meta_ad_id.clone(),
        meta_lead_id: t.meta_lead_id.clone(),
        meta_form_id: t.meta_form_id.clone(),
        ctwa_clid: t.ctwa_clid.clone(),
        details: t.details(),
        occurred_at: t.occurred_at.unwrap_or(now),
        created_at: now,
    }
}

/// Inserts a prepared lead with its first touch, tags, timeline entry,
/// audit row and `lead_created` event.
pub(crate) async fn insert_prepared(
    txn: &DatabaseTransaction,
    actor: &Actor,
    p: Prepared,
    via: &str,
) -> Result<lead::Model, CoreError> {
    let m: lead::ActiveModel = p.model.into();
    let m = m.insert(txn).await?;
    let t: lead_touch::ActiveModel = p.touch.into();
    t.insert(txn).await?;
    if !p.tags.is_empty() {
        lead_tag::Entity::insert_many(p.tags.iter().map(|tag| lead_tag::ActiveModel {
            tenant_id: Set(m.tenant_id),
            tag: Set(tag.clone()),
            lead_id: Set(m.id),
        }))
        .exec(txn)
        .await?;
    }
    timeline::write(
        txn,
        actor,
        m.id,
        kind::CREATED,
        json!({"via": via, "lead_source": m.lead_source, "channel": m.channel}),
    )
    .await?;
    audit::record(
        txn,
        actor,
        "lead.create",
        "lead",
        Some(m.id.to_string()),
        json!({"via": via}),
    )
    .await?;
    outbox::emit(
        txn,
        m.tenant_id,
        "lead_created",
        "lead",
        &m.id.to_string(),
        json!({"lead": LeadView::from(m.clone()), "via": via}),
    )
    .await?;
    Ok(m)
}

/// The result of `POST /api/leads`.
#[derive(Debug)]
pub struct Created {
    pub lead: LeadView,
    /// False when an existing lead was updated (`on_duplicate=update`).
    pub created: bool,
}

pub async fn create(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &NewLead,
    on_duplicate: OnDuplicate,
) -> Result<Created, CoreError> {
    ctx.require(Permission::LeadsWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let tenant = tenant_of(&txn, ctx.tenant_id).await?;
    let contact = normalize_contact(
        &tenant.country,
        opt_nonempty(&input.phone),
        opt_nonempty(&input.email),
        opt_nonempty(&input.wa_id),
        opt_nonempty(&input.bsuid),
    )?;
    let tags = norm_tags(&input.tags)?;
    let owner = match input.owner_id {
        Some(o) => Some(check_owner(&txn, ctx, o).await?.id),
        None if ctx.role.own_records_only() => ctx.user_id,
        None => None,
    };
    let dups = find_duplicates(&txn, ctx.tenant_id, &contact).await?;
    let touch = input.attribution.clone().unwrap_or_default();
    if let Some(first) = dups.first() {
        let visible = !ctx.role.own_records_only() || first.owner_id == ctx.user_id;
        if on_duplicate == OnDuplicate::Reject || !visible || dups.len() > 1 {
            let details = if dups.len() > 1 && visible {
                json!({"existing_id": first.id, "matching_ids": dups.iter().map(|d| d.id).collect::<Vec<_>>()})
            } else if visible {
                json!({"existing_id": first.id, "matched_on": matched_on(first, &contact)})
            } else {
                json!({"owned_by_another_user": true, "matched_on": matched_on(first, &contact)})
            };
            return Err(CoreError::Conflict {
                code: if dups.len() > 1 {
                    "ambiguous_duplicate"
                } else {
                    "duplicate_lead"
                },
                message: "a lead with this phone, email or WhatsApp id already exists".into(),
                details: Some(details),
            });
        }
        let updated = merge_into(&txn, ctx, first.clone(), input, &contact, &tags, &touch).await?;
        txn.commit().await?;
        return Ok(Created {
            lead: updated.into(),
            created: false,
        });
    }
    let default = if ctx.token_id.is_some() {
        (LeadSource::Other, Channel::Api)
    } else {
        (LeadSource::Other, Channel::Manual)
    };
    let opt_in = match opt_nonempty(&input.opt_in_method) {
        Some(m) => Some((input.opt_in_at.unwrap_or_else(Utc::now), method(m)?)),
        None => None,
    };
    let p = prepare(
        &tenant,
        input.name.as_deref(),
        contact,
        input.status.unwrap_or(LeadStatus::New),
        owner,
        tags,
        input.timezone.as_deref(),
        input.external_ids.clone(),
        &touch,
        default,
        opt_in,
    )?;
    let m = insert_prepared(&txn, &ctx.actor(), p, "api").await?;
    txn.commit().await?;
    Ok(Created {
        lead: m.into(),
        created: true,
    })
}

fn method(m: &str) -> Result<String, CoreError> {
    let m = m.trim();
    if m.is_empty() || m.chars().count() > 64 {
        return Err(CoreError::validation(
            "invalid_consent_method",
            "the consent method must have 1 to 64 characters",
        ));
    }
    Ok(m.to_owned())
}

fn matched_on(m: &lead::Model, c: &Contact) -> Vec<&'static str> {
    let mut v = vec![];
    if c.phone.is_some() && m.phone == c.phone {
        v.push("phone");
    }
    if c.email.is_some() && m.email == c.email {
        v.push("email");
    }
    if c.wa_id.is_some() && m.wa_id == c.wa_id {
        v.push("wa_id");
    }
    if c.bsuid.is_some() && m.bsuid == c.bsuid {
        v.push("bsuid");
    }
    v
}

async fn merge_into(
    txn: &DatabaseTransaction,
    ctx: &TenantCtx,
    existing: lead::Model,
    input: &NewLead,
    contact: &Contact,
    tags: &[String],
    touch: &TouchInput,
) -> Result<lead::Model, CoreError> {
    let before = existing.clone();
    let mut am: lead::ActiveModel = existing.clone().into();
    let mut changed: Vec<&str> = vec![];
    if let Some(n) = opt_nonempty(&input.name)
        && n != existing.name
    {
        am.name = Set(validate::name("name", n, 200)?);
        changed.push("name");
    }
    for (field, new, old, slot) in [
        ("phone", &contact.phone, &existing.phone, &mut am.phone),
        ("email", &contact.email, &existing.email, &mut am.email),
        ("wa_id", &contact.wa_id, &existing.wa_id, &mut am.wa_id),
        ("bsuid", &contact.bsuid, &existing.bsuid, &mut am.bsuid),
    ] {
        if old.is_none() && new.is_some() {
            *slot = Set(new.clone());
            changed.push(field);
        }
    }
    let mut all_tags: Vec<String> =
        serde_json::from_value(existing.tags.clone()).unwrap_or_default();
    let mut added = vec![];
    for t in tags {
        if !all_tags.contains(t) {
            all_tags.push(t.clone());
            added.push(t.clone());
        }
    }
    if !added.is_empty() {
        all_tags.sort();
        am.tags = Set(json!(all_tags));
        lead_tag::Entity::insert_many(added.iter().map(|tag| lead_tag::ActiveModel {
            tenant_id: Set(existing.tenant_id),
            tag: Set(tag.clone()),
            lead_id: Set(existing.id),
        }))
        .exec(txn)
        .await?;
        changed.push("tags");
    }
    if let Some(m) = opt_nonempty(&input.opt_in_method) {
        am.opt_in_at = Set(Some(input.opt_in_at.unwrap_or_else(Utc::now)));
        am.opt_in_method = Set(Some(method(m)?));
        changed.push("consent");
    }
    let actor = ctx.actor();
    if touch.has_any() {
        record_touch(txn, &actor, &existing, touch).await?;
    }
    if changed.is_empty() {
        return Ok(existing);
    }
    am.updated_at = Set(Utc::now());
    refresh_search(&mut am);
    let after = am.update(txn).await?;
    after_update(txn, &actor, &before, &after, &changed, "duplicate_merge").await?;
    Ok(after)
}

/// A completed sale makes its lead a customer (unless it already is one): the
/// status change gets its timeline entry, audit row and `lead_status_changed`
/// event in the caller's transaction, like any other status change.
pub(crate) async fn mark_customer(
    txn: &DatabaseTransaction,
    actor: &Actor,
    lead: &lead::Model,
) -> Result<(), CoreError> {
    if lead.status == LeadStatus::Customer.as_str() {
        return Ok(());
    }
    let mut am: lead::ActiveModel = lead.clone().into();
    am.status = Set(LeadStatus::Customer.as_str().to_owned());
    am.updated_at = Set(Utc::now());
    let after = am.update(txn).await?;
    after_update(txn, actor, lead, &after, &["status"], "sale").await
}

/// Writes the timeline entries, audit row and events of a lead update.
async fn after_update(
    txn: &DatabaseTransaction,
    actor: &Actor,
    before: &lead::Model,
    after: &lead::Model,
    changed: &[&str],
    via: &str,
) -> Result<(), CoreError> {
    let mut changes = serde_json::Map::new();
    let b = serde_json::to_value(LeadView::from(before.clone())).unwrap_or_default();
    let a = serde_json::to_value(LeadView::from(after.clone())).unwrap_or_default();
    for f in changed {
        changes.insert((*f).to_owned(), json!({"from": b[*f], "to": a[*f]}));
    }
    let changes = Value::Object(changes);
    audit::record(
        txn,
        actor,
        "lead.update",
        "lead",
        Some(after.id.to_string()),
        json!({"fields": changed, "via": via}),
    )
    .await?;
    let lead_id = after.id.to_string();
    if before.status != after.status {
        timeline::write(
            txn,
            actor,
            after.id,
            kind::STATUS_CHANGED,
            json!({"from": before.status, "to": after.status}),
        )
        .await?;
        outbox::emit(
            txn,
            after.tenant_id,
            "lead_status_changed",
            "lead",
            &lead_id,
            json!({"from": before.status, "to": after.status, "lead": a}),
        )
        .await?;
    }
    if before.owner_id != after.owner_id {
        timeline::write(
            txn,
            actor,
            after.id,
            kind::OWNER_CHANGED,
            json!({"from": before.owner_id, "to": after.owner_id}),
        )
        .await?;
    }
    let others: Vec<&&str> = changed
        .iter()
        .filter(|f| !["status", "owner_id"].contains(f))
        .collect();
    if !others.is_empty() {
        timeline::write(
            txn,
            actor,
            after.id,
            kind::UPDATED,
            json!({"fields": others, "via": via}),
        )
        .await?;
    }
    outbox::emit(
        txn,
        after.tenant_id,
        "lead_updated",
        "lead",
        &lead_id,
        json!({"changes": changes, "fields": changed, "lead": a}),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Touches and contact lookup (used by the Marketing Hub and the inbox)

/// Appends an attribution touch to a lead. The lead's own attribution (its
/// first touch) is never changed. Idempotent for a repeated leadgen id or
/// CTWA click id on the same lead (returns `None` then).
pub async fn record_touch(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    lead: &lead::Model,
    touch: &TouchInput,
) -> Result<Option<lead_touch::Model>, CoreError> {
    let t = touch.cleaned();
    for (col, v) in [
        (lead_touch::Column::MetaLeadId, &t.meta_lead_id),
        (lead_touch::Column::CtwaClid, &t.ctwa_clid),
    ] {
        if let Some(v) = v
            && lead_touch::Entity::find()
                .filter(lead_touch::Column::TenantId.eq(lead.tenant_id))
                .filter(lead_touch::Column::LeadId.eq(lead.id))
                .filter(col.eq(v.as_str()))
                .one(conn)
                .await?
                .is_some()
        {
            return Ok(None);
        }
    }
    let sc = t.resolved((LeadSource::Other, Channel::Api));
    let m: lead_touch::ActiveModel =
        touch_model(lead.tenant_id, lead.id, false, &t, sc, Utc::now()).into();
    let m = m.insert(conn).await?;
    timeline::write(
        conn,
        actor,
        lead.id,
        kind::TOUCH,
        json!({"touch_id": m.id, "lead_source": m.lead_source, "channel": m.channel,
               "meta_ad_id": m.meta_ad_id, "meta_campaign_id": m.meta_campaign_id,
               "ctwa_clid": m.ctwa_clid, "meta_lead_id": m.meta_lead_id, "details": m.details}),
    )
    .await?;
    Ok(Some(m))
}

/// `POST /api/leads/{id}/touches`: appends a touch (first touch stays).
pub async fn add_touch(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    touch: &TouchInput,
) -> Result<Option<TouchView>, CoreError> {
    ctx.require(Permission::LeadsWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let l = visible_lead(&txn, ctx, id).await?;
    if !touch.cleaned().has_any() {
        return Err(CoreError::validation(
            "empty_touch",
            "a touch needs a source, channel or at least one attribution id",
        ));
    }
    let t = record_touch(&txn, &ctx.actor(), &l, touch).await?;
    if let Some(t) = &t {
        audit::record(
            &txn,
            &ctx.actor(),
            "lead.touch",
            "lead",
            Some(l.id.to_string()),
            json!({"touch_id": t.id}),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(t.map(TouchView::from))
}

/// Finds the tenant's lead for a contact, or creates it. Lookup order: Lead
/// Ads leadgen id (any touch), wa_id, bsuid, phone (E.164; a wa_id also
/// matches a phone), email. A found lead gets its missing ids filled in (when
/// no other lead holds them) and, if given, the touch appended; a new lead
/// gets the touch as its first touch. No permission check: callers are
/// trusted system code (webhooks, jobs) acting for `actor.tenant_id`.
/// Returns the lead and whether it was created.
pub async fn find_or_create_lead_by_contact(
    db: &DatabaseConnection,
    actor: &Actor,
    contact: &ContactInput,
    touch: Option<&TouchInput>,
) -> Result<(LeadView, bool), CoreError> {
    match find_or_create_once(db, actor, contact, touch).await {
        // A concurrent insert of the same contact hit a unique index: the
        // second attempt finds the row.
        Err(CoreError::Db(_)) => find_or_create_once(db, actor, contact, touch).await,
        other => other,
    }
}

async fn find_or_create_once(
    db: &DatabaseConnection,
    actor: &Actor,
    contact: &ContactInput,
    touch: Option<&TouchInput>,
) -> Result<(LeadView, bool), CoreError> {
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let tenant = tenant_of(&txn, actor.tenant_id).await?;
    let c = normalize_contact(
        &tenant.country,
        opt_nonempty(&contact.phone),
        opt_nonempty(&contact.email),
        opt_nonempty(&contact.wa_id),
        opt_nonempty(&contact.bsuid),
    )?;
    let mut found: Option<lead::Model> = None;
    let mut by_leadgen = false;
    if let Some(lg) = opt_nonempty(&contact.meta_lead_id) {
        let by_touch = lead_touch::Entity::find()
            .filter(lead_touch::Column::TenantId.eq(tenant.id))
            .filter(lead_touch::Column::MetaLeadId.eq(lg))
            .one(&txn)
            .await?;
        if let Some(t) = by_touch {
            by_leadgen = true;
            found = lead::Entity::find_by_id(t.lead_id)
                .filter(lead::Column::TenantId.eq(tenant.id))
                .one(&txn)
                .await?;
        }
    }
    if found.is_none() {
        let dups = find_duplicates(&txn, tenant.id, &c).await?;
        let rank = |m: &lead::Model| {
            if c.wa_id.is_some() && m.wa_id == c.wa_id {
                0
            } else if c.bsuid.is_some() && m.bsuid == c.bsuid {
                1
            } else if c.phone.is_some() && m.phone == c.phone {
                2
            } else {
                3
            }
        };
        found = dups.into_iter().min_by_key(rank);
    }
    let touch_in = touch.cloned().unwrap_or_default();
    if let Some(existing) = found {
        let before = existing.clone();
        let mut am: lead::ActiveModel = existing.clone().into();
        let mut changed = vec![];
        for (field, new, old, col) in [
            ("phone", &c.phone, &existing.phone, lead::Column::Phone),
            ("email", &c.email, &existing.email, lead::Column::Email),
            ("wa_id", &c.wa_id, &existing.wa_id, lead::Column::WaId),
            ("bsuid", &c.bsuid, &existing.bsuid, lead::Column::Bsuid),
        ] {
            if old.is_none()
                && let Some(v) = new
                && lead::Entity::find()
                    .filter(lead::Column::TenantId.eq(tenant.id))
                    .filter(col.eq(v.as_str()))
                    .one(&txn)
                    .await?
                    .is_none()
            {
                match field {
                    "phone" => am.phone = Set(Some(v.clone())),
                    "email" => am.email = Set(Some(v.clone())),
                    "wa_id" => am.wa_id = Set(Some(v.clone())),
                    _ => am.bsuid = Set(Some(v.clone())),
                }
                changed.push(field);
            }
        }
        if existing.name.is_empty()
            && let Some(n) = opt_nonempty(&contact.name)
        {
            am.name = Set(n.chars().take(200).collect());
            changed.push("name");
        }
        // The same Lead Ads lead seen again (webhook replay, reconcile)
        // adds no tags: a tag the user removed stays removed.
        let form_tags = if by_leadgen {
            vec![]
        } else {
            norm_tags(&contact.tags)?
        };
        let mut all_tags: Vec<String> =
            serde_json::from_value(existing.tags.clone()).unwrap_or_default();
        let added: Vec<String> = form_tags
            .into_iter()
            .filter(|t| !all_tags.contains(t))
            .take(30usize.saturating_sub(all_tags.len()))
            .collect();
        if !added.is_empty() {
            all_tags.extend(added.iter().cloned());
            all_tags.sort();
            am.tags = Set(json!(all_tags));
            lead_tag::Entity::insert_many(added.iter().map(|tag| lead_tag::ActiveModel {
                tenant_id: Set(existing.tenant_id),
                tag: Set(tag.clone()),
                lead_id: Set(existing.id),
            }))
            .exec(&txn)
            .await?;
            changed.push("tags");
        }
        if touch.is_some() {
            record_touch(&txn, actor, &existing, &touch_in).await?;
        }
        let out = if changed.is_empty() {
            existing
        } else {
            am.updated_at = Set(Utc::now());
            refresh_search(&mut am);
            let after = am.update(&txn).await?;
            after_update(&txn, actor, &before, &after, &changed, "contact_match").await?;
            after
        };
        txn.commit().await?;
        return Ok((out.into(), false));
    }
    let mut p = prepare(
        &tenant,
        contact.name.as_deref(),
        c,
        LeadStatus::New,
        None,
        contact.tags.clone(),
        None,
        None,
        &touch_in,
        (LeadSource::Other, Channel::Api),
        None,
    )?;
    // A Lead Ads lead (webhook, backfill or reconcile) was created when the
    // person submitted the form: Meta's created_time, not when we fetched it,
    // so a late backfill lands in the right day of the cohort.
    if touch_in.meta_lead_id.is_some()
        && let Some(at) = touch_in.occurred_at
        && at <= p.model.created_at
    {
        p.model.created_at = at;
    }
    let m = insert_prepared(&txn, actor, p, "contact_match").await?;
    txn.commit().await?;
    Ok((m.into(), true))
}

/// Records an inbound message time (opens the WhatsApp 24-hour window).
pub async fn mark_inbound(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    lead_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), CoreError> {
    lead::Entity::update_many()
        .col_expr(lead::Column::LastInboundAt, Expr::value(at))
        .filter(lead::Column::TenantId.eq(tenant_id))
        .filter(lead::Column::Id.eq(lead_id))
        .filter(
            Condition::any()
                .add(lead::Column::LastInboundAt.is_null())
                .add(lead::Column::LastInboundAt.lt(at)),
        )
        .exec(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Read, update, delete

/// A patch value: absent → None; empty → Some(None) (clear); else Some(Some(v)).
fn set_if(v: &Option<String>) -> Option<Option<&str>> {
    v.as_deref()
        .map(|s| Some(s.trim()).filter(|s| !s.is_empty()))
}

pub async fn get(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<LeadDetail, CoreError> {
    ctx.require(Permission::LeadsRead)?;
    let l = visible_lead(db, ctx, id).await?;
    let touches = lead_touch::Entity::find()
        .filter(lead_touch::Column::TenantId.eq(ctx.tenant_id))
        .filter(lead_touch::Column::LeadId.eq(id))
        .order_by_asc(lead_touch::Column::Id)
        .all(db)
        .await?;
    let opportunities = pipeline::opportunities_of_lead(db, ctx, id).await?;
    let owner_name = match l.owner_id {
        Some(o) => user::Entity::find_by_id(o)
            .filter(user::Column::TenantId.eq(ctx.tenant_id))
            .one(db)
            .await?
            .map(|u| u.name),
        None => None,
    };
    let ad_names = ad_names(db, ctx.tenant_id, &l).await?;
    Ok(LeadDetail {
        lead: l.into(),
        owner_name,
        ad_names,
        touches: touches.into_iter().map(TouchView::from).collect(),
        opportunities,
    })
}

pub async fn update(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    patch: &LeadPatch,
) -> Result<LeadView, CoreError> {
    ctx.require(Permission::LeadsWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let existing = visible_lead(&txn, ctx, id).await?;
    let tenant = tenant_of(&txn, ctx.tenant_id).await?;
    let before = existing.clone();
    let mut am: lead::ActiveModel = existing.clone().into();
    let mut changed: Vec<&str> = vec![];
    if let Some(n) = &patch.name {
        let n = n.trim().to_owned();
        if n.chars().count() > 200 {
            return Err(CoreError::validation(
                "too_long",
                "name must have at most 200 characters",
            ));
        }
        if n != existing.name {
            am.name = Set(n);
            changed.push("name");
        }
    }

    let mut new_contact = Contact {
        phone: existing.phone.clone(),
        email: existing.email.clone(),
        wa_id: existing.wa_id.clone(),
        bsuid: existing.bsuid.clone(),
    };
    if let Some(p) = set_if(&patch.phone) {
        new_contact.phone = p
            .map(|p| phone::normalize(p, &tenant.country))
            .transpose()?;
    }
    if let Some(e) = set_if(&patch.email) {
        new_contact.email = e.map(validate::email).transpose()?;
    }
    if let Some(w) = set_if(&patch.wa_id) {
        new_contact.wa_id = w.map(norm_wa_id).transpose()?;
    }
    if let Some(b) = set_if(&patch.bsuid) {
        new_contact.bsuid = b.map(norm_bsuid).transpose()?;
    }
    let mut probe = Contact::default();
    for (field, new, old) in [
        ("phone", &new_contact.phone, &existing.phone),
        ("email", &new_contact.email, &existing.email),
        ("wa_id", &new_contact.wa_id, &existing.wa_id),
        ("bsuid", &new_contact.bsuid, &existing.bsuid),
    ] {
        if new != old {
            changed.push(field);
            match field {
                "phone" => probe.phone = new.clone(),
                "email" => probe.email = new.clone(),
                "wa_id" => probe.wa_id = new.clone(),
                _ => probe.bsuid = new.clone(),
            }
        }
    }
    if let Some(other) = find_duplicates(&txn, ctx.tenant_id, &probe)
        .await?
        .into_iter()
        .find(|d| d.id != id)
    {
        let visible = !ctx.role.own_records_only() || other.owner_id == ctx.user_id;
        return Err(CoreError::Conflict {
            code: "duplicate_lead",
            message: "another lead already has this phone, email or WhatsApp id".into(),
            details: Some(if visible {
                json!({"existing_id": other.id, "matched_on": matched_on(&other, &probe)})
            } else {
                json!({"owned_by_another_user": true, "matched_on": matched_on(&other, &probe)})
            }),
        });
    }
    am.phone = Set(new_contact.phone.clone());
    am.email = Set(new_contact.email.clone());
    am.wa_id = Set(new_contact.wa_id.clone());
    am.bsuid = Set(new_contact.bsuid.clone());
    let name_after = match &am.name {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => v.clone(),
        _ => String::new(),
    };
    if name_after.is_empty()
        && new_contact.phone.is_none()
        && new_contact.email.is_none()
        && new_contact.wa_id.is_none()
        && new_contact.bsuid.is_none()
    {
        return Err(CoreError::validation(
            "lead_needs_identity",
            "a lead needs a name or at least one of phone, email, wa_id or bsuid",
        ));
    }
    if let Some(s) = patch.status
        && s.as_str() != existing.status
    {
        am.status = Set(s.as_str().to_owned());
        changed.push("status");
    }
    if let Some(o) = patch.owner_id
        && Some(o) != existing.owner_id
    {
        check_owner(&txn, ctx, o).await?;
        am.owner_id = Set(Some(o));
        changed.push("owner_id");
    }
    if let Some(tags) = &patch.tags {
        let tags = norm_tags(tags)?;
        let old: Vec<String> = serde_json::from_value(existing.tags.clone()).unwrap_or_default();
        if tags != old {
            replace_tags(&txn, ctx.tenant_id, id, &tags).await?;
            am.tags = Set(json!(tags));
            changed.push("tags");
        }
    }
    if let Some(tz) = &patch.timezone {
        let tz = validate::timezone(tz)?;
        if tz != existing.timezone {
            am.timezone = Set(tz);
            changed.push("timezone");
        }
    }
    if let Some(x) = &patch.external_ids {
        if !x.is_object() {
            return Err(CoreError::validation(
                "invalid_external_ids",
                "external_ids must be a JSON object",
            ));
        }
        if *x != existing.external_ids {
            am.external_ids = Set(x.clone());
            changed.push("external_ids");
        }
    }
    if changed.is_empty() {
        return Ok(existing.into());
    }
    am.updated_at = Set(Utc::now());
    refresh_search(&mut am);
    let after = am.update(&txn).await?;
    after_update(&txn, &ctx.actor(), &before, &after, &changed, "api").await?;
    txn.commit().await?;
    Ok(after.into())
}

async fn replace_tags(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    lead_id: Uuid,
    tags: &[String],
) -> Result<(), CoreError> {
    lead_tag::Entity::delete_many()
        .filter(lead_tag::Column::TenantId.eq(tenant_id))
        .filter(lead_tag::Column::LeadId.eq(lead_id))
        .exec(conn)
        .await?;
    if !tags.is_empty() {
        lead_tag::Entity::insert_many(tags.iter().map(|tag| lead_tag::ActiveModel {
            tenant_id: Set(tenant_id),
            tag: Set(tag.clone()),
            lead_id: Set(lead_id),
        }))
        .exec(conn)
        .await?;
    }
    Ok(())
}

/// Deletes a lead with its touches, timeline and opportunities. A lead with
/// recorded sales cannot be deleted (409 `lead_has_sales`).
pub async fn delete(db: &DatabaseConnection, ctx: &TenantCtx, id: Uuid) -> Result<(), CoreError> {
    ctx.require(Permission::LeadsWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let l = visible_lead(&txn, ctx, id).await?;
    if super::sales::lead_has_sales(&txn, ctx.tenant_id, id).await? {
        return Err(CoreError::conflict(
            "lead_has_sales",
            "this lead has sales transactions and cannot be deleted",
        ));
    }
    // The person's data goes everywhere it was copied (issue 18.11); the
    // audit row and the event carry counts and ids, never the data.
    let erased = super::erasure::erase_lead_copies(&txn, &l).await?;
    pipeline::delete_opportunities_of_lead(&txn, ctx.tenant_id, id).await?;
    lead::Entity::delete_many()
        .filter(lead::Column::TenantId.eq(ctx.tenant_id))
        .filter(lead::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "lead.delete",
        "lead",
        Some(id.to_string()),
        json!({"erased": erased}),
    )
    .await?;
    outbox::emit(
        &txn,
        ctx.tenant_id,
        "lead_deleted",
        "lead",
        &id.to_string(),
        json!({"lead_id": id}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Sets marketing consent (opt-in or opt-out) with time and method.
pub async fn set_consent(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    input: &ConsentInput,
) -> Result<LeadView, CoreError> {
    ctx.require(Permission::LeadsWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let existing = visible_lead(&txn, ctx, id).await?;
    let m = method(&input.method)?;
    let at = input.at.unwrap_or_else(Utc::now);
    let before = existing.clone();
    let mut am: lead::ActiveModel = existing.into();
    match input.action {
        ConsentAction::OptIn => {
            am.opt_in_at = Set(Some(at));
            am.opt_in_method = Set(Some(m.clone()));
        }
        ConsentAction::OptOut => {
            am.opt_out_at = Set(Some(at));
            am.opt_out_method = Set(Some(m.clone()));
        }
    }
    am.updated_at = Set(Utc::now());
    let after = am.update(&txn).await?;
    timeline::write(
        &txn,
        &ctx.actor(),
        id,
        kind::CONSENT,
        json!({"action": input.action, "method": m, "at": at}),
    )
    .await?;
    after_update(&txn, &ctx.actor(), &before, &after, &["consent"], "api").await?;
    txn.commit().await?;
    Ok(after.into())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NoteInput {
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub body: String,
}

/// Adds a note to the lead's timeline.
pub async fn add_note(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    input: &NoteInput,
) -> Result<timeline::ActivityView, CoreError> {
    ctx.require(Permission::LeadsWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    visible_lead(&txn, ctx, id).await?;
    let body = input.body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(CoreError::validation(
            "invalid_note",
            "a note needs 1 to 10000 characters",
        ));
    }
    let a = timeline::write(&txn, &ctx.actor(), id, kind::NOTE, json!({"body": body})).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "lead.note",
        "lead",
        Some(id.to_string()),
        json!({"activity_id": a.id}),
    )
    .await?;
    txn.commit().await?;
    Ok(a.into())
}

// ---------------------------------------------------------------------------
// Bulk

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct BulkAssign {
    /// 1 to 1000 lead ids.
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<Uuid>,
    /// The new owner; null unassigns.
    pub owner_id: Option<Uuid>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct BulkTag {
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<Uuid>,
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkResult {
    /// Leads actually changed.
    pub updated: usize,
}

async fn visible_many(
    txn: &DatabaseTransaction,
    ctx: &TenantCtx,
    ids: &[Uuid],
) -> Result<Vec<lead::Model>, CoreError> {
    if ids.is_empty() || ids.len() > 1000 {
        return Err(CoreError::validation(
            "invalid_ids",
            "send 1 to 1000 lead ids",
        ));
    }
    let mut uniq = ids.to_vec();
    uniq.sort();
    uniq.dedup();
    let rows = lead::Entity::find()
        .filter(scope(ctx).add(lead::Column::Id.is_in(uniq.clone())))
        .all(txn)
        .await?;
    if rows.len() != uniq.len() {
        let missing: Vec<Uuid> = uniq
            .into_iter()
            .filter(|id| !rows.iter().any(|r| r.id == *id))
            .collect();
        return Err(CoreError::Validation {
            code: "leads_not_found",
            message: format!("{} of the leads were not found", missing.len()),
            details: Some(json!({"missing_ids": missing})),
        });
    }
    Ok(rows)
}

/// Assigns an owner to many leads (not for sellers).
pub async fn bulk_assign(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &BulkAssign,
) -> Result<BulkResult, CoreError> {
    ctx.require(Permission::LeadsWrite)?;
    if ctx.role.own_records_only() {
        return Err(CoreError::Forbidden(Permission::TeamManage));
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let rows = visible_many(&txn, ctx, &input.ids).await?;
    if let Some(o) = input.owner_id {
        check_owner(&txn, ctx, o).await?;
    }
    let actor = ctx.actor();
    let mut updated = 0;
    for l in rows.into_iter().filter(|l| l.owner_id != input.owner_id) {
        let before = l.clone();
        let mut am: lead::ActiveModel = l.into();
        am.owner_id = Set(input.owner_id);
        am.updated_at = Set(Utc::now());
        let after = am.update(&txn).await?;
        after_update(&txn, &actor, &before, &after, &["owner_id"], "bulk_assign").await?;
        updated += 1;
    }
    txn.commit().await?;
    Ok(BulkResult { updated })
}

/// Adds and removes tags on many leads.
pub async fn bulk_tag(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &BulkTag,
) -> Result<BulkResult, CoreError> {
    ctx.require(Permission::LeadsWrite)?;
    let add = norm_tags(&input.add)?;
    let remove = norm_tags(&input.remove)?;
    if add.is_empty() && remove.is_empty() {
        return Err(CoreError::validation(
            "no_tags",
            "give tags to add or to remove",
        ));
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let rows = visible_many(&txn, ctx, &input.ids).await?;
    let actor = ctx.actor();
    let mut updated = 0;
    for l in rows {
        let old: Vec<String> = serde_json::from_value(l.tags.clone()).unwrap_or_default();
        let mut tags: Vec<String> = old
            .iter()
            .filter(|t| !remove.contains(t))
            .cloned()
            .collect();
        for t in &add {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        let tags = norm_tags(&tags)?;
        if tags == old {
            continue;
        }
        replace_tags(&txn, ctx.tenant_id, l.id, &tags).await?;
        let before = l.clone();
        let mut am: lead::ActiveModel = l.into();
        am.tags = Set(json!(tags));
        am.updated_at = Set(Utc::now());
        let after = am.update(&txn).await?;
        after_update(&txn, &actor, &before, &after, &["tags"], "bulk_tag").await?;
        updated += 1;
    }
    txn.commit().await?;
    Ok(BulkResult { updated })
}

// ---------------------------------------------------------------------------
// List

fn csv_values(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The filter condition of a lead query (scope included).
pub fn query_condition(ctx: &TenantCtx, q: &LeadQuery) -> Result<Condition, CoreError> {
    query_condition_on(ctx, q, DbBackend::Postgres)
}

/// The list filters as a condition for `backend`: on SQLite the text search
/// goes through the trigram FTS5 index (`leads_search_fts`) when the needle
/// has at least three characters; PostgreSQL's trigram GIN index serves the
/// plain `LIKE`.
fn query_condition_on(
    ctx: &TenantCtx,
    q: &LeadQuery,
    backend: DbBackend,
) -> Result<Condition, CoreError> {
    let mut cond = scope(ctx);
    let statuses = csv_values(&q.status);
    if !statuses.is_empty() {
        for s in &statuses {
            if LeadStatus::parse(s).is_none() {
                return Err(CoreError::validation(
                    "invalid_status",
                    format!("'{s}' is not a lead status"),
                ));
            }
        }
        cond = cond.add(lead::Column::Status.is_in(statuses.iter().map(|s| s.to_lowercase())));
    }
    let sources = csv_values(&q.source);
    if !sources.is_empty() {
        let mut v = vec![];
        for s in &sources {
            v.push(
                LeadSource::parse(s)
                    .ok_or_else(|| {
                        CoreError::validation(
                            "invalid_source",
                            format!("'{s}' is not a lead_source"),
                        )
                    })?
                    .as_str(),
            );
        }
        cond = cond.add(lead::Column::LeadSource.is_in(v));
    }
    if let Some(ch) = opt_nonempty(&q.channel) {
        let c = Channel::parse(ch).ok_or_else(|| {
            CoreError::validation("invalid_channel", format!("'{ch}' is not a channel"))
        })?;
        cond = cond.add(lead::Column::Channel.eq(c.as_str()));
    }
    match opt_nonempty(&q.owner) {
        Some("none") => cond = cond.add(lead::Column::OwnerId.is_null()),
        Some(o) => {
            let o: Uuid = o.parse().map_err(|_| {
                CoreError::validation("invalid_owner", "owner must be a user id or 'none'")
            })?;
            cond = cond.add(lead::Column::OwnerId.eq(o));
        }
        None => {}
    }
    if let Some(v) = opt_nonempty(&q.campaign_id) {
        cond = cond.add(lead::Column::MetaCampaignId.eq(v));
    }
    if let Some(v) = opt_nonempty(&q.adset_id) {
        cond = cond.add(lead::Column::MetaAdsetId.eq(v));
    }
    if let Some(v) = opt_nonempty(&q.ad_id) {
        cond = cond.add(lead::Column::MetaAdId.eq(v));
    }
    if let Some(tag) = opt_nonempty(&q.tag) {
        let tag = tag.to_lowercase();
        cond = cond.add(
            lead::Column::Id.in_subquery(
                Query::select()
                    .column(lead_tag::Column::LeadId)
                    .from(lead_tag::Entity)
                    .and_where(lead_tag::Column::TenantId.eq(ctx.tenant_id))
                    .and_where(lead_tag::Column::Tag.eq(tag))
                    .take(),
            ),
        );
    }
    if let Some(v) = q.created_from {
        cond = cond.add(lead::Column::CreatedAt.gte(v));
    }
    if let Some(v) = q.created_to {
        cond = cond.add(lead::Column::CreatedAt.lt(v));
    }
    if let Some(text) = opt_nonempty(&q.q) {
        let low = text.to_lowercase();
        let digits = phone::digits(&low);
        let looks_phone = digits.len() >= 3
            && low
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()".contains(c));
        let needle = if looks_phone { digits } else { low };
        let escaped = needle
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        if backend == DbBackend::Sqlite && needle.chars().count() >= 3 {
            // An FTS5 phrase of the trigram tokenizer matches the substring.
            let phrase = format!("\"{}\"", needle.replace('"', "\"\""));
            cond = cond.add(Expr::cust_with_values(
                "\"leads\".rowid IN (SELECT rowid FROM leads_search_fts WHERE leads_search_fts MATCH ?)",
                [phrase],
            ));
        }
        cond =
            cond.add(lead::Column::Search.like(LikeExpr::new(format!("%{escaped}%")).escape('\\')));
    }
    Ok(cond)
}

/// One page of leads.
pub async fn list(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &LeadQuery,
) -> Result<Page<LeadView>, CoreError> {
    ctx.require(Permission::LeadsRead)?;
    let limit = page::limit(q.limit, 50, 500);
    let (rows, next_cursor) = list_models(db, ctx, q, limit).await?;
    Ok(Page {
        items: rows.into_iter().map(LeadView::from).collect(),
        next_cursor,
    })
}

/// One page of lead rows and the next cursor (the list and the export).
pub async fn list_models(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &LeadQuery,
    limit: u64,
) -> Result<(Vec<lead::Model>, Option<String>), CoreError> {
    let mut cond = query_condition_on(ctx, q, db.get_database_backend())?;
    let sort = q.sort.unwrap_or_default();
    let cursor = q.cursor.as_deref().map(Cursor::decode).transpose()?;
    let mut find = lead::Entity::find();
    match sort {
        LeadSort::NewestFirst | LeadSort::OldestFirst => {
            let desc = sort == LeadSort::NewestFirst;
            if let Some(c) = &cursor {
                cond = cond.add(if desc {
                    lead::Column::Id.lt(c.id)
                } else {
                    lead::Column::Id.gt(c.id)
                });
            }
            find = if desc {
                find.order_by_desc(lead::Column::Id)
            } else {
                find.order_by_asc(lead::Column::Id)
            };
        }
        LeadSort::NameAsc | LeadSort::NameDesc => {
            let desc = sort == LeadSort::NameDesc;
            if let Some(c) = &cursor {
                let k = c.k.clone().unwrap_or_default();
                cond = cond.add(if desc {
                    Condition::any().add(lead::Column::Name.lt(k.clone())).add(
                        Condition::all()
                            .add(lead::Column::Name.eq(k))
                            .add(lead::Column::Id.lt(c.id)),
                    )
                } else {
                    Condition::any().add(lead::Column::Name.gt(k.clone())).add(
                        Condition::all()
                            .add(lead::Column::Name.eq(k))
                            .add(lead::Column::Id.gt(c.id)),
                    )
                });
            }
            find = if desc {
                find.order_by_desc(lead::Column::Name)
                    .order_by_desc(lead::Column::Id)
            } else {
                find.order_by_asc(lead::Column::Name)
                    .order_by_asc(lead::Column::Id)
            };
        }
        LeadSort::RecentlyUpdated => {
            if let Some(c) = &cursor {
                let k: DateTime<Utc> =
                    c.k.as_deref().and_then(|k| k.parse().ok()).ok_or_else(|| {
                        CoreError::validation("invalid_cursor", "the cursor is not valid")
                    })?;
                cond = cond.add(
                    Condition::any().add(lead::Column::UpdatedAt.lt(k)).add(
                        Condition::all()
                            .add(lead::Column::UpdatedAt.eq(k))
                            .add(lead::Column::Id.lt(c.id)),
                    ),
                );
            }
            find = find
                .order_by_desc(lead::Column::UpdatedAt)
                .order_by_desc(lead::Column::Id);
        }
    }
    let mut rows = find.filter(cond).limit(limit + 1).all(db).await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| {
            let k = match sort {
                LeadSort::NameAsc | LeadSort::NameDesc => Some(r.name.clone()),
                LeadSort::RecentlyUpdated => Some(r.updated_at.to_rfc3339()),
                _ => None,
            };
            Cursor { k, id: r.id }.encode()
        })
    } else {
        None
    };
    Ok((rows, next))
}

/// CSV columns of the export (also accepted by the importer's default mapping).
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "name",
    "phone",
    "email",
    "wa_id",
    "bsuid",
    "status",
    "owner_id",
    "tags",
    "lead_source",
    "channel",
    "meta_campaign_id",
    "meta_adset_id",
    "meta_ad_id",
    "meta_ad_headline",
    "meta_ad_body",
    "meta_lead_id",
    "meta_form_id",
    "ctwa_clid",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "fbclid",
    "consent",
    "opt_in_at",
    "opt_out_at",
    "timezone",
    "created_at",
];

/// One lead as a CSV record (in [`CSV_COLUMNS`] order).
pub fn csv_record(m: &lead::Model) -> Vec<String> {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let tags: Vec<String> = serde_json::from_value(m.tags.clone()).unwrap_or_default();
    vec![
        m.id.to_string(),
        m.name.clone(),
        o(&m.phone),
        o(&m.email),
        o(&m.wa_id),
        o(&m.bsuid),
        m.status.clone(),
        m.owner_id.map(|u| u.to_string()).unwrap_or_default(),
        tags.join(";"),
        m.lead_source.clone(),
        m.channel.clone(),
        o(&m.meta_campaign_id),
        o(&m.meta_adset_id),
        o(&m.meta_ad_id),
        o(&m.meta_ad_headline),
        o(&m.meta_ad_body),
        o(&m.meta_lead_id),
        o(&m.meta_form_id),
        o(&m.ctwa_clid),
        o(&m.utm_source),
        o(&m.utm_medium),
        o(&m.utm_campaign),
        o(&m.utm_content),
        o(&m.utm_term),
        o(&m.fbclid),
        consent_of(m).state,
        m.opt_in_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        m.opt_out_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        m.timezone.clone(),
        m.created_at.to_rfc3339(),
    ]
}

/// Audits an export (lead data leaving the system).
pub async fn audit_export(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &LeadQuery,
) -> Result<(), CoreError> {
    ctx.require(Permission::LeadsRead)?;
    let mut filters = BTreeMap::new();
    for (k, v) in [
        ("status", &q.status),
        ("source", &q.source),
        ("channel", &q.channel),
        ("owner", &q.owner),
        ("campaign_id", &q.campaign_id),
        ("adset_id", &q.adset_id),
        ("ad_id", &q.ad_id),
        ("tag", &q.tag),
        ("q", &q.q),
    ] {
        if let Some(v) = v {
            filters.insert(k, v.clone());
        }
    }
    audit::record(
        db,
        &ctx.actor(),
        "lead.export",
        "lead",
        None,
        json!({"filters": filters}),
    )
    .await?;
    Ok(())
}
