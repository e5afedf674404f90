use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::ServeArgs;
use crate::ratelimit::{ApiLimiter, LoginLimiter};

/// Shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub cfg: Arc<ServeArgs>,
    /// The URL users reach this server at, without a trailing slash.
    pub public_url: Arc<str>,
    /// Whether cookies are sent without `Secure` (plain HTTP on localhost).
    pub insecure_cookies: bool,
    pub login_limiter: Arc<LoginLimiter>,
    pub api_limiter: Arc<ApiLimiter>,
    /// Meta client and the credentials vault.
    pub meta: Arc<crm_core::services::meta_connection::MetaEnv>,
    /// Marketing Hub answers, keyed by the tenant's read version.
    pub marketing_cache: Arc<crm_core::services::marketing_cache::ReadCache>,
    /// Stores verified webhook deliveries, grouping concurrent ones.
    pub ingester: crm_core::services::webhooks::Ingester,
    /// The gauges `/metrics` reads from the database at each scrape.
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    /// In production, the first-run setup needs this one-time token (its
    /// SHA-256), printed by `crm serve` at a start with no user yet.
    pub setup_token_hash: Option<Arc<str>>,
    /// Outgoing e-mail, when `CRM_SMTP_URL` is set.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
}
