//! Lead attribution from Meta: Lead Ads (leadgen webhook + reconcile polling
//! per form) and Click-to-WhatsApp referrals. The first touch decides credit
//! and is never overwritten (the leads service guarantees that); later touches
//! go to the touch history.
//!
//! When the ad is known but its ad set / campaign are not (a CTWA referral
//! only carries the ad id), they are resolved from the synced ad structure;
//! the stats also resolve them at query time, so a lead whose ad is synced
//! later still lands in the right campaign.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use crm_db::audit::Actor;
use crm_db::entity::{meta_ad_object, meta_asset, meta_sync_state};
use meta_graph::Lead as MetaLead;
use meta_graph::webhook::{LeadgenChange, Referral};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use super::lead_forms;
use super::leads::{self, Channel, ContactInput, LeadSource, LeadView, TouchInput};
use super::meta_connection::{self, MetaEnv};
use super::timeline;
use super::webhooks::{FieldHandler, HandlerCx, HandlerError, InboxEvent, WebhookRegistry};
use crate::CoreError;

pub const RECONCILE_JOB: &str = "marketing.reconcile_forms";

/// The synced ad set and campaign of an ad, when known.
pub async fn resolve_ad(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    ad_id: &str,
) -> Result<Option<(Option<String>, Option<String>)>, sea_orm::DbErr> {
    Ok(meta_ad_object::Entity::find()
        .filter(meta_ad_object::Column::TenantId.eq(tenant_id))
        .filter(meta_ad_object::Column::Level.eq("ad"))
        .filter(meta_ad_object::Column::ExternalId.eq(ad_id))
        .one(conn)
        .await?
        .map(|a| (a.adset_id, a.campaign_id)))
}

pub use super::lead_forms::MappedAnswers;

/// Default mapping of Lead Ads field names (Meta's standard keys); a form
/// with a saved mapping goes through [`lead_forms::mapping_for`] instead.
pub fn map_answers(lead: &MetaLead) -> MappedAnswers {
    lead_forms::FormMapping::default().apply(&lead.field_data)
}

fn parse_meta_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Creates or updates the CRM lead of one Lead Ads lead, with the answers
/// mapped by the form's saved mapping (or the default). The webhook and the
/// reconcile backfill both come here. Deduplicated on the leadgen id (a
/// second call finds the same lead and adds nothing).
pub async fn apply_lead_ads_lead(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    lead: &MetaLead,
) -> Result<(LeadView, bool), CoreError> {
    let mapping = lead_forms::mapping_for(db, tenant_id, lead.form_id.as_deref()).await?;
    let mut answers = mapping.apply(&lead.field_data);
    let (mut adset, mut campaign) = (lead.adset_id.clone(), lead.campaign_id.clone());
    if let Some(ad) = &lead.ad_id
        && (adset.is_none() || campaign.is_none())
        && let Some((s, c)) = resolve_ad(db, tenant_id, ad).await?
    {
        adset = adset.or(s);
        campaign = campaign.or(c);
    }
    let organic = lead.is_organic == Some(true) || lead.ad_id.is_none();
    let touch = TouchInput {
        lead_source: Some(if organic {
            LeadSource::Organic
        } else {
            LeadSource::MetaAds
        }),
        channel: Some(Channel::LeadForm),
        meta_campaign_id: campaign,
        meta_adset_id: adset,
        meta_ad_id: lead.ad_id.clone(),
        meta_lead_id: Some(lead.id.clone()),
        meta_form_id: lead.form_id.clone(),
        occurred_at: lead.created_time.as_deref().and_then(parse_meta_time),
        ..Default::default()
    };
    let contact = ContactInput {
        name: answers.name.clone(),
        phone: answers.phone.clone(),
        email: answers.email.clone(),
        meta_lead_id: Some(lead.id.clone()),
        tags: answers.tags.clone(),
        ..Default::default()
    };
    let actor = Actor::system(tenant_id);
    // A phone or email the CRM cannot parse must not lose the lead: keep it
    // as an answer instead.
    let (view, created) =
        match leads::find_or_create_lead_by_contact(db, &actor, &contact, Some(&touch)).await {
            Err(CoreError::Validation { code, .. })
                if code == "invalid_phone" || code == "invalid_email" =>
            {
                let mut c = contact.clone();
                if code == "invalid_phone" {
                    if let Some(p) = c.phone.take() {
                        answers.custom.push(("phone_number".into(), p));
                    }
                } else if let Some(e) = c.email.take() {
                    answers.custom.push(("email".into(), e));
                }
                match leads::find_or_create_lead_by_contact(db, &actor, &c, Some(&touch)).await {
                    Err(CoreError::Validation { code, .. })
                        if code == "invalid_phone" || code == "invalid_email" =>
                    {
                        if let Some(p) = c.phone.take() {
                            answers.custom.push(("phone_number".into(), p));
                        }
                        if let Some(e) = c.email.take() {
                            answers.custom.push(("email".into(), e));
                        }
                        leads::find_or_create_lead_by_contact(db, &actor, &c, Some(&touch)).await?
                    }
                    other => other?,
                }
            }
            other => other?,
        };
    if created && !answers.custom.is_empty() {
        let answers_json: Value = answers
            .custom
            .iter()
            .map(|(k, v)| json!({"question": k, "label": mapping.label(k), "answer": v}))
            .collect();
        timeline::write(
            db,
            &actor,
            view.id,
            timeline::kind::NOTE,
            json!({"text": answers.custom.iter().map(|(k, v)| format!("{}: {v}", mapping.label(k))).collect::<Vec<_>>().join("\n"),
                   "source": "lead_ads_form", "form_id": lead.form_id, "answers": answers_json}),
        )
        .await?;
    }
    Ok((view, created))
}

