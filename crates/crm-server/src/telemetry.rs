//! Business metrics: the catalogue of what `/metrics` exports besides the
//! HTTP counters, and the gauges read from the database at each scrape.
//!
//! Counters and histograms are recorded where things happen (the webhook
//! route, the worker, the Graph client, the sync, the send path, the pacing,
//! the Marketing Hub cache and rollups). Gauges that describe the database
//! (backlogs, ages, token expiry) are sampled by [`Telemetry::sample`] when
//! Prometheus scrapes, with a handful of indexed aggregate queries: no
//! background task, and every replica reports the same shared state.
//!
//! Labels never carry personal data or tenant ids: job kinds, Graph endpoint
//! families, outcomes and Meta error codes are all bounded sets.
//! `docs/operations.md` lists every metric (a test checks it does), and the
//! alert rules and the Grafana dashboard under `deploy/` may only name
//! metrics of this catalogue (also checked).

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, Value};

/// What kind of metric a catalogue entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One exported metric.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const fn m(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Metric {
    Metric {
        name,
        kind,
        labels,
        help,
    }
}

use Kind::{Counter, Gauge, Histogram};

/// Every metric `/metrics` exports.
pub const CATALOGUE: &[Metric] = &[
    m(
        "http_requests_total",
        Counter,
        &["method", "status"],
        "HTTP requests answered.",
    ),
    m(
        "http_request_duration_seconds",
        Histogram,
        &["method"],
        "Time to answer an HTTP request.",
    ),
    // Webhooks
    m(
        "crm_webhook_events_received_total",
        Counter,
        &[],
        "Webhook events stored in the inbox (new, not redeliveries).",
    ),
    m(
        "crm_webhook_events_duplicate_total",
        Counter,
        &[],
        "Webhook events Meta delivered again (already in the inbox).",
    ),
    m(
        "crm_webhook_deliveries_refused_total",
        Counter,
        &["reason"],
        "Webhook deliveries refused: invalid_signature, not_configured, store_failed (a signed delivery that cannot be read is stored as a failed event, not refused).",
    ),
    m(
        "crm_webhook_inbox_pending",
        Gauge,
        &[],
        "Inbox events waiting to be processed.",
    ),
    m(
        "crm_webhook_inbox_oldest_pending_age_seconds",
        Gauge,
        &[],
        "Age of the oldest inbox event waiting to be processed (0 when none).",
    ),
    m(
        "crm_webhook_processing_seconds",
        Histogram,
        &["field"],
        "Time to process one inbox event.",
    ),
    m(
        "crm_webhook_events_processed_total",
        Counter,
        &["field", "status"],
        "Inbox events processed, by their resulting status (done, failed, unroutable, ignored, retry).",
    ),
    m(
        "crm_webhook_inbox_failed",
        Gauge,
        &[],
        "Inbox events that failed and wait for a replay.",
    ),
    // Jobs
    m("crm_jobs_due", Gauge, &["kind"], "Jobs queued and due now."),
    m(
        "crm_jobs_running",
        Gauge,
        &["kind"],
        "Jobs claimed by a worker.",
    ),
    m(
        "crm_jobs_oldest_due_age_seconds",
        Gauge,
        &["kind"],
        "How long the oldest due job of a kind has waited (0 when none).",
    ),
    m(
        "crm_job_runs_total",
        Counter,
        &["kind", "outcome"],
        "Job runs by outcome: done, retry, failed, postponed.",
    ),
    m(
        "crm_job_duration_seconds",
        Histogram,
        &["kind"],
        "Time a job handler ran.",
    ),
    m(
        "crm_jobs_dead_lettered_total",
        Counter,
        &["kind"],
        "Jobs that failed for good (permanent error or out of attempts).",
    ),
    m(
        "crm_jobs_failed",
        Gauge,
        &["kind"],
        "Jobs left failed for inspection.",
    ),
    // Meta
    m(
        "crm_meta_graph_calls_total",
        Counter,
        &["family", "outcome"],
        "Graph API calls by endpoint family and outcome (ok or the error kind).",
    ),
    m(
        "crm_meta_graph_throttles_total",
        Counter,
        &["family"],
        "Graph API calls Meta throttled.",
    ),
    m(
        "crm_meta_graph_throttle_wait_seconds",
        Histogram,
        &["family"],
        "The wait Meta advertised with a throttle.",
    ),
    m(
        "crm_meta_token_days_to_expiry",
        Gauge,
        &[],
        "Days until the first connected Meta token expires (3650 when none expires).",
    ),
    m(
        "crm_meta_connections_invalid",
        Gauge,
        &[],
        "Meta connections whose token is invalid, expired or missing permissions.",
    ),
    // Sync
    m(
        "crm_sync_runs_total",
        Counter,
        &["outcome"],
        "Ad account syncs by outcome: ok, retry, error.",
    ),
    m(
        "crm_sync_accounts_failing",
        Gauge,
        &[],
        "Selected ad accounts whose last sync failed.",
    ),
    m(
        "crm_sync_failing_seconds",
        Gauge,
        &[],
        "Longest time a failing ad account has gone without a successful sync (0 when none fails).",
    ),
    m(
        "crm_sync_oldest_success_age_seconds",
        Gauge,
        &[],
        "Age of the oldest last successful sync over the selected ad accounts.",
    ),
    // Messaging
    m(
        "crm_wa_sends_total",
        Counter,
        &["outcome", "code"],
        "WhatsApp sends by outcome (sent, failed, retry, unknown, held, token_invalid) and Meta error code.",
    ),
    m(
        "crm_wa_messages_sending",
        Gauge,
        &[],
        "Outgoing messages whose outcome is not known yet (status sending).",
    ),
    m(
        "crm_wa_messages_held",
        Gauge,
        &[],
        "Outgoing messages held for review: Meta neither answered nor reported on them (status held).",
    ),
    m(
        "crm_wa_pacing_wait_seconds",
        Histogram,
        &[],
        "Time a send waited for its per-number pacing slot.",
    ),
    m(
        "crm_wa_windows_expiring_unanswered",
        Gauge,
        &[],
        "Chats whose 24-hour window closes within the hour with the customer's last message unanswered.",
    ),
    // Marketing Hub
    m(
        "crm_marketing_cache_requests_total",
        Counter,
        &["result"],
        "Marketing Hub views by read-cache result: hit or miss.",
    ),
    m(
        "crm_rollup_refresh_seconds",
        Histogram,
        &[],
        "Time to refresh the Marketing Hub rollups of changed days.",
    ),
    m(
        "crm_rollup_dirty_days",
        Gauge,
        &[],
        "Days marked for a Marketing Hub rollup refresh.",
    ),
    // Process
    m(
        "crm_alloc_allocated_bytes",
        Gauge,
        &[],
        "Bytes in live heap allocations (jemalloc).",
    ),
    m(
        "crm_alloc_active_bytes",
        Gauge,
        &[],
        "Bytes in pages the allocator has handed out (jemalloc).",
    ),
    m(
        "crm_alloc_resident_bytes",
        Gauge,
        &[],
        "Physical memory the allocator maps (jemalloc).",
    ),
    m(
        "crm_db_pool_connections",
        Gauge,
        &["state"],
        "Database pool connections: in_use or idle.",
    ),
];

