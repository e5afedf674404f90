//! Ad sync: campaigns, ad sets and ads (with creative title/body and status
//! history) and daily ad-level insights of each connected ad account.
//!
//! - Every run re-syncs a 28-day lookback (Meta restates insights).
//! - The first run backfills up to 37 months in chunks, newest first, using
//!   async report runs for chunks; progress is saved after each chunk, so an
//!   interrupted backfill resumes where it stopped.
//! - Insights of a synced window replace what was stored for that window in
//!   one transaction: idempotent, and objects that stopped delivering vanish.
//! - A throttle or transient failure reschedules the job; a token failure
//!   marks the connection (the hub shows the error, never zero spend).
//!
//! The job `marketing.sync_account` runs one account; after a success it
//! schedules its next run (hourly by default).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use crm_db::entity::{
    meta_ad_object, meta_ad_status_history, meta_insights_daily, meta_sync_state,
};
use crm_db::jobs::{self, NewJob};
use meta_graph::{GraphError, InsightsLevel, InsightsQuery, InsightsRow, ReportState, Session};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::meta_connection::{self, MetaEnv};
use crate::CoreError;

pub const SYNC_JOB: &str = "marketing.sync_account";
/// Days re-synced on every run.
pub const LOOKBACK_DAYS: i64 = 28;
/// How far back the first sync goes (Meta keeps about 37 months).
pub const BACKFILL_MONTHS: u32 = 37;
/// Days per backfill chunk.
pub const CHUNK_DAYS: i64 = 90;
/// Default interval between runs.
pub const INTERVAL_MINUTES: i64 = 60;

pub const ST_PENDING: &str = "pending";
pub const ST_RUNNING: &str = "running";
pub const ST_OK: &str = "ok";
pub const ST_ERROR: &str = "error";
pub const ST_THROTTLED: &str = "throttled";

