//! Meta connection: one connection row per tenant, the encrypted credentials
//! vault, the selected Meta assets (routing keys for webhooks), single-use
//! OAuth states and data-deletion requests.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, id, tenant_id, ts, ts_null};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000020_meta_connection"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("meta_connections")
                .col(id())
                .col(tenant_id())
                .col(string_len("status", 24))
                .col(string_len("source", 16))
                .col(string_null("meta_user_id"))
                .col(string_null("meta_user_name"))
                .col(string_null("token_type"))
                .col(json("scopes"))
                .col(json("granular_scopes"))
                .col(ts_null("expires_at"))
                .col(ts_null("data_access_expires_at"))
                .col(ts_null("checked_at"))
                .col(json_null("last_error"))
                .col(string_null("business_id"))
                .col(string_null("business_name"))
                .col(uuid_null("connected_by"))
                .col(ts_null("connected_at"))
                .col(ts_null("disconnected_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("meta_connections"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_meta_connections_tenant")
                .table("meta_connections")
                .col("tenant_id")
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_meta_connections_user")
                .table("meta_connections")
                .col("meta_user_id")
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("meta_credentials")
                .col(id())
                .col(tenant_id())
                .col(string_len("kind", 24))
                .col(string("ref_id"))
                .col(string_len("key_id", 32))
                .col(binary("nonce"))
                .col(binary("ciphertext"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut fk_tenant("meta_credentials"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_meta_credentials_tenant_kind_ref")
                .table("meta_credentials")
                .col("tenant_id")
                .col("kind")
                .col("ref_id")
                .unique()
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("meta_assets")
                .col(id())
                .col(tenant_id())
                .col(string_len("kind", 24))
                .col(string("external_id"))
                .col(string_null("name"))
                .col(string_null("parent_id"))
                .col(json("details"))
                .col(ts("created_at"))
                .foreign_key(&mut fk_tenant("meta_assets"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_meta_assets_tenant_kind")
                .table("meta_assets")
                .col("tenant_id")
                .col("kind")
                .take(),
        )
        .await?;
        // An asset (page, WABA, phone number, ad account) routes webhooks to
        // exactly one tenant.
        m.create_index(
            Index::create()
                .name("ux_meta_assets_kind_external")
                .table("meta_assets")
                .col("kind")
                .col("external_id")
                .unique()
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("meta_oauth_states")
                .col(id())
                .col(string_uniq("state_hash"))
                .col(tenant_id())
                .col(uuid("user_id"))
                .col(string("redirect_uri"))
                .col(string("return_path"))
                .col(ts("created_at"))
                .col(ts("expires_at"))
                .foreign_key(&mut fk_tenant("meta_oauth_states"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_meta_oauth_states_tenant")
                .table("meta_oauth_states")
                .col("tenant_id")
                .col("expires_at")
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("meta_deletion_requests")
                .col(id())
                .col(string_uniq("confirmation_code"))
                .col(string("meta_user_id"))
                .col(integer("tenants_affected"))
                .col(string_len("status", 16))
                .col(ts("created_at"))
                .col(ts_null("completed_at"))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "meta_deletion_requests",
            "meta_oauth_states",
            "meta_assets",
            "meta_credentials",
            "meta_connections",
        ] {
            m.drop_table(Table::drop().table(t).take()).await?;
        }
        Ok(())
    }
}
