//! Review of sends whose outcome is unknown (`crm_core::services::send_review`):
//! a held message is resent or dismissed by a person.

use axum::extract::State;
use crm_core::services::messaging::{MessageView, SendView};
use crm_core::services::send_review;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::hsm::api_error;
use crate::auth::Authed;
use crate::error::{ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(resend))
        .routes(routes!(dismiss))
}

/// Send a held message again: Meta neither answered nor reported on it, so
/// it may or may not have been delivered. Same message, template and values;
/// consent and the template's approval are checked again (ceo/admin/seller;
/// sellers only for their own leads).
#[utoipa::path(operation_id = "resendHeldMessage", post, path = "/api/crm/marketing/hsm/messages/{id}/resend", tag = "hsm",
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 200, body = SendView, description = "handed to Meta again (held again if Meta still does not answer)"),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "message_not_held, template_not_approved, opted_out, meta_send_failed"),
              (status = 422, body = ErrorBody, description = "no_recipient"),
              (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn resend(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<SendView>> {
    Ok(ApiJson(
        send_review::resend(&s.db, &s.meta, &auth, id)
            .await
            .map_err(api_error)?,
    ))
}

/// Close a held message without sending it again.
#[utoipa::path(operation_id = "dismissHeldMessage", post, path = "/api/crm/marketing/hsm/messages/{id}/dismiss", tag = "hsm",
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 200, body = MessageView),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "message_not_held")))]
async fn dismiss(
    State(s): State<AppState>,
    auth: Authed,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<MessageView>> {
    Ok(ApiJson(send_review::dismiss(&s.db, &auth, id).await?))
}
