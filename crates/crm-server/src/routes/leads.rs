use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crm_core::TenantCtx;
use crm_core::services::Page;
use crm_core::services::import::{self, ImportReport, Mapping};
use crm_core::services::leads::{
    self, BulkAssign, BulkResult, BulkTag, ConsentInput, LeadDetail, LeadPatch, LeadQuery,
    LeadView, NewLead, NoteInput, OnDuplicate, TouchInput, TouchView,
};
use crm_core::services::timeline::{self, ActivityView, TimelineQuery};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(get_timeline))
        .routes(routes!(add_note))
        .routes(routes!(add_touch))
        .routes(routes!(set_consent))
        .routes(routes!(bulk_assign))
        .routes(routes!(bulk_tag))
        .routes(routes!(export_csv))
        // The upload limit (CRM_UPLOAD_LIMIT_BYTES, enforced for every request
        // by the app) applies here instead of the JSON body limit.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import_leads))
                .layer(DefaultBodyLimit::disable()),
        )
}

/// Leads with filters, text search, sorting and cursor pagination. Sellers see
/// only their own leads.
#[utoipa::path(operation_id = "listLeads", get, path = "/api/leads", tag = "leads", params(LeadQuery),
    responses((status = 200, body = Page<LeadView>), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid filter or cursor")))]
async fn list(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<LeadQuery>,
) -> ApiResult<ApiJson<Page<LeadView>>> {
    Ok(ApiJson(leads::list(&s.db, &auth, &q).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CreateParams {
    /// `reject` (default): 409 `duplicate_lead` with `details.existing_id` when
    /// the phone, email, wa_id or bsuid already belongs to a lead. `update`:
    /// fill the existing lead's empty fields, add tags, append the attribution
    /// as a later touch and answer 200 with it.
    #[param(value_type = Option<String>, pattern = r"^(reject|update)$")]
    on_duplicate: Option<OnDuplicate>,
}

/// Create a lead (duplicate detection by phone, email, wa_id and bsuid).
#[utoipa::path(operation_id = "createLead", post, path = "/api/leads", tag = "leads",
    params(CreateParams), request_body = NewLead,
    responses((status = 201, body = LeadView, description = "created"),
        (status = 200, body = LeadView, description = "an existing lead was updated (on_duplicate=update)"),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "duplicate_lead (details.existing_id) or ambiguous_duplicate"),
        (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(p): ApiQuery<CreateParams>,
    ApiJson(input): ApiJson<NewLead>,
) -> ApiResult<(StatusCode, ApiJson<LeadView>)> {
    let r = leads::create(&s.db, &auth, &input, p.on_duplicate.unwrap_or_default()).await?;
    let status = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(r.lead)))
}

/// A lead with its consent state, touch history (first touch first) and
/// opportunities.
#[utoipa::path(operation_id = "getLead", get, path = "/api/leads/{id}", tag = "leads",
    params(("id" = Uuid, Path, description = "lead id")),
    responses((status = 200, body = LeadDetail), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<LeadDetail>> {
    Ok(ApiJson(leads::get(&s.db, &auth, id).await?))
}

/// Update contact data, status, owner, tags, time zone or external ids.
/// Attribution is not editable (first touch is permanent).
#[utoipa::path(operation_id = "updateLead", patch, path = "/api/leads/{id}", tag = "leads",
    params(("id" = Uuid, Path, description = "lead id")), request_body = LeadPatch,
    responses((status = 200, body = LeadView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "duplicate_lead"), (status = 422, body = ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<LeadPatch>,
) -> ApiResult<ApiJson<LeadView>> {
    Ok(ApiJson(leads::update(&s.db, &auth, id, &patch).await?))
}

/// Delete a lead with its touches, timeline and opportunities (not if it has sales).
#[utoipa::path(operation_id = "deleteLead", delete, path = "/api/leads/{id}", tag = "leads",
    params(("id" = Uuid, Path, description = "lead id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "lead_has_sales")))]
async fn delete(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    leads::delete(&s.db, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The lead's activity timeline, newest first.
#[utoipa::path(operation_id = "getLeadTimeline", get, path = "/api/leads/{id}/timeline", tag = "leads",
    params(("id" = Uuid, Path, description = "lead id"), TimelineQuery),
    responses((status = 200, body = Page<ActivityView>), (status = 404, body = ErrorBody)))]
async fn get_timeline(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> ApiResult<ApiJson<Page<ActivityView>>> {
    Ok(ApiJson(timeline::list(&s.db, &auth, id, &q).await?))
}

/// Add a note to the lead's timeline.
#[utoipa::path(operation_id = "addLeadNote", post, path = "/api/leads/{id}/notes", tag = "leads",
    params(("id" = Uuid, Path, description = "lead id")), request_body = NoteInput,
    responses((status = 201, body = ActivityView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_note(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<NoteInput>,
) -> ApiResult<(StatusCode, ApiJson<ActivityView>)> {
    Ok((
        StatusCode::CREATED,
        ApiJson(leads::add_note(&s.db, &auth, id, &input).await?),
    ))
}

/// Append an attribution touch. The lead's first touch never changes. A
/// repeated leadgen id or CTWA click id is ignored (200 with null).
#[utoipa::path(operation_id = "addLeadTouch", post, path = "/api/leads/{id}/touches", tag = "leads",
    params(("id" = Uuid, Path, description = "lead id")), request_body = TouchInput,
    responses((status = 201, body = TouchView), (status = 200, description = "already recorded"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_touch(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<TouchInput>,
) -> ApiResult<Response> {
    Ok(match leads::add_touch(&s.db, &auth, id, &input).await? {
        Some(t) => (StatusCode::CREATED, ApiJson(t)).into_response(),
        None => (StatusCode::OK, ApiJson(serde_json::Value::Null)).into_response(),
    })
}

/// Record a marketing opt-in or opt-out with its time and method.
#[utoipa::path(operation_id = "setLeadConsent", post, path = "/api/leads/{id}/consent", tag = "leads",
    params(("id" = Uuid, Path, description = "lead id")), request_body = ConsentInput,
    responses((status = 200, body = LeadView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_consent(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<ConsentInput>,
) -> ApiResult<ApiJson<LeadView>> {
    Ok(ApiJson(leads::set_consent(&s.db, &auth, id, &input).await?))
}

/// Assign (or unassign with null) an owner to many leads (ceo/admin). All ids
/// must be visible, or nothing changes (422 `leads_not_found`).
#[utoipa::path(operation_id = "bulkAssignLeads", post, path = "/api/leads/bulk/assign", tag = "leads",
    request_body = BulkAssign,
    responses((status = 200, body = BulkResult), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn bulk_assign(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<BulkAssign>,
) -> ApiResult<ApiJson<BulkResult>> {
    Ok(ApiJson(leads::bulk_assign(&s.db, &auth, &input).await?))
}

/// Add and remove tags on many leads.
#[utoipa::path(operation_id = "bulkTagLeads", post, path = "/api/leads/bulk/tag", tag = "leads",
    request_body = BulkTag,
    responses((status = 200, body = BulkResult), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn bulk_tag(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<BulkTag>,
) -> ApiResult<ApiJson<BulkResult>> {
    Ok(ApiJson(leads::bulk_tag(&s.db, &auth, &input).await?))
}

fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(vec![]);
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// The filtered lead list as CSV (same filters as `listLeads`; `cursor` and
/// `limit` are ignored). Streamed page by page.
#[utoipa::path(operation_id = "exportLeadsCsv", get, path = "/api/leads/export.csv", tag = "leads", params(LeadQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn export_csv(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(mut q): ApiQuery<LeadQuery>,
) -> ApiResult<Response> {
    q.cursor = None;
    // Validate filters before the response starts.
    leads::query_condition(&auth, &q)?;
    leads::audit_export(&s.db, &auth, &q).await?;
    let header_line = csv_line(
        &leads::CSV_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .collect::<Vec<_>>(),
    );
    struct St {
        db: sea_orm::DatabaseConnection,
        ctx: TenantCtx,
        q: LeadQuery,
        done: bool,
    }
    let st = St {
        db: s.db.clone(),
        ctx: auth.ctx.clone(),
        q,
        done: false,
    };
    let pages = futures::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        match leads::list_models(&st.db, &st.ctx, &st.q, 1000).await {
            Ok((rows, next)) => {
                let mut buf = Vec::with_capacity(rows.len() * 200);
                for r in &rows {
                    buf.extend(csv_line(&leads::csv_record(r)));
                }
                st.done = next.is_none();
                st.q.cursor = next;
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), st))
            }
            Err(e) => {
                tracing::error!("lead export failed: {e}");
                st.done = true;
                Some((Err(std::io::Error::other("export failed")), st))
            }
        }
    });
    let body =
        futures::stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from(header_line)) })
            .chain(pages)
            // The compression layer may poll once more after the end.
            .fuse();
    use futures::StreamExt;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leads.csv\"",
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// JSON object mapping CSV headers to lead fields, e.g.
    /// `{"Teléfono":"phone","Notas":"-"}` (for a `text/csv` body; a multipart
    /// upload may send it as the `mapping` part instead). Unnamed headers are
    /// matched by name or a known alias.
    mapping: Option<String>,
}

fn parse_mapping(raw: Option<&str>) -> Result<Mapping, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Mapping::new()),
        Some(m) => serde_json::from_str(m).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_mapping",
                format!("mapping must be a JSON object of header → field: {e}"),
            )
        }),
    }
}

