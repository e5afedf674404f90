//! Marketing Hub routes (`/api/crm/marketing/...`): stats, ROI breakdown,
//! campaigns with drill-down and daily insights, sync status and "sync now",
//! FX rates, Lead Ads form field mappings. ceo/admin/marketing; every read is audited. Plus the sync and
//! form-reconcile jobs.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use crm_core::services::Page;
use crm_core::services::attribution;
use crm_core::services::capi::{self, CapiSettings, LedgerEntry, LedgerQuery, SendOutcome};
use crm_core::services::fx::{self, FxImport, FxQuery, FxRate, FxRateInput};
use crm_core::services::lead_forms::{self, LeadFormDetail, LeadFormList, LeadFormMappingInput};
use crm_core::services::marketing::{
    self as svc, CampaignDetail, CampaignInsights, CampaignList, CampaignsQuery, MarketingStats,
    RoiBreakdown, StatsQuery, SyncStateView,
};
use crm_core::services::sync::{self, SyncError};
use crm_db::outbox::Consumer;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody, cached_json};
use crate::routes::meta::api_error as meta_api_error;
use crate::state::AppState;
use crate::worker::{JobOutcome, Registry};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(roi))
        .routes(routes!(campaigns))
        .routes(routes!(campaign))
        .routes(routes!(campaign_insights))
        .routes(routes!(sync_status, sync_now))
        .routes(routes!(list_fx, put_fx))
        .routes(routes!(delete_fx))
        .routes(routes!(import_fx))
        .routes(routes!(get_capi_settings, put_capi_settings))
        .routes(routes!(capi_ledger))
        .routes(routes!(list_lead_forms))
        .routes(routes!(get_lead_form))
        .routes(routes!(put_lead_form_mapping, reset_lead_form_mapping))
}

/// Lead Ads forms of the selected Lead Ads pages (live from Meta), with
/// whether each has a saved field mapping (ceo/admin/marketing).
#[utoipa::path(operation_id = "listLeadForms", get, path = "/api/crm/marketing/lead-forms", tag = "marketing",
    responses((status = 200, body = LeadFormList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "meta_paused, meta_token_invalid…"),
              (status = 502, body = ErrorBody)))]
async fn list_lead_forms(
    State(s): State<AppState>,
    auth: Authed,
) -> ApiResult<ApiJson<LeadFormList>> {
    Ok(ApiJson(
        lead_forms::list(&s.db, &s.meta, &auth)
            .await
            .map_err(meta_api_error)?,
    ))
}

/// One Lead Ads form: its questions and where each answer goes (the saved
/// mapping, else the default).
#[utoipa::path(operation_id = "getLeadForm", get, path = "/api/crm/marketing/lead-forms/{form_id}", tag = "marketing",
    params(("form_id" = String, Path)),
    responses((status = 200, body = LeadFormDetail), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn get_lead_form(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(form_id): ApiPath<String>,
) -> ApiResult<ApiJson<LeadFormDetail>> {
    Ok(ApiJson(
        lead_forms::get(&s.db, &s.meta, &auth, &form_id)
            .await
            .map_err(meta_api_error)?,
    ))
}

/// Saves a form's field mapping (question key → target). Questions left out
/// keep their default target (ceo/admin/marketing).
#[utoipa::path(operation_id = "putLeadFormMapping", put, path = "/api/crm/marketing/lead-forms/{form_id}/mapping", tag = "marketing",
    params(("form_id" = String, Path)),
    request_body = LeadFormMappingInput,
    responses((status = 200, body = LeadFormDetail), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "unknown_question, invalid_target, duplicate_target"),
              (status = 502, body = ErrorBody)))]
async fn put_lead_form_mapping(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(form_id): ApiPath<String>,
    ApiJson(input): ApiJson<LeadFormMappingInput>,
) -> ApiResult<ApiJson<LeadFormDetail>> {
    Ok(ApiJson(
        lead_forms::save_mapping(&s.db, &s.meta, &auth, &form_id, &input)
            .await
            .map_err(meta_api_error)?,
    ))
}

