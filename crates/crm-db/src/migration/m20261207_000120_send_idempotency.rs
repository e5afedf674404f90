//! A manual send can carry the client's `Idempotency-Key`: the message keeps
//! it, unique per tenant, so a retried request (a double click, a timeout on
//! a phone network) finds the first message instead of sending a second.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000120_send_idempotency"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("wa_messages")
                .add_column(string_null("idempotency_key"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_wa_messages_idempotency",
            "wa_messages",
            &["tenant_id", "idempotency_key"],
            true,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ux_wa_messages_idempotency")
                .table("wa_messages")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("wa_messages")
                .drop_column("idempotency_key")
                .take(),
        )
        .await
    }
}
