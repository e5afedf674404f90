//! The durable job queue.
//!
//! Jobs live in the `jobs` table. A worker claims due jobs by flipping them to
//! `running` with a lease (`locked_until`); on PostgreSQL the claim uses
//! `FOR UPDATE SKIP LOCKED` so several workers never take the same job, and on
//! SQLite the single-writer lock gives the same guarantee. A job whose lease ran
//! out (its worker died) becomes claimable again, so every handler must be
//! idempotent. A `dedupe_key` makes enqueueing the same logical job twice a
//! no-op.
//!
//! **Fencing.** A claim is identified by the worker (`locked_by`) and the
//! attempt number (`attempts`, raised by every claim). Every outcome write
//! (done, postponed, failed) and every lease renewal filters on both, so a
//! runner that lost its claim (its lease ran out and someone else took the
//! job) can no longer finish, requeue or extend a job another runner holds.
//! A job whose lease ran out on its last attempt is not claimed again: it is
//! failed (dead-lettered) with the reason, and can be replayed by hand.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, Set, Statement,
};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::job;

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone)]
pub struct NewJob {
    pub tenant_id: Option<Uuid>,
    pub kind: String,
    pub payload: Value,
    pub dedupe_key: Option<String>,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
}

impl NewJob {
    pub fn now(kind: &str, payload: Value) -> Self {
        Self {
            tenant_id: None,
            kind: kind.to_owned(),
            payload,
            dedupe_key: None,
            run_at: Utc::now(),
            max_attempts: 8,
        }
    }
}

