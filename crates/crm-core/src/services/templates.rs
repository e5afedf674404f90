//! WhatsApp templates (HSM): the local copy of the tenant's WABA templates,
//! kept current by full syncs (every page) and by Meta's template webhooks,
//! with a status/quality/category history. Templates are created and
//! deleted through Meta; rejected and disabled ones are kept.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use crm_db::audit::{self, Actor};
use crm_db::entity::{meta_asset, wa_template, wa_template_event};
use crm_db::jobs::{self, NewJob};
use crm_db::outbox;
use meta_graph::Session;
use meta_graph::whatsapp::{MessageTemplate, NewTemplate, TemplateComponent};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::meta_connection::{self, MetaEnv, MetaFail, fail_from_graph};
use super::page::{self, Cursor, Page};
use super::webhooks::{FieldHandler, HandlerError, InboxEvent, WebhookRegistry};
use crate::automation::template::{self as tpl, Component};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

/// Job kind: full template sync of one tenant.
pub const SYNC_JOB: &str = "hsm.templates_sync";

pub const APPROVED: &str = "APPROVED";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: Uuid,
    pub meta_id: String,
    pub name: String,
    pub language: String,
    /// MARKETING, UTILITY, AUTHENTICATION.
    pub category: String,
    /// The category before Meta changed it, when it did.
    pub previous_category: Option<String>,
    pub category_changed_at: Option<DateTime<Utc>>,
    /// APPROVED, PENDING, REJECTED, PAUSED, DISABLED, DELETED, …
    pub status: String,
    pub parameter_format: String,
    pub components: Vec<Component>,
    /// GREEN, YELLOW, RED, UNKNOWN.
    pub quality: Option<String>,
    pub rejected_reason: Option<String>,
    /// The variables a send must fill: body keys in order (`1`, `2`, … or names),
    /// header keys as `header.<key>`, URL buttons as `button.<index>`.
    pub variables: Vec<String>,
    /// Marketing templates need marketing consent; others an opt-in only.
    pub needs_marketing_consent: bool,
    pub updated_at: DateTime<Utc>,
    pub synced_at: Option<DateTime<Utc>>,
}

fn components_of(m: &wa_template::Model) -> Vec<Component> {
    serde_json::from_value(m.components.clone()).unwrap_or_default()
}

/// The variable keys of a template, in send order.
pub fn variable_keys(components: &[Component]) -> Vec<String> {
    let Ok(s) = tpl::slots(components) else {
        return Vec::new();
    };
    s.header
        .iter()
        .map(|p| format!("header.{}", p.key()))
        .chain(s.body.iter().map(tpl::Placeholder::key))
        .chain(s.buttons.iter().map(|(i, _)| format!("button.{i}")))
        .collect()
}

