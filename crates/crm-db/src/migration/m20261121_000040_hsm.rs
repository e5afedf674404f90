//! HSM automation: WhatsApp templates with their status history, the
//! messages exchanged with leads, automation rules, the automation run log
//! (one row per rule × lead × trigger occurrence, unique by its send key),
//! per-number send pacing and per-tenant HSM settings.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, id, index, tenant_id, ts, ts_null};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000040_hsm"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("wa_templates")
                .col(id())
                .col(tenant_id())
                .col(string("waba_id"))
                .col(string("meta_id"))
                .col(string("name"))
                .col(string_len("language", 16))
                .col(string_len("category", 24))
                .col(string_len_null("previous_category", 24))
                .col(ts_null("category_changed_at"))
                .col(string_len("status", 24))
                .col(string_len("parameter_format", 16))
                .col(json("components"))
                .col(string_len_null("quality", 16))
                .col(string_null("rejected_reason"))
                .col(uuid_null("created_by"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .col(ts_null("synced_at"))
                .foreign_key(&mut fk_tenant("wa_templates"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_wa_templates_meta",
            "wa_templates",
            &["tenant_id", "meta_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ux_wa_templates_name_lang",
            "wa_templates",
            &["tenant_id", "name", "language"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("wa_template_events")
                .col(id())
                .col(tenant_id())
                .col(uuid("template_id"))
                .col(string_len("kind", 16))
                .col(string_null("from_value"))
                .col(string("to_value"))
                .col(string_null("reason"))
                .col(string_len("source", 16))
                .col(ts("at"))
                .foreign_key(&mut fk_tenant("wa_template_events"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_wa_template_events_tpl",
            "wa_template_events",
            &["tenant_id", "template_id", "at"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("wa_messages")
                .col(id())
                .col(tenant_id())
                .col(uuid("lead_id"))
                .col(string_len("direction", 8))
                .col(string_null("wamid"))
                .col(string_len("kind", 24))
                .col(uuid_null("template_id"))
                .col(string_null("template_name"))
                .col(string_len_null("template_category", 24))
                .col(text("body"))
                .col(string_len("status", 16))
                .col(ts_null("sent_at"))
                .col(ts_null("delivered_at"))
                .col(ts_null("read_at"))
                .col(ts_null("failed_at"))
                .col(big_integer_null("error_code"))
                .col(text_null("error_message"))
                .col(uuid_null("rule_id"))
                .col(uuid_null("run_id"))
                .col(uuid_null("sent_by"))
                .col(json_null("referral"))
                .col(json("payload"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("wa_messages"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_wa_messages_wamid",
            "wa_messages",
            &["tenant_id", "wamid"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_wa_messages_lead",
            "wa_messages",
            &["tenant_id", "lead_id", "created_at"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("automation_rules")
                .col(id())
                .col(tenant_id())
                .col(string("name"))
                .col(boolean("enabled"))
                .col(string_len("trigger_type", 24))
                .col(json("spec"))
                .col(string_null("starter_key"))
                .col(uuid_null("created_by"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("automation_rules"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_automation_rules_trigger",
            "automation_rules",
            &["tenant_id", "trigger_type", "enabled"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("automation_runs")
                .col(id())
                .col(tenant_id())
                .col(uuid("rule_id"))
                .col(uuid("lead_id"))
                .col(string_uniq("send_key"))
                .col(string("occurrence"))
                .col(string_len("status", 16))
                .col(string_len_null("reason", 32))
                .col(string("template_name"))
                .col(string_len("language", 16))
                .col(text_null("rendered"))
                .col(json("variables"))
                .col(string_null("wamid"))
                .col(uuid_null("message_id"))
                .col(big_integer_null("error_code"))
                .col(text_null("error_message"))
                .col(json("timeline"))
                .col(ts("run_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("automation_runs"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_automation_runs_created",
            "automation_runs",
            &["tenant_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_automation_runs_rule",
            "automation_runs",
            &["tenant_id", "rule_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_automation_runs_lead",
            "automation_runs",
            &["tenant_id", "lead_id", "status"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_automation_runs_wamid",
            "automation_runs",
            &["wamid"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("wa_pacing")
                .col(string("phone_number_id").primary_key())
                .col(big_integer("next_slot_us"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("hsm_settings")
                .col(uuid("tenant_id").primary_key())
                .col(json("opt_out_keywords"))
                .col(json("opt_in_keywords"))
                .col(integer("messages_per_second"))
                .col(string_null("paused_reason"))
                .col(ts_null("paused_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("hsm_settings"))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "hsm_settings",
            "wa_pacing",
            "automation_runs",
            "automation_rules",
            "wa_messages",
            "wa_template_events",
            "wa_templates",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
