//! The `maintenance.prune` job: every ten minutes it deletes finished jobs,
//! processed webhook inbox events, dispatched outbox events, expired and
//! revoked sessions, expired password reset links, expired OAuth states and old audit rows past their
//! retention ([`RetentionArgs`]), in slices, so that no table only grows. On PostgreSQL it then vacuums the jobs table, whose rows are
//! rewritten on every claim and completion (this matters most where
//! autovacuum is off or slow).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crm_db::jobs::{self, NewJob};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;

use crate::config::RetentionArgs;
use crate::worker::{JobOutcome, Registry};

pub const PRUNE_JOB: &str = "maintenance.prune";
/// Minutes between two prunes.
const EVERY_MINUTES: i64 = 10;
/// Rows deleted per statement.
const SLICE: u64 = 5_000;

/// Enqueues the prune of the ten-minute slot that holds `at` (once per slot,
/// however many processes ask).
pub async fn schedule(
    db: &impl ConnectionTrait,
    at: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let slot = at.timestamp() / (EVERY_MINUTES * 60);
    jobs::enqueue(
        db,
        NewJob {
            tenant_id: None,
            kind: PRUNE_JOB.to_owned(),
            payload: json!({}),
            dedupe_key: Some(format!("{PRUNE_JOB}:{slot}")),
            run_at: at,
            max_attempts: 3,
        },
    )
    .await
}

/// What one prune deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub done_jobs: u64,
    pub failed_jobs: u64,
    pub inbox_events: u64,
    pub outbox_events: u64,
    pub sessions: u64,
    pub password_resets: u64,
    pub oauth_states: u64,
    pub audit_rows: u64,
}

/// Deletes every row of `rule` before `before`, a slice at a time.
async fn drain(
    db: &DatabaseConnection,
    rule: crm_db::retention::Rule,
    before: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let mut total = 0;
    loop {
        let n = {
            let _gate = crm_db::write_gate(db).await;
            crm_db::retention::delete_slice(db, rule, before, SLICE).await?
        };
        total += n;
        if n < SLICE {
            return Ok(total);
        }
    }
}

/// Deletes everything past its retention, `SLICE` rows at a time.
pub async fn prune(
    db: &DatabaseConnection,
    r: &RetentionArgs,
    now: DateTime<Utc>,
) -> Result<Pruned, sea_orm::DbErr> {
    // Clamped to a century: chrono's durations have bounds.
    let hours = |h: u64| chrono::Duration::hours(h.min(24 * 36_500) as i64);
    let mut out = Pruned::default();
    let done_before = now - hours(r.job_retention_hours);
    let failed_before = now - hours(r.failed_job_retention_days.saturating_mul(24));
    let inbox_before = now - hours(r.webhook_retention_days.saturating_mul(24));
    loop {
        let n = {
            let _gate = crm_db::write_gate(db).await;
            jobs::prune(db, jobs::DONE, done_before, SLICE).await?
        };
        out.done_jobs += n;
        if n < SLICE {
            break;
        }
    }
    loop {
        let n = {
            let _gate = crm_db::write_gate(db).await;
            jobs::prune(db, jobs::FAILED, failed_before, SLICE).await?
        };
        out.failed_jobs += n;
        if n < SLICE {
            break;
        }
    }
    loop {
        let n = crm_core::services::webhooks::prune(db, inbox_before, SLICE).await?;
        out.inbox_events += n;
        if n < SLICE {
            break;
        }
    }
    use crm_db::retention as rt;
    out.outbox_events = drain(
        db,
        rt::DISPATCHED_OUTBOX,
        now - hours(r.outbox_retention_days.saturating_mul(24)),
    )
    .await?;
    let sessions_before = now - hours(r.session_retention_days.saturating_mul(24));
    out.sessions = drain(db, rt::EXPIRED_SESSIONS, sessions_before).await?
        + drain(db, rt::REVOKED_SESSIONS, sessions_before).await?;
    out.password_resets = drain(db, rt::EXPIRED_PASSWORD_RESETS, sessions_before).await?;
    out.oauth_states = drain(
        db,
        rt::EXPIRED_OAUTH_STATES,
        now - hours(r.oauth_state_retention_hours),
    )
    .await?;
    if r.audit_retention_days > 0 {
        out.audit_rows = drain(
            db,
            rt::AUDIT_ROWS,
            now - hours(r.audit_retention_days.saturating_mul(24)),
        )
        .await?;
    }
    if crm_db::is_postgres(db) && out.done_jobs + out.failed_jobs > 0 {
        db.execute_unprepared("VACUUM (ANALYZE) jobs").await?;
    }
    Ok(out)
}

/// Registers the prune job with these retention settings.
pub fn register(reg: &mut Registry, retention: RetentionArgs) {
    reg.handle(
        PRUNE_JOB,
        Arc::new(move |db, _job| {
            Box::pin(async move {
                let now = Utc::now();
                let res = prune(&db, &retention, now).await;
                let next = now + chrono::Duration::minutes(EVERY_MINUTES);
                if let Err(e) = schedule(&db, next).await {
                    return JobOutcome::Retry {
                        error: format!("scheduling the next prune: {e}"),
                        after: Some(Duration::from_secs(60)),
                    };
                }
                match res {
                    Ok(p) => {
                        if p != Pruned::default() {
                            tracing::info!(
                                done_jobs = p.done_jobs,
                                failed_jobs = p.failed_jobs,
                                inbox_events = p.inbox_events,
                                outbox_events = p.outbox_events,
                                sessions = p.sessions,
                                password_resets = p.password_resets,
                                oauth_states = p.oauth_states,
                                audit_rows = p.audit_rows,
                                "pruned finished work past its retention"
                            );
                        }
                        JobOutcome::Done
                    }
                    Err(e) => JobOutcome::Retry {
                        error: format!("pruning: {e}"),
                        after: None,
                    },
                }
            })
        }),
    );
}
