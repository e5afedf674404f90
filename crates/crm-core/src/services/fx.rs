//! FX rates the tenant maintains for converting spend and sales into its
//! reporting currency: list, upsert, delete and CSV import. Rates are decimal
//! strings stored as integer billionths (never floats).

use chrono::{NaiveDate, Utc};
use crm_db::entity::{fx_rate, tenant};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::page::{self, Cursor, Page};
use crate::metrics::{format_rate, parse_rate};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx, validate};

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FxRateInput {
    /// ISO 4217 code of the amount's currency.
    #[schema(pattern = r"^\s*[A-Za-z]{3}\s*$")]
    pub from_currency: String,
    /// ISO 4217 code to convert into (default: the tenant's reporting currency).
    #[schema(pattern = r"^\s*[A-Za-z]{3}\s*$")]
    pub to_currency: Option<String>,
    pub date: NaiveDate,
    /// Units of `to_currency` per 1 unit of `from_currency`, as a decimal
    /// string with at most 9 decimals, e.g. "0.00105".
    #[schema(pattern = r"^\s*[0-9]{0,9}(\.[0-9]{0,9})?\s*$")]
    pub rate: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FxRate {
    pub id: Uuid,
    pub from_currency: String,
    pub to_currency: String,
    pub date: NaiveDate,
    pub rate: String,
}

impl From<fx_rate::Model> for FxRate {
    fn from(m: fx_rate::Model) -> Self {
        Self {
            id: m.id,
            from_currency: m.from_currency,
            to_currency: m.to_currency,
            date: m.day,
            rate: format_rate(m.rate_e9),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FxQuery {
    pub from_currency: Option<String>,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub cursor: Option<String>,
    /// 1 to 500 (default 100).
    #[serde(
        default,
        deserialize_with = "crate::services::page::limit_upto::<500, _>"
    )]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FxImport {
    /// Rows inserted or updated.
    pub upserted: usize,
}

async fn reporting_currency(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<String, CoreError> {
    Ok(tenant::Entity::find_by_id(tenant_id)
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?
        .currency)
}

struct Valid {
    from: String,
    to: String,
    day: NaiveDate,
    rate: i64,
}

fn check(input: &FxRateInput, reporting: &str) -> Result<Valid, CoreError> {
    let from = validate::currency(&input.from_currency)?;
    let to = match &input.to_currency {
        Some(t) => validate::currency(t)?,
        None => reporting.to_owned(),
    };
    if from == to {
        return Err(CoreError::validation(
            "same_currency",
            format!("a rate from {from} to itself is always 1"),
        ));
    }
    Ok(Valid {
        from,
        to,
        day: input.date,
        rate: parse_rate(&input.rate)?,
    })
}

async fn upsert(conn: &impl ConnectionTrait, tenant_id: Uuid, v: &Valid) -> Result<(), CoreError> {
    let now = Utc::now();
    fx_rate::Entity::insert(fx_rate::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(tenant_id),
        from_currency: Set(v.from.clone()),
        to_currency: Set(v.to.clone()),
        day: Set(v.day),
        rate_e9: Set(v.rate),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            fx_rate::Column::TenantId,
            fx_rate::Column::FromCurrency,
            fx_rate::Column::ToCurrency,
            fx_rate::Column::Day,
        ])
        .update_columns([fx_rate::Column::RateE9, fx_rate::Column::UpdatedAt])
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

async fn find_one(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    v: &Valid,
) -> Result<fx_rate::Model, CoreError> {
    fx_rate::Entity::find()
        .filter(fx_rate::Column::TenantId.eq(tenant_id))
        .filter(fx_rate::Column::FromCurrency.eq(v.from.as_str()))
        .filter(fx_rate::Column::ToCurrency.eq(v.to.as_str()))
        .filter(fx_rate::Column::Day.eq(v.day))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("fx rate"))
}

/// `PUT /api/crm/marketing/fx-rates`: inserts or replaces the rate of a pair
/// on a date.
pub async fn put(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &FxRateInput,
) -> Result<FxRate, CoreError> {
    ctx.require(Permission::MarketingManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let reporting = reporting_currency(&txn, ctx.tenant_id).await?;
    let v = check(input, &reporting)?;
    upsert(&txn, ctx.tenant_id, &v).await?;
    super::rollups::mark_fx_change(&txn, ctx.tenant_id, &v.from, v.day).await?;
    let m = find_one(&txn, ctx.tenant_id, &v).await?;
    crm_db::audit::record(
        &txn,
        &ctx.actor(),
        "fx_rate.put",
        "fx_rate",
        Some(m.id.to_string()),
        json!({"from": v.from, "to": v.to, "date": v.day, "rate": format_rate(v.rate)}),
    )
    .await?;
    txn.commit().await?;
    Ok(m.into())
}

/// `GET /api/crm/marketing/fx-rates`, newest date first.
pub async fn list(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    q: &FxQuery,
) -> Result<Page<FxRate>, CoreError> {
    ctx.require(Permission::MarketingRead)?;
    let limit = page::limit(q.limit, 100, 500);
    let mut cond = Condition::all().add(fx_rate::Column::TenantId.eq(ctx.tenant_id));
    if let Some(f) = &q.from_currency {
        cond = cond.add(fx_rate::Column::FromCurrency.eq(f.trim().to_uppercase()));
    }
    if let Some(s) = q.since {
        cond = cond.add(fx_rate::Column::Day.gte(s));
    }
    if let Some(u) = q.until {
        cond = cond.add(fx_rate::Column::Day.lte(u));
    }
    if let Some(c) = &q.cursor {
        let c = Cursor::decode(c)?;
        let day: NaiveDate =
            c.k.as_deref().and_then(|k| k.parse().ok()).ok_or_else(|| {
                CoreError::validation("invalid_cursor", "the cursor is not valid")
            })?;
        cond = cond.add(
            Condition::any().add(fx_rate::Column::Day.lt(day)).add(
                Condition::all()
                    .add(fx_rate::Column::Day.eq(day))
                    .add(fx_rate::Column::Id.lt(c.id)),
            ),
        );
    }
    let mut rows = fx_rate::Entity::find()
        .filter(cond)
        .order_by_desc(fx_rate::Column::Day)
        .order_by_desc(fx_rate::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| {
            Cursor {
                k: Some(r.day.to_string()),
                id: r.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Page {
        items: rows.into_iter().map(FxRate::from).collect(),
        next_cursor,
    })
}

/// `DELETE /api/crm/marketing/fx-rates/{id}`.
pub async fn delete(db: &DatabaseConnection, ctx: &TenantCtx, id: Uuid) -> Result<(), CoreError> {
    ctx.require(Permission::MarketingManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let m = fx_rate::Entity::find_by_id(id)
        .filter(fx_rate::Column::TenantId.eq(ctx.tenant_id))
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound("fx rate"))?;
    fx_rate::Entity::delete_by_id(m.id).exec(&txn).await?;
    super::rollups::mark_fx_change(&txn, ctx.tenant_id, &m.from_currency, m.day).await?;
    crm_db::audit::record(
        &txn,
        &ctx.actor(),
        "fx_rate.delete",
        "fx_rate",
        Some(m.id.to_string()),
        json!({"from": m.from_currency, "to": m.to_currency, "date": m.day}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// `POST /api/crm/marketing/fx-rates/import`: CSV with a header row
/// `date,from_currency,rate[,to_currency]`. All rows or none: the first bad
/// row is a 422 naming its line.
pub async fn import_csv(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    csv_text: &str,
) -> Result<FxImport, CoreError> {
    ctx.require(Permission::MarketingManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let reporting = reporting_currency(&txn, ctx.tenant_id).await?;
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| CoreError::validation("invalid_csv", format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let (Some(ci_date), Some(ci_from), Some(ci_rate)) =
        (col("date"), col("from_currency"), col("rate"))
    else {
        return Err(CoreError::validation(
            "invalid_csv",
            "the header must name date, from_currency and rate (to_currency is optional)",
        ));
    };
    let ci_to = col("to_currency");
    let mut n = 0;
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec =
            rec.map_err(|e| CoreError::validation("invalid_csv", format!("line {line}: {e}")))?;
        let get = |c: usize| rec.get(c).unwrap_or("").to_owned();
        let date: NaiveDate = get(ci_date).parse().map_err(|_| {
            CoreError::validation(
                "invalid_csv",
                format!("line {line}: date must be YYYY-MM-DD"),
            )
        })?;
        let input = FxRateInput {
            from_currency: get(ci_from),
            to_currency: ci_to.map(get).filter(|s| !s.is_empty()),
            date,
            rate: get(ci_rate),
        };
        let v = check(&input, &reporting).map_err(|e| match e {
            CoreError::Validation { message, .. } => {
                CoreError::validation("invalid_csv", format!("line {line}: {message}"))
            }
            other => other,
        })?;
        upsert(&txn, ctx.tenant_id, &v).await?;
        super::rollups::mark_fx_change(&txn, ctx.tenant_id, &v.from, v.day).await?;
        n += 1;
    }
    crm_db::audit::record(
        &txn,
        &ctx.actor(),
        "fx_rate.import",
        "fx_rate",
        None,
        json!({"rows": n}),
    )
    .await?;
    txn.commit().await?;
    Ok(FxImport { upserted: n })
}
