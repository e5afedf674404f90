//! The job worker: dispatches outbox events into consumer jobs, claims due jobs
//! and runs their handlers. Runs inside `crm serve` or alone as `crm worker`;
//! several workers can share one PostgreSQL database.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crm_db::entity::job;
use crm_db::jobs;
use crm_db::outbox::{self, Consumer};
use sea_orm::DatabaseConnection;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// What a handler tells the worker to do with its job.
#[derive(Debug)]
pub enum JobOutcome {
    Done,
    /// A transient failure: retry with backoff (or after the given wait).
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// A permanent failure: stop retrying; the job stays `failed` for inspection.
    Fail {
        error: String,
    },
    /// Not a failure: run again at this time (quiet hours, pacing).
    Postpone(DateTime<Utc>),
}

pub type JobFuture = Pin<Box<dyn Future<Output = JobOutcome> + Send>>;

/// A job handler: given the database and the claimed job, does the work
/// idempotently.
pub type Handler = Arc<dyn Fn(DatabaseConnection, job::Model) -> JobFuture + Send + Sync>;

/// How long a handler may run before it is stopped and its job retried,
/// unless its kind sets its own ([`Registry::timeout`]).
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
    timeouts: HashMap<&'static str, Duration>,
    consumers: Vec<Consumer>,
    /// Meta client and credentials vault, for handlers that call Meta.
    pub meta: Option<Arc<crm_core::services::meta_connection::MetaEnv>>,
}

impl Registry {
    pub fn handle(&mut self, kind: &'static str, h: Handler) -> &mut Self {
        self.handlers.insert(kind, h);
        self
    }

    /// How long a handler of `kind` may run (default [`DEFAULT_JOB_TIMEOUT`]).
    pub fn timeout(&mut self, kind: &'static str, limit: Duration) -> &mut Self {
        self.timeouts.insert(kind, limit);
        self
    }

    fn timeout_of(&self, kind: &str) -> Duration {
        self.timeouts
            .get(kind)
            .copied()
            .unwrap_or(DEFAULT_JOB_TIMEOUT)
    }

    /// Subscribes a job kind to outbox events.
    pub fn consume(&mut self, consumer: Consumer) -> &mut Self {
        self.consumers.push(consumer);
        self
    }
}

/// The handlers every process registers, with the default retention.
pub fn registry(meta: Arc<crm_core::services::meta_connection::MetaEnv>) -> Registry {
    registry_with(meta, crate::config::RetentionArgs::default())
}

/// The handlers every process registers.
pub fn registry_with(
    meta: Arc<crm_core::services::meta_connection::MetaEnv>,
    retention: crate::config::RetentionArgs,
) -> Registry {
    let mut reg = Registry {
        meta: Some(meta),
        ..Registry::default()
    };
    crate::maintenance::register(&mut reg, retention);
    crate::meta::register(&mut reg);
    crate::routes::marketing::register_jobs(&mut reg);
    crate::routes::webhooks::register_jobs(&mut reg, crate::routes::hsm::register_webhooks);
    crate::routes::hsm::register(&mut reg);
    reg
}

pub struct Worker {
    pub db: DatabaseConnection,
    pub registry: Registry,
    pub id: String,
    pub concurrency: usize,
    pub poll: Duration,
    /// How long a claimed job stays leased to this worker.
    pub lease: Duration,
}

impl Worker {
    pub fn new(db: DatabaseConnection, registry: Registry) -> Self {
        Self {
            db,
            registry,
            id: format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple()),
            concurrency: 8,
            poll: Duration::from_millis(250),
            lease: Duration::from_secs(300),
        }
    }

    /// Runs until `stop` is cancelled; waits for running jobs to finish.
    pub async fn run(self, stop: CancellationToken) {
        let registry = Arc::new(self.registry);
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        // A finished job wakes the loop at once, so a free slot is refilled
        // without waiting for the next poll.
        let wake = Arc::new(tokio::sync::Notify::new());
        // Jobs that finished and are not yet marked done: the loop marks
        // them together, in the same turn at the write lock as its next claim.
        let finished: Finished = Arc::new(std::sync::Mutex::new(Vec::new()));
        tracing::info!(worker = %self.id, "worker started");
        crate::routes::hsm::start_scheduler(&self.db).await;
        if let Err(e) = crate::maintenance::schedule(&self.db, Utc::now()).await {
            tracing::warn!("could not schedule the prune job: {e}");
        }
        while !stop.is_cancelled() {
            let mut busy = false;
            if !registry.consumers.is_empty() {
                match outbox::dispatch(&self.db, &registry.consumers, 200).await {
                    Ok(n) => busy |= n > 0,
                    Err(e) => tracing::warn!("outbox dispatch failed: {e}"),
                }
            }
            let free = permits.available_permits() as u64;
            let done = take_finished(&finished);
            if free > 0 || !done.is_empty() {
                let gate = crm_db::write_gate(&self.db).await;
                if !done.is_empty()
                    && let Err(e) = jobs::complete_many(&self.db, &done).await
                {
                    // The jobs stay leased; when the lease runs out they run
                    // again (handlers are idempotent).
                    tracing::error!("could not mark {} finished jobs done: {e}", done.len());
                }
                let claimed = if free > 0 {
                    jobs::claim(&self.db, &self.id, free, self.lease).await
                } else {
                    Ok(vec![])
                };
                drop(gate);
                match claimed {
                    Ok(claimed) => {
                        busy |= !claimed.is_empty();
                        for j in claimed {
                            let Ok(permit) = permits.clone().acquire_owned().await else {
                                break;
                            };
                            let db = self.db.clone();
                            let registry = registry.clone();
                            let wake = wake.clone();
                            let finished = finished.clone();
                            let lease = self.lease;
                            tokio::spawn(async move {
                                run_one(&db, &registry, j, lease, &finished).await;
                                drop(permit);
                                wake.notify_one();
                            });
                        }
                    }
                    Err(e) => tracing::warn!("claiming jobs failed: {e}"),
                }
            }
            if !busy {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(self.poll) => {}
                }
            }
        }
        let _ = permits.acquire_many(self.concurrency.max(1) as u32).await;
        let done = take_finished(&finished);
        if !done.is_empty() {
            let _gate = crm_db::write_gate(&self.db).await;
            if let Err(e) = jobs::complete_many(&self.db, &done).await {
                tracing::error!("could not mark {} finished jobs done: {e}", done.len());
            }
        }
        tracing::info!(worker = %self.id, "worker stopped");
    }
}

