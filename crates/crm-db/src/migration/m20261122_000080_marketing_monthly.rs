//! `marketing_monthly`: the `marketing_daily` rows summed per calendar month
//! (tenant × level × key × month, `month` being the month's first day).
//!
//! A long range (a year, "all") then reads one row per key and whole month
//! plus the daily rows of the partial months at its ends, instead of every
//! daily row. The rows are a pure function of `marketing_daily`: every
//! rewrite of a day adds its new rows minus its old ones to its month in the
//! same transaction (`crm_db::rollups::add_to_months`), rows whose sums are
//! all zero are not kept, and this migration fills them from the daily rows
//! already there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, tenant_id};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000080_marketing_monthly"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut t = Table::create();
        t.table("marketing_monthly")
            .col(tenant_id())
            .col(string_len("level", 1))
            .col(date("month"))
            .col(string("campaign_id"))
            .col(string("ad_id"))
            .col(string_len("channel", 32));
        for c in crate::rollups::SUM_COLUMNS {
            t.col(big_integer(*c));
        }
        t.primary_key(
            Index::create()
                .name("pk_marketing_monthly")
                .col(Alias::new("tenant_id"))
                .col(Alias::new("level"))
                .col(Alias::new("month"))
                .col(Alias::new("campaign_id"))
                .col(Alias::new("ad_id"))
                .col(Alias::new("channel")),
        )
        .foreign_key(&mut fk_tenant("marketing_monthly"));
        m.create_table(t.take()).await?;

        // Existing daily rows: their months, every tenant at once.
        let db = m.get_connection();
        let month = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => "CAST(date_trunc('month', day) AS DATE)",
            _ => "date(day, 'start of month')",
        };
        let cols = crate::rollups::SUM_COLUMNS.join(", ");
        let sums = crate::rollups::SUM_COLUMNS
            .iter()
            .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
            .collect::<Vec<_>>()
            .join(", ");
        db.execute_unprepared(&format!(
            "INSERT INTO marketing_monthly (tenant_id, level, month, campaign_id, ad_id, channel, {cols}) \
             SELECT tenant_id, level, {month}, campaign_id, ad_id, channel, {sums} \
             FROM marketing_daily GROUP BY tenant_id, level, {month}, campaign_id, ad_id, channel"
        ))
        .await?;
        let zero = crate::rollups::SUM_COLUMNS
            .iter()
            .map(|c| format!("{c} = 0"))
            .collect::<Vec<_>>()
            .join(" AND ");
        db.execute_unprepared(&format!("DELETE FROM marketing_monthly WHERE {zero}"))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("marketing_monthly").take())
            .await
    }
}