/// Resets a form to the default mapping (ceo/admin/marketing).
#[utoipa::path(operation_id = "resetLeadFormMapping", delete, path = "/api/crm/marketing/lead-forms/{form_id}/mapping", tag = "marketing",
    params(("form_id" = String, Path)),
    responses((status = 200, body = LeadFormDetail), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn reset_lead_form_mapping(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(form_id): ApiPath<String>,
) -> ApiResult<ApiJson<LeadFormDetail>> {
    Ok(ApiJson(
        lead_forms::reset_mapping(&s.db, &s.meta, &auth, &form_id)
            .await
            .map_err(meta_api_error)?,
    ))
}

/// Conversions API settings (dataset, stage → event names).
#[utoipa::path(operation_id = "getCapiSettings", get, path = "/api/crm/marketing/capi/settings", tag = "marketing",
    responses((status = 200, body = CapiSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_capi_settings(
    State(s): State<AppState>,
    auth: Authed,
) -> ApiResult<ApiJson<CapiSettings>> {
    Ok(ApiJson(capi::get_settings(&s.db, &auth).await?))
}

/// Sets the Conversions API settings (ceo/admin/marketing).
#[utoipa::path(operation_id = "putCapiSettings", put, path = "/api/crm/marketing/capi/settings", tag = "marketing",
    request_body = CapiSettings,
    responses((status = 200, body = CapiSettings), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_capi_settings(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<CapiSettings>,
) -> ApiResult<ApiJson<CapiSettings>> {
    Ok(ApiJson(capi::put_settings(&s.db, &auth, &input).await?))
}

/// The Conversions API ledger: every stage event with its outcome
/// (queued, accepted, rejected with Meta's message, skipped), newest first.
#[utoipa::path(operation_id = "listCapiEvents", get, path = "/api/crm/marketing/capi/events", tag = "marketing",
    params(LedgerQuery),
    responses((status = 200, body = Page<LedgerEntry>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn capi_ledger(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<ApiJson<Page<LedgerEntry>>> {
    Ok(ApiJson(capi::ledger(&s.db, &auth, &q).await?))
}

/// Headline numbers of the Marketing Hub for a period and model, with the
/// change against the previous period, a daily series, warnings and
/// freshness. Definitions: docs/marketing-metrics.md.
#[utoipa::path(operation_id = "marketingStats", get, path = "/api/crm/marketing/stats", tag = "marketing",
    params(StatsQuery),
    responses((status = 200, body = MarketingStats), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn stats(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Response> {
    cached_json(
        svc::stats_cached(&s.db, &s.marketing_cache, &auth, &q).await?,
        &headers,
    )
}

/// The funnel and the breakdowns by campaign and by source (channel).
#[utoipa::path(operation_id = "marketingRoi", get, path = "/api/crm/marketing/stats/roi", tag = "marketing",
    params(StatsQuery),
    responses((status = 200, body = RoiBreakdown), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn roi(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Response> {
    cached_json(
        svc::roi_cached(&s.db, &s.marketing_cache, &auth, &q).await?,
        &headers,
    )
}

/// Campaign rows (including the "unknown campaign" row), sortable and
/// filterable by status; they add up to `totals`.
#[utoipa::path(operation_id = "marketingCampaigns", get, path = "/api/crm/marketing/campaigns", tag = "marketing",
    params(CampaignsQuery),
    responses((status = 200, body = CampaignList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn campaigns(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<CampaignsQuery>,
) -> ApiResult<Response> {
    cached_json(
        svc::campaigns_cached(&s.db, &s.marketing_cache, &auth, &q).await?,
        &headers,
    )
}

/// One campaign with its ads (creative title and body) and status history.
#[utoipa::path(operation_id = "marketingCampaign", get, path = "/api/crm/marketing/campaigns/{id}", tag = "marketing",
    params(("id" = String, Path, description = "Meta campaign id, or `unknown`"), StatsQuery),
    responses((status = 200, body = CampaignDetail), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn campaign(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Response> {
    cached_json(
        svc::campaign_cached(&s.db, &s.marketing_cache, &auth, &id, &q).await?,
        &headers,
    )
}

/// The daily series of one campaign.
#[utoipa::path(operation_id = "marketingCampaignInsights", get, path = "/api/crm/marketing/campaigns/{id}/insights", tag = "marketing",
    params(("id" = String, Path, description = "Meta campaign id, or `unknown`"), StatsQuery),
    responses((status = 200, body = CampaignInsights), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn campaign_insights(
    State(s): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Response> {
    cached_json(
        svc::campaign_insights_cached(&s.db, &s.marketing_cache, &auth, &id, &q).await?,
        &headers,
    )
}

/// Sync state per connected ad account (last success, last error with
/// Meta's message, next run, backfill progress).
#[utoipa::path(operation_id = "marketingSyncStatus", get, path = "/api/crm/marketing/sync", tag = "marketing",
    responses((status = 200, body = Vec<SyncStateView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn sync_status(
    State(s): State<AppState>,
    auth: Authed,
) -> ApiResult<ApiJson<Vec<SyncStateView>>> {
    Ok(ApiJson(svc::sync_status(&s.db, &auth).await?))
}

/// "Sync now": queues a sync of every connected ad account.
#[utoipa::path(operation_id = "marketingSyncNow", post, path = "/api/crm/marketing/sync", tag = "marketing",
    responses((status = 202, body = Vec<SyncStateView>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sync_now(
    State(s): State<AppState>,
    auth: Authed,
) -> ApiResult<(StatusCode, ApiJson<Vec<SyncStateView>>)> {
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(svc::sync_now(&s.db, &auth).await?),
    ))
}

/// FX rates into the reporting currency, newest date first.
#[utoipa::path(operation_id = "listFxRates", get, path = "/api/crm/marketing/fx-rates", tag = "marketing",
    params(FxQuery),
    responses((status = 200, body = Page<FxRate>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_fx(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<FxQuery>,
) -> ApiResult<ApiJson<Page<FxRate>>> {
    Ok(ApiJson(fx::list(&s.db, &auth, &q).await?))
}

/// Sets (inserts or replaces) the rate of a currency pair on a date.
#[utoipa::path(operation_id = "putFxRate", put, path = "/api/crm/marketing/fx-rates", tag = "marketing",
    request_body = FxRateInput,
    responses((status = 200, body = FxRate), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_fx(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<FxRateInput>,
) -> ApiResult<ApiJson<FxRate>> {
    Ok(ApiJson(fx::put(&s.db, &auth, &input).await?))
}

/// Deletes an FX rate.
#[utoipa::path(operation_id = "deleteFxRate", delete, path = "/api/crm/marketing/fx-rates/{id}", tag = "marketing",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_fx(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    fx::delete(&s.db, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Imports FX rates from CSV (`date,from_currency,rate[,to_currency]`
/// header); all rows or none.
#[utoipa::path(operation_id = "importFxRates", post, path = "/api/crm/marketing/fx-rates/import", tag = "marketing",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = FxImport), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_fx(
    State(s): State<AppState>,
    auth: Authed,
    body: String,
) -> ApiResult<ApiJson<FxImport>> {
    if body.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_csv",
            "the CSV body is empty",
        ));
    }
    Ok(ApiJson(fx::import_csv(&s.db, &auth, &body).await?))
}

fn wants_sync(ev: &str) -> bool {
    // A reconnect (new token after an expiry or a disconnect) restarts the
    // schedule of every selected ad account by itself.
    ev == "meta_ad_account_selected" || ev == "meta_connected"
}

fn wants_reconcile(ev: &str) -> bool {
    ev == "meta_lead_pages_selected"
}

const START_SYNC: &str = "marketing.start_sync";

/// Registers the sync and reconcile jobs and the outbox consumers that start
/// them when an ad account or Lead Ads pages are selected.
fn wants_rollups(ev: &str) -> bool {
    ev.starts_with("lead_")
        || ev.starts_with("opportunity_")
        || ev.starts_with("sale_")
        || ev == "marketing_sync_completed"
}

const ROLLUPS_JOB: &str = "marketing.rollups";

/// Enqueues a sync of every ad account the tenant's connection has selected.
async fn restart_syncs(db: &sea_orm::DatabaseConnection, tenant: Uuid) -> Result<(), String> {
    let conn = crm_core::services::meta_connection::connection_for_tenant(db, tenant)
        .await
        .map_err(|e| e.to_string())?;
    for a in conn.map(|c| c.ad_accounts).unwrap_or_default() {
        sync::enqueue_sync(db, tenant, &a.id, "reconnected")
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub fn register_jobs(reg: &mut Registry) {
    // Rollups: every lead, opportunity or sale event (and every finished
    // sync) clears the tenant's dirty marks, which were written in the same
    // transaction as the change. Idempotent; a mark left by a concurrent
    // change is cleared by the next event or read.
    reg.handle(
        ROLLUPS_JOB,
        Arc::new(|db, job| {
            Box::pin(async move {
                let Some(tenant) = job.tenant_id else {
                    return JobOutcome::Fail {
                        error: "rollups job without a tenant".into(),
                    };
                };
                match crm_core::services::rollups::refresh(&db, tenant).await {
                    Ok(_) => JobOutcome::Done,
                    Err(e) => JobOutcome::Retry {
                        error: e.to_string(),
                        after: None,
                    },
                }
            })
        }),
    );
    reg.consume(Consumer {
        job_kind: ROLLUPS_JOB,
        wants: wants_rollups,
    });
    let Some(env) = reg.meta.clone() else {
        return;
    };
    let e = env.clone();
    reg.handle(
        sync::SYNC_JOB,
        Arc::new(move |db, job| {
            let env = e.clone();
            Box::pin(async move {
                let tenant = job.tenant_id.or_else(|| {
                    job.payload
                        .get("tenant_id")
                        .and_then(|v| v.as_str())
                        .and_then(|s| s.parse().ok())
                });
                let account = job
                    .payload
                    .get("ad_account_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                let (Some(tenant), Some(account)) = (tenant, account) else {
                    return JobOutcome::Fail {
                        error: "sync job without tenant or ad account".into(),
                    };
                };
                match sync::run(&db, &env, tenant, &account).await {
                    Ok(_) => JobOutcome::Done,
                    Err(SyncError::Retry {
                        message,
                        after_secs,
                    }) => JobOutcome::Retry {
                        error: message,
                        after: after_secs.map(std::time::Duration::from_secs),
                    },
                    Err(SyncError::Stop { message }) => JobOutcome::Fail { error: message },
                }
            })
        }),
    );
    reg.handle(
        START_SYNC,
        Arc::new(move |db, job| {
            Box::pin(async move {
                if job.payload.get("event_type").and_then(|v| v.as_str()) == Some("meta_connected")
                {
                    let Some(tenant) = job.tenant_id else {
                        return JobOutcome::Fail {
                            error: "event without tenant".into(),
                        };
                    };
                    return match restart_syncs(&db, tenant).await {
                        Ok(()) => JobOutcome::Done,
                        Err(e) => JobOutcome::Retry {
                            error: e,
                            after: None,
                        },
                    };
                }
                let (Some(tenant), Some(account)) = (
                    job.tenant_id,
                    job.payload
                        .pointer("/payload/ad_account_id")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                ) else {
                    return JobOutcome::Fail {
                        error: "event without tenant or ad account".into(),
                    };
                };
                match sync::enqueue_sync(&db, tenant, &account, "selected").await {
                    Ok(_) => JobOutcome::Done,
                    Err(e) => JobOutcome::Retry {
                        error: e.to_string(),
                        after: None,
                    },
                }
            })
        }),
    );
    reg.consume(Consumer {
        job_kind: START_SYNC,
        wants: wants_sync,
    });
    let e = env.clone();
    reg.handle(
        attribution::RECONCILE_JOB,
        Arc::new(move |db, job| {
            let env = e.clone();
            Box::pin(async move {
                let Some(tenant) = job.tenant_id else {
                    return JobOutcome::Fail {
                        error: "reconcile job without a tenant".into(),
                    };
                };
                match attribution::reconcile_forms(&db, &env, tenant).await {
                    Ok(_) => {
                        let next = chrono::Utc::now() + chrono::Duration::hours(1);
                        match attribution::schedule_reconcile(&db, tenant, next).await {
                            Ok(()) => JobOutcome::Done,
                            Err(e) => JobOutcome::Retry {
                                error: e.to_string(),
                                after: None,
                            },
                        }
                    }
                    Err(crm_core::services::webhooks::HandlerError::Retry(error, after)) => {
                        JobOutcome::Retry {
                            error,
                            after: after.map(std::time::Duration::from_secs),
                        }
                    }
                    Err(crm_core::services::webhooks::HandlerError::Fail(error)) => {
                        JobOutcome::Fail { error }
                    }
                }
            })
        }),
    );
    reg.consume(Consumer {
        job_kind: attribution::RECONCILE_JOB,
        wants: wants_reconcile,
    });
    reg.handle(
        capi::ENQUEUE_JOB,
        Arc::new(move |db, job| {
            Box::pin(async move {
                let Some(tenant) = job.tenant_id else {
                    return JobOutcome::Fail {
                        error: "event without a tenant".into(),
                    };
                };
                match capi::handle_outbox_job(&db, tenant, &job.payload).await {
                    Ok(_) => JobOutcome::Done,
                    Err(e) => JobOutcome::Retry {
                        error: e.to_string(),
                        after: None,
                    },
                }
            })
        }),
    );
    reg.consume(Consumer {
        job_kind: capi::ENQUEUE_JOB,
        wants: capi::wants,
    });
    let e = env.clone();
    reg.handle(
        capi::SEND_JOB,
        Arc::new(move |db, job| {
            let env = e.clone();
            Box::pin(async move {
                let Some(id) = job
                    .payload
                    .get("capi_event_id")
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse::<Uuid>().ok())
                else {
                    return JobOutcome::Fail {
                        error: "send job without a ledger id".into(),
                    };
                };
                match capi::send(&db, &env, id).await {
                    Ok(SendOutcome::Done) => JobOutcome::Done,
                    Ok(SendOutcome::Retry(error, after)) => JobOutcome::Retry {
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
