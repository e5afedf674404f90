//! HSM Automation routes under `/api/crm/marketing`: templates (list,
//! create, delete, sync, manual send), automation rules (CRUD, toggle,
//! dry-run), the automation log, HSM settings and the lead messaging panel.
//! Also registers the HSM jobs and webhook handlers with the worker.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use crm_core::automation::rule::RuleSpec;
use crm_core::services::Page;
use crm_core::services::automation::{
    self as auto, DryRunQuery, DryRunResult, LogQuery, RuleView, RunOutcome, RunView, ToggleInput,
};
use crm_core::services::messaging::{
    self as msg, HsmSettings, LeadMessaging, SendInput, SendView, SettingsInput,
};
use crm_core::services::meta_connection::{MetaFail, MetaFailKind};
use crm_core::services::templates::{
    self as tpl, NewTemplateInput, SyncReport, TemplateDetail, TemplateQuery, TemplateView,
};
use crm_core::services::webhooks::WebhookRegistry;
use crm_db::audit::Actor;
use crm_db::outbox::Consumer;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::worker::{JobOutcome, Registry};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, delete_template))
        .routes(routes!(sync_templates))
        .routes(routes!(send_template))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, update_rule, delete_rule))
        .routes(routes!(toggle_rule))
        .routes(routes!(dry_run))
        .routes(routes!(automation_logs))
        .routes(routes!(get_settings, update_settings))
        .routes(routes!(lead_messages))
}

pub(crate) fn api_error(e: MetaFail) -> ApiError {
    match e {
        MetaFail::Core(c) => c.into(),
        MetaFail::Meta {
            kind,
            code,
            message,
            details,
            retry_after_secs,
        } => {
            let status = match kind {
                MetaFailKind::Rejected => StatusCode::CONFLICT,
                MetaFailKind::NotFound => StatusCode::NOT_FOUND,
                MetaFailKind::Throttled => StatusCode::SERVICE_UNAVAILABLE,
                MetaFailKind::Unavailable => StatusCode::BAD_GATEWAY,
            };
            let mut err = ApiError::new(status, code, message);
            err.details = details;
            err.retry_after = retry_after_secs;
            err
        }
    }
}

/// Templates of the tenant's WABA (ceo/admin; sellers may list to send).
#[utoipa::path(operation_id = "listHsmTemplates", get, path = "/api/crm/marketing/hsm/templates", tag = "hsm",
    params(TemplateQuery),
    responses((status = 200, body = Page<TemplateView>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_templates(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<TemplateQuery>,
) -> ApiResult<ApiJson<Page<TemplateView>>> {
    Ok(ApiJson(tpl::list(&s.db, &auth, &q).await?))
}

/// Create a template and submit it to Meta for review (ceo/admin). Checked
/// first with Meta's rules (name, limits, examples for every variable).
#[utoipa::path(operation_id = "createHsmTemplate", post, path = "/api/crm/marketing/hsm/templates", tag = "hsm",
    request_body = NewTemplateInput,
    responses((status = 201, body = TemplateView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "template_exists, whatsapp_not_selected, meta_not_connected, Meta refusal"),
              (status = 422, body = ErrorBody)))]
async fn create_template(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<NewTemplateInput>,
) -> ApiResult<(StatusCode, ApiJson<TemplateView>)> {
    let t = tpl::create(&s.db, &s.meta, &auth, &input)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, ApiJson(t)))
}

/// One template with its status, quality and category history.
#[utoipa::path(operation_id = "getHsmTemplate", get, path = "/api/crm/marketing/hsm/templates/{id}", tag = "hsm",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TemplateDetail), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_template(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<TemplateDetail>> {
    Ok(ApiJson(tpl::get(&s.db, &auth, id).await?))
}

/// Delete a template at Meta; kept locally as DELETED (ceo/admin).
#[utoipa::path(operation_id = "deleteHsmTemplate", delete, path = "/api/crm/marketing/hsm/templates/{id}", tag = "hsm",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_template(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    tpl::delete(&s.db, &s.meta, &auth, id)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sync every template of the WABA from Meta now (all pages) (ceo/admin).
#[utoipa::path(operation_id = "syncHsmTemplates", post, path = "/api/crm/marketing/hsm/templates/sync", tag = "hsm",
    responses((status = 200, body = SyncReport), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn sync_templates(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<SyncReport>> {
    Ok(ApiJson(
        tpl::sync_now(&s.db, &s.meta, &auth)
            .await
            .map_err(api_error)?,
    ))
}

/// Send an approved template to a lead. Checked before Meta: approved,
/// parameter count, consent, recipient (ceo/admin/seller; sellers only to
/// their own leads). With an `Idempotency-Key` header, a repeated request
/// (same key) sends nothing and answers 200 with the first message. Waits at
/// most 10 s for a send slot of the number (503 `send_busy` with
/// `Retry-After` otherwise). If Meta does not answer, the message comes back
/// `held`: it may or may not have been delivered (resend or dismiss it).
#[utoipa::path(operation_id = "sendHsmTemplate", post, path = "/api/crm/marketing/hsm/templates/{id}/send", tag = "hsm",
    params(("id" = Uuid, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters, unique per send (e.g. a UUID)",
            min_length = 1, max_length = 255, pattern = r"^[!-~]{1,255}$")),
    request_body = SendInput,
    responses((status = 201, body = SendView), (status = 200, body = SendView, description = "a repeat of an earlier request with the same Idempotency-Key: nothing was sent"),
              (status = 400, body = ErrorBody, description = "invalid_idempotency_key"),
              (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "template_not_approved, opted_out, no_marketing_consent, meta_send_failed, idempotency_key_reused"),
              (status = 422, body = ErrorBody, description = "parameter_count_mismatch, no_recipient"),
              (status = 502, body = ErrorBody),
              (status = 503, body = ErrorBody, description = "send_busy (Retry-After) or meta_throttled")))]
