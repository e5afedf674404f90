//! Reading the audit log. Reading it is itself audited.

use chrono::{DateTime, Utc};
use crm_db::audit;
use crm_db::entity::{audit_log, user};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::page::{self, Cursor, Page};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Exact action, e.g. `user.create`.
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub user_id: Option<Uuid>,
    pub token_id: Option<Uuid>,
    /// Inclusive lower bound (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Exclusive upper bound (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<200, _>"
    )]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub user_id: Option<Uuid>,
    pub user_email: Option<String>,
    pub token_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}

pub async fn list(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &AuditQuery,
) -> Result<Page<AuditEntry>, CoreError> {
    ctx.require(Permission::AuditRead)?;
    let limit = page::limit(q.limit, 50, 200);
    let mut cond = Condition::all().add(audit_log::Column::TenantId.eq(ctx.tenant_id));
    if let Some(v) = &q.action {
        cond = cond.add(audit_log::Column::Action.eq(v.as_str()));
    }
    if let Some(v) = &q.resource_type {
        cond = cond.add(audit_log::Column::ResourceType.eq(v.as_str()));
    }
    if let Some(v) = &q.resource_id {
        cond = cond.add(audit_log::Column::ResourceId.eq(v.as_str()));
    }
    if let Some(v) = q.user_id {
        cond = cond.add(audit_log::Column::UserId.eq(v));
    }
    if let Some(v) = q.token_id {
        cond = cond.add(audit_log::Column::TokenId.eq(v));
    }
    if let Some(v) = q.since {
        cond = cond.add(audit_log::Column::At.gte(v));
    }
    if let Some(v) = q.until {
        cond = cond.add(audit_log::Column::At.lt(v));
    }
    if let Some(c) = &q.cursor {
        let c = Cursor::decode(c)?;
        cond = cond.add(audit_log::Column::Id.lt(c.id));
    }
    let mut rows = audit_log::Entity::find()
        .filter(cond)
        .order_by_desc(audit_log::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor { k: None, id: r.id }.encode())
    } else {
        None
    };
    let user_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.user_id).collect();
    let users = if user_ids.is_empty() {
        vec![]
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(user_ids))
            .filter(user::Column::TenantId.eq(ctx.tenant_id))
            .all(db)
            .await?
    };
    audit::record(
        db,
        &ctx.actor(),
        "audit.read",
        "audit_log",
        None,
        json!({"returned": rows.len()}),
    )
    .await?;
    let items = rows
        .into_iter()
        .map(|r| AuditEntry {
            user_email: r
                .user_id
                .and_then(|id| users.iter().find(|u| u.id == id).map(|u| u.email.clone())),
            id: r.id,
            at: r.at,
            user_id: r.user_id,
            token_id: r.token_id,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            ip: r.ip,
            user_agent: r.user_agent,
            details: r.details,
        })
        .collect();
    Ok(Page { items, next_cursor })
}
