//! Automation rules and the engine that runs them.
//!
//! - Event triggers: an outbox consumer (`hsm.automation_event`) turns each
//!   matching event into a run row and a delayed send job.
//! - Time triggers: a scheduler job (`hsm.automation_tick`, every minute)
//!   finds due leads for `no_reply`, `inactive` and `date_relative` rules.
//! - Every run has a unique `send_key` (rule, lead, trigger occurrence), so
//!   the same occurrence never yields a second run. The send job
//!   (`hsm.automation_send`) applies the guards, each with a reason code,
//!   then sends through `messaging::send_prepared`, which writes the message
//!   as `sending` before calling Meta: a job that finds its run already
//!   `sending` never calls Meta again (the status webhook, matched by
//!   `biz_opaque_callback_data`, settles it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use crm_db::audit::{self, Actor};
use crm_db::entity::{
    automation_rule, automation_run, lead, lead_activity, opportunity, pipeline_stage, tenant,
    user, wa_message, wa_template,
};
use crm_db::jobs::{self, NewJob};
use crm_db::outbox;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::messaging::{self, Prepared, SendOutcome};
use super::meta_connection::{self, MetaEnv};
use super::page::{self, Cursor, Page};
use super::templates;
use crate::automation::rule::{
    Action, Binding, FrequencyCap, QuietHours, RuleSpec, Trigger, reason,
};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

pub const EVENT_JOB: &str = "hsm.automation_event";
pub const SEND_JOB: &str = "hsm.automation_send";
pub const TICK_JOB: &str = "hsm.automation_tick";

pub const EVENT_TYPES: [&str; 4] = [
    "lead_created",
    "lead_status_changed",
    "opportunity_stage_changed",
    "opportunity_won",
];

pub fn wants_event(t: &str) -> bool {
    EVENT_TYPES.contains(&t) || t == "meta_status_changed"
}

