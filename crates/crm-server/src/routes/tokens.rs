use axum::extract::State;
use axum::http::StatusCode;
use crm_core::services::accounts::{self, ApiTokenView, NewApiToken};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<ApiTokenView>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: ApiTokenView,
    /// The secret, shown only in this response. Send it as `Authorization: Bearer`.
    pub secret: String,
}

/// API tokens of the tenant (ceo/admin). Secrets are never shown again.
#[utoipa::path(operation_id = "listApiTokens", get, path = "/api/tokens", tag = "tokens",
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<TokenList>> {
    Ok(ApiJson(TokenList {
        items: accounts::list_tokens(&s.db, &auth).await?,
    }))
}

/// Create an API token with a role (ceo/admin).
#[utoipa::path(operation_id = "createApiToken", post, path = "/api/tokens", tag = "tokens", request_body = NewApiToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<NewApiToken>,
) -> ApiResult<(StatusCode, ApiJson<CreatedToken>)> {
    let (token, secret) = accounts::create_token(&s.db, &auth, &input).await?;
    Ok((StatusCode::CREATED, ApiJson(CreatedToken { token, secret })))
}

/// Revoke an API token; it stops working at once.
#[utoipa::path(operation_id = "revokeApiToken", delete, path = "/api/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204, description = "revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    accounts::revoke_token(&s.db, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
