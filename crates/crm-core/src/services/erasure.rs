//! Deleting a lead erases the person (issue 18.11): besides the lead row and
//! what hangs off it (tags, touches, timeline, opportunities), the copies of
//! their data kept elsewhere go too: WhatsApp messages and their webhook
//! references, automation runs (rendered texts and variables), Conversions
//! API events (hashed contact data), the payloads of outbox events about the
//! lead and its opportunities and of the consumer jobs made from them, and
//! handled webhook deliveries that mention their WhatsApp id, phone or e-mail. Earlier audit rows about the lead keep
//! who did what and when, with their details (names, contact changes)
//! erased. Other job payloads carry only row ids, which then point at
//! nothing. The deletion's own audit row records counts, never the data.

use crm_db::entity::{audit_log, automation_run, capi_event, lead, opportunity, wa_message};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use crate::CoreError;

/// How many copies were erased, for the audit row.
#[derive(Debug, Default, Serialize)]
pub struct Erased {
    pub messages: u64,
    pub automation_runs: u64,
    pub capi_events: u64,
    pub outbox_events: u64,
    /// Consumer jobs made from those events (they copy the payload).
    pub event_jobs: u64,
    pub webhook_deliveries: u64,
    pub audit_details: u64,
}

/// Erases the copies of `l`'s data. Call it in the transaction that deletes
/// the lead, before its opportunities are deleted.
pub async fn erase_lead_copies(
    conn: &impl ConnectionTrait,
    l: &lead::Model,
) -> Result<Erased, CoreError> {
    let (tenant_id, lead_id) = (l.tenant_id, l.id);
    let mut out = Erased::default();
    let message_ids: Vec<Uuid> = wa_message::Entity::find()
        .select_only()
        .column(wa_message::Column::Id)
        .filter(wa_message::Column::TenantId.eq(tenant_id))
        .filter(wa_message::Column::LeadId.eq(lead_id))
        .into_tuple()
        .all(conn)
        .await?;
    for chunk in message_ids.chunks(500) {
        crm_db::message_refs::delete_for_messages(conn, chunk).await?;
    }
    out.messages = wa_message::Entity::delete_many()
        .filter(wa_message::Column::TenantId.eq(tenant_id))
        .filter(wa_message::Column::LeadId.eq(lead_id))
        .exec(conn)
        .await?
        .rows_affected;
    out.automation_runs = automation_run::Entity::delete_many()
        .filter(automation_run::Column::TenantId.eq(tenant_id))
        .filter(automation_run::Column::LeadId.eq(lead_id))
        .exec(conn)
        .await?
        .rows_affected;
    out.capi_events = capi_event::Entity::delete_many()
        .filter(capi_event::Column::TenantId.eq(tenant_id))
        .filter(capi_event::Column::LeadId.eq(lead_id))
        .exec(conn)
        .await?
        .rows_affected;
    let opportunity_ids: Vec<String> = opportunity::Entity::find()
        .select_only()
        .column(opportunity::Column::Id)
        .filter(opportunity::Column::TenantId.eq(tenant_id))
        .filter(opportunity::Column::LeadId.eq(lead_id))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?
        .into_iter()
        .map(|id| id.to_string())
        .collect();
    for (kind, ids) in [
        ("lead", vec![lead_id.to_string()]),
        ("opportunity", opportunity_ids),
    ] {
        let (events, jobs) = crm_db::erasure::scrub_outbox(conn, tenant_id, kind, &ids).await?;
        out.outbox_events += events;
        out.event_jobs += jobs;
    }
    let mut needles: Vec<String> = Vec::new();
    for v in [&l.wa_id, &l.bsuid, &l.email].into_iter().flatten() {
        needles.push(v.clone());
    }
    if let Some(p) = &l.phone {
        // Webhooks carry the number as digits without the +.
        needles.push(p.trim_start_matches('+').to_owned());
    }
    needles.sort();
    needles.dedup();
    out.webhook_deliveries =
        crm_db::erasure::scrub_inbox_mentions(conn, tenant_id, &needles).await?;
    out.audit_details = audit_log::Entity::update_many()
        .col_expr(
            audit_log::Column::Details,
            serde_json::json!({"erased": true}).into(),
        )
        .filter(audit_log::Column::TenantId.eq(tenant_id))
        .filter(audit_log::Column::ResourceType.eq("lead"))
        .filter(audit_log::Column::ResourceId.eq(lead_id.to_string()))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(out)
}
