use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::Duration;
use crm_core::services::accounts::{self, SetupInput};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::SessionView;
use crate::auth::{ClientInfo, session_cookie};
use crate::error::{ApiError, ApiJson, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(status, setup))
}

#[derive(Serialize, ToSchema)]
pub struct SetupStatus {
    /// True while no user exists: the first-run setup is open.
    pub needs_setup: bool,
    /// True when Meta is the local sandbox (`--meta-sandbox`, `crm demo`):
    /// nothing reaches the real Meta, and the UI says so.
    pub meta_sandbox: bool,
    /// True in production while setup is open: `POST /api/setup` needs the
    /// one-time `setup_token` that `crm serve` printed.
    pub needs_setup_token: bool,
}

/// Whether the first-run setup is still open.
#[utoipa::path(operation_id = "getSetupStatus", get, path = "/api/setup", tag = "setup", security(()),
    responses((status = 200, body = SetupStatus)))]
async fn status(State(s): State<AppState>) -> ApiResult<ApiJson<SetupStatus>> {
    let needs_setup = accounts::needs_setup(&s.db).await?;
    Ok(ApiJson(SetupStatus {
        needs_setup,
        meta_sandbox: s.cfg.meta.meta_sandbox,
        needs_setup_token: needs_setup && s.setup_token_hash.is_some(),
    }))
}

/// First run: create the first tenant and its CEO, and sign in as the CEO.
/// Refused with 409 once any user exists.
#[utoipa::path(operation_id = "runSetup", post, path = "/api/setup", tag = "setup", security(()),
    request_body = SetupInput,
    responses(
        (status = 201, body = SessionView),
        (status = 403, body = ErrorBody, description = "setup_token_invalid: production needs the setup token `crm serve` printed"),
        (status = 409, body = ErrorBody, description = "setup_already_done"),
        (status = 422, body = ErrorBody)))]
async fn setup(
    State(s): State<AppState>,
    client: ClientInfo,
    ApiJson(input): ApiJson<SetupInput>,
) -> ApiResult<impl IntoResponse> {
    if let Some(expected) = &s.setup_token_hash {
        let given = crm_core::secrets::sha256_hex(input.setup_token.as_deref().unwrap_or_default());
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            given.as_bytes(),
            expected.as_bytes(),
        )) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "setup_token_invalid",
                "enter the one-time setup token that `crm serve` printed when it started (or run `crm setup` on the server)",
            ));
        }
    }
    let created = accounts::setup(
        &s.db,
        &input,
        client.ip_string(),
        client.user_agent.clone(),
        Duration::hours(s.cfg.session_ttl_hours),
    )
    .await?;
    let cookie = session_cookie(&s, created.secret);
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie.to_string())],
        ApiJson(SessionView::from_session(&created.info)),
    ))
}