// ---------------------------------------------------------------------------
// Rules

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleCounts {
    pub sent: u64,
    pub skipped: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Set on the starter rules.
    pub starter_key: Option<String>,
    /// Runs of the last 7 days.
    pub last_7_days: RuleCounts,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn spec_of(m: &automation_rule::Model) -> Result<RuleSpec, CoreError> {
    serde_json::from_value(m.spec.clone())
        .map_err(|e| CoreError::Internal(format!("stored rule {} is unreadable: {e}", m.id)))
}

async fn counts(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    rule_id: Uuid,
) -> Result<RuleCounts, CoreError> {
    let since = Utc::now() - chrono::Duration::days(7);
    let base = || {
        automation_run::Entity::find()
            .filter(automation_run::Column::TenantId.eq(tenant_id))
            .filter(automation_run::Column::RuleId.eq(rule_id))
            .filter(automation_run::Column::CreatedAt.gte(since))
    };
    Ok(RuleCounts {
        sent: base()
            .filter(automation_run::Column::Status.is_in(["sent", "delivered", "read"]))
            .count(conn)
            .await?,
        skipped: base()
            .filter(automation_run::Column::Status.eq("skipped"))
            .count(conn)
            .await?,
        failed: base()
            .filter(automation_run::Column::Status.eq("failed"))
            .count(conn)
            .await?,
    })
}

async fn view(
    conn: &impl ConnectionTrait,
    m: automation_rule::Model,
) -> Result<RuleView, CoreError> {
    Ok(RuleView {
        spec: spec_of(&m)?,
        last_7_days: counts(conn, m.tenant_id, m.id).await?,
        id: m.id,
        starter_key: m.starter_key,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn starter_rules() -> Vec<(&'static str, RuleSpec)> {
    let name_binding = || {
        let mut b = BTreeMap::new();
        b.insert(
            "1".to_owned(),
            Binding {
                source: "lead.first_name".into(),
                value: None,
                fallback: Some("hola".into()),
            },
        );
        b
    };
    let rule = |name: &str, trigger: Trigger, template: &str| RuleSpec {
        name: name.to_owned(),
        trigger,
        conditions: vec![],
        action: Action {
            template_name: template.to_owned(),
            language: "es".into(),
            bindings: name_binding(),
            add_tag: None,
            set_status: None,
        },
        delay_minutes: 0,
        quiet_hours: Some(QuietHours {
            start: "21:00".into(),
            end: "09:00".into(),
            timezone: "lead".into(),
        }),
        frequency_cap: Some(FrequencyCap { max: 3, hours: 24 }),
        enabled: false,
    };
    vec![
        (
            "welcome_meta_lead",
            rule(
                "Bienvenida a leads de Meta",
                Trigger::LeadCreated {
                    source: Some("meta_ads".into()),
                    channel: None,
                    campaign_id: None,
                },
                "bienvenida",
            ),
        ),
        (
            "no_reply_2h",
            rule(
                "Seguimiento sin respuesta (2 h)",
                Trigger::NoReply { hours: 2 },
                "seguimiento",
            ),
        ),
        (
            "no_reply_24h",
            rule(
                "Seguimiento sin respuesta (24 h)",
                Trigger::NoReply { hours: 24 },
                "seguimiento",
            ),
        ),
        (
            "thanks_on_won",
            rule(
                "Gracias por tu compra",
                Trigger::OpportunityWon,
                "gracias_compra",
            ),
        ),
    ]
}

/// Creates the starter rules (disabled) the first time a tenant looks.
async fn ensure_starters(conn: &impl ConnectionTrait, tenant_id: Uuid) -> Result<(), CoreError> {
    let have = automation_rule::Entity::find()
        .filter(automation_rule::Column::TenantId.eq(tenant_id))
        .filter(automation_rule::Column::StarterKey.is_not_null())
        .count(conn)
        .await?;
    if have > 0 {
        return Ok(());
    }
    let now = Utc::now();
    for (key, spec) in starter_rules() {
        automation_rule::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(tenant_id),
            name: Set(spec.name.clone()),
            enabled: Set(false),
            trigger_type: Set(spec.trigger.kind().to_owned()),
            spec: Set(json!(spec)),
            starter_key: Set(Some(key.to_owned())),
            created_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

pub async fn list_rules(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
) -> Result<Vec<RuleView>, CoreError> {
    ctx.require(Permission::HsmManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    ensure_starters(&txn, ctx.tenant_id).await?;
    txn.commit().await?;
    let rows = automation_rule::Entity::find()
        .filter(automation_rule::Column::TenantId.eq(ctx.tenant_id))
        .order_by_asc(automation_rule::Column::CreatedAt)
        .order_by_asc(automation_rule::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(view(db, r).await?);
    }
    Ok(out)
}

async fn find_rule(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<automation_rule::Model, CoreError> {
    automation_rule::Entity::find_by_id(id)
        .filter(automation_rule::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("rule"))
}

pub async fn get_rule(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<RuleView, CoreError> {
    ctx.require(Permission::HsmManage)?;
    let r = find_rule(db, ctx.tenant_id, id).await?;
    view(db, r).await
}

/// Checks the rule's template (when it exists locally) has a binding for
/// every variable and no extra ones.
async fn check_template_bindings(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    spec: &RuleSpec,
) -> Result<(), CoreError> {
    if let Some(st) = &spec.action.set_status
        && super::leads::LeadStatus::parse(st).is_none()
    {
        return Err(CoreError::validation(
            "invalid_status",
            format!(
                "set_status must be one of new, contacted, qualified, unqualified, customer, lost (got {st:?})"
            ),
        ));
    }
    let t = wa_template::Entity::find()
        .filter(wa_template::Column::TenantId.eq(tenant_id))
        .filter(wa_template::Column::Name.eq(spec.action.template_name.as_str()))
        .filter(wa_template::Column::Language.eq(spec.action.language.as_str()))
        .one(conn)
        .await?;
    let Some(t) = t else {
        return Ok(());
    };
    let comps: Vec<crate::automation::template::Component> =
        serde_json::from_value(t.components).unwrap_or_default();
    let mut want = templates::variable_keys(&comps);
    want.sort();
    let got: Vec<String> = spec.action.bindings.keys().cloned().collect();
    if want != got {
        return Err(CoreError::Validation {
            code: "parameter_count_mismatch",
            message: format!(
                "the template {} needs bindings for [{}] but the rule maps [{}]",
                spec.action.template_name,
                want.join(", "),
                got.join(", ")
            ),
            details: Some(json!({"expected": want, "given": got})),
        });
    }
    Ok(())
}

pub async fn create_rule(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    spec: &RuleSpec,
) -> Result<RuleView, CoreError> {
    ctx.require(Permission::HsmManage)?;
    spec.validate()?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    check_template_bindings(&txn, ctx.tenant_id, spec).await?;
    let now = Utc::now();
    let m = automation_rule::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(ctx.tenant_id),
        name: Set(spec.name.trim().to_owned()),
        enabled: Set(spec.enabled),
        trigger_type: Set(spec.trigger.kind().to_owned()),
        spec: Set(json!(spec)),
        starter_key: Set(None),
        created_by: Set(ctx.user_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.rule.create",
        "automation_rule",
        Some(m.id.to_string()),
        json!({"name": m.name, "trigger": m.trigger_type, "enabled": m.enabled}),
    )
    .await?;
    txn.commit().await?;
    view(db, m).await
}

pub async fn update_rule(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    spec: &RuleSpec,
) -> Result<RuleView, CoreError> {
    ctx.require(Permission::HsmManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let r = find_rule(&txn, ctx.tenant_id, id).await?;
    spec.validate()?;
    check_template_bindings(&txn, ctx.tenant_id, spec).await?;
    let mut am: automation_rule::ActiveModel = r.into();
    am.name = Set(spec.name.trim().to_owned());
    am.enabled = Set(spec.enabled);
    am.trigger_type = Set(spec.trigger.kind().to_owned());
    am.spec = Set(json!(spec));
    am.updated_at = Set(Utc::now());
    let m = am.update(&txn).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.rule.update",
        "automation_rule",
        Some(m.id.to_string()),
        json!({"name": m.name, "trigger": m.trigger_type, "enabled": m.enabled}),
    )
    .await?;
    txn.commit().await?;
    view(db, m).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ToggleInput {
    pub enabled: bool,
}

pub async fn toggle_rule(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    enabled: bool,
) -> Result<RuleView, CoreError> {
    ctx.require(Permission::HsmManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let r = find_rule(&txn, ctx.tenant_id, id).await?;
    let mut spec = spec_of(&r)?;
    spec.enabled = enabled;
    let mut am: automation_rule::ActiveModel = r.into();
    am.enabled = Set(enabled);
    am.spec = Set(json!(spec));
    am.updated_at = Set(Utc::now());
    let m = am.update(&txn).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        if enabled {
            "hsm.rule.enable"
        } else {
            "hsm.rule.disable"
        },
        "automation_rule",
        Some(m.id.to_string()),
        json!({"name": m.name}),
    )
    .await?;
    txn.commit().await?;
    view(db, m).await
}

pub async fn delete_rule(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<(), CoreError> {
    ctx.require(Permission::HsmManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let r = find_rule(&txn, ctx.tenant_id, id).await?;
    automation_rule::Entity::delete_by_id(r.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.rule.delete",
        "automation_rule",
        Some(r.id.to_string()),
        json!({"name": r.name}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Facts

fn first_name(s: &str) -> String {
    s.split_whitespace().next().unwrap_or_default().to_owned()
}

/// Lead, latest opportunity, seller and tenant facts for conditions and
/// bindings.
pub async fn facts_for(
    conn: &impl ConnectionTrait,
    l: &lead::Model,
) -> Result<crate::automation::rule::Facts, CoreError> {
    Ok(facts_and_tenant_tz(conn, l).await?.0)
}

/// [`facts_for`], plus the tenant's timezone (for quiet hours) from the same
/// read.
async fn facts_and_tenant_tz(
    conn: &impl ConnectionTrait,
    l: &lead::Model,
) -> Result<(crate::automation::rule::Facts, String), CoreError> {
    let mut f = crate::automation::rule::Facts::new();
    let s = |v: &str| Value::String(v.to_owned());
    f.insert("lead.name".into(), s(&l.name));
    f.insert("lead.first_name".into(), s(&first_name(&l.name)));
    f.insert("lead.phone".into(), json!(l.phone));
    f.insert("lead.email".into(), json!(l.email));
    f.insert("lead.status".into(), s(&l.status));
    f.insert("lead.source".into(), s(&l.lead_source));
    f.insert("lead.channel".into(), s(&l.channel));
    f.insert("lead.tags".into(), l.tags.clone());
    f.insert("lead.owner_id".into(), json!(l.owner_id));
    f.insert("lead.campaign_id".into(), json!(l.meta_campaign_id));
    f.insert(
        "lead.has_phone".into(),
        json!(l.phone.is_some() || l.wa_id.is_some()),
    );
    f.insert(
        "lead.has_whatsapp".into(),
        json!(l.wa_id.is_some() || l.bsuid.is_some()),
    );
    f.insert(
        "lead.opted_in".into(),
        json!(messaging::consent_of(l).opted_in),
    );
    if let Some(o) = opportunity::Entity::find()
        .filter(opportunity::Column::TenantId.eq(l.tenant_id))
        .filter(opportunity::Column::LeadId.eq(l.id))
        .order_by_desc(opportunity::Column::UpdatedAt)
        .one(conn)
        .await?
    {
        f.insert("opportunity.title".into(), s(&o.name));
        let exp = crate::validate::currency_exponent(&o.currency).unwrap_or(2);
        let div = 10i64.pow(exp);
        let value = if exp == 0 {
            format!("{} {}", o.value_minor, o.currency)
        } else {
            format!(
                "{}.{:0width$} {}",
                o.value_minor / div,
                (o.value_minor % div).abs(),
                o.currency,
                width = exp as usize
            )
        };
        f.insert("opportunity.value".into(), s(&value));
        if let Some(st) = pipeline_stage::Entity::find_by_id(o.stage_id)
            .one(conn)
            .await?
        {
            f.insert("opportunity.stage".into(), s(&st.key));
            f.insert("opportunity.status".into(), s(&st.kind));
        }
    }
    if let Some(owner) = l.owner_id
        && let Some(u) = user::Entity::find_by_id(owner)
            .filter(user::Column::TenantId.eq(l.tenant_id))
            .one(conn)
            .await?
    {
        f.insert("seller.name".into(), s(&u.name));
        f.insert("seller.first_name".into(), s(&first_name(&u.name)));
    }
    let mut tz = String::new();
    if let Some(t) = tenant::Entity::find_by_id(l.tenant_id).one(conn).await? {
        f.insert("tenant.name".into(), s(&t.name));
        tz = t.timezone;
    }
    Ok((f, tz))
}

fn lead_tz(l: &lead::Model, tenant_tz: &str, source: &str) -> Tz {
    let pick = if source == "tenant" || l.timezone.is_empty() {
        tenant_tz
    } else {
        l.timezone.as_str()
    };
    pick.parse().unwrap_or(chrono_tz::UTC)
}

// ---------------------------------------------------------------------------
// Evaluation (shared by the engine and dry-run)

/// What the guards decided for one lead.
#[derive(Debug, Clone)]
pub enum Decision {
    Send {
        template: Box<wa_template::Model>,
        values: BTreeMap<String, String>,
        rendered: String,
        recipient: meta_graph::whatsapp::Recipient,
    },
    Skip {
        reason: &'static str,
        detail: String,
    },
    Reschedule {
        at: DateTime<Utc>,
    },
}

async fn find_template(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    a: &Action,
) -> Result<Option<wa_template::Model>, CoreError> {
    Ok(wa_template::Entity::find()
        .filter(wa_template::Column::TenantId.eq(tenant_id))
        .filter(wa_template::Column::Name.eq(a.template_name.as_str()))
        .filter(wa_template::Column::Language.eq(a.language.as_str()))
        .one(conn)
        .await?)
}

/// Runs every guard in order. `occurrence_at` is when the trigger fired
/// (for `no_reply`: the outbound message it follows).
pub async fn decide(
    conn: &impl ConnectionTrait,
    spec: &RuleSpec,
    l: &lead::Model,
    now: DateTime<Utc>,
    occurrence_at: Option<DateTime<Utc>>,
    sent_in_window: u64,
) -> Result<Decision, CoreError> {
    let skip = |reason: &'static str, detail: String| Ok(Decision::Skip { reason, detail });
    let Some(recipient) = messaging::recipient_of(l) else {
        return skip(
            reason::NO_RECIPIENT,
            "the lead has no WhatsApp id, phone or business-scoped id".into(),
        );
    };
    let (facts, tenant_tz) = facts_and_tenant_tz(conn, l).await?;
    if let Err(field) = spec.conditions_hold(&facts) {
        return skip(
            reason::CONDITIONS_NOT_MET,
            format!("condition on {field} is not met"),
        );
    }
    if let Trigger::NoReply { .. } = spec.trigger
        && let (Some(inbound), Some(since)) = (l.last_inbound_at, occurrence_at)
        && inbound > since
    {
        return skip(reason::REPLIED, "the lead replied".into());
    }
    let Some(t) = find_template(conn, l.tenant_id, &spec.action).await? else {
        return skip(
            reason::TEMPLATE_NOT_FOUND,
            format!(
                "no template {} ({}) is synced",
                spec.action.template_name, spec.action.language
            ),
        );
    };
    if t.status != templates::APPROVED {
        let r = if t.status == "PAUSED" {
            reason::TEMPLATE_PAUSED
        } else {
            reason::TEMPLATE_NOT_APPROVED
        };
        return skip(r, format!("the template is {}", t.status));
    }
    if let Some(r) = messaging::consent_block(l, &t.category) {
        return skip(
            r,
            format!("{} template; consent does not allow it", t.category),
        );
    }
    if let Some(cap) = &spec.frequency_cap
        && !cap.allows(sent_in_window)
    {
        return skip(
            reason::FREQUENCY_CAP,
            format!(
                "{} automated message(s) in the last {} h",
                sent_in_window, cap.hours
            ),
        );
    }
    let values = match crate::automation::rule::resolve_bindings(&spec.action.bindings, &facts) {
        Ok(v) => v,
        Err(key) => {
            return skip(
                reason::MISSING_VARIABLE,
                format!("no value (and no fallback) for {{{{{key}}}}}"),
            );
        }
    };
    let (_, rendered, _) = match messaging::prepare(l, &t, &values) {
        Ok(x) => x,
        Err((r, e)) => return skip(r, e.to_string()),
    };
    if let Some(q) = &spec.quiet_hours {
        let tz = lead_tz(l, &tenant_tz, &q.timezone);
        if let Some(at) = q.next_allowed(now, tz) {
            return Ok(Decision::Reschedule { at });
        }
    }
    Ok(Decision::Send {
        template: Box::new(t),
        values,
        rendered,
        recipient,
    })
}

async fn sent_in_window(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    lead_id: Uuid,
    cap: Option<&FrequencyCap>,
    now: DateTime<Utc>,
) -> Result<u64, CoreError> {
    let Some(cap) = cap else { return Ok(0) };
    Ok(automation_run::Entity::find()
        .filter(automation_run::Column::TenantId.eq(tenant_id))
        .filter(automation_run::Column::LeadId.eq(lead_id))
        .filter(automation_run::Column::Status.is_in(["sending", "sent", "delivered", "read"]))
        .filter(automation_run::Column::UpdatedAt.gte(cap.window_start(now)))
        .count(conn)
        .await?)
}

// ---------------------------------------------------------------------------
// Dry run

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunItem {
    pub lead_id: Uuid,
    pub lead_name: String,
    /// would_send, would_skip or would_reschedule.
    pub outcome: String,
    /// The text the lead would read.
    pub rendered: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub next_allowed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunResult {
    pub rule_id: Uuid,
    pub evaluated: usize,
    pub would_send: usize,
    pub would_skip: usize,
    pub items: Vec<DryRunItem>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct DryRunQuery {
    /// How many leads to evaluate, 1 to 500 (default 100), newest first.
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<500, _>"
    )]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Evaluates a rule against current leads; sends nothing and writes only
/// an audit row.
pub async fn dry_run(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    q: &DryRunQuery,
) -> Result<DryRunResult, CoreError> {
    ctx.require(Permission::HsmManage)?;
    let r = find_rule(db, ctx.tenant_id, id).await?;
    let spec = spec_of(&r)?;
    let limit = page::limit(q.limit, 100, 500);
    let leads = lead::Entity::find()
        .filter(lead::Column::TenantId.eq(ctx.tenant_id))
        .order_by_desc(lead::Column::CreatedAt)
        .order_by_desc(lead::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let now = Utc::now();
    let mut items = Vec::with_capacity(leads.len());
    for l in &leads {
        if let Trigger::LeadCreated { .. } = spec.trigger {
            let facts = facts_for(db, l).await?;
            if !spec.matches_event("lead_created", &json!({}), &facts) {
                items.push(DryRunItem {
                    lead_id: l.id,
                    lead_name: l.name.clone(),
                    outcome: "would_skip".into(),
                    rendered: None,
                    reason: Some(reason::CONDITIONS_NOT_MET.into()),
                    detail: Some("the trigger's filters do not match".into()),
                    next_allowed_at: None,
                });
                continue;
            }
        }
        // A lead_created rule fires once per lead: when it already messaged
        // this lead (or is about to), the send key stops a second message.
        // Skipped and failed runs are evaluated again so the guard shows.
        if let Trigger::LeadCreated { .. } = spec.trigger
            && let Some(run) = automation_run::Entity::find()
                .filter(automation_run::Column::TenantId.eq(ctx.tenant_id))
                .filter(automation_run::Column::RuleId.eq(r.id))
                .filter(automation_run::Column::LeadId.eq(l.id))
                .filter(automation_run::Column::Status.is_not_in(["skipped", "failed"]))
                .one(db)
                .await?
        {
            items.push(DryRunItem {
                lead_id: l.id,
                lead_name: l.name.clone(),
                outcome: "would_skip".into(),
                rendered: None,
                reason: Some(reason::ALREADY_HANDLED.into()),
                detail: Some(format!(
                    "this rule already handled the lead's creation (run {}: {})",
                    run.id, run.status
                )),
                next_allowed_at: None,
            });
            continue;
        }
        let sent =
            sent_in_window(db, ctx.tenant_id, l.id, spec.frequency_cap.as_ref(), now).await?;
        let d = decide(db, &spec, l, now, None, sent).await?;
        items.push(match d {
            Decision::Send { rendered, .. } => DryRunItem {
                lead_id: l.id,
                lead_name: l.name.clone(),
                outcome: "would_send".into(),
                rendered: Some(rendered),
                reason: None,
                detail: None,
                next_allowed_at: None,
            },
            Decision::Skip { reason, detail } => DryRunItem {
                lead_id: l.id,
                lead_name: l.name.clone(),
                outcome: "would_skip".into(),
                rendered: None,
                reason: Some(reason.into()),
                detail: Some(detail),
                next_allowed_at: None,
            },
            Decision::Reschedule { at } => DryRunItem {
                lead_id: l.id,
                lead_name: l.name.clone(),
                outcome: "would_reschedule".into(),
                rendered: None,
                reason: Some(reason::QUIET_HOURS.into()),
                detail: Some("inside quiet hours".into()),
                next_allowed_at: Some(at),
            },
        });
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.rule.dry_run",
        "automation_rule",
        Some(r.id.to_string()),
        json!({"evaluated": items.len()}),
    )
    .await?;
    txn.commit().await?;
    Ok(DryRunResult {
        rule_id: r.id,
        evaluated: items.len(),
        would_send: items.iter().filter(|i| i.outcome == "would_send").count(),
        would_skip: items.iter().filter(|i| i.outcome == "would_skip").count(),
        items,
    })
}

// ---------------------------------------------------------------------------
// Engine: scheduling runs

/// Creates the run for (rule, lead, occurrence) and its send job, unless the
/// same occurrence already has one. Returns whether it was new.
pub async fn schedule_run(
    conn: &impl ConnectionTrait,
    rule: &automation_rule::Model,
    spec: &RuleSpec,
    lead_id: Uuid,
    occurrence: &str,
    fired_at: DateTime<Utc>,
) -> Result<bool, CoreError> {
    let send_key = format!("{}:{}:{}", rule.id, lead_id, occurrence);
    let now = Utc::now();
    let run_at = fired_at + chrono::Duration::minutes(i64::from(spec.delay_minutes));
    let id = crm_db::new_id();
    let inserted = automation_run::Entity::insert(automation_run::ActiveModel {
        id: Set(id),
        tenant_id: Set(rule.tenant_id),
        rule_id: Set(rule.id),
        lead_id: Set(lead_id),
        send_key: Set(send_key),
        occurrence: Set(occurrence.to_owned()),
        status: Set("queued".into()),
        reason: Set(None),
        template_name: Set(spec.action.template_name.clone()),
        language: Set(spec.action.language.clone()),
        rendered: Set(None),
        variables: Set(json!({})),
        wamid: Set(None),
        message_id: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        timeline: Set(json!([{"status": "queued", "at": now}])),
        run_at: Set(run_at),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(automation_run::Column::SendKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if inserted == 0 {
        return Ok(false);
    }
    jobs::enqueue(
        conn,
        NewJob {
            tenant_id: Some(rule.tenant_id),
            kind: SEND_JOB.to_owned(),
            payload: json!({"run_id": id}),
            dedupe_key: Some(format!("{SEND_JOB}:{id}")),
            run_at,
            max_attempts: 12,
        },
    )
    .await?;
    Ok(true)
}

fn lead_id_of(event: &Value) -> Option<Uuid> {
    let agg = event.get("aggregate_type").and_then(Value::as_str);
    let p = event.get("payload");
    if agg == Some("lead") {
        return event
            .get("aggregate_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok());
    }
    p.and_then(|p| p.get("lead"))
        .and_then(|l| l.get("id"))
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .or_else(|| {
            p.and_then(|p| p.get("opportunity"))
                .and_then(|o| o.get("lead_id"))
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
        })
}

/// Payload fields the trigger matcher reads (`to` for status and stage).
fn trigger_payload(event_type: &str, payload: &Value) -> Value {
    match event_type {
        "opportunity_stage_changed" | "opportunity_won" => json!({
            "to": payload.get("to_stage").and_then(|s| s.get("key")).cloned().unwrap_or(Value::Null)
        }),
        _ => payload.clone(),
    }
}

/// The outbox consumer: an event → runs for every enabled matching rule.
pub async fn on_event(
    db: &DatabaseConnection,
    job_payload: &Value,
    tenant_id: Uuid,
) -> Result<usize, CoreError> {
    let event_type = job_payload
        .get("event_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if event_type == "meta_status_changed" {
        // A reconnect resumes automation paused for an invalid token.
        let to = job_payload
            .get("payload")
            .and_then(|p| p.get("to"))
            .and_then(Value::as_str);
        if to == Some(meta_connection::STATUS_OK) {
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            let mut s = messaging::settings_of(&txn, tenant_id).await?;
            if s.paused_reason.as_deref() == Some(reason::TOKEN_INVALID) {
                s.paused_reason = None;
                crm_db::entity::hsm_setting::Entity::update_many()
                    .col_expr(
                        crm_db::entity::hsm_setting::Column::PausedReason,
                        sea_orm::sea_query::Expr::value(Option::<String>::None),
                    )
                    .filter(crm_db::entity::hsm_setting::Column::TenantId.eq(tenant_id))
                    .exec(&txn)
                    .await?;
            }
            templates::schedule_sync(
                &txn,
                tenant_id,
                &format!("connect:{}", Utc::now().timestamp() / 60),
            )
            .await?;
            txn.commit().await?;
        }
        return Ok(0);
    }
    let Some(event_id) = job_payload.get("event_id").and_then(Value::as_str) else {
        return Ok(0);
    };
    let Some(lead_id) = lead_id_of(job_payload) else {
        return Ok(0);
    };
    let kind = match event_type {
        "lead_created" => "lead_created",
        "lead_status_changed" => "status_changed",
        "opportunity_stage_changed" => "stage_changed",
        "opportunity_won" => "opportunity_won",
        _ => return Ok(0),
    };
    let rules = automation_rule::Entity::find()
        .filter(automation_rule::Column::TenantId.eq(tenant_id))
        .filter(automation_rule::Column::TriggerType.eq(kind))
        .filter(automation_rule::Column::Enabled.eq(true))
        .all(db)
        .await?;
    if rules.is_empty() {
        return Ok(0);
    }
    let Some(l) = lead::Entity::find_by_id(lead_id)
        .filter(lead::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let facts = facts_for(db, &l).await?;
    let payload = trigger_payload(
        event_type,
        job_payload.get("payload").unwrap_or(&Value::Null),
    );
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let mut n = 0;
    for r in &rules {
        let spec = spec_of(r)?;
        if spec.matches_event(event_type, &payload, &facts)
            && schedule_run(
                &txn,
                r,
                &spec,
                lead_id,
                &format!("event:{event_id}"),
                Utc::now(),
            )
            .await?
        {
            n += 1;
        }
    }
    txn.commit().await?;
    Ok(n)
}

/// The scheduler: due leads of every enabled time-based rule get a run.
/// Returns how many runs were created.
pub async fn tick(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize, CoreError> {
    let rules = automation_rule::Entity::find()
        .filter(automation_rule::Column::Enabled.eq(true))
        .filter(automation_rule::Column::TriggerType.is_in([
            "no_reply",
            "inactive",
            "date_relative",
        ]))
        .all(db)
        .await?;
    // Periodic template reconcile: every 6 hours per tenant with a WABA.
    let wabas = crm_db::entity::meta_asset::Entity::find()
        .filter(crm_db::entity::meta_asset::Column::Kind.eq(meta_connection::ASSET_WABA))
        .all(db)
        .await?;
    for w in wabas {
        if !meta_connection::meta_paused(db, w.tenant_id).await? {
            templates::schedule_sync(
                db,
                w.tenant_id,
                &format!("periodic:{}", now.timestamp() / 21_600),
            )
            .await?;
        }
    }
    let mut created = 0;
    for r in &rules {
        let spec = spec_of(r)?;
        match &spec.trigger {
            Trigger::NoReply { hours } => {
                let cutoff = now - chrono::Duration::hours(i64::from(*hours));
                // The latest outbound per lead, older than the cutoff but not
                // older than a week past it.
                let outs = wa_message::Entity::find()
                    .filter(wa_message::Column::TenantId.eq(r.tenant_id))
                    .filter(wa_message::Column::Direction.eq("out"))
                    .filter(wa_message::Column::CreatedAt.lte(cutoff))
                    .filter(wa_message::Column::CreatedAt.gte(cutoff - chrono::Duration::days(7)))
                    .order_by_desc(wa_message::Column::CreatedAt)
                    .all(db)
                    .await?;
                let mut seen = std::collections::HashSet::new();
                for m in outs {
                    if !seen.insert(m.lead_id) {
                        continue;
                    }
                    // Only if it is still the last outbound, and unanswered.
                    let later = wa_message::Entity::find()
                        .filter(wa_message::Column::TenantId.eq(r.tenant_id))
                        .filter(wa_message::Column::LeadId.eq(m.lead_id))
                        .filter(wa_message::Column::CreatedAt.gt(m.created_at))
                        .count(db)
                        .await?;
                    if later > 0 {
                        continue;
                    }
                    let txn = db.begin_with_options(crm_db::write_txn()).await?;
                    if schedule_run(
                        &txn,
                        r,
                        &spec,
                        m.lead_id,
                        &format!("no_reply:{}", m.id),
                        now,
                    )
                    .await?
                    {
                        created += 1;
                    }
                    txn.commit().await?;
                }
            }
            Trigger::Inactive { days } => {
                let cutoff = now - chrono::Duration::days(i64::from(*days));
                let stale = lead::Entity::find()
                    .filter(lead::Column::TenantId.eq(r.tenant_id))
                    .filter(lead::Column::UpdatedAt.lte(cutoff))
                    .filter(
                        Condition::any()
                            .add(lead::Column::LastInboundAt.is_null())
                            .add(lead::Column::LastInboundAt.lte(cutoff)),
                    )
                    .limit(1000)
                    .all(db)
                    .await?;
                for l in stale {
                    let recent = lead_activity::Entity::find()
                        .filter(lead_activity::Column::TenantId.eq(r.tenant_id))
                        .filter(lead_activity::Column::LeadId.eq(l.id))
                        .filter(lead_activity::Column::At.gt(cutoff))
                        .count(db)
                        .await?;
                    if recent > 0 {
                        continue;
                    }
                    let last = l.last_inbound_at.unwrap_or(l.updated_at).max(l.updated_at);
                    let txn = db.begin_with_options(crm_db::write_txn()).await?;
                    if schedule_run(
                        &txn,
                        r,
                        &spec,
                        l.id,
                        &format!("inactive:{}", last.timestamp()),
                        now,
                    )
                    .await?
                    {
                        created += 1;
                    }
                    txn.commit().await?;
                }
            }
            Trigger::DateRelative {
                field,
                offset_hours,
            } => {
                let offset = chrono::Duration::hours(i64::from(*offset_hours));
                // Fire when date + offset falls in the last day (catch-up window).
                let (from, to) = (now - offset - chrono::Duration::days(1), now - offset);
                let hits: Vec<(Uuid, DateTime<Utc>)> = match field.as_str() {
                    "lead.created_at" => lead::Entity::find()
                        .filter(lead::Column::TenantId.eq(r.tenant_id))
                        .filter(lead::Column::CreatedAt.gt(from))
                        .filter(lead::Column::CreatedAt.lte(to))
                        .all(db)
                        .await?
                        .into_iter()
                        .map(|l| (l.id, l.created_at))
                        .collect(),
                    "opportunity.created_at" | "opportunity.won_at" => {
                        let col = if field == "opportunity.created_at" {
                            opportunity::Column::CreatedAt
                        } else {
                            opportunity::Column::ClosedAt
                        };
                        opportunity::Entity::find()
                            .filter(opportunity::Column::TenantId.eq(r.tenant_id))
                            .filter(col.gt(from))
                            .filter(col.lte(to))
                            .all(db)
                            .await?
                            .into_iter()
                            .map(|o| {
                                let at = if field == "opportunity.created_at" {
                                    o.created_at
                                } else {
                                    o.closed_at.unwrap_or(o.created_at)
                                };
                                (o.lead_id, at)
                            })
                            .collect()
                    }
                    _ => {
                        let (fd, td) = (from.date_naive(), to.date_naive());
                        opportunity::Entity::find()
                            .filter(opportunity::Column::TenantId.eq(r.tenant_id))
                            .filter(opportunity::Column::ExpectedCloseDate.gte(fd))
                            .filter(opportunity::Column::ExpectedCloseDate.lte(td))
                            .all(db)
                            .await?
                            .into_iter()
                            .filter_map(|o| {
                                let d = o.expected_close_date?;
                                let at = d.and_hms_opt(0, 0, 0)?.and_utc();
                                (at > from && at <= to).then_some((o.lead_id, at))
                            })
                            .collect()
                    }
                };
                for (lead_id, at) in hits {
                    let txn = db.begin_with_options(crm_db::write_txn()).await?;
                    if schedule_run(
                        &txn,
                        r,
                        &spec,
                        lead_id,
                        &format!("date:{field}:{}", at.timestamp()),
                        now,
                    )
                    .await?
                    {
                        created += 1;
                    }
                    txn.commit().await?;
                }
            }
            _ => {}
        }
    }
    Ok(created)
}

/// Enqueues the next scheduler tick (one per minute, deduplicated).
pub async fn schedule_tick(
    conn: &impl ConnectionTrait,
    at: DateTime<Utc>,
) -> Result<bool, CoreError> {
    let minute = at.timestamp() / 60;
    Ok(jobs::enqueue(
        conn,
        NewJob {
            tenant_id: None,
            kind: TICK_JOB.to_owned(),
            payload: json!({}),
            dedupe_key: Some(format!("{TICK_JOB}:{minute}")),
            run_at: at,
            max_attempts: 3,
        },
    )
    .await?)
}

// ---------------------------------------------------------------------------
// Engine: sending

/// What the send job should do next.
#[derive(Debug)]
pub enum RunOutcome {
    Done,
    Postpone(DateTime<Utc>),
    Retry {
        error: String,
        after: Option<Duration>,
    },
    Fail(String),
}

/// Ends a run as skipped with its reason, in a transaction of its own.
async fn skip_run(
    db: &DatabaseConnection,
    run: &automation_run::Model,
    why: &str,
    detail: Option<String>,
) -> Result<RunOutcome, CoreError> {
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    finish_run(&txn, run, "skipped", Some(why), detail).await?;
    txn.commit().await?;
    Ok(RunOutcome::Done)
}

async fn finish_run(
    conn: &impl ConnectionTrait,
    run: &automation_run::Model,
    status: &str,
    why: Option<&str>,
    detail: Option<String>,
) -> Result<(), CoreError> {
    let now = Utc::now();
    let mut tl: Vec<Value> = serde_json::from_value(run.timeline.clone()).unwrap_or_default();
    let mut e = json!({"status": status, "at": now});
    if let Some(r) = why {
        e["reason"] = json!(r);
    }
    tl.push(e);
    let mut am: automation_run::ActiveModel = run.clone().into();
    am.status = Set(status.to_owned());
    am.reason = Set(why.map(str::to_owned));
    if let Some(d) = detail {
        am.error_message = Set(Some(d));
    }
    am.timeline = Set(json!(tl));
    am.updated_at = Set(now);
    am.update(conn).await?;
    Ok(())
}

async fn alert(
    conn: &impl ConnectionTrait,
    run: &automation_run::Model,
    why: &str,
    detail: &str,
) -> Result<(), CoreError> {
    audit::record(
        conn,
        &Actor::system(run.tenant_id),
        "hsm.alert",
        "automation_rule",
        Some(run.rule_id.to_string()),
        json!({"reason": why, "detail": detail, "template": run.template_name, "language": run.language}),
    )
    .await?;
    outbox::emit(
        conn,
        run.tenant_id,
        "hsm_alert",
        "automation_rule",
        &run.rule_id.to_string(),
        json!({"alert": why, "detail": detail, "template": run.template_name}),
    )
    .await?;
    Ok(())
}

/// Runs one send job.
pub async fn run_send(
    db: &DatabaseConnection,
    env: &MetaEnv,
    run_id: Uuid,
) -> Result<RunOutcome, CoreError> {
    let Some(run) = automation_run::Entity::find_by_id(run_id).one(db).await? else {
        return Ok(RunOutcome::Done);
    };
    // A run handed to Meta whose answer never got recorded (crash, timeout):
    // settled by what Meta reported back, or handed over again only when
    // Meta certainly never took it (see `reconcile`).
    let resend = if run.status == "sending" {
        match reconcile(db, &run).await? {
            Reconcile::Outcome(o) => return Ok(o),
            Reconcile::Resend(m) => Some(*m),
        }
    } else if matches!(
        run.status.as_str(),
        "queued" | "scheduled" | "rescheduled" | "paused"
    ) {
        None
    } else {
        // Finished: never sent again.
        return Ok(RunOutcome::Done);
    };
    let now = Utc::now();
    let settings = messaging::settings_of(db, run.tenant_id).await?;
    if settings.paused_reason.is_some() || meta_connection::meta_paused(db, run.tenant_id).await? {
        // A tenant that never connected Meta (or disconnected it) is not a
        // broken token: the log says which.
        let code = if settings.paused_reason.is_none()
            && meta_connection::meta_not_connected(db, run.tenant_id).await?
        {
            reason::NOT_CONNECTED
        } else {
            reason::TOKEN_INVALID
        };
        let why = settings
            .paused_reason
            .clone()
            .unwrap_or_else(|| code.to_owned());
        if run.status != "paused" {
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            finish_run(&txn, &run, "paused", Some(code), Some(why)).await?;
            txn.commit().await?;
        }
        return Ok(RunOutcome::Postpone(now + chrono::Duration::minutes(5)));
    }
    let Some(rule) = automation_rule::Entity::find_by_id(run.rule_id)
        .filter(automation_rule::Column::TenantId.eq(run.tenant_id))
        .one(db)
        .await?
    else {
        return skip_run(
            db,
            &run,
            reason::RULE_DISABLED,
            Some("the rule was deleted".into()),
        )
        .await;
    };
    if !rule.enabled {
        return skip_run(db, &run, reason::RULE_DISABLED, None).await;
    }
    let spec = spec_of(&rule)?;
    let Some(l) = lead::Entity::find_by_id(run.lead_id)
        .filter(lead::Column::TenantId.eq(run.tenant_id))
        .one(db)
        .await?
    else {
        return skip_run(
            db,
            &run,
            reason::NO_RECIPIENT,
            Some("the lead was deleted".into()),
        )
        .await;
    };
    let occurrence_at = match run.occurrence.strip_prefix("no_reply:") {
        Some(mid) => match Uuid::parse_str(mid) {
            Ok(mid) => wa_message::Entity::find_by_id(mid)
                .one(db)
                .await?
                .map(|m| m.created_at),
            Err(_) => None,
        },
        None => None,
    };
    let mut sent =
        sent_in_window(db, run.tenant_id, l.id, spec.frequency_cap.as_ref(), now).await?;
    if resend.is_some() {
        // The unconfirmed run counts itself.
        sent = sent.saturating_sub(1);
    }
    let decision = decide(db, &spec, &l, now, occurrence_at, sent).await?;
    if let Some(m) = &resend
        && !matches!(decision, Decision::Send { .. })
    {
        // Not handed over again after all: the unconfirmed message is
        // closed so nothing waits on it.
        supersede(db, m, "not re-sent: the guards no longer allow it").await?;
    }
    let (template, values, rendered, recipient) = match decision {
        Decision::Skip {
            reason: why,
            detail,
        } => {
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            finish_run(&txn, &run, "skipped", Some(why), Some(detail.clone())).await?;
            if matches!(
                why,
                reason::TEMPLATE_NOT_APPROVED
                    | reason::TEMPLATE_PAUSED
                    | reason::TEMPLATE_NOT_FOUND
            ) {
                alert(&txn, &run, why, &detail).await?;
            }
            txn.commit().await?;
            return Ok(RunOutcome::Done);
        }
        Decision::Reschedule { at } => {
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            let mut tl: Vec<Value> =
                serde_json::from_value(run.timeline.clone()).unwrap_or_default();
            tl.push(json!({"status": "rescheduled", "at": now, "reason": reason::QUIET_HOURS, "until": at}));
            let mut am: automation_run::ActiveModel = run.clone().into();
            am.status = Set("rescheduled".into());
            am.reason = Set(Some(reason::QUIET_HOURS.into()));
            am.run_at = Set(at);
            am.timeline = Set(json!(tl));
            am.updated_at = Set(now);
            am.update(&txn).await?;
            txn.commit().await?;
            return Ok(RunOutcome::Postpone(at));
        }
        Decision::Send {
            template,
            values,
            rendered,
            recipient,
        } => (template, values, rendered, recipient),
    };
    // Pair rate: one message per ~6 s to the same person.
    if resend.is_none()
        && let Some(last) = messaging::last_outbound_at(db, run.tenant_id, l.id).await?
        && let Ok(gap) = (now - last).to_std()
        && gap < messaging::PAIR_INTERVAL
    {
        let wait = messaging::PAIR_INTERVAL - gap;
        return Ok(RunOutcome::Postpone(
            now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(6)),
        ));
    }
    let (_, phone) = templates::whatsapp_ids(db, run.tenant_id).await?;
    let slot = match super::pacing::try_reserve(
        db,
        &phone,
        settings.messages_per_second,
        Duration::from_secs(2),
    )
    .await?
    {
        Ok(s) => s,
        Err(later) => {
            // Spread the retries so postponed jobs do not come back at once.
            let jitter = Duration::from_millis(u64::from(run.id.as_u128() as u16 % 1000));
            return Ok(RunOutcome::Postpone(
                Utc::now()
                    + chrono::Duration::from_std(later + jitter)
                        .unwrap_or(chrono::Duration::seconds(1)),
            ));
        }
    };
    let sv = messaging::split_values(&values);
    let p = Prepared {
        tenant_id: run.tenant_id,
        lead: l.clone(),
        template: *template,
        values: sv,
        rendered,
        recipient,
        rule_id: Some(rule.id),
        run_id: Some(run.id),
        sent_by: None,
        slot: Some(slot),
        idempotency_key: None,
    };
    let outcome = match &resend {
        Some(m) => {
            tracing::info!(run = %run.id, message = %m.id, "re-sending an unconfirmed automation message");
            messaging::resend_unconfirmed(db, env, &phone, &p, m).await?
        }
        None => messaging::send_prepared(db, env, &phone, &p).await?,
    };
    // The run as the send left it (read only when it is written again).
    let fresh = || async {
        automation_run::Entity::find_by_id(run.id)
            .one(db)
            .await?
            .ok_or(CoreError::NotFound("run"))
    };
    match outcome {
        SendOutcome::Sent { .. } => {
            if let Some(tag) = &spec.action.add_tag {
                add_tag(db, &l, tag).await?;
            }
            if let Some(st) = &spec.action.set_status {
                set_status(db, &l, st, rule.id).await?;
            }
            Ok(RunOutcome::Done)
        }
        // Meta may have it, or another worker holds the run: look again once
        // a status webhook had time to arrive.
        SendOutcome::Unknown { .. } | SendOutcome::AlreadyClaimed => Ok(RunOutcome::Postpone(
            Utc::now() + chrono::Duration::from_std(reconcile_after()).unwrap_or_default(),
        )),
        SendOutcome::Failed { code, message, .. } => {
            let before = fresh().await?;
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            let mut am: automation_run::ActiveModel = before.into();
            am.error_code = Set(code);
            am.error_message = Set(Some(message.clone()));
            am.update(&txn).await?;
            let fresh = automation_run::Entity::find_by_id(run.id)
                .one(&txn)
                .await?
                .ok_or(CoreError::NotFound("run"))?;
            finish_run(
                &txn,
                &fresh,
                "failed",
                Some(reason::META_ERROR),
                Some(message.clone()),
            )
            .await?;
            txn.commit().await?;
            Ok(RunOutcome::Done)
        }
        SendOutcome::Retry { error, after } => {
            let before = fresh().await?;
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            let mut am: automation_run::ActiveModel = before.into();
            am.status = Set("scheduled".into());
            am.update(&txn).await?;
            txn.commit().await?;
            Ok(RunOutcome::Retry { error, after })
        }
        SendOutcome::TokenInvalid(msg) => {
            let before = fresh().await?;
            let txn = db.begin_with_options(crm_db::write_txn()).await?;
            messaging::pause_tenant(&txn, run.tenant_id, reason::TOKEN_INVALID).await?;
            let mut am: automation_run::ActiveModel = before.into();
            am.status = Set("scheduled".into());
            am.update(&txn).await?;
            let fresh = automation_run::Entity::find_by_id(run.id)
                .one(&txn)
                .await?
                .ok_or(CoreError::NotFound("run"))?;
            finish_run(
                &txn,
                &fresh,
                "paused",
                Some(reason::TOKEN_INVALID),
                Some(msg),
            )
            .await?;
            txn.commit().await?;
            Ok(RunOutcome::Postpone(
                Utc::now() + chrono::Duration::minutes(5),
            ))
        }
    }
}

// ---------------------------------------------------------------------------
// Engine: reconciling unconfirmed sends (at most once by default)

static RECONCILE_AFTER_MS: AtomicU64 = AtomicU64::new(15 * 60 * 1000);

/// How long a `sending` message may stay unconfirmed (no answer recorded, no
/// status webhook) before the engine concludes Meta never took it and hands
/// it over again. Process-wide; set from `CRM_HSM_RECONCILE_SECS`.
pub fn set_reconcile_after(d: Duration) {
    RECONCILE_AFTER_MS.store(
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1),
        Ordering::Relaxed,
    );
}

pub fn reconcile_after() -> Duration {
    Duration::from_millis(RECONCILE_AFTER_MS.load(Ordering::Relaxed))
}

enum Reconcile {
    Outcome(RunOutcome),
    Resend(Box<wa_message::Model>),
}

/// Decides what to do with a run left `sending`.
///
/// Meta's Cloud API has no idempotency key and no way to look a message up
/// by our id, so the only evidence that Meta accepted a send is what it
/// reports back: the synchronous answer (lost if we crashed) or a status
/// webhook carrying our `biz_opaque_callback_data` (`m:<message id>`),
/// which Meta sends for every accepted message (`sent`, or `failed`).
///
/// - The message row moved past `sending` (a status webhook applied):
///   the run is settled, nothing to send.
/// - A webhook that names the message is in the inbox but not applied
///   yet: wait for the inbox.
/// - Neither, and the message was handed over more than
///   [`reconcile_after`] ago: by default the message is *held for review*
///   (Meta may or may not have it; a person resends or dismisses it, and a
///   status webhook arriving later settles it). Only with the tenant's
///   `resend_unconfirmed` setting is it handed over again (at least once:
///   one reconciler wins a compare-and-set on the row).
/// - Otherwise: look again when the grace period ends.
async fn reconcile(
    db: &DatabaseConnection,
    run: &automation_run::Model,
) -> Result<Reconcile, CoreError> {
    let now = Utc::now();
    let Some(mid) = run.message_id else {
        return Ok(Reconcile::Outcome(RunOutcome::Done));
    };
    let Some(m) = wa_message::Entity::find_by_id(mid).one(db).await? else {
        // The pending row was dropped (nothing reached Meta): start clean.
        automation_run::Entity::update_many()
            .col_expr(automation_run::Column::Status, Expr::value("scheduled"))
            .col_expr(
                automation_run::Column::MessageId,
                Expr::value(Option::<Uuid>::None),
            )
            .filter(automation_run::Column::Id.eq(run.id))
            .filter(automation_run::Column::Status.eq("sending"))
            .exec(db)
            .await?;
        return Ok(Reconcile::Outcome(RunOutcome::Postpone(now)));
    };
    if m.status != "sending" {
        // Meta answered (by webhook); make sure the run says so too.
        if m.status == "superseded" {
            return Ok(Reconcile::Outcome(RunOutcome::Done));
        }
        automation_run::Entity::update_many()
            .col_expr(
                automation_run::Column::Status,
                Expr::value(m.status.clone()),
            )
            .col_expr(automation_run::Column::Wamid, Expr::value(m.wamid.clone()))
            .col_expr(automation_run::Column::UpdatedAt, Expr::value(now))
            .filter(automation_run::Column::Id.eq(run.id))
            .filter(automation_run::Column::Status.eq("sending"))
            .exec(db)
            .await?;
        return Ok(Reconcile::Outcome(RunOutcome::Done));
    }
    let grace = chrono::Duration::from_std(reconcile_after()).unwrap_or_default();
    let due = m.updated_at + grace;
    if now < due {
        return Ok(Reconcile::Outcome(RunOutcome::Postpone(due)));
    }
    if inbox_mentions(db, mid).await? {
        return Ok(Reconcile::Outcome(RunOutcome::Postpone(
            now + chrono::Duration::seconds(2),
        )));
    }
    if !messaging::settings_of(db, run.tenant_id)
        .await?
        .resend_unconfirmed
    {
        // At most once (the default): a person decides.
        super::send_review::hold(db, &m).await?;
        return Ok(Reconcile::Outcome(RunOutcome::Done));
    }
    Ok(Reconcile::Resend(Box::new(m)))
}

/// Whether any stored webhook (applied or not) names this message in its
/// `biz_opaque_callback_data` (an index lookup: see `crm_db::message_refs`).
async fn inbox_mentions(db: &DatabaseConnection, message_id: Uuid) -> Result<bool, CoreError> {
    Ok(crm_db::message_refs::mentioned(db, message_id).await?)
}

/// Closes an unconfirmed message that will not be handed over again.
async fn supersede(
    db: &DatabaseConnection,
    m: &wa_message::Model,
    why: &str,
) -> Result<(), CoreError> {
    wa_message::Entity::update_many()
        .col_expr(wa_message::Column::Status, Expr::value("superseded"))
        .col_expr(wa_message::Column::ErrorMessage, Expr::value(why))
        .col_expr(wa_message::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(wa_message::Column::Id.eq(m.id))
        .filter(wa_message::Column::Status.eq("sending"))
        .exec(db)
        .await?;
    Ok(())
}

/// The rule's `set_status` action, after a successful send: a normal lead
/// update by the system (audited, and its `lead_status_changed` event can
/// fire other rules).
async fn set_status(
    db: &DatabaseConnection,
    l: &lead::Model,
    status: &str,
    rule_id: Uuid,
) -> Result<(), CoreError> {
    let Some(st) = super::leads::LeadStatus::parse(status) else {
        tracing::warn!(rule = %rule_id, "rule has an unknown set_status {status:?}");
        return Ok(());
    };
    if l.status == st.as_str() {
        return Ok(());
    }
    let ctx = TenantCtx {
        tenant_id: l.tenant_id,
        user_id: None,
        token_id: None,
        role: crate::Role::Admin,
        ip: None,
        user_agent: Some(format!("automation rule {rule_id}")),
    };
    let patch: super::leads::LeadPatch = serde_json::from_value(json!({"status": st.as_str()}))
        .map_err(|e| CoreError::Internal(e.to_string()))?;
    super::leads::update(db, &ctx, l.id, &patch).await?;
    Ok(())
}

async fn add_tag(db: &DatabaseConnection, l: &lead::Model, tag: &str) -> Result<(), CoreError> {
    let mut tags: Vec<String> = serde_json::from_value(l.tags.clone()).unwrap_or_default();
    let tag = tag.trim().to_lowercase();
    if tag.is_empty() || tags.contains(&tag) {
        return Ok(());
    }
    tags.push(tag);
    lead::Entity::update_many()
        .col_expr(
            lead::Column::Tags,
            sea_orm::sea_query::Expr::value(json!(tags)),
        )
        .filter(lead::Column::Id.eq(l.id))
        .filter(lead::Column::TenantId.eq(l.tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Logs

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    pub id: Uuid,
    pub rule_id: Uuid,
    pub rule_name: Option<String>,
    pub lead_id: Uuid,
    pub lead_name: Option<String>,
    pub template_name: String,
    pub language: String,
    /// queued, rescheduled, paused, sending, sent, delivered, read, failed, skipped.
    pub status: String,
    pub reason: Option<String>,
    pub rendered: Option<String>,
    pub wamid: Option<String>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    /// [{status, at, reason?}] in order.
    #[schema(value_type = Vec<Object>)]
    pub timeline: Value,
    pub run_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    pub rule_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub status: Option<String>,
    pub reason: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    /// 1 to 500 (default 100).
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<500, _>"
    )]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// `GET automation-logs`: newest first.
pub async fn logs(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &LogQuery,
) -> Result<Page<RunView>, CoreError> {
    ctx.require(Permission::HsmManage)?;
    let limit = page::limit(q.limit, 100, 500);
    let mut cond = Condition::all().add(automation_run::Column::TenantId.eq(ctx.tenant_id));
    if let Some(r) = q.rule_id {
        cond = cond.add(automation_run::Column::RuleId.eq(r));
    }
    if let Some(l) = q.lead_id {
        cond = cond.add(automation_run::Column::LeadId.eq(l));
    }
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(automation_run::Column::Status.eq(s));
    }
    if let Some(s) = q.reason.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(automation_run::Column::Reason.eq(s));
    }
    if let Some(f) = q.from {
        cond = cond.add(automation_run::Column::CreatedAt.gte(f));
    }
    if let Some(t) = q.to {
        cond = cond.add(automation_run::Column::CreatedAt.lt(t));
    }
    if let Some(c) = q.cursor.as_deref() {
        let c = Cursor::decode(c)?;
        cond = cond.add(automation_run::Column::Id.lt(c.id));
    }
    let rows = automation_run::Entity::find()
        .filter(cond)
        .order_by_desc(automation_run::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    let rows: Vec<automation_run::Model> = rows.into_iter().take(limit as usize).collect();
    let rule_ids: Vec<Uuid> = rows.iter().map(|r| r.rule_id).collect();
    let lead_ids: Vec<Uuid> = rows.iter().map(|r| r.lead_id).collect();
    let rules: BTreeMap<Uuid, String> = automation_rule::Entity::find()
        .filter(automation_rule::Column::TenantId.eq(ctx.tenant_id))
        .filter(automation_rule::Column::Id.is_in(rule_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let names: BTreeMap<Uuid, String> = lead::Entity::find()
        .filter(lead::Column::TenantId.eq(ctx.tenant_id))
        .filter(lead::Column::Id.is_in(lead_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.id, l.name))
        .collect();
    let next_cursor = if more {
        rows.last().map(|r| Cursor { k: None, id: r.id }.encode())
    } else {
        None
    };
    Ok(Page {
        items: rows
            .into_iter()
            .map(|r| RunView {
                rule_name: rules.get(&r.rule_id).cloned(),
                lead_name: names.get(&r.lead_id).cloned(),
                id: r.id,
                rule_id: r.rule_id,
                lead_id: r.lead_id,
                template_name: r.template_name,
                language: r.language,
                status: r.status,
                reason: r.reason,
                rendered: r.rendered,
                wamid: r.wamid,
                error_code: r.error_code,
                error_message: r.error_message,
                timeline: r.timeline,
                run_at: r.run_at,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
            .collect(),
        next_cursor,
    })
}

#[cfg(test)]
#[path = "automation_tests.rs"]
mod engine_tests;
