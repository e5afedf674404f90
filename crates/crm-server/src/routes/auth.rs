use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::Duration;
use crm_core::services::accounts::{
    self, ApiTokenView, LoginFailure, SessionInfo, TenantView, UserView,
};
use crm_core::{Permission, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Authed, ClientInfo, clear_session_cookie, session_cookie};
use crate::error::{ApiError, ApiJson, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// Who is calling: the user (session) or the API token, their tenant, and what
/// their role allows.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub user: Option<UserView>,
    pub token: Option<ApiTokenView>,
    pub tenant: TenantView,
    pub role: Role,
    /// Send as `X-CSRF-Token` on cookie-authenticated changes. Null for API tokens.
    pub csrf_token: Option<String>,
    pub permissions: Vec<Permission>,
}

impl SessionView {
    pub fn from_session(info: &SessionInfo) -> Self {
        let role = Role::parse(&info.user.role).unwrap_or(Role::Seller);
        Self {
            user: Some(info.user.clone().into()),
            token: None,
            tenant: info.tenant.clone().into(),
            role,
            csrf_token: Some(info.csrf_token.clone()),
            permissions: role.permissions(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

/// Sign in with email and password. Sets the `crm_session` cookie. After too
/// many failures from one network (/24 for IPv4, /64 for IPv6) or for one
/// account, answers 429 with `Retry-After`.
#[utoipa::path(operation_id = "login", post, path = "/api/auth/login", tag = "auth", security(()),
    request_body = LoginInput,
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = ErrorBody, description = "invalid_credentials: a wrong email or password, or a disabled account (the same answer, so it never tells that a password was right)"),
        (status = 429, body = ErrorBody, description = "rate_limited")))]
async fn login(
    State(s): State<AppState>,
    client: ClientInfo,
    ApiJson(input): ApiJson<LoginInput>,
) -> ApiResult<impl IntoResponse> {
    let ip = client
        .ip
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let keys = crate::ratelimit::login_keys(ip, &input.email);
    if let Some(wait) = s.login_limiter.blocked_for(&keys) {
        return Err(ApiError::rate_limited(wait));
    }
    let outcome = accounts::login(
        &s.db,
        &input.email,
        &input.password,
        client.ip_string(),
        client.user_agent.clone(),
        Duration::hours(s.cfg.session_ttl_hours),
    )
    .await?;
    match outcome {
        Ok(created) => {
            let cookie = session_cookie(&s, created.secret);
            Ok((
                [(header::SET_COOKIE, cookie.to_string())],
                ApiJson(SessionView::from_session(&created.info)),
            ))
        }
        Err(failure) => {
            s.login_limiter.record_failure(&keys);
            // A disabled account gets the same answer as a wrong password, so
            // the answer never confirms that a password was right (the audit
            // log keeps the difference).
            let (LoginFailure::BadCredentials | LoginFailure::Disabled) = failure;
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong email or password, or the account is disabled",
            ))
        }
    }
}

/// Sign out: the session is revoked on the server and the cookie cleared.
#[utoipa::path(operation_id = "logout", post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "signed out"),
        (status = 422, body = ErrorBody, description = "not_a_session (API tokens are revoked under /api/tokens)"),
        (status = 401, body = ErrorBody)))]
async fn logout(State(s): State<AppState>, auth: Authed) -> ApiResult<impl IntoResponse> {
    let Some(session) = &auth.session else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_session",
            "API tokens have no session; revoke the token instead",
        ));
    };
    accounts::logout(&s.db, &auth.ctx, session.session_id).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_session_cookie(&s).to_string())],
    ))
}

/// The caller: user or token, tenant, role, permissions and CSRF token.
#[utoipa::path(operation_id = "getMe", get, path = "/api/auth/me", tag = "auth",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
async fn me(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<SessionView>> {
    if let Some(session) = &auth.session {
        return Ok(ApiJson(SessionView::from_session(session)));
    }
    let tenant = accounts::get_tenant(&s.db, &auth.ctx).await?;
    let token = match auth.ctx.token_id {
        Some(id) => accounts::list_tokens_unchecked(&s.db, auth.ctx.tenant_id, id).await?,
        None => None,
    };
    Ok(ApiJson(SessionView {
        user: None,
        token,
        tenant,
        role: auth.ctx.role,
        csrf_token: None,
        permissions: auth.ctx.role.permissions(),
    }))
}