/// Registers the help texts with the recorder.
pub fn describe() {
    for m in CATALOGUE {
        match m.kind {
            Counter => metrics::describe_counter!(m.name, m.help),
            Gauge => metrics::describe_gauge!(m.name, m.help),
            Histogram => metrics::describe_histogram!(m.name, m.help),
        }
    }
}

/// Scrape-time gauges. Remembers the job kinds it has reported so that a
/// kind whose queue emptied goes back to 0 instead of keeping its last value.
#[derive(Debug, Default)]
pub struct Telemetry {
    kinds: Mutex<BTreeSet<String>>,
}

fn age_secs(now: DateTime<Utc>, at: Option<DateTime<Utc>>) -> f64 {
    at.map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0)
}

async fn rows(
    db: &DatabaseConnection,
    sql_pg: &str,
    values: Vec<Value>,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    let backend = db.get_database_backend();
    let sql = if crm_db::is_postgres(db) {
        sql_pg.to_owned()
    } else {
        // The same statement with SQLite's placeholders.
        let mut s = sql_pg.to_owned();
        for i in (1..=values.len()).rev() {
            s = s.replace(&format!("${i}"), &format!("?{i}"));
        }
        s
    };
    db.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
}

fn count(r: &sea_orm::QueryResult, col: &str) -> f64 {
    r.try_get::<i64>("", col).map(|v| v as f64).unwrap_or(0.0)
}

