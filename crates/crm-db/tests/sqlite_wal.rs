#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SQLite's write-ahead log does not keep the size of its largest burst: once
//! a checkpoint resets it, the file is truncated back to the limit
//! (`crm_db::SQLITE_WAL_LIMIT_BYTES`). SQLite only; on PostgreSQL there is
//! nothing to check.

use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

fn wal_len(db_path: &std::path::Path) -> u64 {
    std::fs::metadata(format!("{}-wal", db_path.display()))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_wal_shrinks_back_to_its_limit_after_a_burst() {
    if std::env::var("CRM_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("crm-wal-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wal.db");
    let db = crm_db::connect(&format!("sqlite://{}", path.display()), 2)
        .await
        .unwrap();
    db.execute_unprepared("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB)")
        .await
        .unwrap();
    // A reader holds a snapshot, so no checkpoint can reset the log while
    // 96 MB are written: the WAL grows past the limit.
    let reader = db.begin().await.unwrap();
    reader
        .execute_unprepared("SELECT count(*) FROM blobs")
        .await
        .unwrap();
    for _ in 0..96 {
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            "INSERT INTO blobs (b) VALUES (zeroblob(1048576))",
        ))
        .await
        .unwrap();
    }
    let peak = wal_len(&path);
    assert!(
        peak > crm_db::SQLITE_WAL_LIMIT_BYTES,
        "the burst should outgrow the limit: {peak}"
    );
    reader.rollback().await.unwrap();
    // The next checkpoint copies everything back; the write after it starts
    // the log over and truncates the file to the limit.
    db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
        .await
        .unwrap();
    db.execute_unprepared("DELETE FROM blobs").await.unwrap();
    db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
        .await
        .unwrap();
    db.execute_unprepared("INSERT INTO blobs (b) VALUES (x'00')")
        .await
        .unwrap();
    let after = wal_len(&path);
    assert!(
        after <= crm_db::SQLITE_WAL_LIMIT_BYTES,
        "the WAL kept {after} bytes after its burst of {peak}"
    );
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
