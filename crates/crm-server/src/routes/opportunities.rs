use axum::extract::State;
use axum::http::StatusCode;
use crm_core::services::Page;
use crm_core::services::pipeline::{
    self, NewOpportunity, OpportunityDetail, OpportunityPatch, OpportunityQuery, OpportunityView,
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
}

/// Opportunities, newest first (sellers: their own).
#[utoipa::path(operation_id = "listOpportunities", get, path = "/api/opportunities", tag = "pipeline",
    params(OpportunityQuery),
    responses((status = 200, body = Page<OpportunityView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<OpportunityQuery>,
) -> ApiResult<ApiJson<Page<OpportunityView>>> {
    Ok(ApiJson(
        pipeline::list_opportunities(&s.db, &auth, &q).await?,
    ))
}

/// Create an opportunity for a lead.
#[utoipa::path(operation_id = "createOpportunity", post, path = "/api/opportunities", tag = "pipeline",
    request_body = NewOpportunity,
    responses((status = 201, body = OpportunityView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<NewOpportunity>,
) -> ApiResult<(StatusCode, ApiJson<OpportunityView>)> {
    Ok((
        StatusCode::CREATED,
        ApiJson(pipeline::create_opportunity(&s.db, &auth, &input).await?),
    ))
}

/// An opportunity with its stage history.
#[utoipa::path(operation_id = "getOpportunity", get, path = "/api/opportunities/{id}", tag = "pipeline",
    params(("id" = Uuid, Path, description = "opportunity id")),
    responses((status = 200, body = OpportunityDetail), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<OpportunityDetail>> {
    Ok(ApiJson(pipeline::get_opportunity(&s.db, &auth, id).await?))
}

/// Update an opportunity. Changing `stage_id` moves it (history row, events;
/// a won or lost stage sets `closed_at`, an open one clears it).
#[utoipa::path(operation_id = "updateOpportunity", patch, path = "/api/opportunities/{id}", tag = "pipeline",
    params(("id" = Uuid, Path, description = "opportunity id")), request_body = OpportunityPatch,
    responses((status = 200, body = OpportunityView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<OpportunityPatch>,
) -> ApiResult<ApiJson<OpportunityView>> {
    Ok(ApiJson(
        pipeline::update_opportunity(&s.db, &auth, id, &patch).await?,
    ))
}

/// Delete an opportunity without sales.
#[utoipa::path(operation_id = "deleteOpportunity", delete, path = "/api/opportunities/{id}", tag = "pipeline",
    params(("id" = Uuid, Path, description = "opportunity id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "opportunity_has_sales")))]
async fn delete(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    pipeline::delete_opportunity(&s.db, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
