//! Sends whose outcome is unknown, held for a person to review.
//!
//! Meta's Cloud API has no idempotency key: when a send times out, Meta
//! answers 5xx, or the process dies after handing a message over, nobody can
//! tell whether the customer got it. Sending it again risks a duplicate; not
//! sending risks silence. By default the CRM does neither on its own: the
//! message is *held* ("Meta may or may not have delivered this"), visible in
//! the automation log and on the lead, until
//!
//! - a status webhook names it (Meta did take it): `apply_status` moves it
//!   on to sent / delivered / read / failed like any other message;
//! - a person resends it ([`resend`]): handed to Meta again under the same
//!   message id, so a late status for the first attempt settles it too;
//! - a person dismisses it ([`dismiss`]): closed, nothing more is sent.
//!
//! A tenant can choose "resend after silence" instead
//! (`HsmSettings::resend_unconfirmed`): the automation reconciler then
//! hands the message over again itself (at least once).

use chrono::Utc;
use crm_db::audit::{self, Actor};
use crm_db::entity::{automation_run, wa_message};
use crm_db::outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::leads;
use super::messaging::{self, Prepared, SendOutcome, SendView};
use super::meta_connection::{MetaEnv, MetaFail};
use super::templates::{self, APPROVED};
use crate::automation::rule::reason;
use crate::automation::template::{SendValues, needs_marketing_consent};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

/// Status of a message (and its automation run) held for review.
pub const HELD: &str = "held";
/// Status of a held message a person chose not to send again.
pub const DISMISSED: &str = "dismissed";
/// What a held message says about itself.
pub const HELD_NOTE: &str =
    "Meta did not confirm this message: it may or may not have been delivered";

/// Holds a message left `sending` (compare-and-set: only if it still is),
/// with its run, audit row and `hsm_message_held` event. Returns whether it
/// was held now.
pub async fn hold(db: &DatabaseConnection, m: &wa_message::Model) -> Result<bool, CoreError> {
    let now = Utc::now();
    let _gate = crm_db::write_gate(db).await;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let held = wa_message::Entity::update_many()
        .col_expr(wa_message::Column::Status, Expr::value(HELD))
        .col_expr(wa_message::Column::ErrorMessage, Expr::value(HELD_NOTE))
        .col_expr(wa_message::Column::UpdatedAt, Expr::value(now))
        .filter(wa_message::Column::Id.eq(m.id))
        .filter(wa_message::Column::Status.eq("sending"))
        .exec(&txn)
        .await?;
    if held.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(false);
    }
    if let Some(run_id) = m.run_id {
        set_run(&txn, run_id, "sending", HELD, Some(reason::OUTCOME_UNKNOWN)).await?;
    }
    audit::record(
        &txn,
        &Actor::system(m.tenant_id),
        "hsm.message.held",
        "wa_message",
        Some(m.id.to_string()),
        json!({"lead_id": m.lead_id, "template": m.template_name, "run_id": m.run_id}),
    )
    .await?;
    outbox::emit(
        &txn,
        m.tenant_id,
        "hsm_message_held",
        "wa_message",
        &m.id.to_string(),
        json!({"lead_id": m.lead_id, "run_id": m.run_id}),
    )
    .await?;
    txn.commit().await?;
    messaging::count_send("held", None);
    Ok(true)
}

/// Moves the run from `from` to `to`, adding the step to its timeline.
async fn set_run(
    conn: &impl sea_orm::ConnectionTrait,
    run_id: Uuid,
    from: &str,
    to: &str,
    why: Option<&str>,
) -> Result<(), CoreError> {
    let Some(run) = automation_run::Entity::find_by_id(run_id).one(conn).await? else {
        return Ok(());
    };
    if run.status != from {
        return Ok(());
    }
    let now = Utc::now();
    let mut timeline: Vec<Value> = serde_json::from_value(run.timeline.clone()).unwrap_or_default();
    let mut step = json!({"status": to, "at": now});
    if let Some(w) = why {
        step["reason"] = json!(w);
    }
    timeline.push(step);
    let mut am: automation_run::ActiveModel = run.into();
    am.status = Set(to.to_owned());
    if let Some(w) = why {
        am.reason = Set(Some(w.to_owned()));
    }
    am.timeline = Set(json!(timeline));
    am.updated_at = Set(now);
    am.update(conn).await?;
    Ok(())
}

async fn held_message(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<wa_message::Model, CoreError> {
    let m = wa_message::Entity::find_by_id(id)
        .filter(wa_message::Column::TenantId.eq(ctx.tenant_id))
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("message"))?;
    // Sellers reach only the messages of leads they can see.
    leads::visible_lead(db, ctx, m.lead_id).await?;
    if m.status != HELD {
        return Err(CoreError::Conflict {
            code: "message_not_held",
            message: format!("the message is {}, not held for review", m.status),
            details: Some(json!({"status": m.status})),
        });
    }
    Ok(m)
}

