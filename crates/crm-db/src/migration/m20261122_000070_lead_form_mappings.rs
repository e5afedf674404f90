//! Per-form field mapping for Meta Lead Ads: for each lead form of a
//! tenant's Pages, which CRM field each question's answer goes to
//! (`question key → target`), with the form's questions as last fetched.
//! A form without a row uses the default mapping (standard question types
//! to contact fields, everything else to the lead's note).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, id, index, tenant_id, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000070_lead_form_mappings"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("lead_form_mappings")
                .col(id())
                .col(tenant_id())
                .col(string("page_id"))
                .col(string("form_id"))
                .col(string_null("form_name"))
                .col(json("questions"))
                .col(json("mapping"))
                .col(ts("updated_at"))
                .col(uuid_null("updated_by"))
                .foreign_key(&mut fk_tenant("lead_form_mappings"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_lead_form_mappings_form",
            "lead_form_mappings",
            &["tenant_id", "form_id"],
            true,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("lead_form_mappings").to_owned())
            .await
    }
}
