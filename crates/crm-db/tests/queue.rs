#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The job queue and outbox, on whichever backend CRM_TEST_DATABASE_URL names.

use std::time::Duration;

use chrono::Utc;
use crm_db::entity::{job, tenant};
use crm_db::jobs::{self, NewJob};
use crm_db::outbox::{self, Consumer};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::json;

struct TestDb {
    db: DatabaseConnection,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    pub fn new() -> Dir {
        let p = std::env::temp_dir().join(format!("crm-db-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

async fn db() -> TestDb {
    let dir = tempdir::new();
    let url = crm_db::testing::fresh_database_url(&dir.0).await.unwrap();
    let db = crm_db::connect(&url, 5).await.unwrap();
    crm_db::migrate(&db).await.unwrap();
    TestDb { db, _dir: dir }
}

async fn tenant(db: &DatabaseConnection) -> uuid::Uuid {
    let id = crm_db::new_id();
    tenant::ActiveModel {
        id: Set(id),
        name: Set("T".into()),
        currency: Set("USD".into()),
        timezone: Set("UTC".into()),
        locale: Set("es".into()),
        country: Set("AR".into()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn dedupe_key_makes_enqueue_idempotent() {
    let t = db().await;
    let mut j = NewJob::now("k", json!({"a": 1}));
    j.dedupe_key = Some("once".into());
    assert!(jobs::enqueue(&t.db, j.clone()).await.unwrap());
    assert!(!jobs::enqueue(&t.db, j).await.unwrap());
    assert_eq!(job::Entity::find().all(&t.db).await.unwrap().len(), 1);
}

#[tokio::test]
async fn claim_takes_only_due_jobs_once() {
    let t = db().await;
    jobs::enqueue(&t.db, NewJob::now("due", json!({})))
        .await
        .unwrap();
    let mut later = NewJob::now("later", json!({}));
    later.run_at = Utc::now() + chrono::Duration::hours(1);
    jobs::enqueue(&t.db, later).await.unwrap();

    let first = jobs::claim(&t.db, "w1", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].kind, "due");
    assert_eq!(first[0].status, "running");
    assert_eq!(first[0].attempts, 1);
    let second = jobs::claim(&t.db, "w2", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        second.is_empty(),
        "a running job with a live lease must not be claimed again"
    );
    assert!(
        jobs::complete(&t.db, &jobs::Fence::of(&first[0]))
            .await
            .unwrap()
    );
    let done = job::Entity::find_by_id(first[0].id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, "done");
    assert!(done.finished_at.is_some());
}

#[tokio::test]
async fn an_expired_lease_is_reclaimed() {
    let t = db().await;
    jobs::enqueue(&t.db, NewJob::now("crashy", json!({})))
        .await
        .unwrap();
    let c = jobs::claim(&t.db, "dead-worker", 1, Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = jobs::claim(&t.db, "w2", 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, c[0].id);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].locked_by.as_deref(), Some("w2"));
}

async fn make_due(db: &sea_orm::DatabaseConnection, id: uuid::Uuid) {
    job::Entity::update_many()
        .col_expr(job::Column::RunAt, Utc::now().into())
        .filter(job::Column::Id.eq(id))
        .exec(db)
        .await
        .unwrap();
}

async fn row(db: &sea_orm::DatabaseConnection, id: uuid::Uuid) -> job::Model {
    job::Entity::find_by_id(id).one(db).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_runner_that_lost_its_claim_cannot_finish_requeue_or_extend_the_job() {
    let t = db().await;
    jobs::enqueue(&t.db, NewJob::now("slow", json!({})))
        .await
        .unwrap();
    let first = jobs::claim(&t.db, "w1", 1, Duration::from_millis(1))
        .await
        .unwrap()
        .remove(0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // w1's lease ran out: w2 takes the job over.
    let second = jobs::claim(&t.db, "w2", 1, Duration::from_secs(60))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.id, first.id);
    let stale = jobs::Fence::of(&first);
    assert!(
        !jobs::renew(&t.db, &stale, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(!jobs::complete(&t.db, &stale).await.unwrap());
    assert!(!jobs::postpone(&t.db, &stale, Utc::now()).await.unwrap());
    assert!(!jobs::fail(&t.db, &first, "late", None, true).await.unwrap());
    let r = row(&t.db, first.id).await;
    assert_eq!(r.status, "running");
    assert_eq!(r.locked_by.as_deref(), Some("w2"));
    assert_eq!(r.last_error, None);
    // The same worker re-claiming after its own lease ran out is a new claim
    // too: the earlier attempt's fence no longer holds.
    let current = jobs::Fence::of(&second);
    assert!(
        jobs::renew(&t.db, &current, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(jobs::complete(&t.db, &current).await.unwrap());
    assert_eq!(row(&t.db, first.id).await.status, "done");
    assert!(
        !jobs::complete(&t.db, &current).await.unwrap(),
        "done only once"
    );
}

#[tokio::test]
async fn a_lease_that_runs_out_on_the_last_attempt_dead_letters_the_job_for_replay() {
    let t = db().await;
    let mut j = NewJob::now("crashes", json!({}));
    j.max_attempts = 2;
    jobs::enqueue(&t.db, j).await.unwrap();
    for attempt in 1..=2 {
        let c = jobs::claim(&t.db, "w", 1, Duration::from_millis(1))
            .await
            .unwrap();
        assert_eq!(c.len(), 1, "attempt {attempt}");
        assert_eq!(c[0].attempts, attempt);
        // The runner dies (or panics, or hangs) without recording anything.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Not claimed a third time: failed, with the reason.
    let c = jobs::claim(&t.db, "w", 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(c.is_empty());
    let dead = jobs::failed(&t.db, Some("crashes"), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some(jobs::LEASE_EXHAUSTED));
    assert!(dead[0].finished_at.is_some());
    // Replayed by hand: a fresh set of attempts.
    assert_eq!(
        jobs::replay(&t.db, Some(dead[0].id), None).await.unwrap(),
        1
    );
    let c = jobs::claim(&t.db, "w", 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].attempts, 1);
}

#[tokio::test]
async fn failures_back_off_then_stop() {
    let t = db().await;
    let mut j = NewJob::now("flaky", json!({}));
    j.max_attempts = 2;
    jobs::enqueue(&t.db, j).await.unwrap();
    let c = jobs::claim(&t.db, "w", 1, Duration::from_secs(60))
        .await
        .unwrap();
    jobs::fail(&t.db, &c[0], "boom", None, false).await.unwrap();
    let row = job::Entity::find_by_id(c[0].id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "queued");
    assert!(row.run_at > Utc::now(), "retry is scheduled in the future");
    assert_eq!(row.last_error.as_deref(), Some("boom"));
    // Make it due and fail the last attempt.
    make_due(&t.db, row.id).await;
    let c2 = jobs::claim(&t.db, "w", 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(c2.len(), 1);
    let c2 = c2[0].clone();
    assert_eq!(c2.attempts, 2);
    assert!(
        jobs::fail(&t.db, &c2, "boom again", None, false)
            .await
            .unwrap()
    );
    let row = job::Entity::find_by_id(c2.id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "failed");
}

#[tokio::test]
async fn outbox_events_fan_out_to_consumer_jobs_once() {
    let t = db().await;
    let tid = tenant(&t.db).await;
    outbox::emit(&t.db, tid, "lead_created", "lead", "L1", json!({"x": 1}))
        .await
        .unwrap();
    outbox::emit(&t.db, tid, "sale_recorded", "sale", "S1", json!({}))
        .await
        .unwrap();
    let consumers = [
        Consumer {
            job_kind: "automation",
            wants: |e| e == "lead_created",
        },
        Consumer {
            job_kind: "rollups",
            wants: |_| true,
        },
    ];
    assert_eq!(outbox::dispatch(&t.db, &consumers, 100).await.unwrap(), 2);
    assert_eq!(outbox::dispatch(&t.db, &consumers, 100).await.unwrap(), 0);
    let jobs = job::Entity::find().all(&t.db).await.unwrap();
    let kinds: Vec<_> = jobs.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(jobs.len(), 3, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "rollups").count(), 2);
    let auto = jobs.iter().find(|j| j.kind == "automation").unwrap();
    assert_eq!(auto.payload["event_type"], "lead_created");
    assert_eq!(auto.payload["payload"]["x"], 1);
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_job() {
    let t = db().await;
    for i in 0..60 {
        jobs::enqueue(&t.db, NewJob::now("bulk", json!({"i": i})))
            .await
            .unwrap();
    }
    let mut handles = vec![];
    for w in 0..4 {
        let db = t.db.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = vec![];
            loop {
                let got = jobs::claim(&db, &format!("w{w}"), 5, Duration::from_secs(60))
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
            mine
        }));
    }
    let mut all = vec![];
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(n, 60);
    assert_eq!(all.len(), 60, "a job was claimed twice");
}
