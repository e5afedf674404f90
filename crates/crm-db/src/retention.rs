//! Deleting rows past their retention, a slice at a time (so no statement
//! holds the write lock for long). Used by the `maintenance.prune` job for the
//! tables that only grow: the outbox, sessions, OAuth states and the audit log.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement};

/// What a rule deletes: rows of `table` whose `column` is before the cutoff,
/// with `extra` (a fixed SQL condition, never user input) also true.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub table: &'static str,
    pub column: &'static str,
    pub extra: Option<&'static str>,
}

pub const DISPATCHED_OUTBOX: Rule = Rule {
    table: "outbox",
    column: "dispatched_at",
    extra: Some("dispatched_at IS NOT NULL"),
};
pub const EXPIRED_SESSIONS: Rule = Rule {
    table: "sessions",
    column: "expires_at",
    extra: None,
};
pub const REVOKED_SESSIONS: Rule = Rule {
    table: "sessions",
    column: "revoked_at",
    extra: Some("revoked_at IS NOT NULL"),
};
/// Password reset links, used or not, once past their expiry.
pub const EXPIRED_PASSWORD_RESETS: Rule = Rule {
    table: "password_resets",
    column: "expires_at",
    extra: None,
};
pub const EXPIRED_OAUTH_STATES: Rule = Rule {
    table: "meta_oauth_states",
    column: "expires_at",
    extra: None,
};
pub const AUDIT_ROWS: Rule = Rule {
    table: "audit_log",
    column: "at",
    extra: None,
};

/// Deletes up to `limit` rows of the rule before `before`; returns how many.
pub async fn delete_slice(
    conn: &impl ConnectionTrait,
    rule: Rule,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let pg = crate::is_postgres(conn);
    let (p1, p2) = if pg { ("$1", "$2") } else { ("?1", "?2") };
    let extra = rule.extra.map(|e| format!(" AND {e}")).unwrap_or_default();
    let sql = format!(
        "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE {c} < {p1}{extra} LIMIT {p2})",
        t = rule.table,
        c = rule.column,
    );
    let res = conn
        .execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [
                before.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    Ok(res.rows_affected())
}
