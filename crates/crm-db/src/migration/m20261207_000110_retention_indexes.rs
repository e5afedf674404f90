//! Indexes behind the retention prune (`crm_db::retention`): each deletion
//! finds its rows by the time column it cuts on, instead of scanning the
//! table every ten minutes.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000110_retention_indexes"
    }
}

const INDEXES: &[(&str, &str)] = &[
    (
        "ix_outbox_dispatched_at",
        "outbox (dispatched_at) WHERE dispatched_at IS NOT NULL",
    ),
    ("ix_sessions_expires_at", "sessions (expires_at)"),
    (
        "ix_sessions_revoked_at",
        "sessions (revoked_at) WHERE revoked_at IS NOT NULL",
    ),
    (
        "ix_meta_oauth_states_expires_at",
        "meta_oauth_states (expires_at)",
    ),
    ("ix_audit_log_at", "audit_log (at)"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for (name, on) in INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX IF NOT EXISTS {name} ON {on}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for (name, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
