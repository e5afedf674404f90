//! Which stored webhook names which of our outbound messages: one row per
//! (inbox event, message id in its `biz_opaque_callback_data`), written in
//! the ingest transaction and deleted with the inbox row. The send
//! reconciler asks "has Meta reported on this message?" with an index
//! lookup instead of a text search through every stored payload.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

const TABLE: &str = "webhook_message_refs";

/// Records `(inbox_id, message_id)` pairs; a pair already present is kept.
pub async fn insert(conn: &impl ConnectionTrait, refs: &[(Uuid, Uuid)]) -> Result<(), DbErr> {
    if refs.is_empty() {
        return Ok(());
    }
    let mut stmt = Query::insert();
    stmt.into_table(Alias::new(TABLE))
        .columns([Alias::new("inbox_id"), Alias::new("message_id")]);
    for (inbox_id, message_id) in refs {
        stmt.values([(*inbox_id).into(), (*message_id).into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    stmt.on_conflict(
        OnConflict::columns([Alias::new("inbox_id"), Alias::new("message_id")])
            .do_nothing()
            .to_owned(),
    );
    let backend = conn.get_database_backend();
    conn.execute_raw(backend.build(&stmt)).await?;
    Ok(())
}

/// Whether any stored webhook (processed or not) names `message_id`.
pub async fn mentioned(conn: &impl ConnectionTrait, message_id: Uuid) -> Result<bool, DbErr> {
    let stmt = Query::select()
        .expr(Expr::val(1))
        .from(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("message_id")).eq(message_id))
        .limit(1)
        .to_owned();
    let backend = conn.get_database_backend();
    Ok(conn.query_one_raw(backend.build(&stmt)).await?.is_some())
}

/// Forgets the references to these messages (their lead was deleted).
pub async fn delete_for_messages(
    conn: &impl ConnectionTrait,
    message_ids: &[Uuid],
) -> Result<u64, DbErr> {
    if message_ids.is_empty() {
        return Ok(0);
    }
    let stmt = Query::delete()
        .from_table(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("message_id")).is_in(message_ids.iter().copied()))
        .to_owned();
    let backend = conn.get_database_backend();
    Ok(conn
        .execute_raw(backend.build(&stmt))
        .await?
        .rows_affected())
}
