//! `crm bench webhooks`: signed Meta webhook deliveries through the real
//! server (HTTP, signature check, inbox, jobs) and the real worker.
//!
//! 1. **Ingest**: the worker is off; N signed status deliveries (one event
//!    each) are posted by C concurrent clients, then a tenth of them again
//!    (Meta redelivers). Prints events/s and request latency, and checks the
//!    inbox holds every event exactly once (0 lost, 0 doubled). A trivial
//!    endpoint (`/healthz`) is timed the same way in the same process.
//! 2. **Processing, status updates**: the in-process worker drains the N
//!    events against N sent messages; prints events/s per round (several
//!    rounds show whether processing slows as finished jobs accumulate).
//! 3. **Processing, new leads**: M inbound WhatsApp messages from M new
//!    numbers, each creating a lead; prints events/s.
//!
//! With `--prune-between-rounds`, the retention prune runs after each round
//! with a job retention of zero. At the end it prints the rows kept and the
//! SQLite database and WAL file sizes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser};
use crm_core::services::meta_connection;
use crm_core::services::{accounts, leads};
use crm_core::{Role, TenantCtx};
use crm_db::entity::{job, lead, wa_message, webhook_inbox};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::config::ServeArgs;

#[derive(Debug, Args)]
pub struct BenchWebhooksArgs {
    /// `sqlite://PATH` (default: a temporary file) or a PostgreSQL server URL
    /// (a fresh database `crm_bench_<random>` is created on it and dropped).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Status events per round (one event per signed delivery).
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Inbound messages from new numbers (each creates a lead).
    #[arg(long, default_value_t = 5_000)]
    pub leads: usize,
    /// Concurrent HTTP clients posting deliveries.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Ingest-and-process rounds of status events (processing time per
    /// round shows whether the queue slows down as jobs accumulate).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Jobs the worker runs at the same time.
    #[arg(long, default_value_t = 8)]
    pub worker_concurrency: usize,
    /// After each round, run the retention prune with a job retention of 0
    /// hours (as the ten-minute `maintenance.prune` job does for an operator
    /// who keeps no finished jobs): shows whether processing stays flat once
    /// finished work is pruned.
    #[arg(long, default_value_t = false)]
    pub prune_between_rounds: bool,
}

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    args: ServeArgs,
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Requests/s and latency of one batch of requests.
struct Timed {
    per_sec: f64,
    ms: Vec<f64>,
}

impl Timed {
    fn line(&self, what: &str, n: usize) -> String {
        format!(
            "{what}: {n} in {:.2}s = {:.0}/s; latency median {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
            n as f64 / self.per_sec,
            self.per_sec,
            percentile(&self.ms, 0.5),
            percentile(&self.ms, 0.95),
            percentile(&self.ms, 0.99)
        )
    }
}

/// Sends every request (`None` body: GET) with `lanes` concurrent clients.
/// Returns the rate, the sorted latencies and the JSON answers.
async fn fire(
    http: &reqwest::Client,
    url: &str,
    bodies: Arc<Vec<Option<(String, String)>>>,
    lanes: usize,
) -> anyhow::Result<(Timed, Vec<Value>)> {
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let lanes = lanes.max(1);
    for k in 0..lanes {
        let http = http.clone();
        let url = url.to_owned();
        let bodies = bodies.clone();
        set.spawn(async move {
            let mut out = vec![];
            for i in (k..bodies.len()).step_by(lanes) {
                let s = Instant::now();
                let rb = match &bodies[i] {
                    Some((body, sig)) => http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-hub-signature-256", sig)
                        .body(body.clone()),
                    None => http.get(&url),
                };
                let r = rb.send().await?;
                let status = r.status();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                if !status.is_success() {
                    anyhow::bail!("{url} answered {status}: {v}");
                }
                out.push((s.elapsed().as_secs_f64() * 1000.0, v));
            }
            anyhow::Ok(out)
        });
    }
    let mut ms = Vec::with_capacity(bodies.len());
    let mut answers = Vec::with_capacity(bodies.len());
    while let Some(r) = set.join_next().await {
        for (l, v) in r?? {
            ms.push(l);
            answers.push(v);
        }
    }
    let per_sec = bodies.len() as f64 / t0.elapsed().as_secs_f64();
    ms.sort_by(f64::total_cmp);
    Ok((Timed { per_sec, ms }, answers))
}

