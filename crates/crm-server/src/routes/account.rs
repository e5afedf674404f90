//! The caller's own account: password change, sessions, and the password
//! reset flow (issue 18.6, 18.7).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Duration;
use crm_core::services::passwords::{self, PasswordChange, ResetCompletion};
use crm_core::services::sessions::{self, SessionItem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crm_core::CoreError;
use crm_core::services::accounts::SessionInfo;

use crate::auth::{Authed, ClientInfo};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(change_password))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_other_sessions))
        .routes(routes!(request_reset))
        .routes(routes!(complete_reset))
}

fn session_of(auth: &Authed) -> Result<&SessionInfo, ApiError> {
    auth.session.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_session",
            "API tokens have no password or sessions; sign in as the user",
        )
    })
}

fn idle(s: &AppState) -> Duration {
    Duration::minutes(s.cfg.session_idle_minutes)
}

/// Change your own password. The current one is required; your other
/// sessions are signed out (this one stays).
#[utoipa::path(operation_id = "changeOwnPassword", post, path = "/api/auth/password", tag = "auth",
    request_body = PasswordChange,
    responses((status = 204, description = "changed"), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "wrong_current_password, weak_password, common_password, same_password or not_a_session"),
        (status = 429, body = ErrorBody, description = "rate_limited: too many wrong current passwords (counted with the account's failed logins)")))]
async fn change_password(
    State(s): State<AppState>,
    auth: Authed,
    client: ClientInfo,
    ApiJson(input): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let session = session_of(&auth)?;
    // Guessing the current password here counts like failed logins of the
    // account, so a stolen session cannot try passwords without limit.
    let ip = client
        .ip
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let keys = crate::ratelimit::login_keys(ip, &session.user.email);
    if let Some(wait) = s.login_limiter.blocked_for(&keys) {
        return Err(ApiError::rate_limited(wait));
    }
    match passwords::change_own(&s.db, &auth, session.session_id, &input).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) => {
            if matches!(&e, CoreError::Validation { code, .. } if *code == "wrong_current_password")
            {
                s.login_limiter.record_failure(&keys);
            }
            Err(e.into())
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionItem>,
}

/// Your live sessions (device, address, last seen), most recent first.
#[utoipa::path(operation_id = "listOwnSessions", get, path = "/api/auth/sessions", tag = "auth",
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "not_a_session")))]
async fn list_sessions(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<SessionList>> {
    let session = session_of(&auth)?;
    Ok(ApiJson(SessionList {
        items: sessions::list_mine(&s.db, &auth, session.session_id, idle(&s)).await?,
    }))
}

/// Sign out one of your sessions (this one too, if you name it).
#[utoipa::path(operation_id = "revokeOwnSession", delete, path = "/api/auth/sessions/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "session id")),
    responses((status = 204, description = "signed out"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn revoke_session(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    session_of(&auth)?;
    sessions::revoke_mine(&s.db, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Revoked {
    /// How many sessions were signed out.
    pub revoked: u64,
}

/// Sign out everywhere else: every session of yours but this one.
#[utoipa::path(operation_id = "revokeOtherSessions", post, path = "/api/auth/sessions/revoke-others", tag = "auth",
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "not_a_session")))]
async fn revoke_other_sessions(
    State(s): State<AppState>,
    auth: Authed,
) -> ApiResult<ApiJson<Revoked>> {
    let session = session_of(&auth)?;
    let revoked = sessions::revoke_others(&s.db, &auth, session.session_id).await?;
    Ok(ApiJson(Revoked { revoked }))
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct ResetRequested {
    /// Always true: the answer never tells whether the address has an account.
    pub accepted: bool,
}

/// Forgotten password: e-mails a one-time link (30 minutes) to the address
/// if it belongs to an active user. The answer is the same either way. Needs
/// SMTP (`CRM_SMTP_URL`); otherwise 422 `password_reset_unavailable` (ask an
/// admin). Limited like logins (429).
#[utoipa::path(operation_id = "requestPasswordReset", post, path = "/api/auth/password-reset", tag = "auth", security(()),
    request_body = ResetRequest,
    responses((status = 202, body = ResetRequested),
        (status = 422, body = ErrorBody, description = "password_reset_unavailable: no e-mail is configured"),
        (status = 429, body = ErrorBody, description = "rate_limited")))]
async fn request_reset(
    State(s): State<AppState>,
    client: ClientInfo,
    ApiJson(input): ApiJson<ResetRequest>,
) -> ApiResult<(StatusCode, ApiJson<ResetRequested>)> {
    let Some(mailer) = s.mailer.clone() else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password_reset_unavailable",
            "this server sends no e-mail; ask an administrator to reset your password",
        ));
    };
    let ip = client
        .ip
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    // Counted apart from logins (so requests for someone's address cannot
    // lock them out of signing in), with the same limits.
    let keys = crate::ratelimit::login_keys(ip, &input.email).map(|k| format!("reset:{k}"));
    if let Some(wait) = s.login_limiter.blocked_for(&keys) {
        return Err(ApiError::rate_limited(wait));
    }
    // Every request counts against the limit, so nobody can flood an inbox.
    s.login_limiter.record_failure(&keys);
    // The lookup and the e-mail happen after the answer, so its timing does
    // not tell whether the address has an account.
    let db = s.db.clone();
    let public_url = s.public_url.clone();
    let ip = client.ip_string();
    tokio::spawn(async move {
        match passwords::issue_for_email(&db, &input.email, ip).await {
            Ok(Some(issued)) => {
                let link = crate::mail::reset_link(&public_url, &issued.secret);
                let (subject, body) = crate::mail::reset_message(
                    &issued.tenant.locale,
                    &issued.user.name,
                    &link,
                    false,
                );
                if let Err(e) = mailer.send(&issued.user.email, &subject, body).await {
                    tracing::warn!(user = %issued.user.id, "could not e-mail a password reset link: {e}");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("password reset request failed: {e}"),
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(ResetRequested { accepted: true }),
    ))
}

/// Set a new password with the token from a reset link. The link is spent,
/// and every session of the user is signed out; sign in with the new
/// password.
#[utoipa::path(operation_id = "completePasswordReset", post, path = "/api/auth/password-reset/complete", tag = "auth", security(()),
    request_body = ResetCompletion,
    responses((status = 204, description = "password set"),
        (status = 422, body = ErrorBody, description = "reset_token_invalid, weak_password or common_password")))]
async fn complete_reset(
    State(s): State<AppState>,
    client: ClientInfo,
    ApiJson(input): ApiJson<ResetCompletion>,
) -> ApiResult<StatusCode> {
    passwords::complete(&s.db, &input, client.ip_string()).await?;
    Ok(StatusCode::NO_CONTENT)
}
