//! HTTP routes, one module per feature. Each handler is thin: it extracts the
//! caller and input, calls a `crm-core` service and maps the result.

pub mod account;
pub mod audit;
pub mod auth;
pub mod health;
pub mod hsm;
pub mod leads;
pub mod marketing;
pub mod meta;
pub mod openapi;
pub mod opportunities;
pub mod pipeline;
pub mod sales;
pub mod send_review;
pub mod setup;
pub mod team;
pub mod tenant;
pub mod tokens;
pub mod webhooks;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CRM Ventas API",
        description = "Sales CRM for teams that buy Meta ads and sell over WhatsApp. \
Authenticate with the `crm_session` cookie (browser; mutations need `X-CSRF-Token`) \
or `Authorization: Bearer crm_tok_…` (API tokens). Errors are \
`{\"error\": {\"code\", \"message\", \"details\"}}`.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&SecurityAddon),
    security(("session" = []), ("bearer" = [])),
    tags(
        (name = "setup", description = "First-run setup"),
        (name = "auth", description = "Sessions"),
        (name = "team", description = "Users of the tenant"),
        (name = "tokens", description = "API tokens for integrations"),
        (name = "audit", description = "Audit log"),
        (name = "tenant", description = "Tenant settings"),
        (name = "hsm", description = "HSM Automation: WhatsApp templates, messaging, automation rules and logs"),
        (name = "health", description = "Health checks"),
        (name = "leads", description = "Leads, attribution touches, timeline, import and export"),
        (name = "pipeline", description = "Pipeline stages, opportunities and the board"),
        (name = "sales", description = "Sales transactions and refunds"),
        (name = "marketing", description = "Marketing Hub: stats, campaigns, sync, FX rates, Conversions API"),
        (name = "webhooks", description = "Meta webhook inbox"),
        (name = "meta", description = "Meta connection: OAuth, token health, ad account, WhatsApp and Lead Ads selection"),
    )
)]
pub struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every documented route. The OpenAPI document is generated from this.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(hsm::router())
        .merge(send_review::router())
        .merge(setup::router())
        .merge(auth::router())
        .merge(account::router())
        .merge(team::router())
        .merge(tokens::router())
        .merge(audit::router())
        .merge(tenant::router())
        .merge(meta::router())
        .merge(leads::router())
        .merge(pipeline::router())
        .merge(opportunities::router())
        .merge(sales::router())
        .merge(marketing::router())
        .merge(webhooks::router())
}

/// The documented routes and their OpenAPI document, with the shared error
/// answers added to every operation.
pub fn api_parts() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = api_router().split_for_parts();
    openapi::add_shared_responses(&mut doc);
    (router, doc)
}

/// The OpenAPI document as pretty JSON (what `openapi.json` in the repo holds).
pub fn openapi_json() -> String {
    let (_, doc) = api_parts();
    let mut s = doc.to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}
