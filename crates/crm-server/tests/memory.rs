#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Memory stays bounded under a stream of requests that nobody scrapes
//! metrics for. Its own test binary, so that no other test allocates in the
//! process while the allocator's figures are read.

use axum::body::Body;
use axum::http::Request;
use clap::Parser;
use crm_server::config::ServeArgs;
use tower::ServiceExt;

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    args: ServeArgs,
}

fn allocated() -> u64 {
    crm_server::alloc::stats()
        .expect("the tests run with jemalloc (the default feature)")
        .allocated
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_over_many_requests_without_a_metrics_scrape() {
    let dir = std::env::temp_dir().join(format!("crm-mem-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = crm_db::testing::fresh_database_url(&dir).await.unwrap();
    let args = Wrap::try_parse_from([
        "crm",
        "--database-url",
        &url,
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &dir.display().to_string(),
        "--worker",
        "false",
        "--production=false",
    ])
    .unwrap()
    .args;
    let server = crm_server::server::start(args).await.unwrap();
    let app = crm_server::app::build(server.state.clone());

    // Every request records a duration sample in the metrics recorder; the
    // samples must be folded away by the recorder's upkeep, not kept until
    // someone reads /metrics.
    let burst = |n: usize| {
        let app = app.clone();
        async move {
            for _ in 0..n {
                let resp = app
                    .clone()
                    .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert!(resp.status().is_success());
            }
        }
    };
    burst(20_000).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let before = allocated();
    const N: usize = 200_000;
    burst(N).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let after = allocated();
    let growth = after.saturating_sub(before);
    eprintln!("live heap: {before} -> {after} bytes over {N} requests");
    // An unfolded sample costs at least 8 bytes (with the upkeep stopped
    // this test sees 20 per request: 4 MB). What remains with the
    // upkeep running is the summaries' sketches filling up, about 2 bytes
    // per request over the first few hundred thousand.
    assert!(
        growth < 1_000_000,
        "live heap grew by {growth} bytes over {N} requests ({} per request)",
        growth as f64 / N as f64
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
