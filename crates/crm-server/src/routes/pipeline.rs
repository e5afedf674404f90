use axum::extract::State;
use axum::http::StatusCode;
use crm_core::services::pipeline::{
    self, Board, BoardQuery, NewStage, StageList, StagePatch, StageView,
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stages, create_stage))
        .routes(routes!(update_stage, delete_stage))
        .routes(routes!(board))
}

/// The tenant's pipeline stages in board order (defaults are created on first use).
#[utoipa::path(operation_id = "listPipelineStages", get, path = "/api/pipeline/stages", tag = "pipeline",
    responses((status = 200, body = StageList), (status = 401, body = ErrorBody)))]
async fn list_stages(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<StageList>> {
    Ok(ApiJson(pipeline::list_stages(&s.db, &auth).await?))
}

/// Add a stage (ceo/admin).
#[utoipa::path(operation_id = "createPipelineStage", post, path = "/api/pipeline/stages", tag = "pipeline",
    request_body = NewStage,
    responses((status = 201, body = StageView), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "stage_key_taken"), (status = 422, body = ErrorBody)))]
async fn create_stage(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<NewStage>,
) -> ApiResult<(StatusCode, ApiJson<StageView>)> {
    Ok((
        StatusCode::CREATED,
        ApiJson(pipeline::create_stage(&s.db, &auth, &input).await?),
    ))
}

/// Rename, reorder or change the default probability of a stage (ceo/admin).
#[utoipa::path(operation_id = "updatePipelineStage", patch, path = "/api/pipeline/stages/{id}", tag = "pipeline",
    params(("id" = Uuid, Path, description = "stage id")), request_body = StagePatch,
    responses((status = 200, body = StageView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_stage(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<StagePatch>,
) -> ApiResult<ApiJson<StageView>> {
    Ok(ApiJson(
        pipeline::update_stage(&s.db, &auth, id, &patch).await?,
    ))
}

/// Delete an unused stage (ceo/admin).
#[utoipa::path(operation_id = "deletePipelineStage", delete, path = "/api/pipeline/stages/{id}", tag = "pipeline",
    params(("id" = Uuid, Path, description = "stage id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "stage_in_use, stage_in_history, last_stage_of_kind")))]
async fn delete_stage(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    pipeline::delete_stage(&s.db, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The board: every stage with its opportunities and per-currency totals.
#[utoipa::path(operation_id = "getPipelineBoard", get, path = "/api/pipeline/board", tag = "pipeline",
    params(BoardQuery),
    responses((status = 200, body = Board), (status = 401, body = ErrorBody)))]
async fn board(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<BoardQuery>,
) -> ApiResult<ApiJson<Board>> {
    Ok(ApiJson(pipeline::board(&s.db, &auth, &q).await?))
}