/// Inserts a job. Returns `false` when a job with the same dedupe key already
/// exists (in any state), in which case nothing was written.
pub async fn enqueue(conn: &impl ConnectionTrait, new: NewJob) -> Result<bool, DbErr> {
    let rows = job::Entity::insert(row(new, Utc::now()))
        .on_conflict(
            OnConflict::column(job::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(rows > 0)
}

/// The queued row of a new job.
fn row(new: NewJob, now: DateTime<Utc>) -> job::ActiveModel {
    job::ActiveModel {
        id: Set(crate::new_id()),
        tenant_id: Set(new.tenant_id),
        kind: Set(new.kind),
        payload: Set(new.payload),
        dedupe_key: Set(new.dedupe_key),
        status: Set(QUEUED.to_owned()),
        attempts: Set(0),
        max_attempts: Set(new.max_attempts.max(1)),
        run_at: Set(new.run_at),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
    }
}

/// Inserts several jobs in one statement (a job whose dedupe key exists is
/// skipped). Keep batches to a few hundred jobs: SQLite binds at most
/// 32,766 values per statement.
pub async fn enqueue_many(conn: &impl ConnectionTrait, news: Vec<NewJob>) -> Result<(), DbErr> {
    if news.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let rows = news.into_iter().map(|new| row(new, now));
    job::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(job::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Why a job whose lease ran out on its last attempt was failed.
pub const LEASE_EXHAUSTED: &str =
    "the lease ran out on the last attempt (the runner died, hung or panicked)";

/// Claims up to `limit` due jobs for `worker`, each with a lease of `lease`.
/// Jobs whose lease ran out on their last attempt are failed first (see the
/// module's fencing notes), never claimed again.
pub async fn claim(
    conn: &impl ConnectionTrait,
    worker: &str,
    limit: u64,
    lease: Duration,
) -> Result<Vec<job::Model>, DbErr> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    let backend = conn.get_database_backend();
    job::Entity::update_many()
        .col_expr(job::Column::Status, FAILED.into())
        .col_expr(job::Column::FinishedAt, Some(now).into())
        .col_expr(job::Column::UpdatedAt, now.into())
        .col_expr(job::Column::LastError, Some(LEASE_EXHAUSTED).into())
        .col_expr(job::Column::LockedBy, Option::<String>::None.into())
        .col_expr(
            job::Column::LockedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(job::Column::Status.eq(RUNNING))
        .filter(job::Column::LockedUntil.lt(now))
        .filter(sea_orm::sea_query::ExprTrait::gte(
            sea_orm::sea_query::Expr::col(job::Column::Attempts),
            sea_orm::sea_query::Expr::col(job::Column::MaxAttempts),
        ))
        .exec(conn)
        .await?;
    let sql = if crate::is_postgres(conn) {
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, \
         attempts = attempts + 1, updated_at = $3 \
         WHERE id IN (SELECT id FROM jobs \
           WHERE (status = 'queued' AND run_at <= $3) \
              OR (status = 'running' AND locked_until < $3 AND attempts < max_attempts) \
           ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
         RETURNING *"
    } else {
        "UPDATE jobs SET status = 'running', locked_by = ?1, locked_until = ?2, \
         attempts = attempts + 1, updated_at = ?3 \
         WHERE id IN (SELECT id FROM jobs \
           WHERE (status = 'queued' AND run_at <= ?3) \
              OR (status = 'running' AND locked_until < ?3 AND attempts < max_attempts) \
           ORDER BY run_at LIMIT ?4) \
         RETURNING *"
    };
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [
            worker.into(),
            until.into(),
            now.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    );
    let rows = conn.query_all_raw(stmt).await?;
    rows.iter()
        .map(|r| job::Model::from_query_result(r, ""))
        .collect()
}

/// The claim a runner holds on a job: outcome writes land only while it
/// still holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub id: Uuid,
    pub worker: String,
    pub attempt: i32,
}

impl Fence {
    /// The claim of a job as [`claim`] returned it.
    pub fn of(j: &job::Model) -> Self {
        Self {
            id: j.id,
            worker: j.locked_by.clone().unwrap_or_default(),
            attempt: j.attempts,
        }
    }

    fn holds(&self) -> sea_orm::Condition {
        sea_orm::Condition::all()
            .add(job::Column::Id.eq(self.id))
            .add(job::Column::Status.eq(RUNNING))
            .add(job::Column::LockedBy.eq(self.worker.as_str()))
            .add(job::Column::Attempts.eq(self.attempt))
    }
}

/// Marks a claimed job done. Returns false when the claim was lost (another
/// runner holds the job now, or it already finished): nothing is written.
pub async fn complete(conn: &impl ConnectionTrait, fence: &Fence) -> Result<bool, DbErr> {
    Ok(complete_many(conn, std::slice::from_ref(fence)).await? > 0)
}

/// Marks several claimed jobs done (100 per statement). Returns how many
/// were still held (the others were taken over and are left alone).
pub async fn complete_many(conn: &impl ConnectionTrait, fences: &[Fence]) -> Result<u64, DbErr> {
    let now = Utc::now();
    let mut done = 0;
    for chunk in fences.chunks(100) {
        let mut any = sea_orm::Condition::any();
        for f in chunk {
            any = any.add(f.holds());
        }
        done += job::Entity::update_many()
            .col_expr(job::Column::Status, DONE.into())
            .col_expr(job::Column::FinishedAt, Some(now).into())
            .col_expr(job::Column::UpdatedAt, now.into())
            .col_expr(
                job::Column::LockedUntil,
                Option::<DateTime<Utc>>::None.into(),
            )
            .filter(any)
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(done)
}

/// Extends the lease of a job still held: called while its handler runs, so
/// a long handler is not taken over. False when the claim was lost.
pub async fn renew(
    conn: &impl ConnectionTrait,
    fence: &Fence,
    lease: Duration,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    let res = job::Entity::update_many()
        .col_expr(job::Column::LockedUntil, Some(until).into())
        .col_expr(job::Column::UpdatedAt, now.into())
        .filter(fence.holds())
        .exec(conn)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Puts a claimed job back in the queue for `run_at` without counting the
/// attempt (used for deliberate postponement, e.g. quiet hours or pacing).
/// False when the claim was lost.
pub async fn postpone(
    conn: &impl ConnectionTrait,
    fence: &Fence,
    run_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let backend = conn.get_database_backend();
    let sql = if crate::is_postgres(conn) {
        "UPDATE jobs SET status = 'queued', run_at = $1, attempts = GREATEST(attempts - 1, 0), \
         locked_by = NULL, locked_until = NULL, updated_at = $2 \
         WHERE id = $3 AND status = 'running' AND locked_by = $4 AND attempts = $5"
    } else {
        "UPDATE jobs SET status = 'queued', run_at = ?1, attempts = MAX(attempts - 1, 0), \
         locked_by = NULL, locked_until = NULL, updated_at = ?2 \
         WHERE id = ?3 AND status = 'running' AND locked_by = ?4 AND attempts = ?5"
    };
    let res = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                run_at.into(),
                Utc::now().into(),
                fence.id.into(),
                fence.worker.clone().into(),
                fence.attempt.into(),
            ],
        ))
        .await?;
    Ok(res.rows_affected() > 0)
}

/// Records a failed attempt of a claimed job. The job is retried with
/// jittered exponential backoff until `max_attempts`, then left in `failed`
/// for inspection. `retry_after` overrides the computed backoff (e.g. a
/// throttle wait). False when the claim was lost (nothing is written).
pub async fn fail(
    conn: &impl ConnectionTrait,
    job: &job::Model,
    error: &str,
    retry_after: Option<Duration>,
    permanent: bool,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let exhausted = permanent || job.attempts >= job.max_attempts;
    let mut q = job::Entity::update_many()
        .col_expr(job::Column::LastError, Some(truncate(error, 2000)).into())
        .col_expr(job::Column::UpdatedAt, now.into())
        .col_expr(job::Column::LockedBy, Option::<String>::None.into())
        .col_expr(
            job::Column::LockedUntil,
            Option::<DateTime<Utc>>::None.into(),
        );
    if exhausted {
        q = q
            .col_expr(job::Column::Status, FAILED.into())
            .col_expr(job::Column::FinishedAt, Some(now).into());
    } else {
        let wait = retry_after.unwrap_or_else(|| backoff(job.attempts));
        let run_at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::minutes(1));
        q = q
            .col_expr(job::Column::Status, QUEUED.into())
            .col_expr(job::Column::RunAt, run_at.into());
    }
    let res = q.filter(Fence::of(job).holds()).exec(conn).await?;
    Ok(res.rows_affected > 0)
}

/// Failed jobs (dead letters), newest first, optionally of one kind.
pub async fn failed(
    conn: &impl ConnectionTrait,
    kind: Option<&str>,
    limit: u64,
) -> Result<Vec<job::Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut q = job::Entity::find().filter(job::Column::Status.eq(FAILED));
    if let Some(k) = kind {
        q = q.filter(job::Column::Kind.eq(k));
    }
    q.order_by_desc(job::Column::FinishedAt)
        .limit(limit)
        .all(conn)
        .await
}

/// Puts failed jobs back in the queue with a fresh attempt count: one job
/// (`id`), or every failed job of `kind`. Returns how many.
pub async fn replay(
    conn: &impl ConnectionTrait,
    id: Option<Uuid>,
    kind: Option<&str>,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    let mut q = job::Entity::update_many()
        .col_expr(job::Column::Status, QUEUED.into())
        .col_expr(job::Column::Attempts, 0.into())
        .col_expr(job::Column::RunAt, now.into())
        .col_expr(job::Column::UpdatedAt, now.into())
        .col_expr(
            job::Column::FinishedAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(job::Column::Status.eq(FAILED));
    if let Some(id) = id {
        q = q.filter(job::Column::Id.eq(id));
    }
    if let Some(k) = kind {
        q = q.filter(job::Column::Kind.eq(k));
    }
    Ok(q.exec(conn).await?.rows_affected)
}

/// Deletes up to `limit` jobs of `status` that finished before `before`.
/// Returns how many went.
pub async fn prune(
    conn: &impl ConnectionTrait,
    status: &str,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    let sql = if crate::is_postgres(conn) {
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
         WHERE status = $1 AND finished_at < $2 LIMIT $3)"
    } else {
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
         WHERE status = ?1 AND finished_at < ?2 LIMIT ?3)"
    };
    let res = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                status.into(),
                before.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    Ok(res.rows_affected())
}

/// Exponential backoff with full jitter: 2^attempt seconds, capped at an hour.
pub fn backoff(attempt: i32) -> Duration {
    let exp = attempt.clamp(0, 12) as u32;
    let cap = (1u64 << exp).min(3600);
    let secs = rand::thread_rng().gen_range(cap / 2..=cap.max(1));
    Duration::from_secs(secs.max(1))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..50 {
            let b1 = backoff(1);
            assert!(b1 >= Duration::from_secs(1) && b1 <= Duration::from_secs(2));
            let b20 = backoff(20);
            assert!(b20 <= Duration::from_secs(3600) && b20 >= Duration::from_secs(1800));
        }
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("añb", 2), "a");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
