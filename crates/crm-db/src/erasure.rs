//! Erasing a person's copies from the tables that keep raw payloads
//! (issue 18.11): used when a lead is deleted.

use sea_orm::{ConnectionTrait, DbErr, Statement, Value};
use uuid::Uuid;

/// What an erased payload becomes.
pub const ERASED: &str = r#"{"erased":true}"#;

fn ph(pg: bool, n: usize) -> String {
    if pg { format!("${n}") } else { format!("?{n}") }
}

/// Replaces the payload of the outbox events about these aggregates.
pub async fn scrub_outbox(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    aggregate_type: &str,
    aggregate_ids: &[String],
) -> Result<u64, DbErr> {
    let pg = crate::is_postgres(conn);
    let mut n = 0;
    for id in aggregate_ids {
        let sql = format!(
            "UPDATE outbox SET payload = {} WHERE tenant_id = {} AND aggregate_type = {} AND aggregate_id = {}",
            if pg { "CAST($1 AS json)" } else { "?1" },
            ph(pg, 2),
            ph(pg, 3),
            ph(pg, 4),
        );
        n += conn
            .execute_raw(Statement::from_sql_and_values(
                conn.get_database_backend(),
                sql,
                [
                    Value::from(ERASED),
                    tenant_id.into(),
                    aggregate_type.into(),
                    id.as_str().into(),
                ],
            ))
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// Replaces the payload of the tenant's handled webhook deliveries (done,
/// failed, ignored or unroutable) that
/// mention any of `needles` (a WhatsApp id, a phone's digits, an e-mail).
/// Pending deliveries are left to be processed. A scan of the tenant's
/// inbox (kept `CRM_WEBHOOK_RETENTION_DAYS`); deletions are rare.
pub async fn scrub_inbox_mentions(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    needles: &[String],
) -> Result<u64, DbErr> {
    let pg = crate::is_postgres(conn);
    let mut n = 0;
    for needle in needles.iter().filter(|s| s.len() >= 6) {
        // LIKE's wildcards in the needle are escaped.
        let pattern = format!(
            "%{}%",
            needle
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let sql = format!(
            "UPDATE webhook_inbox SET payload = {} WHERE tenant_id = {} AND status <> 'pending' \
             AND CAST(payload AS TEXT) LIKE {} ESCAPE '\\'",
            if pg { "CAST($1 AS json)" } else { "?1" },
            ph(pg, 2),
            ph(pg, 3),
        );
        n += conn
            .execute_raw(Statement::from_sql_and_values(
                conn.get_database_backend(),
                sql,
                [Value::from(ERASED), tenant_id.into(), pattern.into()],
            ))
            .await?
            .rows_affected();
    }
    Ok(n)
}
