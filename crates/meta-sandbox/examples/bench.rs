//! Throughput check: `cargo run --release -p meta-sandbox --example bench [-- SIZE SECONDS CONCURRENCY]`.
//! Starts an in-process sandbox and prints requests per second for a few typical calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use meta_sandbox::{Sandbox, SandboxConfig, TokenRequest, WorldSize};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let size = args
        .get(1)
        .and_then(|s| WorldSize::by_name(s))
        .unwrap_or_else(WorldSize::large);
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let conc: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);
    let t0 = Instant::now();
    let sb = Sandbox::start(SandboxConfig {
        world: size,
        enable_control: true,
        ..Default::default()
    })
    .await?;
    println!(
        "world {:?} generated and serving in {:?}",
        size,
        t0.elapsed()
    );
    let token = sb.issue_token(TokenRequest::default())?;
    let base = sb.graph_url();
    let act = sb.world().ad_accounts[0].act_id();
    let camp = sb.world().campaigns[sb.world().ad_accounts[0].campaigns.start]
        .id
        .clone();
    let cases = vec![
        ("GET /me", format!("{base}/me?access_token={token}")),
        (
            "GET /act/campaigns?limit=25",
            format!("{base}/{act}/campaigns?fields=id,name,status&limit=25&access_token={token}"),
        ),
        (
            "GET /campaign/insights last_30d daily",
            format!(
                "{base}/{camp}/insights?date_preset=last_30d&time_increment=1&access_token={token}"
            ),
        ),
        (
            "GET /act/insights last_7d",
            format!("{base}/{act}/insights?date_preset=last_7d&access_token={token}"),
        ),
    ];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conc)
        .build()?;
    // Measure throughput, not the simulated rate limits.
    let budgets = serde_json::json!({"app_calls_per_window": u32::MAX, "account_calls_per_window": u32::MAX, "user_calls_per_window": u32::MAX});
    client
        .post(format!("{}/_sandbox/config", sb.base_url()))
        .json(&budgets)
        .send()
        .await?
        .error_for_status()?;
    for (name, url) in cases {
        let done = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut tasks = vec![];
        for _ in 0..conc {
            let (client, url, done, errors) =
                (client.clone(), url.clone(), done.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let n = done.load(Ordering::Relaxed);
        println!(
            "{name:<40} {:>8.0} req/s  ({} errors)",
            n as f64 / secs as f64,
            errors.load(Ordering::Relaxed)
        );
    }
    sb.shutdown().await;
    Ok(())
}
