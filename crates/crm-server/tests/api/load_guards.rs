//! Guards behind the throughput and memory figures (docs/benchmarks.md):
//! a cached Marketing Hub view writes nothing, concurrent webhook deliveries
//! share a transaction and are each stored once, answers are compressed, the
//! rate limit is checked before the credential's lookup, and finished work
//! is pruned by its retention.

use chrono::{Duration, Utc};
use crm_db::entity::{job, webhook_inbox};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::meta_support::{db, query};

async fn audit_rows(db: &sea_orm::DatabaseConnection, action: &str) -> Vec<Value> {
    query(
        db,
        &format!("SELECT details FROM audit_log WHERE action = '{action}'"),
    )
    .await
    .iter()
    .map(|r| {
        let v: Value = r.try_get("", "details").unwrap();
        v
    })
    .collect()
}

/// SQLite's `data_version` as another connection sees it: it changes when
/// any other connection commits a write to the file.
async fn data_version(probe: &sea_orm::DatabaseConnection) -> Option<i64> {
    if crm_db::is_postgres(probe) {
        return None;
    }
    let rows = query(probe, "PRAGMA data_version").await;
    rows[0].try_get_by_index::<i64>(0).ok()
}

#[tokio::test]
async fn a_cached_hub_view_writes_nothing_and_is_audited_as_one_coalesced_row() {
    let mut app = spawn_app_with(&["--worker", "false", "--read-audit-flush-secs", "3600"]).await;
    let ceo = setup_ceo(&app).await;
    let path = "/api/crm/marketing/stats?time_range=30d";
    assert_eq!(ceo.get(path).await.status, StatusCode::OK);
    let probe = crm_db::connect(&app.database_url, 1).await.unwrap();
    let db = db(&app);
    let audit_before = audit_rows(&db, "marketing.stats_read").await.len();
    let v0 = data_version(&probe).await;
    for _ in 0..5 {
        let r = ceo.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    // No other connection committed anything while the five views were
    // served from the cache (SQLite), and no audit row was written.
    assert_eq!(data_version(&probe).await, v0);
    assert_eq!(
        audit_rows(&db, "marketing.stats_read").await.len(),
        audit_before
    );
    // The views are counted in memory and written at the flush (here, the
    // one at shutdown) as one row for this user, view and hour.
    app.server.take().unwrap().shutdown().await;
    let rows = audit_rows(&probe, "marketing.stats_read").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["reads"], json!(6));
    assert_eq!(rows[0]["last_query"]["model"], json!("cohort"));
    probe.close().await.unwrap();
}

const SANDBOX_SECRET: &str = "sandbox-app-secret";

fn status_delivery(wamid: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "W1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"phone_number_id": "P-unknown"},
            "statuses": [{"id": wamid, "status": "delivered", "timestamp": "1700000000"}]}}]}]})
    .to_string()
}

