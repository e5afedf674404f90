//! Storage for CRM Ventas: SeaORM entities, the migrations (one set for SQLite
//! and PostgreSQL), the durable job queue, the outbox and the audit writer.

pub mod audit;
pub mod entity;
pub mod erasure;
pub mod jobs;
pub mod message_refs;
pub mod migration;
pub mod outbox;
pub mod retention;
pub mod rollups;
pub mod testing;

use std::path::Path;
use std::time::Duration;

pub use sea_orm;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm_migration::MigratorTrait;

pub use migration::Migrator;

/// The size SQLite's write-ahead log is truncated back to after a
/// checkpoint resets it (`PRAGMA journal_size_limit`).
pub const SQLITE_WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// The default database: an embedded SQLite file under `./data`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/crm.db";

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported DATABASE_URL scheme (use sqlite://PATH or postgres://...)")]
    UnsupportedScheme,
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Connects to the database the URL names. For SQLite the file and its folder
/// are created on first use, and the connection runs in WAL mode with a busy
/// timeout so that the worker and the HTTP handlers can share it.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, ConnectError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    // `CRM_SQL_LOG=1` logs every statement (target `sqlx::query`): for
    // counting queries while profiling, never in production.
    opts.sqlx_logging(std::env::var_os("CRM_SQL_LOG").is_some())
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or_default();
        let parent = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty());
        if path != ":memory:"
            && !path.is_empty()
            && let Some(parent) = parent
        {
            std::fs::create_dir_all(parent).map_err(|source| ConnectError::CreateDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
        opts.max_connections(max_connections.max(1))
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(15))
                    .foreign_keys(true)
                    // A checkpoint that resets the WAL truncates the file
                    // back to this size; without a limit the WAL keeps the
                    // size of its largest burst forever.
                    .pragma("journal_size_limit", SQLITE_WAL_LIMIT_BYTES.to_string())
            });
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        opts.max_connections(max_connections.max(2));
    } else {
        return Err(ConnectError::UnsupportedScheme);
    }
    Ok(Database::connect(opts).await?)
}

/// Applies every pending migration. When none is pending nothing is written:
/// admin commands (`crm webhooks replay`, `crm user create`, …) run against
/// a SQLite file that a live server is writing to, and the migrator's
/// bookkeeping would otherwise contend for the write lock for no reason.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if Migrator::get_pending_migrations_read_only(db)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    Migrator::up(db, None).await
}

/// Whether the connection is PostgreSQL (the dialect differs for job claiming).
pub fn is_postgres(db: &impl sea_orm::ConnectionTrait) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Options for a transaction that will write. On SQLite it starts with
/// `BEGIN IMMEDIATE`, taking the write lock up front (waiting up to the busy
/// timeout) instead of failing with SQLITE_BUSY when a read-then-write
/// transaction meets a concurrent writer such as the job worker. PostgreSQL
/// ignores the SQLite mode.
pub fn write_txn() -> sea_orm::TransactionOptions {
    sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    }
}

/// Serializes this process's hot SQLite writers (job claims and outcomes,
/// send claims and results, pacing, outbox dispatch) in FIFO order.
///
/// SQLite has one write lock; a connection that finds it taken sleeps in the
/// busy handler (1, 2, 5, 10, 15, 20, 25, 50, 100 ms…) and retries, so under
/// contention every write waits tens of milliseconds for a lock held for a
/// fraction of one. Queuing the writers of one process on an async mutex
/// hands the lock over at once. Writers of other processes (a second
/// `crm worker` on the same file, the CLI) still meet the busy handler,
/// which stays the correctness mechanism. `None` on PostgreSQL (row locks,
/// no single writer). Hold the guard only around the write itself and never
/// take it again while holding it.
pub async fn write_gate(
    db: &impl sea_orm::ConnectionTrait,
) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    static GATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    if is_postgres(db) {
        None
    } else {
        Some(GATE.lock().await)
    }
}

/// A new time-ordered id.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
