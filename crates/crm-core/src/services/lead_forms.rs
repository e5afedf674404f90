//! Per-form field mapping for Meta Lead Ads (Marketing Hub).
//!
//! Each lead form of the tenant's selected Pages has questions (`key`,
//! `label`, `type`); a lead's `field_data` names its answers by question key.
//! The mapping says where each answer goes on the CRM lead: a contact field
//! (`full_name`, `first_name`, `last_name`, `email`, `phone`), the lead's
//! note (`note`, the timeline entry written when the lead is created), a tag
//! (`tag`: each answer value becomes a tag of the lead) or nowhere
//! (`ignore`).
//!
//! A form without a stored mapping uses the default: standard questions go
//! to their contact field (by Meta's question type, else by Meta's standard
//! keys) and everything else to the note. A stored mapping covers the
//! questions the form had when it was saved; a question added to the form
//! later uses its default until the mapping is saved again.
//!
//! The webhook and the reconcile backfill both apply the mapping through
//! [`mapping_for`] + [`FormMapping::apply`] (see `attribution`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use crm_db::entity::{lead_form_mapping, meta_asset};
use meta_graph::{FieldData, FormQuestion, LeadgenForm};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::meta_connection::{self, MetaEnv, MetaFail};
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

/// Where one question's answer goes on the CRM lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MappingTarget {
    /// The lead's name.
    FullName,
    /// Joined with `last_name` into the lead's name (when no `full_name`).
    FirstName,
    LastName,
    Email,
    Phone,
    /// A line of the lead's note ("question: answer").
    Note,
    /// Each answer value becomes a tag of the lead.
    Tag,
    /// Not stored.
    Ignore,
}

impl MappingTarget {
    pub const ALL: [MappingTarget; 8] = [
        MappingTarget::FullName,
        MappingTarget::FirstName,
        MappingTarget::LastName,
        MappingTarget::Email,
        MappingTarget::Phone,
        MappingTarget::Note,
        MappingTarget::Tag,
        MappingTarget::Ignore,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MappingTarget::FullName => "full_name",
            MappingTarget::FirstName => "first_name",
            MappingTarget::LastName => "last_name",
            MappingTarget::Email => "email",
            MappingTarget::Phone => "phone",
            MappingTarget::Note => "note",
            MappingTarget::Tag => "tag",
            MappingTarget::Ignore => "ignore",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A contact field holds one answer: two questions cannot share it.
    pub fn single_valued(self) -> bool {
        !matches!(
            self,
            MappingTarget::Note | MappingTarget::Tag | MappingTarget::Ignore
        )
    }
}

/// The default target of a question: by Meta's question type, else by
/// Meta's standard keys (what the CRM always did), else the note.
pub fn default_target(key: &str, kind: Option<&str>) -> MappingTarget {
    let by_kind = kind.and_then(|k| match k.to_ascii_uppercase().as_str() {
        "FULL_NAME" => Some(MappingTarget::FullName),
        "FIRST_NAME" => Some(MappingTarget::FirstName),
        "LAST_NAME" => Some(MappingTarget::LastName),
        "EMAIL" | "WORK_EMAIL" => Some(MappingTarget::Email),
        "PHONE" | "WORK_PHONE_NUMBER" => Some(MappingTarget::Phone),
        _ => None,
    });
    by_kind.unwrap_or_else(|| match key.to_ascii_lowercase().as_str() {
        "full_name" | "name" => MappingTarget::FullName,
        "first_name" => MappingTarget::FirstName,
        "last_name" => MappingTarget::LastName,
        "email" | "work_email" => MappingTarget::Email,
        "phone_number" | "phone" | "work_phone_number" => MappingTarget::Phone,
        _ => MappingTarget::Note,
    })
}

/// The default mapping of a form's questions. A contact field goes to the
/// first question that defaults to it; later ones go to the note.
pub fn default_mapping(questions: &[FormQuestion]) -> BTreeMap<String, MappingTarget> {
    let mut out = BTreeMap::new();
    let mut used = Vec::new();
    for q in questions {
        let mut t = default_target(&q.key, q.kind.as_deref());
        if t.single_valued() {
            if used.contains(&t) {
                t = MappingTarget::Note;
            } else {
                used.push(t);
            }
        }
        out.insert(q.key.clone(), t);
    }
    out
}

/// Form answers mapped to contact fields, tags and note lines.
#[derive(Debug, Default, PartialEq)]
pub struct MappedAnswers {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Normalised tags (lowercase, no commas, at most 64 characters).
    pub tags: Vec<String>,
    /// `(question key, answer)` for the note.
    pub custom: Vec<(String, String)>,
}

/// At most this many tags come from one form submission.
pub const MAX_FORM_TAGS: usize = 10;

fn tag_of(v: &str) -> Option<String> {
    let t: String = v
        .replace(',', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .chars()
        .take(64)
        .collect();
    let t = t.trim().to_owned();
    (!t.is_empty()).then_some(t)
}

/// The mapping used for one form: stored targets (or the default) plus the
/// question labels, for the note text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormMapping {
    pub targets: BTreeMap<String, MappingTarget>,
    pub labels: BTreeMap<String, String>,
}

impl FormMapping {
    /// The mapping for a form with these questions and this stored mapping.
    pub fn new(
        questions: &[FormQuestion],
        stored: Option<&BTreeMap<String, MappingTarget>>,
    ) -> Self {
        let mut targets = default_mapping(questions);
        if let Some(s) = stored {
            for (k, t) in s {
                targets.insert(k.clone(), *t);
            }
        }
        let labels = questions
            .iter()
            .filter_map(|q| q.label.clone().map(|l| (q.key.clone(), l)))
            .collect();
        Self { targets, labels }
    }