/// Why a sync stopped.
#[derive(Debug)]
pub enum SyncError {
    /// Try again later (throttle, Meta unavailable, database).
    Retry {
        message: String,
        after_secs: Option<u64>,
    },
    /// The user must act (token expired, permission missing, not connected).
    Stop { message: String },
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncReport {
    pub ad_account_id: String,
    pub campaigns: usize,
    pub adsets: usize,
    pub ads: usize,
    pub insight_rows: usize,
    pub since: NaiveDate,
    pub until: NaiveDate,
    pub backfill_done: bool,
}

/// Today in an IANA time zone (UTC when unknown).
pub fn today_in(tz: Option<&str>, now: DateTime<Utc>) -> NaiveDate {
    tz.and_then(|t| t.parse::<Tz>().ok())
        .map(|tz| now.with_timezone(&tz).date_naive())
        .unwrap_or_else(|| now.date_naive())
}

fn months_back(d: NaiveDate, months: u32) -> NaiveDate {
    d.checked_sub_months(chrono::Months::new(months))
        .unwrap_or(d)
}

/// Enqueues a sync of one account now ("sync now", or after selection).
/// Returns false when one is already queued for this minute.
pub async fn enqueue_sync(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    ad_account_id: &str,
    reason: &str,
) -> Result<bool, sea_orm::DbErr> {
    let now = Utc::now();
    ensure_state(conn, tenant_id, ad_account_id).await?;
    let mut job = NewJob::now(
        SYNC_JOB,
        json!({"tenant_id": tenant_id, "ad_account_id": ad_account_id, "reason": reason}),
    );
    job.tenant_id = Some(tenant_id);
    job.dedupe_key = Some(format!(
        "{SYNC_JOB}:{tenant_id}:{ad_account_id}:{reason}:{}",
        now.format("%Y%m%d%H%M")
    ));
    jobs::enqueue(conn, job).await
}

async fn schedule_next(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    ad_account_id: &str,
    at: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let mut job = NewJob::now(
        SYNC_JOB,
        json!({"tenant_id": tenant_id, "ad_account_id": ad_account_id, "reason": "scheduled"}),
    );
    job.tenant_id = Some(tenant_id);
    job.run_at = at;
    job.dedupe_key = Some(format!(
        "{SYNC_JOB}:{tenant_id}:{ad_account_id}:scheduled:{}",
        at.format("%Y%m%d%H%M")
    ));
    jobs::enqueue(conn, job).await?;
    Ok(())
}

async fn ensure_state(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    ad_account_id: &str,
) -> Result<(), sea_orm::DbErr> {
    meta_sync_state::Entity::insert(meta_sync_state::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(tenant_id),
        ad_account_id: Set(ad_account_id.to_owned()),
        account_name: Set(None),
        currency: Set(None),
        timezone: Set(None),
        status: Set(ST_PENDING.to_owned()),
        last_started_at: Set(None),
        last_success_at: Set(None),
        last_error: Set(None),
        last_error_code: Set(None),
        last_error_at: Set(None),
        next_run_at: Set(Some(Utc::now())),
        backfill_done: Set(false),
        backfill_next_until: Set(None),
        progress_pct: Set(0),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            meta_sync_state::Column::TenantId,
            meta_sync_state::Column::AdAccountId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    crm_db::rollups::bump_version(conn, tenant_id).await?;
    Ok(())
}

async fn state(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    ad_account_id: &str,
) -> Result<meta_sync_state::Model, sea_orm::DbErr> {
    ensure_state(conn, tenant_id, ad_account_id).await?;
    meta_sync_state::Entity::find()
        .filter(meta_sync_state::Column::TenantId.eq(tenant_id))
        .filter(meta_sync_state::Column::AdAccountId.eq(ad_account_id))
        .one(conn)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("meta_sync_state".into()))
}

fn graph_err(e: &GraphError) -> (SyncError, String, Option<i64>) {
    let meta = e.meta();
    let code = meta.map(|m| m.code);
    let meta_msg = meta
        .map(|m| {
            m.error_user_msg
                .clone()
                .unwrap_or_else(|| m.message.clone())
        })
        .unwrap_or_else(|| e.to_string());
    let out = match e {
        GraphError::Throttled { retry_after, .. } => SyncError::Retry {
            message: format!("Meta is throttling this ad account: {meta_msg}"),
            after_secs: Some(retry_after.as_secs().max(1)),
        },
        GraphError::Transient { .. }
        | GraphError::Request(_)
        | GraphError::UnexpectedResponse { .. } => SyncError::Retry {
            message: format!("Meta did not answer: {meta_msg}"),
            after_secs: None,
        },
        _ => SyncError::Stop {
            message: format!("Meta refused the sync: {meta_msg}"),
        },
    };
    (out, meta_msg, code)
}

async fn record_failure(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    ad_account_id: &str,
    err: &SyncError,
    meta_msg: &str,
    code: Option<i64>,
) -> Result<(), sea_orm::DbErr> {
    let st = state(db, tenant_id, ad_account_id).await?;
    let now = Utc::now();
    let (status, next) = match err {
        SyncError::Retry {
            after_secs,
            message,
        } => (
            if message.contains("throttling") {
                ST_THROTTLED
            } else {
                ST_ERROR
            },
            Some(now + Duration::seconds(after_secs.unwrap_or(60) as i64)),
        ),
        SyncError::Stop { .. } => (ST_ERROR, None),
    };
    let outcome = match err {
        SyncError::Retry { .. } => "retry",
        SyncError::Stop { .. } => "error",
    };
    ::metrics::counter!("crm_sync_runs_total", "outcome" => outcome).increment(1);
    let mut am: meta_sync_state::ActiveModel = st.into();
    am.status = Set(status.to_owned());
    am.last_error = Set(Some(meta_msg.chars().take(2000).collect()));
    am.last_error_code = Set(code);
    am.last_error_at = Set(Some(now));
    am.next_run_at = Set(next);
    am.updated_at = Set(now);
    am.update(db).await?;
    crm_db::rollups::bump_version(db, tenant_id).await?;
    Ok(())
}

/// Runs one sync of one ad account with the tenant's stored token.
pub async fn run(
    db: &DatabaseConnection,
    env: &MetaEnv,
    tenant_id: Uuid,
    ad_account_id: &str,
) -> Result<SyncReport, SyncError> {
    let dberr = |e: sea_orm::DbErr| SyncError::Retry {
        message: format!("database: {e}"),
        after_secs: None,
    };
    if meta_connection::meta_paused(db, tenant_id)
        .await
        .map_err(dberr)?
    {
        let e = SyncError::Stop {
            message: "Meta is not connected or the connection needs a reconnect".into(),
        };
        record_failure(
            db,
            tenant_id,
            ad_account_id,
            &e,
            "Meta is not connected or the connection needs a reconnect",
            None,
        )
        .await
        .map_err(dberr)?;
        return Err(e);
    }
    let graph = env.graph().map_err(|e| SyncError::Stop {
        message: e.to_string(),
    })?;
    let token = meta_connection::access_token_for(db, &env.keyring, tenant_id)
        .await
        .map_err(|e| match e {
            CoreError::Db(e) => dberr(e),
            other => SyncError::Stop {
                message: other.to_string(),
            },
        })?;
    let session = graph.session(token);
    match sync_with_session(db, &session, tenant_id, ad_account_id, Utc::now()).await {
        Ok(r) => Ok(r),
        Err(Failure::Graph(e)) => {
            let _ = meta_connection::mark_invalid(db, tenant_id, &e).await;
            let (err, msg, code) = graph_err(&e);
            record_failure(db, tenant_id, ad_account_id, &err, &msg, code)
                .await
                .map_err(dberr)?;
            Err(err)
        }
        Err(Failure::Db(e)) => Err(dberr(e)),
    }
}

/// Why [`sync_with_session`] stopped.
#[derive(Debug)]
pub enum Failure {
    Graph(GraphError),
    Db(sea_orm::DbErr),
}

impl From<GraphError> for Failure {
    fn from(e: GraphError) -> Self {
        Failure::Graph(e)
    }
}
impl From<sea_orm::DbErr> for Failure {
    fn from(e: sea_orm::DbErr) -> Self {
        Failure::Db(e)
    }
}

/// The sync itself, with any Graph session (tests and benchmarks pass a
/// sandbox session). `now` decides "today".
pub async fn sync_with_session(
    db: &DatabaseConnection,
    session: &Session,
    tenant_id: Uuid,
    ad_account_id: &str,
    now: DateTime<Utc>,
) -> Result<SyncReport, Failure> {
    let st = state(db, tenant_id, ad_account_id).await?;
    {
        let mut am: meta_sync_state::ActiveModel = st.clone().into();
        am.status = Set(ST_RUNNING.to_owned());
        am.last_started_at = Set(Some(now));
        am.updated_at = Set(Utc::now());
        am.update(db).await?;
        crm_db::rollups::bump_version(db, tenant_id).await?;
    }
    let account = session.ad_account(ad_account_id).await?;
    let currency = account.currency.clone().unwrap_or_else(|| "USD".to_owned());
    let tz = account.timezone_name.clone();
    let today = today_in(tz.as_deref(), now);

    // Structure.
    let campaigns = session.campaigns(ad_account_id).await?;
    let adsets = session.adsets(ad_account_id).await?;
    let ads = session.ads(ad_account_id).await?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    for c in &campaigns {
        upsert_object(
            &txn,
            tenant_id,
            ad_account_id,
            ObjectIn {
                level: "campaign",
                id: &c.id,
                campaign_id: Some(&c.id),
                adset_id: None,
                name: c.name.as_deref(),
                status: c.status.as_deref(),
                effective_status: c.effective_status.as_deref(),
                objective: c.objective.as_deref(),
                title: None,
                body: None,
                created_time: c.created_time.as_deref(),
            },
            now,
        )
        .await?;
    }
    for a in &adsets {
        upsert_object(
            &txn,
            tenant_id,
            ad_account_id,
            ObjectIn {
                level: "adset",
                id: &a.id,
                campaign_id: a.campaign_id.as_deref(),
                adset_id: Some(&a.id),
                name: a.name.as_deref(),
                status: a.status.as_deref(),
                effective_status: a.effective_status.as_deref(),
                objective: None,
                title: None,
                body: None,
                created_time: a.created_time.as_deref(),
            },
            now,
        )
        .await?;
    }
    for a in &ads {
        let cr = a.creative.as_ref();
        upsert_object(
            &txn,
            tenant_id,
            ad_account_id,
            ObjectIn {
                level: "ad",
                id: &a.id,
                campaign_id: a.campaign_id.as_deref(),
                adset_id: a.adset_id.as_deref(),
                name: a.name.as_deref(),
                status: a.status.as_deref(),
                effective_status: a.effective_status.as_deref(),
                objective: None,
                title: cr.and_then(|c| c.title.as_deref()),
                body: cr.and_then(|c| c.body.as_deref()),
                created_time: a.created_time.as_deref(),
            },
            now,
        )
        .await?;
    }
    // Leads whose ad was not known yet may now resolve to a campaign.
    super::rollups::mark_unknown_campaign_leads(&txn, tenant_id).await?;
    // Campaign names and statuses show in the Marketing Hub.
    crm_db::rollups::bump_version(&txn, tenant_id).await?;
    txn.commit().await?;

    // Insights: the lookback window every run, then backfill chunks.
    let lookback_since = today - Duration::days(LOOKBACK_DAYS);
    let mut rows_total = 0;
    rows_total += sync_window(
        db,
        session,
        tenant_id,
        ad_account_id,
        &currency,
        lookback_since,
        today,
        false,
    )
    .await?;
    let floor = months_back(today, BACKFILL_MONTHS);
    let mut backfill_done = st.backfill_done;
    let mut next_until = st
        .backfill_next_until
        .unwrap_or(lookback_since - Duration::days(1));
    while !backfill_done {
        if next_until < floor {
            backfill_done = true;
            break;
        }
        let since = (next_until - Duration::days(CHUNK_DAYS - 1)).max(floor);
        rows_total += sync_window(
            db,
            session,
            tenant_id,
            ad_account_id,
            &currency,
            since,
            next_until,
            true,
        )
        .await?;
        next_until = since - Duration::days(1);
        let total_days = (lookback_since - floor).num_days().max(1);
        let done_days = (lookback_since - next_until)
            .num_days()
            .clamp(0, total_days);
        let pct = (done_days * 100 / total_days) as i32;
        let cur = state(db, tenant_id, ad_account_id).await?;
        let mut am: meta_sync_state::ActiveModel = cur.into();
        am.backfill_next_until = Set(Some(next_until));
        am.progress_pct = Set(pct.min(99));
        am.updated_at = Set(Utc::now());
        am.update(db).await?;
        crm_db::rollups::bump_version(db, tenant_id).await?;
    }

    let cur = state(db, tenant_id, ad_account_id).await?;
    let next = now + Duration::minutes(INTERVAL_MINUTES);
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let mut am: meta_sync_state::ActiveModel = cur.into();
    am.status = Set(ST_OK.to_owned());
    am.account_name = Set(account.name.clone());
    am.currency = Set(Some(currency.clone()));
    am.timezone = Set(tz);
    am.last_success_at = Set(Some(now));
    am.last_error = Set(None);
    am.last_error_code = Set(None);
    am.next_run_at = Set(Some(next));
    am.backfill_done = Set(backfill_done);
    am.backfill_next_until = Set(Some(next_until));
    am.progress_pct = Set(100);
    am.updated_at = Set(Utc::now());
    am.update(&txn).await?;
    crm_db::rollups::bump_version(&txn, tenant_id).await?;
    schedule_next(&txn, tenant_id, ad_account_id, next).await?;
    crm_db::outbox::emit(
        &txn,
        tenant_id,
        "marketing_sync_completed",
        "meta_ad_account",
        ad_account_id,
        json!({"ad_account_id": ad_account_id, "since": lookback_since, "until": today}),
    )
    .await?;
    txn.commit().await?;
    ::metrics::counter!("crm_sync_runs_total", "outcome" => "ok").increment(1);
    Ok(SyncReport {
        ad_account_id: ad_account_id.to_owned(),
        campaigns: campaigns.len(),
        adsets: adsets.len(),
        ads: ads.len(),
        insight_rows: rows_total,
        since: if backfill_done { floor } else { lookback_since },
        until: today,
        backfill_done,
    })
}

struct ObjectIn<'a> {
    level: &'static str,
    id: &'a str,
    campaign_id: Option<&'a str>,
    adset_id: Option<&'a str>,
    name: Option<&'a str>,
    status: Option<&'a str>,
    effective_status: Option<&'a str>,
    objective: Option<&'a str>,
    title: Option<&'a str>,
    body: Option<&'a str>,
    created_time: Option<&'a str>,
}

