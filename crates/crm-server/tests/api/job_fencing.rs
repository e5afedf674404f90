//! Fenced jobs, with real `Worker`s on the test database: a handler that
//! outlives its lease is not run a second time by another worker (the lease
//! is renewed while it runs), a handler that panics is an ordinary failed
//! attempt (dead-lettered after its last one, not re-claimed forever), and a
//! handler that hangs is stopped at its kind's timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crm_db::entity::job;
use crm_db::jobs::{self, NewJob};
use crm_server::worker::{Handler, JobOutcome, Registry, Worker};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

fn counting(runs: Arc<AtomicUsize>, work: fn() -> JobOutcome, sleep: Duration) -> Handler {
    Arc::new(move |_db, _job| {
        let runs = runs.clone();
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(sleep).await;
            work()
        })
    })
}

fn worker(db: &DatabaseConnection, reg: Registry, lease: Duration) -> Worker {
    let mut w = Worker::new(db.clone(), reg);
    w.lease = lease;
    w.poll = Duration::from_millis(50);
    w
}

async fn settled(db: &DatabaseConnection, id: uuid::Uuid) -> job::Model {
    for _ in 0..200 {
        let j = job::Entity::find_by_id(id).one(db).await.unwrap().unwrap();
        if j.status == "done" || j.status == "failed" {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never settled");
}

async fn enqueue(db: &DatabaseConnection, kind: &str, max_attempts: i32) -> uuid::Uuid {
    let mut j = NewJob::now(kind, json!({}));
    j.max_attempts = max_attempts;
    jobs::enqueue(db, j).await.unwrap();
    job::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind == kind)
        .unwrap()
        .id
}

#[tokio::test]
async fn a_handler_that_outlives_its_lease_runs_once_across_two_workers() {
    let app = spawn_app_with(&["--worker", "false"]).await;
    let db = crm_db::connect(&app.database_url, 5).await.unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let mut reg = Registry::default();
    reg.handle(
        "test.slow",
        counting(
            runs.clone(),
            || JobOutcome::Done,
            Duration::from_millis(1500),
        ),
    );
    let id = enqueue(&db, "test.slow", 5).await;
    let stop = CancellationToken::new();
    let lease = Duration::from_millis(400);
    let a = tokio::spawn(worker(&db, reg.clone(), lease).run(stop.clone()));
    let b = tokio::spawn(worker(&db, reg, lease).run(stop.clone()));
    let j = settled(&db, id).await;
    stop.cancel();
    let _ = tokio::join!(a, b);
    assert_eq!(j.status, "done");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the job ran more than once");
    assert_eq!(j.attempts, 1);
}

#[tokio::test]
async fn a_panicking_handler_is_retried_then_dead_lettered() {
    let app = spawn_app_with(&["--worker", "false"]).await;
    let db = crm_db::connect(&app.database_url, 5).await.unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let mut reg = Registry::default();
    let r = runs.clone();
    reg.handle(
        "test.panics",
        Arc::new(move |_db, _job| {
            let r = r.clone();
            Box::pin(async move {
                r.fetch_add(1, Ordering::SeqCst);
                panic!("boom in the handler");
            })
        }),
    );
    let id = enqueue(&db, "test.panics", 2).await;
    let stop = CancellationToken::new();
    let w = tokio::spawn(worker(&db, reg, Duration::from_millis(300)).run(stop.clone()));
    let mut j = job::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    for _ in 0..200 {
        j = job::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
        if j.status == "failed" {
            break;
        }
        if j.status == "queued" {
            // The retry waits for its backoff; make it due at once.
            job::Entity::update_many()
                .col_expr(job::Column::RunAt, chrono::Utc::now().into())
                .filter(job::Column::Id.eq(id))
                .exec(&db)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let _ = w.await;
    assert_eq!(j.status, "failed", "{j:?}");
    assert_eq!(j.attempts, 2);
    assert!(
        j.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("panicked: boom in the handler"),
        "{j:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_handler_that_hangs_is_stopped_at_its_kinds_timeout() {
    let app = spawn_app_with(&["--worker", "false"]).await;
    let db = crm_db::connect(&app.database_url, 5).await.unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let mut reg = Registry::default();
    reg.handle(
        "test.hangs",
        counting(runs.clone(), || JobOutcome::Done, Duration::from_secs(3600)),
    )
    .timeout("test.hangs", Duration::from_millis(300));
    let id = enqueue(&db, "test.hangs", 1).await;
    let stop = CancellationToken::new();
    let w = tokio::spawn(worker(&db, reg, Duration::from_secs(60)).run(stop.clone()));
    let j = settled(&db, id).await;
    stop.cancel();
    let _ = w.await;
    assert_eq!(j.status, "failed");
    assert!(
        j.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("did not finish within"),
        "{j:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn crm_jobs_lists_dead_letters_and_replays_them() {
    let app = spawn_app_with(&["--worker", "false"]).await;
    let db = crm_db::connect(&app.database_url, 5).await.unwrap();
    let id = enqueue(&db, "test.dead", 1).await;
    let claimed = jobs::claim(&db, "w", 1, Duration::from_secs(60))
        .await
        .unwrap();
    let j = claimed.into_iter().find(|j| j.id == id).unwrap();
    assert!(
        jobs::fail(&db, &j, "Meta said no", None, true)
            .await
            .unwrap()
    );
    let url = app.database_url.clone();
    let (ok, out, err) = crate::cli::crm(
        &[
            "jobs",
            "failed",
            "--kind",
            "test.dead",
            "--database-url",
            &url,
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(&id.to_string()) && out.contains("Meta said no"),
        "{out}"
    );
    let (ok, out, err) = crate::cli::crm(
        &[
            "jobs",
            "replay",
            "--id",
            &id.to_string(),
            "--database-url",
            &url,
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains("queued 1"), "{out}");
    let j = job::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    assert_eq!((j.status.as_str(), j.attempts), ("queued", 0));
    // Neither an id nor a kind: refused with a clear message.
    let (ok, _, err) = crate::cli::crm(&["jobs", "replay", "--database-url", &url], None);
    assert!(!ok);
    assert!(err.contains("--kind") || err.contains("--id"), "{err}");
}
