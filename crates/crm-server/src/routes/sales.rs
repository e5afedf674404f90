use axum::extract::State;
use axum::http::StatusCode;
use crm_core::services::Page;
use crm_core::services::sales::{self, NewRefund, NewSale, SalePatch, SaleQuery, SaleView};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update))
        .routes(routes!(refund))
}

/// Sales and refunds, newest first (sellers: of their own opportunities).
#[utoipa::path(operation_id = "listSales", get, path = "/api/sales", tag = "sales", params(SaleQuery),
    responses((status = 200, body = Page<SaleView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<SaleQuery>,
) -> ApiResult<ApiJson<Page<SaleView>>> {
    Ok(ApiJson(sales::list(&s.db, &auth, &q).await?))
}

/// Record a sale on an opportunity (the lead's attribution is snapshotted).
#[utoipa::path(operation_id = "createSale", post, path = "/api/sales", tag = "sales", request_body = NewSale,
    responses((status = 201, body = SaleView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<NewSale>,
) -> ApiResult<(StatusCode, ApiJson<SaleView>)> {
    Ok((
        StatusCode::CREATED,
        ApiJson(sales::create(&s.db, &auth, &input).await?),
    ))
}

#[utoipa::path(operation_id = "getSale", get, path = "/api/sales/{id}", tag = "sales",
    params(("id" = Uuid, Path, description = "sale id")),
    responses((status = 200, body = SaleView), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<SaleView>> {
    Ok(ApiJson(sales::get(&s.db, &auth, id).await?))
}

/// Change status (pending → completed | failed, failed → pending) or payment
/// details. The amount is never editable.
#[utoipa::path(operation_id = "updateSale", patch, path = "/api/sales/{id}", tag = "sales",
    params(("id" = Uuid, Path, description = "sale id")), request_body = SalePatch,
    responses((status = 200, body = SaleView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<SalePatch>,
) -> ApiResult<ApiJson<SaleView>> {
    Ok(ApiJson(sales::update(&s.db, &auth, id, &patch).await?))
}

/// Refund (part of) a completed sale: a new `refund` transaction.
#[utoipa::path(operation_id = "refundSale", post, path = "/api/sales/{id}/refunds", tag = "sales",
    params(("id" = Uuid, Path, description = "sale id")), request_body = NewRefund,
    responses((status = 201, body = SaleView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn refund(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<NewRefund>,
) -> ApiResult<(StatusCode, ApiJson<SaleView>)> {
    Ok((
        StatusCode::CREATED,
        ApiJson(sales::refund(&s.db, &auth, id, &input).await?),
    ))
}
