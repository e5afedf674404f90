//! The activity timeline of a lead: one row per thing that happened (created,
//! status change, stage change, note, sale, touch, and later messages), each a
//! kind, an actor and a JSON payload. Written in the same transaction as the
//! change it records.

use chrono::{DateTime, Utc};
use crm_db::audit::Actor;
use crm_db::entity::lead_activity;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::page::{self, Cursor, Page};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

/// Activity kinds written by the CRM core. Other features add their own
/// (e.g. `message_in`, `message_out`) with the same [`write`] function.
pub mod kind {
    pub const CREATED: &str = "created";
    pub const UPDATED: &str = "updated";
    pub const STATUS_CHANGED: &str = "status_changed";
    pub const OWNER_CHANGED: &str = "owner_changed";
    pub const NOTE: &str = "note";
    pub const TOUCH: &str = "touch";
    pub const CONSENT: &str = "consent";
    pub const OPPORTUNITY_CREATED: &str = "opportunity_created";
    pub const STAGE_CHANGED: &str = "stage_changed";
    pub const SALE: &str = "sale";
    pub const REFUND: &str = "refund";
    pub const SALE_STATUS_CHANGED: &str = "sale_status_changed";
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivityView {
    pub id: Uuid,
    pub lead_id: Uuid,
    /// `created`, `updated`, `status_changed`, `owner_changed`, `note`, `touch`,
    /// `consent`, `opportunity_created`, `stage_changed`, `sale`, `refund`,
    /// `sale_status_changed`, and kinds added by other features (messages).
    pub kind: String,
    pub actor_user_id: Option<Uuid>,
    pub actor_token_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub at: DateTime<Utc>,
}

impl From<lead_activity::Model> for ActivityView {
    fn from(m: lead_activity::Model) -> Self {
        Self {
            id: m.id,
            lead_id: m.lead_id,
            kind: m.kind,
            actor_user_id: m.actor_user_id,
            actor_token_id: m.actor_token_id,
            payload: m.payload,
            at: m.at,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Only these kinds (comma separated).
    pub kind: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<200, _>"
    )]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// Appends an activity to a lead's timeline. The caller has already checked
/// that the lead belongs to `actor.tenant_id`.
pub async fn write(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    lead_id: Uuid,
    kind: &str,
    payload: Value,
) -> Result<lead_activity::Model, CoreError> {
    Ok(lead_activity::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(actor.tenant_id),
        lead_id: Set(lead_id),
        kind: Set(kind.to_owned()),
        actor_user_id: Set(actor.user_id),
        actor_token_id: Set(actor.token_id),
        payload: Set(payload),
        at: Set(Utc::now()),
    }
    .insert(conn)
    .await?)
}

/// A lead's timeline, newest first.
pub async fn list(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    lead_id: Uuid,
    q: &TimelineQuery,
) -> Result<Page<ActivityView>, CoreError> {
    ctx.require(Permission::LeadsRead)?;
    super::leads::visible_lead(db, ctx, lead_id).await?;
    let limit = page::limit(q.limit, 50, 200);
    let mut cond = Condition::all()
        .add(lead_activity::Column::TenantId.eq(ctx.tenant_id))
        .add(lead_activity::Column::LeadId.eq(lead_id));
    if let Some(kinds) = &q.kind {
        let kinds: Vec<String> = kinds
            .split(',')
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        if !kinds.is_empty() {
            cond = cond.add(lead_activity::Column::Kind.is_in(kinds));
        }
    }
    if let Some(c) = &q.cursor {
        cond = cond.add(lead_activity::Column::Id.lt(Cursor::decode(c)?.id));
    }
    let mut rows = lead_activity::Entity::find()
        .filter(cond)
        .order_by_desc(lead_activity::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor { k: None, id: r.id }.encode())
    } else {
        None
    };
    Ok(Page {
        items: rows.into_iter().map(ActivityView::from).collect(),
        next_cursor,
    })
}