/// Import leads from CSV (ceo/admin): a `text/csv` body, or `multipart/form-data`
/// with a `file` part (and optionally a `mapping` part). Valid rows are
/// imported; invalid rows are reported with line numbers and reasons; rows
/// matching existing leads are counted as duplicates (re-importing a file
/// creates nothing new).
#[utoipa::path(operation_id = "importLeads", post, path = "/api/leads/import", tag = "leads", params(ImportParams),
    request_body(content = String, content_type = "text/csv", description = "CSV with a header row"),
    responses((status = 200, body = ImportReport), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid_csv, invalid_mapping, no_identity_column")))]
async fn import_leads(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(p): ApiQuery<ImportParams>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<ApiJson<ImportReport>> {
    auth.require(crm_core::Permission::LeadsImport)?;
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_lowercase();
    let limit = s.cfg.upload_limit_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the upload is larger than {limit} bytes"),
        )
    };
    let (data, mapping_raw): (Bytes, Option<String>) = if ctype.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &s).await.map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_multipart", e.body_text())
        })?;
        let mut file = None;
        let mut mapping = p.mapping.clone();
        while let Some(field) = mp.next_field().await.map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_multipart", e.body_text())
        })? {
            match field.name() {
                Some("file") => {
                    file = Some(field.bytes().await.map_err(|e| {
                        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                            too_large()
                        } else {
                            ApiError::new(
                                StatusCode::BAD_REQUEST,
                                "invalid_multipart",
                                e.body_text(),
                            )
                        }
                    })?)
                }
                Some("mapping") => {
                    mapping = Some(field.text().await.map_err(|e| {
                        ApiError::new(StatusCode::BAD_REQUEST, "invalid_multipart", e.body_text())
                    })?)
                }
                _ => {}
            }
        }
        let file = file.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing_file",
                "send the CSV in a part named `file`",
            )
        })?;
        (file, mapping)
    } else if ctype.starts_with("text/csv")
        || ctype.starts_with("text/plain")
        || ctype.starts_with("application/csv")
    {
        let b = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| too_large())?;
        (b, p.mapping.clone())
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send text/csv or multipart/form-data with a `file` part",
        ));
    };
    let mapping = parse_mapping(mapping_raw.as_deref())?;
    let report =
        import::import_csv(&s.db, &auth, std::io::Cursor::new(data), &mapping, |_| {}).await?;
    Ok(ApiJson(report))
}