    /// The target of an answer (an unknown key gets its default).
    pub fn target(&self, key: &str) -> MappingTarget {
        self.targets
            .get(key)
            .copied()
            .unwrap_or_else(|| default_target(key, None))
    }

    /// The label of a question, else its key.
    pub fn label<'a>(&'a self, key: &'a str) -> &'a str {
        self.labels.get(key).map(String::as_str).unwrap_or(key)
    }

    /// Maps a lead's answers. Empty answers are skipped; the first answer
    /// wins for a contact field.
    pub fn apply(&self, field_data: &[FieldData]) -> MappedAnswers {
        let mut m = MappedAnswers::default();
        let (mut full, mut first, mut last) = (None, None, None);
        for f in field_data {
            let values: Vec<&str> = f
                .values
                .iter()
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .collect();
            if values.is_empty() {
                continue;
            }
            let v = values.join(", ");
            let slot = match self.target(&f.name) {
                MappingTarget::FullName => &mut full,
                MappingTarget::FirstName => &mut first,
                MappingTarget::LastName => &mut last,
                MappingTarget::Email => &mut m.email,
                MappingTarget::Phone => &mut m.phone,
                MappingTarget::Note => {
                    m.custom.push((f.name.clone(), v));
                    continue;
                }
                MappingTarget::Tag => {
                    for t in values.iter().filter_map(|v| tag_of(v)) {
                        if !m.tags.contains(&t) && m.tags.len() < MAX_FORM_TAGS {
                            m.tags.push(t);
                        }
                    }
                    continue;
                }
                MappingTarget::Ignore => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        m.name = full.or_else(|| {
            let joined = [first, last]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        });
        m
    }
}

fn stored_targets(m: &lead_form_mapping::Model) -> BTreeMap<String, MappingTarget> {
    let raw: BTreeMap<String, String> =
        serde_json::from_value(m.mapping.clone()).unwrap_or_default();
    raw.into_iter()
        .filter_map(|(k, t)| MappingTarget::parse(&t).map(|t| (k, t)))
        .collect()
}

fn stored_questions(m: &lead_form_mapping::Model) -> Vec<FormQuestion> {
    serde_json::from_value(m.questions.clone()).unwrap_or_default()
}

async fn stored(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    form_id: &str,
) -> Result<Option<lead_form_mapping::Model>, sea_orm::DbErr> {
    lead_form_mapping::Entity::find()
        .filter(lead_form_mapping::Column::TenantId.eq(tenant_id))
        .filter(lead_form_mapping::Column::FormId.eq(form_id))
        .one(conn)
        .await
}

/// The mapping to apply to a lead of `form_id`: the stored one, else the
/// default (by Meta's standard keys). Used by the webhook and the reconcile.
pub async fn mapping_for(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    form_id: Option<&str>,
) -> Result<FormMapping, sea_orm::DbErr> {
    let Some(form_id) = form_id else {
        return Ok(FormMapping::default());
    };
    Ok(match stored(conn, tenant_id, form_id).await? {
        Some(m) => FormMapping::new(&stored_questions(&m), Some(&stored_targets(&m))),
        None => FormMapping::default(),
    })
}

// ---------------------------------------------------------------------------
// API views

/// A lead form of one of the tenant's Lead Ads pages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadFormSummary {
    pub form_id: String,
    pub page_id: String,
    pub page_name: Option<String>,
    pub name: Option<String>,
    /// ACTIVE, ARCHIVED, …
    pub status: Option<String>,
    pub leads_count: Option<i64>,
    pub question_count: usize,
    /// Whether a mapping is saved (otherwise the default applies).
    pub customized: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadFormList {
    pub items: Vec<LeadFormSummary>,
}

/// A question with where its answer goes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadFormQuestion {
    pub key: String,
    pub label: Option<String>,
    /// Meta's question type (`FULL_NAME`, `EMAIL`, `PHONE`, `CUSTOM`, …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub target: MappingTarget,
    /// The target without a saved mapping.
    pub default_target: MappingTarget,
}

/// One form with its questions and current mapping.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadFormDetail {
    pub form_id: String,
    pub page_id: String,
    pub page_name: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub questions: Vec<LeadFormQuestion>,
    pub customized: bool,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<Uuid>,
    /// Every valid target, for the editor.
    pub targets: Vec<MappingTarget>,
}

/// `PUT …/lead-forms/{form_id}/mapping`: question key → target name. Keys
/// left out keep their default target.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct LeadFormMappingInput {
    /// e.g. `{"plan_de_interes": "tag", "phone_number": "ignore"}`; targets:
    /// full_name, first_name, last_name, email, phone, note, tag, ignore.
    pub mapping: BTreeMap<String, String>,
}

