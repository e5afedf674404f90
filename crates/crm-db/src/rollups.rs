//! Dirty marks for the Marketing Hub rollups.
//!
//! Every change that can move a Marketing Hub number marks what it touched in
//! the same transaction: a lead (its facts are recomputed), a day (its rollup
//! rows are recomputed from the facts and the synced insights), or the whole
//! tenant. `crm_core::services::rollups` clears the marks idempotently.

use chrono::{Datelike, Months, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, Statement};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::marketing_monthly as monthly;
use crate::entity::marketing_rollup_dirty as dirty;

pub const LEAD: &str = "lead";
pub const DAY: &str = "day";
pub const ALL: &str = "all";

async fn mark(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    kind: &str,
    keys: impl IntoIterator<Item = String>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let rows: Vec<dirty::ActiveModel> = keys
        .into_iter()
        .map(|key| dirty::ActiveModel {
            id: Set(crate::new_id()),
            tenant_id: Set(tenant_id),
            kind: Set(kind.to_owned()),
            key: Set(key),
            generation: Set(0),
            created_at: Set(now),
        })
        .collect();
    for chunk in rows.chunks(500) {
        dirty::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    dirty::Column::TenantId,
                    dirty::Column::Kind,
                    dirty::Column::Key,
                ])
                .value(
                    dirty::Column::Generation,
                    Expr::col((dirty::Entity, dirty::Column::Generation)).add(1),
                )
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Marks leads whose attribution, opportunities or sales changed.
pub async fn mark_leads(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    leads: &[Uuid],
) -> Result<(), DbErr> {
    mark(conn, tenant_id, LEAD, leads.iter().map(Uuid::to_string)).await
}

/// Marks days (tenant time zone for CRM facts, the ad account's day for
/// insights; both are the same calendar key) whose rollups must be rebuilt.
pub async fn mark_days(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    days: impl IntoIterator<Item = NaiveDate>,
) -> Result<(), DbErr> {
    mark(
        conn,
        tenant_id,
        DAY,
        days.into_iter().map(|d| d.to_string()),
    )
    .await
}

/// Marks every day from `since` to `until` inclusive.
pub async fn mark_day_range(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    since: NaiveDate,
    until: NaiveDate,
) -> Result<(), DbErr> {
    let days = since.iter_days().take_while(|d| *d <= until);
    mark_days(conn, tenant_id, days).await
}

/// Marks the whole tenant (time zone or reporting currency changed).
pub async fn mark_all(conn: &impl ConnectionTrait, tenant_id: Uuid) -> Result<(), DbErr> {
    mark(conn, tenant_id, ALL, [String::new()]).await
}

/// Bumps the tenant's Marketing Hub read version. Call it in the same
/// transaction as any write that can change a Marketing Hub answer: rollup
/// rows, the synced campaign structure or sync state, the tenant's currency or
/// time zone. Cached answers of older versions are never served again.
pub async fn bump_version(conn: &impl ConnectionTrait, tenant_id: Uuid) -> Result<(), DbErr> {
    let sql = if crate::is_postgres(conn) {
        "INSERT INTO marketing_read_versions (tenant_id, version, updated_at) VALUES ($1, 1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET version = marketing_read_versions.version + 1, \
         updated_at = excluded.updated_at"
    } else {
        "INSERT INTO marketing_read_versions (tenant_id, version, updated_at) VALUES (?1, 1, ?2) \
         ON CONFLICT (tenant_id) DO UPDATE SET version = marketing_read_versions.version + 1, \
         updated_at = excluded.updated_at"
    };
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        sql,
        [tenant_id.into(), Utc::now().into()],
    ))
    .await?;
    Ok(())
}

/// The additive columns of `marketing_daily`, summed as they are into
/// `marketing_monthly` (`reach` is not additive and stays daily).
pub const SUM_COLUMNS: &[&str] = &[
    "insight_rows",
    "spend",
    "impressions",
    "clicks",
    "meta_leads",
    "messaging",
    "leads",
    "opps_c",
    "won_c",
    "customers_c",
    "revenue_c",
    "opps_a",
    "won_a",
    "revenue_a",
];

/// The first day of `day`'s month.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The last day of the month that starts on `month`.
pub fn month_end(month: NaiveDate) -> NaiveDate {
    month
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .unwrap_or(month)
}

/// The `marketing_monthly` columns of [`SUM_COLUMNS`], in that order.
pub const MONTHLY_SUMS: [monthly::Column; 14] = [
    monthly::Column::InsightRows,
    monthly::Column::Spend,
    monthly::Column::Impressions,
    monthly::Column::Clicks,
    monthly::Column::MetaLeads,
    monthly::Column::Messaging,
    monthly::Column::Leads,
    monthly::Column::OppsC,
    monthly::Column::WonC,
    monthly::Column::CustomersC,
    monthly::Column::RevenueC,
    monthly::Column::OppsA,
    monthly::Column::WonA,
    monthly::Column::RevenueA,
];

/// The key of one `marketing_monthly` row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonthKey {
    pub level: String,
    pub campaign_id: String,
    pub ad_id: String,
    pub channel: String,
    /// The first day of the month.
    pub month: NaiveDate,
}

