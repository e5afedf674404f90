//! Partial indexes behind the `/metrics` gauges that read `wa_messages`:
//! the messages whose outcome is not known yet (`status = 'sending'`) and
//! the inbound messages of the last day (24-hour windows about to close).
//! Partial, so the hot path (every status change of every message) does not
//! pay for them; both SQLite and PostgreSQL support the `WHERE` clause.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000090_scrape_indexes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS ix_wa_messages_sending ON wa_messages (created_at) \
             WHERE status = 'sending'",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS ix_wa_messages_inbound ON wa_messages (created_at) \
             WHERE direction = 'in'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_wa_messages_sending")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ix_wa_messages_inbound")
            .await?;
        Ok(())
    }
}
