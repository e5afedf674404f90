//! The shared Meta webhook inbox (Marketing Hub and HSM Automation).
//!
//! Flow: the HTTP layer verifies `X-Hub-Signature-256` over the raw body, then
//! [`Ingester::ingest`] splits the delivery into one inbox row per logical
//! event (deduplicated by Meta's own ids) and stores the rows with one
//! processing job per new row, in one transaction shared with the deliveries
//! that arrived meanwhile; the HTTP layer answers 200 after the commit. The worker runs
//! [`process`]: it routes the row to a tenant ONLY by Page id, WABA id or
//! phone number id (through the Meta connection service) and calls the handler
//! registered for the change's `field`.
//!
//! # Registering a handler (for other features)
//!
//! ```ignore
//! let mut hooks = WebhookRegistry::default();
//! hooks.register("messages", Arc::new(|cx: HandlerCx, ev: InboxEvent| Box::pin(async move {
//!     // ev.tenant_id is the routed tenant; ev.value is the change value
//!     Ok(())
//! })));
//! ```
//!
//! A handler must be idempotent (a replay or a retried job runs it again).
//! Return [`HandlerError::Retry`] for transient failures (the job retries with
//! backoff; the row stays `pending`), [`HandlerError::Fail`] for permanent ones
//! (the row becomes `failed`, visible and replayable).
//!
//! Statuses: `pending` (queued or retrying), `done`, `failed`, `unroutable`
//! (no tenant selected that Page/WABA/number), `ignored` (no handler for the
//! field).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use crm_db::entity::webhook_inbox;
use crm_db::jobs::{self, NewJob};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::meta_connection::{self, MetaEnv};
use super::page::{self, Cursor, Page};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

/// Job kind that processes one inbox row.
pub const PROCESS_JOB: &str = "webhooks.process";

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const UNROUTABLE: &str = "unroutable";
pub const IGNORED: &str = "ignored";

/// One routed event as a handler sees it.
#[derive(Debug, Clone)]
pub struct InboxEvent {
    pub inbox_id: Uuid,
    pub tenant_id: Uuid,
    /// `page` or `whatsapp_business_account`.
    pub object: String,
    pub field: String,
    /// The entry id (Page id or WABA id).
    pub entry_id: String,
    /// The entry's `time` (unix seconds), when Meta sent one.
    pub entry_time: Option<i64>,
    /// The change's `value`. For `messages`, each inbound message and each
    /// status arrives as its own event whose `messages`/`statuses` array has
    /// exactly one element (metadata and contacts are kept).
    pub value: Value,
    pub received_at: DateTime<Utc>,
}

/// What handlers get besides the event.
#[derive(Clone)]
pub struct HandlerCx {
    pub db: DatabaseConnection,
    pub env: MetaEnv,
}

#[derive(Debug)]
pub enum HandlerError {
    /// Transient: retry later (with backoff, or after the given seconds).
    Retry(String, Option<u64>),
    /// Permanent: mark the row failed (replayable).
    Fail(String),
}

impl From<CoreError> for HandlerError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Db(e) => HandlerError::Retry(format!("database: {e}"), None),
            other => HandlerError::Fail(other.to_string()),
        }
    }
}

