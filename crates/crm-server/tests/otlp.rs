#![allow(clippy::unwrap_used, clippy::expect_used)]
//! With `CRM_OTLP_ENDPOINT` set, `crm serve` exports its spans to an
//! OTLP/HTTP collector: the request's span reaches it carrying the request
//! id. The collector here is a plain HTTP server that keeps what it is sent.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;

#[tokio::test]
async fn request_spans_reach_the_collector_with_their_request_id() {
    let received: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let keep = received.clone();
    let collector = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(body);
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let dir = std::env::temp_dir().join(format!("crm-otlp-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm"))
        .args(["serve", "--listen", "127.0.0.1:0", "--worker", "false"])
        .env("CRM_PRODUCTION", "false")
        .env("DATABASE_URL", format!("sqlite://{}/crm.db", dir.display()))
        .env("CRM_DATA_DIR", &dir)
        .env("CRM_OTLP_ENDPOINT", &endpoint)
        .env("CRM_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("CRM Ventas listening on ")
                .map(str::to_owned)
        })
        .expect("the server prints its URL");

    let request_id = format!("otlp-check-{}", uuid::Uuid::new_v4().simple());
    let r = reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    // The batch exporter sends within a few seconds.
    let started = Instant::now();
    let found = loop {
        let hit = received.lock().unwrap().iter().any(|b| {
            b.windows(request_id.len())
                .any(|w| w == request_id.as_bytes())
        });
        if hit || started.elapsed() > Duration::from_secs(30) {
            break hit;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(found, "no exported span carried the request id");
}
