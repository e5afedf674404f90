//! The shared Meta webhook inbox over real HTTP, with the in-process sandbox
//! sending real signed webhooks: signature checks (fail closed), the
//! verify-token handshake, deduplication of redeliveries, routing by Page id,
//! Lead Ads attribution end to end, the inbox list and replay.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::meta_support::*;

const SANDBOX_SECRET: &str = "sandbox-app-secret";

async fn post_raw(app: &TestApp, body: &str, signature: Option<&str>) -> (StatusCode, Value) {
    let mut rb = reqwest::Client::new()
        .post(format!("{}/api/webhooks/meta", app.url))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(s) = signature {
        rb = rb.header("x-hub-signature-256", s);
    }
    let r = rb.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn sign(body: &str) -> String {
    meta_graph::sign_body(&meta_graph::AppSecret::new(SANDBOX_SECRET), body.as_bytes())
}

#[tokio::test]
async fn unsigned_or_tampered_deliveries_are_refused_and_redeliveries_stored_once() {
    let app = spawn_meta_app().await;
    let body = json!({"object": "page", "entry": [{"id": "5550001", "time": 1_700_000_000,
        "changes": [{"field": "leadgen", "value": {"leadgen_id": "444000111222333", "page_id": "5550001",
        "form_id": "77", "created_time": 1_700_000_000}}]}]})
    .to_string();

    let (st, b) = post_raw(&app, &body, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["code"], "invalid_signature");
    let tampered = body.replace("444000111222333", "444000111222334");
    let (st, _) = post_raw(&app, &tampered, Some(&sign(&body))).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = post_raw(&app, &body, Some("sha256=00")).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // The same delivery three times: stored once.
    let (st, b) = post_raw(&app, &body, Some(&sign(&body))).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(
        (b["stored"].as_u64(), b["duplicates"].as_u64()),
        (Some(1), Some(0))
    );
    for _ in 0..2 {
        let (st, b) = post_raw(&app, &body, Some(&sign(&body))).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            (b["stored"].as_u64(), b["duplicates"].as_u64()),
            (Some(0), Some(1))
        );
    }
    let db = db(&app);
    let rows = query(
        &db,
        "SELECT status FROM webhook_inbox WHERE dedupe_key = 'leadgen:444000111222333'",
    )
    .await;
    assert_eq!(rows.len(), 1);
    // No tenant selected that Page: the event ends unroutable, and is not
    // shown to a tenant that does not own the Page.
    eventually("the event to be routed", || async {
        let r = query(
            &db,
            "SELECT status FROM webhook_inbox WHERE dedupe_key = 'leadgen:444000111222333'",
        )
        .await;
        r[0].try_get::<String>("", "status").unwrap() == "unroutable"
    })
    .await;
    let ceo = setup_ceo(&app).await;
    let r = ceo.get("/api/webhooks/inbox?status=unroutable").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    // Signed but not JSON, or not an envelope: acknowledged (Meta would
    // retry it for hours otherwise) and kept as a failed event to replay.
    for body in ["not json", r#"{"object":"page"}"#] {
        let (st, b) = post_raw(&app, body, Some(&sign(body))).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        assert_eq!(b["stored"], 1, "{b}");
        let (st, b) = post_raw(&app, body, Some(&sign(body))).await;
        assert_eq!(
            (st, &b["duplicates"]),
            (StatusCode::OK, &serde_json::json!(1)),
            "{b}"
        );
    }
    let rows = query(
        &db,
        "SELECT status, last_error FROM webhook_inbox WHERE field = '_malformed' ORDER BY received_at",
    )
    .await;
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.try_get::<String>("", "status").unwrap(), "failed");
        assert!(
            r.try_get::<String>("", "last_error")
                .unwrap()
                .starts_with("the delivery could not be read"),
        );
    }
    // A bad change does not take its valid sibling down with it.
    let mixed = r#"{"object":"page","entry":[{"id":"99","time":1,"changes":[{"field":"leadgen","value":{"leadgen_id":"555000111222333","page_id":"99"}},{"value":{}}]}]}"#;
    let (st, b) = post_raw(&app, mixed, Some(&sign(mixed))).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["stored"], 2, "{b}");
    let rows = query(
        &db,
        "SELECT status FROM webhook_inbox WHERE dedupe_key = 'leadgen:555000111222333'",
    )
    .await;
    assert_eq!(rows.len(), 1);
}

