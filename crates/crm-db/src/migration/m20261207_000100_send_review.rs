//! Honest send guarantees. A send whose outcome is unknown (Meta timed out,
//! answered 5xx, or the process died after handing it over) is held for a
//! person to review unless the tenant chose "resend after silence"
//! (`hsm_settings.resend_unconfirmed`, off by default: at least once).
//! `webhook_message_refs` indexes which stored webhook names which of our
//! messages (its `biz_opaque_callback_data`), so deciding whether Meta has
//! reported on a message is an index lookup, not a scan of the inbox.
//! A ref goes with its inbox row (ON DELETE CASCADE).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::cols::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000100_send_review"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("hsm_settings")
                .add_column(boolean("resend_unconfirmed").default(false))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("webhook_message_refs")
                .col(uuid("inbox_id"))
                .col(uuid("message_id"))
                .primary_key(Index::create().col("inbox_id").col("message_id"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_webhook_message_refs_inbox")
                        .from("webhook_message_refs", "inbox_id")
                        .to("webhook_inbox", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_webhook_message_refs_message",
            "webhook_message_refs",
            &["message_id"],
            false,
        ))
        .await?;
        // Behind the `crm_wa_messages_held` gauge (partial: held is rare).
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS ix_wa_messages_held ON wa_messages (created_at) \
                 WHERE status = 'held'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ix_wa_messages_held")
            .await?;
        m.drop_table(Table::drop().table("webhook_message_refs").to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table("hsm_settings")
                .drop_column("resend_unconfirmed")
                .take(),
        )
        .await
    }
}
