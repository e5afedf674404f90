//! Password resets (issue 18.6): single-use, 30-minute reset tokens, stored
//! as their SHA-256 only. One row per issued token; `used_at` marks it spent.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::{fk_tenant, id, index, tenant_id, ts, ts_null};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000140_password_resets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("password_resets")
                .col(id())
                .col(tenant_id())
                .col(uuid("user_id"))
                .col(string("token_hash"))
                .col(uuid_null("created_by"))
                .col(ts("created_at"))
                .col(ts("expires_at"))
                .col(ts_null("used_at"))
                .foreign_key(&mut fk_tenant("password_resets"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_password_resets_user")
                        .from("password_resets", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_password_resets_token",
            "password_resets",
            &["token_hash"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_password_resets_user",
            "password_resets",
            &["user_id"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("password_resets").to_owned())
            .await
    }
}
