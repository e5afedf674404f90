//! Marketing Hub: the shared Meta webhook inbox, the synced ad structure
//! (campaigns, ad sets, ads with status history), daily ad-level insights,
//! per-account sync state, FX rates, daily marketing rollups, and the
//! Conversions API settings and ledger.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, id, index, tenant_id, ts, ts_null};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000030_marketing"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The webhook inbox. `tenant_id` is null until the event is routed
        // (and stays null for unroutable events), so it has no foreign key.
        m.create_table(
            Table::create()
                .table("webhook_inbox")
                .col(id())
                .col(uuid_null("tenant_id"))
                .col(string_len("object", 48))
                .col(string_len("field", 64))
                .col(string("entry_id"))
                .col(string_null("routing_kind"))
                .col(string_null("routing_id"))
                .col(string("dedupe_key"))
                .col(json("payload"))
                .col(string_len("status", 16))
                .col(integer("attempts"))
                .col(text_null("last_error"))
                .col(ts("received_at"))
                .col(ts_null("processed_at"))
                .col(ts("updated_at"))
                .take(),
        )
        .await?;
        for (name, cols, unique) in [
            ("ux_webhook_inbox_dedupe", &["dedupe_key"][..], true),
            (
                "ix_webhook_inbox_tenant",
                &["tenant_id", "status", "id"][..],
                false,
            ),
            ("ix_webhook_inbox_status", &["status", "id"][..], false),
        ] {
            m.create_index(index(name, "webhook_inbox", cols, unique))
                .await?;
        }

        // Campaigns, ad sets and ads in one table (`level`).
        m.create_table(
            Table::create()
                .table("meta_ad_objects")
                .col(id())
                .col(tenant_id())
                .col(string_len("level", 16))
                .col(string("external_id"))
                .col(string("ad_account_id"))
                .col(string_null("campaign_id"))
                .col(string_null("adset_id"))
                .col(string("name"))
                .col(string_len("status", 24))
                .col(string_len_null("effective_status", 32))
                .col(string_null("objective"))
                .col(text_null("creative_title"))
                .col(text_null("creative_body"))
                .col(string_null("created_time"))
                .col(ts("first_seen_at"))
                .col(ts("synced_at"))
                .foreign_key(&mut fk_tenant("meta_ad_objects"))
                .take(),
        )
        .await?;
        for (name, cols, unique) in [
            (
                "ux_meta_ad_objects_ext",
                &["tenant_id", "level", "external_id"][..],
                true,
            ),
            (
                "ix_meta_ad_objects_campaign",
                &["tenant_id", "campaign_id"][..],
                false,
            ),
        ] {
            m.create_index(index(name, "meta_ad_objects", cols, unique))
                .await?;
        }
        m.create_table(
            Table::create()
                .table("meta_ad_status_history")
                .col(id())
                .col(tenant_id())
                .col(string_len("level", 16))
                .col(string("external_id"))
                .col(string_len_null("from_status", 24))
                .col(string_len("to_status", 24))
                .col(string_len_null("effective_status", 32))
                .col(ts("observed_at"))
                .foreign_key(&mut fk_tenant("meta_ad_status_history"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_meta_ad_status_history_obj",
            "meta_ad_status_history",
            &["tenant_id", "external_id", "id"],
            false,
        ))
        .await?;

        // Daily ad-level insights, as Meta reports them in the ad account's
        // own day and currency.
        m.create_table(
            Table::create()
                .table("meta_insights_daily")
                .col(id())
                .col(tenant_id())
                .col(string("ad_account_id"))
                .col(string("campaign_id"))
                .col(string("adset_id"))
                .col(string("ad_id"))
                .col(date("day"))
                .col(string_len("currency", 3))
                .col(big_integer("spend_minor"))
                .col(big_integer("impressions"))
                .col(big_integer("clicks"))
                .col(big_integer("reach"))
                .col(big_integer("meta_leads"))
                .col(big_integer("messaging_started"))
                .col(ts("synced_at"))
                .foreign_key(&mut fk_tenant("meta_insights_daily"))
                .take(),
        )
        .await?;
        for (name, cols, unique) in [
            (
                "ux_meta_insights_ad_day",
                &["tenant_id", "ad_id", "day"][..],
                true,
            ),
            (
                "ix_meta_insights_day",
                &["tenant_id", "day", "campaign_id"][..],
                false,
            ),
            (
                "ix_meta_insights_campaign",
                &["tenant_id", "campaign_id", "day"][..],
                false,
            ),
        ] {
            m.create_index(index(name, "meta_insights_daily", cols, unique))
                .await?;
        }

        m.create_table(
            Table::create()
                .table("meta_sync_state")
                .col(id())
                .col(tenant_id())
                .col(string("ad_account_id"))
                .col(string_null("account_name"))
                .col(string_len_null("currency", 3))
                .col(string_null("timezone"))
                .col(string_len("status", 16))
                .col(ts_null("last_started_at"))
                .col(ts_null("last_success_at"))
                .col(text_null("last_error"))
                .col(big_integer_null("last_error_code"))
                .col(ts_null("last_error_at"))
                .col(ts_null("next_run_at"))
                .col(boolean("backfill_done"))
                .col(date_null("backfill_next_until"))
                .col(integer("progress_pct"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("meta_sync_state"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_meta_sync_state_account",
            "meta_sync_state",
            &["tenant_id", "ad_account_id"],
            true,
        ))
        .await?;

        // FX rates: 1 unit of `from_currency` = rate_e9 / 1e9 units of
        // `to_currency` on `day`. Stored as an integer, never a float.
        m.create_table(
            Table::create()
                .table("fx_rates")
                .col(id())
                .col(tenant_id())
                .col(string_len("from_currency", 3))
                .col(string_len("to_currency", 3))
                .col(date("day"))
                .col(big_integer("rate_e9"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("fx_rates"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_fx_rates_pair_day",
            "fx_rates",
            &["tenant_id", "from_currency", "to_currency", "day"],
            true,
        ))
        .await?;

        // Daily marketing rollups: one additive integer per
        // (tenant, metric, day, campaign, ad, currency).
        m.create_table(
            Table::create()
                .table("marketing_rollups")
                .col(id())
                .col(tenant_id())
                .col(string_len("metric", 32))
                .col(date("day"))
                .col(string("campaign_id"))
                .col(string("ad_id"))
                .col(string_len("currency", 3))
                .col(big_integer("value"))
                .foreign_key(&mut fk_tenant("marketing_rollups"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_marketing_rollups_key",
            "marketing_rollups",
            &[
                "tenant_id",
                "metric",
                "day",
                "campaign_id",
                "ad_id",
                "currency",
            ],
            true,
        ))
        .await?;

        // Conversions API for CRM: settings per tenant and the ledger.
        m.create_table(
            Table::create()
                .table("capi_settings")
                .col(id())
                .col(tenant_id())
                .col(string_null("dataset_id"))
                .col(boolean("enabled"))
                .col(json("stage_events"))
                .col(string("lead_event_source"))
                .col(string_null("test_event_code"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("capi_settings"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_capi_settings_tenant",
            "capi_settings",
            &["tenant_id"],
            true,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("capi_events")
                .col(id())
                .col(tenant_id())
                .col(uuid("lead_id"))
                .col(string("event_id"))
                .col(string_len("stage", 32))
                .col(string("event_name"))
                .col(string_len("action_source", 32))
                .col(string_null("dataset_id"))
                .col(string_len("status", 16))
                .col(integer("attempts"))
                .col(text_null("last_error"))
                .col(json("payload"))
                .col(ts("event_time"))
                .col(ts_null("sent_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("capi_events"))
                .take(),
        )
        .await?;
        for (name, cols, unique) in [
            ("ux_capi_events_event", &["tenant_id", "event_id"][..], true),
            ("ix_capi_events_tenant", &["tenant_id", "id"][..], false),
            ("ix_capi_events_lead", &["tenant_id", "lead_id"][..], false),
        ] {
            m.create_index(index(name, "capi_events", cols, unique))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "capi_events",
            "capi_settings",
            "marketing_rollups",
            "fx_rates",
            "meta_sync_state",
            "meta_insights_daily",
            "meta_ad_status_history",
            "meta_ad_objects",
            "webhook_inbox",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).take())
                .await?;
        }
        Ok(())
    }
}