/// Applies a Click-to-WhatsApp referral (from the first inbound message) to
/// the contact's lead, creating the lead when it is new. The HSM inbound
/// handler calls this for every inbound message that carries a `referral`;
/// it is idempotent per `ctwa_clid`.
pub async fn apply_ctwa_referral(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    contact: &ContactInput,
    referral: &Referral,
    occurred_at: Option<DateTime<Utc>>,
) -> Result<(LeadView, bool), CoreError> {
    let is_ad = referral.source_type.as_deref().is_none_or(|t| t == "ad");
    let ad_id = if is_ad {
        referral.source_id.clone()
    } else {
        None
    };
    let (mut adset, mut campaign) = (None, None);
    if let Some(ad) = &ad_id
        && let Some((s, c)) = resolve_ad(db, tenant_id, ad).await?
    {
        adset = s;
        campaign = c;
    }
    let meta = is_ad && (ad_id.is_some() || referral.ctwa_clid.is_some());
    let touch = TouchInput {
        lead_source: Some(if meta {
            LeadSource::MetaAds
        } else {
            LeadSource::Organic
        }),
        channel: Some(Channel::ClickToWhatsapp),
        meta_campaign_id: campaign,
        meta_adset_id: adset,
        meta_ad_id: ad_id,
        meta_ad_headline: referral.headline.clone(),
        meta_ad_body: referral.body.clone(),
        meta_source_url: referral.source_url.clone(),
        ctwa_clid: referral.ctwa_clid.clone(),
        occurred_at,
        ..Default::default()
    };
    leads::find_or_create_lead_by_contact(db, &Actor::system(tenant_id), contact, Some(&touch))
        .await
}

fn handler_err(e: CoreError) -> HandlerError {
    HandlerError::from(e)
}

async fn handle_leadgen(cx: HandlerCx, ev: InboxEvent) -> Result<(), HandlerError> {
    let change: LeadgenChange = serde_json::from_value(ev.value.clone())
        .map_err(|e| HandlerError::Fail(format!("not a leadgen change: {e}")))?;
    // The Page in the change must be the Page the event was routed by.
    if change.page_id != ev.entry_id {
        return Err(HandlerError::Fail(format!(
            "leadgen page {} does not match entry {}",
            change.page_id, ev.entry_id
        )));
    }
    let graph = cx
        .env
        .graph()
        .map_err(|e| HandlerError::Fail(e.to_string()))?;
    let token =
        meta_connection::page_token_for(&cx.db, &cx.env.keyring, ev.tenant_id, &change.page_id)
            .await
            .map_err(handler_err)?;
    let lead = match graph.session(token).lead(&change.leadgen_id).await {
        Ok(l) => l,
        Err(e) if e.is_retryable() => {
            return Err(HandlerError::Retry(
                format!("fetching lead {}: {e}", change.leadgen_id),
                e.retry_after().map(|d| d.as_secs()),
            ));
        }
        Err(e) => {
            let _ = meta_connection::mark_invalid(&cx.db, ev.tenant_id, &e).await;
            return Err(HandlerError::Fail(format!(
                "Meta refused reading lead {}: {}",
                change.leadgen_id,
                e.meta()
                    .map(|m| m.message.clone())
                    .unwrap_or_else(|| e.to_string())
            )));
        }
    };
    apply_lead_ads_lead(&cx.db, ev.tenant_id, &lead)
        .await
        .map_err(handler_err)?;
    Ok(())
}

