//! CRM core: leads (with first-touch attribution), their touch history, tags
//! and activity timeline, pipeline stages, opportunities with stage history,
//! and sales transactions (sales and refunds).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, id, index, tenant_id, ts, ts_null};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000010_crm_core"
    }
}

fn fk(name: &str, from: &str, col: &str, to: &str, cascade: bool) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(Alias::new(from), Alias::new(col))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(if cascade {
            ForeignKeyAction::Cascade
        } else {
            ForeignKeyAction::Restrict
        })
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("leads")
                .col(id())
                .col(tenant_id())
                .col(string("name"))
                .col(string_null("phone"))
                .col(string_null("email"))
                .col(string_null("wa_id"))
                .col(string_null("bsuid"))
                .col(string_len("status", 16))
                .col(uuid_null("owner_id"))
                .col(json("tags"))
                .col(string_len("lead_source", 16))
                .col(string_len("channel", 24))
                .col(string_null("meta_campaign_id"))
                .col(string_null("meta_adset_id"))
                .col(string_null("meta_ad_id"))
                .col(text_null("meta_ad_headline"))
                .col(text_null("meta_ad_body"))
                .col(text_null("meta_source_url"))
                .col(string_null("meta_lead_id"))
                .col(string_null("meta_form_id"))
                .col(string_null("ctwa_clid"))
                .col(string_null("utm_source"))
                .col(string_null("utm_medium"))
                .col(string_null("utm_campaign"))
                .col(string_null("utm_content"))
                .col(string_null("utm_term"))
                .col(string_null("fbclid"))
                .col(json("external_ids"))
                .col(ts_null("opt_in_at"))
                .col(string_null("opt_in_method"))
                .col(ts_null("opt_out_at"))
                .col(string_null("opt_out_method"))
                .col(ts_null("last_inbound_at"))
                .col(string("timezone"))
                .col(text("search"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("leads"))
                .foreign_key(&mut fk(
                    "fk_leads_owner",
                    "leads",
                    "owner_id",
                    "users",
                    false,
                ))
                .take(),
        )
        .await?;
        for (name, cols, unique) in [
            ("ix_leads_tenant_id", &["tenant_id", "id"][..], false),
            ("ix_leads_status", &["tenant_id", "status", "id"][..], false),
            (
                "ix_leads_owner",
                &["tenant_id", "owner_id", "id"][..],
                false,
            ),
            (
                "ix_leads_source",
                &["tenant_id", "lead_source", "id"][..],
                false,
            ),
            (
                "ix_leads_campaign",
                &["tenant_id", "meta_campaign_id", "id"][..],
                false,
            ),
            ("ix_leads_ad", &["tenant_id", "meta_ad_id", "id"][..], false),
            ("ix_leads_name", &["tenant_id", "name", "id"][..], false),
            (
                "ix_leads_updated",
                &["tenant_id", "updated_at", "id"][..],
                false,
            ),
            ("ux_leads_phone", &["tenant_id", "phone"][..], true),
            ("ux_leads_email", &["tenant_id", "email"][..], true),
            ("ux_leads_wa_id", &["tenant_id", "wa_id"][..], true),
            ("ux_leads_bsuid", &["tenant_id", "bsuid"][..], true),
            (
                "ix_leads_meta_lead",
                &["tenant_id", "meta_lead_id"][..],
                false,
            ),
        ] {
            m.create_index(index(name, "leads", cols, unique)).await?;
        }

        m.create_table(
            Table::create()
                .table("lead_tags")
                .col(tenant_id())
                .col(uuid("lead_id"))
                .col(string_len("tag", 64))
                .primary_key(
                    Index::create()
                        .col(Alias::new("tenant_id"))
                        .col(Alias::new("tag"))
                        .col(Alias::new("lead_id")),
                )
                .foreign_key(&mut fk_tenant("lead_tags"))
                .foreign_key(&mut fk(
                    "fk_lead_tags_lead",
                    "lead_tags",
                    "lead_id",
                    "leads",
                    true,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_lead_tags_lead",
            "lead_tags",
            &["tenant_id", "lead_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("lead_touches")
                .col(id())
                .col(tenant_id())
                .col(uuid("lead_id"))
                .col(boolean("is_first"))
                .col(string_len("lead_source", 16))
                .col(string_len("channel", 24))
                .col(string_null("meta_campaign_id"))
                .col(string_null("meta_adset_id"))
                .col(string_null("meta_ad_id"))
                .col(string_null("meta_lead_id"))
                .col(string_null("meta_form_id"))
                .col(string_null("ctwa_clid"))
                .col(json("details"))
                .col(ts("occurred_at"))
                .col(ts("created_at"))
                .foreign_key(&mut fk_tenant("lead_touches"))
                .foreign_key(&mut fk(
                    "fk_lead_touches_lead",
                    "lead_touches",
                    "lead_id",
                    "leads",
                    true,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_lead_touches_lead",
            "lead_touches",
            &["tenant_id", "lead_id", "id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_lead_touches_meta_lead",
            "lead_touches",
            &["tenant_id", "meta_lead_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("lead_activities")
                .col(id())
                .col(tenant_id())
                .col(uuid("lead_id"))
                .col(string_len("kind", 40))
                .col(uuid_null("actor_user_id"))
                .col(uuid_null("actor_token_id"))
                .col(json("payload"))
                .col(ts("at"))
                .foreign_key(&mut fk_tenant("lead_activities"))
                .foreign_key(&mut fk(
                    "fk_lead_activities_lead",
                    "lead_activities",
                    "lead_id",
                    "leads",
                    true,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_lead_activities_lead",
            "lead_activities",
            &["tenant_id", "lead_id", "id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("pipeline_stages")
                .col(id())
                .col(tenant_id())
                .col(string_len("key", 40))
                .col(string("name"))
                .col(string_len("kind", 8))
                .col(integer("position"))
                .col(integer("probability"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("pipeline_stages"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_pipeline_stages_key",
            "pipeline_stages",
            &["tenant_id", "key"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("opportunities")
                .col(id())
                .col(tenant_id())
                .col(uuid("lead_id"))
                .col(uuid_null("owner_id"))
                .col(string("name"))
                .col(big_integer("value_minor"))
                .col(string_len("currency", 3))
                .col(uuid("stage_id"))
                .col(integer("probability"))
                .col(date_null("expected_close_date"))
                .col(ts_null("closed_at"))
                .col(text_null("lost_reason"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("opportunities"))
                .foreign_key(&mut fk(
                    "fk_opportunities_lead",
                    "opportunities",
                    "lead_id",
                    "leads",
                    true,
                ))
                .foreign_key(&mut fk(
                    "fk_opportunities_stage",
                    "opportunities",
                    "stage_id",
                    "pipeline_stages",
                    false,
                ))
                .foreign_key(&mut fk(
                    "fk_opportunities_owner",
                    "opportunities",
                    "owner_id",
                    "users",
                    false,
                ))
                .take(),
        )
        .await?;
        for (name, cols) in [
            ("ix_opportunities_tenant_id", &["tenant_id", "id"][..]),
            (
                "ix_opportunities_stage",
                &["tenant_id", "stage_id", "id"][..],
            ),
            ("ix_opportunities_lead", &["tenant_id", "lead_id", "id"][..]),
            (
                "ix_opportunities_owner",
                &["tenant_id", "owner_id", "id"][..],
            ),
        ] {
            m.create_index(index(name, "opportunities", cols, false))
                .await?;
        }

        m.create_table(
            Table::create()
                .table("opportunity_stage_history")
                .col(id())
                .col(tenant_id())
                .col(uuid("opportunity_id"))
                .col(uuid_null("from_stage_id"))
                .col(uuid("to_stage_id"))
                .col(uuid_null("changed_by_user_id"))
                .col(uuid_null("changed_by_token_id"))
                .col(ts("at"))
                .foreign_key(&mut fk_tenant("opportunity_stage_history"))
                .foreign_key(&mut fk(
                    "fk_stage_history_opportunity",
                    "opportunity_stage_history",
                    "opportunity_id",
                    "opportunities",
                    true,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_stage_history_opportunity",
            "opportunity_stage_history",
            &["tenant_id", "opportunity_id", "id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("sales")
                .col(id())
                .col(tenant_id())
                .col(uuid("opportunity_id"))
                .col(uuid("lead_id"))
                .col(string_len("kind", 8))
                .col(uuid_null("refund_of"))
                .col(big_integer("amount_minor"))
                .col(string_len("currency", 3))
                .col(string_len("status", 16))
                .col(ts_null("paid_at"))
                .col(string_null("method"))
                .col(string_null("invoice_ref"))
                .col(text_null("note"))
                .col(json("attribution"))
                .col(uuid_null("created_by"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("sales"))
                .foreign_key(&mut fk(
                    "fk_sales_opportunity",
                    "sales",
                    "opportunity_id",
                    "opportunities",
                    false,
                ))
                .foreign_key(&mut fk("fk_sales_lead", "sales", "lead_id", "leads", false))
                .take(),
        )
        .await?;
        for (name, cols) in [
            ("ix_sales_tenant_id", &["tenant_id", "id"][..]),
            (
                "ix_sales_opportunity",
                &["tenant_id", "opportunity_id", "id"][..],
            ),
            ("ix_sales_lead", &["tenant_id", "lead_id", "id"][..]),
            ("ix_sales_paid", &["tenant_id", "paid_at"][..]),
            ("ix_sales_refund_of", &["tenant_id", "refund_of"][..]),
        ] {
            m.create_index(index(name, "sales", cols, false)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "sales",
            "opportunity_stage_history",
            "opportunities",
            "pipeline_stages",
            "lead_activities",
            "lead_touches",
            "lead_tags",
            "leads",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).take())
                .await?;
        }
        Ok(())
    }
}
