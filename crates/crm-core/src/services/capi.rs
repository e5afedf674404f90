//! Conversions API for CRM: funnel stages of Meta-attributed leads are sent
//! back to the tenant's dataset, through a ledger.
//!
//! - Outbox events (`lead_created`, `lead_status_changed` to qualified,
//!   `opportunity_created`, `opportunity_won`) become ledger rows with a
//!   deterministic `event_id` (`stage:aggregate id`), unique per tenant: the
//!   same event twice is one row, and Meta deduplicates on the id too.
//! - Lead Ads leads are sent as `system_generated` with `lead_id` (the leadgen
//!   id); Click-to-WhatsApp leads as `business_messaging` on WhatsApp with
//!   `ctwa_clid`. Other leads are not sent.
//! - Meta discards events older than 7 days: such rows are `skipped`, never
//!   sent late.
//! - Statuses: queued → accepted | rejected (Meta's message kept) | skipped;
//!   transient failures stay queued with `attempts` counted and are retried.

use chrono::{DateTime, Duration, Utc};
use crm_db::entity::{capi_event, capi_setting, lead, opportunity, outbox};
use crm_db::jobs::{self, NewJob};
use meta_graph::{CrmEvent, Session};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::meta_connection::{self, MetaEnv};
use super::page::{self, Cursor, Page};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

pub const ENQUEUE_JOB: &str = "capi.enqueue";
pub const SEND_JOB: &str = "capi.send";
/// Meta discards CRM events older than this.
pub const MAX_AGE_DAYS: i64 = 7;

pub const QUEUED: &str = "queued";
pub const ACCEPTED: &str = "accepted";
pub const REJECTED: &str = "rejected";
pub const SKIPPED: &str = "skipped";

/// CRM stages that can be sent.
pub const STAGES: [&str; 4] = [
    "lead_created",
    "lead_qualified",
    "opportunity_created",
    "opportunity_won",
];

/// Outbox events the Conversions API consumer wants.
pub fn wants(event_type: &str) -> bool {
    matches!(
        event_type,
        "lead_created" | "lead_status_changed" | "opportunity_created" | "opportunity_won"
    )
}

