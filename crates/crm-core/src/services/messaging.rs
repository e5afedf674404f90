//! WhatsApp messaging: the inbound handler (find or create the lead, store
//! the message, open the 24-hour window, timeline, Click-to-WhatsApp
//! attribution, opt-out keywords), delivery statuses (forward only,
//! duplicates and reordering harmless, reconciled by
//! `biz_opaque_callback_data`), Meta's `user_preferences` stop/resume, and
//! the template send pipeline shared by manual sends and automation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crm_db::audit::{self, Actor};
use crm_db::entity::{automation_run, hsm_setting, lead, wa_message, wa_template};
use crm_db::outbox;
use meta_graph::whatsapp::{Recipient, SendComponent, TemplateMessage};
use meta_graph::{AccessToken, GraphClient, GraphError};
use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::leads::{self, ContactInput};
use super::meta_connection::{self, MetaEnv, MetaFail};
use super::templates::{self, APPROVED};
use super::timeline;
use super::webhooks::{FieldHandler, HandlerCx, HandlerError, InboxEvent, WebhookRegistry};
use crate::automation::rule::reason;
use crate::automation::template::{self as tpl, Component, SendValues};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

pub const DEFAULT_OPT_OUT: [&str; 4] = ["STOP", "BAJA", "BASTA", "UNSUBSCRIBE"];
pub const DEFAULT_OPT_IN: [&str; 2] = ["START", "ALTA"];
pub const DEFAULT_MPS: i32 = 80;
/// Meta's pair rate: about one message per 6 s to the same user.
pub const PAIR_INTERVAL: Duration = Duration::from_secs(6);
/// Opt-out method recorded for Meta's "Stop promotions" (marketing only).
pub const MARKETING_STOP: &str = "meta_marketing_stop";

pub mod kind {
    pub const INBOUND: &str = "whatsapp_in";
    pub const OUTBOUND: &str = "whatsapp_out";
}

/// Rank of a delivery status; statuses only move up. `failed` beats
/// sent/delivered but never a read message.
fn rank(s: &str) -> i32 {
    match s {
        "sending" => 0,
        "sent" => 1,
        "delivered" => 2,
        "failed" => 3,
        "read" | "played" => 4,
        _ => -1,
    }
}

// ---------------------------------------------------------------------------
// Settings

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HsmSettings {
    /// Inbound texts equal to one of these (case-insensitive) opt the lead out.
    pub opt_out_keywords: Vec<String>,
    /// Inbound texts equal to one of these opt the lead back in.
    pub opt_in_keywords: Vec<String>,
    /// Send pacing per phone number (Meta's default throughput is 80).
    pub messages_per_second: i32,
    /// Why automation is paused for the tenant (e.g. `token_invalid`).
    #[serde(default)]
    pub paused_reason: Option<String>,
    /// What happens to an automation send whose outcome is unknown (Meta
    /// timed out or answered 5xx, or the process died after handing it over)
    /// when no status webhook arrives within `CRM_HSM_RECONCILE_SECS`:
    /// `false` (default) holds it for a person to resend or dismiss (at most
    /// once); `true` hands it to Meta again (at least once: the customer may
    /// get it twice).
    #[serde(default)]
    pub resend_unconfirmed: bool,
}