async fn upsert_object(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    ad_account_id: &str,
    o: ObjectIn<'_>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let status = o.status.unwrap_or("UNKNOWN").to_owned();
    let existing = meta_ad_object::Entity::find()
        .filter(meta_ad_object::Column::TenantId.eq(tenant_id))
        .filter(meta_ad_object::Column::Level.eq(o.level))
        .filter(meta_ad_object::Column::ExternalId.eq(o.id))
        .one(conn)
        .await?;
    let changed_from = match &existing {
        None => Some(None),
        Some(e) if e.status != status || e.effective_status.as_deref() != o.effective_status => {
            Some(Some(e.status.clone()))
        }
        Some(_) => None,
    };
    if let Some(from) = changed_from {
        meta_ad_status_history::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(tenant_id),
            level: Set(o.level.to_owned()),
            external_id: Set(o.id.to_owned()),
            from_status: Set(from),
            to_status: Set(status.clone()),
            effective_status: Set(o.effective_status.map(str::to_owned)),
            observed_at: Set(now),
        }
        .insert(conn)
        .await?;
    }
    let am = meta_ad_object::ActiveModel {
        id: Set(existing
            .as_ref()
            .map(|e| e.id)
            .unwrap_or_else(crm_db::new_id)),
        tenant_id: Set(tenant_id),
        level: Set(o.level.to_owned()),
        external_id: Set(o.id.to_owned()),
        ad_account_id: Set(ad_account_id.to_owned()),
        campaign_id: Set(o.campaign_id.map(str::to_owned)),
        adset_id: Set(o.adset_id.map(str::to_owned)),
        name: Set(o.name.unwrap_or(o.id).chars().take(500).collect()),
        status: Set(status),
        effective_status: Set(o.effective_status.map(str::to_owned)),
        objective: Set(o.objective.map(str::to_owned)),
        creative_title: Set(o.title.map(str::to_owned)),
        creative_body: Set(o.body.map(str::to_owned)),
        created_time: Set(o.created_time.map(str::to_owned)),
        first_seen_at: Set(existing.as_ref().map(|e| e.first_seen_at).unwrap_or(now)),
        synced_at: Set(now),
    };
    if existing.is_some() {
        am.update(conn).await?;
    } else {
        am.insert(conn).await?;
    }
    Ok(())
}