#[tokio::test]
async fn a_large_signed_delivery_is_accepted() {
    // Meta's payloads reach 3 MB; the API's JSON limit is 2 MiB.
    let app = spawn_meta_app().await;
    let note = "x".repeat(3 * 1024 * 1024);
    let body = serde_json::json!({"object": "page", "entry": [{"id": "98", "time": 1, "changes": [
        {"field": "leadgen", "value": {"leadgen_id": "556000111222333", "page_id": "98", "note": note}}]}]})
    .to_string();
    assert!(body.len() > 3 * 1024 * 1024);
    let (st, b) = post_raw(&app, &body, Some(&sign(&body))).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["stored"], 1, "{b}");
}

#[tokio::test]
async fn handshake_answers_only_the_configured_verify_token() {
    let app = spawn_meta_app().await;
    let r = reqwest::get(format!(
        "{}/api/webhooks/meta?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=123",
        app.url
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The sandbox performed the real handshake at startup with the right
    // token (its webhook URL would be refused otherwise).
    let cfg: Value = reqwest::get(format!("{}/_sandbox/config", sandbox_url(&app)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        cfg["webhook_url"]
            .as_str()
            .unwrap_or("")
            .ends_with("/api/webhooks/meta"),
        "{cfg}"
    );
}

#[tokio::test]
async fn a_lead_ads_webhook_creates_one_attributed_lead_and_syncs_the_ad_account() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    connect_meta(&app, &ceo).await;
    let w = world(&app).await;
    let acc = w["ad_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["currency"] == "USD")
        .unwrap()
        .clone();
    let page = w["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["business_id"] == acc["business_id"])
        .unwrap()
        .clone();
    let r = ceo
        .post(
            "/api/crm/marketing/connect",
            json!({"account_id": acc["id"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = ceo
        .post(
            "/api/crm/marketing/lead-pages",
            json!({"page_ids": [page["id"]]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Selecting the account starts the first sync (never a live call on
    // page load): the sync state becomes ok and spend appears.
    eventually("the first sync", || async {
        let r = ceo.get("/api/crm/marketing/sync").await;
        r.body
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["status"] == "ok"))
    })
    .await;
    let stats = ceo.get("/api/crm/marketing/stats?time_range=30d").await;
    assert_eq!(stats.status, StatusCode::OK, "{:?}", stats.body);
    assert!(stats.body["last_synced_at"].is_string());

    // Meta sends the leadgen webhook (signed) for a lead on a delivering ad.
    let ad = acc["sample_ad_ids"][0].as_str().unwrap();
    let created = control(
        &app,
        reqwest::Method::POST,
        "/leads",
        json!({"ad_id": ad, "fields": {"full_name": "Lía Webhook", "email": "lia@hook.test"}}),
    )
    .await;
    let leadgen_id = created["leadgen_id"].as_str().unwrap().to_owned();
    let db = db(&app);
    eventually("the lead to be created", || async {
        !query(
            &db,
            &format!("SELECT id FROM leads WHERE meta_lead_id = '{leadgen_id}'"),
        )
        .await
        .is_empty()
    })
    .await;
    let rows = query(
        &db,
        &format!("SELECT lead_source, channel, meta_ad_id, meta_campaign_id FROM leads WHERE meta_lead_id = '{leadgen_id}'"),
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].try_get::<String>("", "lead_source").unwrap(),
        "META_ADS"
    );
    assert_eq!(
        rows[0].try_get::<String>("", "channel").unwrap(),
        "lead_form"
    );
    assert_eq!(
        rows[0]
            .try_get::<Option<String>>("", "meta_ad_id")
            .unwrap()
            .as_deref(),
        Some(ad)
    );
    assert!(
        rows[0]
            .try_get::<Option<String>>("", "meta_campaign_id")
            .unwrap()
            .is_some()
    );

    // The lead page names the campaign and ad from the synced structure.
    let lead_id = query(
        &db,
        &format!("SELECT id FROM leads WHERE meta_lead_id = '{leadgen_id}'"),
    )
    .await[0]
        .try_get::<uuid::Uuid>("", "id")
        .unwrap();
    let detail = ceo.get(&format!("/api/leads/{lead_id}")).await;
    let camp = ceo
        .get(&format!(
            "/api/crm/marketing/campaigns/{}",
            detail.body["lead"]["meta_campaign_id"].as_str().unwrap()
        ))
        .await;
    assert!(camp.body["campaign"]["name"].is_string(), "{:?}", camp.body);
    assert_eq!(
        detail.body["ad_names"]["campaign"],
        camp.body["campaign"]["name"]
    );
    let ad_row = camp.body["ads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == ad)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        detail.body["ad_names"]["ad"], ad_row["name"],
        "{:?}",
        camp.body
    );
    assert!(detail.body["ad_names"]["ad"].is_string());

    // Selecting the Page also started the reconcile job, which backfilled
    // the form's existing leads (webhooks Meta sent before we listened).
    eventually("the reconcile backfill", || async {
        query(&db, "SELECT id FROM leads WHERE meta_form_id IS NOT NULL")
            .await
            .len()
            > 1
    })
    .await;
    // …and scheduled the next reconcile an hour later.
    eventually("the next reconcile to be scheduled", || async {
        !query(
            &db,
            "SELECT id FROM jobs WHERE kind = 'marketing.reconcile_forms' AND status = 'queued'",
        )
        .await
        .is_empty()
    })
    .await;
    // The hub counts exactly the Meta-attributed leads. Backfilled leads keep
    // Meta's created_time (some are older than a week), so compare over all
    // time.
    let meta_leads = query(&db, "SELECT id FROM leads WHERE lead_source = 'META_ADS'")
        .await
        .len();
    let s = ceo.get("/api/crm/marketing/stats?time_range=all").await;
    assert_eq!(
        s.body["leads"].as_u64(),
        Some(meta_leads as u64),
        "{:?}",
        s.body
    );
    // One lead per leadgen id, though both the webhook and the reconcile saw it.
    let again = query(
        &db,
        &format!("SELECT id FROM leads WHERE meta_lead_id = '{leadgen_id}'"),
    )
    .await;
    assert_eq!(again.len(), 1);
    let r = ceo.get("/api/webhooks/inbox?status=done").await;
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["field"] == "leadgen")
    );
    // A marketing user may read stats but not the inbox.
    add_user(&ceo, "mkt@acme.test", "marketing").await;
    let mkt = logged_in(&app, "mkt@acme.test").await;
    assert_eq!(
        mkt.get("/api/crm/marketing/stats").await.status,
        StatusCode::OK
    );
    assert_eq!(
        mkt.get("/api/webhooks/inbox").await.status,
        StatusCode::FORBIDDEN
    );
    // Another tenant sees none of it.
    let (_, other) = other_tenant_ceo(&app, "other@other.test").await;
    let o = other.get("/api/crm/marketing/stats?time_range=7d").await;
    assert_eq!(o.body["leads"], 0);
    assert_eq!(
        other.get("/api/webhooks/inbox").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        other
            .get("/api/crm/marketing/campaigns/unknown")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_webhooks_replay_requeues_unroutable_events_which_route_once_the_page_is_selected() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    connect_meta(&app, &ceo).await;
    let w = world(&app).await;
    let page = w["pages"][0].clone();
    let page_id = page["id"].as_str().unwrap();
    // A leadgen webhook for a Page nobody selected yet: unroutable.
    let created = control(
        &app,
        reqwest::Method::POST,
        "/config",
        json!({"require_subscription": false}),
    )
    .await;
    assert!(created.is_object());
    let lead = control(
        &app,
        reqwest::Method::POST,
        "/leads",
        json!({"form_id": page["form_ids"][0], "ad_id": null, "fields": {"full_name": "Tarde", "email": "tarde@x.test"}}),
    )
    .await;
    let key = format!("leadgen:{}", lead["leadgen_id"].as_str().unwrap());
    let db = db(&app);
    let status = |db: sea_orm::DatabaseConnection, key: String| async move {
        let r = query(
            &db,
            &format!("SELECT status, attempts FROM webhook_inbox WHERE dedupe_key = '{key}'"),
        )
        .await;
        r.first().map(|r| {
            (
                r.try_get::<String>("", "status").unwrap(),
                r.try_get::<i32>("", "attempts").unwrap(),
            )
        })
    };
    eventually("the event to be unroutable", || {
        let (db, key) = (db.clone(), key.clone());
        async move { status(db, key).await.is_some_and(|s| s.0 == "unroutable") }
    })
    .await;
    // The tenant selects the Page afterwards; the operator replays.
    let r = ceo
        .post(
            "/api/crm/marketing/lead-pages",
            json!({"page_ids": [page_id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let url = app
        .server
        .as_ref()
        .unwrap()
        .state
        .cfg
        .db
        .database_url
        .clone();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crm"))
        .args([
            "webhooks",
            "replay",
            "--status",
            "unroutable",
            "--database-url",
            &url,
        ])
        .env("CRM_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("queued 1 webhook event"));
    eventually("the replayed event to be processed", || {
        let (db, key) = (db.clone(), key.clone());
        async move {
            status(db, key)
                .await
                .is_some_and(|s| s.0 == "done" && s.1 >= 2)
        }
    })
    .await;
    // A bad filter is refused with a clear message.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crm"))
        .args([
            "webhooks",
            "replay",
            "--status",
            "done",
            "--database-url",
            &url,
        ])
        .env("CRM_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only failed, unroutable or ignored"));
}
