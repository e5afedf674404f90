use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, id, tenant_id, ts, ts_null};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000001_foundation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("tenants")
                .col(id())
                .col(string("name"))
                .col(string_len("currency", 3))
                .col(string("timezone"))
                .col(string_len("locale", 8))
                .col(string_len("country", 2))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("users")
                .col(id())
                .col(tenant_id())
                .col(string_uniq("email"))
                .col(string("name"))
                .col(string_len("role", 16))
                .col(string_len("status", 16))
                .col(string("password_hash"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .col(ts_null("last_login_at"))
                .foreign_key(&mut fk_tenant("users"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_users_tenant")
                .table("users")
                .col("tenant_id")
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("sessions")
                .col(id())
                .col(string_uniq("token_hash"))
                .col(tenant_id())
                .col(uuid("user_id"))
                .col(string("csrf_token"))
                .col(string_null("ip"))
                .col(string_null("user_agent"))
                .col(ts("created_at"))
                .col(ts("last_seen_at"))
                .col(ts("expires_at"))
                .col(ts_null("revoked_at"))
                .foreign_key(&mut fk_tenant("sessions"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_sessions_user")
                        .from("sessions", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_sessions_user")
                .table("sessions")
                .col("user_id")
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("api_tokens")
                .col(id())
                .col(tenant_id())
                .col(string("name"))
                .col(string_len("role", 16))
                .col(string_uniq("token_hash"))
                .col(uuid_null("created_by"))
                .col(ts("created_at"))
                .col(ts_null("last_used_at"))
                .col(ts_null("revoked_at"))
                .foreign_key(&mut fk_tenant("api_tokens"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_api_tokens_tenant")
                .table("api_tokens")
                .col("tenant_id")
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("audit_log")
                .col(id())
                .col(tenant_id())
                .col(uuid_null("user_id"))
                .col(uuid_null("token_id"))
                .col(string("action"))
                .col(string("resource_type"))
                .col(string_null("resource_id"))
                .col(string_null("ip"))
                .col(string_null("user_agent"))
                .col(json("details"))
                .col(ts("at"))
                .foreign_key(&mut fk_tenant("audit_log"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_tenant_id")
                .table("audit_log")
                .col("tenant_id")
                .col("id")
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("jobs")
                .col(id())
                .col(uuid_null("tenant_id"))
                .col(string("kind"))
                .col(json("payload"))
                .col(string_null("dedupe_key").unique_key())
                .col(string_len("status", 16))
                .col(integer("attempts"))
                .col(integer("max_attempts"))
                .col(ts("run_at"))
                .col(string_null("locked_by"))
                .col(ts_null("locked_until"))
                .col(text_null("last_error"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .col(ts_null("finished_at"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_jobs_due")
                .table("jobs")
                .col("status")
                .col("run_at")
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("outbox")
                .col(id())
                .col(tenant_id())
                .col(string("event_type"))
                .col(string("aggregate_type"))
                .col(string("aggregate_id"))
                .col(json("payload"))
                .col(ts("created_at"))
                .col(ts_null("dispatched_at"))
                .foreign_key(&mut fk_tenant("outbox"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_pending")
                .table("outbox")
                .col("dispatched_at")
                .col("id")
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_tenant")
                .table("outbox")
                .col("tenant_id")
                .col("created_at")
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "outbox",
            "jobs",
            "audit_log",
            "api_tokens",
            "sessions",
            "users",
            "tenants",
        ] {
            m.drop_table(Table::drop().table(t).take()).await?;
        }
        Ok(())
    }
}