#[tokio::test]
async fn concurrent_deliveries_are_each_stored_once_with_one_job_each() {
    let app = spawn_app_with(&["--meta-sandbox", "--worker", "false"]).await;
    let http = reqwest::Client::new();
    // 150 distinct events, each delivered twice, all at once.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..300 {
        let body = status_delivery(&format!("wamid.{}", i % 150));
        let sig =
            meta_graph::sign_body(&meta_graph::AppSecret::new(SANDBOX_SECRET), body.as_bytes());
        let http = http.clone();
        let url = format!("{}/api/webhooks/meta", app.url);
        set.spawn(async move {
            let r = http
                .post(url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", sig)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        });
    }
    let (mut stored, mut dup) = (0, 0);
    while let Some(v) = set.join_next().await {
        let v = v.unwrap();
        stored += v["stored"].as_u64().unwrap();
        dup += v["duplicates"].as_u64().unwrap();
    }
    assert_eq!((stored, dup), (150, 150));
    let db = db(&app);
    assert_eq!(webhook_inbox::Entity::find().count(&db).await.unwrap(), 150);
    assert_eq!(
        job::Entity::find()
            .filter(job::Column::Kind.eq("webhooks.process"))
            .count(&db)
            .await
            .unwrap(),
        150
    );
}

#[tokio::test]
async fn answers_are_compressed_for_clients_that_accept_it() {
    let app = spawn_app().await;
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = raw
        .get(format!("{}/api/openapi.json", app.url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let zipped = r.bytes().await.unwrap().len();
    let plain = raw
        .get(format!("{}/api/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let full = plain.bytes().await.unwrap().len();
    assert!(zipped * 5 < full, "gzip {zipped} bytes against {full}");
    let br = raw
        .get(format!("{}/api/openapi.json", app.url))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");

    // Small answers are not worth the encoder's setup.
    let ceo = setup_ceo(&app).await;
    let raw_ceo = reqwest::Client::builder()
        .no_gzip()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = raw_ceo
        .post(format!("{}/api/auth/login", app.url))
        .json(&json!({"email": "ceo@acme.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let me = raw_ceo
        .get(format!("{}/api/auth/me", app.url))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert!(me.headers().get("content-encoding").is_none());

    // A cached Marketing Hub view is sent with its stored gzip body, which
    // decodes to the same answer as the plain one.
    let path = "/api/crm/marketing/stats?time_range=30d";
    let zipped = raw_ceo
        .get(format!("{}{path}", app.url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding");
    let bytes = zipped.bytes().await.unwrap();
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain)
        .unwrap();
    let decoded: Value = serde_json::from_str(&plain).unwrap();
    let direct = ceo.get(path).await;
    assert_eq!(direct.status, StatusCode::OK);
    assert_eq!(decoded["leads"], direct.body["leads"]);
    assert_eq!(decoded["period"], direct.body["period"]);
}

#[tokio::test]
async fn the_rate_limit_comes_before_the_credential_lookup() {
    let app = spawn_app_with(&["--api-rate-per-sec", "1", "--api-burst", "3"]).await;
    let c = Client::with_token(&app, "crm_tok_not-a-real-token");
    let mut codes = vec![];
    for _ in 0..4 {
        codes.push(c.get("/api/auth/me").await.status.as_u16());
    }
    // An unknown token is refused (401) until its bucket is empty; then it
    // is answered 429, before any database lookup.
    assert_eq!(codes, [401, 401, 401, 429]);
}

#[tokio::test]
async fn finished_work_past_its_retention_is_pruned() {
    let app = spawn_app_with(&["--worker", "false"]).await;
    let db = db(&app);
    let now = Utc::now();
    let old = now - Duration::days(40);
    let recent = now - Duration::hours(1);
    let mk_job = |status: &str, finished: chrono::DateTime<Utc>| job::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(None),
        kind: Set("test.kind".into()),
        payload: Set(json!({})),
        dedupe_key: Set(None),
        status: Set(status.into()),
        attempts: Set(1),
        max_attempts: Set(3),
        run_at: Set(finished),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(finished),
        updated_at: Set(finished),
        finished_at: Set(Some(finished)),
    };
    job::Entity::insert_many([
        mk_job("done", old),
        mk_job("done", recent),
        mk_job("failed", old),
        mk_job("failed", recent),
    ])
    .exec(&db)
    .await
    .unwrap();
    let mk_event =
        |status: &str, at: chrono::DateTime<Utc>, key: &str| webhook_inbox::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(None),
            object: Set("page".into()),
            field: Set("leadgen".into()),
            entry_id: Set("1".into()),
            routing_kind: Set(None),
            routing_id: Set(None),
            dedupe_key: Set(key.into()),
            payload: Set(json!({})),
            status: Set(status.into()),
            attempts: Set(1),
            last_error: Set(None),
            received_at: Set(at),
            processed_at: Set(Some(at)),
            updated_at: Set(at),
        };
    webhook_inbox::Entity::insert_many([
        mk_event("done", old, "a"),
        mk_event("ignored", old, "b"),
        mk_event("failed", old, "c"),
        mk_event("unroutable", old, "d"),
        mk_event("done", recent, "e"),
    ])
    .exec(&db)
    .await
    .unwrap();
    let pruned =
        crm_server::maintenance::prune(&db, &crm_server::config::RetentionArgs::default(), now)
            .await
            .unwrap();
    assert_eq!(
        (pruned.done_jobs, pruned.failed_jobs, pruned.inbox_events),
        (1, 1, 2)
    );
    let left: Vec<String> = webhook_inbox::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.dedupe_key)
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, ["c", "d", "e"]);
    assert_eq!(
        job::Entity::find()
            .filter(job::Column::Kind.eq("test.kind"))
            .count(&db)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn outbox_sessions_oauth_states_and_old_audit_rows_are_pruned_past_their_retention() {
    use crm_db::entity::{audit_log, meta_oauth_state, outbox, session};
    let app = spawn_app_with(&["--worker", "false"]).await;
    let db = db(&app);
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "vera@acme.test", "seller").await;
    let _vera = logged_in(&app, "vera@acme.test").await;
    let _vera_again = logged_in(&app, "vera@acme.test").await;
    let me = ceo.get("/api/auth/me").await.body;
    let tenant: uuid::Uuid = me["tenant"]["id"].as_str().unwrap().parse().unwrap();
    let user: uuid::Uuid = me["user"]["id"].as_str().unwrap().parse().unwrap();
    let now = Utc::now();
    let long_ago = now - Duration::days(800);

    // Vera's two sessions: one expired, one revoked, both 40 days ago.
    let vera_sessions: Vec<session::Model> = session::Entity::find()
        .filter(session::Column::UserId.ne(user))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(vera_sessions.len(), 2);
    session::Entity::update_many()
        .col_expr(
            session::Column::ExpiresAt,
            (now - Duration::days(40)).into(),
        )
        .filter(session::Column::Id.eq(vera_sessions[0].id))
        .exec(&db)
        .await
        .unwrap();
    session::Entity::update_many()
        .col_expr(
            session::Column::RevokedAt,
            Some(now - Duration::days(40)).into(),
        )
        .filter(session::Column::Id.eq(vera_sessions[1].id))
        .exec(&db)
        .await
        .unwrap();
    // Outbox: one dispatched long ago, one never dispatched (kept).
    crm_db::outbox::emit(&db, tenant, "t_old", "x", "1", json!({}))
        .await
        .unwrap();
    crm_db::outbox::emit(&db, tenant, "t_waiting", "x", "2", json!({}))
        .await
        .unwrap();
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::DispatchedAt,
            Some(now - Duration::days(10)).into(),
        )
        .filter(outbox::Column::EventType.eq("t_old"))
        .exec(&db)
        .await
        .unwrap();
    outbox::Entity::update_many()
        .col_expr(outbox::Column::CreatedAt, (now - Duration::days(10)).into())
        .filter(outbox::Column::EventType.eq("t_waiting"))
        .exec(&db)
        .await
        .unwrap();
    // OAuth states: one expired two days ago, one live.
    for (hash, expires) in [
        ("old", now - Duration::days(2)),
        ("live", now + Duration::minutes(5)),
    ] {
        meta_oauth_state::ActiveModel {
            id: Set(crm_db::new_id()),
            state_hash: Set(hash.into()),
            tenant_id: Set(tenant),
            user_id: Set(user),
            redirect_uri: Set("http://x/cb".into()),
            return_path: Set("/".into()),
            created_at: Set(expires - Duration::minutes(10)),
            expires_at: Set(expires),
        }
        .insert(&db)
        .await
        .unwrap();
    }
    // Audit: one row older than two years.
    let first = audit_log::Entity::find().one(&db).await.unwrap().unwrap();
    audit_log::Entity::update_many()
        .col_expr(audit_log::Column::At, long_ago.into())
        .filter(audit_log::Column::Id.eq(first.id))
        .exec(&db)
        .await
        .unwrap();
    let audit_before = audit_log::Entity::find().count(&db).await.unwrap();

    let p = crm_server::maintenance::prune(&db, &crm_server::config::RetentionArgs::default(), now)
        .await
        .unwrap();
    assert_eq!(
        (p.outbox_events, p.sessions, p.oauth_states, p.audit_rows),
        (1, 2, 1, 1),
        "{p:?}"
    );
    assert_eq!(
        audit_log::Entity::find().count(&db).await.unwrap(),
        audit_before - 1
    );
    let states: Vec<String> = meta_oauth_state::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.state_hash)
        .collect();
    assert_eq!(states, ["live"]);
    assert_eq!(
        outbox::Entity::find()
            .filter(outbox::Column::EventType.eq("t_waiting"))
            .count(&db)
            .await
            .unwrap(),
        1,
        "an event not dispatched yet is never pruned"
    );
    // The CEO's live session still works.
    assert_eq!(ceo.get("/api/auth/me").await.status, StatusCode::OK);
    // With the audit retention at 0, audit rows are kept forever.
    let keep = crm_server::config::RetentionArgs {
        audit_retention_days: 0,
        ..Default::default()
    };
    audit_log::Entity::update_many()
        .col_expr(audit_log::Column::At, long_ago.into())
        .exec(&db)
        .await
        .unwrap();
    let p = crm_server::maintenance::prune(&db, &keep, now)
        .await
        .unwrap();
    assert_eq!(p.audit_rows, 0);
}
