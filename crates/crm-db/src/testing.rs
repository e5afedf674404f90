//! Test support: a fresh, empty database per test on the backend that
//! `CRM_TEST_DATABASE_URL` names (SQLite in a temporary folder when unset).
//!
//! For PostgreSQL the variable names a server/maintenance database, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`; each call creates a new
//! database `crm_test_<random>` on that server and returns its URL.

use sea_orm::{ConnectionTrait, Database, DbErr};

/// The backend the tests run on: "postgres" or "sqlite".
pub fn backend() -> &'static str {
    match std::env::var("CRM_TEST_DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => "postgres",
        _ => "sqlite",
    }
}

/// Creates an empty database and returns its URL. `dir` is where a SQLite file
/// goes (the caller owns it and removes it).
pub async fn fresh_database_url(dir: &std::path::Path) -> Result<String, DbErr> {
    match std::env::var("CRM_TEST_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => {
            let name = format!("crm_test_{}", uuid::Uuid::new_v4().simple());
            let conn = Database::connect(admin.as_str()).await?;
            // Concurrent CREATE DATABASE calls can collide on the template
            // database; try a few times.
            let mut attempt = 0;
            loop {
                match conn
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                {
                    Ok(_) => break,
                    Err(e) if attempt < 5 => {
                        attempt += 1;
                        tracing::debug!("CREATE DATABASE retry {attempt}: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            conn.close().await?;
            let base = match admin.rfind('/') {
                Some(i) if admin[..i].contains("//") && i > admin.find("//").unwrap_or(0) + 1 => {
                    &admin[..i]
                }
                _ => admin.as_str(),
            };
            Ok(format!("{base}/{name}"))
        }
        _ => Ok(format!("sqlite://{}/crm.db", dir.display())),
    }
}

/// Drops test databases left by earlier runs (PostgreSQL only).
pub async fn drop_stale_test_databases() -> Result<usize, DbErr> {
    let Ok(admin) = std::env::var("CRM_TEST_DATABASE_URL") else {
        return Ok(0);
    };
    if !admin.starts_with("postgres") {
        return Ok(0);
    }
    let conn = Database::connect(admin.as_str()).await?;
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'crm_test_%'",
        ))
        .await?;
    let mut n = 0;
    for r in rows {
        let name: String = r.try_get("", "datname")?;
        if conn
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .is_ok()
        {
            n += 1;
        }
    }
    Ok(n)
}
