//! Indexed substring search over `leads.search` (lowercased name, phone
//! digits and email), so the lead list's text search does not scan every lead
//! of the tenant.
//!
//! - SQLite: an FTS5 table with the trigram tokenizer, kept in step with
//!   `leads` by triggers (external content keyed by the leads' rowid; `crm
//!   backup` rebuilds it in the copy, since VACUUM may renumber rowids).
//! - PostgreSQL: a trigram GIN index (`pg_trgm`), which serves `LIKE '%…%'`.
//!   Creating the extension needs a privileged role; without it the migration
//!   logs a notice and search keeps working as a scan.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000060_lead_search"
    }
}

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE leads_search_fts USING fts5(search, content='leads', content_rowid='rowid', tokenize='trigram')",
    "INSERT INTO leads_search_fts(leads_search_fts) VALUES ('rebuild')",
    "CREATE TRIGGER leads_search_fts_ai AFTER INSERT ON leads BEGIN \
       INSERT INTO leads_search_fts(rowid, search) VALUES (new.rowid, new.search); END",
    "CREATE TRIGGER leads_search_fts_ad AFTER DELETE ON leads BEGIN \
       INSERT INTO leads_search_fts(leads_search_fts, rowid, search) VALUES ('delete', old.rowid, old.search); END",
    "CREATE TRIGGER leads_search_fts_au AFTER UPDATE OF search ON leads BEGIN \
       INSERT INTO leads_search_fts(leads_search_fts, rowid, search) VALUES ('delete', old.rowid, old.search); \
       INSERT INTO leads_search_fts(rowid, search) VALUES (new.rowid, new.search); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS leads_search_fts_au",
    "DROP TRIGGER IF EXISTS leads_search_fts_ad",
    "DROP TRIGGER IF EXISTS leads_search_fts_ai",
    "DROP TABLE IF EXISTS leads_search_fts",
];

const PG_UP: &str = r#"
DO $$
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm is not available to this role; lead search will scan';
  END;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    CREATE INDEX IF NOT EXISTS idx_leads_search_trgm ON leads USING gin (search gin_trgm_ops);
  END IF;
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                db.execute_unprepared(PG_UP).await?;
            }
            _ => {
                for sql in SQLITE_UP {
                    db.execute_unprepared(sql).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                db.execute_unprepared("DROP INDEX IF EXISTS idx_leads_search_trgm")
                    .await?;
            }
            _ => {
                for sql in SQLITE_DOWN {
                    db.execute_unprepared(sql).await?;
                }
            }
        }
        Ok(())
    }
}

/// Rebuilds the SQLite search index from `leads` (after a VACUUM INTO copy,
/// whose rowids may differ). A no-op on PostgreSQL.
pub const SQLITE_REBUILD: &str =
    "INSERT INTO leads_search_fts(leads_search_fts) VALUES ('rebuild')";
