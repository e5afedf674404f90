//! `crm bench hsm-send`: N template sends through the real engine (runs,
//! send jobs, the in-process worker, DB-shared pacing) to an in-process Meta
//! sandbox that enforces Meta's per-number throughput (130429 above the cap).
//! Prints the achieved rate against the cap, the per-second send counts
//! (median, p95), the 130429 count, and a baseline measured in the same
//! process: the same sandbox driven directly through the Graph client with no
//! engine and no cap.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use crm_core::services::automation as auto;
use crm_core::services::meta_connection::{self, MetaEnv, SelectWhatsApp};
use crm_core::services::{accounts, leads, messaging, templates};
use crm_core::{Role, TenantCtx};
use crm_db::entity::{automation_rule, wa_message};
use meta_graph::whatsapp::{Recipient, SendComponent, TemplateMessage};
use meta_graph::{AppSecret, GraphClient, GraphConfig, LoginScope};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::json;

#[derive(Debug, Args)]
pub struct BenchHsmSendArgs {
    /// `sqlite://PATH` (default: a temporary file) or a PostgreSQL server URL
    /// (a fresh database `crm_bench_<random>` is created on it).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Template sends (one per lead).
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// The per-number cap, set both on the sandbox and as the tenant's pacing.
    #[arg(long, default_value_t = 80)]
    pub mps: u32,
    /// Jobs the in-process worker runs at the same time.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

fn ctx_for(tenant_id: uuid::Uuid) -> TenantCtx {
    TenantCtx {
        tenant_id,
        user_id: None,
        token_id: None,
        role: Role::Admin,
        ip: None,
        user_agent: Some("crm bench hsm-send".into()),
    }
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

pub async fn run(a: BenchHsmSendArgs) -> anyhow::Result<()> {
    let (url, scratch) = crate::leads_cli::fresh_db(a.database_url.as_deref()).await?;
    let backend = if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let db = crm_db::connect(&url, (a.concurrency as u32 + 4).max(8)).await?;
    crm_db::migrate(&db).await?;

    let sandbox = meta_sandbox::Sandbox::start(meta_sandbox::SandboxConfig {
        enable_control: true,
        ..Default::default()
    })
    .await?;
    let http = reqwest::Client::new();
    let config = |body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{}/_sandbox/config", sandbox.base_url());
        async move {
            http.post(url)
                .json(&body)
                .send()
                .await?
                .error_for_status()?;
            anyhow::Ok(())
        }
    };
    config(json!({"messages_per_second": a.mps, "pair_messages_per_minute": 1000})).await?;
    let secret = AppSecret::new(sandbox.app_secret().to_owned());
    let graph = GraphClient::new(
        GraphConfig::new(sandbox.app_id().to_owned(), secret.clone())
            .with_base_url(sandbox.base_url()),
    )?;
    let env = MetaEnv {
        keyring: Arc::new(crm_core::vault::Keyring::from_base64(&[
            crm_core::vault::generate_key(),
        ])?),
        graph: Some(graph.clone()),
        app_secret: Some(secret),
        login: LoginScope::Scopes(vec![]),
        required_scopes: meta_connection::DEFAULT_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        public_url: "http://127.0.0.1".into(),
    };

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
    let ctx = ctx_for(tenant.id);
    let token = sandbox.issue_token(meta_sandbox::TokenRequest::default())?;
    meta_connection::connect_system_user_token(&db, &env, &ctx, &token)
        .await
        .map_err(err)?;
    let (_, phone_number_id) = select_first_number(&db, &env, &ctx).await?;
    templates::sync(&db, &env, tenant.id, &ctx.actor())
        .await
        .map_err(err)?;
    messaging::update_settings(
        &db,
        &ctx,
        &messaging::SettingsInput {
            opt_out_keywords: vec!["STOP".into(), "BAJA".into()],
            opt_in_keywords: None,
            messages_per_second: i32::try_from(a.mps).unwrap_or(80),
            resume: false,
            resend_unconfirmed: None,
        },
    )
    .await
    .map_err(err)?;

    println!(
        "backend: {backend}; messages: {}; cap: {}/s per number; worker concurrency: {}",
        a.messages, a.mps, a.concurrency
    );
    let t = Instant::now();
    let mut lead_ids = Vec::with_capacity(a.messages);
    for i in 0..a.messages {
        let input: leads::NewLead = serde_json::from_value(json!({
            "name": format!("Cliente {i}"),
            "phone": format!("+5491170{:06}", i + 1),
        }))?;
        let c = leads::create(&db, &ctx, &input, leads::OnDuplicate::Reject)
            .await
            .map_err(err)?;
        lead_ids.push(c.lead.id);
    }
    println!(
        "setup: {} leads in {:.1}s",
        a.messages,
        t.elapsed().as_secs_f64()
    );
    // The leads' own creation events (lead_created → consumer jobs) are
    // settled before the clock starts: the timed phase measures the sends.
    let env = Arc::new(env);
    let t = Instant::now();
    let settled = settle(&db, env.clone(), a.concurrency).await?;
    println!(
        "setup: {settled} event jobs settled in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let spec: crm_core::automation::rule::RuleSpec = serde_json::from_value(json!({
        "name": "Bench", "enabled": true, "trigger": {"type": "opportunity_won"},
        "action": {"template_name": "bienvenida", "language": "es", "bindings": {
            "1": {"source": "lead.first_name", "fallback": "hola"}
        }}
    }))?;
    let rule = auto::create_rule(&db, &ctx, &spec).await.map_err(err)?;
    let rule_model = automation_rule::Entity::find_by_id(rule.id)
        .one(&db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("rule missing"))?;
    let now = chrono::Utc::now();
    for chunk in lead_ids.chunks(500) {
        let txn = db.begin_with_options(crm_db::write_txn()).await?;
        for id in chunk {
            auto::schedule_run(&txn, &rule_model, &spec, *id, "bench", now)
                .await
                .map_err(err)?;
        }
        txn.commit().await?;
    }

    // The engine: the real worker, in process.
    let throttled_before = messaging::THROTTLED_130429.load(Ordering::Relaxed);
    let mut worker = crate::worker::Worker::new(db.clone(), crate::worker::registry(env));
    worker.concurrency = a.concurrency.max(1);
    worker.poll = Duration::from_millis(50);
    let stop = tokio_util::sync::CancellationToken::new();
    let handle = tokio::spawn(worker.run(stop.clone()));
    let started = Instant::now();
    let cpu_before = process_cpu_secs();
    let timeout =
        Duration::from_secs_f64(a.messages as f64 / f64::from(a.mps.max(1)) * 2.0 + 120.0);
    let done_states = ["sent", "delivered", "read", "failed"];
    loop {
        let done = wa_message::Entity::find()
            .filter(wa_message::Column::TenantId.eq(tenant.id))
            .filter(wa_message::Column::Status.is_in(done_states))
            .count(&db)
            .await?;
        if done as usize >= a.messages {
            break;
        }
        if started.elapsed() > timeout {
            anyhow::bail!(
                "only {done} of {} sends finished in {timeout:?}",
                a.messages
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cpu = process_cpu_secs() - cpu_before;
    let wall = started.elapsed().as_secs_f64();
    stop.cancel();
    let _ = handle.await;
    let throttled = messaging::THROTTLED_130429.load(Ordering::Relaxed) - throttled_before;

    let msgs = wa_message::Entity::find()
        .filter(wa_message::Column::TenantId.eq(tenant.id))
        .all(&db)
        .await?;
    let failed = msgs.iter().filter(|m| m.status == "failed").count();
    let mut at: Vec<i64> = msgs
        .iter()
        .filter_map(|m| m.sent_at.map(|t| t.timestamp_micros()))
        .collect();
    at.sort_unstable();
    let (first, last) = (at[0], at[at.len() - 1]);
    let span = (last - first) as f64 / 1e6;
    let rate = (at.len() - 1) as f64 / span;
    // Sends per whole second between the first and the last.
    let secs = ((last - first) / 1_000_000) as usize;
    let mut buckets = vec![0f64; secs.max(1)];
    for t in &at {
        let b = ((t - first) / 1_000_000) as usize;
        if b < buckets.len() {
            buckets[b] += 1.0;
        }
    }
    buckets.sort_by(f64::total_cmp);
    let accepted = sandbox_accepted(&http, &sandbox.base_url()).await?;
    println!(
        "engine: {} sent ({} failed) in {:.1}s: {:.1} msg/s = {:.3} × the {} /s cap",
        at.len(),
        failed,
        span,
        rate,
        rate / f64::from(a.mps),
        a.mps
    );
    println!(
        "process CPU (engine + in-process sandbox): {:.1}s over {:.1}s wall = {:.2} ms per send",
        cpu,
        wall,
        cpu * 1000.0 / a.messages.max(1) as f64
    );
    println!(
        "per-second sends: median {:.0}, p95 {:.0}, max {:.0}; 130429 refusals: {throttled}; sandbox accepted: {accepted}",
        percentile(&buckets, 0.5),
        percentile(&buckets, 0.95),
        buckets.last().copied().unwrap_or(0.0),
    );

    // Baseline: the same sandbox, no engine and no cap: how fast can this
    // process hand templates over at all?
    config(json!({"messages_per_second": 100_000})).await?;
    let n = 1_000.min(a.messages);
    let session = graph.session(meta_graph::AccessToken::new(token.clone()));
    let t0 = Instant::now();
    let mut lat = Vec::with_capacity(n);
    let mut set = tokio::task::JoinSet::new();
    let body: Vec<SendComponent> = serde_json::from_value(json!([{
        "type": "body", "parameters": [{"type": "text", "text": "Ana"}]
    }]))?;
    let lanes = a.concurrency.max(1);
    for k in 0..lanes {
        let session = session.clone();
        let phone = phone_number_id.clone();
        let body = body.clone();
        set.spawn(async move {
            let mut out = vec![];
            for i in (k..n).step_by(lanes) {
                let msg = TemplateMessage {
                    to: Recipient::Phone(format!("5491180{:06}", i + 1)),
                    name: "bienvenida".into(),
                    language: "es".into(),
                    components: body.clone(),
                    biz_opaque_callback_data: None,
                };
                let s = Instant::now();
                if session.send_template(&phone, &msg).await.is_ok() {
                    out.push(s.elapsed().as_secs_f64() * 1000.0);
                }
            }
            out
        });
    }
    while let Some(r) = set.join_next().await {
        lat.extend(r?);
    }
    let base_rate = lat.len() as f64 / t0.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    println!(
        "baseline (direct Graph sends, no engine, cap lifted): {} in {:.1}s = {:.0} msg/s; request median {:.1} ms, p95 {:.1} ms; engine/baseline = {:.3}",
        lat.len(),
        t0.elapsed().as_secs_f64(),
        base_rate,
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        rate / base_rate
    );
    let within = (rate - f64::from(a.mps)).abs() / f64::from(a.mps) <= 0.05;
    println!(
        "verdict: rate {} 5% of the cap; 130429: {}",
        if within { "within" } else { "NOT within" },
        if throttled == 0 { "none" } else { "SOME" }
    );
    sandbox.shutdown().await;
    db.close().await?;
    scratch.remove().await?;
    Ok(())
}

/// Selects the first WhatsApp number of the connected sandbox business for
/// the tenant; returns the WABA id and the phone number id.
pub(crate) async fn select_first_number(
    db: &sea_orm::DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
) -> anyhow::Result<(String, String)> {
    let mut pick = None;
    for p in meta_connection::portfolios(db, env, ctx)
        .await
        .map_err(err)?
    {
        let wabas = meta_connection::whatsapp_accounts(db, env, ctx, Some(&p.id))
            .await
            .map_err(err)?;
        if let Some(w) = wabas.into_iter().find(|w| !w.phone_numbers.is_empty()) {
            pick = Some(w);
            break;
        }
    }
    let w = pick.ok_or_else(|| anyhow::anyhow!("the sandbox has no WABA with a number"))?;
    let phone_number_id = w.phone_numbers[0].id.clone();
    meta_connection::select_whatsapp(
        db,
        env,
        ctx,
        &SelectWhatsApp {
            waba_id: w.id.clone(),
            phone_number_ids: vec![phone_number_id.clone()],
        },
    )
    .await
    .map_err(err)?;
    Ok((w.id, phone_number_id))
}

/// Runs a worker until no event is undispatched and no due job (other than
/// the scheduler tick) is left. Returns how many jobs finished.
async fn settle(
    db: &sea_orm::DatabaseConnection,
    env: Arc<MetaEnv>,
    concurrency: usize,
) -> anyhow::Result<u64> {
    use crm_db::entity::{job, outbox};
    let mut worker = crate::worker::Worker::new(db.clone(), crate::worker::registry(env));
    worker.concurrency = concurrency.max(1);
    worker.poll = Duration::from_millis(50);
    let stop = tokio_util::sync::CancellationToken::new();
    let handle = tokio::spawn(worker.run(stop.clone()));
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let events = outbox::Entity::find()
            .filter(outbox::Column::DispatchedAt.is_null())
            .count(db)
            .await?;
        let due = job::Entity::find()
            .filter(job::Column::Status.is_in([crm_db::jobs::QUEUED, crm_db::jobs::RUNNING]))
            .filter(job::Column::Kind.ne(auto::TICK_JOB))
            .filter(job::Column::RunAt.lte(chrono::Utc::now()))
            .count(db)
            .await?;
        if events == 0 && due == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            anyhow::bail!("setup events did not settle: {events} events, {due} jobs left");
        }
    }
    stop.cancel();
    let _ = handle.await;
    Ok(job::Entity::find()
        .filter(job::Column::Status.eq(crm_db::jobs::DONE))
        .count(db)
        .await?)
}

/// User + system CPU seconds of this process so far (Linux; 0 elsewhere).
fn process_cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line (11 and 12 here).
    (ticks(11) + ticks(12)) / 100.0
}

async fn sandbox_accepted(http: &reqwest::Client, base: &str) -> anyhow::Result<usize> {
    let v: serde_json::Value = http
        .get(format!("{base}/_sandbox/received/messages"))
        .send()
        .await?
        .json()
        .await?;
    Ok(v["data"].as_array().map_or(0, Vec::len))
}
