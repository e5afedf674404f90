//! The tenant's Meta connection: OAuth (single-use hashed state), the
//! encrypted credentials, token health, the selected assets (ad account,
//! WhatsApp number, Lead Ads pages) and the small API other features use to
//! reach Meta on a tenant's behalf.
//!
//! A token never leaves this module in clear except through
//! [`access_token_for`] / [`page_token_for`] (as a redacting
//! [`AccessToken`]), and never appears in a view, an audit row or a log.
//!
//! Status of a connection: `ok`, `expiring` (expires within 7 days),
//! `missing_scopes`, `expired`, `invalid`, `disconnected`. `expired` and
//! `invalid` pause the tenant's Meta jobs ([`meta_paused`]) until someone
//! reconnects.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crm_db::audit::{self, Actor};
use crm_db::entity::{
    meta_asset, meta_connection, meta_credential, meta_deletion_request, meta_oauth_state,
};
use crm_db::jobs::{self, NewJob};
use meta_graph::{AccessToken, AppSecret, GraphClient, GraphError, LoginScope, Session};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::roles::Permission;
use crate::vault::{self, Keyring, Sealed};
use crate::{CoreError, TenantCtx, secrets};

pub const STATUS_OK: &str = "ok";
pub const STATUS_EXPIRING: &str = "expiring";
pub const STATUS_EXPIRED: &str = "expired";
pub const STATUS_INVALID: &str = "invalid";
pub const STATUS_MISSING_SCOPES: &str = "missing_scopes";
pub const STATUS_DISCONNECTED: &str = "disconnected";

pub const CRED_USER_TOKEN: &str = "user_token";
pub const CRED_PAGE_TOKEN: &str = "page_token";

pub const ASSET_AD_ACCOUNT: &str = "ad_account";
pub const ASSET_WABA: &str = "waba";
pub const ASSET_PHONE_NUMBER: &str = "phone_number";
pub const ASSET_PAGE: &str = "page";

/// Job kind of the daily token re-check.
pub const HEALTH_JOB: &str = "meta.token_health";
/// How long an OAuth `state` stays valid.
pub const STATE_TTL_MINUTES: i64 = 10;
/// A token expiring within this many days is `expiring`.
pub const EXPIRING_DAYS: i64 = 7;

/// Scopes the CRM asks for (Facebook Login) and needs for every feature.
pub const DEFAULT_SCOPES: &[&str] = &[
    "ads_read",
    "business_management",
    "leads_retrieval",
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_metadata",
    "pages_manage_ads",
    "whatsapp_business_management",
    "whatsapp_business_messaging",
];

/// Everything the Meta services need from configuration. One per process.
#[derive(Clone)]
pub struct MetaEnv {
    pub keyring: Arc<Keyring>,
    /// `None` when the Meta app is not configured (no app id / secret).
    pub graph: Option<GraphClient>,
    pub app_secret: Option<AppSecret>,
    pub login: LoginScope,
    pub required_scopes: Vec<String>,
    /// The public URL of this server, without a trailing slash.
    pub public_url: String,
}

impl std::fmt::Debug for MetaEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaEnv")
            .field("configured", &self.graph.is_some())
            .field("key_ids", &self.keyring.key_ids())
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl MetaEnv {
    pub fn graph(&self) -> Result<&GraphClient, MetaFail> {
        self.graph.as_ref().ok_or_else(|| {
            MetaFail::core(CoreError::conflict(
                "meta_not_configured",
                "the Meta app is not configured on this server (set CRM_META_APP_ID and CRM_META_APP_SECRET)",
            ))
        })
    }

    /// The OAuth redirect URI registered in the Meta app.
    pub fn redirect_uri(&self) -> String {
        format!("{}/api/crm/auth/meta/callback", self.public_url)
    }
}

/// How a failed Meta call should reach the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaFailKind {
    /// Meta refused (bad token, permission, not found…): the user must act.
    Rejected,
    /// The object does not exist or is not visible with this token.
    NotFound,
    /// Meta throttled us; try again after `retry_after_secs`.
    Throttled,
    /// Meta is unreachable or failed transiently.
    Unavailable,
}

/// A service error: either a domain error or a Meta failure.
#[derive(Debug)]
pub enum MetaFail {
    Core(CoreError),
    Meta {
        kind: MetaFailKind,
        code: &'static str,
        message: String,
        details: Option<Value>,
        retry_after_secs: Option<u64>,
    },
}

impl MetaFail {
    pub fn core(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<CoreError> for MetaFail {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<DbErr> for MetaFail {
    fn from(e: DbErr) -> Self {
        Self::Core(CoreError::Db(e))
    }
}

impl std::fmt::Display for MetaFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaFail::Core(e) => write!(f, "{e}"),
            MetaFail::Meta { code, message, .. } => write!(f, "{code}: {message}"),
        }
    }
}

fn meta_details(m: &meta_graph::MetaError) -> Value {
    json!({
        "meta_code": m.code,
        "meta_subcode": m.error_subcode,
        "meta_message": m.error_user_msg.clone().unwrap_or_else(|| m.message.clone()),
        "fbtrace_id": m.fbtrace_id,
    })
}

/// Turns a Graph error into a service error (no side effects).
pub fn fail_from_graph(e: &GraphError) -> MetaFail {
    let (kind, code, message, details, retry) = match e {
        GraphError::TokenExpired(m) => (
            MetaFailKind::Rejected,
            "meta_token_expired",
            "the Meta access token expired; reconnect Meta",
            Some(meta_details(m)),
            None,
        ),
        GraphError::TokenInvalid(m) => (
            MetaFailKind::Rejected,
            "meta_token_invalid",
            "the Meta access token is no longer valid; reconnect Meta",
            Some(meta_details(m)),
            None,
        ),
        GraphError::PermissionMissing(m) => (
            MetaFailKind::Rejected,
            "meta_permission_missing",
            "Meta refused: a permission is missing; reconnect and grant every permission",
            Some(meta_details(m)),
            None,
        ),
        GraphError::NotFound(m) => (
            MetaFailKind::NotFound,
            "meta_not_found",
            "Meta says this object does not exist or is not visible with this connection",
            Some(meta_details(m)),
            None,
        ),
        GraphError::InvalidParameter(m) => (
            MetaFailKind::Rejected,
            "meta_invalid_parameter",
            "Meta rejected the request",
            Some(meta_details(m)),
            None,
        ),
        GraphError::Throttled {
            retry_after, meta, ..
        } => (
            MetaFailKind::Throttled,
            "meta_throttled",
            "Meta is rate limiting this account; try again later",
            Some(meta_details(meta)),
            Some(retry_after.as_secs().max(1)),
        ),
        GraphError::Transient { .. } => (
            MetaFailKind::Unavailable,
            "meta_unavailable",
            "Meta did not answer; try again in a moment",
            None,
            None,
        ),
        GraphError::WhatsApp { meta, .. } | GraphError::Other(meta) => (
            MetaFailKind::Rejected,
            "meta_error",
            "Meta returned an error",
            Some(meta_details(meta)),
            None,
        ),
        GraphError::UnexpectedResponse { .. } | GraphError::Request(_) => (
            MetaFailKind::Unavailable,
            "meta_unavailable",
            "Meta answered something unexpected; try again in a moment",
            None,
            None,
        ),
        GraphError::InvalidInput(msg) => {
            return MetaFail::Core(CoreError::validation("invalid_meta_input", msg.clone()));
        }
        GraphError::Config(msg) => {
            return MetaFail::Core(CoreError::Internal(format!("meta client config: {msg}")));
        }
    };
    MetaFail::Meta {
        kind,
        code,
        message: message.to_owned(),
        details,
        retry_after_secs: retry,
    }
}

