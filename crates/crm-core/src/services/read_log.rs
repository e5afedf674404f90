//! Coalesced audit rows for frequent reads (the Marketing Hub views).
//!
//! Every change is audited in its own transaction, as before. A read is
//! different: a dashboard is opened many times an hour, and writing one
//! audit row per view made every cached view a database write (on SQLite, a
//! turn at the single write lock). So a read is counted in memory, and a
//! background flush ([`ReadLog::flush`], every few seconds, and once more at
//! shutdown) writes one audit row per caller, action, resource and hour:
//! `details` holds the number of reads, the first and last time, and the
//! query of the last read. A later flush in the same hour updates that same
//! row. Each server process keeps its own rows, so with several replicas a
//! busy hour can have one row per replica.
//!
//! What a crash can lose: the reads counted since the last flush (a few
//! seconds). Changes are never coalesced.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use crm_db::entity::audit_log;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DbErr, EntityTrait, Set, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::TenantCtx;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    token_id: Option<Uuid>,
    action: String,
    resource_type: &'static str,
    resource_id: Option<String>,
    hour: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Tally {
    /// The audit row of this key (kept across flushes within the hour).
    row_id: Uuid,
    reads: u64,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    last_query: Value,
    ip: Option<String>,
    user_agent: Option<String>,
    /// Reads counted since the last flush wrote this row.
    dirty: bool,
}

/// Reads counted in memory, waiting for the next flush.
#[derive(Debug, Default)]
pub struct ReadLog {
    tallies: Mutex<HashMap<Key, Tally>>,
}

impl ReadLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one read. Never touches the database.
    pub fn record(
        &self,
        ctx: &TenantCtx,
        action: String,
        resource_type: &'static str,
        resource_id: Option<String>,
        query: Value,
    ) {
        let now = Utc::now();
        let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        let key = Key {
            tenant_id: ctx.tenant_id,
            user_id: ctx.user_id,
            token_id: ctx.token_id,
            action,
            resource_type,
            resource_id,
            hour,
        };
        let Ok(mut map) = self.tallies.lock() else {
            return;
        };
        let t = map.entry(key).or_insert_with(|| Tally {
            row_id: crm_db::new_id(),
            reads: 0,
            first_at: now,
            last_at: now,
            last_query: Value::Null,
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            dirty: true,
        });
        t.reads += 1;
        t.last_at = now;
        t.last_query = query;
        t.ip = ctx.ip.clone();
        t.user_agent = ctx.user_agent.clone();
        t.dirty = true;
    }

    /// Reads counted and not yet written.
    pub fn pending(&self) -> usize {
        self.tallies
            .lock()
            .map(|m| m.values().filter(|t| t.dirty).count())
            .unwrap_or(0)
    }

    /// Writes (or updates) the audit row of every key read since the last
    /// flush, in one transaction, and forgets the keys of past hours.
    /// Returns the rows written. On an error the counts are kept for the
    /// next flush.
    pub async fn flush(&self, db: &sea_orm::DatabaseConnection) -> Result<usize, DbErr> {
        let now = Utc::now();
        let this_hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        let batch: Vec<(Key, Tally)> = match self.tallies.lock() {
            Ok(map) => map
                .iter()
                .filter(|(_, t)| t.dirty)
                .map(|(k, t)| (k.clone(), t.clone()))
                .collect(),
            Err(_) => return Ok(0),
        };
        if !batch.is_empty() {
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            for chunk in batch.chunks(200) {
                let rows = chunk.iter().map(|(k, t)| audit_log::ActiveModel {
                    id: Set(t.row_id),
                    tenant_id: Set(k.tenant_id),
                    user_id: Set(k.user_id),
                    token_id: Set(k.token_id),
                    action: Set(k.action.clone()),
                    resource_type: Set(k.resource_type.to_owned()),
                    resource_id: Set(k.resource_id.clone()),
                    ip: Set(t.ip.clone()),
                    user_agent: Set(t.user_agent.clone()),
                    details: Set(json!({
                        "reads": t.reads,
                        "hour": k.hour,
                        "first_at": t.first_at,
                        "last_at": t.last_at,
                        "last_query": t.last_query,
                    })),
                    at: Set(t.last_at),
                });
                audit_log::Entity::insert_many(rows)
                    .on_conflict(
                        OnConflict::column(audit_log::Column::Id)
                            .update_columns([
                                audit_log::Column::Details,
                                audit_log::Column::At,
                                audit_log::Column::Ip,
                                audit_log::Column::UserAgent,
                            ])
                            .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
            }
            txn.commit().await?;
        }
        if let Ok(mut map) = self.tallies.lock() {
            for (k, written) in &batch {
                if let Some(t) = map.get_mut(k)
                    && t.reads == written.reads
                {
                    t.dirty = false;
                }
            }
            map.retain(|k, t| t.dirty || k.hour >= this_hour);
        }
        Ok(batch.len())
    }
}

/// Flushes `log` every `every` until `stop` is cancelled, then once more.
pub async fn run_flusher(
    log: std::sync::Arc<ReadLog>,
    db: sea_orm::DatabaseConnection,
    every: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = flush_gated(&log, &db).await {
            tracing::warn!("could not write the coalesced read audit rows: {e}");
        }
    }
    if let Err(e) = flush_gated(&log, &db).await {
        tracing::warn!("could not write the coalesced read audit rows at shutdown: {e}");
    }
}

/// One flush, queued behind this process's other SQLite writers.
pub async fn flush_gated(log: &ReadLog, db: &sea_orm::DatabaseConnection) -> Result<usize, DbErr> {
    if log.pending() == 0 {
        return Ok(0);
    }
    let _gate = crm_db::write_gate(db).await;
    log.flush(db).await
}