struct LiveForm {
    page: meta_asset::Model,
    form: LeadgenForm,
}

/// Every form of the tenant's selected Lead Ads pages (live, with the Page
/// tokens).
async fn live_forms(
    db: &DatabaseConnection,
    env: &MetaEnv,
    tenant_id: Uuid,
) -> Result<Vec<LiveForm>, MetaFail> {
    let pages = meta_asset::Entity::find()
        .filter(meta_asset::Column::TenantId.eq(tenant_id))
        .filter(meta_asset::Column::Kind.eq(meta_connection::ASSET_PAGE))
        .all(db)
        .await?;
    if pages.is_empty() {
        return Ok(vec![]);
    }
    let graph = env.graph()?;
    let mut out = Vec::new();
    for p in pages {
        let token =
            meta_connection::page_token_for(db, &env.keyring, tenant_id, &p.external_id).await?;
        let forms = meta_connection::guarded(
            db,
            tenant_id,
            graph.session(token).leadgen_forms(&p.external_id),
        )
        .await?;
        for form in forms {
            out.push(LiveForm {
                page: p.clone(),
                form,
            });
        }
    }
    Ok(out)
}

async fn live_form(
    db: &DatabaseConnection,
    env: &MetaEnv,
    tenant_id: Uuid,
    form_id: &str,
) -> Result<LiveForm, MetaFail> {
    live_forms(db, env, tenant_id)
        .await?
        .into_iter()
        .find(|f| f.form.id == form_id)
        .ok_or(MetaFail::Core(CoreError::NotFound("lead form")))
}

fn detail(live: &LiveForm, row: Option<&lead_form_mapping::Model>) -> LeadFormDetail {
    let defaults = default_mapping(&live.form.questions);
    let saved = row.map(stored_targets);
    let mapping = FormMapping::new(&live.form.questions, saved.as_ref());
    LeadFormDetail {
        form_id: live.form.id.clone(),
        page_id: live.page.external_id.clone(),
        page_name: live.page.name.clone(),
        name: live.form.name.clone(),
        status: live.form.status.clone(),
        questions: live
            .form
            .questions
            .iter()
            .map(|q| LeadFormQuestion {
                key: q.key.clone(),
                label: q.label.clone(),
                kind: q.kind.clone(),
                target: mapping.target(&q.key),
                default_target: defaults.get(&q.key).copied().unwrap_or(MappingTarget::Note),
            })
            .collect(),
        customized: row.is_some(),
        updated_at: row.map(|r| r.updated_at),
        updated_by: row.and_then(|r| r.updated_by),
        targets: MappingTarget::ALL.to_vec(),
    }
}

