//! Pipeline stages (per tenant, seeded with defaults on first use),
//! opportunities with their stage history, and the board.

use chrono::{DateTime, NaiveDate, Utc};
use crm_db::audit::{self, Actor};
use crm_db::entity::{lead, opportunity, opportunity_stage_history, pipeline_stage};
use crm_db::outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::leads::{self, attribution_json};
use super::page::{self, Cursor, Page};
use super::timeline::{self, kind};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx, validate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Open,
    Won,
    Lost,
}

impl StageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "won" => Self::Won,
            "lost" => Self::Lost,
            _ => Self::Open,
        }
    }
}

/// The stages every tenant starts with: (key, name, kind, probability).
pub const DEFAULT_STAGES: [(&str, &str, StageKind, i32); 6] = [
    ("prospecting", "Prospecting", StageKind::Open, 10),
    ("qualification", "Qualification", StageKind::Open, 25),
    ("proposal", "Proposal", StageKind::Open, 50),
    ("negotiation", "Negotiation", StageKind::Open, 75),
    ("won", "Won", StageKind::Won, 100),
    ("lost", "Lost", StageKind::Lost, 0),
];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageView {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub kind: StageKind,
    pub position: i32,
    /// Default probability (0-100) of opportunities entering this stage.
    pub probability: i32,
}

