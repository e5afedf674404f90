#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
//! `/metrics` after real activity: a webhook delivered, redelivered and
//! forged; a sync; a Graph call Meta throttles; a send Meta refuses. Each
//! counter must move by exactly what happened. Its own test binary: the
//! metrics recorder is process-wide, and no other test may move it here.

#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/meta_support.rs"]
mod meta_support;

use std::time::Duration;

use helpers::*;
use meta_support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

const TOKEN: &str = "scrape-secret-for-tests";
const SANDBOX_SECRET: &str = "sandbox-app-secret";

async fn scrape(app: &TestApp) -> String {
    let r = reqwest::Client::new()
        .get(format!("{}/metrics", app.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// The sum of the samples of `name` whose labels include all of `labels`.
fn value(body: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let ok = labels
                .iter()
                .all(|(k, want)| rest.split(',').any(|kv| kv == format!("{k}=\"{want}\"")));
            ok.then(|| v.parse::<f64>().ok()).flatten()
        })
        .sum()
}

async fn post_webhook(app: &TestApp, body: &str, signature: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{}/api/webhooks/meta", app.url))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
}

async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn business_metrics_move_with_what_happens() {
    let app = spawn_app_with(&["--meta-sandbox", "--metrics-token", TOKEN]).await;
    // The token is required.
    let anon = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);

    let ceo = setup_ceo(&app).await;
    connect_meta(&app, &ceo).await;

    // Database gauges are there from the first scrape.
    let m0 = scrape(&app).await;
    for g in [
        "crm_webhook_inbox_pending",
        "crm_meta_token_days_to_expiry",
        "crm_sync_accounts_failing",
        "crm_wa_windows_expiring_unanswered",
        "crm_rollup_dirty_days",
        "crm_alloc_resident_bytes",
        "crm_db_pool_connections",
    ] {
        assert!(m0.contains(&format!("\n{g}")), "{g} missing from /metrics");
    }
    assert_eq!(value(&m0, "crm_meta_connections_invalid", &[]), 0.0);
    assert!(value(&m0, "crm_alloc_resident_bytes", &[]) > 1e6);

    // 1. A webhook: delivered, delivered again, and forged.
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "W-metrics", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"phone_number_id": "P-not-selected"},
            "statuses": [{"id": "wamid.metrics.1", "status": "delivered", "timestamp": "1700000000"}]}}]}]})
    .to_string();
    let sig = meta_graph::sign_body(&meta_graph::AppSecret::new(SANDBOX_SECRET), body.as_bytes());
    let before = scrape(&app).await;
    assert_eq!(post_webhook(&app, &body, &sig).await, StatusCode::OK);
    assert_eq!(post_webhook(&app, &body, &sig).await, StatusCode::OK);
    assert_eq!(
        post_webhook(&app, &body, "sha256=00ff").await,
        StatusCode::UNAUTHORIZED
    );
    let after = scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(moved("crm_webhook_events_received_total", &[]), 1.0);
    assert_eq!(moved("crm_webhook_events_duplicate_total", &[]), 1.0);
    assert_eq!(
        moved(
            "crm_webhook_deliveries_refused_total",
            &[("reason", "invalid_signature")]
        ),
        1.0
    );
    // Processed by the worker: no workspace selected that number.
    until("the webhook to be processed", || async {
        let m = scrape(&app).await;
        value(
            &m,
            "crm_webhook_events_processed_total",
            &[("field", "messages"), ("status", "unroutable")],
        ) - value(
            &before,
            "crm_webhook_events_processed_total",
            &[("field", "messages"), ("status", "unroutable")],
        ) == 1.0
    })
    .await;

    // 2. A sync: selecting an ad account runs the first one.
    let w = world(&app).await;
    let acc = w["ad_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["currency"] == "USD")
        .unwrap()
        .clone();
    let before = scrape(&app).await;
    let r = ceo
        .post(
            "/api/crm/marketing/connect",
            json!({"account_id": acc["id"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    until("the first sync", || async {
        let m = scrape(&app).await;
        value(&m, "crm_sync_runs_total", &[("outcome", "ok")])
            - value(&before, "crm_sync_runs_total", &[("outcome", "ok")])
            >= 1.0
    })
    .await;
    let after = scrape(&app).await;
    assert!(
        value(
            &after,
            "crm_meta_graph_calls_total",
            &[("family", "insights"), ("outcome", "ok")]
        ) > value(
            &before,
            "crm_meta_graph_calls_total",
            &[("family", "insights"), ("outcome", "ok")]
        ),
        "the sync read insights"
    );

    // 3. A throttle: Meta throttles the next /me call (and advertises a
    // five-minute wait, so the client gives up at once).
    control(
        &app,
        Method::POST,
        "/faults",
        json!({"path": "/me", "method": "GET", "kind": "throttle", "count": 1}),
    )
    .await;
    let before = scrape(&app).await;
    let r = ceo.get("/api/crm/auth/meta/test-connection").await;
    assert!(!r.status.is_success(), "{:?}", r.body);
    let after = scrape(&app).await;
    assert_eq!(
        value(
            &after,
            "crm_meta_graph_throttles_total",
            &[("family", "me")]
        ) - value(
            &before,
            "crm_meta_graph_throttles_total",
            &[("family", "me")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "crm_meta_graph_calls_total",
            &[("family", "me"), ("outcome", "throttled")]
        ) - value(
            &before,
            "crm_meta_graph_calls_total",
            &[("family", "me"), ("outcome", "throttled")]
        ),
        1.0
    );

    // 4. A send Meta refuses (131026: message undeliverable).
    let phone_id = select_whatsapp(&ceo).await;
    let tid = approved_template(&app, &ceo).await;
    let r = ceo
        .post(
            "/api/leads",
            json!({"name": "Ana Pérez", "phone": "+5491155550101", "opt_in_method": "web_form"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let lead = r.body["id"]
        .as_str()
        .or_else(|| r.body["lead"]["id"].as_str())
        .unwrap()
        .to_owned();
    control(
        &app,
        Method::POST,
        "/faults",
        json!({"path": format!("/{phone_id}/messages"), "method": "POST", "kind": "error",
               "code": 131026, "message": "Message undeliverable", "http_status": 400}),
    )
    .await;
    let before = scrape(&app).await;
    let r = ceo
        .post(
            &format!("/api/crm/marketing/hsm/templates/{tid}/send"),
            json!({"lead_id": lead, "variables": {"1": "Ana", "2": "Marta"}}),
        )
        .await;
    assert!(!r.status.is_success(), "{:?}", r.body);
    let after = scrape(&app).await;
    assert_eq!(
        value(
            &after,
            "crm_wa_sends_total",
            &[("outcome", "failed"), ("code", "131026")]
        ) - value(
            &before,
            "crm_wa_sends_total",
            &[("outcome", "failed"), ("code", "131026")]
        ),
        1.0
    );
    assert_eq!(
        value(&after, "crm_wa_sends_total", &[("outcome", "sent")])
            - value(&before, "crm_wa_sends_total", &[("outcome", "sent")]),
        0.0
    );

    // Every metric of the catalogue that this activity touched, and every
    // gauge, is exported under its catalogued name.
    for m in crm_server::telemetry::CATALOGUE {
        if matches!(m.kind, crm_server::telemetry::Kind::Gauge) {
            assert!(
                after.contains(&format!("\n{}", m.name)),
                "{} is not exported",
                m.name
            );
        }
    }
}

async fn select_whatsapp(ceo: &Client) -> String {
    let r = ceo.get("/api/crm/marketing/meta-portfolios").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for p in r.body["items"].as_array().unwrap() {
        let pid = p["id"].as_str().unwrap();
        let r = ceo
            .get(&format!("/api/crm/marketing/whatsapp?portfolio_id={pid}"))
            .await;
        if let Some(w) = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| !x["phone_numbers"].as_array().unwrap().is_empty())
        {
            let phone = w["phone_numbers"][0]["id"].as_str().unwrap().to_owned();
            let r = ceo
                .post(
                    "/api/crm/marketing/whatsapp",
                    json!({"waba_id": w["id"], "phone_number_ids": [phone]}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            return phone;
        }
    }
    panic!("no WABA with a number");
}

async fn approved_template(app: &TestApp, ceo: &Client) -> String {
    let r = ceo
        .post(
            "/api/crm/marketing/hsm/templates",
            json!({"name": "metricas_aviso", "language": "es", "category": "UTILITY",
                "components": [{"type": "BODY", "text": "Hola {{1}}, te atiende {{2}}.",
                    "example": {"body_text": [["Ana", "Marta"]]}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let meta_id = r.body["meta_id"].as_str().unwrap().to_owned();
    control(
        app,
        Method::POST,
        &format!("/templates/{meta_id}/review"),
        json!({"status": "APPROVED"}),
    )
    .await;
    until("the template to be approved", || async {
        ceo.get(&format!("/api/crm/marketing/hsm/templates/{id}"))
            .await
            .body["status"]
            == "APPROVED"
    })
    .await;
    id
}
