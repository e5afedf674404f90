//! Erasing a person's copies from the tables that keep raw payloads
//! (issue 18.11): used when a lead is deleted.

use sea_orm::{ConnectionTrait, DbErr, Statement, Value};
use uuid::Uuid;

/// What an erased payload becomes.
pub const ERASED: &str = r#"{"erased":true}"#;

fn ph(pg: bool, n: usize) -> String {
    if pg { format!("${n}") } else { format!("?{n}") }
}

/// Replaces the payload of the outbox events about these aggregates, and of
/// the consumer jobs the dispatcher made from them (which copy the event's
/// payload). Returns (events, jobs) changed.
pub async fn scrub_outbox(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    aggregate_type: &str,
    aggregate_ids: &[String],
) -> Result<(u64, u64), DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    use crate::entity::outbox;
    let pg = crate::is_postgres(conn);
    let json_param = |n: usize| {
        if pg {
            format!("CAST(${n} AS json)")
        } else {
            format!("?{n}")
        }
    };
    let (mut events, mut jobs) = (0, 0);
    for chunk in aggregate_ids.chunks(200) {
        let rows = outbox::Entity::find()
            .filter(outbox::Column::TenantId.eq(tenant_id))
            .filter(outbox::Column::AggregateType.eq(aggregate_type))
            .filter(outbox::Column::AggregateId.is_in(chunk.iter().cloned()))
            .all(conn)
            .await?;
        for ev in rows {
            events += conn
                .execute_raw(Statement::from_sql_and_values(
                    conn.get_database_backend(),
                    format!(
                        "UPDATE outbox SET payload = {} WHERE id = {}",
                        json_param(1),
                        ph(pg, 2)
                    ),
                    [Value::from(ERASED), ev.id.into()],
                ))
                .await?
                .rows_affected();
            // The job a consumer got: `{kind}:{event id}` (see outbox::dispatch).
            let job_payload = serde_json::json!({
                "event_id": ev.id,
                "event_type": ev.event_type,
                "aggregate_type": ev.aggregate_type,
                "aggregate_id": ev.aggregate_id,
                "payload": {"erased": true},
            });
            jobs += conn
                .execute_raw(Statement::from_sql_and_values(
                    conn.get_database_backend(),
                    format!(
                        "UPDATE jobs SET payload = {} WHERE tenant_id = {} AND dedupe_key LIKE {}",
                        json_param(1),
                        ph(pg, 2),
                        ph(pg, 3),
                    ),
                    [
                        Value::from(job_payload.to_string()),
                        tenant_id.into(),
                        format!("%:{}", ev.id).into(),
                    ],
                ))
                .await?
                .rows_affected();
        }
    }
    Ok((events, jobs))
}

/// Replaces the payload of the tenant's handled webhook deliveries (done,
/// failed or ignored) that mention any of `needles` (a WhatsApp id, a
/// phone's digits, an e-mail; compared without case). Pending deliveries are
/// left to be processed; unroutable ones (no tenant yet) are not searched. A scan of the tenant's
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
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let sql = format!(
            "UPDATE webhook_inbox SET payload = {} WHERE tenant_id = {} AND status <> 'pending' \
             AND LOWER(CAST(payload AS TEXT)) LIKE {} ESCAPE '\\'",
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