async fn send_template(
    State(s): State<AppState>,
    auth: Authed,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<SendInput>,
) -> ApiResult<(StatusCode, ApiJson<SendView>)> {
    let key = idempotency_key(&headers)?;
    let sent = msg::send_manual(&s.db, &s.meta, &auth, id, &input, key.as_deref())
        .await
        .map_err(api_error)?;
    let status = if sent.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, ApiJson(sent.view)))
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &axum::http::HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_owned()))
        }
        _ => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// Automation rules with their last-7-days counts; starter rules (disabled)
/// are created on first use (ceo/admin).
#[utoipa::path(operation_id = "listAutomationRules", get, path = "/api/crm/marketing/automation/rules", tag = "hsm",
    responses((status = 200, body = Vec<RuleView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_rules(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<Vec<RuleView>>> {
    Ok(ApiJson(auto::list_rules(&s.db, &auth).await?))
}

/// Create a rule (ceo/admin).
#[utoipa::path(operation_id = "createAutomationRule", post, path = "/api/crm/marketing/automation/rules", tag = "hsm",
    request_body = RuleSpec,
    responses((status = 201, body = RuleView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_rule(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(spec): ApiJson<RuleSpec>,
) -> ApiResult<(StatusCode, ApiJson<RuleView>)> {
    Ok((
        StatusCode::CREATED,
        ApiJson(auto::create_rule(&s.db, &auth, &spec).await?),
    ))
}

#[utoipa::path(operation_id = "getAutomationRule", get, path = "/api/crm/marketing/automation/rules/{id}", tag = "hsm",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RuleView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_rule(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<RuleView>> {
    Ok(ApiJson(auto::get_rule(&s.db, &auth, id).await?))
}

/// Replace a rule's definition (ceo/admin).
#[utoipa::path(operation_id = "updateAutomationRule", put, path = "/api/crm/marketing/automation/rules/{id}", tag = "hsm",
    params(("id" = Uuid, Path)), request_body = RuleSpec,
    responses((status = 200, body = RuleView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_rule(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(spec): ApiJson<RuleSpec>,
) -> ApiResult<ApiJson<RuleView>> {
    Ok(ApiJson(auto::update_rule(&s.db, &auth, id, &spec).await?))
}

#[utoipa::path(operation_id = "deleteAutomationRule", delete, path = "/api/crm/marketing/automation/rules/{id}", tag = "hsm",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_rule(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    auto::delete_rule(&s.db, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enable or disable a rule (ceo/admin).
#[utoipa::path(operation_id = "toggleAutomationRule", post, path = "/api/crm/marketing/automation/rules/{id}/toggle", tag = "hsm",
    params(("id" = Uuid, Path)), request_body = ToggleInput,
    responses((status = 200, body = RuleView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn toggle_rule(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<ToggleInput>,
) -> ApiResult<ApiJson<RuleView>> {
    Ok(ApiJson(
        auto::toggle_rule(&s.db, &auth, id, input.enabled).await?,
    ))
}

/// Evaluate a rule against current leads: who would receive what (rendered
/// text) and who would be skipped and why. Sends nothing (ceo/admin).
#[utoipa::path(operation_id = "dryRunAutomationRule", post, path = "/api/crm/marketing/automation/rules/{id}/dry-run", tag = "hsm",
    params(("id" = Uuid, Path), DryRunQuery),
    responses((status = 200, body = DryRunResult), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn dry_run(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DryRunQuery>,
) -> ApiResult<ApiJson<DryRunResult>> {
    Ok(ApiJson(auto::dry_run(&s.db, &auth, id, &q).await?))
}

/// The automation log, newest first: every run with its status timeline,
/// reason code and Meta's error (ceo/admin).
#[utoipa::path(operation_id = "listAutomationLogs", get, path = "/api/crm/marketing/automation-logs", tag = "hsm",
    params(LogQuery),
    responses((status = 200, body = Page<RunView>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn automation_logs(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<ApiJson<Page<RunView>>> {
    Ok(ApiJson(auto::logs(&s.db, &auth, &q).await?))
}

/// HSM settings: opt-out keywords, pacing, pause state (ceo/admin).
#[utoipa::path(operation_id = "getHsmSettings", get, path = "/api/crm/marketing/hsm/settings", tag = "hsm",
    responses((status = 200, body = HsmSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_settings(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<HsmSettings>> {
    Ok(ApiJson(msg::get_settings(&s.db, &auth).await?))
}

#[utoipa::path(operation_id = "updateHsmSettings", put, path = "/api/crm/marketing/hsm/settings", tag = "hsm",
    request_body = SettingsInput,
    responses((status = 200, body = HsmSettings), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_settings(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<SettingsInput>,
) -> ApiResult<ApiJson<HsmSettings>> {
    Ok(ApiJson(msg::update_settings(&s.db, &auth, &input).await?))
}

/// The lead page's WhatsApp panel: messages, 24-hour window and consent.
#[utoipa::path(operation_id = "getLeadMessaging", get, path = "/api/crm/marketing/hsm/leads/{id}/messages", tag = "hsm",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = LeadMessaging), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn lead_messages(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<LeadMessaging>> {
    Ok(ApiJson(msg::lead_messaging(&s.db, &auth, id).await?))
}

// ---------------------------------------------------------------------------
// Worker wiring

/// Adds the HSM webhook handlers (pass to `webhooks::register_jobs`).
pub fn register_webhooks(hooks: &mut WebhookRegistry) {
    tpl::register_webhooks(hooks);
    msg::register_webhooks(hooks);
}

fn core_outcome(e: crm_core::CoreError) -> JobOutcome {
    JobOutcome::Retry {
        error: e.to_string(),
        after: None,
    }
}

/// Registers the HSM jobs: template sync, outbox consumer, scheduler tick,
/// and the send job.
pub fn register(reg: &mut Registry) {
    let Some(env) = reg.meta.clone() else {
        return;
    };
    let sync_env = env.clone();
    reg.handle(
        tpl::SYNC_JOB,
        Arc::new(move |db, job| {
            let env = sync_env.clone();
            Box::pin(async move {
                let Some(tenant) = job.tenant_id else {
                    return JobOutcome::Fail {
                        error: "template sync without a tenant".into(),
                    };
                };
                match tpl::sync(&db, &env, tenant, &Actor::system(tenant)).await {
                    Ok(_) => JobOutcome::Done,
                    Err(MetaFail::Meta {
                        kind: MetaFailKind::Throttled | MetaFailKind::Unavailable,
                        message,
                        retry_after_secs,
                        ..
                    }) => JobOutcome::Retry {
                        error: message,
                        after: retry_after_secs.map(std::time::Duration::from_secs),
                    },
                    Err(e) => JobOutcome::Fail {
                        error: e.to_string(),
                    },
                }
            })
        }),
    );
    reg.consume(Consumer {
        job_kind: auto::EVENT_JOB,
        wants: auto::wants_event,
    });
    reg.handle(
        auto::EVENT_JOB,
        Arc::new(|db, job| {
            Box::pin(async move {
                let Some(tenant) = job.tenant_id else {
                    return JobOutcome::Done;
                };
                match auto::on_event(&db, &job.payload, tenant).await {
                    Ok(_) => JobOutcome::Done,
                    Err(e) => core_outcome(e),
                }
            })
        }),
    );
    reg.handle(
        auto::TICK_JOB,
        Arc::new(|db, _job| {
            Box::pin(async move {
                let now = Utc::now();
                let res = auto::tick(&db, now).await;
                // Always chain the next tick, even after a failure.
                let next = now + chrono::Duration::seconds(60 - now.timestamp() % 60);
                if let Err(e) = auto::schedule_tick(&db, next).await {
                    return core_outcome(e);
                }
                match res {
                    Ok(_) => JobOutcome::Done,
                    Err(e) => core_outcome(e),
                }
            })
        }),
    );
    let send_env = env;
    reg.handle(
        auto::SEND_JOB,
        Arc::new(move |db, job| {
            let env = send_env.clone();
            Box::pin(async move {
                let Some(run_id) = job
                    .payload
                    .get("run_id")
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse::<Uuid>().ok())
                else {
                    return JobOutcome::Fail {
                        error: "send job without a run id".into(),
                    };
                };
                match auto::run_send(&db, &env, run_id).await {
                    Ok(RunOutcome::Done) => JobOutcome::Done,
                    Ok(RunOutcome::Postpone(at)) => JobOutcome::Postpone(at),
                    Ok(RunOutcome::Retry { error, after }) => JobOutcome::Retry { error, after },
                    Ok(RunOutcome::Fail(error)) => JobOutcome::Fail { error },
                    Err(e) => core_outcome(e),
                }
            })
        }),
    );
}

/// Starts the scheduler chain (call once at worker start; deduplicated).
pub async fn start_scheduler(db: &sea_orm::DatabaseConnection) {
    if let Err(e) = auto::schedule_tick(db, Utc::now()).await {
        tracing::warn!("could not schedule the automation tick: {e}");
    }
}
