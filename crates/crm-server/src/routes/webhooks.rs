//! The shared Meta webhook inbox: `GET|POST /api/webhooks/meta`, the inbox
//! list and replay for ceo/admin, and the processing job.
//!
//! POST verifies `X-Hub-Signature-256` over the raw body with the app secret
//! and fails closed (no secret configured: 503, bad or missing signature:
//! 401). A verified delivery is stored (deduplicated by Meta's ids) with its
//! processing jobs in one transaction, then acknowledged with 200; concurrent
//! deliveries share one transaction (`inbox::Ingester`).
//!
//! Other features plug handlers for their `field`s into the registry passed
//! to [`register_jobs`] (see `crm_core::services::webhooks`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use crm_core::services::Page;
use crm_core::services::webhooks::{
    self as inbox, HandlerCx, InboxItem, InboxQuery, Ingested, ProcessOutcome, WebhookRegistry,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::worker::{JobOutcome, Registry};

/// Meta's webhook payloads can reach 3 MB: the delivery route takes up to
/// this much, whatever the API's JSON body limit (`CRM_BODY_LIMIT_BYTES`).
pub const WEBHOOK_BODY_LIMIT: usize = 8 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handshake, receive))
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
        .routes(routes!(list_inbox))
        .routes(routes!(replay_one))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// Meta's subscription handshake: answers the challenge when the verify
/// token matches the configured one; 403 otherwise, and 403 when no verify
/// token is configured (fails closed).
#[utoipa::path(operation_id = "metaWebhookHandshake", get, path = "/api/webhooks/meta", tag = "webhooks",
    security(()), params(Handshake),
    responses((status = 200, description = "The challenge, as plain text", body = String),
              (status = 403, body = ErrorBody)))]
async fn handshake(State(s): State<AppState>, ApiQuery(q): ApiQuery<Handshake>) -> Response {
    let forbidden = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "verification_failed",
            "the verify token does not match",
        )
        .into_response()
    };
    let Some(expected) = s
        .cfg
        .meta
        .meta_webhook_verify_token
        .as_ref()
        .map(|t| t.0.clone())
        .filter(|t| !t.is_empty())
    else {
        return forbidden();
    };
    match meta_graph::verify_challenge(
        q.mode.as_deref(),
        q.verify_token.as_deref(),
        q.challenge.as_deref(),
        &expected,
    ) {
        Some(ch) => (StatusCode::OK, ch.to_owned()).into_response(),
        None => forbidden(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Received {
    pub received: bool,
    #[serde(flatten)]
    pub ingested: Ingested,
}

/// Receives a Meta webhook delivery (Page `leadgen`, WhatsApp `messages`,
/// template and preference updates). Signed by Meta with
/// `X-Hub-Signature-256`; stored, deduplicated and acknowledged, then
/// processed by the worker. Up to 8 MiB. A signed delivery (or a part of
/// one) that cannot be read is stored as a `failed` inbox event, to replay
/// once it can be, and still answered 200: Meta would otherwise retry it for
/// hours and its readable events with it.
#[utoipa::path(operation_id = "metaWebhookReceive", post, path = "/api/webhooks/meta", tag = "webhooks",
    security(()), request_body(content = Object, description = "Meta webhook envelope"),
    responses((status = 200, body = Received), (status = 401, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn receive(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<ApiJson<Received>> {
    let refused = |reason: &'static str| {
        metrics::counter!("crm_webhook_deliveries_refused_total", "reason" => reason).increment(1);
    };
    let Some(secret) = s.meta.app_secret.as_ref() else {
        refused("not_configured");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks_not_configured",
            "no Meta app secret is configured, so webhooks cannot be verified",
        ));
    };
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !meta_graph::verify_signature(secret, &body, sig) {
        tracing::warn!("refused a webhook with a missing or wrong X-Hub-Signature-256");
        refused("invalid_signature");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "X-Hub-Signature-256 is missing or does not match the body",
        ));
    }
    let stored = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(value) => s.ingester.ingest(&value).await,
        Err(_) => {
            tracing::warn!("stored a signed webhook delivery that is not JSON as a failed event");
            s.ingester.ingest_unreadable(&body).await
        }
    };
    let ingested = stored.inspect_err(|_| refused("store_failed"))?;
    metrics::counter!("crm_webhook_events_received_total").increment(ingested.stored as u64);
    metrics::counter!("crm_webhook_events_duplicate_total").increment(ingested.duplicates as u64);
    Ok(ApiJson(Received {
        received: true,
        ingested,
    }))
}

