//! One set of migrations for SQLite and PostgreSQL.
//!
//! Each migration module is written once with sea-query's schema builder, so the
//! same code produces the right DDL for both backends.

use sea_orm_migration::prelude::*;

mod m20261121_000001_foundation;
mod m20261121_000010_crm_core;
mod m20261121_000020_meta_connection;
mod m20261121_000030_marketing;
mod m20261121_000040_hsm;
mod m20261121_000050_rollups;
mod m20261122_000060_lead_search;
mod m20261122_000070_lead_form_mappings;
mod m20261122_000075_marketing_read_version;
mod m20261122_000080_marketing_monthly;
mod m20261207_000090_scrape_indexes;
mod m20261207_000100_send_review;
mod m20261207_000110_retention_indexes;
mod m20261207_000120_send_idempotency;
mod m20261207_000130_api_token_expiry;
mod m20261207_000140_password_resets;

/// SQL that rebuilds SQLite's lead search index (see the lead_search migration).
pub use m20261122_000060_lead_search::SQLITE_REBUILD as SQLITE_LEAD_SEARCH_REBUILD;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_foundation::Migration),
            Box::new(m20261121_000010_crm_core::Migration),
            Box::new(m20261121_000030_marketing::Migration),
            Box::new(m20261121_000040_hsm::Migration),
            Box::new(m20261121_000020_meta_connection::Migration),
            Box::new(m20261121_000050_rollups::Migration),
            Box::new(m20261122_000060_lead_search::Migration),
            Box::new(m20261122_000070_lead_form_mappings::Migration),
            Box::new(m20261122_000075_marketing_read_version::Migration),
            Box::new(m20261122_000080_marketing_monthly::Migration),
            Box::new(m20261207_000090_scrape_indexes::Migration),
            Box::new(m20261207_000100_send_review::Migration),
            Box::new(m20261207_000110_retention_indexes::Migration),
            Box::new(m20261207_000120_send_idempotency::Migration),
            Box::new(m20261207_000130_api_token_expiry::Migration),
            Box::new(m20261207_000140_password_resets::Migration),
        ]
    }
}

/// Helpers shared by migration files.
pub(crate) mod cols {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema;

    pub fn id() -> ColumnDef {
        schema::uuid("id").primary_key().take()
    }
    pub fn tenant_id() -> ColumnDef {
        schema::uuid("tenant_id")
    }
    pub fn ts(name: &'static str) -> ColumnDef {
        schema::timestamp_with_time_zone(name)
    }
    pub fn ts_null(name: &'static str) -> ColumnDef {
        schema::timestamp_with_time_zone_null(name)
    }
    /// An index on `table(cols…)`, unique or not.
    pub fn index(
        name: &str,
        table: &str,
        cols: &[&'static str],
        unique: bool,
    ) -> IndexCreateStatement {
        let mut i = Index::create();
        i.name(name).table(Alias::new(table));
        for c in cols {
            i.col(Alias::new(*c));
        }
        if unique {
            i.unique();
        }
        i.take()
    }

    pub fn fk_tenant(table: &'static str) -> ForeignKeyCreateStatement {
        ForeignKey::create()
            .name(format!("fk_{table}_tenant"))
            .from(table, "tenant_id")
            .to("tenants", "id")
            .on_delete(ForeignKeyAction::Cascade)
            .take()
    }
}
