use axum::extract::State;
use crm_core::services::Page;
use crm_core::services::audit::{self, AuditEntry, AuditQuery};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Authed;
use crate::error::{ApiJson, ApiQuery, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The audit log, newest first, with filters and cursor pagination (ceo/admin).
/// Reading it is audited too.
#[utoipa::path(operation_id = "listAudit", get, path = "/api/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<ApiJson<Page<AuditEntry>>> {
    Ok(ApiJson(audit::list(&s.db, &auth, &q).await?))
}
