//! `marketing_read_versions`: one counter per tenant, bumped in the same
//! transaction as every write that can change a Marketing Hub answer (rollup
//! rows, synced campaign structure and sync state, the tenant's time zone or
//! currency). Servers keep computed answers keyed by it, so a repeated view
//! costs one indexed read, and every server sees a change at once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000075_marketing_read_version"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("marketing_read_versions")
                .col(uuid("tenant_id").primary_key())
                .col(big_integer("version"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("marketing_read_versions"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("marketing_read_versions").take())
            .await
    }
}
