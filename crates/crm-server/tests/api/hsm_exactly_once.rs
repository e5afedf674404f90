//! Exactly once under crashes, when Meta's answer or status webhook is seen:
//! a 2,000-message campaign run by real `crm worker` processes that are
//! SIGKILLed at random points and restarted, with the tenant's "resend after
//! silence" setting on (the sandbox always reports on what it accepted). The
//! server (webhook inbox, API) and the Meta sandbox run in this process; the
//! workers share its database. What counts is what the sandbox received:
//! every eligible lead exactly once.
//!
//! On SQLite one worker is killed and restarted; on PostgreSQL
//! (CRM_TEST_DATABASE_URL) two workers run side by side and both are killed
//! at random.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::hsm_api::{approved_template, ready_with, sent_by_sandbox};
use crate::meta_support::*;

/// 2,000 by default; `HSM_HARNESS_LEADS` overrides it for a quick local run.
fn leads_n() -> usize {
    std::env::var("HSM_HARNESS_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// A tiny deterministic PRNG (xorshift) seeded from the clock; the seed is
/// printed so a failing run can be reasoned about.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn between_ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// A worker process that is killed when the test ends, even on a panic.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Workers {
    db_url: String,
    data_dir: std::path::PathBuf,
    graph_url: String,
    public_url: String,
    log_dir: std::path::PathBuf,
    started: usize,
    kills: usize,
}

impl Workers {
    fn spawn(&mut self) -> Proc {
        self.started += 1;
        let log = std::fs::File::create(self.log_dir.join(format!("worker-{}.log", self.started)))
            .unwrap();
        let defaults = meta_sandbox::SandboxConfig::default();
        Command::new(env!("CARGO_BIN_EXE_crm"))
            .arg("worker")
            .env_remove("DATABASE_URL")
            .env("CRM_LOG", "info")
            .env("CRM_PRODUCTION", "false")
            .args(["--database-url", &self.db_url])
            .args(["--data-dir", &self.data_dir.display().to_string()])
            .args(["--public-url", &self.public_url])
            .args(["--meta-graph-url", &self.graph_url])
            .args(["--meta-app-id", &defaults.app_id])
            .args(["--meta-app-secret", &defaults.app_secret])
            .args(["--job-lease-secs", "3"])
            .args(["--hsm-reconcile-secs", "4"])
            .args(["--db-max-connections", "12"])
            .args(["--worker-concurrency", "16"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map(Proc)
            .unwrap()
    }

    fn kill(&mut self, c: &mut Proc) {
        // std's Child::kill sends SIGKILL on Unix: no shutdown code runs.
        c.0.kill().unwrap();
        c.0.wait().unwrap();
        self.kills += 1;
    }

    fn resends(&self) -> usize {
        let mut n = 0;
        for e in std::fs::read_dir(&self.log_dir).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
            n += text.matches("re-sending an unconfirmed").count();
        }
        n
    }
}

async fn runs_by_status(ceo: &Client, rule_id: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/crm/marketing/automation-logs?rule_id={rule_id}&limit=500");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = ceo.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        for it in r.body["items"].as_array().unwrap() {
            *out.entry(it["status"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

fn phone(i: usize) -> String {
    format!("+54911600{:05}", i + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn campaign_survives_sigkill_exactly_once() {
    let leads = leads_n();
    let pg = crm_db::testing::backend() == "postgres";
    let (app, ceo, _, _) = ready_with(&["--meta-sandbox", "--worker", "false"]).await;
    let sandbox = sandbox_url(&app);
    // Meta's default throughput (80/s); the `sent` status a moment after
    // acceptance (it is what settles an unconfirmed send; delivered/read
    // would only add load).
    control(
        &app,
        Method::POST,
        "/config",
        json!({"messages_per_second": 80, "status_delay_ms": 30, "status_mode": "sent_only"}),
    )
    .await;
    let log_dir = std::env::var("HSM_HARNESS_LOGS").map_or_else(
        |_| app.data_dir().join("worker-logs"),
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(&log_dir).unwrap();
    let mut w = Workers {
        db_url: app.database_url.clone(),
        data_dir: app.data_dir(),
        graph_url: sandbox.clone(),
        public_url: app.url.clone(),
        log_dir,
        started: 0,
        kills: 0,
    };
    let n_workers = if pg { 2 } else { 1 };
    // The workers also apply the webhooks the server stores (template approval,
    // delivery statuses).
    let mut procs: Vec<Proc> = (0..n_workers).map(|_| w.spawn()).collect();

    approved_template(&app, &ceo, "hsm_campana", "UTILITY").await;
    // "Resend after silence" (at least once): a worker killed after claiming
    // a send leaves it unconfirmed, and the reconciler hands it over again
    // unless a status webhook shows Meta took it. With the default (hold for
    // review) such sends would wait for a person instead.
    let r = ceo
        .req(
            Method::PUT,
            "/api/crm/marketing/hsm/settings",
            Some(
                json!({"opt_out_keywords": ["STOP"], "messages_per_second": 80,
                        "resend_unconfirmed": true}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["resend_unconfirmed"], true);
    let r = ceo
        .post(
            "/api/crm/marketing/automation/rules",
            json!({
                "name": "Campaña", "enabled": true, "trigger": {"type": "lead_created"},
                "action": {"template_name": "hsm_campana", "language": "es", "bindings": {
                    "1": {"source": "lead.first_name", "fallback": "hola"},
                    "2": {"source": "tenant.name"}
                }}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let rule_id = r.body["id"].as_str().unwrap().to_owned();

    // The campaign: 2,000 eligible leads. They are created with the workers
    // stopped (so the run measures sending, not the API): their
    // `lead_created` events wait in the outbox.
    for p in &mut procs {
        p.0.kill().unwrap();
        p.0.wait().unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..8 {
        let c = Client {
            http: ceo.http.clone(),
            base: ceo.base.clone(),
            csrf: ceo.csrf.clone(),
            bearer: ceo.bearer.clone(),
        };
        tasks.spawn(async move {
            for i in (chunk..leads).step_by(8) {
                let r = c
                    .post(
                        "/api/leads",
                        json!({"name": format!("Cliente {i}"), "phone": phone(i)}),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let started = Instant::now();
    for p in &mut procs {
        *p = w.spawn();
    }

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill schedule seed {seed}");
    let mut rng = Rng(seed);
    // SIGKILL a worker at random points, then restart it.
    for _ in 0..8 {
        tokio::time::sleep(rng.between_ms(1_500, 4_500)).await;
        let i = (rng.next() % n_workers as u64) as usize;
        w.kill(&mut procs[i]);
        tokio::time::sleep(rng.between_ms(0, 800)).await;
        procs[i] = w.spawn();
    }

    // Let the survivors finish: every run leaves the pending states.
    let deadline = Instant::now() + Duration::from_secs(300);
    let (statuses, finished) = loop {
        let s = runs_by_status(&ceo, &rule_id).await;
        let total: usize = s.values().sum();
        let pending: usize = ["queued", "scheduled", "rescheduled", "paused", "sending"]
            .iter()
            .map(|k| s.get(*k).copied().unwrap_or(0))
            .sum();
        if total == leads && pending == 0 {
            break (s, true);
        }
        if Instant::now() >= deadline {
            break (s, false);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let elapsed = started.elapsed();
    drop(procs);

    // The sandbox's received log: every eligible lead exactly once.
    let sent = sent_by_sandbox(&app).await;
    let mut per_lead: HashMap<String, usize> = HashMap::new();
    for m in &sent {
        assert_eq!(m["template_name"], "hsm_campana", "{m}");
        *per_lead
            .entry(m["to"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    // Never twice, even if the run did not finish in time.
    let twice: Vec<_> = per_lead.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "leads messaged more than once: {twice:?}");
    assert!(
        finished,
        "runs still pending after the deadline ({} messages so far, none twice): {statuses:?}",
        sent.len()
    );
    for i in 0..leads {
        let to = phone(i).trim_start_matches('+').to_owned();
        assert_eq!(per_lead.get(&to), Some(&1), "lead {to} was not messaged");
    }
    assert_eq!(sent.len(), leads);
    let delivered: usize = ["sent", "delivered", "read"]
        .iter()
        .map(|k| statuses.get(*k).copied().unwrap_or(0))
        .sum();
    assert_eq!(delivered, leads, "{statuses:?}");
    eprintln!(
        "{leads} leads messaged exactly once in {:.1}s with {} SIGKILLs, {} worker starts and {} reconciled re-sends ({})",
        elapsed.as_secs_f64(),
        w.kills,
        w.started,
        w.resends(),
        if pg {
            "PostgreSQL, two workers"
        } else {
            "SQLite, one worker"
        }
    );
}