pub fn default_stage_events() -> Value {
    json!({
        "lead_created": "initial_lead",
        "lead_qualified": "qualified_lead",
        "opportunity_created": "sales_opportunity",
        "opportunity_won": "converted",
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CapiSettings {
    /// The dataset (pixel) id events go to.
    pub dataset_id: Option<String>,
    pub enabled: bool,
    /// CRM stage → Meta event name, for `lead_created`, `lead_qualified`,
    /// `opportunity_created`, `opportunity_won`. A stage left out is not sent.
    #[schema(value_type = Object)]
    pub stage_events: Value,
    /// `custom_data.lead_event_source` (your CRM's name).
    #[schema(min_length = 1, max_length = 100)]
    pub lead_event_source: String,
    /// Meta's test event code, for trying the setup in Events Manager.
    pub test_event_code: Option<String>,
}

impl Default for CapiSettings {
    fn default() -> Self {
        Self {
            dataset_id: None,
            enabled: false,
            stage_events: default_stage_events(),
            lead_event_source: "CRM Ventas".into(),
            test_event_code: None,
        }
    }
}

async fn load_settings(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<Option<capi_setting::Model>, sea_orm::DbErr> {
    capi_setting::Entity::find()
        .filter(capi_setting::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await
}

/// `GET /api/crm/marketing/capi/settings`.
pub async fn get_settings(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
) -> Result<CapiSettings, CoreError> {
    ctx.require(Permission::MarketingRead)?;
    Ok(match load_settings(db, ctx.tenant_id).await? {
        None => CapiSettings::default(),
        Some(m) => CapiSettings {
            dataset_id: m.dataset_id,
            enabled: m.enabled,
            stage_events: m.stage_events,
            lead_event_source: m.lead_event_source,
            test_event_code: m.test_event_code,
        },
    })
}

/// `PUT /api/crm/marketing/capi/settings`.
pub async fn put_settings(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &CapiSettings,
) -> Result<CapiSettings, CoreError> {
    ctx.require(Permission::MarketingManage)?;
    let dataset = input
        .dataset_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if let Some(d) = &dataset
        && (d.len() > 32 || !d.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(CoreError::validation(
            "invalid_dataset_id",
            "the dataset id is Meta's numeric id",
        ));
    }
    if input.enabled && dataset.is_none() {
        return Err(CoreError::validation(
            "missing_dataset_id",
            "set the dataset id before enabling",
        ));
    }
    let Some(map) = input.stage_events.as_object() else {
        return Err(CoreError::validation(
            "invalid_stage_events",
            "stage_events must be an object",
        ));
    };
    for (k, v) in map {
        if !STAGES.contains(&k.as_str()) {
            return Err(CoreError::validation(
                "invalid_stage_events",
                format!("unknown stage '{k}'; use {}", STAGES.join(", ")),
            ));
        }
        if !v
            .as_str()
            .is_some_and(|s| !s.trim().is_empty() && s.len() <= 100)
        {
            return Err(CoreError::validation(
                "invalid_stage_events",
                format!("the event name of '{k}' must be a non-empty string"),
            ));
        }
    }
    let source = input.lead_event_source.trim();
    if source.is_empty() || source.len() > 100 {
        return Err(CoreError::validation(
            "invalid_lead_event_source",
            "lead_event_source must be 1 to 100 characters",
        ));
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let now = Utc::now();
    capi_setting::Entity::insert(capi_setting::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(ctx.tenant_id),
        dataset_id: Set(dataset.clone()),
        enabled: Set(input.enabled),
        stage_events: Set(input.stage_events.clone()),
        lead_event_source: Set(source.to_owned()),
        test_event_code: Set(input
            .test_event_code
            .clone()
            .filter(|s| !s.trim().is_empty())),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(capi_setting::Column::TenantId)
            .update_columns([
                capi_setting::Column::DatasetId,
                capi_setting::Column::Enabled,
                capi_setting::Column::StageEvents,
                capi_setting::Column::LeadEventSource,
                capi_setting::Column::TestEventCode,
                capi_setting::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    crm_db::audit::record(
        &txn,
        &ctx.actor(),
        "capi.settings_update",
        "capi_settings",
        None,
        json!({"dataset_id": dataset, "enabled": input.enabled, "stage_events": input.stage_events}),
    )
    .await?;
    txn.commit().await?;
    get_settings(db, ctx).await
}

/// Turns one outbox event into a ledger row (and its send job). Returns the
/// row's id, or `None` when the event is not sent (not configured, stage not
/// mapped, lead not from Meta, or already in the ledger).
pub async fn on_outbox_event(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    event_type: &str,
    aggregate_id: &str,
    payload: &Value,
    occurred_at: DateTime<Utc>,
) -> Result<Option<Uuid>, CoreError> {
    let stage = match event_type {
        "lead_created" => "lead_created",
        "lead_status_changed" if payload.get("to").and_then(Value::as_str) == Some("qualified") => {
            "lead_qualified"
        }
        "opportunity_created" => "opportunity_created",
        "opportunity_won" => "opportunity_won",
        _ => return Ok(None),
    };
    let Some(settings) = load_settings(db, tenant_id).await? else {
        return Ok(None);
    };
    if !settings.enabled || settings.dataset_id.is_none() {
        return Ok(None);
    }
    let Some(event_name) = settings
        .stage_events
        .get(stage)
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    let agg: Uuid = aggregate_id
        .parse()
        .map_err(|_| CoreError::Internal(format!("bad aggregate id {aggregate_id}")))?;
    let (lead_id, value) = if stage.starts_with("opportunity") {
        let Some(o) = opportunity::Entity::find_by_id(agg)
            .filter(opportunity::Column::TenantId.eq(tenant_id))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        (
            o.lead_id,
            (stage == "opportunity_won").then_some((o.value_minor, o.currency)),
        )
    } else {
        (agg, None)
    };
    let Some(l) = lead::Entity::find_by_id(lead_id)
        .filter(lead::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let action_source = if l.meta_lead_id.is_some() && l.channel == "lead_form" {
        "system_generated"
    } else if l.ctwa_clid.is_some() {
        "business_messaging"
    } else {
        return Ok(None);
    };
    let event_id = format!("{stage}:{agg}");
    let now = Utc::now();
    let too_old = now - occurred_at > Duration::days(MAX_AGE_DAYS);
    let id = crm_db::new_id();
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let rows = capi_event::Entity::insert(capi_event::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        lead_id: Set(l.id),
        event_id: Set(event_id),
        stage: Set(stage.to_owned()),
        event_name: Set(event_name),
        action_source: Set(action_source.to_owned()),
        dataset_id: Set(settings.dataset_id.clone()),
        status: Set(if too_old { SKIPPED } else { QUEUED }.to_owned()),
        attempts: Set(0),
        last_error: Set(too_old.then(|| {
            format!("the event is older than {MAX_AGE_DAYS} days; Meta would discard it")
        })),
        payload: Set(json!({
            "meta_lead_id": l.meta_lead_id,
            "ctwa_clid": l.ctwa_clid,
            "value_minor": value.as_ref().map(|v| v.0),
            "currency": value.as_ref().map(|v| v.1.clone()),
            "lead_created_at": l.created_at,
        })),
        event_time: Set(occurred_at.max(l.created_at)),
        sent_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([capi_event::Column::TenantId, capi_event::Column::EventId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if rows == 0 {
        return Ok(None);
    }
    if !too_old {
        let mut job = NewJob::now(SEND_JOB, json!({"capi_event_id": id}));
        job.tenant_id = Some(tenant_id);
        job.dedupe_key = Some(format!("{SEND_JOB}:{id}"));
        jobs::enqueue(&txn, job).await?;
    }
    txn.commit().await?;
    Ok(Some(id))
}

/// The outbox consumer job: `payload` is what the dispatcher enqueued.
pub async fn handle_outbox_job(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    job_payload: &Value,
) -> Result<Option<Uuid>, CoreError> {
    let event_type = job_payload
        .get("event_type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let aggregate_id = job_payload
        .get("aggregate_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let payload = job_payload.get("payload").cloned().unwrap_or(Value::Null);
    let occurred = match job_payload
        .get("event_id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Uuid>().ok())
    {
        Some(eid) => outbox::Entity::find_by_id(eid)
            .one(db)
            .await?
            .map(|o| o.created_at),
        None => None,
    }
    .unwrap_or_else(Utc::now);
    on_outbox_event(db, tenant_id, event_type, aggregate_id, &payload, occurred).await
}

/// What the send job should do next.
#[derive(Debug, PartialEq)]
pub enum SendOutcome {
    Done,
    Retry(String, Option<u64>),
}

async fn update_row(
    db: &DatabaseConnection,
    row: &capi_event::Model,
    status: &str,
    error: Option<String>,
    sent: bool,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let mut am: capi_event::ActiveModel = row.clone().into();
    am.status = Set(status.to_owned());
    am.attempts = Set(row.attempts + 1);
    am.last_error = Set(error);
    if sent {
        am.sent_at = Set(Some(now));
    }
    am.updated_at = Set(now);
    am.update(db).await?;
    Ok(())
}

/// Sends one ledger row with a Graph session. Idempotent: rows not queued
/// are left alone; the `event_id` lets Meta deduplicate a resend.
pub async fn send_with_session(
    db: &DatabaseConnection,
    session: &Session,
    row_id: Uuid,
) -> Result<SendOutcome, CoreError> {
    let Some(row) = capi_event::Entity::find_by_id(row_id).one(db).await? else {
        return Ok(SendOutcome::Done);
    };
    if row.status != QUEUED {
        return Ok(SendOutcome::Done);
    }
    if Utc::now() - row.event_time > Duration::days(MAX_AGE_DAYS) {
        update_row(
            db,
            &row,
            SKIPPED,
            Some(format!(
                "not sent within {MAX_AGE_DAYS} days; Meta would discard it"
            )),
            false,
        )
        .await?;
        return Ok(SendOutcome::Done);
    }
    let settings = load_settings(db, row.tenant_id).await?;
    let source = settings
        .as_ref()
        .map(|s| s.lead_event_source.clone())
        .unwrap_or_else(|| "CRM Ventas".into());
    let test_code = settings.as_ref().and_then(|s| s.test_event_code.clone());
    let Some(dataset) = row.dataset_id.clone() else {
        update_row(
            db,
            &row,
            REJECTED,
            Some("no dataset configured".into()),
            false,
        )
        .await?;
        return Ok(SendOutcome::Done);
    };
    let p = &row.payload;
    let built = if row.action_source == "system_generated" {
        CrmEvent::lead_stage(
            p["meta_lead_id"].as_str().unwrap_or(""),
            &row.event_name,
            row.event_time.timestamp(),
            &source,
        )
    } else {
        CrmEvent::ctwa_stage(
            p["ctwa_clid"].as_str().unwrap_or(""),
            None,
            &row.event_name,
            row.event_time.timestamp(),
            &source,
        )
    };
    let mut ev = match built {
        Ok(e) => e.with_event_id(row.event_id.clone()),
        Err(e) => {
            update_row(db, &row, REJECTED, Some(e.to_string()), false).await?;
            return Ok(SendOutcome::Done);
        }
    };
    if let (Some(v), Some(c)) = (p["value_minor"].as_i64(), p["currency"].as_str()) {
        ev = match ev.with_value(v, c) {
            Ok(e) => e,
            Err(e) => {
                update_row(db, &row, REJECTED, Some(e.to_string()), false).await?;
                return Ok(SendOutcome::Done);
            }
        };
    }
    match session
        .send_events(&dataset, &[ev], test_code.as_deref())
        .await
    {
        Ok(_) => {
            update_row(db, &row, ACCEPTED, None, true).await?;
            Ok(SendOutcome::Done)
        }
        Err(e) if e.is_retryable() && row.attempts < 8 => {
            update_row(db, &row, QUEUED, Some(e.to_string()), false).await?;
            Ok(SendOutcome::Retry(
                e.to_string(),
                e.retry_after().map(|d| d.as_secs()),
            ))
        }
        Err(e) => {
            let msg = e
                .meta()
                .map(|m| {
                    m.error_user_msg
                        .clone()
                        .unwrap_or_else(|| m.message.clone())
                })
                .unwrap_or_else(|| e.to_string());
            update_row(db, &row, REJECTED, Some(msg), true).await?;
            Ok(SendOutcome::Done)
        }
    }
}

/// The send job with the tenant's stored token.
pub async fn send(
    db: &DatabaseConnection,
    env: &MetaEnv,
    row_id: Uuid,
) -> Result<SendOutcome, CoreError> {
    let Some(row) = capi_event::Entity::find_by_id(row_id).one(db).await? else {
        return Ok(SendOutcome::Done);
    };
    let graph = match env.graph() {
        Ok(g) => g,
        Err(e) => return Err(CoreError::Internal(e.to_string())),
    };
    let token = match meta_connection::access_token_for(db, &env.keyring, row.tenant_id).await {
        Ok(t) => t,
        Err(CoreError::Db(e)) => return Err(CoreError::Db(e)),
        Err(e) => {
            update_row(db, &row, QUEUED, Some(e.to_string()), false).await?;
            return Ok(SendOutcome::Retry(e.to_string(), Some(3600)));
        }
    };
    send_with_session(db, &graph.session(token), row_id).await
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// queued, accepted, rejected or skipped.
    pub status: Option<String>,
    pub lead_id: Option<Uuid>,
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
pub struct LedgerEntry {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub event_id: String,
    pub stage: String,
    pub event_name: String,
    pub action_source: String,
    pub dataset_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    /// Meta's message when rejected, or why it was skipped.
    pub last_error: Option<String>,
    pub event_time: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/crm/marketing/capi/events`: the ledger, newest first.
pub async fn ledger(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &LedgerQuery,
) -> Result<Page<LedgerEntry>, CoreError> {
    ctx.require(Permission::MarketingRead)?;
    let limit = page::limit(q.limit, 50, 200);
    let mut cond = Condition::all().add(capi_event::Column::TenantId.eq(ctx.tenant_id));
    if let Some(s) = q.status.as_deref() {
        if ![QUEUED, ACCEPTED, REJECTED, SKIPPED].contains(&s) {
            return Err(CoreError::validation(
                "invalid_status",
                "status must be queued, accepted, rejected or skipped",
            ));
        }
        cond = cond.add(capi_event::Column::Status.eq(s));
    }
    if let Some(l) = q.lead_id {
        cond = cond.add(capi_event::Column::LeadId.eq(l));
    }
    if let Some(c) = &q.cursor {
        cond = cond.add(capi_event::Column::Id.lt(Cursor::decode(c)?.id));
    }
    let mut rows = capi_event::Entity::find()
        .filter(cond)
        .order_by_desc(capi_event::Column::Id)
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
        "capi.ledger_read",
        "capi_event",
        None,
        json!({"returned": rows.len()}),
    )
    .await?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(|r| LedgerEntry {
                id: r.id,
                lead_id: r.lead_id,
                event_id: r.event_id,
                stage: r.stage,
                event_name: r.event_name,
                action_source: r.action_source,
                dataset_id: r.dataset_id,
                status: r.status,
                attempts: r.attempts,
                last_error: r.last_error,
                event_time: r.event_time,
                sent_at: r.sent_at,
                created_at: r.created_at,
            })
            .collect(),
        next_cursor,
    })
}
