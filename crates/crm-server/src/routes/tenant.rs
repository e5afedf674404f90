use axum::extract::State;
use crm_core::services::accounts::{self, TenantPatch, TenantView};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Authed;
use crate::error::{ApiJson, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get, update))
}

/// The caller's tenant.
#[utoipa::path(operation_id = "getTenant", get, path = "/api/tenant", tag = "tenant",
    responses((status = 200, body = TenantView), (status = 401, body = ErrorBody)))]
async fn get(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<TenantView>> {
    Ok(ApiJson(accounts::get_tenant(&s.db, &auth).await?))
}

/// Change tenant settings: name, reporting currency, time zone, locale, country (ceo/admin).
#[utoipa::path(operation_id = "updateTenant", patch, path = "/api/tenant", tag = "tenant", request_body = TenantPatch,
    responses((status = 200, body = TenantView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(patch): ApiJson<TenantPatch>,
) -> ApiResult<ApiJson<TenantView>> {
    Ok(ApiJson(
        accounts::update_tenant(&s.db, &auth, &patch).await?,
    ))
}