impl From<sea_orm::DbErr> for HandlerError {
    fn from(e: sea_orm::DbErr) -> Self {
        HandlerError::Retry(format!("database: {e}"), None)
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
pub type FieldHandler = Arc<dyn Fn(HandlerCx, InboxEvent) -> HandlerFuture + Send + Sync>;

/// Handlers per webhook `field`.
#[derive(Clone, Default)]
pub struct WebhookRegistry {
    handlers: HashMap<String, FieldHandler>,
}

impl WebhookRegistry {
    /// Registers (or replaces) the handler of a field.
    pub fn register(&mut self, field: &str, handler: FieldHandler) -> &mut Self {
        self.handlers.insert(field.to_owned(), handler);
        self
    }

    pub fn get(&self, field: &str) -> Option<&FieldHandler> {
        self.handlers.get(field)
    }

    pub fn fields(&self) -> Vec<String> {
        let mut f: Vec<String> = self.handlers.keys().cloned().collect();
        f.sort();
        f
    }
}

// ---------------------------------------------------------------------------
// Ingest

/// One logical event split out of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitEvent {
    pub object: String,
    pub field: String,
    pub entry_id: String,
    pub entry_time: Option<i64>,
    pub routing_kind: Option<&'static str>,
    pub routing_id: Option<String>,
    pub dedupe_key: String,
    pub value: Value,
}

fn s(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(x) if !x.is_empty() => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn hash_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

/// The field of an inbox row holding a part of a signed delivery that could
/// not be read (stored as `failed`, so it waits in the inbox for a replay
/// instead of being lost with its valid siblings).
pub const MALFORMED: &str = "_malformed";

/// A part of a delivery that cannot be read, kept whole with the reason.
pub fn malformed_event(raw: Value, why: &str) -> SplitEvent {
    let canonical = raw.to_string();
    SplitEvent {
        object: String::new(),
        field: MALFORMED.to_owned(),
        entry_id: String::new(),
        entry_time: None,
        routing_kind: None,
        routing_id: None,
        dedupe_key: format!("{MALFORMED}:{}", hash_of(&[&canonical])),
        value: json!({"error": why, "raw": raw}),
    }
}

/// Splits a webhook body into events with their dedupe keys and routing keys.
/// A body that is not a Meta webhook envelope, an entry without an id and a
/// change without a field each become one [`MALFORMED`] event; the readable
/// events beside them are kept.
pub fn split(body: &Value) -> Vec<SplitEvent> {
    let Some(object) = body
        .get("object")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return vec![malformed_event(body.clone(), "the body has no object")];
    };
    let Some(entries) = body.get("entry").and_then(Value::as_array) else {
        return vec![malformed_event(body.clone(), "the body has no entry list")];
    };
    let mut out = vec![];
    for entry in entries {
        let Some(entry_id) = s(entry, "id") else {
            out.push(malformed_event(entry.clone(), "an entry has no id"));
            continue;
        };
        let entry_time = entry.get("time").and_then(Value::as_i64);
        let Some(changes) = entry.get("changes").and_then(Value::as_array) else {
            continue;
        };
        for ch in changes {
            let Some(field) = ch.get("field").and_then(Value::as_str).map(str::to_owned) else {
                out.push(malformed_event(ch.clone(), "a change has no field"));
                continue;
            };
            let value = ch.get("value").cloned().unwrap_or(Value::Null);
            let base_route: (Option<&'static str>, Option<String>) = match object.as_str() {
                "page" => (Some("page"), Some(entry_id.clone())),
                "whatsapp_business_account" => {
                    match value
                        .pointer("/metadata/phone_number_id")
                        .and_then(Value::as_str)
                    {
                        Some(p) if !p.is_empty() => (Some("phone_number"), Some(p.to_owned())),
                        _ => (Some("waba"), Some(entry_id.clone())),
                    }
                }
                _ => (None, None),
            };
            let mk = |dedupe_key: String, value: Value| SplitEvent {
                object: object.clone(),
                field: field.clone(),
                entry_id: entry_id.clone(),
                entry_time,
                routing_kind: base_route.0,
                routing_id: base_route.1.clone(),
                dedupe_key,
                value,
            };
            let canonical = value.to_string();
            let time_s = entry_time.map(|t| t.to_string()).unwrap_or_default();
            match field.as_str() {
                "leadgen" => {
                    let key = match s(&value, "leadgen_id") {
                        Some(id) => format!("leadgen:{id}"),
                        None => format!("leadgen:h:{}", hash_of(&[&entry_id, &canonical])),
                    };
                    out.push(mk(key, value));
                }
                "messages" => {
                    let mut any = false;
                    let shell = |k: &str, item: &Value| {
                        let mut v = value.clone();
                        if let Some(o) = v.as_object_mut() {
                            o.remove("messages");
                            o.remove("statuses");
                            o.insert(k.to_owned(), json!([item]));
                        }
                        v
                    };
                    for m in value
                        .get("messages")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        any = true;
                        let key = match s(m, "id") {
                            Some(id) => format!("wa_msg:{id}"),
                            None => format!("wa_msg:h:{}", hash_of(&[&entry_id, &m.to_string()])),
                        };
                        out.push(mk(key, shell("messages", m)));
                    }
                    for st in value
                        .get("statuses")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        any = true;
                        let key = match (s(st, "id"), s(st, "status")) {
                            (Some(id), Some(status)) => format!("wa_status:{id}:{status}"),
                            _ => format!("wa_status:h:{}", hash_of(&[&entry_id, &st.to_string()])),
                        };
                        out.push(mk(key, shell("statuses", st)));
                    }
                    if !any {
                        out.push(mk(
                            format!("messages:h:{}", hash_of(&[&entry_id, &time_s, &canonical])),
                            value.clone(),
                        ));
                    }
                }
                "message_template_status_update" => {
                    let key = format!(
                        "tpl_status:{}:{}:{}",
                        s(&value, "message_template_id").unwrap_or_default(),
                        s(&value, "event").unwrap_or_default(),
                        if time_s.is_empty() {
                            hash_of(&[&canonical])
                        } else {
                            time_s.clone()
                        }
                    );
                    out.push(mk(key, value));
                }
                "message_template_quality_update" => {
                    let key = format!(
                        "tpl_quality:{}:{}:{}",
                        s(&value, "message_template_id").unwrap_or_default(),
                        s(&value, "new_quality_score").unwrap_or_default(),
                        if time_s.is_empty() {
                            hash_of(&[&canonical])
                        } else {
                            time_s.clone()
                        }
                    );
                    out.push(mk(key, value));
                }
                "template_category_update" => {
                    let key = format!(
                        "tpl_category:{}:{}:{}",
                        s(&value, "message_template_id").unwrap_or_default(),
                        s(&value, "new_category").unwrap_or_default(),
                        if time_s.is_empty() {
                            hash_of(&[&canonical])
                        } else {
                            time_s.clone()
                        }
                    );
                    out.push(mk(key, value));
                }
                _ => {
                    out.push(mk(
                        format!("{field}:h:{}", hash_of(&[&entry_id, &time_s, &canonical])),
                        value,
                    ));
                }
            }
        }
    }
    out
}