pub async fn settings_of(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<HsmSettings, CoreError> {
    let row = hsm_setting::Entity::find_by_id(tenant_id).one(conn).await?;
    Ok(match row {
        Some(r) => HsmSettings {
            opt_out_keywords: serde_json::from_value(r.opt_out_keywords).unwrap_or_default(),
            opt_in_keywords: serde_json::from_value(r.opt_in_keywords).unwrap_or_default(),
            messages_per_second: r.messages_per_second,
            paused_reason: r.paused_reason,
            resend_unconfirmed: r.resend_unconfirmed,
        },
        None => HsmSettings {
            opt_out_keywords: DEFAULT_OPT_OUT.iter().map(|s| (*s).to_owned()).collect(),
            opt_in_keywords: DEFAULT_OPT_IN.iter().map(|s| (*s).to_owned()).collect(),
            messages_per_second: DEFAULT_MPS,
            paused_reason: None,
            resend_unconfirmed: false,
        },
    })
}

async fn save_settings(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    s: &HsmSettings,
    paused_at: Option<DateTime<Utc>>,
) -> Result<(), CoreError> {
    let am = hsm_setting::ActiveModel {
        tenant_id: Set(tenant_id),
        opt_out_keywords: Set(json!(s.opt_out_keywords)),
        opt_in_keywords: Set(json!(s.opt_in_keywords)),
        messages_per_second: Set(s.messages_per_second),
        paused_reason: Set(s.paused_reason.clone()),
        paused_at: Set(paused_at),
        resend_unconfirmed: Set(s.resend_unconfirmed),
        updated_at: Set(Utc::now()),
    };
    hsm_setting::Entity::insert(am)
        .on_conflict(
            OnConflict::column(hsm_setting::Column::TenantId)
                .update_columns([
                    hsm_setting::Column::OptOutKeywords,
                    hsm_setting::Column::OptInKeywords,
                    hsm_setting::Column::MessagesPerSecond,
                    hsm_setting::Column::PausedReason,
                    hsm_setting::Column::PausedAt,
                    hsm_setting::Column::ResendUnconfirmed,
                    hsm_setting::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn get_settings(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
) -> Result<HsmSettings, CoreError> {
    ctx.require(Permission::HsmManage)?;
    settings_of(db, ctx.tenant_id).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SettingsInput {
    pub opt_out_keywords: Vec<String>,
    #[serde(default)]
    pub opt_in_keywords: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 1000)]
    pub messages_per_second: i32,
    /// Set true to resume automation after a pause.
    #[serde(default)]
    pub resume: bool,
    /// See [`HsmSettings::resend_unconfirmed`]; absent keeps the current value.
    #[serde(default)]
    pub resend_unconfirmed: Option<bool>,
}

fn clean_keywords(v: &[String]) -> Result<Vec<String>, CoreError> {
    let mut out: Vec<String> = Vec::new();
    for k in v {
        let k = k.trim().to_uppercase();
        if k.is_empty() {
            continue;
        }
        if k.chars().count() > 30 {
            return Err(CoreError::validation(
                "invalid_keyword",
                format!("the keyword '{k}' is longer than 30 characters"),
            ));
        }
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

pub async fn update_settings(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &SettingsInput,
) -> Result<HsmSettings, CoreError> {
    ctx.require(Permission::HsmManage)?;
    if !(1..=1000).contains(&input.messages_per_second) {
        return Err(CoreError::validation(
            "invalid_rate",
            "messages_per_second must be between 1 and 1000",
        ));
    }
    let out_kw = clean_keywords(&input.opt_out_keywords)?;
    if out_kw.is_empty() {
        return Err(CoreError::validation(
            "opt_out_keywords_required",
            "keep at least one opt-out keyword (e.g. STOP)",
        ));
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let mut s = settings_of(&txn, ctx.tenant_id).await?;
    s.opt_out_keywords = out_kw;
    if let Some(k) = &input.opt_in_keywords {
        s.opt_in_keywords = clean_keywords(k)?;
    }
    s.messages_per_second = input.messages_per_second;
    if let Some(v) = input.resend_unconfirmed {
        s.resend_unconfirmed = v;
    }
    if input.resume {
        s.paused_reason = None;
    }
    save_settings(&txn, ctx.tenant_id, &s, None).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.settings.update",
        "hsm_settings",
        None,
        json!({"opt_out_keywords": s.opt_out_keywords, "messages_per_second": s.messages_per_second,
               "resumed": input.resume, "resend_unconfirmed": s.resend_unconfirmed}),
    )
    .await?;
    txn.commit().await?;
    Ok(s)
}

/// Pauses automation for the tenant (token invalid): logged and audited.
pub async fn pause_tenant(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    why: &str,
) -> Result<(), CoreError> {
    let mut s = settings_of(conn, tenant_id).await?;
    if s.paused_reason.as_deref() == Some(why) {
        return Ok(());
    }
    s.paused_reason = Some(why.to_owned());
    save_settings(conn, tenant_id, &s, Some(Utc::now())).await?;
    audit::record(
        conn,
        &Actor::system(tenant_id),
        "hsm.automation.paused",
        "hsm_settings",
        None,
        json!({"reason": why}),
    )
    .await?;
    outbox::emit(
        conn,
        tenant_id,
        "hsm_alert",
        "hsm_settings",
        &tenant_id.to_string(),
        json!({"alert": "automation_paused", "reason": why}),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Consent and window

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentState {
    pub opted_in: bool,
    pub opted_out: bool,
    /// Opt-out limited to marketing (Meta's "Stop promotions").
    pub marketing_only_opt_out: bool,
    pub opt_out_method: Option<String>,
    pub can_receive_marketing: bool,
    pub can_receive_utility: bool,
}

pub fn consent_of(l: &lead::Model) -> ConsentState {
    let opted_out = match (l.opt_out_at, l.opt_in_at) {
        (Some(out), Some(inn)) => out >= inn,
        (Some(_), None) => true,
        _ => false,
    };
    let opted_in = l.opt_in_at.is_some() && !opted_out;
    let marketing_only = opted_out && l.opt_out_method.as_deref() == Some(MARKETING_STOP);
    ConsentState {
        opted_in,
        opted_out,
        marketing_only_opt_out: marketing_only,
        opt_out_method: l.opt_out_method.clone().filter(|_| opted_out),
        can_receive_marketing: opted_in,
        can_receive_utility: !opted_out || marketing_only,
    }
}

/// The guard on consent for a template category: `None` when allowed.
pub fn consent_block(l: &lead::Model, category: &str) -> Option<&'static str> {
    let c = consent_of(l);
    if category.eq_ignore_ascii_case("AUTHENTICATION") {
        return None;
    }
    if tpl::needs_marketing_consent(category) {
        if c.opted_out {
            return Some(reason::OPTED_OUT);
        }
        if !c.opted_in {
            return Some(reason::NO_MARKETING_CONSENT);
        }
        return None;
    }
    if c.can_receive_utility {
        None
    } else {
        Some(reason::OPTED_OUT)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WindowState {
    /// Whether the 24-hour customer-service window is open (free-form
    /// messages allowed); templates can be sent either way.
    pub open: bool,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub fn window_of(l: &lead::Model, now: DateTime<Utc>) -> WindowState {
    let expires = l.last_inbound_at.map(|t| t + chrono::Duration::hours(24));
    WindowState {
        open: expires.is_some_and(|e| e > now),
        last_inbound_at: l.last_inbound_at,
        expires_at: expires,
    }
}

pub fn recipient_of(l: &lead::Model) -> Option<Recipient> {
    if let Some(w) = l.wa_id.as_deref().filter(|s| !s.is_empty()) {
        return Some(Recipient::Phone(w.to_owned()));
    }
    if let Some(p) = l.phone.as_deref().filter(|s| !s.is_empty()) {
        return Some(Recipient::Phone(p.to_owned()));
    }
    l.bsuid
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|b| Recipient::UserId(b.to_owned()))
}

// ---------------------------------------------------------------------------
// Views

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    pub id: Uuid,
    pub lead_id: Uuid,
    /// in or out.
    pub direction: String,
    pub wamid: Option<String>,
    pub kind: String,
    pub template_name: Option<String>,
    pub body: String,
    /// received, sending, sent, delivered, read, failed; `held` when Meta
    /// neither answered nor reported on it (it may or may not have been
    /// delivered: resend or dismiss it), `dismissed` once a person closed it.
    pub status: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub rule_id: Option<Uuid>,
    /// Click-to-WhatsApp ad context of an inbound message.
    #[schema(value_type = Option<Object>)]
    pub referral: Option<Value>,
    pub created_at: DateTime<Utc>,
}

impl From<wa_message::Model> for MessageView {
    fn from(m: wa_message::Model) -> Self {
        Self {
            id: m.id,
            lead_id: m.lead_id,
            direction: m.direction,
            wamid: m.wamid,
            kind: m.kind,
            template_name: m.template_name,
            body: m.body,
            status: m.status,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            read_at: m.read_at,
            failed_at: m.failed_at,
            error_code: m.error_code,
            error_message: m.error_message,
            rule_id: m.rule_id,
            referral: m.referral,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadMessaging {
    pub lead_id: Uuid,
    pub window: WindowState,
    pub consent: ConsentState,
    /// Whether the lead has a WhatsApp id, phone or business-scoped id.
    pub reachable: bool,
    /// Oldest first (the latest 200).
    pub messages: Vec<MessageView>,
}

/// The lead page's messaging panel: messages, window and consent.
pub async fn lead_messaging(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    lead_id: Uuid,
) -> Result<LeadMessaging, CoreError> {
    ctx.require(Permission::LeadsRead)?;
    let l = leads::visible_lead(db, ctx, lead_id).await?;
    let mut msgs: Vec<wa_message::Model> = wa_message::Entity::find()
        .filter(wa_message::Column::TenantId.eq(ctx.tenant_id))
        .filter(wa_message::Column::LeadId.eq(lead_id))
        .order_by_desc(wa_message::Column::CreatedAt)
        .order_by_desc(wa_message::Column::Id)
        .limit(200)
        .all(db)
        .await?;
    msgs.reverse();
    Ok(LeadMessaging {
        lead_id,
        window: window_of(&l, Utc::now()),
        consent: consent_of(&l),
        reachable: recipient_of(&l).is_some(),
        messages: msgs.into_iter().map(MessageView::from).collect(),
    })
}

// ---------------------------------------------------------------------------
// Inbound

fn inbound_text(m: &meta_graph::webhook::InboundMessage) -> String {
    if let Some(t) = &m.text {
        return t.body.clone();
    }
    if let Some(b) = &m.button {
        return b
            .text
            .clone()
            .or_else(|| b.payload.clone())
            .unwrap_or_default();
    }
    if let Some(i) = &m.interactive {
        for k in ["button_reply", "list_reply"] {
            if let Some(t) = i
                .get(k)
                .and_then(|r| r.get("title"))
                .and_then(Value::as_str)
            {
                return t.to_owned();
            }
        }
    }
    m.other
        .get(&m.kind)
        .and_then(|o| o.get("caption"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("[{}]", m.kind))
}

async fn set_opt(
    conn: &impl ConnectionTrait,
    l: &lead::Model,
    out: bool,
    method: &str,
    at: DateTime<Utc>,
) -> Result<(), CoreError> {
    let mut am: lead::ActiveModel = l.clone().into();
    if out {
        am.opt_out_at = Set(Some(at));
        am.opt_out_method = Set(Some(method.to_owned()));
    } else {
        am.opt_in_at = Set(Some(at));
        am.opt_in_method = Set(Some(method.to_owned()));
    }
    am.updated_at = Set(Utc::now());
    am.update(conn).await?;
    let actor = Actor::system(l.tenant_id);
    timeline::write(
        conn,
        &actor,
        l.id,
        timeline::kind::CONSENT,
        json!({"action": if out { "opt_out" } else { "opt_in" }, "method": method, "at": at}),
    )
    .await?;
    audit::record(
        conn,
        &actor,
        if out { "lead.opt_out" } else { "lead.opt_in" },
        "lead",
        Some(l.id.to_string()),
        json!({"method": method}),
    )
    .await?;
    Ok(())
}

/// Stores one inbound message (idempotent by wamid).
pub async fn record_inbound(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    contacts: &[meta_graph::webhook::WaContact],
    m: &meta_graph::webhook::InboundMessage,
) -> Result<Option<Uuid>, CoreError> {
    let contact_row = contacts.iter().find(|c| {
        (c.wa_id.is_some() && c.wa_id == m.from)
            || (c.user_id.is_some() && c.user_id == m.from_user_id)
    });
    let contact = ContactInput {
        name: contact_row
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.clone()),
        wa_id: m.from.clone(),
        bsuid: m
            .from_user_id
            .clone()
            .or_else(|| contact_row.and_then(|c| c.user_id.clone())),
        ..Default::default()
    };
    if contact.wa_id.is_none() && contact.bsuid.is_none() {
        return Err(CoreError::validation(
            "no_sender",
            "the inbound message has neither a wa_id nor a business-scoped user id",
        ));
    }
    let at = m
        .timestamp_secs()
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or_else(Utc::now);
    let exists = wa_message::Entity::find()
        .filter(wa_message::Column::TenantId.eq(tenant_id))
        .filter(wa_message::Column::Wamid.eq(m.id.as_str()))
        .one(db)
        .await?;
    if exists.is_some() {
        return Ok(None);
    }
    let (lead_view, _) = match &m.referral {
        Some(r) => {
            super::attribution::apply_ctwa_referral(db, tenant_id, &contact, r, Some(at)).await?
        }
        None => {
            leads::find_or_create_lead_by_contact(db, &Actor::system(tenant_id), &contact, None)
                .await?
        }
    };
    let body = inbound_text(m);
    let now = Utc::now();
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let id = crm_db::new_id();
    let inserted = wa_message::Entity::insert(wa_message::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        lead_id: Set(lead_view.id),
        direction: Set("in".into()),
        wamid: Set(Some(m.id.clone())),
        kind: Set(m.kind.clone()),
        template_id: Set(None),
        template_name: Set(None),
        template_category: Set(None),
        body: Set(body.clone()),
        status: Set("received".into()),
        sent_at: Set(Some(at)),
        delivered_at: Set(None),
        read_at: Set(None),
        failed_at: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        rule_id: Set(None),
        run_id: Set(None),
        sent_by: Set(None),
        referral: Set(m
            .referral
            .as_ref()
            .and_then(|r| serde_json::to_value(r).ok())),
        payload: Set(serde_json::to_value(m).unwrap_or(Value::Null)),
        idempotency_key: Set(None),
        created_at: Set(at),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([wa_message::Column::TenantId, wa_message::Column::Wamid])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        return Ok(None);
    }
    leads::mark_inbound(&txn, tenant_id, lead_view.id, at).await?;
    let actor = Actor::system(tenant_id);
    timeline::write(
        &txn,
        &actor,
        lead_view.id,
        kind::INBOUND,
        json!({"message_id": id, "wamid": m.id, "body": body, "type": m.kind,
               "referral": m.referral}),
    )
    .await?;
    // Opt-out / opt-in keywords: the whole message, case-insensitive.
    let settings = settings_of(&txn, tenant_id).await?;
    let word = body.trim().trim_end_matches(['.', '!']).to_uppercase();
    let l = lead::Entity::find_by_id(lead_view.id)
        .filter(lead::Column::TenantId.eq(tenant_id))
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound("lead"))?;
    // Meta's timestamps have whole seconds: record consent changes at the
    // later of the message time and now, so they order after earlier ones.
    let consent_at = at.max(now);
    if settings.opt_out_keywords.contains(&word) {
        set_opt(&txn, &l, true, &format!("keyword:{word}"), consent_at).await?;
    } else if settings.opt_in_keywords.contains(&word) {
        set_opt(&txn, &l, false, &format!("keyword:{word}"), consent_at).await?;
    }
    outbox::emit(
        &txn,
        tenant_id,
        "whatsapp_inbound",
        "lead",
        &lead_view.id.to_string(),
        json!({"message_id": id, "wamid": m.id, "at": at}),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(id))
}

/// Applies one delivery status. Unknown wamids are reconciled through
/// `biz_opaque_callback_data` (`m:<message id>`), which covers a crash
/// between Meta's answer and our commit.
pub async fn apply_status(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    s: &meta_graph::webhook::MessageStatus,
) -> Result<bool, CoreError> {
    // Most statuses either name a message this tenant never sent or repeat
    // what is already recorded: find that out with a plain read, so they
    // cost no write transaction (on SQLite, no turn at the write lock).
    let callback_id = s
        .biz_opaque_callback_data
        .as_deref()
        .and_then(|d| d.strip_prefix("m:"))
        .and_then(|d| Uuid::parse_str(d).ok());
    let mut seen = wa_message::Entity::find()
        .filter(wa_message::Column::TenantId.eq(tenant_id))
        .filter(wa_message::Column::Wamid.eq(s.id.as_str()))
        .one(db)
        .await?;
    if seen.is_none()
        && let Some(mid) = callback_id
    {
        seen = wa_message::Entity::find_by_id(mid)
            .filter(wa_message::Column::TenantId.eq(tenant_id))
            .one(db)
            .await?;
    }
    match &seen {
        Some(m) if status_changes(m, &s.status.to_ascii_lowercase()) => {}
        _ => return Ok(false),
    }
    let _gate = crm_db::write_gate(db).await;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    // The row is locked (FOR UPDATE on PostgreSQL; SQLite's write transaction
    // already holds the database lock) so that two status webhooks for the
    // same message, processed concurrently, cannot overwrite each other's
    // forward-only status.
    let mut msg = wa_message::Entity::find()
        .filter(wa_message::Column::TenantId.eq(tenant_id))
        .filter(wa_message::Column::Wamid.eq(s.id.as_str()))
        .lock_exclusive()
        .one(&txn)
        .await?;
    if msg.is_none()
        && let Some(mid) = callback_id
    {
        msg = wa_message::Entity::find_by_id(mid)
            .filter(wa_message::Column::TenantId.eq(tenant_id))
            .lock_exclusive()
            .one(&txn)
            .await?;
    }
    let Some(m) = msg else {
        return Ok(false);
    };
    let at = s
        .timestamp_secs()
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or_else(Utc::now);
    let status = s.status.to_ascii_lowercase();
    let mut am: wa_message::ActiveModel = m.clone().into();
    let mut changed = false;
    if m.wamid.is_none() {
        am.wamid = Set(Some(s.id.clone()));
        changed = true;
    }
    match status.as_str() {
        "sent" if m.sent_at.is_none() => {
            am.sent_at = Set(Some(at));
            changed = true;
        }
        "delivered" if m.delivered_at.is_none() => {
            am.delivered_at = Set(Some(at));
            changed = true;
        }
        "read" | "played" if m.read_at.is_none() => {
            am.read_at = Set(Some(at));
            changed = true;
        }
        "failed" if m.failed_at.is_none() => {
            am.failed_at = Set(Some(at));
            if let Some(e) = s.errors.first() {
                am.error_code = Set(Some(e.code));
                am.error_message = Set(Some(error_text(e)));
            }
            changed = true;
        }
        _ => {}
    }
    let forward = rank(&status) > rank(&m.status);
    if forward {
        am.status = Set(status.clone());
        changed = true;
    }
    if !changed {
        return Ok(false);
    }
    am.updated_at = Set(Utc::now());
    am.update(&txn).await?;
    if let Some(run_id) = m.run_id {
        update_run_status(&txn, run_id, &status, at, forward, s).await?;
    }
    // Meta's 131050: the user stopped marketing messages.
    if status == "failed"
        && s.errors.iter().any(|e| e.code == 131_050)
        && let Some(l) = lead::Entity::find_by_id(m.lead_id)
            .filter(lead::Column::TenantId.eq(tenant_id))
            .one(&txn)
            .await?
        && !consent_of(&l).opted_out
    {
        set_opt(&txn, &l, true, MARKETING_STOP, at).await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Whether applying `status` to `m` would change the row (the same checks
/// as [`apply_status`] makes under the lock).
fn status_changes(m: &wa_message::Model, status: &str) -> bool {
    m.wamid.is_none()
        || rank(status) > rank(&m.status)
        || match status {
            "sent" => m.sent_at.is_none(),
            "delivered" => m.delivered_at.is_none(),
            "read" | "played" => m.read_at.is_none(),
            "failed" => m.failed_at.is_none(),
            _ => false,
        }
}

fn error_text(e: &meta_graph::webhook::WaError) -> String {
    let mut t = e
        .message
        .clone()
        .or_else(|| e.title.clone())
        .unwrap_or_default();
    if let Some(d) = e.error_data.as_ref().and_then(|d| d.details.clone()) {
        t = format!("{t}: {d}");
    }
    t
}

async fn update_run_status(
    conn: &impl ConnectionTrait,
    run_id: Uuid,
    status: &str,
    at: DateTime<Utc>,
    forward: bool,
    s: &meta_graph::webhook::MessageStatus,
) -> Result<(), CoreError> {
    let Some(run) = automation_run::Entity::find_by_id(run_id).one(conn).await? else {
        return Ok(());
    };
    let mut timeline: Vec<Value> = serde_json::from_value(run.timeline.clone()).unwrap_or_default();
    if timeline
        .iter()
        .any(|e| e.get("status").and_then(Value::as_str) == Some(status))
    {
        return Ok(());
    }
    let mut entry = json!({"status": status, "at": at});
    if let Some(e) = s.errors.first() {
        entry["error_code"] = json!(e.code);
        entry["error"] = json!(error_text(e));
    }
    timeline.push(entry);
    timeline
        .sort_by_key(|e| rank(e.get("status").and_then(Value::as_str).unwrap_or_default()) + 10);
    let mut am: automation_run::ActiveModel = run.clone().into();
    am.timeline = Set(json!(timeline));
    if forward && rank(status) > rank(&run.status) {
        am.status = Set(status.to_owned());
    }
    if run.wamid.is_none() {
        am.wamid = Set(Some(s.id.clone()));
    }
    if status == "failed"
        && let Some(e) = s.errors.first()
    {
        am.error_code = Set(Some(e.code));
        am.error_message = Set(Some(error_text(e)));
        am.reason = Set(Some(reason::META_ERROR.into()));
    }
    am.updated_at = Set(Utc::now());
    am.update(conn).await?;
    Ok(())
}

/// Meta's `user_preferences`: marketing stop/resume.
pub async fn apply_user_preference(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    p: &meta_graph::webhook::UserPreference,
) -> Result<bool, CoreError> {
    let value = p.value.as_deref().unwrap_or_default().to_ascii_lowercase();
    if value != "stop" && value != "resume" {
        return Ok(false);
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let mut q = lead::Entity::find().filter(lead::Column::TenantId.eq(tenant_id));
    q = match (&p.wa_id, &p.user_id) {
        (Some(w), _) => q.filter(lead::Column::WaId.eq(w.as_str())),
        (None, Some(u)) => q.filter(lead::Column::Bsuid.eq(u.as_str())),
        _ => return Ok(false),
    };
    let Some(l) = q.one(&txn).await? else {
        return Ok(false);
    };
    let at = p
        .timestamp
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or_else(Utc::now)
        .max(Utc::now());
    let c = consent_of(&l);
    if value == "stop" && !c.opted_out {
        set_opt(&txn, &l, true, MARKETING_STOP, at).await?;
    } else if value == "resume" && c.opted_out {
        set_opt(&txn, &l, false, "meta_marketing_resume", at).await?;
    }
    txn.commit().await?;
    Ok(true)
}

async fn on_messages(cx: HandlerCx, ev: InboxEvent) -> Result<(), HandlerError> {
    let v: meta_graph::webhook::WhatsAppValue = serde_json::from_value(ev.value.clone())
        .map_err(|e| HandlerError::Fail(format!("not a messages change: {e}")))?;
    for m in &v.messages {
        record_inbound(&cx.db, ev.tenant_id, &v.contacts, m).await?;
    }
    for s in &v.statuses {
        apply_status(&cx.db, ev.tenant_id, s).await?;
    }
    Ok(())
}

async fn on_user_preferences(cx: HandlerCx, ev: InboxEvent) -> Result<(), HandlerError> {
    let v: meta_graph::webhook::UserPreferencesValue = serde_json::from_value(ev.value.clone())
        .map_err(|e| HandlerError::Fail(format!("not a user_preferences change: {e}")))?;
    for p in &v.user_preferences {
        apply_user_preference(&cx.db, ev.tenant_id, p).await?;
    }
    Ok(())
}

/// Registers `messages` (inbound, statuses; replaces the Marketing Hub's
/// referral-only handler and calls its attribution) and `user_preferences`.
pub fn register_webhooks(reg: &mut WebhookRegistry) {
    let messages: FieldHandler = Arc::new(|cx, ev| Box::pin(on_messages(cx, ev)));
    let prefs: FieldHandler = Arc::new(|cx, ev| Box::pin(on_user_preferences(cx, ev)));
    reg.register("messages", messages);
    reg.register("user_preferences", prefs);
}

// ---------------------------------------------------------------------------
// Pacing: see `super::pacing`.

/// When the last outbound message to this lead left (for the pair rate).
pub async fn last_outbound_at(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    lead_id: Uuid,
) -> Result<Option<DateTime<Utc>>, CoreError> {
    Ok(wa_message::Entity::find()
        .filter(wa_message::Column::TenantId.eq(tenant_id))
        .filter(wa_message::Column::LeadId.eq(lead_id))
        .filter(wa_message::Column::Direction.eq("out"))
        .order_by_desc(wa_message::Column::CreatedAt)
        .one(conn)
        .await?
        .map(|m| m.created_at))
}

// ---------------------------------------------------------------------------
// Sending

/// Everything needed to send one template to one lead, already checked.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub tenant_id: Uuid,
    pub lead: lead::Model,
    pub template: wa_template::Model,
    pub values: SendValues,
    pub rendered: String,
    pub recipient: Recipient,
    pub rule_id: Option<Uuid>,
    pub run_id: Option<Uuid>,
    pub sent_by: Option<Uuid>,
    /// The reserved send slot: the request waits for it (and the
    /// departure gate) right before it leaves.
    pub slot: Option<super::pacing::Slot>,
    /// The client's `Idempotency-Key` (manual sends).
    pub idempotency_key: Option<String>,
}

/// Splits flat variables (`1`, `name`, `header.1`, `button.0`) into sections.
pub fn split_values(flat: &BTreeMap<String, String>) -> SendValues {
    let mut v = SendValues::default();
    for (k, val) in flat {
        if let Some(h) = k.strip_prefix("header.") {
            v.header.insert(h.to_owned(), val.clone());
        } else if let Some(b) = k.strip_prefix("button.") {
            v.buttons.insert(b.to_owned(), val.clone());
        } else {
            v.body.insert(k.clone(), val.clone());
        }
    }
    v
}

/// Checks template status, parameters and recipient, and renders the text.
/// Returns the reason code and message of the first failed check.
pub fn prepare(
    lead: &lead::Model,
    template: &wa_template::Model,
    flat: &BTreeMap<String, String>,
) -> Result<(SendValues, String, Recipient), (&'static str, CoreError)> {
    if template.status != APPROVED {
        let code = if template.status == "PAUSED" {
            reason::TEMPLATE_PAUSED
        } else {
            reason::TEMPLATE_NOT_APPROVED
        };
        return Err((
            code,
            CoreError::Conflict {
                code,
                message: format!(
                    "the template {} ({}) is {}, not APPROVED",
                    template.name, template.language, template.status
                ),
                details: Some(json!({"status": template.status})),
            },
        ));
    }
    let components: Vec<Component> =
        serde_json::from_value(template.components.clone()).unwrap_or_default();
    let slots = tpl::slots(&components).map_err(|m| {
        (
            reason::PARAMETER_MISMATCH,
            CoreError::validation("invalid_template", m),
        )
    })?;
    let values = split_values(flat);
    tpl::check_values(&slots, &values).map_err(|e| (reason::PARAMETER_MISMATCH, e))?;
    let rendered = tpl::render_message(&components, &values).map_err(|m| {
        (
            reason::PARAMETER_MISMATCH,
            CoreError::validation("parameter_count_mismatch", m),
        )
    })?;
    let recipient = recipient_of(lead).ok_or((
        reason::NO_RECIPIENT,
        CoreError::validation(
            "no_recipient",
            "the lead has no WhatsApp id, phone number or business-scoped id",
        ),
    ))?;
    if let Some(r) = consent_block(lead, &template.category) {
        let msg = if r == reason::OPTED_OUT {
            "the lead opted out of these messages"
        } else {
            "marketing templates need the lead's opt-in"
        };
        return Err((
            r,
            CoreError::Conflict {
                code: r,
                message: msg.into(),
                details: Some(json!({"category": template.category})),
            },
        ));
    }
    Ok((values, rendered, recipient))
}

/// Sends Meta refused with 130429 (per-number throughput) in this process;
/// read by `crm bench hsm-send`, which expects none.
pub static THROTTLED_130429: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The result of a send attempt.
#[derive(Debug)]
pub enum SendOutcome {
    Sent {
        message_id: Uuid,
        wamid: String,
    },
    /// Meta refused permanently: code and message are stored.
    Failed {
        message_id: Uuid,
        code: Option<i64>,
        message: String,
    },
    /// Throttled or unavailable: nothing was recorded as sent; try again.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// The token was refused: the tenant's Meta connection is now paused.
    TokenInvalid(String),
    /// Meta may or may not have the message (timeout after sending); the
    /// status webhook will reconcile through the callback data.
    Unknown {
        message_id: Uuid,
    },
    /// Another worker already took this run (automation only).
    AlreadyClaimed,
}

/// Counts one send attempt's outcome (`crm_wa_sends_total`).
pub(crate) fn count_send(outcome: &'static str, code: Option<i64>) {
    let code = code.map(|c| c.to_string()).unwrap_or_default();
    ::metrics::counter!("crm_wa_sends_total", "outcome" => outcome, "code" => code).increment(1);
}

/// Writes the outgoing message (status `sending`) BEFORE calling Meta, calls
/// Meta with `biz_opaque_callback_data = m:<message id>`, then records the
/// answer. A crash after Meta accepted leaves a `sending` row that the
/// status webhook completes; the caller must never resend a `sending` row.
pub async fn send_prepared(
    db: &DatabaseConnection,
    env: &MetaEnv,
    phone_number_id: &str,
    p: &Prepared,
) -> Result<SendOutcome, CoreError> {
    send_inner(db, env, phone_number_id, p, None).await
}

/// Hands an unconfirmed message (`sending`, no status ever came back for its
/// `biz_opaque_callback_data`) to Meta again, with the same callback data.
/// Only one caller wins: the row is re-claimed with a compare-and-set on its
/// `updated_at`, so two workers reconciling the same message cannot both send.
/// The automation engine decides *when* this is safe (see
/// `automation::reconcile`).
pub async fn resend_unconfirmed(
    db: &DatabaseConnection,
    env: &MetaEnv,
    phone_number_id: &str,
    p: &Prepared,
    message: &wa_message::Model,
) -> Result<SendOutcome, CoreError> {
    send_inner(db, env, phone_number_id, p, Some(message)).await
}

async fn send_inner(
    db: &DatabaseConnection,
    env: &MetaEnv,
    phone_number_id: &str,
    p: &Prepared,
    existing: Option<&wa_message::Model>,
) -> Result<SendOutcome, CoreError> {
    let now = Utc::now();
    let message_id = existing.map_or_else(crm_db::new_id, |m| m.id);
    let named = p.template.parameter_format.eq_ignore_ascii_case("NAMED");
    let components: Vec<Component> =
        serde_json::from_value(p.template.components.clone()).unwrap_or_default();
    let slots =
        tpl::slots(&components).map_err(|m| CoreError::validation("invalid_template", m))?;
    let send_components: Vec<SendComponent> =
        serde_json::from_value(json!(tpl::send_components(&slots, &p.values, named)))
            .map_err(|e| CoreError::Internal(e.to_string()))?;
    let token = match meta_connection::access_token_for(db, &env.keyring, p.tenant_id).await {
        Ok(t) => t,
        Err(CoreError::Conflict {
            code: "meta_paused",
            message,
            ..
        }) => {
            return Ok(SendOutcome::TokenInvalid(message));
        }
        Err(e) => return Err(e),
    };
    let graph = env.graph().map_err(|e| match e {
        MetaFail::Core(c) => c,
        other => CoreError::Internal(other.to_string()),
    })?;
    if let Some(m) = existing {
        // Re-claim the unconfirmed row: exactly one reconciler gets it.
        let claimed = wa_message::Entity::update_many()
            .col_expr(wa_message::Column::UpdatedAt, Expr::value(now))
            .col_expr(wa_message::Column::Body, Expr::value(p.rendered.clone()))
            .filter(wa_message::Column::Id.eq(m.id))
            .filter(wa_message::Column::Status.eq("sending"))
            .filter(wa_message::Column::UpdatedAt.eq(m.updated_at))
            .exec(db)
            .await?;
        if claimed.rows_affected == 0 {
            return Ok(SendOutcome::AlreadyClaimed);
        }
    } else {
        let _gate = crm_db::write_gate(db).await;
        let txn = db.begin_with_options(crm_db::write_txn()).await?;
        insert_claim(&txn, p, message_id, now).await?;
        if let Some(run_id) = p.run_id
            && !claim_run(&txn, run_id, message_id, p, now).await?
        {
            txn.rollback().await?;
            return Ok(SendOutcome::AlreadyClaimed);
        }
        txn.commit().await?;
    }
    call_and_record(
        db,
        phone_number_id,
        p,
        message_id,
        token,
        graph,
        send_components,
    )
    .await
}

async fn insert_claim(
    txn: &impl ConnectionTrait,
    p: &Prepared,
    message_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    wa_message::ActiveModel {
        id: Set(message_id),
        tenant_id: Set(p.tenant_id),
        lead_id: Set(p.lead.id),
        direction: Set("out".into()),
        wamid: Set(None),
        kind: Set("template".into()),
        template_id: Set(Some(p.template.id)),
        template_name: Set(Some(p.template.name.clone())),
        template_category: Set(Some(p.template.category.clone())),
        body: Set(p.rendered.clone()),
        status: Set("sending".into()),
        sent_at: Set(None),
        delivered_at: Set(None),
        read_at: Set(None),
        failed_at: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        rule_id: Set(p.rule_id),
        run_id: Set(p.run_id),
        sent_by: Set(p.sent_by),
        referral: Set(None),
        payload: Set(json!({"values": p.values, "language": p.template.language})),
        idempotency_key: Set(p.idempotency_key.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Claims the run in the same transaction as the message row: only one
/// worker can move it out of its pending state. A `sending` run is handed to
/// Meta again only through [`resend_unconfirmed`].
async fn claim_run(
    txn: &impl ConnectionTrait,
    run_id: Uuid,
    message_id: Uuid,
    p: &Prepared,
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    {
        let claimed = automation_run::Entity::update_many()
            .col_expr(automation_run::Column::Status, Expr::value("sending"))
            .col_expr(automation_run::Column::MessageId, Expr::value(message_id))
            .col_expr(
                automation_run::Column::Rendered,
                Expr::value(p.rendered.clone()),
            )
            .col_expr(
                automation_run::Column::Variables,
                Expr::value(json!(p.values)),
            )
            .col_expr(automation_run::Column::UpdatedAt, Expr::value(now))
            .filter(automation_run::Column::Id.eq(run_id))
            .filter(automation_run::Column::Status.is_in([
                "queued",
                "scheduled",
                "rescheduled",
                "paused",
            ]))
            .exec(txn)
            .await?;
        Ok(claimed.rows_affected > 0)
    }
}

async fn call_and_record(
    db: &DatabaseConnection,
    phone_number_id: &str,
    p: &Prepared,
    message_id: Uuid,
    token: AccessToken,
    graph: &GraphClient,
    send_components: Vec<SendComponent>,
) -> Result<SendOutcome, CoreError> {
    let msg = TemplateMessage {
        to: p.recipient.clone(),
        name: p.template.name.clone(),
        language: p.template.language.clone(),
        components: send_components,
        biz_opaque_callback_data: Some(format!("m:{message_id}")),
    };
    let session = graph.session(token);
    if let Some(slot) = &p.slot {
        slot.depart().await;
    }
    let result = session.send_template(phone_number_id, &msg).await;
    let after = Utc::now();
    match result {
        Ok(r) => {
            let wamid = r.wamid().unwrap_or_default().to_owned();
            let _gate = crm_db::write_gate(db).await;
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            // One statement: statuses only move forward (see `rank`), and
            // a status webhook that came first keeps its wamid and time.
            use sea_orm::sea_query::ExprTrait as _;
            let before_sent = ["sent", "delivered", "failed", "read", "played"];
            wa_message::Entity::update_many()
                .col_expr(
                    wa_message::Column::Wamid,
                    Func::coalesce([
                        Expr::col(wa_message::Column::Wamid),
                        Expr::value(wamid.clone()),
                    ])
                    .into(),
                )
                .col_expr(
                    wa_message::Column::Status,
                    Expr::case(
                        Expr::col(wa_message::Column::Status).is_not_in(before_sent),
                        "sent",
                    )
                    .finally(Expr::col(wa_message::Column::Status))
                    .into(),
                )
                .col_expr(
                    wa_message::Column::SentAt,
                    Func::coalesce([Expr::col(wa_message::Column::SentAt), Expr::value(after)])
                        .into(),
                )
                .col_expr(wa_message::Column::UpdatedAt, Expr::value(after))
                .filter(wa_message::Column::Id.eq(message_id))
                .exec(&txn)
                .await?;
            if let Some(run_id) = p.run_id
                && let Some(run) = automation_run::Entity::find_by_id(run_id).one(&txn).await?
            {
                let mut tl: Vec<Value> =
                    serde_json::from_value(run.timeline.clone()).unwrap_or_default();
                if !tl
                    .iter()
                    .any(|e| e.get("status").and_then(Value::as_str) == Some("sent"))
                {
                    tl.push(json!({"status": "sent", "at": after}));
                }
                let mut am: automation_run::ActiveModel = run.clone().into();
                if rank(&run.status) < rank("sent") {
                    am.status = Set("sent".into());
                }
                am.wamid = Set(Some(wamid.clone()));
                am.timeline = Set(json!(tl));
                am.updated_at = Set(after);
                am.update(&txn).await?;
            }
            timeline::write(
                &txn,
                &Actor {
                    tenant_id: p.tenant_id,
                    user_id: p.sent_by,
                    ..Default::default()
                },
                p.lead.id,
                kind::OUTBOUND,
                json!({"message_id": message_id, "wamid": wamid, "template": p.template.name,
                       "language": p.template.language, "body": p.rendered, "rule_id": p.rule_id}),
            )
            .await?;
            txn.commit().await?;
            count_send("sent", None);
            Ok(SendOutcome::Sent { message_id, wamid })
        }
        Err(e) => {
            let (outcome, record): (SendOutcome, Option<(Option<i64>, String)>) = match &e {
                GraphError::TokenExpired(_) | GraphError::TokenInvalid(_) => {
                    let _ = meta_connection::mark_invalid(db, p.tenant_id, &e).await;
                    (SendOutcome::TokenInvalid(e.to_string()), None)
                }
                GraphError::Throttled { retry_after, .. } => (
                    SendOutcome::Retry {
                        error: e.to_string(),
                        after: Some(*retry_after),
                    },
                    None,
                ),
                GraphError::WhatsApp { .. } if matches!(e.code(), Some(130_429 | 131_056)) => {
                    if e.code() == Some(130_429) {
                        THROTTLED_130429.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!("Meta refused a send with 130429 (throughput cap)");
                    }
                    (
                        SendOutcome::Retry {
                            error: e.to_string(),
                            after: Some(if e.code() == Some(131_056) {
                                PAIR_INTERVAL
                            } else {
                                Duration::from_secs(1)
                            }),
                        },
                        None,
                    )
                }
                GraphError::Transient { .. } => {
                    // Not repeated by the client: Meta may have it. Leave the
                    // row `sending` for the status webhook to settle.
                    count_send("unknown", e.code());
                    return Ok(SendOutcome::Unknown { message_id });
                }
                other => {
                    let meta = other.meta();
                    let code = meta.map(|m| m.code);
                    let text = meta
                        .map(|m| match m.details() {
                            Some(d) => format!("{}: {d}", m.message),
                            None => m.message.clone(),
                        })
                        .unwrap_or_else(|| other.to_string());
                    (
                        SendOutcome::Failed {
                            message_id,
                            code,
                            message: text.clone(),
                        },
                        Some((code, text)),
                    )
                }
            };
            count_send(
                match &outcome {
                    SendOutcome::TokenInvalid(_) => "token_invalid",
                    SendOutcome::Retry { .. } => "retry",
                    _ => "failed",
                },
                e.code(),
            );
            let _gate = crm_db::write_gate(db).await;
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            match &record {
                Some((code, text)) => {
                    wa_message::Entity::update_many()
                        .col_expr(wa_message::Column::Status, Expr::value("failed"))
                        .col_expr(wa_message::Column::FailedAt, Expr::value(after))
                        .col_expr(wa_message::Column::ErrorCode, Expr::value(*code))
                        .col_expr(wa_message::Column::ErrorMessage, Expr::value(text.clone()))
                        .col_expr(wa_message::Column::UpdatedAt, Expr::value(after))
                        .filter(wa_message::Column::Id.eq(message_id))
                        .exec(&txn)
                        .await?;
                    if code == &Some(131_050) && !consent_of(&p.lead).opted_out {
                        set_opt(&txn, &p.lead, true, MARKETING_STOP, after).await?;
                    }
                }
                None => {
                    // Nothing reached Meta: drop the pending row so a retry
                    // starts clean.
                    wa_message::Entity::delete_by_id(message_id)
                        .exec(&txn)
                        .await?;
                    if let Some(run_id) = p.run_id {
                        automation_run::Entity::update_many()
                            .col_expr(automation_run::Column::Status, Expr::value("scheduled"))
                            .col_expr(
                                automation_run::Column::MessageId,
                                Expr::value(Option::<Uuid>::None),
                            )
                            .filter(automation_run::Column::Id.eq(run_id))
                            .exec(&txn)
                            .await?;
                    }
                }
            }
            txn.commit().await?;
            Ok(outcome)
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SendInput {
    pub lead_id: Uuid,
    /// Variable key (`1`, `2`, a named parameter, `header.1`, `button.0`) → text.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SendView {
    pub message: MessageView,
    pub window: WindowState,
}

/// `POST hsm/templates/{id}/send`: a manual send, validated before Meta
/// (approved, parameter count, consent, recipient), paced like automation.
/// The longest a manual send (a person waiting on the answer) waits for a
/// send slot of its number: well under the request timeout, so the answer
/// is never a 408 with the message stuck in `sending`.
pub const MANUAL_SEND_MAX_WAIT: Duration = Duration::from_secs(10);

/// Reserves a send slot for a person's send, or says when to try again.
pub async fn manual_slot(
    db: &DatabaseConnection,
    phone: &str,
    mps: i32,
) -> Result<super::pacing::Slot, MetaFail> {
    match super::pacing::try_reserve(db, phone, mps, MANUAL_SEND_MAX_WAIT).await? {
        Ok(slot) => Ok(slot),
        Err(later) => Err(MetaFail::Meta {
            kind: meta_connection::MetaFailKind::Throttled,
            code: "send_busy",
            message: format!(
                "this WhatsApp number is sending at its limit; try again in {} s",
                later.as_secs().max(1)
            ),
            details: None,
            retry_after_secs: Some(later.as_secs().max(1)),
        }),
    }
}

/// A message a manual send with this `Idempotency-Key` already created.
async fn by_idempotency_key(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    key: &str,
) -> Result<Option<wa_message::Model>, CoreError> {
    Ok(wa_message::Entity::find()
        .filter(wa_message::Column::TenantId.eq(tenant_id))
        .filter(wa_message::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

/// What a repeated `Idempotency-Key` answers: the first send's message,
/// if it was the same send (same lead and template).
fn replayed(
    m: wa_message::Model,
    lead: &lead::Model,
    template_id: Uuid,
) -> Result<SendView, MetaFail> {
    if m.lead_id != lead.id || m.template_id != Some(template_id) {
        return Err(CoreError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for another send",
        )
        .into());
    }
    Ok(SendView {
        message: m.into(),
        window: window_of(lead, Utc::now()),
    })
}

/// `send_manual`'s answer: the message, and whether it was a repeat of an
/// earlier request with the same `Idempotency-Key` (nothing was sent).
pub struct ManualSend {
    pub view: SendView,
    pub replayed: bool,
}

pub async fn send_manual(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    template_id: Uuid,
    input: &SendInput,
    idempotency_key: Option<&str>,
) -> Result<ManualSend, MetaFail> {
    ctx.require(Permission::MessagesSend)?;
    let l = leads::visible_lead(db, ctx, input.lead_id).await?;
    if let Some(key) = idempotency_key
        && let Some(m) = by_idempotency_key(db, ctx.tenant_id, key).await?
    {
        return Ok(ManualSend {
            view: replayed(m, &l, template_id)?,
            replayed: true,
        });
    }
    let t = templates::find(db, ctx.tenant_id, template_id).await?;
    let (values, rendered, recipient) = prepare(&l, &t, &input.variables).map_err(|(_, e)| e)?;
    let (_, phone) = templates::whatsapp_ids(db, ctx.tenant_id).await?;
    let settings = settings_of(db, ctx.tenant_id).await?;
    let slot = manual_slot(db, &phone, settings.messages_per_second).await?;
    let p = Prepared {
        tenant_id: ctx.tenant_id,
        lead: l.clone(),
        template: t.clone(),
        values,
        rendered,
        recipient,
        rule_id: None,
        run_id: None,
        sent_by: ctx.user_id,
        slot: Some(slot),
        idempotency_key: idempotency_key.map(str::to_owned),
    };
    let outcome = match send_prepared(db, env, &phone, &p).await {
        Ok(o) => o,
        Err(e) => {
            // Two requests with the same key at once: the unique index let
            // one claim the message; the other answers with it.
            if let Some(key) = idempotency_key
                && let Some(m) = by_idempotency_key(db, ctx.tenant_id, key).await?
            {
                return Ok(ManualSend {
                    view: replayed(m, &l, template_id)?,
                    replayed: true,
                });
            }
            return Err(e.into());
        }
    };
    let message_id = match outcome {
        SendOutcome::Sent { message_id, .. } => message_id,
        SendOutcome::Unknown { message_id } => {
            // Meta did not answer: held for the sender to resend or dismiss
            // (a status webhook arriving later settles it).
            if let Some(m) = wa_message::Entity::find_by_id(message_id).one(db).await? {
                super::send_review::hold(db, &m).await?;
            }
            message_id
        }
        SendOutcome::Failed { code, message, .. } => {
            return Err(MetaFail::Core(CoreError::Conflict {
                code: "meta_send_failed",
                message: format!("Meta refused the message: {message}"),
                details: Some(json!({"meta_code": code})),
            }));
        }
        SendOutcome::Retry { error, after } => {
            return Err(MetaFail::Meta {
                kind: meta_connection::MetaFailKind::Throttled,
                code: "meta_throttled",
                message: format!("Meta is throttling sends; try again shortly ({error})"),
                details: None,
                retry_after_secs: after.map(|d| d.as_secs().max(1)),
            });
        }
        SendOutcome::AlreadyClaimed | SendOutcome::TokenInvalid(_) => {
            return Err(MetaFail::Core(CoreError::conflict(
                "meta_paused",
                "the Meta connection is not usable; reconnect Meta to send",
            )));
        }
    };
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.message.send",
        "wa_message",
        Some(message_id.to_string()),
        json!({"lead_id": l.id, "template": t.name, "language": t.language}),
    )
    .await?;
    txn.commit().await?;
    let m = wa_message::Entity::find_by_id(message_id)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("message"))?;
    Ok(ManualSend {
        view: SendView {
            message: m.into(),
            window: window_of(&l, Utc::now()),
        },
        replayed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        assert!(rank("delivered") > rank("sent"));
        assert!(rank("read") > rank("delivered"));
        assert!(rank("failed") > rank("delivered"));
        assert!(rank("read") > rank("failed"));
        assert!(rank("sent") > rank("sending"));
    }
}
