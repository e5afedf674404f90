//! Marketing Hub rollups.
//!
//! - `marketing_lead_facts`: what each Meta-attributed lead contributes to the
//!   daily figures (one row per counted event), so that a change to a lead,
//!   its opportunities or sales can be re-rolled exactly: the old facts say
//!   which days the lead used to count in.
//! - `marketing_daily`: one wide row of additive figures per tenant × level
//!   (`t` total per channel, `c` campaign, `a` ad) × key × day, money already
//!   converted to the tenant's reporting currency.
//! - `marketing_daily_extra`: what does not fit a wide row: activity-model
//!   customers (with the previous sale day, for a distinct count over any
//!   range) and amounts that could not be converted (per currency and day).
//! - `marketing_rollup_dirty`: leads and days whose rollups must be
//!   recomputed, written in the same transaction as the change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, id, index, tenant_id, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000050_rollups"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("marketing_lead_facts")
                .col(id())
                .col(tenant_id())
                .col(uuid("lead_id"))
                .col(string_len("kind", 16))
                .col(string("campaign_id"))
                .col(string("ad_id"))
                .col(string_len("channel", 32))
                .col(date("day"))
                .col(date("ref_day"))
                .col(string_len("currency", 3))
                .col(big_integer("value"))
                .foreign_key(&mut fk_tenant("marketing_lead_facts"))
                .take(),
        )
        .await?;
        for (name, cols) in [
            (
                "ix_marketing_lead_facts_lead",
                &["tenant_id", "lead_id"][..],
            ),
            ("ix_marketing_lead_facts_day", &["tenant_id", "day"][..]),
        ] {
            m.create_index(index(name, "marketing_lead_facts", cols, false))
                .await?;
        }

        m.create_table(
            Table::create()
                .table("marketing_daily")
                .col(id())
                .col(tenant_id())
                .col(string_len("level", 1))
                .col(string("campaign_id"))
                .col(string("ad_id"))
                .col(string_len("channel", 32))
                .col(date("day"))
                .col(big_integer("insight_rows"))
                .col(big_integer("spend"))
                .col(big_integer("impressions"))
                .col(big_integer("clicks"))
                .col(big_integer("reach"))
                .col(big_integer("meta_leads"))
                .col(big_integer("messaging"))
                .col(big_integer("leads"))
                .col(big_integer("opps_c"))
                .col(big_integer("won_c"))
                .col(big_integer("customers_c"))
                .col(big_integer("revenue_c"))
                .col(big_integer("opps_a"))
                .col(big_integer("won_a"))
                .col(big_integer("revenue_a"))
                .foreign_key(&mut fk_tenant("marketing_daily"))
                .take(),
        )
        .await?;
        for (name, cols, unique) in [
            (
                "ux_marketing_daily_key",
                &[
                    "tenant_id",
                    "level",
                    "day",
                    "campaign_id",
                    "ad_id",
                    "channel",
                ][..],
                true,
            ),
            (
                "ix_marketing_daily_campaign",
                &["tenant_id", "level", "campaign_id", "day"][..],
                false,
            ),
        ] {
            m.create_index(index(name, "marketing_daily", cols, unique))
                .await?;
        }

        m.create_table(
            Table::create()
                .table("marketing_daily_extra")
                .col(id())
                .col(tenant_id())
                .col(string_len("level", 1))
                .col(string("campaign_id"))
                .col(string("ad_id"))
                .col(string_len("channel", 32))
                .col(date("day"))
                .col(string_len("kind", 16))
                .col(date("ref_day"))
                .col(string_len("currency", 3))
                .col(big_integer("value"))
                .foreign_key(&mut fk_tenant("marketing_daily_extra"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_marketing_daily_extra_day",
            "marketing_daily_extra",
            &["tenant_id", "level", "day"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("marketing_rollup_dirty")
                .col(id())
                .col(tenant_id())
                .col(string_len("kind", 8))
                .col(string("key"))
                .col(big_integer("generation"))
                .col(ts("created_at"))
                .foreign_key(&mut fk_tenant("marketing_rollup_dirty"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_marketing_rollup_dirty_key",
            "marketing_rollup_dirty",
            &["tenant_id", "kind", "key"],
            true,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "marketing_rollup_dirty",
            "marketing_daily_extra",
            "marketing_daily",
            "marketing_lead_facts",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).take())
                .await?;
        }
        Ok(())
    }
}