type Finished = Arc<std::sync::Mutex<Vec<jobs::Fence>>>;

fn take_finished(f: &Finished) -> Vec<jobs::Fence> {
    f.lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

async fn run_one(
    db: &DatabaseConnection,
    registry: &Registry,
    j: job::Model,
    lease: Duration,
    finished: &Finished,
) {
    let fence = jobs::Fence::of(&j);
    let Some(handler) = registry.handlers.get(j.kind.as_str()).cloned() else {
        tracing::error!(job = %j.id, kind = %j.kind, "no handler for job kind");
        let _ = jobs::fail(
            db,
            &j,
            &format!("no handler for job kind {}", j.kind),
            None,
            true,
        )
        .await;
        return;
    };
    let id = j.id;
    let started = std::time::Instant::now();
    let span = tracing::info_span!("job", kind = %j.kind, job_id = %j.id, attempt = j.attempts);
    // The lease is renewed while the handler runs, so a long handler is not
    // taken over by another worker; the handler is stopped at its kind's
    // timeout, and a panic is an ordinary failed attempt.
    let renewer = {
        let db = db.clone();
        let fence = fence.clone();
        tokio::spawn(async move {
            let every = (lease / 3).max(Duration::from_millis(50));
            loop {
                tokio::time::sleep(every).await;
                match jobs::renew(&db, &fence, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %fence.id, "lost the claim on a running job; its outcome will not be recorded");
                        break;
                    }
                    Err(e) => tracing::warn!(job = %fence.id, "could not renew a job's lease: {e}"),
                }
            }
        })
    };
    let limit = registry.timeout_of(&j.kind);
    let run = std::panic::AssertUnwindSafe(handler(db.clone(), j.clone()));
    let outcome = match tokio::time::timeout(
        limit,
        tracing::Instrument::instrument(futures::FutureExt::catch_unwind(run), span),
    )
    .await
    {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            tracing::error!(job = %id, kind = %j.kind, "job handler panicked: {what}");
            JobOutcome::Retry {
                error: format!("the handler panicked: {what}"),
                after: None,
            }
        }
        Err(_) => {
            tracing::error!(job = %id, kind = %j.kind, "job handler timed out after {limit:?}");
            JobOutcome::Retry {
                error: format!("the handler did not finish within {} s", limit.as_secs()),
                after: None,
            }
        }
    };
    renewer.abort();
    let kind = j.kind.clone();
    metrics::histogram!("crm_job_duration_seconds", "kind" => kind.clone())
        .record(started.elapsed().as_secs_f64());
    let (label, dead) = match &outcome {
        JobOutcome::Done => ("done", false),
        JobOutcome::Postpone(_) => ("postponed", false),
        JobOutcome::Retry { .. } => ("retry", j.attempts >= j.max_attempts),
        JobOutcome::Fail { .. } => ("failed", true),
    };
    metrics::counter!("crm_job_runs_total", "kind" => kind.clone(), "outcome" => label)
        .increment(1);
    if dead {
        metrics::counter!("crm_jobs_dead_lettered_total", "kind" => kind).increment(1);
    }
    if let JobOutcome::Done = outcome {
        if let Ok(mut v) = finished.lock() {
            v.push(fence);
            return;
        }
        let _gate = crm_db::write_gate(db).await;
        if let Err(e) = jobs::complete(db, &fence).await {
            tracing::error!(job = %id, "could not record job outcome: {e}");
        }
        return;
    }
    let _gate = crm_db::write_gate(db).await;
    let res = match outcome {
        JobOutcome::Done => jobs::complete(db, &fence).await,
        JobOutcome::Postpone(at) => jobs::postpone(db, &fence, at).await,
        JobOutcome::Retry { error, after } => {
            tracing::warn!(job = %id, kind = %j.kind, attempt = j.attempts, "job failed, will retry: {error}");
            jobs::fail(db, &j, &error, after, false).await
        }
        JobOutcome::Fail { error } => {
            tracing::error!(job = %id, kind = %j.kind, "job failed permanently: {error}");
            jobs::fail(db, &j, &error, None, true).await
        }
    };
    match res {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(job = %id, "the job was taken over by another runner; this outcome is dropped")
        }
        Err(e) => tracing::error!(job = %id, "could not record job outcome: {e}"),
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "crm".to_owned())
}