/// Adds per-key differences (in [`SUM_COLUMNS`] order; negative amounts take
/// away) to the tenant's monthly sums, creating rows that do not exist yet. A day's rewrite passes its new rows minus its old ones,
/// so the month stays the sum of its days without reading them again. Call
/// it in the transaction that rewrote the days, then [`drop_empty_months`].
pub async fn add_to_months(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    deltas: impl IntoIterator<Item = (MonthKey, [i64; 14])>,
) -> Result<(), DbErr> {
    let rows: Vec<monthly::ActiveModel> = deltas
        .into_iter()
        .filter(|(_, d)| d.iter().any(|v| *v != 0))
        .map(|(k, d)| monthly::ActiveModel {
            tenant_id: Set(tenant_id),
            level: Set(k.level),
            month: Set(k.month),
            campaign_id: Set(k.campaign_id),
            ad_id: Set(k.ad_id),
            channel: Set(k.channel),
            insight_rows: Set(d[0]),
            spend: Set(d[1]),
            impressions: Set(d[2]),
            clicks: Set(d[3]),
            meta_leads: Set(d[4]),
            messaging: Set(d[5]),
            leads: Set(d[6]),
            opps_c: Set(d[7]),
            won_c: Set(d[8]),
            customers_c: Set(d[9]),
            revenue_c: Set(d[10]),
            opps_a: Set(d[11]),
            won_a: Set(d[12]),
            revenue_a: Set(d[13]),
        })
        .collect();
    let excluded = Alias::new("excluded");
    for chunk in rows.chunks(500) {
        let mut on_conflict = OnConflict::columns([
            monthly::Column::TenantId,
            monthly::Column::Level,
            monthly::Column::Month,
            monthly::Column::CampaignId,
            monthly::Column::AdId,
            monthly::Column::Channel,
        ]);
        on_conflict.values(MONTHLY_SUMS.map(|c| {
            (
                c,
                Expr::col((monthly::Entity, c)).add(Expr::col((excluded.clone(), c))),
            )
        }));
        monthly::Entity::insert_many(chunk.to_vec())
            .on_conflict(on_conflict)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Deletes the tenant's monthly rows of these months whose sums are all
/// zero (their days left), so the table holds the same rows however it was
/// reached.
pub async fn drop_empty_months(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    months: &[NaiveDate],
) -> Result<(), DbErr> {
    for chunk in months.chunks(100) {
        let mut q = monthly::Entity::delete_many()
            .filter(monthly::Column::TenantId.eq(tenant_id))
            .filter(monthly::Column::Month.is_in(chunk.iter().copied()));
        for c in MONTHLY_SUMS {
            q = q.filter(c.eq(0));
        }
        q.exec(conn).await?;
    }
    Ok(())
}

/// The tenant's Marketing Hub read version (0 before the first bump) and
/// whether rollup marks are pending, in one round trip.
pub async fn read_state(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<(i64, bool), DbErr> {
    let sql = if crate::is_postgres(conn) {
        "SELECT COALESCE((SELECT version FROM marketing_read_versions WHERE tenant_id = $1), 0) AS version, \
         (SELECT COUNT(*) FROM (SELECT 1 FROM marketing_rollup_dirty WHERE tenant_id = $1 LIMIT 1) AS d) AS dirty"
    } else {
        "SELECT COALESCE((SELECT version FROM marketing_read_versions WHERE tenant_id = ?1), 0) AS version, \
         (SELECT COUNT(*) FROM (SELECT 1 FROM marketing_rollup_dirty WHERE tenant_id = ?1 LIMIT 1) AS d) AS dirty"
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [tenant_id.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("marketing read state".into()))?;
    let version: i64 = row.try_get("", "version")?;
    let dirty: i64 = row.try_get("", "dirty")?;
    Ok((version, dirty > 0))
}

/// The lead an outbox event is about, if any: the aggregate itself for lead
/// events, otherwise the payload's `lead.id` (opportunity and sale events).
pub fn lead_of_event(aggregate_type: &str, aggregate_id: &str, payload: &Value) -> Option<Uuid> {
    if aggregate_type == "lead" {
        return aggregate_id.parse().ok();
    }
    payload
        .get("lead")
        .and_then(|l| l.get("id"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn months_start_on_the_first_and_end_on_their_last_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(month_of(d("2026-02-17")), d("2026-02-01"));
        assert_eq!(month_of(d("2026-03-01")), d("2026-03-01"));
        assert_eq!(month_end(d("2026-02-01")), d("2026-02-28"));
        assert_eq!(month_end(d("2028-02-01")), d("2028-02-29"));
        assert_eq!(month_end(d("2026-12-01")), d("2026-12-31"));
        assert_eq!(month_end(d("2026-04-01")), d("2026-04-30"));
    }

    #[test]
    fn events_name_their_lead() {
        let id = Uuid::now_v7();
        assert_eq!(lead_of_event("lead", &id.to_string(), &json!({})), Some(id));
        assert_eq!(
            lead_of_event("sale", "x", &json!({"lead": {"id": id.to_string()}})),
            Some(id)
        );
        assert_eq!(
            lead_of_event("wa_template", "x", &json!({"name": "t"})),
            None
        );
    }
}