fn signed(secret: &meta_graph::AppSecret, v: &Value) -> (String, String) {
    let body = v.to_string();
    let sig = meta_graph::sign_body(secret, body.as_bytes());
    (body, sig)
}

fn wa_envelope(waba: &str, phone_number_id: &str, value: Value) -> Value {
    let mut value = value;
    if let Some(o) = value.as_object_mut() {
        o.insert("messaging_product".into(), json!("whatsapp"));
        o.insert(
            "metadata".into(),
            json!({"display_phone_number": "5491100000000", "phone_number_id": phone_number_id}),
        );
    }
    json!({"object": "whatsapp_business_account", "entry": [{
        "id": waba, "changes": [{"field": "messages", "value": value}]
    }]})
}

/// Waits until no `webhooks.process` job is queued or running.
async fn drained(db: &sea_orm::DatabaseConnection, limit: Duration) -> anyhow::Result<()> {
    let t0 = Instant::now();
    loop {
        let left = job::Entity::find()
            .filter(job::Column::Kind.eq(crm_core::services::webhooks::PROCESS_JOB))
            .filter(job::Column::Status.is_in([crm_db::jobs::QUEUED, crm_db::jobs::RUNNING]))
            .count(db)
            .await?;
        if left == 0 {
            return Ok(());
        }
        if t0.elapsed() > limit {
            anyhow::bail!("{left} webhook jobs still pending after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn file_mb(path: &str) -> Option<f64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.len() as f64 / 1_048_576.0)
}

pub async fn run(a: BenchWebhooksArgs) -> anyhow::Result<()> {
    let (url, scratch) = crate::leads_cli::fresh_db(a.database_url.as_deref()).await?;
    let backend = if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let data_dir =
        std::env::temp_dir().join(format!("crm-bench-wh-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir)?;
    let argv = [
        "crm",
        "--database-url",
        &url,
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data_dir.display().to_string(),
        "--meta-sandbox",
        "--worker",
        "false",
        "--db-max-connections",
        "16",
        "--production=false",
    ]
    .map(str::to_owned);
    let args = Wrap::try_parse_from(argv)?.args;
    let server = crate::server::start(args).await?;
    let base = server.url.clone();
    let env = server.state.meta.clone();
    let db = server.state.db.clone();
    let secret = env
        .app_secret
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the sandbox has no app secret"))?;
    let sandbox = server
        .meta_sandbox()
        .ok_or_else(|| anyhow::anyhow!("no in-process sandbox"))?;

    // A connected workspace with one WhatsApp number.
    let tenant = accounts::create_tenant(
        &db,
        &accounts::NewTenant {
            name: "Bench".into(),
            currency: "USD".into(),
            timezone: "America/Argentina/Buenos_Aires".into(),
            locale: "es".into(),
            country: "AR".into(),
        },
    )
    .await
    .map_err(err)?;
    let ctx = TenantCtx {
        tenant_id: tenant.id,
        user_id: None,
        token_id: None,
        role: Role::Admin,
        ip: None,
        user_agent: Some("crm bench webhooks".into()),
    };
    let token = sandbox.issue_token(meta_sandbox::TokenRequest::default())?;
    meta_connection::connect_system_user_token(&db, &env, &ctx, &token)
        .await
        .map_err(err)?;
    let (waba_id, pnid) = crate::hsm_bench::select_first_number(&db, &env, &ctx).await?;
    let input: leads::NewLead =
        serde_json::from_value(json!({"name": "Cliente Bench", "phone": "+5491170000001"}))?;
    let owner = leads::create(&db, &ctx, &input, leads::OnDuplicate::Reject)
        .await
        .map_err(err)?
        .lead
        .id;

    println!(
        "backend: {backend}; {} status events per round × {} rounds, {} new-lead messages; {} HTTP clients; worker concurrency {}",
        a.events, a.rounds, a.leads, a.concurrency, a.worker_concurrency
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency.max(1))
        .build()?;
    let hook = format!("{base}/api/webhooks/meta");

    // The trivial endpoint, timed the same way.
    let gets = Arc::new(vec![None; a.events]);
    let _ = fire(
        &http,
        &format!("{base}/healthz"),
        gets.clone(),
        a.concurrency,
    )
    .await?;
    let (trivial, _) = fire(&http, &format!("{base}/healthz"), gets, a.concurrency).await?;
    println!("{}", trivial.line("trivial GET /healthz", a.events));

    let ts = chrono::Utc::now().timestamp().to_string();
    let mut worker_stop = None;
    for round in 0..a.rounds {
        // N sent messages to confirm.
        let now = chrono::Utc::now();
        let ids: Vec<usize> = (0..a.events).map(|i| round * a.events + i).collect();
        for chunk in ids.chunks(500) {
            let rows = chunk.iter().map(|i| wa_message::ActiveModel {
                id: Set(crm_db::new_id()),
                tenant_id: Set(tenant.id),
                lead_id: Set(owner),
                direction: Set("out".into()),
                wamid: Set(Some(format!("wamid.bench.{i}"))),
                kind: Set("template".into()),
                template_id: Set(None),
                template_name: Set(Some("bienvenida".into())),
                template_category: Set(Some("MARKETING".into())),
                body: Set("Hola".into()),
                status: Set("sent".into()),
                sent_at: Set(Some(now)),
                delivered_at: Set(None),
                read_at: Set(None),
                failed_at: Set(None),
                error_code: Set(None),
                error_message: Set(None),
                rule_id: Set(None),
                run_id: Set(None),
                sent_by: Set(None),
                referral: Set(None),
                payload: Set(json!({})),
                idempotency_key: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
            wa_message::Entity::insert_many(rows).exec(&db).await?;
        }
        let deliveries: Vec<Option<(String, String)>> = ids
            .iter()
            .map(|i| {
                Some(signed(
                    &secret,
                    &wa_envelope(
                        &waba_id,
                        &pnid,
                        json!({"statuses": [{"id": format!("wamid.bench.{i}"), "status": "delivered",
                            "timestamp": ts, "recipient_id": "5491170000001"}]}),
                    ),
                ))
            })
            .collect();
        let deliveries = Arc::new(deliveries);
        let before = webhook_inbox::Entity::find().count(&db).await?;
        let (ingest, answers) = fire(&http, &hook, deliveries.clone(), a.concurrency).await?;
        let stored: u64 = answers.iter().filter_map(|v| v["stored"].as_u64()).sum();
        // Meta redelivers: a tenth of the deliveries again.
        let again = Arc::new(
            deliveries
                .iter()
                .step_by(10)
                .cloned()
                .collect::<Vec<Option<(String, String)>>>(),
        );
        let (_, answers) = fire(&http, &hook, again.clone(), a.concurrency).await?;
        let dup: u64 = answers
            .iter()
            .filter_map(|v| v["duplicates"].as_u64())
            .sum();
        let rows = webhook_inbox::Entity::find().count(&db).await? - before;
        println!(
            "round {}: {}; ratio to trivial {:.2}",
            round + 1,
            ingest.line("ingest (signed status deliveries)", a.events),
            ingest.per_sec / trivial.per_sec
        );
        println!(
            "round {}: stored {stored}, redeliveries {} answered as duplicates {dup}; inbox rows added {rows}: lost {}, doubled {}",
            round + 1,
            again.len(),
            (a.events as u64).saturating_sub(rows),
            rows.saturating_sub(a.events as u64)
        );

        // Process them.
        let t0 = Instant::now();
        if worker_stop.is_none() {
            let mut worker =
                crate::worker::Worker::new(db.clone(), crate::worker::registry(env.clone()));
            worker.concurrency = a.worker_concurrency.max(1);
            worker.poll = Duration::from_millis(50);
            let stop = tokio_util::sync::CancellationToken::new();
            let handle = tokio::spawn(worker.run(stop.clone()));
            worker_stop = Some((stop, handle));
        }
        drained(&db, Duration::from_secs(3600)).await?;
        let secs = t0.elapsed().as_secs_f64();
        let delivered = wa_message::Entity::find()
            .filter(wa_message::Column::TenantId.eq(tenant.id))
            .filter(wa_message::Column::Status.eq("delivered"))
            .count(&db)
            .await?;
        println!(
            "round {}: processing status updates: {} in {secs:.2}s = {:.0} events/s; messages delivered so far {delivered} of {}",
            round + 1,
            a.events,
            a.events as f64 / secs,
            (round + 1) * a.events
        );
        if a.prune_between_rounds {
            let t0 = Instant::now();
            let retention = crate::config::RetentionArgs {
                job_retention_hours: 0,
                ..Default::default()
            };
            let p = crate::maintenance::prune(&db, &retention, chrono::Utc::now()).await?;
            println!(
                "round {}: pruned {} done jobs in {:.2}s",
                round + 1,
                p.done_jobs,
                t0.elapsed().as_secs_f64()
            );
        }
    }

    // New leads: inbound messages from new numbers, worker running.
    if a.leads > 0 {
        let bodies: Vec<Option<(String, String)>> = (0..a.leads)
            .map(|i| {
                let from = format!("54911{:08}", 20_000_000 + i);
                Some(signed(
                    &secret,
                    &wa_envelope(
                        &waba_id,
                        &pnid,
                        json!({"contacts": [{"profile": {"name": format!("Cliente {i}")}, "wa_id": from}],
                            "messages": [{"from": from, "id": format!("wamid.in.{i}"), "timestamp": ts,
                                "type": "text", "text": {"body": "Hola, ¿tienen cuotas sin interés?"}}]}),
                    ),
                ))
            })
            .collect();
        let leads_before = lead::Entity::find()
            .filter(lead::Column::TenantId.eq(tenant.id))
            .count(&db)
            .await?;
        let t0 = Instant::now();
        let (ingest, _) = fire(&http, &hook, Arc::new(bodies), a.concurrency).await?;
        drained(&db, Duration::from_secs(3600)).await?;
        let secs = t0.elapsed().as_secs_f64();
        let created = lead::Entity::find()
            .filter(lead::Column::TenantId.eq(tenant.id))
            .count(&db)
            .await?
            - leads_before;
        println!("new leads: {}", ingest.line("ingest", a.leads));
        println!(
            "new leads: ingest and processing {} in {secs:.2}s = {:.0} events/s; leads created {created}",
            a.leads,
            a.leads as f64 / secs
        );
    }
    let jobs_left = job::Entity::find().count(&db).await?;
    let inbox_rows = webhook_inbox::Entity::find().count(&db).await?;
    println!("rows kept: jobs {jobs_left}, webhook inbox {inbox_rows}");
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .map(|p| p.split('?').next().unwrap_or(p).to_owned())
    {
        println!(
            "sqlite files: database {:.1} MB, WAL {:.1} MB",
            file_mb(&path).unwrap_or(0.0),
            file_mb(&format!("{path}-wal")).unwrap_or(0.0)
        );
    }
    if let Some((stop, handle)) = worker_stop {
        stop.cancel();
        let _ = handle.await;
    }
    server.shutdown().await;
    db.close().await?;
    let _ = std::fs::remove_dir_all(&data_dir);
    scratch.remove().await?;
    Ok(())
}
