//! Sales transactions: a sale belongs to an opportunity and its lead, keeps a
//! snapshot of the lead's attribution, and is never edited in amount. A refund
//! is its own transaction (`kind = refund`) referencing the sale.
//!
//! Net revenue of a set of sales = Σ amount of `kind=sale` rows with status
//! `completed` or `refunded` − Σ amount of `kind=refund` rows with status
//! `completed`, per currency.

use chrono::{DateTime, Utc};
use crm_db::audit;
use crm_db::entity::{lead, opportunity, sale};
use crm_db::outbox;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::leads::attribution_json;
use super::page::{self, Cursor, Page};
use super::pipeline;
use super::timeline::{self, kind};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx, validate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SaleStatus {
    Pending,
    Completed,
    Refunded,
    Failed,
}

impl SaleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Refunded => "refunded",
            Self::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "refunded" => Self::Refunded,
            "failed" => Self::Failed,
            _ => Self::Completed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SaleKind {
    Sale,
    Refund,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SaleView {
    pub id: Uuid,
    pub opportunity_id: Uuid,
    pub lead_id: Uuid,
    pub kind: SaleKind,
    /// For a refund: the sale it reverses.
    pub refund_of: Option<Uuid>,
    /// Positive minor units; a refund's effect on revenue is negative.
    pub amount_minor: i64,
    pub currency: String,
    pub status: SaleStatus,
    pub paid_at: Option<DateTime<Utc>>,
    pub method: Option<String>,
    pub invoice_ref: Option<String>,
    pub note: Option<String>,
    /// The lead's attribution when the sale was recorded.
    #[schema(value_type = Object)]
    pub attribution: Value,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<sale::Model> for SaleView {
    fn from(m: sale::Model) -> Self {
        Self {
            id: m.id,
            opportunity_id: m.opportunity_id,
            lead_id: m.lead_id,
            kind: if m.kind == "refund" {
                SaleKind::Refund
            } else {
                SaleKind::Sale
            },
            refund_of: m.refund_of,
            amount_minor: m.amount_minor,
            currency: m.currency,
            status: SaleStatus::parse(&m.status),
            paid_at: m.paid_at,
            method: m.method,
            invoice_ref: m.invoice_ref,
            note: m.note,
            attribution: m.attribution,
            created_by: m.created_by,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewSale {
    pub opportunity_id: Uuid,
    /// Positive integer minor units.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    pub amount_minor: i64,
    /// ISO 4217; defaults to the opportunity's currency.
    #[schema(pattern = r"^\s*[A-Za-z]{3}\s*$")]
    pub currency: Option<String>,
    /// `pending`, `completed` (default) or `failed`.
    pub status: Option<SaleStatus>,
    /// Default: now for completed sales.
    pub paid_at: Option<DateTime<Utc>>,
    /// e.g. `card`, `transfer`, `cash`, `mercadopago`.
    pub method: Option<String>,
    pub invoice_ref: Option<String>,
    pub note: Option<String>,
}

/// Status and payment details; the amount can never be changed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct SalePatch {
    /// pending → completed | failed; failed → pending. Use the refund
    /// endpoint to refund.
    pub status: Option<SaleStatus>,
    pub paid_at: Option<DateTime<Utc>>,
    pub method: Option<String>,
    pub invoice_ref: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewRefund {
    /// Default: what is left to refund of the sale.
    pub amount_minor: Option<i64>,
    pub method: Option<String>,
    pub note: Option<String>,
}

fn text(v: &Option<String>, field: &'static str, max: usize) -> Result<Option<String>, CoreError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() <= max => Ok(Some(s.to_owned())),
        Some(_) => Err(CoreError::validation(
            "too_long",
            format!("{field} must have at most {max} characters"),
        )),
    }
}

/// Sales the caller may see (sellers: of their own opportunities).
pub fn scope(ctx: &TenantCtx) -> Condition {
    let c = Condition::all().add(sale::Column::TenantId.eq(ctx.tenant_id));
    if ctx.role.own_records_only() {
        match ctx.user_id {
            Some(u) => c.add(
                sale::Column::OpportunityId.in_subquery(
                    Query::select()
                        .column(opportunity::Column::Id)
                        .from(opportunity::Entity)
                        .and_where(opportunity::Column::TenantId.eq(ctx.tenant_id))
                        .and_where(opportunity::Column::OwnerId.eq(u))
                        .take(),
                ),
            ),
            None => c.add(sale::Column::Id.is_null()),
        }
    } else {
        c
    }
}

async fn visible_sale(
    conn: &impl ConnectionTrait,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<sale::Model, CoreError> {
    sale::Entity::find()
        .filter(scope(ctx).add(sale::Column::Id.eq(id)))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("sale"))
}

pub(crate) async fn lead_has_sales(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    lead_id: Uuid,
) -> Result<bool, CoreError> {
    Ok(sale::Entity::find()
        .filter(sale::Column::TenantId.eq(tenant_id))
        .filter(sale::Column::LeadId.eq(lead_id))
        .count(conn)
        .await?
        > 0)
}

pub(crate) async fn opportunity_has_sales(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    opportunity_id: Uuid,
) -> Result<bool, CoreError> {
    Ok(sale::Entity::find()
        .filter(sale::Column::TenantId.eq(tenant_id))
        .filter(sale::Column::OpportunityId.eq(opportunity_id))
        .count(conn)
        .await?
        > 0)
}

async fn lead_of(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<lead::Model, CoreError> {
    lead::Entity::find_by_id(id)
        .filter(lead::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("lead"))
}

fn event(s: &SaleView, o: &opportunity::Model, l: &lead::Model) -> Value {
    json!({
        "sale": s,
        "opportunity": {"id": o.id, "name": o.name, "owner_id": o.owner_id, "stage_id": o.stage_id,
                        "value_minor": o.value_minor, "currency": o.currency},
        "lead": {"id": l.id, "name": l.name, "phone": l.phone, "email": l.email, "wa_id": l.wa_id,
                 "bsuid": l.bsuid, "owner_id": l.owner_id, "status": l.status},
        "attribution": s.attribution,
    })
}

pub async fn create(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &NewSale,
) -> Result<SaleView, CoreError> {
    ctx.require(Permission::SalesWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let o = pipeline::visible_opportunity(&txn, ctx, input.opportunity_id)
        .await
        .map_err(|_| {
            CoreError::validation(
                "invalid_opportunity",
                "opportunity_id is not an opportunity you can see",
            )
        })?;
    if input.amount_minor <= 0 {
        return Err(CoreError::validation(
            "invalid_amount",
            "the amount must be a positive number of minor units",
        ));
    }
    crate::validate::amount_within_bounds(input.amount_minor)?;
    let currency = validate::currency(input.currency.as_deref().unwrap_or(&o.currency))?;
    let status = input.status.unwrap_or(SaleStatus::Completed);
    if status == SaleStatus::Refunded {
        return Err(CoreError::validation(
            "invalid_status",
            "a new sale is pending, completed or failed; refunds are recorded with the refund endpoint",
        ));
    }
    let l = lead_of(&txn, ctx.tenant_id, o.lead_id).await?;
    let now = Utc::now();
    let paid_at = match (input.paid_at, status) {
        (Some(p), _) => Some(p),
        (None, SaleStatus::Completed) => Some(now),
        _ => None,
    };
    let m = sale::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(ctx.tenant_id),
        opportunity_id: Set(o.id),
        lead_id: Set(l.id),
        kind: Set("sale".into()),
        refund_of: Set(None),
        amount_minor: Set(input.amount_minor),
        currency: Set(currency),
        status: Set(status.as_str().into()),
        paid_at: Set(paid_at),
        method: Set(text(&input.method, "method", 64)?),
        invoice_ref: Set(text(&input.invoice_ref, "invoice_ref", 128)?),
        note: Set(text(&input.note, "note", 2000)?),
        attribution: Set(attribution_json(&l)),
        created_by: Set(ctx.user_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let v = SaleView::from(m);
    let actor = ctx.actor();
    if status == SaleStatus::Completed {
        super::leads::mark_customer(&txn, &actor, &l).await?;
    }
    timeline::write(
        &txn,
        &actor,
        l.id,
        kind::SALE,
        json!({"sale_id": v.id, "opportunity_id": o.id, "amount_minor": v.amount_minor,
               "currency": v.currency, "status": v.status, "method": v.method, "invoice_ref": v.invoice_ref}),
    )
    .await?;
    audit::record(
        &txn,
        &actor,
        "sale.create",
        "sale",
        Some(v.id.to_string()),
        json!({"opportunity_id": o.id, "amount_minor": v.amount_minor, "currency": v.currency}),
    )
    .await?;
    outbox::emit(
        &txn,
        ctx.tenant_id,
        "sale_recorded",
        "sale",
        &v.id.to_string(),
        event(&v, &o, &l),
    )
    .await?;
    txn.commit().await?;
    Ok(v)
}

pub async fn get(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<SaleView, CoreError> {
    ctx.require(Permission::PipelineRead)?;
    Ok(visible_sale(db, ctx, id).await?.into())
}

pub async fn update(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    patch: &SalePatch,
) -> Result<SaleView, CoreError> {
    ctx.require(Permission::SalesWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let m = visible_sale(&txn, ctx, id).await?;
    let before = SaleStatus::parse(&m.status);
    let mut am: sale::ActiveModel = m.clone().into();
    let mut fields = vec![];
    if let Some(s) = patch.status
        && s != before
    {
        let allowed = matches!(
            (before, s),
            (SaleStatus::Pending, SaleStatus::Completed)
                | (SaleStatus::Pending, SaleStatus::Failed)
                | (SaleStatus::Failed, SaleStatus::Pending)
        );
        if !allowed {
            return Err(CoreError::Validation {
                code: "invalid_status_change",
                message: format!(
                    "a {} transaction cannot become {} (refund with POST /api/sales/{{id}}/refunds)",
                    before.as_str(),
                    s.as_str()
                ),
                details: Some(json!({"from": before, "to": s})),
            });
        }
        am.status = Set(s.as_str().into());
        if s == SaleStatus::Completed && m.paid_at.is_none() && patch.paid_at.is_none() {
            am.paid_at = Set(Some(Utc::now()));
        }
        fields.push("status");
    }
    if let Some(p) = patch.paid_at {
        am.paid_at = Set(Some(p));
        fields.push("paid_at");
    }
    if patch.method.is_some() {
        am.method = Set(text(&patch.method, "method", 64)?);
        fields.push("method");
    }
    if patch.invoice_ref.is_some() {
        am.invoice_ref = Set(text(&patch.invoice_ref, "invoice_ref", 128)?);
        fields.push("invoice_ref");
    }
    if patch.note.is_some() {
        am.note = Set(text(&patch.note, "note", 2000)?);
        fields.push("note");
    }
    if fields.is_empty() {
        return Ok(m.into());
    }
    am.updated_at = Set(Utc::now());
    let after = am.update(&txn).await?;
    // paid_at may move without a status change (no outbox event then).
    crm_db::rollups::mark_leads(&txn, ctx.tenant_id, &[m.lead_id]).await?;
    let v = SaleView::from(after);
    let actor = ctx.actor();
    if fields.contains(&"status") {
        timeline::write(
            &txn,
            &actor,
            m.lead_id,
            kind::SALE_STATUS_CHANGED,
            json!({"sale_id": id, "from": before, "to": v.status}),
        )
        .await?;
        let o = opportunity::Entity::find_by_id(m.opportunity_id)
            .filter(opportunity::Column::TenantId.eq(ctx.tenant_id))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("opportunity"))?;
        let l = lead_of(&txn, ctx.tenant_id, m.lead_id).await?;
        if v.status == SaleStatus::Completed {
            super::leads::mark_customer(&txn, &actor, &l).await?;
        }
        let mut payload = event(&v, &o, &l);
        if let Some(obj) = payload.as_object_mut() {
            obj.insert("from_status".into(), json!(before));
        }
        outbox::emit(
            &txn,
            ctx.tenant_id,
            "sale_status_changed",
            "sale",
            &id.to_string(),
            payload,
        )
        .await?;
    }
    audit::record(
        &txn,
        &actor,
        "sale.update",
        "sale",
        Some(id.to_string()),
        json!({"fields": fields}),
    )
    .await?;
    txn.commit().await?;
    Ok(v)
}

/// Refunds (part of) a completed sale as a new `refund` transaction. When the
/// refunds reach the sale's amount the sale's status becomes `refunded`.
pub async fn refund(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    input: &NewRefund,
) -> Result<SaleView, CoreError> {
    ctx.require(Permission::SalesWrite)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let original = visible_sale(&txn, ctx, id).await?;
    if original.kind != "sale" || original.status != "completed" {
        return Err(CoreError::validation(
            "not_refundable",
            "only a completed sale can be refunded",
        ));
    }
    let refunded: i64 = sale::Entity::find()
        .filter(sale::Column::TenantId.eq(ctx.tenant_id))
        .filter(sale::Column::RefundOf.eq(id))
        .filter(sale::Column::Status.eq("completed"))
        .all(&txn)
        .await?
        .iter()
        .map(|r| r.amount_minor)
        .sum();
    let left = original.amount_minor - refunded;
    let amount = input.amount_minor.unwrap_or(left);
    if amount <= 0 || amount > left {
        return Err(CoreError::Validation {
            code: "invalid_refund_amount",
            message: format!("the refund must be between 1 and {left} minor units"),
            details: Some(json!({"refundable_minor": left})),
        });
    }
    let now = Utc::now();
    let r = sale::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(ctx.tenant_id),
        opportunity_id: Set(original.opportunity_id),
        lead_id: Set(original.lead_id),
        kind: Set("refund".into()),
        refund_of: Set(Some(id)),
        amount_minor: Set(amount),
        currency: Set(original.currency.clone()),
        status: Set("completed".into()),
        paid_at: Set(Some(now)),
        method: Set(text(&input.method, "method", 64)?.or(original.method.clone())),
        invoice_ref: Set(original.invoice_ref.clone()),
        note: Set(text(&input.note, "note", 2000)?),
        attribution: Set(original.attribution.clone()),
        created_by: Set(ctx.user_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    if amount == left {
        let mut am: sale::ActiveModel = original.clone().into();
        am.status = Set("refunded".into());
        am.updated_at = Set(now);
        am.update(&txn).await?;
    }
    let v = SaleView::from(r);
    let actor = ctx.actor();
    timeline::write(
        &txn,
        &actor,
        original.lead_id,
        kind::REFUND,
        json!({"sale_id": v.id, "refund_of": id, "amount_minor": amount, "currency": v.currency,
               "full": amount == left}),
    )
    .await?;
    audit::record(
        &txn,
        &actor,
        "sale.refund",
        "sale",
        Some(v.id.to_string()),
        json!({"refund_of": id, "amount_minor": amount}),
    )
    .await?;
    let o = opportunity::Entity::find_by_id(original.opportunity_id)
        .filter(opportunity::Column::TenantId.eq(ctx.tenant_id))
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound("opportunity"))?;
    let l = lead_of(&txn, ctx.tenant_id, original.lead_id).await?;
    outbox::emit(
        &txn,
        ctx.tenant_id,
        "sale_recorded",
        "sale",
        &v.id.to_string(),
        event(&v, &o, &l),
    )
    .await?;
    txn.commit().await?;
    Ok(v)
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SaleQuery {
    pub lead_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    /// `sale` or `refund`.
    pub kind: Option<String>,
    pub status: Option<String>,
    /// Paid at or after (RFC 3339).
    pub paid_from: Option<DateTime<Utc>>,
    /// Paid before (RFC 3339).
    pub paid_to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<500, _>"
    )]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Sales and refunds, newest first.
pub async fn list(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &SaleQuery,
) -> Result<Page<SaleView>, CoreError> {
    ctx.require(Permission::PipelineRead)?;
    let limit = page::limit(q.limit, 50, 500);
    let mut cond = scope(ctx);
    if let Some(v) = q.lead_id {
        cond = cond.add(sale::Column::LeadId.eq(v));
    }
    if let Some(v) = q.opportunity_id {
        cond = cond.add(sale::Column::OpportunityId.eq(v));
    }
    if let Some(k) = q.kind.as_deref().filter(|s| !s.is_empty()) {
        if !["sale", "refund"].contains(&k) {
            return Err(CoreError::validation(
                "invalid_kind",
                "kind must be sale or refund",
            ));
        }
        cond = cond.add(sale::Column::Kind.eq(k));
    }
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        if !["pending", "completed", "refunded", "failed"].contains(&s) {
            return Err(CoreError::validation(
                "invalid_status",
                "status must be pending, completed, refunded or failed",
            ));
        }
        cond = cond.add(sale::Column::Status.eq(s));
    }
    if let Some(v) = q.paid_from {
        cond = cond.add(sale::Column::PaidAt.gte(v));
    }
    if let Some(v) = q.paid_to {
        cond = cond.add(sale::Column::PaidAt.lt(v));
    }
    if let Some(c) = &q.cursor {
        cond = cond.add(sale::Column::Id.lt(Cursor::decode(c)?.id));
    }
    let mut rows = sale::Entity::find()
        .filter(cond)
        .order_by_desc(sale::Column::Id)
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
        items: rows.into_iter().map(SaleView::from).collect(),
        next_cursor,
    })
}