// ---------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AdAccountRef {
    /// `act_…` id.
    pub id: String,
    pub name: Option<String>,
    /// ISO 4217.
    pub currency: Option<String>,
    /// IANA time zone of the ad account (Meta reports in it).
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct PhoneRef {
    pub id: String,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct WhatsAppRef {
    pub waba_id: String,
    pub waba_name: Option<String>,
    pub phone_numbers: Vec<PhoneRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct PageRef {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct BusinessRef {
    pub id: String,
    pub name: Option<String>,
}

/// `GET /api/crm/marketing/token-status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenStatus {
    pub connected: bool,
    /// ok, expiring, expired, invalid, missing_scopes, disconnected.
    pub status: String,
    /// oauth or system_user.
    pub source: Option<String>,
    /// Null for tokens that never expire.
    pub expires_at: Option<DateTime<Utc>>,
    pub days_left: Option<i64>,
    pub scopes: Vec<String>,
    pub missing_scopes: Vec<String>,
    pub meta_user_name: Option<String>,
    pub business: Option<BusinessRef>,
    pub ad_account: Option<AdAccountRef>,
    pub whatsapp: Option<WhatsAppRef>,
    pub pages: Vec<PageRef>,
    pub checked_at: Option<DateTime<Utc>>,
    pub connected_at: Option<DateTime<Utc>>,
    /// What Meta said when the connection last failed (no token in it).
    #[schema(value_type = Option<Object>)]
    pub last_error: Option<Value>,
}

/// What other features read about a tenant's connection.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConnectionInfo {
    pub tenant_id: Uuid,
    pub status: String,
    pub business_id: Option<String>,
    pub ad_accounts: Vec<AdAccountRef>,
    pub waba_id: Option<String>,
    pub phone_number_ids: Vec<String>,
    pub page_ids: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl ConnectionInfo {
    /// Whether Meta calls for this tenant are paused (token expired/invalid
    /// or disconnected).
    pub fn paused(&self) -> bool {
        is_paused_status(&self.status)
    }
}

fn is_paused_status(s: &str) -> bool {
    matches!(s, STATUS_EXPIRED | STATUS_INVALID | STATUS_DISCONNECTED)
}

fn json_strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The status a live token has from its expiry and scopes.
pub fn compute_status(
    expires_at: Option<DateTime<Utc>>,
    scopes: &[String],
    required: &[String],
    now: DateTime<Utc>,
) -> &'static str {
    if let Some(exp) = expires_at
        && exp <= now
    {
        return STATUS_EXPIRED;
    }
    if required.iter().any(|r| !scopes.contains(r)) {
        return STATUS_MISSING_SCOPES;
    }
    if let Some(exp) = expires_at
        && exp - now <= chrono::Duration::days(EXPIRING_DAYS)
    {
        return STATUS_EXPIRING;
    }
    STATUS_OK
}

// ---------------------------------------------------------------------------
// Storage helpers
// ---------------------------------------------------------------------------

async fn find_connection(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<Option<meta_connection::Model>, DbErr> {
    meta_connection::Entity::find()
        .filter(meta_connection::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await
}

async fn assets_of(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<Vec<meta_asset::Model>, DbErr> {
    meta_asset::Entity::find()
        .filter(meta_asset::Column::TenantId.eq(tenant_id))
        .order_by_asc(meta_asset::Column::Kind)
        .order_by_asc(meta_asset::Column::Name)
        .order_by_asc(meta_asset::Column::Id)
        .all(conn)
        .await
}

fn detail_str(a: &meta_asset::Model, key: &str) -> Option<String> {
    a.details
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn ad_account_ref(a: &meta_asset::Model) -> AdAccountRef {
    AdAccountRef {
        id: a.external_id.clone(),
        name: a.name.clone(),
        currency: detail_str(a, "currency"),
        timezone: detail_str(a, "timezone"),
    }
}

fn whatsapp_ref(assets: &[meta_asset::Model]) -> Option<WhatsAppRef> {
    let waba = assets.iter().find(|a| a.kind == ASSET_WABA)?;
    Some(WhatsAppRef {
        waba_id: waba.external_id.clone(),
        waba_name: waba.name.clone(),
        phone_numbers: assets
            .iter()
            .filter(|a| a.kind == ASSET_PHONE_NUMBER)
            .map(|a| PhoneRef {
                id: a.external_id.clone(),
                display_phone_number: detail_str(a, "display_phone_number"),
                verified_name: a.name.clone(),
            })
            .collect(),
    })
}

async fn store_credential(
    conn: &impl ConnectionTrait,
    keyring: &Keyring,
    tenant_id: Uuid,
    kind: &str,
    ref_id: &str,
    token: &AccessToken,
) -> Result<(), CoreError> {
    let sealed = keyring
        .seal(
            &vault::aad(tenant_id, kind, ref_id),
            token.expose().as_bytes(),
        )
        .map_err(|e| CoreError::Internal(format!("vault: {e}")))?;
    let now = Utc::now();
    let am = meta_credential::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(tenant_id),
        kind: Set(kind.to_owned()),
        ref_id: Set(ref_id.to_owned()),
        key_id: Set(sealed.key_id),
        nonce: Set(sealed.nonce),
        ciphertext: Set(sealed.ciphertext),
        created_at: Set(now),
        updated_at: Set(now),
    };
    meta_credential::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([
                meta_credential::Column::TenantId,
                meta_credential::Column::Kind,
                meta_credential::Column::RefId,
            ])
            .update_columns([
                meta_credential::Column::KeyId,
                meta_credential::Column::Nonce,
                meta_credential::Column::Ciphertext,
                meta_credential::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

async fn load_credential(
    conn: &impl ConnectionTrait,
    keyring: &Keyring,
    tenant_id: Uuid,
    kind: &str,
    ref_id: &str,
) -> Result<Option<AccessToken>, CoreError> {
    let Some(row) = meta_credential::Entity::find()
        .filter(meta_credential::Column::TenantId.eq(tenant_id))
        .filter(meta_credential::Column::Kind.eq(kind))
        .filter(meta_credential::Column::RefId.eq(ref_id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let sealed = Sealed {
        key_id: row.key_id,
        nonce: row.nonce,
        ciphertext: row.ciphertext,
    };
    let token = keyring
        .open_string(&sealed, &vault::aad(tenant_id, kind, ref_id))
        .map_err(|e| CoreError::Internal(format!("vault: {e}")))?;
    Ok(Some(AccessToken::new(token)))
}

async fn delete_credentials(conn: &impl ConnectionTrait, tenant_id: Uuid) -> Result<u64, DbErr> {
    Ok(meta_credential::Entity::delete_many()
        .filter(meta_credential::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Sets a connection's status, auditing the change. Returns whether it changed.
async fn set_status(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    row: &meta_connection::Model,
    status: &str,
    reason: &str,
    last_error: Option<Value>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let changed = row.status != status;
    let mut am: meta_connection::ActiveModel = row.clone().into();
    am.status = Set(status.to_owned());
    am.updated_at = Set(now);
    if last_error.is_some() || status == STATUS_OK {
        am.last_error = Set(last_error);
    }
    am.update(conn).await?;
    if changed {
        audit::record(
            conn,
            actor,
            "meta.status_changed",
            "meta_connection",
            Some(row.id.to_string()),
            json!({"from": row.status, "to": status, "reason": reason}),
        )
        .await?;
        crm_db::outbox::emit(
            conn,
            row.tenant_id,
            "meta_status_changed",
            "meta_connection",
            &row.id.to_string(),
            json!({"from": row.status, "to": status}),
        )
        .await?;
    }
    Ok(changed)
}

/// Schedules a tenant's token check at `at`. `after_job` is the check that is
/// scheduling its successor (each check schedules exactly one, even if it
/// runs twice); without it (a new connection) nothing is added when a check
/// is already queued or running, so there is one daily chain per tenant.
async fn schedule_health_check(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    at: DateTime<Utc>,
    after_job: Option<Uuid>,
) -> Result<bool, DbErr> {
    let dedupe = match after_job {
        Some(job) => format!("{HEALTH_JOB}:{tenant_id}:after:{job}"),
        None => {
            let pending = crm_db::entity::job::Entity::find()
                .filter(crm_db::entity::job::Column::TenantId.eq(tenant_id))
                .filter(crm_db::entity::job::Column::Kind.eq(HEALTH_JOB))
                .filter(crm_db::entity::job::Column::Status.is_in([jobs::QUEUED, jobs::RUNNING]))
                .one(conn)
                .await?;
            if pending.is_some() {
                return Ok(false);
            }
            format!("{HEALTH_JOB}:{tenant_id}:{}", at.format("%Y-%m-%dT%H"))
        }
    };
    jobs::enqueue(
        conn,
        NewJob {
            tenant_id: Some(tenant_id),
            kind: HEALTH_JOB.to_owned(),
            payload: json!({"tenant_id": tenant_id}),
            dedupe_key: Some(dedupe),
            run_at: at,
            max_attempts: 8,
        },
    )
    .await
}

// ---------------------------------------------------------------------------
// Public API for other features (sync, WhatsApp engine, webhooks)
// ---------------------------------------------------------------------------

/// The tenant's connection and selected assets, or `None` when the tenant
/// never connected Meta.
pub async fn connection_for_tenant(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<Option<ConnectionInfo>, DbErr> {
    let Some(c) = find_connection(db, tenant_id).await? else {
        return Ok(None);
    };
    let assets = assets_of(db, tenant_id).await?;
    Ok(Some(ConnectionInfo {
        tenant_id,
        status: c.status,
        business_id: c.business_id,
        ad_accounts: assets
            .iter()
            .filter(|a| a.kind == ASSET_AD_ACCOUNT)
            .map(ad_account_ref)
            .collect(),
        waba_id: assets
            .iter()
            .find(|a| a.kind == ASSET_WABA)
            .map(|a| a.external_id.clone()),
        phone_number_ids: assets
            .iter()
            .filter(|a| a.kind == ASSET_PHONE_NUMBER)
            .map(|a| a.external_id.clone())
            .collect(),
        page_ids: assets
            .iter()
            .filter(|a| a.kind == ASSET_PAGE)
            .map(|a| a.external_id.clone())
            .collect(),
        expires_at: c.expires_at,
    }))
}

/// Whether the tenant's Meta jobs must not call Meta now: never connected,
/// disconnected, or the token is expired/invalid. Jobs that find this true
/// should finish without calling Meta (a reconnect re-enables them).
pub async fn meta_paused(db: &impl ConnectionTrait, tenant_id: Uuid) -> Result<bool, DbErr> {
    Ok(match find_connection(db, tenant_id).await? {
        None => true,
        Some(c) => is_paused_status(&c.status),
    })
}

/// Whether the tenant has no Meta connection at all (never connected, or
/// disconnected), as opposed to one whose token stopped working.
pub async fn meta_not_connected(db: &impl ConnectionTrait, tenant_id: Uuid) -> Result<bool, DbErr> {
    Ok(match find_connection(db, tenant_id).await? {
        None => true,
        Some(c) => c.status == STATUS_DISCONNECTED,
    })
}

fn not_connected() -> CoreError {
    CoreError::conflict(
        "meta_not_connected",
        "Meta is not connected for this workspace; connect it in Settings → Meta",
    )
}

/// The tenant's user (or system-user) token, decrypted. Fails with
/// `meta_not_connected` or `meta_paused` instead of handing out a token
/// known to be unusable.
pub async fn access_token_for(
    db: &impl ConnectionTrait,
    keyring: &Keyring,
    tenant_id: Uuid,
) -> Result<AccessToken, CoreError> {
    let c = find_connection(db, tenant_id)
        .await?
        .ok_or_else(not_connected)?;
    if c.status == STATUS_DISCONNECTED {
        return Err(not_connected());
    }
    if is_paused_status(&c.status) {
        return Err(CoreError::conflict(
            "meta_paused",
            format!(
                "the Meta connection is {}; reconnect Meta to resume",
                c.status
            ),
        ));
    }
    load_credential(db, keyring, tenant_id, CRED_USER_TOKEN, "")
        .await?
        .ok_or_else(not_connected)
}

/// The stored Page token of a selected Lead Ads page.
pub async fn page_token_for(
    db: &impl ConnectionTrait,
    keyring: &Keyring,
    tenant_id: Uuid,
    page_id: &str,
) -> Result<AccessToken, CoreError> {
    if meta_paused(db, tenant_id).await? {
        return Err(CoreError::conflict(
            "meta_paused",
            "the Meta connection is not usable; reconnect Meta to resume",
        ));
    }
    load_credential(db, keyring, tenant_id, CRED_PAGE_TOKEN, page_id)
        .await?
        .ok_or(CoreError::NotFound("page token"))
}

async fn tenant_for_asset(
    db: &impl ConnectionTrait,
    kind: &str,
    external_id: &str,
) -> Result<Option<Uuid>, DbErr> {
    Ok(meta_asset::Entity::find()
        .filter(meta_asset::Column::Kind.eq(kind))
        .filter(meta_asset::Column::ExternalId.eq(external_id))
        .one(db)
        .await?
        .map(|a| a.tenant_id))
}

/// Webhook routing: the tenant that selected this Page for Lead Ads.
pub async fn tenant_for_page(
    db: &impl ConnectionTrait,
    page_id: &str,
) -> Result<Option<Uuid>, DbErr> {
    tenant_for_asset(db, ASSET_PAGE, page_id).await
}

/// Webhook routing: the tenant that selected this WhatsApp Business Account.
pub async fn tenant_for_waba(
    db: &impl ConnectionTrait,
    waba_id: &str,
) -> Result<Option<Uuid>, DbErr> {
    tenant_for_asset(db, ASSET_WABA, waba_id).await
}

/// Webhook routing: the tenant that selected this WhatsApp phone number id.
pub async fn tenant_for_phone_number_id(
    db: &impl ConnectionTrait,
    phone_number_id: &str,
) -> Result<Option<Uuid>, DbErr> {
    tenant_for_asset(db, ASSET_PHONE_NUMBER, phone_number_id).await
}

/// Records that Meta refused the tenant's token (Graph code 190): the
/// connection becomes `expired` (subcode 463) or `invalid`, the change is
/// audited, and [`meta_paused`] turns true. Other errors are ignored.
/// Returns whether the status changed.
pub async fn mark_invalid(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    error: &GraphError,
) -> Result<bool, DbErr> {
    let (status, meta) = match error {
        GraphError::TokenExpired(m) => (STATUS_EXPIRED, m),
        GraphError::TokenInvalid(m) => (STATUS_INVALID, m),
        _ => return Ok(false),
    };
    let details = json!({
        "meta_code": meta.code,
        "meta_subcode": meta.error_subcode,
        "meta_message": meta.message,
        "fbtrace_id": meta.fbtrace_id,
        "at": Utc::now(),
    });
    mark_status(db, tenant_id, status, "meta_rejected_token", details).await
}

async fn mark_status(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    status: &str,
    reason: &str,
    details: Value,
) -> Result<bool, DbErr> {
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let Some(row) = find_connection(&txn, tenant_id).await? else {
        return Ok(false);
    };
    if row.status == STATUS_DISCONNECTED {
        return Ok(false);
    }
    let changed = set_status(
        &txn,
        &Actor::system(tenant_id),
        &row,
        status,
        reason,
        Some(details),
    )
    .await?;
    txn.commit().await?;
    if changed {
        tracing::warn!(tenant = %tenant_id, status, "Meta connection paused: the token was refused");
    }
    Ok(changed)
}

/// Runs a Meta call for a tenant; a 190 marks the connection at once.
pub(crate) async fn guarded<T, F>(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    fut: F,
) -> Result<T, MetaFail>
where
    F: std::future::Future<Output = Result<T, GraphError>>,
{
    match fut.await {
        Ok(v) => Ok(v),
        Err(e) => {
            mark_invalid(db, tenant_id, &e).await?;
            Err(fail_from_graph(&e))
        }
    }
}

async fn tenant_session(
    db: &DatabaseConnection,
    env: &MetaEnv,
    tenant_id: Uuid,
) -> Result<Session, MetaFail> {
    let graph = env.graph()?;
    let token = access_token_for(db, &env.keyring, tenant_id).await?;
    Ok(graph.session(token))
}

// ---------------------------------------------------------------------------
// OAuth
// ---------------------------------------------------------------------------

/// Where the browser lands after the OAuth round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReturnTo {
    /// `/crm/marketing` (the Marketing Hub).
    #[default]
    Marketing,
    /// `/settings/meta`.
    Settings,
}

impl ReturnTo {
    pub fn path(self) -> &'static str {
        match self {
            ReturnTo::Marketing => "/crm/marketing",
            ReturnTo::Settings => "/settings/meta",
        }
    }

    fn from_path(p: &str) -> &'static str {
        if p == ReturnTo::Settings.path() {
            ReturnTo::Settings.path()
        } else {
            ReturnTo::Marketing.path()
        }
    }
}

/// Starts the OAuth flow: stores a single-use, hashed, 10-minute state bound
/// to the caller's tenant and user, and returns the Meta dialog URL.
pub async fn start_oauth(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    return_to: ReturnTo,
) -> Result<String, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let graph = env.graph()?;
    let user_id = ctx.user_id.ok_or_else(|| {
        CoreError::validation(
            "session_required",
            "connecting Meta is done by a signed-in person in the browser, not with an API token",
        )
    })?;
    let state = secrets::new_secret("");
    let redirect_uri = env.redirect_uri();
    let url = graph
        .authorize_url(&redirect_uri, &state, &env.login)
        .map_err(|e| fail_from_graph(&e))?;
    let now = Utc::now();
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    meta_oauth_state::Entity::delete_many()
        .filter(meta_oauth_state::Column::TenantId.eq(ctx.tenant_id))
        .filter(meta_oauth_state::Column::ExpiresAt.lt(now))
        .exec(&txn)
        .await?;
    meta_oauth_state::ActiveModel {
        id: Set(crm_db::new_id()),
        state_hash: Set(secrets::sha256_hex(&state)),
        tenant_id: Set(ctx.tenant_id),
        user_id: Set(user_id),
        redirect_uri: Set(redirect_uri),
        return_path: Set(return_to.path().to_owned()),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::minutes(STATE_TTL_MINUTES)),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "meta.oauth_started",
        "meta_connection",
        None,
        json!({"return_to": return_to.path()}),
    )
    .await?;
    txn.commit().await?;
    Ok(url.to_string())
}

/// The query Meta sends back to the callback.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_reason: Option<String>,
    pub error_description: Option<String>,
}

/// A failed callback: the user-readable error code and where to send the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackFailure {
    pub code: &'static str,
    pub return_path: &'static str,
}

fn cb_fail(code: &'static str, return_path: &'static str) -> CallbackFailure {
    CallbackFailure { code, return_path }
}

fn exchange_failure(e: &GraphError, code: &'static str) -> &'static str {
    match e {
        GraphError::Transient { .. } | GraphError::Throttled { .. } => "meta_unavailable",
        _ => code,
    }
}

/// Finishes the OAuth flow for the signed-in caller. On success returns the
/// UI path to land on; on failure a distinct error code. Nothing is stored
/// unless every step succeeded.
pub async fn complete_oauth(
    db: &DatabaseConnection,
    env: &MetaEnv,
    caller: Option<&TenantCtx>,
    p: &CallbackParams,
) -> Result<&'static str, CallbackFailure> {
    let default_path = ReturnTo::Marketing.path();
    let Some(ctx) = caller else {
        return Err(cb_fail("not_signed_in", default_path));
    };
    let Some(state) = p.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(cb_fail("state_missing", default_path));
    };
    let internal = |_e: DbErr| cb_fail("internal_error", default_path);
    let Some(row) = meta_oauth_state::Entity::find()
        .filter(meta_oauth_state::Column::StateHash.eq(secrets::sha256_hex(state)))
        .one(db)
        .await
        .map_err(internal)?
    else {
        return Err(cb_fail("state_invalid", default_path));
    };
    let return_path = ReturnTo::from_path(&row.return_path);
    if row.tenant_id != ctx.tenant_id || Some(row.user_id) != ctx.user_id {
        tracing::warn!(tenant = %ctx.tenant_id, "Meta OAuth callback with a state of another session refused");
        return Err(cb_fail("state_mismatch", return_path));
    }
    // Single use: whoever deletes the row owns the state.
    let consumed = meta_oauth_state::Entity::delete_many()
        .filter(meta_oauth_state::Column::Id.eq(row.id))
        .exec(db)
        .await
        .map_err(internal)?
        .rows_affected;
    if consumed != 1 {
        return Err(cb_fail("state_invalid", return_path));
    }
    if row.expires_at <= Utc::now() {
        return Err(cb_fail("state_expired", return_path));
    }
    if let Some(err) = p.error.as_deref() {
        let code = if err == "access_denied" || p.error_reason.as_deref() == Some("user_denied") {
            "cancelled"
        } else {
            "meta_denied"
        };
        return Err(cb_fail(code, return_path));
    }
    if !ctx.can(Permission::MetaManage) {
        return Err(cb_fail("forbidden", return_path));
    }
    let Some(code) = p.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(cb_fail("code_missing", return_path));
    };
    let Ok(graph) = env.graph() else {
        return Err(cb_fail("not_configured", return_path));
    };
    let short = graph
        .exchange_code(code, &row.redirect_uri)
        .await
        .map_err(|e| cb_fail(exchange_failure(&e, "code_exchange_failed"), return_path))?;
    let long = graph
        .exchange_long_lived(&short.access_token)
        .await
        .map_err(|e| cb_fail(exchange_failure(&e, "token_exchange_failed"), return_path))?;
    let info = graph
        .debug_token(&long.access_token)
        .await
        .map_err(|e| cb_fail(exchange_failure(&e, "token_check_failed"), return_path))?;
    if !info.is_valid {
        return Err(cb_fail("token_check_failed", return_path));
    }
    if info
        .app_id
        .as_deref()
        .is_some_and(|a| a != graph.config().app_id)
    {
        return Err(cb_fail("token_wrong_app", return_path));
    }
    let me = graph.session(long.access_token.clone()).me().await.ok();
    save_connection(
        db,
        env,
        ctx,
        "oauth",
        &long.access_token,
        &info,
        me.as_ref(),
    )
    .await
    .map_err(|e| {
        tracing::error!(tenant = %ctx.tenant_id, "saving the Meta connection failed: {e}");
        cb_fail("internal_error", return_path)
    })?;
    Ok(return_path)
}

/// Stores (or replaces) the tenant's token and connection metadata, all in
/// one transaction, and schedules the daily health check.
async fn save_connection(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    source: &str,
    token: &AccessToken,
    info: &meta_graph::DebugToken,
    me: Option<&meta_graph::Me>,
) -> Result<String, CoreError> {
    let now = Utc::now();
    let expires_at = info
        .expires_at_unix()
        .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
    let data_access = info
        .data_access_expires_at
        .filter(|t| *t > 0)
        .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
    let status = compute_status(expires_at, &info.scopes, &env.required_scopes, now);
    let granular = serde_json::to_value(&info.granular_scopes).unwrap_or(Value::Array(vec![]));
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let previous = find_connection(&txn, ctx.tenant_id).await?;
    let am = meta_connection::ActiveModel {
        id: Set(previous
            .as_ref()
            .map(|p| p.id)
            .unwrap_or_else(crm_db::new_id)),
        tenant_id: Set(ctx.tenant_id),
        status: Set(status.to_owned()),
        source: Set(source.to_owned()),
        meta_user_id: Set(info.user_id.clone().or_else(|| me.map(|m| m.id.clone()))),
        meta_user_name: Set(me.and_then(|m| m.name.clone())),
        token_type: Set(info.token_type.clone()),
        scopes: Set(json!(info.scopes)),
        granular_scopes: Set(granular),
        expires_at: Set(expires_at),
        data_access_expires_at: Set(data_access),
        checked_at: Set(Some(now)),
        last_error: Set(None),
        business_id: Set(previous.as_ref().and_then(|p| p.business_id.clone())),
        business_name: Set(previous.as_ref().and_then(|p| p.business_name.clone())),
        connected_by: Set(ctx.user_id),
        connected_at: Set(Some(now)),
        disconnected_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    meta_connection::Entity::insert(am)
        .on_conflict(
            OnConflict::column(meta_connection::Column::TenantId)
                .update_columns([
                    meta_connection::Column::Status,
                    meta_connection::Column::Source,
                    meta_connection::Column::MetaUserId,
                    meta_connection::Column::MetaUserName,
                    meta_connection::Column::TokenType,
                    meta_connection::Column::Scopes,
                    meta_connection::Column::GranularScopes,
                    meta_connection::Column::ExpiresAt,
                    meta_connection::Column::DataAccessExpiresAt,
                    meta_connection::Column::CheckedAt,
                    meta_connection::Column::LastError,
                    meta_connection::Column::ConnectedBy,
                    meta_connection::Column::ConnectedAt,
                    meta_connection::Column::DisconnectedAt,
                    meta_connection::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    store_credential(
        &txn,
        &env.keyring,
        ctx.tenant_id,
        CRED_USER_TOKEN,
        "",
        token,
    )
    .await?;
    let row = find_connection(&txn, ctx.tenant_id)
        .await?
        .ok_or(CoreError::NotFound("meta connection"))?;
    let missing: Vec<&String> = env
        .required_scopes
        .iter()
        .filter(|r| !info.scopes.contains(r))
        .collect();
    audit::record(
        &txn,
        &ctx.actor(),
        "meta.connected",
        "meta_connection",
        Some(row.id.to_string()),
        json!({
            "source": source,
            "token_type": info.token_type,
            "meta_user_id": row.meta_user_id,
            "scopes": info.scopes,
            "missing_scopes": missing,
            "expires_at": expires_at,
        }),
    )
    .await?;
    let previous_status = previous
        .as_ref()
        .map(|p| p.status.clone())
        .unwrap_or_else(|| STATUS_DISCONNECTED.to_owned());
    if previous_status != status {
        audit::record(
            &txn,
            &ctx.actor(),
            "meta.status_changed",
            "meta_connection",
            Some(row.id.to_string()),
            json!({"from": previous_status, "to": status, "reason": "connected"}),
        )
        .await?;
    }
    crm_db::outbox::emit(
        &txn,
        ctx.tenant_id,
        "meta_connected",
        "meta_connection",
        &row.id.to_string(),
        json!({"status": status, "source": source}),
    )
    .await?;
    schedule_health_check(&txn, ctx.tenant_id, now + chrono::Duration::days(1), None).await?;
    txn.commit().await?;
    Ok(status.to_owned())
}

/// An admin pastes a system-user token (agencies): validated with
/// `debug_token` and stored like an OAuth token.
pub async fn connect_system_user_token(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    token: &str,
) -> Result<TokenStatus, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let token = token.trim();
    if token.len() < 20 || token.len() > 2048 || token.chars().any(|c| c.is_whitespace()) {
        return Err(CoreError::validation(
            "token_malformed",
            "paste the whole system-user access token (no spaces)",
        )
        .into());
    }
    let graph = env.graph()?;
    let token = AccessToken::new(token);
    let info = graph
        .debug_token(&token)
        .await
        .map_err(|e| fail_from_graph(&e))?;
    if !info.is_valid {
        return Err(CoreError::validation(
            "token_invalid",
            "Meta says this token is not valid (expired, revoked or mistyped)",
        )
        .into());
    }
    if info
        .app_id
        .as_deref()
        .is_some_and(|a| a != graph.config().app_id)
    {
        return Err(CoreError::validation(
            "token_wrong_app",
            "this token belongs to another Meta app; generate it for this CRM's app",
        )
        .into());
    }
    if matches!(info.token_type.as_deref(), Some("PAGE") | Some("APP")) {
        return Err(CoreError::validation(
            "token_wrong_type",
            "paste a system-user (or user) token, not a Page or app token",
        )
        .into());
    }
    let me = graph.session(token.clone()).me().await.ok();
    save_connection(db, env, ctx, "system_user", &token, &info, me.as_ref()).await?;
    Ok(token_status(db, env, ctx).await?)
}

/// Revokes the app at Meta (`DELETE /me/permissions`) and deletes the local
/// credentials and asset selection. Synced history stays; the connection is
/// kept as `disconnected`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Disconnected {
    /// Whether Meta confirmed the revocation (false when the token was
    /// already unusable or Meta could not be reached).
    pub revoked_at_meta: bool,
    pub status: String,
}

pub async fn disconnect(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
) -> Result<Disconnected, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let Some(row) = find_connection(db, ctx.tenant_id).await? else {
        return Err(not_connected().into());
    };
    if row.status == STATUS_DISCONNECTED {
        return Err(not_connected().into());
    }
    let token = load_credential(db, &env.keyring, ctx.tenant_id, CRED_USER_TOKEN, "").await?;
    let mut revoked = false;
    if let (Some(token), Some(graph)) = (token, env.graph.as_ref()) {
        match graph.session(token).revoke_permissions().await {
            Ok(ok) => revoked = ok,
            Err(e) => tracing::warn!(tenant = %ctx.tenant_id, "revoking at Meta failed: {e}"),
        }
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let creds = delete_credentials(&txn, ctx.tenant_id).await?;
    let assets = meta_asset::Entity::delete_many()
        .filter(meta_asset::Column::TenantId.eq(ctx.tenant_id))
        .exec(&txn)
        .await?
        .rows_affected;
    let now = Utc::now();
    let mut am: meta_connection::ActiveModel = row.clone().into();
    am.status = Set(STATUS_DISCONNECTED.to_owned());
    am.disconnected_at = Set(Some(now));
    am.updated_at = Set(now);
    am.update(&txn).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "meta.disconnected",
        "meta_connection",
        Some(row.id.to_string()),
        json!({"revoked_at_meta": revoked, "credentials_deleted": creds, "assets_released": assets}),
    )
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "meta.status_changed",
        "meta_connection",
        Some(row.id.to_string()),
        json!({"from": row.status, "to": STATUS_DISCONNECTED, "reason": "disconnected"}),
    )
    .await?;
    crm_db::outbox::emit(
        &txn,
        ctx.tenant_id,
        "meta_disconnected",
        "meta_connection",
        &row.id.to_string(),
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(Disconnected {
        revoked_at_meta: revoked,
        status: STATUS_DISCONNECTED.to_owned(),
    })
}

// ---------------------------------------------------------------------------
// Status, token metadata, live test
// ---------------------------------------------------------------------------

/// The connection's status for banners and the settings page. Expiry is
/// re-evaluated against the clock; a change is stored and audited.
pub async fn token_status(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
) -> Result<TokenStatus, CoreError> {
    ctx.require(Permission::MarketingRead)?;
    let Some(mut row) = find_connection(db, ctx.tenant_id).await? else {
        return Ok(TokenStatus {
            connected: false,
            status: STATUS_DISCONNECTED.to_owned(),
            source: None,
            expires_at: None,
            days_left: None,
            scopes: vec![],
            missing_scopes: vec![],
            meta_user_name: None,
            business: None,
            ad_account: None,
            whatsapp: None,
            pages: vec![],
            checked_at: None,
            connected_at: None,
            last_error: None,
        });
    };
    let now = Utc::now();
    let scopes = json_strings(&row.scopes);
    if matches!(
        row.status.as_str(),
        STATUS_OK | STATUS_EXPIRING | STATUS_MISSING_SCOPES
    ) {
        let fresh = compute_status(row.expires_at, &scopes, &env.required_scopes, now);
        if fresh != row.status {
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            set_status(
                &txn,
                &Actor::system(ctx.tenant_id),
                &row,
                fresh,
                "expiry_reached",
                None,
            )
            .await?;
            txn.commit().await?;
            row.status = fresh.to_owned();
        }
    }
    let assets = if row.status == STATUS_DISCONNECTED {
        vec![]
    } else {
        assets_of(db, ctx.tenant_id).await?
    };
    let connected = row.status != STATUS_DISCONNECTED;
    Ok(TokenStatus {
        connected,
        missing_scopes: if connected {
            env.required_scopes
                .iter()
                .filter(|r| !scopes.contains(r))
                .cloned()
                .collect()
        } else {
            vec![]
        },
        scopes: if connected { scopes } else { vec![] },
        status: row.status.clone(),
        source: Some(row.source.clone()),
        expires_at: row.expires_at.filter(|_| connected),
        days_left: row
            .expires_at
            .filter(|_| connected)
            .map(|e| (e - now).num_days().max(0)),
        meta_user_name: row.meta_user_name.clone().filter(|_| connected),
        business: row
            .business_id
            .clone()
            .filter(|_| connected)
            .map(|id| BusinessRef {
                id,
                name: row.business_name.clone(),
            }),
        ad_account: assets
            .iter()
            .find(|a| a.kind == ASSET_AD_ACCOUNT)
            .map(ad_account_ref),
        whatsapp: whatsapp_ref(&assets),
        pages: assets
            .iter()
            .filter(|a| a.kind == ASSET_PAGE)
            .map(|a| PageRef {
                id: a.external_id.clone(),
                name: a.name.clone(),
            })
            .collect(),
        checked_at: row.checked_at,
        connected_at: row.connected_at,
        last_error: row.last_error.clone(),
    })
}

/// `GET /api/crm/auth/meta/debug/token`: what Meta says about the stored
/// token. Metadata only; never any part of the token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenMetadata {
    pub is_valid: bool,
    /// USER, SYSTEM_USER, PAGE, APP.
    pub token_type: Option<String>,
    pub app_id: Option<String>,
    pub meta_user_id: Option<String>,
    pub issued_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub data_access_expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub granular_scopes: Value,
    /// Meta's error for an invalid token (code, subcode, message).
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
}

fn ts(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.filter(|t| *t > 0)
        .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
}

pub async fn debug_token(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
) -> Result<TokenMetadata, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let graph = env.graph()?;
    let token = load_credential(db, &env.keyring, ctx.tenant_id, CRED_USER_TOKEN, "")
        .await?
        .ok_or_else(not_connected)?;
    let info = graph
        .debug_token(&token)
        .await
        .map_err(|e| fail_from_graph(&e))?;
    if !info.is_valid
        && let Some(err) = &info.error
    {
        let status = if err.subcode == Some(463) {
            STATUS_EXPIRED
        } else {
            STATUS_INVALID
        };
        mark_status(
            db,
            ctx.tenant_id,
            status,
            "debug_token",
            json!({"meta_code": err.code, "meta_subcode": err.subcode, "meta_message": err.message, "at": Utc::now()}),
        )
        .await?;
    }
    audit::record(
        db,
        &ctx.actor(),
        "meta.token_inspected",
        "meta_connection",
        None,
        json!({"is_valid": info.is_valid}),
    )
    .await?;
    Ok(TokenMetadata {
        is_valid: info.is_valid,
        token_type: info.token_type.clone(),
        app_id: info.app_id.clone(),
        meta_user_id: info.user_id.clone(),
        issued_at: ts(info.issued_at),
        expires_at: ts(info.expires_at),
        data_access_expires_at: ts(info.data_access_expires_at),
        scopes: info.scopes.clone(),
        granular_scopes: serde_json::to_value(&info.granular_scopes).unwrap_or(Value::Null),
        error: info
            .error
            .as_ref()
            .map(|e| json!({"code": e.code, "subcode": e.subcode, "message": e.message})),
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionCheck {
    /// me, ad_account, whatsapp.
    pub name: String,
    pub ok: bool,
    /// Not run because nothing is selected (or an earlier check failed).
    pub skipped: bool,
    pub detail: String,
    /// Stable error code when the check failed (e.g. `meta_token_expired`).
    pub error_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    /// The connection status after the test.
    pub status: String,
    pub checks: Vec<ConnectionCheck>,
}

fn check_ok(name: &str, detail: String) -> ConnectionCheck {
    ConnectionCheck {
        name: name.to_owned(),
        ok: true,
        skipped: false,
        detail,
        error_code: None,
    }
}

fn check_skipped(name: &str, detail: &str) -> ConnectionCheck {
    ConnectionCheck {
        name: name.to_owned(),
        ok: false,
        skipped: true,
        detail: detail.to_owned(),
        error_code: None,
    }
}

fn check_failed(name: &str, e: &GraphError) -> ConnectionCheck {
    let (code, message) = match fail_from_graph(e) {
        MetaFail::Meta { code, message, .. } => (code.to_owned(), message),
        MetaFail::Core(c) => ("error".to_owned(), c.to_string()),
    };
    ConnectionCheck {
        name: name.to_owned(),
        ok: false,
        skipped: false,
        detail: message,
        error_code: Some(code),
    }
}

/// A live check: `/me`, the selected ad account and the selected WABA's
/// numbers. A 190 marks the connection at once.
pub async fn test_connection(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
) -> Result<ConnectionTest, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let graph = env.graph()?;
    let row = find_connection(db, ctx.tenant_id)
        .await?
        .filter(|r| r.status != STATUS_DISCONNECTED)
        .ok_or_else(not_connected)?;
    let token = load_credential(db, &env.keyring, ctx.tenant_id, CRED_USER_TOKEN, "")
        .await?
        .ok_or_else(not_connected)?;
    let session = graph.session(token);
    let assets = assets_of(db, ctx.tenant_id).await?;
    let mut checks = Vec::new();
    let mut token_refused = false;
    match session.me().await {
        Ok(me) => checks.push(check_ok(
            "me",
            format!("token works for {}", me.name.unwrap_or(me.id)),
        )),
        Err(e) => {
            token_refused = mark_invalid(db, ctx.tenant_id, &e).await?
                || matches!(e, GraphError::TokenExpired(_) | GraphError::TokenInvalid(_));
            checks.push(check_failed("me", &e));
        }
    }
    if token_refused {
        checks.push(check_skipped(
            "ad_account",
            "skipped: the token was refused",
        ));
        checks.push(check_skipped("whatsapp", "skipped: the token was refused"));
    } else {
        match assets.iter().find(|a| a.kind == ASSET_AD_ACCOUNT) {
            None => checks.push(check_skipped("ad_account", "no ad account selected")),
            Some(a) => match session.ad_account(&a.external_id).await {
                Ok(acc) => checks.push(check_ok(
                    "ad_account",
                    format!(
                        "{} ({}, {})",
                        acc.name.clone().unwrap_or_else(|| acc.id.clone()),
                        acc.currency.clone().unwrap_or_default(),
                        acc.status_name().unwrap_or("UNKNOWN")
                    ),
                )),
                Err(e) => {
                    mark_invalid(db, ctx.tenant_id, &e).await?;
                    checks.push(check_failed("ad_account", &e));
                }
            },
        }
        match assets.iter().find(|a| a.kind == ASSET_WABA) {
            None => checks.push(check_skipped("whatsapp", "no WhatsApp number selected")),
            Some(w) => match session.phone_numbers(&w.external_id).await {
                Ok(numbers) => {
                    let selected: Vec<&meta_asset::Model> = assets
                        .iter()
                        .filter(|a| a.kind == ASSET_PHONE_NUMBER)
                        .collect();
                    let missing: Vec<String> = selected
                        .iter()
                        .filter(|s| !numbers.iter().any(|n| n.id == s.external_id))
                        .map(|s| s.external_id.clone())
                        .collect();
                    if missing.is_empty() {
                        checks.push(check_ok(
                            "whatsapp",
                            format!(
                                "WhatsApp account reachable; {} selected number(s) found",
                                selected.len()
                            ),
                        ));
                    } else {
                        checks.push(ConnectionCheck {
                            name: "whatsapp".into(),
                            ok: false,
                            skipped: false,
                            detail: format!(
                                "selected numbers no longer in the WhatsApp account: {}",
                                missing.join(", ")
                            ),
                            error_code: Some("phone_number_missing".into()),
                        });
                    }
                }
                Err(e) => {
                    mark_invalid(db, ctx.tenant_id, &e).await?;
                    checks.push(check_failed("whatsapp", &e));
                }
            },
        }
    }
    let ok = checks.iter().all(|c| c.ok || c.skipped) && !token_refused;
    let mut status = find_connection(db, ctx.tenant_id)
        .await?
        .map(|r| r.status)
        .unwrap_or_else(|| row.status.clone());
    if ok && is_paused_status(&status) {
        // The token works again (e.g. Meta restored it): recompute.
        let fresh = compute_status(
            row.expires_at,
            &json_strings(&row.scopes),
            &env.required_scopes,
            Utc::now(),
        );
        if let Some(cur) = find_connection(db, ctx.tenant_id).await? {
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            set_status(&txn, &ctx.actor(), &cur, fresh, "test_connection_ok", None).await?;
            txn.commit().await?;
        }
        status = fresh.to_owned();
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    meta_connection::Entity::update_many()
        .col_expr(meta_connection::Column::CheckedAt, Some(Utc::now()).into())
        .filter(meta_connection::Column::TenantId.eq(ctx.tenant_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "meta.connection_tested",
        "meta_connection",
        Some(row.id.to_string()),
        json!({"ok": ok, "checks": checks.iter().map(|c| json!({"name": c.name, "ok": c.ok, "error_code": c.error_code})).collect::<Vec<_>>()}),
    )
    .await?;
    txn.commit().await?;
    Ok(ConnectionTest { ok, status, checks })
}

// ---------------------------------------------------------------------------
// Asset discovery and selection
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Portfolio {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdAccountOption {
    /// `act_…`.
    pub id: String,
    pub account_id: Option<String>,
    pub name: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
    /// ACTIVE, DISABLED, UNSETTLED, …
    pub status: Option<String>,
    /// owned or client.
    pub ownership: String,
    pub business_name: Option<String>,
}

pub async fn portfolios(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
) -> Result<Vec<Portfolio>, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let s = tenant_session(db, env, ctx.tenant_id).await?;
    let list = guarded(db, ctx.tenant_id, s.businesses()).await?;
    Ok(list
        .into_iter()
        .map(|b| Portfolio {
            id: b.id,
            name: b.name,
        })
        .collect())
}

fn account_option(a: meta_graph::AdAccount, ownership: &str) -> AdAccountOption {
    AdAccountOption {
        status: a.status_name().map(str::to_owned),
        id: a.id,
        account_id: a.account_id,
        name: a.name,
        currency: a.currency,
        timezone: a.timezone_name,
        ownership: ownership.to_owned(),
        business_name: a.business.and_then(|b| b.name),
    }
}

/// Owned and client ad accounts of a portfolio (or, without one, every
/// account the token reaches), every page, deduplicated, sorted by name.
pub async fn ad_accounts(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    portfolio_id: Option<&str>,
) -> Result<Vec<AdAccountOption>, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let s = tenant_session(db, env, ctx.tenant_id).await?;
    let mut out: Vec<AdAccountOption> = Vec::new();
    match portfolio_id.map(str::trim).filter(|p| !p.is_empty()) {
        Some(biz) => {
            validate_numeric_id("portfolio_id", biz)?;
            let owned = guarded(db, ctx.tenant_id, s.owned_ad_accounts(biz)).await?;
            let client = guarded(db, ctx.tenant_id, s.client_ad_accounts(biz)).await?;
            for a in owned {
                if !out.iter().any(|x| x.id == a.id) {
                    out.push(account_option(a, "owned"));
                }
            }
            for a in client {
                if !out.iter().any(|x| x.id == a.id) {
                    out.push(account_option(a, "client"));
                }
            }
        }
        None => {
            for a in guarded(db, ctx.tenant_id, s.my_ad_accounts()).await? {
                if !out.iter().any(|x| x.id == a.id) {
                    out.push(account_option(a, "owned"));
                }
            }
        }
    }
    out.sort_by(|a, b| {
        a.name
            .clone()
            .unwrap_or_default()
            .to_lowercase()
            .cmp(&b.name.clone().unwrap_or_default().to_lowercase())
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(out)
}

fn validate_numeric_id(field: &'static str, v: &str) -> Result<(), CoreError> {
    if v.is_empty() || v.len() > 40 || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(CoreError::Validation {
            code: "invalid_meta_id",
            message: format!("{field} must be a numeric Meta id"),
            details: Some(json!({"field": field})),
        });
    }
    Ok(())
}

/// Accepts `act_123` or `123`; returns `act_123`.
pub fn normalize_ad_account_id(raw: &str) -> Result<String, CoreError> {
    let t = raw.trim();
    let digits = t.strip_prefix("act_").unwrap_or(t);
    if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(CoreError::validation(
            "invalid_account_id",
            "an ad account id looks like act_1234567890 (or just its digits)",
        ));
    }
    Ok(format!("act_{digits}"))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ConnectAdAccount {
    /// `act_…` id or its digits.
    #[schema(pattern = r"^\s*(act_)?[0-9]{1,30}\s*$")]
    pub account_id: String,
    /// The name shown in the picker (Meta's own name wins when it has one).
    #[serde(default)]
    pub account_name: Option<String>,
    /// The business portfolio the account was picked from.
    #[serde(default)]
    pub portfolio_id: Option<String>,
    #[serde(default)]
    pub portfolio_name: Option<String>,
}

struct NewAsset {
    kind: &'static str,
    external_id: String,
    name: Option<String>,
    parent_id: Option<String>,
    details: Value,
}

/// Replaces the tenant's assets of `kinds` with `new`. An asset another
/// tenant already selected is a 409 `asset_in_use` (webhooks route by it).
async fn replace_assets(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    kinds: &[&str],
    new: Vec<NewAsset>,
) -> Result<(), CoreError> {
    for a in &new {
        if let Some(owner) = tenant_for_asset(conn, a.kind, &a.external_id).await?
            && owner != tenant_id
        {
            return Err(in_use(a));
        }
    }
    meta_asset::Entity::delete_many()
        .filter(meta_asset::Column::TenantId.eq(tenant_id))
        .filter(meta_asset::Column::Kind.is_in(kinds.iter().copied()))
        .exec(conn)
        .await?;
    let now = Utc::now();
    for a in &new {
        let rows = meta_asset::Entity::insert(meta_asset::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(tenant_id),
            kind: Set(a.kind.to_owned()),
            external_id: Set(a.external_id.clone()),
            name: Set(a.name.clone()),
            parent_id: Set(a.parent_id.clone()),
            details: Set(a.details.clone()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([meta_asset::Column::Kind, meta_asset::Column::ExternalId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        if rows == 0 {
            return Err(in_use(a));
        }
    }
    Ok(())
}

fn in_use(a: &NewAsset) -> CoreError {
    CoreError::Conflict {
        code: "asset_in_use",
        message: format!(
            "this {} is already connected to another workspace",
            a.kind.replace('_', " ")
        ),
        details: Some(json!({"kind": a.kind, "id": a.external_id})),
    }
}

async fn require_live_connection(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<meta_connection::Model, CoreError> {
    find_connection(conn, tenant_id)
        .await?
        .filter(|r| r.status != STATUS_DISCONNECTED)
        .ok_or_else(not_connected)
}

/// `POST /api/crm/marketing/connect`: selects the ad account after checking
/// this tenant's token can read it.
pub async fn connect_ad_account(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    input: &ConnectAdAccount,
) -> Result<TokenStatus, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let act = normalize_ad_account_id(&input.account_id)?;
    let portfolio = match input.portfolio_id.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => {
            validate_numeric_id("portfolio_id", p)?;
            Some(p.to_owned())
        }
        _ => None,
    };
    let s = tenant_session(db, env, ctx.tenant_id).await?;
    let acc = match s.ad_account(&act).await {
        Ok(a) => a,
        Err(e) => {
            mark_invalid(db, ctx.tenant_id, &e).await?;
            return Err(match e {
                GraphError::NotFound(_) | GraphError::PermissionMissing(_) => {
                    CoreError::Validation {
                        code: "ad_account_unreachable",
                        message: format!(
                            "{act} is not reachable with this Meta connection; pick one from the list or grant access to it"
                        ),
                        details: Some(json!({"account_id": act})),
                    }
                    .into()
                }
                other => fail_from_graph(&other),
            });
        }
    };
    let name = acc
        .name
        .clone()
        .or_else(|| input.account_name.clone().filter(|n| !n.trim().is_empty()));
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let row = require_live_connection(&txn, ctx.tenant_id).await?;
    replace_assets(
        &txn,
        ctx.tenant_id,
        &[ASSET_AD_ACCOUNT],
        vec![NewAsset {
            kind: ASSET_AD_ACCOUNT,
            external_id: acc.id.clone(),
            name: name.clone(),
            parent_id: acc
                .business
                .as_ref()
                .map(|b| b.id.clone())
                .or(portfolio.clone()),
            details: json!({
                "currency": acc.currency,
                "timezone": acc.timezone_name,
                "account_status": acc.status_name(),
                "account_id": acc.account_id,
            }),
        }],
    )
    .await?;
    let business_id = portfolio
        .clone()
        .or_else(|| acc.business.as_ref().map(|b| b.id.clone()));
    if business_id.is_some() {
        let business_name = input
            .portfolio_name
            .clone()
            .or_else(|| acc.business.as_ref().and_then(|b| b.name.clone()));
        let mut am: meta_connection::ActiveModel = row.clone().into();
        am.business_id = Set(business_id.clone());
        am.business_name = Set(business_name);
        am.updated_at = Set(Utc::now());
        am.update(&txn).await?;
    }
    audit::record(
        &txn,
        &ctx.actor(),
        "meta.ad_account_selected",
        "meta_connection",
        Some(row.id.to_string()),
        json!({"ad_account_id": acc.id, "name": name, "currency": acc.currency, "timezone": acc.timezone_name, "portfolio_id": business_id}),
    )
    .await?;
    crm_db::outbox::emit(
        &txn,
        ctx.tenant_id,
        "meta_ad_account_selected",
        "meta_connection",
        &row.id.to_string(),
        json!({"ad_account_id": acc.id}),
    )
    .await?;
    txn.commit().await?;
    Ok(token_status(db, env, ctx).await?)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WabaOption {
    pub id: String,
    pub name: Option<String>,
    /// owned or client.
    pub ownership: String,
    pub phone_numbers: Vec<PhoneOption>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhoneOption {
    pub id: String,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
    /// GREEN, YELLOW, RED, UNKNOWN.
    pub quality_rating: Option<String>,
}

fn portfolio_for(
    row: &meta_connection::Model,
    portfolio_id: Option<&str>,
) -> Result<String, CoreError> {
    match portfolio_id.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => {
            validate_numeric_id("portfolio_id", p)?;
            Ok(p.to_owned())
        }
        None => row.business_id.clone().ok_or_else(|| {
            CoreError::validation(
                "portfolio_required",
                "pick a business portfolio first (portfolio_id)",
            )
        }),
    }
}

/// WhatsApp Business Accounts of a portfolio with their phone numbers.
pub async fn whatsapp_accounts(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    portfolio_id: Option<&str>,
) -> Result<Vec<WabaOption>, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let row = require_live_connection(db, ctx.tenant_id).await?;
    let biz = portfolio_for(&row, portfolio_id)?;
    let s = tenant_session(db, env, ctx.tenant_id).await?;
    let wabas = guarded(db, ctx.tenant_id, s.wabas(&biz)).await?;
    let mut out = Vec::with_capacity(wabas.len());
    for w in wabas {
        let numbers = guarded(db, ctx.tenant_id, s.phone_numbers(&w.id)).await?;
        out.push(WabaOption {
            ownership: match w.ownership {
                meta_graph::whatsapp::Ownership::Owned => "owned".into(),
                meta_graph::whatsapp::Ownership::Client => "client".into(),
            },
            id: w.id,
            name: w.name,
            phone_numbers: numbers
                .into_iter()
                .map(|n| PhoneOption {
                    id: n.id,
                    display_phone_number: n.display_phone_number,
                    verified_name: n.verified_name,
                    quality_rating: n.quality_rating,
                })
                .collect(),
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SelectWhatsApp {
    #[schema(pattern = r"^\s*[0-9]{1,40}\s*$")]
    pub waba_id: String,
    /// One or more phone number ids of that WABA.
    #[schema(min_items = 1)]
    pub phone_number_ids: Vec<String>,
}

/// Selects a WABA and its numbers, subscribing the app to the WABA's webhooks.
pub async fn select_whatsapp(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    input: &SelectWhatsApp,
) -> Result<TokenStatus, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let waba = input.waba_id.trim();
    validate_numeric_id("waba_id", waba)?;
    if input.phone_number_ids.is_empty() {
        return Err(CoreError::validation(
            "phone_number_required",
            "select at least one WhatsApp phone number",
        )
        .into());
    }
    require_live_connection(db, ctx.tenant_id).await?;
    let s = tenant_session(db, env, ctx.tenant_id).await?;
    let info: meta_graph::Waba = guarded(
        db,
        ctx.tenant_id,
        s.call(&meta_graph::GraphRequest::get(waba.to_owned()).query("fields", "id,name")),
    )
    .await?;
    let numbers = guarded(db, ctx.tenant_id, s.phone_numbers(waba)).await?;
    let mut chosen = Vec::new();
    for id in &input.phone_number_ids {
        let id = id.trim();
        let Some(n) = numbers.iter().find(|n| n.id == id) else {
            return Err(CoreError::Validation {
                code: "phone_number_not_in_waba",
                message: format!("phone number {id} does not belong to WhatsApp account {waba}"),
                details: Some(json!({"phone_number_id": id})),
            }
            .into());
        };
        if !chosen
            .iter()
            .any(|c: &&meta_graph::PhoneNumber| c.id == n.id)
        {
            chosen.push(n);
        }
    }
    guarded(db, ctx.tenant_id, s.subscribe_waba(waba)).await?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let row = require_live_connection(&txn, ctx.tenant_id).await?;
    let mut new = vec![NewAsset {
        kind: ASSET_WABA,
        external_id: waba.to_owned(),
        name: info.name.clone(),
        parent_id: row.business_id.clone(),
        details: json!({"subscribed": true}),
    }];
    for n in &chosen {
        new.push(NewAsset {
            kind: ASSET_PHONE_NUMBER,
            external_id: n.id.clone(),
            name: n.verified_name.clone(),
            parent_id: Some(waba.to_owned()),
            details: json!({"display_phone_number": n.display_phone_number, "quality_rating": n.quality_rating}),
        });
    }
    replace_assets(&txn, ctx.tenant_id, &[ASSET_WABA, ASSET_PHONE_NUMBER], new).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "meta.whatsapp_selected",
        "meta_connection",
        Some(row.id.to_string()),
        json!({"waba_id": waba, "phone_number_ids": chosen.iter().map(|n| n.id.clone()).collect::<Vec<_>>(), "subscribed": true}),
    )
    .await?;
    crm_db::outbox::emit(
        &txn,
        ctx.tenant_id,
        "meta_whatsapp_selected",
        "meta_connection",
        &row.id.to_string(),
        json!({"waba_id": waba}),
    )
    .await?;
    txn.commit().await?;
    Ok(token_status(db, env, ctx).await?)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadPageOption {
    pub id: String,
    pub name: Option<String>,
    pub category: Option<String>,
    /// Already selected for Lead Ads.
    pub selected: bool,
    /// Meta gave a Page token (needed to subscribe to leadgen).
    pub can_subscribe: bool,
}

/// Pages the connection manages, marking the ones already selected.
pub async fn lead_pages(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
) -> Result<Vec<LeadPageOption>, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    let s = tenant_session(db, env, ctx.tenant_id).await?;
    let pages = guarded(db, ctx.tenant_id, s.pages()).await?;
    let selected: Vec<String> = assets_of(db, ctx.tenant_id)
        .await?
        .into_iter()
        .filter(|a| a.kind == ASSET_PAGE)
        .map(|a| a.external_id)
        .collect();
    Ok(pages
        .into_iter()
        .map(|p| LeadPageOption {
            selected: selected.contains(&p.id),
            can_subscribe: p.access_token.as_ref().is_some_and(|t| !t.is_empty()),
            id: p.id,
            name: p.name,
            category: p.category,
        })
        .collect())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SelectPages {
    /// The complete selection (pages not listed are released).
    pub page_ids: Vec<String>,
}

/// Selects the Lead Ads pages: subscribes each to `leadgen` with its Page
/// token and stores those tokens encrypted.
pub async fn select_lead_pages(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    input: &SelectPages,
) -> Result<TokenStatus, MetaFail> {
    ctx.require(Permission::MetaManage)?;
    if input.page_ids.len() > 100 {
        return Err(CoreError::validation("too_many_pages", "select at most 100 pages").into());
    }
    require_live_connection(db, ctx.tenant_id).await?;
    let s = tenant_session(db, env, ctx.tenant_id).await?;
    let pages = guarded(db, ctx.tenant_id, s.pages()).await?;
    let mut chosen: Vec<(&meta_graph::PageAccount, &AccessToken)> = Vec::new();
    for id in &input.page_ids {
        let id = id.trim();
        let Some(p) = pages.iter().find(|p| p.id == id) else {
            return Err(CoreError::Validation {
                code: "page_not_managed",
                message: format!("page {id} is not managed by this Meta connection"),
                details: Some(json!({"page_id": id})),
            }
            .into());
        };
        let Some(token) = p.access_token.as_ref().filter(|t| !t.is_empty()) else {
            return Err(CoreError::Validation {
                code: "page_token_missing",
                message: format!(
                    "Meta gave no Page token for {id}; reconnect and grant the Pages permissions"
                ),
                details: Some(json!({"page_id": id})),
            }
            .into());
        };
        if !chosen.iter().any(|(c, _)| c.id == p.id) {
            chosen.push((p, token));
        }
    }
    for (p, token) in &chosen {
        guarded(
            db,
            ctx.tenant_id,
            s.subscribe_page(&p.id, token, &["leadgen"]),
        )
        .await?;
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let row = require_live_connection(&txn, ctx.tenant_id).await?;
    replace_assets(
        &txn,
        ctx.tenant_id,
        &[ASSET_PAGE],
        chosen
            .iter()
            .map(|(p, _)| NewAsset {
                kind: ASSET_PAGE,
                external_id: p.id.clone(),
                name: p.name.clone(),
                parent_id: None,
                details: json!({"category": p.category, "subscribed_fields": ["leadgen"]}),
            })
            .collect(),
    )
    .await?;
    meta_credential::Entity::delete_many()
        .filter(meta_credential::Column::TenantId.eq(ctx.tenant_id))
        .filter(meta_credential::Column::Kind.eq(CRED_PAGE_TOKEN))
        .exec(&txn)
        .await?;
    for (p, token) in &chosen {
        store_credential(
            &txn,
            &env.keyring,
            ctx.tenant_id,
            CRED_PAGE_TOKEN,
            &p.id,
            token,
        )
        .await?;
    }
    audit::record(
        &txn,
        &ctx.actor(),
        "meta.lead_pages_selected",
        "meta_connection",
        Some(row.id.to_string()),
        json!({"page_ids": chosen.iter().map(|(p, _)| p.id.clone()).collect::<Vec<_>>(), "subscribed_fields": ["leadgen"]}),
    )
    .await?;
    crm_db::outbox::emit(
        &txn,
        ctx.tenant_id,
        "meta_lead_pages_selected",
        "meta_connection",
        &row.id.to_string(),
        json!({"page_ids": chosen.iter().map(|(p, _)| p.id.clone()).collect::<Vec<_>>()}),
    )
    .await?;
    txn.commit().await?;
    Ok(token_status(db, env, ctx).await?)
}

// ---------------------------------------------------------------------------
// Token health (daily job)
// ---------------------------------------------------------------------------

/// What the health job should do with its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthOutcome {
    /// Checked; the next check is scheduled.
    Checked { status: String },
    /// Nothing to check (not connected, or paused until a reconnect).
    Idle,
    /// Meta refused the token: connection marked, no retry.
    Refused { status: String },
    /// Try again later (throttled: after Meta's advertised wait).
    Retry {
        error: String,
        after: Option<Duration>,
    },
}

/// Re-checks a tenant's token with `debug_token` and live calls (`/me`, the
/// selected ad account).
pub async fn run_health_check(
    db: &DatabaseConnection,
    env: &MetaEnv,
    tenant_id: Uuid,
    job_id: Option<Uuid>,
) -> Result<HealthOutcome, CoreError> {
    let Some(row) = find_connection(db, tenant_id).await? else {
        return Ok(HealthOutcome::Idle);
    };
    if is_paused_status(&row.status) {
        return Ok(HealthOutcome::Idle);
    }
    let Ok(graph) = env.graph() else {
        return Err(CoreError::Internal("the Meta app is not configured".into()));
    };
    let Some(token) = load_credential(db, &env.keyring, tenant_id, CRED_USER_TOKEN, "").await?
    else {
        return Ok(HealthOutcome::Idle);
    };
    let retry = |e: &GraphError| match e {
        GraphError::Throttled { retry_after, .. } => Some(HealthOutcome::Retry {
            error: e.to_string(),
            after: Some(*retry_after),
        }),
        GraphError::Transient { .. } | GraphError::UnexpectedResponse { .. } => {
            Some(HealthOutcome::Retry {
                error: e.to_string(),
                after: None,
            })
        }
        _ => None,
    };
    let info = match graph.debug_token(&token).await {
        Ok(i) => i,
        Err(e) => {
            if let Some(r) = retry(&e) {
                return Ok(r);
            }
            return Err(CoreError::Internal(format!("debug_token failed: {e}")));
        }
    };
    if !info.is_valid {
        let err = info.error.clone().unwrap_or_default();
        let status = if err.subcode == Some(463) {
            STATUS_EXPIRED
        } else {
            STATUS_INVALID
        };
        mark_status(
            db,
            tenant_id,
            status,
            "health_check",
            json!({"meta_code": err.code, "meta_subcode": err.subcode, "meta_message": err.message, "at": Utc::now()}),
        )
        .await?;
        return Ok(HealthOutcome::Refused {
            status: status.to_owned(),
        });
    }
    // Live checks with the token: `/me`, then the selected ad account.
    let session = graph.session(token);
    let ad_account = assets_of(db, tenant_id)
        .await?
        .into_iter()
        .find(|a| a.kind == ASSET_AD_ACCOUNT)
        .map(|a| a.external_id);
    let mut live = session.me().await.map(|_| ());
    if live.is_ok()
        && let Some(act) = &ad_account
    {
        live = match session.ad_account(act).await {
            Ok(_) => Ok(()),
            // The account may be gone or unshared; that is not a token problem.
            Err(GraphError::NotFound(_) | GraphError::PermissionMissing(_)) => {
                tracing::warn!(tenant = %tenant_id, "the selected ad account is no longer reachable");
                Ok(())
            }
            Err(e) => Err(e),
        };
    }
    if let Err(e) = live {
        if mark_invalid(db, tenant_id, &e).await?
            || matches!(e, GraphError::TokenExpired(_) | GraphError::TokenInvalid(_))
        {
            let status = find_connection(db, tenant_id)
                .await?
                .map(|r| r.status)
                .unwrap_or_default();
            return Ok(HealthOutcome::Refused { status });
        }
        if let Some(r) = retry(&e) {
            return Ok(r);
        }
        return Err(CoreError::Internal(format!("live check failed: {e}")));
    }
    let now = Utc::now();
    let expires_at = ts(info.expires_at);
    let status = compute_status(expires_at, &info.scopes, &env.required_scopes, now);
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let Some(cur) = find_connection(&txn, tenant_id).await? else {
        return Ok(HealthOutcome::Idle);
    };
    let mut am: meta_connection::ActiveModel = cur.clone().into();
    am.scopes = Set(json!(info.scopes));
    am.granular_scopes =
        Set(serde_json::to_value(&info.granular_scopes).unwrap_or(Value::Array(vec![])));
    am.expires_at = Set(expires_at);
    am.data_access_expires_at = Set(ts(info.data_access_expires_at));
    am.checked_at = Set(Some(now));
    am.updated_at = Set(now);
    let updated = am.update(&txn).await?;
    set_status(
        &txn,
        &Actor::system(tenant_id),
        &updated,
        status,
        "health_check",
        None,
    )
    .await?;
    schedule_health_check(&txn, tenant_id, now + chrono::Duration::days(1), job_id).await?;
    txn.commit().await?;
    Ok(HealthOutcome::Checked {
        status: status.to_owned(),
    })
}

// ---------------------------------------------------------------------------
// Meta's deauthorize and data-deletion callbacks
// ---------------------------------------------------------------------------

/// How old a deauthorize or data-deletion `signed_request` may be: Meta calls
/// these right after the person acts, so an older one is a replay.
pub const SIGNED_REQUEST_MAX_AGE_SECS: i64 = 3600;
/// How far in the future `issued_at` may be (clock skew).
const SIGNED_REQUEST_SKEW_SECS: i64 = 300;

fn parse_signed(env: &MetaEnv, signed_request: &str) -> Result<String, CoreError> {
    let secret = env.app_secret.as_ref().ok_or_else(|| {
        CoreError::conflict("meta_not_configured", "the Meta app is not configured")
    })?;
    let parsed = meta_graph::parse_signed_request(secret, signed_request).map_err(|e| {
        CoreError::validation(
            "invalid_signed_request",
            format!("signed_request refused: {e}"),
        )
    })?;
    let issued_at = parsed.issued_at.ok_or_else(|| {
        CoreError::validation("invalid_signed_request", "signed_request has no issued_at")
    })?;
    let now = Utc::now().timestamp();
    if issued_at < now - SIGNED_REQUEST_MAX_AGE_SECS || issued_at > now + SIGNED_REQUEST_SKEW_SECS {
        return Err(CoreError::Validation {
            code: "stale_signed_request",
            message: format!(
                "signed_request was issued at {issued_at} (now {now}): Meta's callbacks are \
                 accepted for {SIGNED_REQUEST_MAX_AGE_SECS} s after they are issued"
            ),
            details: Some(json!({"issued_at": issued_at})),
        });
    }
    parsed.user_id.filter(|u| !u.is_empty()).ok_or_else(|| {
        CoreError::validation("invalid_signed_request", "signed_request has no user_id")
    })
}

async fn drop_user_connections(
    db: &DatabaseConnection,
    meta_user_id: &str,
    action: &str,
    erase: bool,
) -> Result<usize, CoreError> {
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let rows = meta_connection::Entity::find()
        .filter(meta_connection::Column::MetaUserId.eq(meta_user_id))
        .all(&txn)
        .await?;
    let now = Utc::now();
    for row in &rows {
        let actor = Actor::system(row.tenant_id);
        delete_credentials(&txn, row.tenant_id).await?;
        if erase {
            meta_asset::Entity::delete_many()
                .filter(meta_asset::Column::TenantId.eq(row.tenant_id))
                .exec(&txn)
                .await?;
        }
        let mut am: meta_connection::ActiveModel = row.clone().into();
        am.status = Set(STATUS_DISCONNECTED.to_owned());
        am.disconnected_at = Set(Some(now));
        am.updated_at = Set(now);
        if erase {
            am.meta_user_id = Set(None);
            am.meta_user_name = Set(None);
            am.scopes = Set(json!([]));
            am.granular_scopes = Set(json!([]));
            am.business_id = Set(None);
            am.business_name = Set(None);
            am.last_error = Set(None);
        }
        am.update(&txn).await?;
        audit::record(
            &txn,
            &actor,
            action,
            "meta_connection",
            Some(row.id.to_string()),
            json!({"source": "meta_callback"}),
        )
        .await?;
        if row.status != STATUS_DISCONNECTED {
            audit::record(
                &txn,
                &actor,
                "meta.status_changed",
                "meta_connection",
                Some(row.id.to_string()),
                json!({"from": row.status, "to": STATUS_DISCONNECTED, "reason": action}),
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(rows.len())
}

/// Meta's deauthorize callback: the person removed the app. Credentials of
/// every tenant connected through them are deleted.
pub async fn deauthorize(
    db: &DatabaseConnection,
    env: &MetaEnv,
    signed_request: &str,
) -> Result<usize, CoreError> {
    let user = parse_signed(env, signed_request)?;
    drop_user_connections(db, &user, "meta.deauthorized", false).await
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletionReceipt {
    /// Where the person can check the deletion status.
    pub url: String,
    pub confirmation_code: String,
}

/// Meta's data-deletion callback: deletes the person's Meta data (tokens,
/// asset selection, ids) and answers with a status URL and code.
pub async fn data_deletion(
    db: &DatabaseConnection,
    env: &MetaEnv,
    signed_request: &str,
) -> Result<DeletionReceipt, CoreError> {
    let user = parse_signed(env, signed_request)?;
    let n = drop_user_connections(db, &user, "meta.data_deleted", true).await?;
    let code = secrets::new_secret("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect::<String>();
    let now = Utc::now();
    meta_deletion_request::ActiveModel {
        id: Set(crm_db::new_id()),
        confirmation_code: Set(code.clone()),
        meta_user_id: Set(secrets::sha256_hex(&user)),
        tenants_affected: Set(i32::try_from(n).unwrap_or(i32::MAX)),
        status: Set("completed".into()),
        created_at: Set(now),
        completed_at: Set(Some(now)),
    }
    .insert(db)
    .await?;
    Ok(DeletionReceipt {
        url: format!("{}/api/crm/auth/meta/data-deletion/{code}", env.public_url),
        confirmation_code: code,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletionStatus {
    pub confirmation_code: String,
    /// completed.
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

pub async fn deletion_status(
    db: &DatabaseConnection,
    code: &str,
) -> Result<DeletionStatus, CoreError> {
    if code.is_empty() || code.len() > 64 || !code.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CoreError::NotFound("deletion request"));
    }
    let row = meta_deletion_request::Entity::find()
        .filter(meta_deletion_request::Column::ConfirmationCode.eq(code))
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("deletion request"))?;
    Ok(DeletionStatus {
        confirmation_code: row.confirmation_code,
        status: row.status,
        requested_at: row.created_at,
        completed_at: row.completed_at,
    })
}

// ---------------------------------------------------------------------------
// Key rotation
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    pub total: usize,
    pub reencrypted: usize,
    pub current_key_id: String,
}

/// Re-encrypts every credential not under the keyring's current key. Fails
/// (changing nothing) when a row's key is not in the keyring.
pub async fn rotate_credentials(
    db: &DatabaseConnection,
    keyring: &Keyring,
) -> Result<RotationReport, CoreError> {
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let rows = meta_credential::Entity::find()
        .order_by_asc(meta_credential::Column::Id)
        .all(&txn)
        .await?;
    let current = keyring.current_id().to_owned();
    let mut per_tenant: std::collections::BTreeMap<Uuid, usize> = Default::default();
    let mut n = 0;
    for row in &rows {
        if row.key_id == current {
            continue;
        }
        let aad = vault::aad(row.tenant_id, &row.kind, &row.ref_id);
        let plain = keyring
            .open(
                &Sealed {
                    key_id: row.key_id.clone(),
                    nonce: row.nonce.clone(),
                    ciphertext: row.ciphertext.clone(),
                },
                &aad,
            )
            .map_err(|e| {
                CoreError::Internal(format!("credential {} cannot be decrypted: {e}", row.id))
            })?;
        let sealed = keyring
            .seal(&aad, &plain)
            .map_err(|e| CoreError::Internal(format!("vault: {e}")))?;
        let mut am: meta_credential::ActiveModel = row.clone().into();
        am.key_id = Set(sealed.key_id);
        am.nonce = Set(sealed.nonce);
        am.ciphertext = Set(sealed.ciphertext);
        am.updated_at = Set(Utc::now());
        am.update(&txn).await?;
        *per_tenant.entry(row.tenant_id).or_default() += 1;
        n += 1;
    }
    for (tenant, count) in per_tenant {
        audit::record(
            &txn,
            &Actor::system(tenant),
            "meta.credentials_rotated",
            "meta_credential",
            None,
            json!({"count": count, "key_id": current}),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(RotationReport {
        total: rows.len(),
        reencrypted: n,
        current_key_id: current,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn status_from_expiry_and_scopes() {
        let now = Utc::now();
        let req = vec!["ads_read".to_string(), "leads_retrieval".to_string()];
        let all = req.clone();
        assert_eq!(compute_status(None, &all, &req, now), STATUS_OK);
        assert_eq!(
            compute_status(Some(now + chrono::Duration::days(30)), &all, &req, now),
            STATUS_OK
        );
        assert_eq!(
            compute_status(Some(now + chrono::Duration::days(6)), &all, &req, now),
            STATUS_EXPIRING
        );
        assert_eq!(
            compute_status(Some(now - chrono::Duration::seconds(1)), &all, &req, now),
            STATUS_EXPIRED
        );
        assert_eq!(
            compute_status(None, &["ads_read".to_string()], &req, now),
            STATUS_MISSING_SCOPES
        );
    }

    #[test]
    fn ad_account_ids_are_normalized() {
        assert_eq!(normalize_ad_account_id("act_123").unwrap(), "act_123");
        assert_eq!(normalize_ad_account_id(" 456 ").unwrap(), "act_456");
        assert!(normalize_ad_account_id("act_").is_err());
        assert!(normalize_ad_account_id("act_12a").is_err());
        assert!(normalize_ad_account_id("../me").is_err());
    }

    #[test]
    fn return_paths_are_fixed() {
        assert_eq!(ReturnTo::from_path("/settings/meta"), "/settings/meta");
        assert_eq!(
            ReturnTo::from_path("https://evil.example"),
            "/crm/marketing"
        );
    }
}
