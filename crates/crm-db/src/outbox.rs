//! Domain events, written in the same transaction as the change they describe.
//!
//! A dispatcher (run by the worker) turns each undispatched event into one job
//! per interested consumer, with a dedupe key `consumer:event_id`, and marks the
//! event dispatched, all in one transaction. Consumers therefore see every event
//! at least once and can rely on the dedupe key for at-most-once enqueueing.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::outbox;
use crate::jobs::{self, NewJob};

pub async fn emit(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    event_type: &str,
    aggregate_type: &str,
    aggregate_id: &str,
    payload: Value,
) -> Result<Uuid, DbErr> {
    let id = crate::new_id();
    let lead = crate::rollups::lead_of_event(aggregate_type, aggregate_id, &payload);
    outbox::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        event_type: Set(event_type.to_owned()),
        aggregate_type: Set(aggregate_type.to_owned()),
        aggregate_id: Set(aggregate_id.to_owned()),
        payload: Set(payload),
        created_at: Set(Utc::now()),
        dispatched_at: Set(None),
    }
    .insert(conn)
    .await?;
    // Lead, opportunity and sale events move Marketing Hub numbers: mark the
    // lead for the rollups in this same transaction.
    if let Some(lead) = lead {
        crate::rollups::mark_leads(conn, tenant_id, &[lead]).await?;
    }
    Ok(id)
}

/// A consumer of outbox events: a job kind, and which event types it wants.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub job_kind: &'static str,
    pub wants: fn(&str) -> bool,
}

/// Moves up to `batch` pending events into consumer jobs. Returns how many
/// events were dispatched.
pub async fn dispatch(
    db: &DatabaseConnection,
    consumers: &[Consumer],
    batch: u64,
) -> Result<usize, DbErr> {
    // Most polls find nothing: look without the write lock first, so an
    // idle dispatcher never queues behind (or blocks) the writers.
    let pending = outbox::Entity::find()
        .filter(outbox::Column::DispatchedAt.is_null())
        .one(db)
        .await?;
    if pending.is_none() {
        return Ok(0);
    }
    let _gate = crate::write_gate(db).await;
    let txn = db.begin_with_options(crate::write_txn()).await?;
    let mut q = outbox::Entity::find()
        .filter(outbox::Column::DispatchedAt.is_null())
        .order_by_asc(outbox::Column::Id)
        .limit(batch);
    if crate::is_postgres(&txn) {
        q = q.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    let events = q.all(&txn).await?;
    let now = Utc::now();
    for ev in &events {
        for c in consumers.iter().filter(|c| (c.wants)(&ev.event_type)) {
            jobs::enqueue(
                &txn,
                NewJob {
                    tenant_id: Some(ev.tenant_id),
                    kind: c.job_kind.to_owned(),
                    payload: serde_json::json!({
                        "event_id": ev.id,
                        "event_type": ev.event_type,
                        "aggregate_type": ev.aggregate_type,
                        "aggregate_id": ev.aggregate_id,
                        "payload": ev.payload,
                    }),
                    dedupe_key: Some(format!("{}:{}", c.job_kind, ev.id)),
                    run_at: now,
                    max_attempts: 10,
                },
            )
            .await?;
        }
        let mut am: outbox::ActiveModel = ev.clone().into();
        am.dispatched_at = Set(Some(now));
        am.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(events.len())
}