impl From<pipeline_stage::Model> for StageView {
    fn from(m: pipeline_stage::Model) -> Self {
        Self {
            id: m.id,
            kind: StageKind::parse(&m.kind),
            key: m.key,
            name: m.name,
            position: m.position,
            probability: m.probability,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewStage {
    /// Lowercase slug, unique in the tenant (e.g. `demo_scheduled`).
    #[schema(min_length = 1, max_length = 40, pattern = r"^[a-z0-9_]{1,40}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 80, pattern = r"\S")]
    pub name: String,
    pub kind: StageKind,
    /// Default: after the last stage.
    pub position: Option<i32>,
    #[schema(minimum = 0, maximum = 100)]
    pub probability: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct StagePatch {
    #[schema(min_length = 1, max_length = 80, pattern = r"\S")]
    pub name: Option<String>,
    pub position: Option<i32>,
    #[schema(minimum = 0, maximum = 100)]
    pub probability: Option<i32>,
}

/// Seeds the default stages for a tenant that has none. Idempotent and safe
/// under concurrency (insert … ON CONFLICT DO NOTHING on (tenant_id, key)).
pub async fn ensure_default_stages(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<(), CoreError> {
    let n = pipeline_stage::Entity::find()
        .filter(pipeline_stage::Column::TenantId.eq(tenant_id))
        .count(conn)
        .await?;
    if n > 0 {
        return Ok(());
    }
    let now = Utc::now();
    let rows = DEFAULT_STAGES
        .iter()
        .enumerate()
        .map(|(i, (key, name, kind, p))| pipeline_stage::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(tenant_id),
            key: Set((*key).to_owned()),
            name: Set((*name).to_owned()),
            kind: Set(kind.as_str().to_owned()),
            position: Set(i as i32 * 10),
            probability: Set(*p),
            created_at: Set(now),
            updated_at: Set(now),
        });
    pipeline_stage::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([
            pipeline_stage::Column::TenantId,
            pipeline_stage::Column::Key,
        ])
        .exec(conn)
        .await?;
    Ok(())
}

async fn stages(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<Vec<pipeline_stage::Model>, CoreError> {
    ensure_default_stages(conn, tenant_id).await?;
    Ok(pipeline_stage::Entity::find()
        .filter(pipeline_stage::Column::TenantId.eq(tenant_id))
        .order_by_asc(pipeline_stage::Column::Position)
        .order_by_asc(pipeline_stage::Column::Id)
        .all(conn)
        .await?)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageList {
    pub items: Vec<StageView>,
}

pub async fn list_stages(db: &DatabaseConnection, ctx: &TenantCtx) -> Result<StageList, CoreError> {
    ctx.require(Permission::PipelineRead)?;
    Ok(StageList {
        items: stages(db, ctx.tenant_id)
            .await?
            .into_iter()
            .map(StageView::from)
            .collect(),
    })
}

fn probability(p: i32) -> Result<i32, CoreError> {
    if (0..=100).contains(&p) {
        Ok(p)
    } else {
        Err(CoreError::validation(
            "invalid_probability",
            "probability must be between 0 and 100",
        ))
    }
}

pub async fn create_stage(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &NewStage,
) -> Result<StageView, CoreError> {
    ctx.require(Permission::SettingsManage)?;
    let key = input.key.trim().to_lowercase();
    if key.is_empty()
        || key.len() > 40
        || !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(CoreError::validation(
            "invalid_stage_key",
            "the key must be 1 to 40 characters of a-z, 0-9 and _",
        ));
    }
    let name = validate::name("name", &input.name, 80)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let existing = stages(&txn, ctx.tenant_id).await?;
    if let Some(s) = existing.iter().find(|s| s.key == key) {
        return Err(CoreError::Conflict {
            code: "stage_key_taken",
            message: format!("a stage with key {key} already exists"),
            details: Some(json!({"existing_id": s.id})),
        });
    }
    let position = input
        .position
        .unwrap_or_else(|| existing.iter().map(|s| s.position).max().unwrap_or(0) + 10);
    let default_p = match input.kind {
        StageKind::Won => 100,
        StageKind::Lost => 0,
        StageKind::Open => 50,
    };
    let now = Utc::now();
    let m = pipeline_stage::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(ctx.tenant_id),
        key: Set(key),
        name: Set(name),
        kind: Set(input.kind.as_str().to_owned()),
        position: Set(position),
        probability: Set(probability(input.probability.unwrap_or(default_p))?),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "pipeline.stage.create",
        "pipeline_stage",
        Some(m.id.to_string()),
        json!({"key": m.key, "kind": m.kind}),
    )
    .await?;
    txn.commit().await?;
    Ok(m.into())
}

async fn stage_in_tenant(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<pipeline_stage::Model, CoreError> {
    pipeline_stage::Entity::find_by_id(id)
        .filter(pipeline_stage::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("stage"))
}

pub async fn update_stage(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    patch: &StagePatch,
) -> Result<StageView, CoreError> {
    ctx.require(Permission::SettingsManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let s = stage_in_tenant(&txn, ctx.tenant_id, id).await?;
    let mut am: pipeline_stage::ActiveModel = s.into();
    if let Some(n) = &patch.name {
        am.name = Set(validate::name("name", n, 80)?);
    }
    if let Some(p) = patch.position {
        am.position = Set(p);
    }
    if let Some(p) = patch.probability {
        am.probability = Set(probability(p)?);
    }
    am.updated_at = Set(Utc::now());
    let m = am.update(&txn).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "pipeline.stage.update",
        "pipeline_stage",
        Some(id.to_string()),
        json!({"name": m.name, "position": m.position, "probability": m.probability}),
    )
    .await?;
    txn.commit().await?;
    Ok(m.into())
}

/// Deletes a stage that no opportunity uses (409 `stage_in_use` otherwise).
pub async fn delete_stage(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<(), CoreError> {
    ctx.require(Permission::SettingsManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let s = stage_in_tenant(&txn, ctx.tenant_id, id).await?;
    let used = opportunity::Entity::find()
        .filter(opportunity::Column::TenantId.eq(ctx.tenant_id))
        .filter(opportunity::Column::StageId.eq(id))
        .count(&txn)
        .await?;
    if used > 0 {
        return Err(CoreError::Conflict {
            code: "stage_in_use",
            message: format!("{used} opportunities are in this stage; move them first"),
            details: Some(json!({"opportunities": used})),
        });
    }
    let used_in_history = opportunity_stage_history::Entity::find()
        .filter(opportunity_stage_history::Column::TenantId.eq(ctx.tenant_id))
        .filter(
            Condition::any()
                .add(opportunity_stage_history::Column::FromStageId.eq(id))
                .add(opportunity_stage_history::Column::ToStageId.eq(id)),
        )
        .count(&txn)
        .await?;
    if used_in_history > 0 {
        return Err(CoreError::conflict(
            "stage_in_history",
            "opportunities have passed through this stage; rename it instead of deleting it",
        ));
    }
    let same_kind_left = stages(&txn, ctx.tenant_id)
        .await?
        .iter()
        .filter(|o| o.kind == s.kind && o.id != id)
        .count();
    if same_kind_left == 0 {
        return Err(CoreError::conflict(
            "last_stage_of_kind",
            format!("the pipeline needs at least one {} stage", s.kind),
        ));
    }
    pipeline_stage::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "pipeline.stage.delete",
        "pipeline_stage",
        Some(id.to_string()),
        json!({"key": s.key}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Opportunities

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpportunityView {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub owner_id: Option<Uuid>,
    pub name: String,
    /// Integer minor units (cents) of `currency`.
    pub value_minor: i64,
    pub currency: String,
    pub stage_id: Uuid,
    pub stage_key: String,
    pub stage_kind: StageKind,
    pub probability: i32,
    pub expected_close_date: Option<NaiveDate>,
    pub closed_at: Option<DateTime<Utc>>,
    pub lost_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn view(m: opportunity::Model, st: &pipeline_stage::Model) -> OpportunityView {
    OpportunityView {
        id: m.id,
        lead_id: m.lead_id,
        owner_id: m.owner_id,
        name: m.name,
        value_minor: m.value_minor,
        currency: m.currency,
        stage_id: m.stage_id,
        stage_key: st.key.clone(),
        stage_kind: StageKind::parse(&st.kind),
        probability: m.probability,
        expected_close_date: m.expected_close_date,
        closed_at: m.closed_at,
        lost_reason: m.lost_reason,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn views(rows: Vec<opportunity::Model>, st: &[pipeline_stage::Model]) -> Vec<OpportunityView> {
    rows.into_iter()
        .filter_map(|m| {
            let s = st.iter().find(|s| s.id == m.stage_id)?.clone();
            Some(view(m, &s))
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewOpportunity {
    pub lead_id: Uuid,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Integer minor units (e.g. cents); 0 or more.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub value_minor: i64,
    /// ISO 4217; defaults to the tenant's currency.
    #[schema(pattern = r"^\s*[A-Za-z]{3}\s*$")]
    pub currency: Option<String>,
    /// Stage id; defaults to the first open stage.
    pub stage_id: Option<Uuid>,
    /// Defaults to the stage's probability.
    #[schema(minimum = 0, maximum = 100)]
    pub probability: Option<i32>,
    pub expected_close_date: Option<NaiveDate>,
    /// Defaults to the lead's owner, or the caller for sellers.
    pub owner_id: Option<Uuid>,
}

/// Partial update; a `stage_id` change is a stage move (history row, events).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct OpportunityPatch {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub value_minor: Option<i64>,
    #[schema(pattern = r"^\s*[A-Za-z]{3}\s*$")]
    pub currency: Option<String>,
    pub stage_id: Option<Uuid>,
    pub probability: Option<i32>,
    pub expected_close_date: Option<NaiveDate>,
    pub owner_id: Option<Uuid>,
    /// Recorded when moving to a lost stage.
    pub lost_reason: Option<String>,
}

/// Opportunities the caller may see.
pub fn scope(ctx: &TenantCtx) -> Condition {
    let c = Condition::all().add(opportunity::Column::TenantId.eq(ctx.tenant_id));
    if ctx.role.own_records_only() {
        match ctx.user_id {
            Some(u) => c.add(opportunity::Column::OwnerId.eq(u)),
            None => c.add(opportunity::Column::Id.is_null()),
        }
    } else {
        c
    }
}

pub async fn visible_opportunity(
    conn: &impl ConnectionTrait,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<opportunity::Model, CoreError> {
    opportunity::Entity::find()
        .filter(scope(ctx).add(opportunity::Column::Id.eq(id)))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("opportunity"))
}

fn money(value: i64, currency: &str) -> Result<(i64, String), CoreError> {
    if value < 0 {
        return Err(CoreError::validation(
            "invalid_amount",
            "amounts are zero or more minor units",
        ));
    }
    crate::validate::amount_within_bounds(value)?;
    Ok((value, validate::currency(currency)?))
}

fn event_payload(o: &OpportunityView, l: &lead::Model, extra: Value) -> Value {
    let mut v = json!({
        "opportunity": o,
        "lead": {
            "id": l.id, "name": l.name, "phone": l.phone, "email": l.email,
            "wa_id": l.wa_id, "bsuid": l.bsuid, "status": l.status, "owner_id": l.owner_id,
            "ctwa_clid": l.ctwa_clid, "meta_lead_id": l.meta_lead_id,
        },
        "attribution": attribution_json(l),
    });
    if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), extra) {
        obj.extend(extra);
    }
    v
}

pub async fn create_opportunity(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &NewOpportunity,
) -> Result<OpportunityView, CoreError> {
    ctx.require(Permission::PipelineWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let l = leads::visible_lead(&txn, ctx, input.lead_id)
        .await
        .map_err(|_| CoreError::validation("invalid_lead", "lead_id is not a lead you can see"))?;
    let tenant = leads::tenant_of(&txn, ctx.tenant_id).await?;
    let name = validate::name("name", &input.name, 200)?;
    let (value, currency) = money(
        input.value_minor,
        input.currency.as_deref().unwrap_or(&tenant.currency),
    )?;
    let all = stages(&txn, ctx.tenant_id).await?;
    let st = match input.stage_id {
        Some(s) => all.iter().find(|x| x.id == s).cloned().ok_or_else(|| {
            CoreError::validation("invalid_stage", "stage_id is not a stage of this pipeline")
        })?,
        None => all
            .iter()
            .find(|x| x.kind == "open")
            .cloned()
            .ok_or_else(|| {
                CoreError::validation("invalid_stage", "the pipeline has no open stage")
            })?,
    };
    let owner = match input.owner_id {
        Some(o) => Some(leads::check_owner(&txn, ctx, o).await?.id),
        None if ctx.role.own_records_only() => ctx.user_id,
        None => l.owner_id,
    };
    let now = Utc::now();
    let closed = st.kind != "open";
    let m = opportunity::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(ctx.tenant_id),
        lead_id: Set(l.id),
        owner_id: Set(owner),
        name: Set(name),
        value_minor: Set(value),
        currency: Set(currency),
        stage_id: Set(st.id),
        probability: Set(probability(input.probability.unwrap_or(st.probability))?),
        expected_close_date: Set(input.expected_close_date),
        closed_at: Set(closed.then_some(now)),
        lost_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    opportunity_stage_history::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(ctx.tenant_id),
        opportunity_id: Set(m.id),
        from_stage_id: Set(None),
        to_stage_id: Set(st.id),
        changed_by_user_id: Set(ctx.user_id),
        changed_by_token_id: Set(ctx.token_id),
        at: Set(now),
    }
    .insert(&txn)
    .await?;
    let v = view(m, &st);
    let actor = ctx.actor();
    timeline::write(
        &txn,
        &actor,
        l.id,
        kind::OPPORTUNITY_CREATED,
        json!({"opportunity_id": v.id, "name": v.name, "value_minor": v.value_minor,
               "currency": v.currency, "stage_key": st.key}),
    )
    .await?;
    audit::record(
        &txn,
        &actor,
        "opportunity.create",
        "opportunity",
        Some(v.id.to_string()),
        json!({"lead_id": l.id}),
    )
    .await?;
    outbox::emit(
        &txn,
        ctx.tenant_id,
        "opportunity_created",
        "opportunity",
        &v.id.to_string(),
        event_payload(&v, &l, json!({})),
    )
    .await?;
    if closed {
        outbox::emit(
            &txn,
            ctx.tenant_id,
            if st.kind == "won" {
                "opportunity_won"
            } else {
                "opportunity_lost"
            },
            "opportunity",
            &v.id.to_string(),
            event_payload(
                &v,
                &l,
                json!({"from_stage": null, "to_stage": StageView::from(st.clone())}),
            ),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(v)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageChange {
    pub id: Uuid,
    pub from_stage_id: Option<Uuid>,
    pub to_stage_id: Uuid,
    pub changed_by_user_id: Option<Uuid>,
    pub changed_by_token_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpportunityDetail {
    pub opportunity: OpportunityView,
    /// Every stage change, oldest first (the first row is the creation).
    pub history: Vec<StageChange>,
}

pub async fn get_opportunity(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<OpportunityDetail, CoreError> {
    ctx.require(Permission::PipelineRead)?;
    let m = visible_opportunity(db, ctx, id).await?;
    let st = stage_in_tenant(db, ctx.tenant_id, m.stage_id).await?;
    let history = opportunity_stage_history::Entity::find()
        .filter(opportunity_stage_history::Column::TenantId.eq(ctx.tenant_id))
        .filter(opportunity_stage_history::Column::OpportunityId.eq(id))
        .order_by_asc(opportunity_stage_history::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|h| StageChange {
            id: h.id,
            from_stage_id: h.from_stage_id,
            to_stage_id: h.to_stage_id,
            changed_by_user_id: h.changed_by_user_id,
            changed_by_token_id: h.changed_by_token_id,
            at: h.at,
        })
        .collect();
    Ok(OpportunityDetail {
        opportunity: view(m, &st),
        history,
    })
}

pub async fn update_opportunity(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    patch: &OpportunityPatch,
) -> Result<OpportunityView, CoreError> {
    ctx.require(Permission::PipelineWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let m = visible_opportunity(&txn, ctx, id).await?;
    let all = stages(&txn, ctx.tenant_id).await?;
    let from = all
        .iter()
        .find(|s| s.id == m.stage_id)
        .cloned()
        .ok_or(CoreError::NotFound("stage"))?;
    let mut am: opportunity::ActiveModel = m.clone().into();
    let mut fields: Vec<&str> = vec![];
    if let Some(n) = &patch.name {
        am.name = Set(validate::name("name", n, 200)?);
        fields.push("name");
    }
    if patch.value_minor.is_some() || patch.currency.is_some() {
        let (v, c) = money(
            patch.value_minor.unwrap_or(m.value_minor),
            patch.currency.as_deref().unwrap_or(&m.currency),
        )?;
        am.value_minor = Set(v);
        am.currency = Set(c);
        fields.push("value");
    }
    if let Some(p) = patch.probability {
        am.probability = Set(probability(p)?);
        fields.push("probability");
    }
    if let Some(d) = patch.expected_close_date {
        am.expected_close_date = Set(Some(d));
        fields.push("expected_close_date");
    }
    if let Some(o) = patch.owner_id
        && Some(o) != m.owner_id
    {
        leads::check_owner(&txn, ctx, o).await?;
        am.owner_id = Set(Some(o));
        fields.push("owner_id");
    }
    let mut to: Option<pipeline_stage::Model> = None;
    if let Some(sid) = patch.stage_id
        && sid != m.stage_id
    {
        let st = all.iter().find(|s| s.id == sid).cloned().ok_or_else(|| {
            CoreError::validation("invalid_stage", "stage_id is not a stage of this pipeline")
        })?;
        let now = Utc::now();
        am.stage_id = Set(st.id);
        if patch.probability.is_none() {
            am.probability = Set(st.probability);
        }
        match st.kind.as_str() {
            "open" => {
                am.closed_at = Set(None);
                am.lost_reason = Set(None);
            }
            k => {
                am.closed_at = Set(Some(now));
                if k == "lost" {
                    am.lost_reason = Set(patch
                        .lost_reason
                        .as_deref()
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| s.chars().take(2000).collect()));
                } else {
                    am.lost_reason = Set(None);
                }
            }
        }
        fields.push("stage");
        to = Some(st);
    } else if let Some(r) = &patch.lost_reason {
        if from.kind != "lost" {
            return Err(CoreError::validation(
                "not_lost",
                "lost_reason applies only to a lost opportunity",
            ));
        }
        am.lost_reason = Set(Some(r.trim().chars().take(2000).collect()));
        fields.push("lost_reason");
    }
    if fields.is_empty() {
        return Ok(view(m, &from));
    }
    am.updated_at = Set(Utc::now());
    let after = am.update(&txn).await?;
    let cur = to.clone().unwrap_or_else(|| from.clone());
    let v = view(after, &cur);
    let actor = ctx.actor();
    let l = lead::Entity::find_by_id(m.lead_id)
        .filter(lead::Column::TenantId.eq(ctx.tenant_id))
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound("lead"))?;
    if let Some(st) = &to {
        stage_moved(&txn, &actor, &v, &l, &from, st).await?;
    }
    audit::record(
        &txn,
        &actor,
        "opportunity.update",
        "opportunity",
        Some(id.to_string()),
        json!({"fields": fields}),
    )
    .await?;
    txn.commit().await?;
    Ok(v)
}

async fn stage_moved(
    txn: &DatabaseTransaction,
    actor: &Actor,
    v: &OpportunityView,
    l: &lead::Model,
    from: &pipeline_stage::Model,
    to: &pipeline_stage::Model,
) -> Result<(), CoreError> {
    opportunity_stage_history::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(actor.tenant_id),
        opportunity_id: Set(v.id),
        from_stage_id: Set(Some(from.id)),
        to_stage_id: Set(to.id),
        changed_by_user_id: Set(actor.user_id),
        changed_by_token_id: Set(actor.token_id),
        at: Set(Utc::now()),
    }
    .insert(txn)
    .await?;
    timeline::write(
        txn,
        actor,
        l.id,
        kind::STAGE_CHANGED,
        json!({"opportunity_id": v.id, "name": v.name, "from": from.key, "to": to.key,
               "to_kind": to.kind, "lost_reason": v.lost_reason}),
    )
    .await?;
    let extra = json!({"from_stage": StageView::from(from.clone()), "to_stage": StageView::from(to.clone())});
    outbox::emit(
        txn,
        actor.tenant_id,
        "opportunity_stage_changed",
        "opportunity",
        &v.id.to_string(),
        event_payload(v, l, extra.clone()),
    )
    .await?;
    let closing = match to.kind.as_str() {
        "won" => Some("opportunity_won"),
        "lost" => Some("opportunity_lost"),
        _ => None,
    };
    if let Some(ev) = closing {
        outbox::emit(
            txn,
            actor.tenant_id,
            ev,
            "opportunity",
            &v.id.to_string(),
            event_payload(v, l, extra),
        )
        .await?;
    }
    Ok(())
}

/// Deletes an opportunity without sales.
pub async fn delete_opportunity(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<(), CoreError> {
    ctx.require(Permission::PipelineWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let m = visible_opportunity(&txn, ctx, id).await?;
    if super::sales::opportunity_has_sales(&txn, ctx.tenant_id, id).await? {
        return Err(CoreError::conflict(
            "opportunity_has_sales",
            "this opportunity has sales transactions and cannot be deleted",
        ));
    }
    opportunity::Entity::delete_many()
        .filter(opportunity::Column::TenantId.eq(ctx.tenant_id))
        .filter(opportunity::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    // No outbox event for a deletion: mark the lead for the rollups here.
    crm_db::rollups::mark_leads(&txn, ctx.tenant_id, &[m.lead_id]).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "opportunity.delete",
        "opportunity",
        Some(id.to_string()),
        json!({"lead_id": m.lead_id, "name": m.name}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub(crate) async fn delete_opportunities_of_lead(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    lead_id: Uuid,
) -> Result<(), CoreError> {
    opportunity::Entity::delete_many()
        .filter(opportunity::Column::TenantId.eq(tenant_id))
        .filter(opportunity::Column::LeadId.eq(lead_id))
        .exec(conn)
        .await?;
    Ok(())
}

pub(crate) async fn opportunities_of_lead(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    lead_id: Uuid,
) -> Result<Vec<OpportunityView>, CoreError> {
    let st = stages(db, ctx.tenant_id).await?;
    let rows = opportunity::Entity::find()
        .filter(scope(ctx).add(opportunity::Column::LeadId.eq(lead_id)))
        .order_by_desc(opportunity::Column::Id)
        .all(db)
        .await?;
    Ok(views(rows, &st))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpportunityQuery {
    pub lead_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
    /// `open`, `won` or `lost`.
    pub status: Option<String>,
    pub owner: Option<Uuid>,
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<500, _>"
    )]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Opportunities, newest first.
pub async fn list_opportunities(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &OpportunityQuery,
) -> Result<Page<OpportunityView>, CoreError> {
    ctx.require(Permission::PipelineRead)?;
    let st = stages(db, ctx.tenant_id).await?;
    let limit = page::limit(q.limit, 50, 500);
    let mut cond = scope(ctx);
    if let Some(v) = q.lead_id {
        cond = cond.add(opportunity::Column::LeadId.eq(v));
    }
    if let Some(v) = q.stage_id {
        cond = cond.add(opportunity::Column::StageId.eq(v));
    }
    if let Some(v) = q.owner {
        cond = cond.add(opportunity::Column::OwnerId.eq(v));
    }
    if let Some(k) = q.status.as_deref().filter(|s| !s.is_empty()) {
        if !["open", "won", "lost"].contains(&k) {
            return Err(CoreError::validation(
                "invalid_status",
                "status must be open, won or lost",
            ));
        }
        let ids: Vec<Uuid> = st.iter().filter(|s| s.kind == k).map(|s| s.id).collect();
        cond = cond.add(opportunity::Column::StageId.is_in(ids));
    }
    if let Some(c) = &q.cursor {
        cond = cond.add(opportunity::Column::Id.lt(Cursor::decode(c)?.id));
    }
    let mut rows = opportunity::Entity::find()
        .filter(cond)
        .order_by_desc(opportunity::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor { k: None, id: r.id }.encode())
    } else {
        None
    };
    Ok(Page {
        items: views(rows, &st),
        next_cursor,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CurrencyTotal {
    pub currency: String,
    /// Sum of values, minor units.
    pub value_minor: i64,
    /// Sum of value × probability / 100, minor units (rounded down).
    pub weighted_minor: i64,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardCard {
    #[serde(flatten)]
    pub opportunity: OpportunityView,
    pub lead_name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardColumn {
    pub stage: StageView,
    /// Opportunities in the stage, most recently updated first (up to `limit`).
    pub items: Vec<BoardCard>,
    /// All opportunities in the stage (may exceed `items`).
    pub count: u64,
    /// Per-currency totals; currencies are never added together.
    pub totals: Vec<CurrencyTotal>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Board {
    pub columns: Vec<BoardColumn>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    pub owner: Option<Uuid>,
    /// Cards per column, 1 to 500 (default 100). Totals count all of them.
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<500, _>"
    )]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// The pipeline board: opportunities grouped by stage with per-currency totals.
pub async fn board(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &BoardQuery,
) -> Result<Board, CoreError> {
    ctx.require(Permission::PipelineRead)?;
    let st = stages(db, ctx.tenant_id).await?;
    let limit = page::limit(q.limit, 100, 500);
    let mut cond = scope(ctx);
    if let Some(o) = q.owner {
        cond = cond.add(opportunity::Column::OwnerId.eq(o));
    }
    let mut columns = vec![];
    for s in st {
        let c = cond.clone().add(opportunity::Column::StageId.eq(s.id));
        // Totals per currency are summed by the database (never across
        // currencies); only the shown cards are loaded.
        let sums: Vec<(String, i64, i64, i64)> = opportunity::Entity::find()
            .select_only()
            .column(opportunity::Column::Currency)
            .expr(Expr::cust("CAST(COALESCE(SUM(value_minor), 0) AS BIGINT)"))
            .expr(Expr::cust(
                "CAST(COALESCE(SUM(value_minor * probability), 0) AS BIGINT)",
            ))
            .expr(Expr::cust("CAST(COUNT(*) AS BIGINT)"))
            .filter(c.clone())
            .group_by(opportunity::Column::Currency)
            .order_by_asc(opportunity::Column::Currency)
            .into_tuple()
            .all(db)
            .await?;
        let count = sums.iter().map(|t| t.3.max(0) as u64).sum();
        let totals = sums
            .into_iter()
            .map(|(currency, v, w, n)| CurrencyTotal {
                currency,
                value_minor: v,
                weighted_minor: w / 100,
                count: n.max(0) as u64,
            })
            .collect();
        let shown = opportunity::Entity::find()
            .filter(c)
            .order_by_desc(opportunity::Column::UpdatedAt)
            .order_by_desc(opportunity::Column::Id)
            .limit(limit)
            .all(db)
            .await?;
        let lead_ids: Vec<Uuid> = shown.iter().map(|o| o.lead_id).collect();
        let names: Vec<(Uuid, String)> = if lead_ids.is_empty() {
            vec![]
        } else {
            lead::Entity::find()
                .select_only()
                .column(lead::Column::Id)
                .column(lead::Column::Name)
                .filter(lead::Column::TenantId.eq(ctx.tenant_id))
                .filter(lead::Column::Id.is_in(lead_ids))
                .into_tuple()
                .all(db)
                .await?
        };
        let items = shown
            .into_iter()
            .map(|o| BoardCard {
                lead_name: names
                    .iter()
                    .find(|(id, _)| *id == o.lead_id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default(),
                opportunity: view(o, &s),
            })
            .collect();
        columns.push(BoardColumn {
            stage: s.into(),
            items,
            count,
            totals,
        });
    }
    Ok(Board { columns })
}