fn time(r: &sea_orm::QueryResult, col: &str) -> Option<DateTime<Utc>> {
    r.try_get::<Option<DateTime<Utc>>>("", col).ok().flatten()
}

impl Telemetry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the database-backed gauges and sets them.
    pub async fn sample(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let now = Utc::now();
        // Webhook inbox.
        let r = rows(
            db,
            "SELECT COUNT(*) AS n, MIN(received_at) AS oldest FROM webhook_inbox WHERE status = 'pending'",
            vec![],
        )
        .await?;
        if let Some(r) = r.first() {
            metrics::gauge!("crm_webhook_inbox_pending").set(count(r, "n"));
            metrics::gauge!("crm_webhook_inbox_oldest_pending_age_seconds")
                .set(age_secs(now, time(r, "oldest")));
        }
        let r = rows(
            db,
            "SELECT COUNT(*) AS n FROM webhook_inbox WHERE status = 'failed'",
            vec![],
        )
        .await?;
        if let Some(r) = r.first() {
            metrics::gauge!("crm_webhook_inbox_failed").set(count(r, "n"));
        }

        // Jobs per kind.
        let r = rows(
            db,
            "SELECT kind, status, COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs \
             WHERE (status = 'queued' AND run_at <= $1) OR status IN ('running', 'failed') \
             GROUP BY kind, status",
            vec![now.into()],
        )
        .await?;
        let mut seen = BTreeSet::new();
        let mut due = std::collections::BTreeMap::<String, (f64, f64)>::new();
        let mut running = std::collections::BTreeMap::<String, f64>::new();
        let mut failed = std::collections::BTreeMap::<String, f64>::new();
        for row in &r {
            let kind: String = row.try_get("", "kind").unwrap_or_default();
            let status: String = row.try_get("", "status").unwrap_or_default();
            seen.insert(kind.clone());
            match status.as_str() {
                "queued" => {
                    due.insert(kind, (count(row, "n"), age_secs(now, time(row, "oldest"))));
                }
                "running" => {
                    running.insert(kind, count(row, "n"));
                }
                _ => {
                    failed.insert(kind, count(row, "n"));
                }
            }
        }
        let all: BTreeSet<String> = match self.kinds.lock() {
            Ok(mut k) => {
                k.extend(seen);
                k.clone()
            }
            Err(_) => seen,
        };
        for kind in all {
            let (n, age) = due.get(&kind).copied().unwrap_or((0.0, 0.0));
            metrics::gauge!("crm_jobs_due", "kind" => kind.clone()).set(n);
            metrics::gauge!("crm_jobs_oldest_due_age_seconds", "kind" => kind.clone()).set(age);
            metrics::gauge!("crm_jobs_running", "kind" => kind.clone())
                .set(running.get(&kind).copied().unwrap_or(0.0));
            metrics::gauge!("crm_jobs_failed", "kind" => kind.clone())
                .set(failed.get(&kind).copied().unwrap_or(0.0));
        }

        // Meta connections.
        let r = rows(
            db,
            "SELECT MIN(CASE WHEN status IN ('ok', 'expiring') THEN expires_at END) AS first_expiry, \
             COUNT(CASE WHEN status IN ('invalid', 'expired', 'missing_scopes') THEN 1 END) AS bad \
             FROM meta_connections WHERE status <> 'disconnected'",
            vec![],
        )
        .await?;
        if let Some(r) = r.first() {
            let days = time(r, "first_expiry")
                .map(|t| (t - now).num_seconds() as f64 / 86_400.0)
                .unwrap_or(3650.0);
            metrics::gauge!("crm_meta_token_days_to_expiry").set(days);
            metrics::gauge!("crm_meta_connections_invalid").set(count(r, "bad"));
        }

        // Sync.
        let r = rows(
            db,
            "SELECT COUNT(CASE WHEN status = 'error' THEN 1 END) AS failing, \
             MIN(CASE WHEN status = 'error' THEN COALESCE(last_success_at, last_started_at, updated_at) END) AS failing_since, \
             MIN(last_success_at) AS oldest_success FROM meta_sync_state",
            vec![],
        )
        .await?;
        if let Some(r) = r.first() {
            metrics::gauge!("crm_sync_accounts_failing").set(count(r, "failing"));
            metrics::gauge!("crm_sync_failing_seconds")
                .set(age_secs(now, time(r, "failing_since")));
            metrics::gauge!("crm_sync_oldest_success_age_seconds")
                .set(age_secs(now, time(r, "oldest_success")));
        }

        // Messaging.
        let r = rows(
            db,
            "SELECT COUNT(*) AS n FROM wa_messages WHERE status = 'sending'",
            vec![],
        )
        .await?;
        if let Some(r) = r.first() {
            metrics::gauge!("crm_wa_messages_sending").set(count(r, "n"));
        }
        let r = rows(
            db,
            "SELECT COUNT(*) AS n FROM wa_messages WHERE status = 'held'",
            vec![],
        )
        .await?;
        if let Some(r) = r.first() {
            metrics::gauge!("crm_wa_messages_held").set(count(r, "n"));
        }
        let day_ago = now - chrono::Duration::hours(24);
        let hour_left = now - chrono::Duration::hours(23);
        let r = rows(
            db,
            "SELECT COUNT(*) AS n FROM (SELECT tenant_id, lead_id, MAX(created_at) AS last_in \
             FROM wa_messages WHERE direction = 'in' AND created_at > $1 GROUP BY tenant_id, lead_id) i \
             WHERE i.last_in <= $2 AND NOT EXISTS (SELECT 1 FROM wa_messages o \
             WHERE o.tenant_id = i.tenant_id AND o.lead_id = i.lead_id AND o.direction = 'out' \
             AND o.created_at > i.last_in)",
            vec![day_ago.into(), hour_left.into()],
        )
        .await?;
        if let Some(r) = r.first() {
            metrics::gauge!("crm_wa_windows_expiring_unanswered").set(count(r, "n"));
        }

        // Marketing Hub.
        let r = rows(
            db,
            "SELECT COUNT(*) AS n FROM marketing_rollup_dirty",
            vec![],
        )
        .await?;
        if let Some(r) = r.first() {
            metrics::gauge!("crm_rollup_dirty_days").set(count(r, "n"));
        }

        // Process.
        if let Some(a) = crate::alloc::stats() {
            metrics::gauge!("crm_alloc_allocated_bytes").set(a.allocated as f64);
            metrics::gauge!("crm_alloc_active_bytes").set(a.active as f64);
            metrics::gauge!("crm_alloc_resident_bytes").set(a.resident as f64);
        }
        let (size, idle) = pool_figures(db);
        metrics::gauge!("crm_db_pool_connections", "state" => "in_use")
            .set(f64::from(size.saturating_sub(idle)));
        metrics::gauge!("crm_db_pool_connections", "state" => "idle").set(f64::from(idle));
        Ok(())
    }
}

fn pool_figures(db: &DatabaseConnection) -> (u32, u32) {
    if crm_db::is_postgres(db) {
        let p = db.get_postgres_connection_pool();
        (p.size(), u32::try_from(p.num_idle()).unwrap_or(u32::MAX))
    } else {
        let p = db.get_sqlite_connection_pool();
        (p.size(), u32::try_from(p.num_idle()).unwrap_or(u32::MAX))
    }
}