/// `GET /api/crm/marketing/lead-forms`: the forms of the selected Lead Ads
/// pages, with whether each has a saved mapping.
pub async fn list(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
) -> Result<LeadFormList, MetaFail> {
    ctx.require(Permission::MarketingRead)?;
    let forms = live_forms(db, env, ctx.tenant_id).await?;
    let rows = lead_form_mapping::Entity::find()
        .filter(lead_form_mapping::Column::TenantId.eq(ctx.tenant_id))
        .all(db)
        .await?;
    Ok(LeadFormList {
        items: forms
            .into_iter()
            .map(|f| {
                let row = rows.iter().find(|r| r.form_id == f.form.id);
                LeadFormSummary {
                    question_count: f.form.questions.len(),
                    customized: row.is_some(),
                    updated_at: row.map(|r| r.updated_at),
                    form_id: f.form.id,
                    page_id: f.page.external_id,
                    page_name: f.page.name,
                    name: f.form.name,
                    status: f.form.status,
                    leads_count: f.form.leads_count,
                }
            })
            .collect(),
    })
}

/// `GET /api/crm/marketing/lead-forms/{form_id}`.
pub async fn get(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    form_id: &str,
) -> Result<LeadFormDetail, MetaFail> {
    ctx.require(Permission::MarketingRead)?;
    let live = live_form(db, env, ctx.tenant_id, form_id).await?;
    let row = stored(db, ctx.tenant_id, form_id).await?;
    Ok(detail(&live, row.as_ref()))
}