/// A person sends a held message again (same message id, same template and
/// values, the lead's guards checked again).
pub async fn resend(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<SendView, MetaFail> {
    ctx.require(Permission::MessagesSend)?;
    let m = held_message(db, ctx, id).await?;
    let l = leads::visible_lead(db, ctx, m.lead_id).await?;
    let template_id = m.template_id.ok_or_else(|| {
        CoreError::conflict("not_a_template", "only template messages can be resent")
    })?;
    let t = templates::find(db, ctx.tenant_id, template_id).await?;
    if t.status != APPROVED {
        return Err(CoreError::Conflict {
            code: reason::TEMPLATE_NOT_APPROVED,
            message: format!("the template {} is {}, not APPROVED", t.name, t.status),
            details: Some(json!({"status": t.status})),
        }
        .into());
    }
    let consent = messaging::consent_of(&l);
    if needs_marketing_consent(&t.category) && !consent.can_receive_marketing
        || consent.opted_out && !consent.can_receive_utility
    {
        return Err(CoreError::conflict(
            reason::OPTED_OUT,
            "the customer no longer accepts these messages",
        )
        .into());
    }
    let recipient = messaging::recipient_of(&l)
        .ok_or_else(|| CoreError::validation("no_recipient", "the lead has no WhatsApp number"))?;
    let values: SendValues = m
        .payload
        .get("values")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let (_, phone) = templates::whatsapp_ids(db, ctx.tenant_id).await?;
    let settings = messaging::settings_of(db, ctx.tenant_id).await?;
    let slot = messaging::manual_slot(db, &phone, settings.messages_per_second).await?;

    // Back to `sending` (compare-and-set on `held`), audited in the same
    // transaction; then handed to Meta as an unconfirmed message.
    let now = Utc::now();
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let claimed = wa_message::Entity::update_many()
        .col_expr(wa_message::Column::Status, Expr::value("sending"))
        .col_expr(
            wa_message::Column::ErrorMessage,
            Expr::value(Option::<String>::None),
        )
        .col_expr(wa_message::Column::UpdatedAt, Expr::value(now))
        .filter(wa_message::Column::Id.eq(m.id))
        .filter(wa_message::Column::Status.eq(HELD))
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        txn.rollback().await?;
        return Err(CoreError::conflict(
            "message_not_held",
            "someone else resent or dismissed this message",
        )
        .into());
    }
    if let Some(run_id) = m.run_id {
        set_run(&txn, run_id, HELD, "sending", None).await?;
    }
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.message.resend",
        "wa_message",
        Some(m.id.to_string()),
        json!({"lead_id": l.id, "template": t.name, "run_id": m.run_id}),
    )
    .await?;
    txn.commit().await?;
    let fresh = wa_message::Entity::find_by_id(m.id)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("message"))?;
    let p = Prepared {
        tenant_id: ctx.tenant_id,
        lead: l.clone(),
        template: t,
        values,
        rendered: fresh.body.clone(),
        recipient,
        rule_id: m.rule_id,
        run_id: m.run_id,
        sent_by: ctx.user_id,
        slot: Some(slot),
        idempotency_key: None,
    };
    let outcome = messaging::resend_unconfirmed(db, env, &phone, &p, &fresh).await?;
    if let SendOutcome::Unknown { .. } | SendOutcome::Retry { .. } = outcome {
        // Still no answer: held again, for the person to decide later.
        if let Some(now_row) = wa_message::Entity::find_by_id(m.id).one(db).await? {
            hold(db, &now_row).await?;
        }
    }
    let after = wa_message::Entity::find_by_id(m.id)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("message"))?;
    Ok(SendView {
        message: after.into(),
        window: messaging::window_of(&l, Utc::now()),
    })
}

/// A person decides a held message is not to be sent again.
pub async fn dismiss(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<messaging::MessageView, CoreError> {
    ctx.require(Permission::MessagesSend)?;
    let m = held_message(db, ctx, id).await?;
    let now = Utc::now();
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let done = wa_message::Entity::update_many()
        .col_expr(wa_message::Column::Status, Expr::value(DISMISSED))
        .col_expr(wa_message::Column::UpdatedAt, Expr::value(now))
        .filter(wa_message::Column::Id.eq(m.id))
        .filter(wa_message::Column::Status.eq(HELD))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        txn.rollback().await?;
        return Err(CoreError::conflict(
            "message_not_held",
            "someone else resent or dismissed this message",
        ));
    }
    if let Some(run_id) = m.run_id {
        set_run(&txn, run_id, HELD, DISMISSED, None).await?;
    }
    audit::record(
        &txn,
        &ctx.actor(),
        "hsm.message.dismiss",
        "wa_message",
        Some(m.id.to_string()),
        json!({"lead_id": m.lead_id, "template": m.template_name, "run_id": m.run_id}),
    )
    .await?;
    txn.commit().await?;
    let after = wa_message::Entity::find_by_id(m.id)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("message"))?;
    Ok(after.into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;
    use uuid::Uuid;

    use crate::services::webhooks::callback_message_ids;

    #[test]
    fn a_status_webhook_names_our_message_by_its_callback_data() {
        let id = Uuid::now_v7();
        let other = Uuid::now_v7();
        let value = json!({"statuses": [
            {"id": "wamid.A", "status": "sent", "biz_opaque_callback_data": format!("m:{id}")},
            {"id": "wamid.B", "status": "read", "biz_opaque_callback_data": format!("m:{other}")},
            {"id": "wamid.C", "status": "read", "biz_opaque_callback_data": "campaign-7"},
            {"id": "wamid.D", "status": "read", "biz_opaque_callback_data": "m:not-a-uuid"}
        ]});
        let mut found = callback_message_ids(&value);
        found.sort();
        let mut want = vec![id, other];
        want.sort();
        assert_eq!(found, want);
        assert!(callback_message_ids(&json!({"messages": [{"text": {"body": "m:x"}}]})).is_empty());
    }
}