/// The webhook inbox of this workspace (ceo/admin): routed events, and
/// unroutable events of this workspace's Meta assets. Failed and unroutable
/// events stay here until replayed.
#[utoipa::path(operation_id = "listWebhookInbox", get, path = "/api/webhooks/inbox", tag = "webhooks",
    params(InboxQuery),
    responses((status = 200, body = Page<InboxItem>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_inbox(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> ApiResult<ApiJson<Page<InboxItem>>> {
    Ok(ApiJson(inbox::list(&s.db, &auth, &q).await?))
}

#[derive(Serialize, ToSchema)]
pub struct Replayed {
    pub queued: usize,
}

/// Replays one inbox event (failed, unroutable or ignored) (ceo/admin).
#[utoipa::path(operation_id = "replayWebhookEvent", post, path = "/api/webhooks/inbox/{id}/replay", tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Replayed), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replay_one(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<Replayed>> {
    let queued = inbox::replay(&s.db, Some(&auth), Some(id), None).await?;
    Ok(ApiJson(Replayed { queued }))
}

/// Registers the inbox processing job. `extend` adds other features'
/// field handlers (HSM: `messages`, template updates, `user_preferences`);
/// the Marketing Hub's `leadgen` (and a referral-only `messages` handler that
/// HSM replaces) are registered first.
pub fn register_jobs(reg: &mut Registry, extend: impl FnOnce(&mut WebhookRegistry)) {
    let Some(env) = reg.meta.clone() else {
        return;
    };
    let mut hooks = WebhookRegistry::default();
    crm_core::services::attribution::register_webhooks(&mut hooks);
    extend(&mut hooks);
    let hooks = Arc::new(hooks);
    reg.handle(
        inbox::PROCESS_JOB,
        Arc::new(move |db, job| {
            let hooks = hooks.clone();
            let cx = HandlerCx {
                db,
                env: (*env).clone(),
            };
            Box::pin(async move {
                let Some(id) = job
                    .payload
                    .get("inbox_id")
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse::<Uuid>().ok())
                else {
                    return JobOutcome::Fail {
                        error: "webhook job without an inbox id".into(),
                    };
                };
                match inbox::process(&cx, &hooks, id).await {
                    Ok(ProcessOutcome::Finished) => JobOutcome::Done,
                    Ok(ProcessOutcome::Retry(error, after)) => JobOutcome::Retry {
                        error,
                        after: after.map(std::time::Duration::from_secs),
                    },
                    Err(e) => JobOutcome::Retry {
                        error: e.to_string(),
                        after: None,
                    },
                }
            })
        }),
    );
}

/// `crm webhooks …` (operator commands on the inbox).
#[derive(Debug, clap::Subcommand)]
pub enum WebhooksCmd {
    /// Queue inbox events for processing again: one event (`--id`), or
    /// every event in a status (`--status failed|unroutable|ignored`). A
    /// running worker (`crm serve` or `crm worker`) processes them.
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub db: crate::config::DbArgs,
    /// One inbox event id.
    #[arg(long)]
    pub id: Option<Uuid>,
    /// failed, unroutable or ignored.
    #[arg(long)]
    pub status: Option<String>,
}

/// Runs a `crm webhooks` command.
pub async fn run_cli(cmd: WebhooksCmd) -> anyhow::Result<()> {
    match cmd {
        WebhooksCmd::Replay(a) => {
            let db = crm_db::connect(&a.db.database_url, 2).await?;
            crm_db::migrate(&db).await?;
            let n = inbox::replay(&db, None, a.id, a.status.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("queued {n} webhook event(s) for processing");
        }
    }
    Ok(())
}
