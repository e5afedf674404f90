use axum::extract::State;
use axum::http::StatusCode;
use crm_core::services::accounts::{self, NewUser, UserPatch, UserView};
use crm_core::services::passwords::{self, ResetIssued};
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
        .routes(routes!(update))
        .routes(routes!(reset_password))
}

#[derive(Serialize, ToSchema)]
pub struct TeamList {
    pub items: Vec<UserView>,
}

/// Users of the tenant (ceo/admin).
#[utoipa::path(operation_id = "listTeam", get, path = "/api/team", tag = "team",
    responses((status = 200, body = TeamList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<TeamList>> {
    Ok(ApiJson(TeamList {
        items: accounts::list_team(&s.db, &auth).await?,
    }))
}

/// Add a user with a role and an initial password (ceo/admin; only a ceo grants ceo).
#[utoipa::path(operation_id = "createTeamMember", post, path = "/api/team", tag = "team", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "email_taken"), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, ApiJson<UserView>)> {
    let u = accounts::create_team_member(&s.db, &auth, &input).await?;
    Ok((StatusCode::CREATED, ApiJson(u)))
}

/// Change a user's name, role or status. Disabling signs the user out at once;
/// a role change applies to their very next request.
#[utoipa::path(operation_id = "updateTeamMember", patch, path = "/api/team/{id}", tag = "team", request_body = UserPatch,
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> ApiResult<ApiJson<UserView>> {
    Ok(ApiJson(
        accounts::update_team_member(&s.db, &auth, id, &patch).await?,
    ))
}

/// Reset a user's password (ceo/admin; only a ceo resets a ceo). With e-mail
/// configured the user gets a one-time link (30 minutes); otherwise the link
/// is in the answer, to hand over in person. Their current password keeps
/// working until the link is used; using it signs them out everywhere.
#[utoipa::path(operation_id = "resetTeamMemberPassword", post, path = "/api/team/{id}/password-reset", tag = "team",
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = ResetIssued), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "reset_own_password, role_not_grantable, user_disabled or not_a_session (API tokens cannot)")))]
async fn reset_password(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<ResetIssued>> {
    let issued = passwords::issue_by_admin(&s.db, &auth, id, auth.session.is_some()).await?;
    let link = crate::mail::reset_link(&s.public_url, &issued.secret);
    if let Some(mailer) = &s.mailer {
        let (subject, body) =
            crate::mail::reset_message(&issued.tenant.locale, &issued.user.name, &link, true);
        match mailer.send(&issued.user.email, &subject, body).await {
            Ok(()) => {
                return Ok(ApiJson(ResetIssued {
                    emailed: true,
                    reset_url: None,
                    expires_at: issued.expires_at,
                }));
            }
            Err(e) => tracing::warn!(user = %id, "could not e-mail a password reset link: {e}"),
        }
    }
    Ok(ApiJson(ResetIssued {
        emailed: false,
        reset_url: Some(link),
        expires_at: issued.expires_at,
    }))
}