async fn handle_messages_referrals(cx: HandlerCx, ev: InboxEvent) -> Result<(), HandlerError> {
    let v: meta_graph::webhook::WhatsAppValue = serde_json::from_value(ev.value.clone())
        .map_err(|e| HandlerError::Fail(format!("not a messages change: {e}")))?;
    for m in &v.messages {
        let Some(referral) = &m.referral else {
            continue;
        };
        let contact_row = v.contacts.iter().find(|c| {
            c.wa_id.is_some() && c.wa_id == m.from
                || c.user_id.is_some() && c.user_id == m.from_user_id
        });
        let contact = ContactInput {
            name: contact_row
                .and_then(|c| c.profile.as_ref())
                .and_then(|p| p.name.clone()),
            wa_id: m.from.clone(),
            bsuid: m
                .from_user_id
                .clone()
                .or_else(|| contact_row.and_then(|c| c.user_id.clone())),
            ..Default::default()
        };
        let at = m
            .timestamp_secs()
            .and_then(|t| DateTime::from_timestamp(t, 0));
        let (lead, _) = apply_ctwa_referral(&cx.db, ev.tenant_id, &contact, referral, at)
            .await
            .map_err(handler_err)?;
        if let Some(at) = at {
            leads::mark_inbound(&cx.db, ev.tenant_id, lead.id, at)
                .await
                .map_err(handler_err)?;
        }
    }
    Ok(())
}

/// The `leadgen` handler (Marketing Hub).
pub fn leadgen_handler() -> FieldHandler {
    Arc::new(|cx, ev| Box::pin(handle_leadgen(cx, ev)))
}

/// A `messages` handler that only applies Click-to-WhatsApp referrals. The
/// HSM inbound handler replaces it and must call [`apply_ctwa_referral`]
/// itself for messages with a referral.
pub fn ctwa_referral_handler() -> FieldHandler {
    Arc::new(|cx, ev| Box::pin(handle_messages_referrals(cx, ev)))
}

/// Registers the Marketing Hub's webhook handlers.
pub fn register_webhooks(reg: &mut WebhookRegistry) {
    reg.register("leadgen", leadgen_handler());
    reg.register("messages", ctwa_referral_handler());
}