/// Fetches daily ad-level rows for [since, until] and replaces the stored
/// rows of that window. Returns the number of rows stored.
#[allow(clippy::too_many_arguments)]
async fn sync_window(
    db: &DatabaseConnection,
    session: &Session,
    tenant_id: Uuid,
    ad_account_id: &str,
    currency: &str,
    since: NaiveDate,
    until: NaiveDate,
    use_async: bool,
) -> Result<usize, Failure> {
    let mut q = InsightsQuery::daily(InsightsLevel::Ad, since, until);
    q.fallback_currency = Some(currency.to_owned());
    let rows: Vec<InsightsRow> = if use_async {
        let run_id = session.start_insights_report(ad_account_id, &q).await?;
        let mut polls = 0u32;
        loop {
            let st = session.report_status(&run_id).await?;
            match st.state() {
                ReportState::Completed => break,
                ReportState::Failed => {
                    // Fall back to the synchronous call for this chunk.
                    return store_window(
                        db,
                        tenant_id,
                        ad_account_id,
                        currency,
                        since,
                        until,
                        session.insights(ad_account_id, &q).await?,
                    )
                    .await;
                }
                _ => {}
            }
            polls += 1;
            if polls > 600 {
                return Err(Failure::Graph(GraphError::InvalidInput(
                    "async insights report did not complete".into(),
                )));
            }
            tokio_sleep_ms(if polls < 5 { 50 } else { 1000 }).await;
        }
        session.report_results(&run_id, Some(currency)).await?
    } else {
        session.insights(ad_account_id, &q).await?
    };
    store_window(db, tenant_id, ad_account_id, currency, since, until, rows).await
}