/// Checks a mapping against the form's questions: every key is a question,
/// every target is valid, no contact field takes two questions. Returns the
/// complete mapping (left-out questions keep their default).
pub fn validate_mapping(
    form_name: &str,
    questions: &[FormQuestion],
    input: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, MappingTarget>, CoreError> {
    let keys: Vec<&str> = questions.iter().map(|q| q.key.as_str()).collect();
    let unknown: Vec<&str> = input
        .keys()
        .map(String::as_str)
        .filter(|k| !keys.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(CoreError::Validation {
            code: "unknown_question",
            message: format!(
                "{} not a question of the form \"{form_name}\" (its questions are: {})",
                unknown
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
                    + if unknown.len() == 1 { " is" } else { " are" },
                keys.join(", ")
            ),
            details: Some(json!({"unknown_keys": unknown, "questions": keys})),
        });
    }
    let mut out = default_mapping(questions);
    for (k, t) in input {
        let target = MappingTarget::parse(t.trim()).ok_or_else(|| CoreError::Validation {
            code: "invalid_target",
            message: format!(
                "\"{t}\" is not a target for question \"{k}\"; use one of: {}",
                MappingTarget::ALL.map(MappingTarget::as_str).join(", ")
            ),
            details: Some(json!({"key": k, "target": t})),
        })?;
        out.insert(k.clone(), target);
    }
    // In question order, so the message names them as the form shows them.
    let mut seen: Vec<(MappingTarget, &str)> = Vec::new();
    for q in questions {
        let Some(t) = out.get(&q.key).copied().filter(|t| t.single_valued()) else {
            continue;
        };
        if let Some((_, other)) = seen.iter().find(|(s, _)| *s == t) {
            return Err(CoreError::Validation {
                code: "duplicate_target",
                message: format!(
                    "questions \"{other}\" and \"{}\" both map to {}; a contact field takes one question (map the other to note, tag or ignore)",
                    q.key,
                    t.as_str()
                ),
                details: Some(json!({"target": t.as_str(), "keys": [other, q.key]})),
            });
        }
        seen.push((t, &q.key));
    }
    Ok(out)
}

/// `PUT /api/crm/marketing/lead-forms/{form_id}/mapping`: validates and
/// saves the mapping (with the form's questions as fetched now).
pub async fn save_mapping(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    form_id: &str,
    input: &LeadFormMappingInput,
) -> Result<LeadFormDetail, MetaFail> {
    ctx.require(Permission::MarketingManage)?;
    let live = live_form(db, env, ctx.tenant_id, form_id).await?;
    let name = live.form.name.clone().unwrap_or_else(|| form_id.to_owned());
    let mapping = validate_mapping(&name, &live.form.questions, &input.mapping)?;
    let mapping_json = json!(
        mapping
            .iter()
            .map(|(k, t)| (k.clone(), t.as_str()))
            .collect::<BTreeMap<_, _>>()
    );
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let now = Utc::now();
    let questions = json!(live.form.questions);
    let row = match stored(&txn, ctx.tenant_id, form_id).await? {
        Some(r) => {
            let mut am: lead_form_mapping::ActiveModel = r.into();
            am.page_id = Set(live.page.external_id.clone());
            am.form_name = Set(live.form.name.clone());
            am.questions = Set(questions);
            am.mapping = Set(mapping_json.clone());
            am.updated_at = Set(now);
            am.updated_by = Set(ctx.user_id);
            am.update(&txn).await?
        }
        None => {
            lead_form_mapping::ActiveModel {
                id: Set(crm_db::new_id()),
                tenant_id: Set(ctx.tenant_id),
                page_id: Set(live.page.external_id.clone()),
                form_id: Set(form_id.to_owned()),
                form_name: Set(live.form.name.clone()),
                questions: Set(questions),
                mapping: Set(mapping_json.clone()),
                updated_at: Set(now),
                updated_by: Set(ctx.user_id),
            }
            .insert(&txn)
            .await?
        }
    };
    crm_db::audit::record(
        &txn,
        &ctx.actor(),
        "lead_form.mapping_put",
        "lead_form",
        Some(form_id.to_owned()),
        json!({"form_name": live.form.name, "page_id": live.page.external_id, "mapping": mapping_json}),
    )
    .await?;
    crm_db::outbox::emit(
        &txn,
        ctx.tenant_id,
        "marketing_lead_form_mapping_changed",
        "lead_form",
        form_id,
        json!({"form_id": form_id, "page_id": live.page.external_id, "mapping": mapping_json}),
    )
    .await?;
    txn.commit().await?;
    Ok(detail(&live, Some(&row)))
}

/// `DELETE /api/crm/marketing/lead-forms/{form_id}/mapping`: back to the
/// default mapping. Resetting a form without a saved mapping changes nothing.
pub async fn reset_mapping(
    db: &DatabaseConnection,
    env: &MetaEnv,
    ctx: &TenantCtx,
    form_id: &str,
) -> Result<LeadFormDetail, MetaFail> {
    ctx.require(Permission::MarketingManage)?;
    let live = live_form(db, env, ctx.tenant_id, form_id).await?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    if let Some(row) = stored(&txn, ctx.tenant_id, form_id).await? {
        lead_form_mapping::Entity::delete_by_id(row.id)
            .exec(&txn)
            .await?;
        crm_db::audit::record(
            &txn,
            &ctx.actor(),
            "lead_form.mapping_reset",
            "lead_form",
            Some(form_id.to_owned()),
            json!({"form_name": live.form.name, "page_id": live.page.external_id, "previous": row.mapping}),
        )
        .await?;
        crm_db::outbox::emit(
            &txn,
            ctx.tenant_id,
            "marketing_lead_form_mapping_changed",
            "lead_form",
            form_id,
            json!({"form_id": form_id, "page_id": live.page.external_id, "mapping": null}),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(detail(&live, None))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn q(key: &str, label: &str, kind: &str) -> FormQuestion {
        FormQuestion {
            key: key.into(),
            label: Some(label.into()),
            kind: Some(kind.into()),
        }
    }

    fn fd(n: &str, v: &[&str]) -> FieldData {
        FieldData {
            name: n.into(),
            values: v.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn form() -> Vec<FormQuestion> {
        vec![
            q("full_name", "Full name", "FULL_NAME"),
            q("email", "Email", "EMAIL"),
            q("phone_number", "Phone number", "PHONE"),
            q("plan_de_interes", "¿Qué plan te interesa?", "CUSTOM"),
            q("whatsapp", "Tu WhatsApp", "CUSTOM"),
        ]
    }

    fn input(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn default_mapping_follows_types_then_standard_keys() {
        let m = default_mapping(&form());
        assert_eq!(m["full_name"], MappingTarget::FullName);
        assert_eq!(m["email"], MappingTarget::Email);
        assert_eq!(m["phone_number"], MappingTarget::Phone);
        assert_eq!(m["plan_de_interes"], MappingTarget::Note);
        // A custom key named like a standard one keeps today's behaviour.
        assert_eq!(
            default_target("work_email", Some("CUSTOM")),
            MappingTarget::Email
        );
        // A typed question with an unusual key goes by its type.
        assert_eq!(
            default_target("correo", Some("EMAIL")),
            MappingTarget::Email
        );
        // Two email questions: the second goes to the note.
        let m = default_mapping(&[q("email", "E", "EMAIL"), q("work_email", "W", "WORK_EMAIL")]);
        assert_eq!(m["work_email"], MappingTarget::Note);
    }

    #[test]
    fn a_saved_mapping_moves_answers_to_fields_tags_and_nowhere() {
        let questions = form();
        let saved = validate_mapping(
            "F",
            &questions,
            &input(&[
                ("plan_de_interes", "tag"),
                ("whatsapp", "phone"),
                ("phone_number", "ignore"),
            ]),
        )
        .unwrap();
        let m = FormMapping::new(&questions, Some(&saved));
        let a = m.apply(&[
            fd("full_name", &["Ana Pérez"]),
            fd("email", &["ana@x.test"]),
            fd("phone_number", &["+5491100000000"]),
            fd("plan_de_interes", &["Premium, anual", "Básico"]),
            fd("whatsapp", &["+5491122223333"]),
            fd("added_later", &["algo"]),
        ]);
        assert_eq!(a.name.as_deref(), Some("Ana Pérez"));
        assert_eq!(a.email.as_deref(), Some("ana@x.test"));
        assert_eq!(a.phone.as_deref(), Some("+5491122223333"));
        assert_eq!(
            a.tags,
            vec!["premium anual".to_owned(), "básico".to_owned()]
        );
        // A question added after the mapping was saved uses its default.
        assert_eq!(
            a.custom,
            vec![("added_later".to_owned(), "algo".to_owned())]
        );
        assert_eq!(m.label("plan_de_interes"), "¿Qué plan te interesa?");
        assert_eq!(m.label("added_later"), "added_later");
    }

    #[test]
    fn without_a_mapping_the_default_applies() {
        let a = FormMapping::default().apply(&[
            fd("first_name", &["Ana"]),
            fd("last_name", &["Pérez"]),
            fd("email", &[" "]),
            fd("ciudad", &["Rosario"]),
        ]);
        assert_eq!(a.name.as_deref(), Some("Ana Pérez"));
        assert_eq!(a.email, None);
        assert_eq!(a.custom, vec![("ciudad".to_owned(), "Rosario".to_owned())]);
    }

    #[test]
    fn unknown_questions_are_refused_with_the_form_questions() {
        let e = validate_mapping("Promo", &form(), &input(&[("ciudad", "note")])).unwrap_err();
        match e {
            CoreError::Validation { code, message, .. } => {
                assert_eq!(code, "unknown_question");
                assert!(
                    message.contains("\"ciudad\" is not a question of the form \"Promo\""),
                    "{message}"
                );
                assert!(message.contains("plan_de_interes"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_targets_are_refused_with_the_valid_ones() {
        let e = validate_mapping("F", &form(), &input(&[("plan_de_interes", "city")])).unwrap_err();
        match e {
            CoreError::Validation { code, message, .. } => {
                assert_eq!(code, "invalid_target");
                assert!(message.contains("\"city\" is not a target"), "{message}");
                assert!(message.contains("full_name, first_name"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_questions_cannot_share_a_contact_field() {
        // whatsapp → phone while phone_number keeps its default (phone).
        let e = validate_mapping("F", &form(), &input(&[("whatsapp", "phone")])).unwrap_err();
        match e {
            CoreError::Validation { code, message, .. } => {
                assert_eq!(code, "duplicate_target");
                assert!(
                    message.contains("\"phone_number\" and \"whatsapp\" both map to phone"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Many questions may go to the note or to tags.
        let ok = validate_mapping(
            "F",
            &form(),
            &input(&[
                ("full_name", "note"),
                ("email", "note"),
                ("plan_de_interes", "tag"),
                ("whatsapp", "tag"),
            ]),
        )
        .unwrap();
        assert_eq!(ok["full_name"], MappingTarget::Note);
    }

    #[test]
    fn tags_are_bounded_and_cleaned() {
        let m = FormMapping {
            targets: [("k".to_owned(), MappingTarget::Tag)].into(),
            labels: BTreeMap::new(),
        };
        let many: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let a = m.apply(&[fd("k", &refs)]);
        assert_eq!(a.tags.len(), MAX_FORM_TAGS);
        assert_eq!(tag_of(&"x".repeat(100)).unwrap().chars().count(), 64);
        assert_eq!(tag_of("  "), None);
    }
}