impl From<wa_template::Model> for TemplateView {
    fn from(m: wa_template::Model) -> Self {
        let components = components_of(&m);
        Self {
            variables: variable_keys(&components),
            needs_marketing_consent: tpl::needs_marketing_consent(&m.category),
            id: m.id,
            meta_id: m.meta_id,
            name: m.name,
            language: m.language,
            category: m.category,
            previous_category: m.previous_category,
            category_changed_at: m.category_changed_at,
            status: m.status,
            parameter_format: m.parameter_format,
            components,
            quality: m.quality,
            rejected_reason: m.rejected_reason,
            updated_at: m.updated_at,
            synced_at: m.synced_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateEventView {
    /// status, quality or category.
    pub kind: String,
    pub from_value: Option<String>,
    pub to_value: String,
    pub reason: Option<String>,
    /// create, sync or webhook.
    pub source: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateDetail {
    #[serde(flatten)]
    pub template: TemplateView,
    /// Oldest first.
    pub history: Vec<TemplateEventView>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    pub status: Option<String>,
    pub category: Option<String>,
    pub language: Option<String>,
    /// Name contains.
    pub q: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<200, _>"
    )]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewTemplateInput {
    /// Lowercase letters, digits and underscores.
    #[schema(min_length = 1, max_length = 512, pattern = r"^[a-z0-9_]{1,512}$")]
    pub name: String,
    /// e.g. `es_AR`, `en_US`.
    pub language: String,
    /// MARKETING, UTILITY or AUTHENTICATION.
    #[schema(pattern = r"^(MARKETING|UTILITY|AUTHENTICATION)$")]
    pub category: String,
    /// POSITIONAL (default) or NAMED.
    #[serde(default)]
    pub parameter_format: Option<String>,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncReport {
    pub fetched: usize,
    pub created: usize,
    pub updated: usize,
    /// Templates that Meta no longer lists (kept locally as DELETED).
    pub missing: usize,
}

fn can_read(ctx: &TenantCtx) -> Result<(), CoreError> {
    if ctx.can(Permission::HsmManage) || ctx.can(Permission::MessagesSend) {
        Ok(())
    } else {
        Err(CoreError::Forbidden(Permission::HsmManage))
    }
}

/// The tenant's selected WABA and its first phone number.
pub async fn whatsapp_ids(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<(String, String), CoreError> {
    let assets = meta_asset::Entity::find()
        .filter(meta_asset::Column::TenantId.eq(tenant_id))
        .filter(meta_asset::Column::Kind.is_in([
            meta_connection::ASSET_WABA,
            meta_connection::ASSET_PHONE_NUMBER,
        ]))
        .order_by_asc(meta_asset::Column::CreatedAt)
        .all(db)
        .await?;
    let waba = assets
        .iter()
        .find(|a| a.kind == meta_connection::ASSET_WABA)
        .map(|a| a.external_id.clone());
    let phone = assets
        .iter()
        .find(|a| a.kind == meta_connection::ASSET_PHONE_NUMBER)
        .map(|a| a.external_id.clone());
    match (waba, phone) {
        (Some(w), Some(p)) => Ok((w, p)),
        _ => Err(CoreError::conflict(
            "whatsapp_not_selected",
            "no WhatsApp Business Account and phone number are selected; choose them in Settings → Meta",
        )),
    }
}

/// A Graph session with the tenant's token.
pub async fn session_for(
    db: &impl ConnectionTrait,
    env: &MetaEnv,
    tenant_id: Uuid,
) -> Result<Session, MetaFail> {
    let graph = env.graph()?;
    let token = meta_connection::access_token_for(db, &env.keyring, tenant_id).await?;
    Ok(graph.session(token))
}

pub async fn list(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &TemplateQuery,
) -> Result<Page<TemplateView>, CoreError> {
    can_read(ctx)?;
    let limit = page::limit(q.limit, 50, 200);
    let mut cond = Condition::all().add(wa_template::Column::TenantId.eq(ctx.tenant_id));
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(wa_template::Column::Status.eq(s.to_ascii_uppercase()));
    }
    if let Some(s) = q.category.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(wa_template::Column::Category.eq(s.to_ascii_uppercase()));
    }
    if let Some(s) = q.language.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(wa_template::Column::Language.eq(s));
    }
    if let Some(s) = q.q.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(wa_template::Column::Name.contains(s.to_lowercase()));
    }
    if let Some(c) = q.cursor.as_deref() {
        let c = Cursor::decode(c)?;
        let k = c.k.unwrap_or_default();
        cond = cond.add(
            Condition::any()
                .add(wa_template::Column::Name.gt(k.clone()))
                .add(
                    Condition::all()
                        .add(wa_template::Column::Name.eq(k))
                        .add(wa_template::Column::Id.gt(c.id)),
                ),
        );
    }
    let rows = wa_template::Entity::find()
        .filter(cond)
        .order_by_asc(wa_template::Column::Name)
        .order_by_asc(wa_template::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    let items: Vec<wa_template::Model> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = if more {
        items.last().map(|m| {
            Cursor {
                k: Some(m.name.clone()),
                id: m.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Page {
        items: items.into_iter().map(TemplateView::from).collect(),
        next_cursor,
    })
}

pub async fn find(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<wa_template::Model, CoreError> {
    wa_template::Entity::find_by_id(id)
        .filter(wa_template::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("template"))
}

pub async fn get(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<TemplateDetail, CoreError> {
    can_read(ctx)?;
    let t = find(db, ctx.tenant_id, id).await?;
    let history = wa_template_event::Entity::find()
        .filter(wa_template_event::Column::TenantId.eq(ctx.tenant_id))
        .filter(wa_template_event::Column::TemplateId.eq(id))
        .order_by_asc(wa_template_event::Column::At)
        .order_by_asc(wa_template_event::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|e| TemplateEventView {
            kind: e.kind,
            from_value: e.from_value,
            to_value: e.to_value,
            reason: e.reason,
            source: e.source,
            at: e.at,
        })
        .collect();
    Ok(TemplateDetail {
        template: t.into(),
        history,
    })
}

async fn event(
    conn: &impl ConnectionTrait,
    t: &wa_template::Model,
    kind: &str,
    from: Option<&str>,
    to: &str,
    reason: Option<&str>,
    source: &str,
) -> Result<(), CoreError> {
    wa_template_event::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(t.tenant_id),
        template_id: Set(t.id),
        kind: Set(kind.to_owned()),
        from_value: Set(from.map(str::to_owned)),
        to_value: Set(to.to_owned()),
        reason: Set(reason.map(str::to_owned)),
        source: Set(source.to_owned()),
        at: Set(Utc::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

fn to_meta_components(c: &[Component]) -> Vec<TemplateComponent> {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn from_meta_components(c: &[TemplateComponent]) -> Vec<Component> {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Validates like Meta, submits to Meta, stores the answer (usually PENDING).
pub async fn create(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    input: &NewTemplateInput,
) -> Result<TemplateView, MetaFail> {
    ctx.require(Permission::HsmManage)?;
    let category = input.category.trim().to_ascii_uppercase();
    let pf = input
        .parameter_format
        .as_deref()
        .map(str::to_ascii_uppercase);
    let mut components = input.components.clone();
    for c in &mut components {
        c.kind = c.kind.trim().to_ascii_uppercase();
        c.format = c.format.as_ref().map(|f| f.to_ascii_uppercase());
    }
    tpl::validate(&tpl::Definition {
        name: input.name.trim(),
        language: input.language.trim(),
        category: &category,
        parameter_format: pf.as_deref(),
        components: &components,
    })?;
    let name = input.name.trim().to_owned();
    let language = input.language.trim().to_owned();
    let existing = wa_template::Entity::find()
        .filter(wa_template::Column::TenantId.eq(ctx.tenant_id))
        .filter(wa_template::Column::Name.eq(name.as_str()))
        .filter(wa_template::Column::Language.eq(language.as_str()))
        .one(db)
        .await?;
    if let Some(e) = &existing
        && e.status != "DELETED"
    {
        return Err(CoreError::Conflict {
            code: "template_exists",
            message: format!("a template {name} ({language}) already exists"),
            details: Some(json!({"id": e.id})),
        }
        .into());
    }
    let (waba, _) = whatsapp_ids(db, ctx.tenant_id).await?;
    let session = session_for(db, env, ctx.tenant_id).await?;
    let created = session
        .create_template(
            &waba,
            &NewTemplate {
                name: name.clone(),
                language: language.clone(),
                category: category.clone(),
                parameter_format: pf.clone(),
                components: to_meta_components(&components),
            },
        )
        .await
        .map_err(|e| fail_from_graph(&e))?;
    let now = Utc::now();
    let status = created
        .status
        .clone()
        .unwrap_or_else(|| "PENDING".into())
        .to_ascii_uppercase();
    let category = created
        .category
        .clone()
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or(category);
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    if let Some(e) = existing {
        wa_template_event::Entity::delete_many()
            .filter(wa_template_event::Column::TenantId.eq(ctx.tenant_id))
            .filter(wa_template_event::Column::TemplateId.eq(e.id))
            .exec(&txn)
            .await?;
        wa_template::Entity::delete_by_id(e.id).exec(&txn).await?;
    }
    let m = wa_template::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(ctx.tenant_id),
        waba_id: Set(waba),
        meta_id: Set(created.id.clone()),
        name: Set(name),
        language: Set(language),
        category: Set(category),
        previous_category: Set(None),
        category_changed_at: Set(None),
        status: Set(status.clone()),
        parameter_format: Set(pf.unwrap_or_else(|| "POSITIONAL".into())),
        components: Set(serde_json::to_value(&components).unwrap_or(Value::Null)),
        quality: Set(None),
        rejected_reason: Set(None),
        created_by: Set(ctx.user_id),
        created_at: Set(now),
        updated_at: Set(now),
        synced_at: Set(None),
    }
    .insert(&txn)
    .await?;
    event(&txn, &m, "status", None, &status, None, "create").await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.template.create",
        "wa_template",
        Some(m.id.to_string()),
        json!({"name": m.name, "language": m.language, "category": m.category, "meta_id": m.meta_id}),
    )
    .await?;
    txn.commit().await?;
    Ok(m.into())
}

/// Deletes the template at Meta (this language only) and marks it DELETED.
pub async fn delete(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<(), MetaFail> {
    ctx.require(Permission::HsmManage)?;
    let t = find(db, ctx.tenant_id, id).await?;
    if t.status != "DELETED" {
        let session = session_for(db, env, ctx.tenant_id).await?;
        match session
            .delete_template(&t.waba_id, &t.name, Some(&t.meta_id))
            .await
        {
            Ok(_) | Err(meta_graph::GraphError::NotFound(_)) => {}
            Err(e) => return Err(fail_from_graph(&e)),
        }
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    set_status(&txn, &t, "DELETED", None, "user").await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.template.delete",
        "wa_template",
        Some(t.id.to_string()),
        json!({"name": t.name, "language": t.language}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

async fn set_status(
    conn: &impl ConnectionTrait,
    t: &wa_template::Model,
    status: &str,
    reason: Option<&str>,
    source: &str,
) -> Result<bool, CoreError> {
    if t.status == status {
        return Ok(false);
    }
    let mut am: wa_template::ActiveModel = t.clone().into();
    am.status = Set(status.to_owned());
    if status == "REJECTED" {
        am.rejected_reason = Set(reason.map(str::to_owned));
    }
    am.updated_at = Set(Utc::now());
    am.update(conn).await?;
    event(conn, t, "status", Some(&t.status), status, reason, source).await?;
    outbox::emit(
        conn,
        t.tenant_id,
        "template_status_changed",
        "wa_template",
        &t.id.to_string(),
        json!({"name": t.name, "language": t.language, "from": t.status, "to": status, "reason": reason}),
    )
    .await?;
    Ok(true)
}

async fn set_category(
    conn: &impl ConnectionTrait,
    t: &wa_template::Model,
    category: &str,
    source: &str,
) -> Result<bool, CoreError> {
    let category = category.to_ascii_uppercase();
    if t.category == category {
        return Ok(false);
    }
    let now = Utc::now();
    let mut am: wa_template::ActiveModel = t.clone().into();
    am.previous_category = Set(Some(t.category.clone()));
    am.category = Set(category.clone());
    am.category_changed_at = Set(Some(now));
    am.updated_at = Set(now);
    am.update(conn).await?;
    event(
        conn,
        t,
        "category",
        Some(&t.category),
        &category,
        None,
        source,
    )
    .await?;
    audit::record(
        conn,
        &Actor::system(t.tenant_id),
        "hsm.template.category_changed",
        "wa_template",
        Some(t.id.to_string()),
        json!({"from": t.category, "to": category,
               "needs_marketing_consent": tpl::needs_marketing_consent(&category)}),
    )
    .await?;
    outbox::emit(
        conn,
        t.tenant_id,
        "template_category_changed",
        "wa_template",
        &t.id.to_string(),
        json!({"name": t.name, "language": t.language, "from": t.category, "to": category}),
    )
    .await?;
    Ok(true)
}

async fn set_quality(
    conn: &impl ConnectionTrait,
    t: &wa_template::Model,
    quality: &str,
    source: &str,
) -> Result<bool, CoreError> {
    let quality = quality.to_ascii_uppercase();
    if t.quality.as_deref() == Some(quality.as_str()) {
        return Ok(false);
    }
    let mut am: wa_template::ActiveModel = t.clone().into();
    am.quality = Set(Some(quality.clone()));
    am.updated_at = Set(Utc::now());
    am.update(conn).await?;
    event(
        conn,
        t,
        "quality",
        t.quality.as_deref(),
        &quality,
        None,
        source,
    )
    .await?;
    Ok(true)
}

/// Fetches every template of the tenant's WABA (all pages) and reconciles
/// the local copy.
pub async fn sync(
    db: &DatabaseConnection,
    env: &MetaEnv,
    tenant_id: Uuid,
    actor: &Actor,
) -> Result<SyncReport, MetaFail> {
    let (waba, _) = whatsapp_ids(db, tenant_id).await?;
    let session = session_for(db, env, tenant_id).await?;
    let remote = match session.templates(&waba).await {
        Ok(r) => r,
        Err(e) => {
            let _ = meta_connection::mark_invalid(db, tenant_id, &e).await;
            return Err(fail_from_graph(&e));
        }
    };
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let report = apply_sync(&txn, tenant_id, &waba, &remote).await?;
    audit::record(
        &txn,
        actor,
        "hsm.templates.sync",
        "wa_template",
        None,
        json!({"fetched": report.fetched, "created": report.created,
               "updated": report.updated, "missing": report.missing}),
    )
    .await?;
    txn.commit().await?;
    Ok(report)
}

async fn apply_sync(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    waba: &str,
    remote: &[MessageTemplate],
) -> Result<SyncReport, CoreError> {
    let now = Utc::now();
    let local = wa_template::Entity::find()
        .filter(wa_template::Column::TenantId.eq(tenant_id))
        .all(conn)
        .await?;
    let mut report = SyncReport {
        fetched: remote.len(),
        created: 0,
        updated: 0,
        missing: 0,
    };
    for r in remote {
        let status = r.status.to_ascii_uppercase();
        let category = r
            .category
            .clone()
            .unwrap_or_else(|| "UTILITY".into())
            .to_ascii_uppercase();
        let components = from_meta_components(&r.components);
        let quality = r
            .quality_score
            .as_ref()
            .and_then(|q| q.score.clone())
            .map(|s| s.to_ascii_uppercase());
        let found = local.iter().find(|l| l.meta_id == r.id).or_else(|| {
            local
                .iter()
                .find(|l| l.name == r.name && l.language == r.language)
        });
        match found {
            Some(l) => {
                let mut changed =
                    set_status(conn, l, &status, r.rejected_reason.as_deref(), "sync").await?;
                let l = find(conn, tenant_id, l.id).await?;
                changed |= set_category(conn, &l, &category, "sync").await?;
                let l = find(conn, tenant_id, l.id).await?;
                if let Some(q) = &quality {
                    changed |= set_quality(conn, &l, q, "sync").await?;
                }
                let l = find(conn, tenant_id, l.id).await?;
                let comps = serde_json::to_value(&components).unwrap_or(Value::Null);
                let mut am: wa_template::ActiveModel = l.clone().into();
                if l.components != comps || l.meta_id != r.id {
                    am.components = Set(comps);
                    am.meta_id = Set(r.id.clone());
                    changed = true;
                }
                if let Some(pf) = &r.parameter_format {
                    am.parameter_format = Set(pf.to_ascii_uppercase());
                }
                am.rejected_reason = Set(r.rejected_reason.clone().filter(|x| x != "NONE"));
                am.synced_at = Set(Some(now));
                am.update(conn).await?;
                if changed {
                    report.updated += 1;
                }
            }
            None => {
                let m = wa_template::ActiveModel {
                    id: Set(crm_db::new_id()),
                    tenant_id: Set(tenant_id),
                    waba_id: Set(waba.to_owned()),
                    meta_id: Set(r.id.clone()),
                    name: Set(r.name.clone()),
                    language: Set(r.language.clone()),
                    category: Set(category),
                    previous_category: Set(None),
                    category_changed_at: Set(None),
                    status: Set(status.clone()),
                    parameter_format: Set(r
                        .parameter_format
                        .clone()
                        .unwrap_or_else(|| "POSITIONAL".into())
                        .to_ascii_uppercase()),
                    components: Set(serde_json::to_value(&components).unwrap_or(Value::Null)),
                    quality: Set(quality),
                    rejected_reason: Set(r.rejected_reason.clone().filter(|x| x != "NONE")),
                    created_by: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    synced_at: Set(Some(now)),
                }
                .insert(conn)
                .await?;
                event(conn, &m, "status", None, &status, None, "sync").await?;
                report.created += 1;
            }
        }
    }
    for l in &local {
        if l.status != "DELETED" && !remote.iter().any(|r| r.id == l.meta_id) {
            set_status(conn, l, "DELETED", Some("no longer listed by Meta"), "sync").await?;
            report.missing += 1;
        }
    }
    Ok(report)
}

/// `POST hsm/templates/sync`: an on-demand sync.
pub async fn sync_now(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
) -> Result<SyncReport, MetaFail> {
    ctx.require(Permission::HsmManage)?;
    sync(db, env, ctx.tenant_id, &ctx.actor()).await
}

/// Enqueues a sync (deduplicated per tenant and `bucket`).
pub async fn schedule_sync(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    bucket: &str,
) -> Result<bool, CoreError> {
    Ok(jobs::enqueue(
        conn,
        NewJob {
            tenant_id: Some(tenant_id),
            kind: SYNC_JOB.to_owned(),
            payload: json!({"tenant_id": tenant_id}),
            dedupe_key: Some(format!("{SYNC_JOB}:{tenant_id}:{bucket}")),
            run_at: Utc::now(),
            max_attempts: 5,
        },
    )
    .await?)
}

async fn by_meta_id(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    meta_id: &str,
) -> Result<Option<wa_template::Model>, CoreError> {
    Ok(wa_template::Entity::find()
        .filter(wa_template::Column::TenantId.eq(tenant_id))
        .filter(wa_template::Column::MetaId.eq(meta_id))
        .one(conn)
        .await?)
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, HandlerError> {
    serde_json::from_value(v.clone()).map_err(|e| HandlerError::Fail(format!("bad payload: {e}")))
}

async fn on_status(db: DatabaseConnection, ev: InboxEvent) -> Result<(), HandlerError> {
    let u: meta_graph::webhook::TemplateStatusUpdate = parse(&ev.value)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    match by_meta_id(&txn, ev.tenant_id, &u.message_template_id).await? {
        Some(t) => {
            let status = u.event.to_ascii_uppercase();
            set_status(
                &txn,
                &t,
                &status,
                u.reason.as_deref().filter(|r| *r != "NONE"),
                "webhook",
            )
            .await?;
            if let Some(c) = &u.message_template_category {
                let t = find(&txn, ev.tenant_id, t.id).await?;
                set_category(&txn, &t, c, "webhook").await?;
            }
        }
        // A template created outside the CRM: fetch it with a sync.
        None => {
            schedule_sync(
                &txn,
                ev.tenant_id,
                &format!("tpl:{}", u.message_template_id),
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

async fn on_quality(db: DatabaseConnection, ev: InboxEvent) -> Result<(), HandlerError> {
    let u: meta_graph::webhook::TemplateQualityUpdate = parse(&ev.value)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    if let (Some(t), Some(q)) = (
        by_meta_id(&txn, ev.tenant_id, &u.message_template_id).await?,
        u.new_quality_score.as_deref(),
    ) {
        set_quality(&txn, &t, q, "webhook").await?;
    }
    txn.commit().await?;
    Ok(())
}

async fn on_category(db: DatabaseConnection, ev: InboxEvent) -> Result<(), HandlerError> {
    let u: meta_graph::webhook::TemplateCategoryUpdate = parse(&ev.value)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    if let (Some(t), Some(c)) = (
        by_meta_id(&txn, ev.tenant_id, &u.message_template_id).await?,
        u.new_category.as_deref(),
    ) {
        set_category(&txn, &t, c, "webhook").await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Registers the template webhook handlers.
pub fn register_webhooks(reg: &mut WebhookRegistry) {
    let status: FieldHandler = Arc::new(|cx, ev| Box::pin(on_status(cx.db, ev)));
    let quality: FieldHandler = Arc::new(|cx, ev| Box::pin(on_quality(cx.db, ev)));
    let category: FieldHandler = Arc::new(|cx, ev| Box::pin(on_category(cx.db, ev)));
    reg.register("message_template_status_update", status);
    reg.register("message_template_quality_update", quality);
    reg.register("template_category_update", category);
}