/// Result of storing one delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ingested {
    /// New events stored (and queued for processing).
    pub stored: usize,
    /// Events already in the inbox (redeliveries).
    pub duplicates: usize,
}

/// Most events written in one transaction by the [`Ingester`].
const BATCH_EVENTS: usize = 2_000;
/// Inbox rows per INSERT statement (SQLite allows 32,766 bound values).
const ROWS_PER_STATEMENT: usize = 500;

struct Delivery {
    events: Vec<SplitEvent>,
    reply: tokio::sync::oneshot::Sender<Result<Ingested, String>>,
}

/// Groups concurrent webhook deliveries into one write transaction.
///
/// Each request hands its split events to one writer task and waits for the
/// commit before it answers Meta, so an acknowledged event is always stored.
/// The writer takes whatever deliveries queued up while the previous
/// transaction ran (up to [`BATCH_EVENTS`] events): one delivery when the
/// server is quiet, hundreds under a burst, with no added waiting. On SQLite
/// it takes the process's writer queue ([`crm_db::write_gate`]) like every
/// hot writer.
#[derive(Clone)]
pub struct Ingester {
    tx: tokio::sync::mpsc::Sender<Delivery>,
}

impl Ingester {
    /// Starts the writer task (it ends when every `Ingester` clone is dropped).
    pub fn start(db: DatabaseConnection) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Delivery>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut n = first.events.len();
                let mut batch = vec![first];
                while n < BATCH_EVENTS {
                    match rx.try_recv() {
                        Ok(d) => {
                            n += d.events.len();
                            batch.push(d);
                        }
                        Err(_) => break,
                    }
                }
                let (events, replies): (Vec<_>, Vec<_>) =
                    batch.into_iter().map(|d| (d.events, d.reply)).unzip();
                let res = {
                    let _gate = crm_db::write_gate(&db).await;
                    store(&db, &events).await
                };
                match res {
                    Ok(counts) => {
                        for (reply, c) in replies.into_iter().zip(counts) {
                            let _ = reply.send(Ok(c));
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        Ingester { tx }
    }

    /// Stores a verified delivery; returns once it is committed.
    pub async fn ingest(&self, body: &Value) -> Result<Ingested, CoreError> {
        self.ingest_events(split(body)).await
    }

    /// Stores a signed delivery whose body is not even JSON, as one failed
    /// [`MALFORMED`] event (the text kept, for a person to look at).
    pub async fn ingest_unreadable(&self, body: &[u8]) -> Result<Ingested, CoreError> {
        let text: String = String::from_utf8_lossy(body)
            .chars()
            .take(1_000_000)
            .collect();
        self.ingest_events(vec![malformed_event(
            Value::String(text),
            "the body is not JSON",
        )])
        .await
    }

    async fn ingest_events(&self, events: Vec<SplitEvent>) -> Result<Ingested, CoreError> {
        if events.is_empty() {
            return Ok(Ingested {
                stored: 0,
                duplicates: 0,
            });
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Delivery { events, reply })
            .await
            .map_err(|_| CoreError::Internal("the webhook writer stopped".into()))?;
        rx.await
            .map_err(|_| CoreError::Internal("the webhook writer stopped".into()))?
            .map_err(|e| CoreError::Db(sea_orm::DbErr::Custom(e)))
    }
}

/// Stores several deliveries' events in one transaction: the new rows
/// (a redelivered event keeps its first row) and one processing job per new
/// row. Returns the counts of each delivery, in order.
async fn store(
    db: &DatabaseConnection,
    deliveries: &[Vec<SplitEvent>],
) -> Result<Vec<Ingested>, CoreError> {
    let now = Utc::now();
    let mut rows = vec![];
    for events in deliveries {
        for ev in events {
            let malformed = ev.field == MALFORMED;
            rows.push(webhook_inbox::ActiveModel {
                id: Set(crm_db::new_id()),
                tenant_id: Set(None),
                object: Set(ev.object.chars().take(48).collect()),
                field: Set(ev.field.chars().take(64).collect()),
                entry_id: Set(ev.entry_id.clone()),
                routing_kind: Set(ev.routing_kind.map(str::to_owned)),
                routing_id: Set(ev.routing_id.clone()),
                dedupe_key: Set(ev.dedupe_key.clone()),
                payload: Set(json!({"entry_time": ev.entry_time, "value": ev.value})),
                status: Set(if malformed { FAILED } else { PENDING }.to_owned()),
                attempts: Set(0),
                last_error: Set(malformed.then(|| malformed_reason(&ev.value))),
                received_at: Set(now),
                processed_at: Set(None),
                updated_at: Set(now),
            });
        }
    }
    let ids: Vec<Uuid> = rows
        .iter()
        .filter_map(|r| match &r.id {
            sea_orm::ActiveValue::Set(id) => Some(*id),
            _ => None,
        })
        .collect();
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        webhook_inbox::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(webhook_inbox::Column::DedupeKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    // The rows that carry one of our new ids are the events stored now; the
    // others (a redelivery, or the same event twice in this batch) kept an
    // earlier row.
    let mut stored_ids = std::collections::HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let found: Vec<Uuid> = webhook_inbox::Entity::find()
            .select_only()
            .column(webhook_inbox::Column::Id)
            .filter(webhook_inbox::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(&txn)
            .await?;
        stored_ids.extend(found);
    }
    let mut new_jobs = Vec::with_capacity(stored_ids.len());
    let mut refs: Vec<(Uuid, Uuid)> = Vec::new();
    let mut counts = Vec::with_capacity(deliveries.len());
    let mut next = ids.iter();
    for events in deliveries {
        let mut c = Ingested {
            stored: 0,
            duplicates: 0,
        };
        for ev in events {
            match next.next() {
                Some(id) if stored_ids.contains(id) => {
                    c.stored += 1;
                    if ev.field == MALFORMED {
                        // Kept as failed: a replay is a person's decision.
                        continue;
                    }
                    new_jobs.push(process_job(*id));
                    for message_id in callback_message_ids(&ev.value) {
                        refs.push((*id, message_id));
                    }
                }
                _ => c.duplicates += 1,
            }
        }
        counts.push(c);
    }
    for chunk in new_jobs.chunks(ROWS_PER_STATEMENT) {
        jobs::enqueue_many(&txn, chunk.to_vec()).await?;
    }
    refs.sort_unstable();
    refs.dedup();
    for chunk in refs.chunks(ROWS_PER_STATEMENT) {
        crm_db::message_refs::insert(&txn, chunk).await?;
    }
    txn.commit().await?;
    Ok(counts)
}

fn malformed_reason(value: &Value) -> String {
    format!(
        "the delivery could not be read: {}",
        value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown reason")
    )
}

/// Our message ids named by a webhook event: every
/// `biz_opaque_callback_data` of the form `m:<uuid>` (what a send puts there)
/// anywhere in it.
pub fn callback_message_ids(value: &Value) -> Vec<Uuid> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    if k == "biz_opaque_callback_data"
                        && let Some(id) = child
                            .as_str()
                            .and_then(|d| d.strip_prefix("m:"))
                            .and_then(|d| Uuid::parse_str(d).ok())
                    {
                        out.push(id);
                    } else {
                        stack.push(child);
                    }
                }
            }
            Value::Array(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    out
}

fn process_job(id: Uuid) -> NewJob {
    let mut job = NewJob::now(PROCESS_JOB, json!({"inbox_id": id}));
    job.max_attempts = 10;
    job
}

async fn enqueue_process(conn: &impl ConnectionTrait, id: Uuid) -> Result<(), sea_orm::DbErr> {
    jobs::enqueue(conn, process_job(id)).await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Processing

/// What the worker should do after [`process`].
#[derive(Debug, PartialEq)]
pub enum ProcessOutcome {
    Finished,
    Retry(String, Option<u64>),
}

async fn route(
    db: &DatabaseConnection,
    kind: Option<&str>,
    id: Option<&str>,
) -> Result<Option<Uuid>, sea_orm::DbErr> {
    let Some(id) = id else { return Ok(None) };
    match kind {
        Some("page") => meta_connection::tenant_for_page(db, id).await,
        Some("waba") => meta_connection::tenant_for_waba(db, id).await,
        Some("phone_number") => meta_connection::tenant_for_phone_number_id(db, id).await,
        _ => Ok(None),
    }
}

async fn set_status(
    db: &DatabaseConnection,
    id: Uuid,
    tenant: Option<Uuid>,
    status: &str,
    error: Option<String>,
    attempts: i32,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let finished = status != PENDING;
    let _gate = crm_db::write_gate(db).await;
    webhook_inbox::Entity::update(webhook_inbox::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant),
        status: Set(status.to_owned()),
        last_error: Set(error),
        attempts: Set(attempts),
        processed_at: Set(finished.then_some(now)),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Processes one inbox row (idempotent: a `done` row is left alone).
pub async fn process(
    cx: &HandlerCx,
    registry: &WebhookRegistry,
    inbox_id: Uuid,
) -> Result<ProcessOutcome, sea_orm::DbErr> {
    let started = std::time::Instant::now();
    let (outcome, observed) = process_row(cx, registry, inbox_id).await?;
    if let Some((field, status)) = observed {
        ::metrics::histogram!("crm_webhook_processing_seconds", "field" => field.clone())
            .record(started.elapsed().as_secs_f64());
        ::metrics::counter!("crm_webhook_events_processed_total",
            "field" => field, "status" => status)
        .increment(1);
    }
    Ok(outcome)
}

/// The field and resulting status of a processed row, for the metrics.
type Observed = Option<(String, &'static str)>;

async fn process_row(
    cx: &HandlerCx,
    registry: &WebhookRegistry,
    inbox_id: Uuid,
) -> Result<(ProcessOutcome, Observed), sea_orm::DbErr> {
    let db = &cx.db;
    let Some(row) = webhook_inbox::Entity::find_by_id(inbox_id).one(db).await? else {
        return Ok((ProcessOutcome::Finished, None));
    };
    if row.status == DONE {
        return Ok((ProcessOutcome::Finished, None));
    }
    let seen = |status: &'static str| Some((row.field.clone(), status));
    let attempts = row.attempts + 1;
    if row.field == MALFORMED {
        // Replayed, but still unreadable: it stays failed.
        let why = row
            .payload
            .get("value")
            .map(malformed_reason)
            .unwrap_or_default();
        set_status(db, row.id, None, FAILED, Some(why), attempts).await?;
        return Ok((ProcessOutcome::Finished, seen(FAILED)));
    }
    let Some(tenant) = route(db, row.routing_kind.as_deref(), row.routing_id.as_deref()).await?
    else {
        let msg = format!(
            "no workspace selected {} {}",
            row.routing_kind.as_deref().unwrap_or("object"),
            row.routing_id.as_deref().unwrap_or("?")
        );
        set_status(db, row.id, None, UNROUTABLE, Some(msg), attempts).await?;
        return Ok((ProcessOutcome::Finished, seen(UNROUTABLE)));
    };
    let Some(handler) = registry.get(&row.field).cloned() else {
        let msg = format!("no handler is registered for field {}", row.field);
        set_status(db, row.id, Some(tenant), IGNORED, Some(msg), attempts).await?;
        return Ok((ProcessOutcome::Finished, seen(IGNORED)));
    };
    let ev = InboxEvent {
        inbox_id: row.id,
        tenant_id: tenant,
        object: row.object.clone(),
        field: row.field.clone(),
        entry_id: row.entry_id.clone(),
        entry_time: row.payload.get("entry_time").and_then(Value::as_i64),
        value: row.payload.get("value").cloned().unwrap_or(Value::Null),
        received_at: row.received_at,
    };
    match handler(cx.clone(), ev).await {
        Ok(()) => {
            set_status(db, row.id, Some(tenant), DONE, None, attempts).await?;
            Ok((ProcessOutcome::Finished, seen(DONE)))
        }
        Err(HandlerError::Retry(msg, after)) => {
            if attempts >= 10 {
                set_status(db, row.id, Some(tenant), FAILED, Some(msg), attempts).await?;
                return Ok((ProcessOutcome::Finished, seen(FAILED)));
            }
            set_status(
                db,
                row.id,
                Some(tenant),
                PENDING,
                Some(msg.clone()),
                attempts,
            )
            .await?;
            Ok((ProcessOutcome::Retry(msg, after), seen("retry")))
        }
        Err(HandlerError::Fail(msg)) => {
            set_status(db, row.id, Some(tenant), FAILED, Some(msg), attempts).await?;
            Ok((ProcessOutcome::Finished, seen(FAILED)))
        }
    }
}

/// Deletes up to `limit` processed inbox events (done or ignored) received
/// before `before`. Failed and unroutable events stay until replayed.
pub async fn prune(
    db: &DatabaseConnection,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, sea_orm::DbErr> {
    let ids: Vec<Uuid> = webhook_inbox::Entity::find()
        .select_only()
        .column(webhook_inbox::Column::Id)
        .filter(webhook_inbox::Column::Status.is_in([DONE, IGNORED]))
        .filter(webhook_inbox::Column::ReceivedAt.lt(before))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let mut gone = 0;
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let _gate = crm_db::write_gate(db).await;
        gone += webhook_inbox::Entity::delete_many()
            .filter(webhook_inbox::Column::Id.is_in(chunk.iter().copied()))
            .filter(webhook_inbox::Column::Status.is_in([DONE, IGNORED]))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(gone)
}

// ---------------------------------------------------------------------------
// Listing and replay

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// pending, done, failed, unroutable or ignored.
    pub status: Option<String>,
    pub field: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<200, _>"
    )]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxItem {
    pub id: Uuid,
    pub object: String,
    pub field: String,
    pub entry_id: String,
    pub routing_kind: Option<String>,
    pub routing_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    /// The stored change (`entry_time`, `value`).
    pub payload: Value,
}

impl From<webhook_inbox::Model> for InboxItem {
    fn from(m: webhook_inbox::Model) -> Self {
        Self {
            id: m.id,
            object: m.object,
            field: m.field,
            entry_id: m.entry_id,
            routing_kind: m.routing_kind,
            routing_id: m.routing_id,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            received_at: m.received_at,
            processed_at: m.processed_at,
            payload: m.payload,
        }
    }
}

const STATUSES: [&str; 5] = [PENDING, DONE, FAILED, UNROUTABLE, IGNORED];

fn check_status(s: &str) -> Result<(), CoreError> {
    if STATUSES.contains(&s) {
        Ok(())
    } else {
        Err(CoreError::validation(
            "invalid_status",
            format!("status must be one of {}", STATUSES.join(", ")),
        ))
    }
}

/// Which rows a caller may see: the tenant's own routed events, plus
/// unroutable events whose routing id is one of the tenant's selected assets
/// (they arrived before the asset was selected; a replay routes them now).
/// Unroutable events of assets no tenant selected are never shown through
/// the API, since they may carry another business's data; operators see them
/// with `crm webhooks replay --status unroutable`.
async fn visible(db: &impl ConnectionTrait, ctx: &TenantCtx) -> Result<Condition, CoreError> {
    let assets: Vec<String> = crm_db::entity::meta_asset::Entity::find()
        .filter(crm_db::entity::meta_asset::Column::TenantId.eq(ctx.tenant_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.external_id)
        .collect();
    let mut c = Condition::any().add(webhook_inbox::Column::TenantId.eq(ctx.tenant_id));
    if !assets.is_empty() {
        c = c.add(
            Condition::all()
                .add(webhook_inbox::Column::TenantId.is_null())
                .add(webhook_inbox::Column::RoutingId.is_in(assets)),
        );
    }
    Ok(c)
}

/// `GET /api/webhooks/inbox` (ceo/admin).
pub async fn list(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &InboxQuery,
) -> Result<Page<InboxItem>, CoreError> {
    ctx.require(Permission::WebhooksManage)?;
    let limit = page::limit(q.limit, 50, 200);
    let mut cond = Condition::all().add(visible(db, ctx).await?);
    if let Some(st) = q.status.as_deref() {
        check_status(st)?;
        cond = cond.add(webhook_inbox::Column::Status.eq(st));
    }
    if let Some(f) = q.field.as_deref() {
        cond = cond.add(webhook_inbox::Column::Field.eq(f));
    }
    if let Some(c) = &q.cursor {
        cond = cond.add(webhook_inbox::Column::Id.lt(Cursor::decode(c)?.id));
    }
    let mut rows = webhook_inbox::Entity::find()
        .filter(cond)
        .order_by_desc(webhook_inbox::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor { k: None, id: r.id }.encode())
    } else {
        None
    };
    crm_db::audit::record(
        db,
        &ctx.actor(),
        "webhooks.inbox_read",
        "webhook_inbox",
        None,
        json!({"returned": rows.len(), "status": q.status}),
    )
    .await?;
    Ok(Page {
        items: rows.into_iter().map(InboxItem::from).collect(),
        next_cursor,
    })
}

/// Puts rows back to `pending` and queues their processing again. Returns
/// how many were queued. Used by `POST /api/webhooks/inbox/{id}/replay` (one
/// row of the caller's tenant or an unroutable row) and by
/// `crm webhooks replay` (any rows, `ctx = None`).
pub async fn replay(
    db: &DatabaseConnection,
    ctx: Option<&TenantCtx>,
    id: Option<Uuid>,
    status: Option<&str>,
) -> Result<usize, CoreError> {
    if let Some(ctx) = ctx {
        ctx.require(Permission::WebhooksManage)?;
    }
    let mut cond = Condition::all();
    if let Some(ctx) = ctx {
        cond = cond.add(visible(db, ctx).await?);
    }
    if let Some(id) = id {
        cond = cond.add(webhook_inbox::Column::Id.eq(id));
    }
    match status {
        Some(st) => {
            check_status(st)?;
            if st == DONE || st == PENDING {
                return Err(CoreError::validation(
                    "invalid_status",
                    "only failed, unroutable or ignored events can be replayed",
                ));
            }
            cond = cond.add(webhook_inbox::Column::Status.eq(st));
        }
        None if id.is_none() => {
            return Err(CoreError::validation(
                "missing_filter",
                "give an event id or a status (failed, unroutable, ignored)",
            ));
        }
        None => {
            cond = cond.add(webhook_inbox::Column::Status.is_in([FAILED, UNROUTABLE, IGNORED]));
        }
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let rows = webhook_inbox::Entity::find().filter(cond).all(&txn).await?;
    if rows.is_empty() && id.is_some() {
        return Err(CoreError::NotFound("webhook event"));
    }
    let now = Utc::now();
    for r in &rows {
        webhook_inbox::Entity::update(webhook_inbox::ActiveModel {
            id: Set(r.id),
            status: Set(PENDING.to_owned()),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        enqueue_process(&txn, r.id).await?;
    }
    if let Some(ctx) = ctx {
        crm_db::audit::record(
            &txn,
            &ctx.actor(),
            "webhooks.replay",
            "webhook_inbox",
            id.map(|i| i.to_string()),
            json!({"queued": rows.len(), "status": status}),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn leadgen_is_keyed_by_leadgen_id_and_routed_by_page() {
        let body = json!({"object":"page","entry":[{"id":"111","time":1700000000,"changes":[
            {"field":"leadgen","value":{"leadgen_id":"999","page_id":"111","form_id":"5"}}]}]});
        let ev = split(&body);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].dedupe_key, "leadgen:999");
        assert_eq!(ev[0].routing_kind, Some("page"));
        assert_eq!(ev[0].routing_id.as_deref(), Some("111"));
    }

    #[test]
    fn messages_split_per_message_and_status() {
        let body = json!({"object":"whatsapp_business_account","entry":[{"id":"W1","changes":[
            {"field":"messages","value":{"metadata":{"phone_number_id":"P1"},
             "contacts":[{"wa_id":"549"}],
             "messages":[{"id":"wamid.A","from":"549"},{"id":"wamid.B","from":"549"}],
             "statuses":[{"id":"wamid.C","status":"read"}]}}]}]});
        let ev = split(&body);
        let keys: Vec<_> = ev.iter().map(|e| e.dedupe_key.as_str()).collect();
        assert_eq!(
            keys,
            ["wa_msg:wamid.A", "wa_msg:wamid.B", "wa_status:wamid.C:read"]
        );
        assert!(ev.iter().all(|e| e.routing_kind == Some("phone_number")));
        assert_eq!(ev[1].value["messages"].as_array().unwrap().len(), 1);
        assert_eq!(ev[1].value["contacts"][0]["wa_id"], "549");
        assert!(ev[2].value.get("messages").is_none());
    }

    #[test]
    fn template_events_route_by_waba_and_key_by_time() {
        let body = json!({"object":"whatsapp_business_account","entry":[{"id":"W1","time":42,"changes":[
            {"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":77}}]}]});
        let ev = split(&body);
        assert_eq!(ev[0].dedupe_key, "tpl_status:77:APPROVED:42");
        assert_eq!(ev[0].routing_kind, Some("waba"));
    }

    #[test]
    fn not_an_envelope_is_kept_as_one_malformed_event() {
        for body in [
            json!({"hello": 1}),
            json!({"object":"page"}),
            json!({"object":"page","entry":[{"changes":[]}]}),
        ] {
            let ev = split(&body);
            assert_eq!(ev.len(), 1, "{body}");
            assert_eq!(ev[0].field, MALFORMED);
            assert!(ev[0].routing_kind.is_none());
        }
    }

    #[test]
    fn one_bad_change_does_not_drop_its_valid_siblings() {
        let body = json!({"object":"page","entry":[
            {"id":"1","time":1,"changes":[
                {"field":"leadgen","value":{"leadgen_id":"77"}},
                {"value":{"leadgen_id":"78"}}
            ]},
            {"time":2,"changes":[{"field":"leadgen","value":{"leadgen_id":"79"}}]}
        ]});
        let ev = split(&body);
        let keys: Vec<&str> = ev.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(keys, ["leadgen", MALFORMED, MALFORMED]);
        assert_eq!(ev[0].dedupe_key, "leadgen:77");
        // The same bad part redelivered keeps one row.
        assert_eq!(split(&body)[1].dedupe_key, ev[1].dedupe_key);
    }

    #[test]
    fn unknown_fields_are_deduplicated_by_content() {
        let body = json!({"object":"page","entry":[{"id":"1","time":5,"changes":[{"field":"feed","value":{"x":1}}]}]});
        let a = split(&body);
        let b = split(&body);
        assert_eq!(a[0].dedupe_key, b[0].dedupe_key);
        assert!(a[0].dedupe_key.starts_with("feed:h:"));
    }
}