async fn tokio_sleep_ms(ms: u64) {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

async fn store_window(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    ad_account_id: &str,
    currency: &str,
    since: NaiveDate,
    until: NaiveDate,
    rows: Vec<InsightsRow>,
) -> Result<usize, Failure> {
    let now = Utc::now();
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    meta_insights_daily::Entity::delete_many()
        .filter(meta_insights_daily::Column::TenantId.eq(tenant_id))
        .filter(meta_insights_daily::Column::AdAccountId.eq(ad_account_id))
        .filter(meta_insights_daily::Column::Day.gte(since))
        .filter(meta_insights_daily::Column::Day.lte(until))
        .exec(&txn)
        .await?;
    let mut n = 0;
    let mut batch = Vec::with_capacity(200);
    for r in rows {
        let Some(ad_id) = r.ad_id.clone() else {
            continue;
        };
        batch.push(meta_insights_daily::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(tenant_id),
            ad_account_id: Set(ad_account_id.to_owned()),
            campaign_id: Set(r.campaign_id.clone().unwrap_or_default()),
            adset_id: Set(r.adset_id.clone().unwrap_or_default()),
            ad_id: Set(ad_id),
            day: Set(r.date_start),
            currency: Set(if r.currency.is_empty() {
                currency.to_owned()
            } else {
                r.currency.clone()
            }),
            spend_minor: Set(r.spend_minor),
            impressions: Set(r.impressions),
            clicks: Set(r.clicks),
            reach: Set(r.reach.unwrap_or(0)),
            meta_leads: Set(r.leads),
            messaging_started: Set(r.messaging_conversations_started),
            synced_at: Set(now),
        });
        n += 1;
        if batch.len() >= 200 {
            insert_batch(&txn, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        insert_batch(&txn, batch).await?;
    }
    // The rollups of every day of the window are recomputed from what was
    // just stored (restated days included).
    crm_db::rollups::mark_day_range(&txn, tenant_id, since, until).await?;
    txn.commit().await?;
    Ok(n)
}

async fn insert_batch(
    conn: &impl ConnectionTrait,
    batch: Vec<meta_insights_daily::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    meta_insights_daily::Entity::insert_many(batch)
        .on_conflict(
            OnConflict::columns([
                meta_insights_daily::Column::TenantId,
                meta_insights_daily::Column::AdId,
                meta_insights_daily::Column::Day,
            ])
            .update_columns([
                meta_insights_daily::Column::SpendMinor,
                meta_insights_daily::Column::Impressions,
                meta_insights_daily::Column::Clicks,
                meta_insights_daily::Column::Reach,
                meta_insights_daily::Column::MetaLeads,
                meta_insights_daily::Column::MessagingStarted,
                meta_insights_daily::Column::SyncedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn today_follows_the_account_time_zone() {
        let now: DateTime<Utc> = "2026-11-21T02:00:00Z".parse().unwrap();
        assert_eq!(
            today_in(Some("America/Los_Angeles"), now).to_string(),
            "2026-11-20"
        );
        assert_eq!(today_in(Some("Asia/Tokyo"), now).to_string(), "2026-11-21");
        assert_eq!(today_in(None, now).to_string(), "2026-11-21");
        assert_eq!(today_in(Some("Not/AZone"), now).to_string(), "2026-11-21");
    }

    #[test]
    fn backfill_floor_is_37_months_back() {
        let d: NaiveDate = "2026-11-21".parse().unwrap();
        assert_eq!(months_back(d, BACKFILL_MONTHS).to_string(), "2023-10-21");
    }
}
