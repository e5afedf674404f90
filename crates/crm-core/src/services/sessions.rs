//! A user's own sessions (issue 18.7): the list (device, address, last seen)
//! and signing out one or all the others.

use chrono::{DateTime, Duration, Utc};
use crm_db::audit;
use crm_db::entity::session;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{CoreError, TenantCtx};

/// One live session of the caller.
#[derive(Serialize, ToSchema)]
pub struct SessionItem {
    pub id: Uuid,
    /// The session making this request.
    pub current: bool,
    /// The browser's User-Agent, as sent when signing in.
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Updated at most once a minute.
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it ends for lack of use unless used again.
    pub idle_expires_at: DateTime<Utc>,
}

fn user_of(ctx: &TenantCtx) -> Result<Uuid, CoreError> {
    ctx.user_id
        .ok_or_else(|| CoreError::validation("not_a_session", "API tokens have no sessions"))
}

/// The caller's live sessions, most recently used first.
pub async fn list_mine(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    current: Uuid,
    idle: Duration,
) -> Result<Vec<SessionItem>, CoreError> {
    let user_id = user_of(ctx)?;
    let now = Utc::now();
    let rows = session::Entity::find()
        .filter(session::Column::TenantId.eq(ctx.tenant_id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .filter(session::Column::LastSeenAt.gt(now - idle))
        .order_by_desc(session::Column::LastSeenAt)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|s| SessionItem {
            id: s.id,
            current: s.id == current,
            user_agent: s.user_agent,
            ip: s.ip,
            created_at: s.created_at,
            idle_expires_at: (s.last_seen_at + idle).min(s.expires_at),
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
        })
        .collect())
}

/// Signs out one of the caller's sessions (404 when it is not theirs).
pub async fn revoke_mine(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<(), CoreError> {
    let user_id = user_of(ctx)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let n = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Some(Utc::now()).into())
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::TenantId.eq(ctx.tenant_id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if n == 0 {
        return Err(CoreError::NotFound("session"));
    }
    audit::record(
        &txn,
        &ctx.actor(),
        "auth.session_revoked",
        "session",
        Some(id.to_string()),
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Signs out every session of the caller but `current`. Returns how many.
pub async fn revoke_others(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    current: Uuid,
) -> Result<u64, CoreError> {
    let user_id = user_of(ctx)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let n = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Some(Utc::now()).into())
        .filter(session::Column::TenantId.eq(ctx.tenant_id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::Id.ne(current))
        .filter(session::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    audit::record(
        &txn,
        &ctx.actor(),
        "auth.sessions_revoked",
        "user",
        Some(user_id.to_string()),
        json!({"count": n}),
    )
    .await?;
    txn.commit().await?;
    Ok(n)
}