/// Reconcile: polls every form of the tenant's selected Pages for leads
/// created since the last seen time, so missed webhooks are backfilled.
/// Progress per form is kept in `meta_sync_state` under `form:<id>`.
pub async fn reconcile_forms(
    db: &DatabaseConnection,
    env: &MetaEnv,
    tenant_id: Uuid,
) -> Result<usize, HandlerError> {
    if meta_connection::meta_paused(db, tenant_id).await? {
        return Ok(0);
    }
    let graph = env.graph().map_err(|e| HandlerError::Fail(e.to_string()))?;
    let pages = meta_asset::Entity::find()
        .filter(meta_asset::Column::TenantId.eq(tenant_id))
        .filter(meta_asset::Column::Kind.eq(meta_connection::ASSET_PAGE))
        .all(db)
        .await?;
    let mut applied = 0;
    for p in pages {
        let token = meta_connection::page_token_for(db, &env.keyring, tenant_id, &p.external_id)
            .await
            .map_err(handler_err)?;
        let s = graph.session(token);
        let forms = s
            .leadgen_forms(&p.external_id)
            .await
            .map_err(graph_handler_err)?;
        for f in forms {
            let key = format!("form:{}", f.id);
            let st = meta_sync_state::Entity::find()
                .filter(meta_sync_state::Column::TenantId.eq(tenant_id))
                .filter(meta_sync_state::Column::AdAccountId.eq(key.as_str()))
                .one(db)
                .await?;
            let since = st
                .as_ref()
                .and_then(|s| s.last_success_at)
                .map(|t| t.timestamp() - 60);
            let started = Utc::now();
            let leads = s
                .form_leads(&f.id, since)
                .await
                .map_err(graph_handler_err)?;
            for l in &leads {
                let (_, created) = apply_lead_ads_lead(db, tenant_id, l)
                    .await
                    .map_err(handler_err)?;
                applied += usize::from(created);
            }
            // An upsert: the worker's reconcile job and a reconcile run from
            // elsewhere (a second worker, an operator) may both be first.
            meta_sync_state::Entity::insert(meta_sync_state::ActiveModel {
                id: Set(crm_db::new_id()),
                tenant_id: Set(tenant_id),
                ad_account_id: Set(key),
                account_name: Set(f.name.clone()),
                currency: Set(None),
                timezone: Set(None),
                status: Set("ok".into()),
                last_started_at: Set(Some(started)),
                last_success_at: Set(Some(started)),
                last_error: Set(None),
                last_error_code: Set(None),
                last_error_at: Set(None),
                next_run_at: Set(None),
                backfill_done: Set(true),
                backfill_next_until: Set(None),
                progress_pct: Set(100),
                updated_at: Set(Utc::now()),
            })
            .on_conflict(
                OnConflict::columns([
                    meta_sync_state::Column::TenantId,
                    meta_sync_state::Column::AdAccountId,
                ])
                .update_columns([
                    meta_sync_state::Column::LastSuccessAt,
                    meta_sync_state::Column::Status,
                    meta_sync_state::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(applied)
}

/// Schedules the next reconcile of a tenant's forms (hourly), once per hour.
pub async fn schedule_reconcile(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let mut job = crm_db::jobs::NewJob::now(RECONCILE_JOB, json!({"reason": "scheduled"}));
    job.tenant_id = Some(tenant_id);
    job.run_at = at;
    job.dedupe_key = Some(format!(
        "{RECONCILE_JOB}:{tenant_id}:{}",
        at.format("%Y%m%d%H")
    ));
    crm_db::jobs::enqueue(conn, job).await?;
    Ok(())
}

fn graph_handler_err(e: meta_graph::GraphError) -> HandlerError {
    if e.is_retryable() {
        HandlerError::Retry(e.to_string(), e.retry_after().map(|d| d.as_secs()))
    } else {
        HandlerError::Fail(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use meta_graph::FieldData;

    fn fd(n: &str, v: &str) -> FieldData {
        FieldData {
            name: n.into(),
            values: vec![v.into()],
        }
    }

    #[test]
    fn answers_map_to_contact_fields_and_custom_questions() {
        let lead = MetaLead {
            id: "1".into(),
            field_data: vec![
                fd("full_name", "Ana Pérez"),
                fd("email", "ana@x.test"),
                fd("phone_number", "+5491122223333"),
                fd("¿Cuándo querés comprar?", "este mes"),
            ],
            ..Default::default()
        };
        let m = map_answers(&lead);
        assert_eq!(m.name.as_deref(), Some("Ana Pérez"));
        assert_eq!(m.email.as_deref(), Some("ana@x.test"));
        assert_eq!(m.phone.as_deref(), Some("+5491122223333"));
        assert_eq!(
            m.custom,
            vec![("¿Cuándo querés comprar?".to_owned(), "este mes".to_owned())]
        );
    }

    #[test]
    fn first_and_last_name_are_joined() {
        let lead = MetaLead {
            id: "1".into(),
            field_data: vec![fd("first_name", "Ana"), fd("last_name", "Pérez")],
            ..Default::default()
        };
        assert_eq!(map_answers(&lead).name.as_deref(), Some("Ana Pérez"));
    }

    #[test]
    fn meta_times_parse() {
        assert_eq!(
            parse_meta_time("2026-01-05T10:00:00+0000")
                .unwrap()
                .to_rfc3339(),
            "2026-01-05T10:00:00+00:00"
        );
        assert!(parse_meta_time("yesterday").is_none());
    }
}
