//! The audit writer. Every mutation (and every read of sensitive data) writes
//! one row, inside the same transaction as the change it records.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::audit_log;

/// Who did something, and from where. Built by the HTTP layer from the
/// authenticated request; never from the request body.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
    pub token_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    /// An actor for work the system does by itself (jobs, webhooks).
    pub fn system(tenant_id: Uuid) -> Self {
        Self {
            tenant_id,
            ..Default::default()
        }
    }
}

pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    resource_type: &str,
    resource_id: Option<String>,
    details: Value,
) -> Result<Uuid, DbErr> {
    let id = crate::new_id();
    audit_log::ActiveModel {
        id: Set(id),
        tenant_id: Set(actor.tenant_id),
        user_id: Set(actor.user_id),
        token_id: Set(actor.token_id),
        action: Set(action.to_owned()),
        resource_type: Set(resource_type.to_owned()),
        resource_id: Set(resource_id),
        ip: Set(actor.ip.clone()),
        user_agent: Set(actor.user_agent.clone()),
        details: Set(details),
        at: Set(Utc::now()),
    }
    .insert(conn)
    .await?;
    Ok(id)
}
