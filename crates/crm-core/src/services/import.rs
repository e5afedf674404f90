//! CSV import of leads: streamed record by record, mapped by header, validated
//! row by row, and inserted in batches (one transaction per batch, with the
//! same first touch, timeline entry and `lead_created` event as the API).
//! Rows whose phone, email, wa_id or bsuid already exist in the tenant (or
//! earlier in the same file) are counted as duplicates and not inserted, so
//! importing the same file twice creates nothing the second time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use chrono::{DateTime, Utc};
use crm_db::audit;
use crm_db::entity::{lead, lead_activity, lead_tag, lead_touch, outbox as outbox_entity, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::leads::{
    self, Channel, Contact, LeadSource, LeadStatus, LeadView, TouchInput, normalize_contact,
};
use super::timeline::kind;
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

/// Lead fields a CSV column can map to.
pub const FIELDS: &[&str] = &[
    "name",
    "first_name",
    "last_name",
    "phone",
    "email",
    "wa_id",
    "bsuid",
    "status",
    "tags",
    "owner_email",
    "lead_source",
    "channel",
    "meta_campaign_id",
    "meta_adset_id",
    "meta_ad_id",
    "meta_ad_headline",
    "meta_ad_body",
    "meta_source_url",
    "meta_lead_id",
    "meta_form_id",
    "ctwa_clid",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "fbclid",
    "timezone",
    "opt_in",
    "opt_in_method",
    "created_at",
];

/// Common header spellings (es/en) and the field they mean.
const ALIASES: &[(&str, &str)] = &[
    ("nombre", "name"),
    ("full_name", "name"),
    ("nombre_completo", "name"),
    ("apellido", "last_name"),
    ("telefono", "phone"),
    ("teléfono", "phone"),
    ("celular", "phone"),
    ("movil", "phone"),
    ("móvil", "phone"),
    ("mobile", "phone"),
    ("phone_number", "phone"),
    ("whatsapp", "phone"),
    ("correo", "email"),
    ("e-mail", "email"),
    ("mail", "email"),
    ("estado", "status"),
    ("etiquetas", "tags"),
    ("tag", "tags"),
    ("source", "lead_source"),
    ("origen", "lead_source"),
    ("campaign_id", "meta_campaign_id"),
    ("adset_id", "meta_adset_id"),
    ("ad_id", "meta_ad_id"),
    ("leadgen_id", "meta_lead_id"),
    ("form_id", "meta_form_id"),
    ("owner", "owner_email"),
    ("consent", "opt_in"),
];

/// Column mapping: CSV header → lead field (`-` or empty ignores a column).
/// Headers not named are matched by their normalized name or a known alias.
pub type Mapping = HashMap<String, String>;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub code: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// Data rows read (header excluded).
    pub rows: u64,
    pub created: u64,
    /// Rows matching an existing lead (or an earlier row) by phone, email,
    /// wa_id or bsuid; not imported.
    pub duplicates: u64,
    pub invalid: u64,
    /// Header → field actually used.
    pub mapping: BTreeMap<String, String>,
    /// Headers that were ignored.
    pub ignored_columns: Vec<String>,
    /// Invalid rows with line numbers and reasons (first 1000).
    pub errors: Vec<ImportError>,
    /// Line numbers of duplicate rows (first 1000).
    pub duplicate_lines: Vec<u64>,
    /// Whether more errors or duplicates happened than are listed.
    pub truncated: bool,
}

const MAX_LISTED: usize = 1000;
const BATCH: usize = 400;

fn norm_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace([' ', '-'], "_")
}

/// Field of each column (None: ignored), header → field used, ignored headers.
pub type Resolved = (
    Vec<Option<&'static str>>,
    BTreeMap<String, String>,
    Vec<String>,
);

/// A row error: (field, code, reason).
type RowError = (Option<String>, String, String);

/// Resolves the header row into field positions, or a clear error.
pub fn resolve_mapping(
    headers: &csv::StringRecord,
    mapping: &Mapping,
) -> Result<Resolved, CoreError> {
    let explicit: HashMap<String, &String> =
        mapping.iter().map(|(k, v)| (norm_header(k), v)).collect();
    for (k, v) in mapping {
        let v = v.trim();
        if !v.is_empty() && v != "-" && !FIELDS.contains(&v) {
            return Err(CoreError::Validation {
                code: "invalid_mapping",
                message: format!("column '{k}' maps to unknown field '{v}'"),
                details: Some(json!({"fields": FIELDS})),
            });
        }
        if !headers.iter().any(|h| norm_header(h) == norm_header(k)) {
            return Err(CoreError::validation(
                "invalid_mapping",
                format!("the mapping names column '{k}', which the file does not have"),
            ));
        }
    }
    let mut cols = vec![];
    let mut used = BTreeMap::new();
    let mut ignored = vec![];
    let mut taken: HashSet<&'static str> = HashSet::new();
    for h in headers {
        let n = norm_header(h);
        let field: Option<&'static str> = match explicit.get(&n) {
            Some(v) => FIELDS.iter().copied().find(|f| *f == v.trim()),
            None => FIELDS
                .iter()
                .copied()
                .find(|f| *f == n)
                .or_else(|| ALIASES.iter().find(|(a, _)| *a == n).map(|(_, f)| *f)),
        };
        let field = field.filter(|f| taken.insert(f));
        match field {
            Some(f) => {
                used.insert(h.to_owned(), f.to_owned());
            }
            None => ignored.push(h.to_owned()),
        }
        cols.push(field);
    }
    let has_identity = taken
        .iter()
        .any(|f| ["name", "first_name", "phone", "email", "wa_id", "bsuid"].contains(f));
    if !has_identity {
        return Err(CoreError::Validation {
            code: "no_identity_column",
            message: "no column maps to name, phone, email, wa_id or bsuid".into(),
            details: Some(json!({"headers": headers.iter().collect::<Vec<_>>(), "fields": FIELDS})),
        });
    }
    Ok((cols, used, ignored))
}

struct Row {
    line: u64,
    prepared: leads::Prepared,
    keys: Vec<String>,
}

fn keys_of(c: &Contact) -> Vec<String> {
    let mut k = vec![];
    if let Some(v) = &c.phone {
        k.push(format!("p:{v}"));
    }
    if let Some(v) = &c.email {
        k.push(format!("e:{v}"));
    }
    if let Some(v) = &c.wa_id {
        k.push(format!("w:{v}"));
    }
    if let Some(v) = &c.bsuid {
        k.push(format!("b:{v}"));
    }
    k
}

fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_lowercase().as_str() {
        "1" | "true" | "yes" | "si" | "sí" | "y" | "opt_in" | "opted_in" => Some(true),
        "0" | "false" | "no" | "n" | "opt_out" | "opted_out" | "" => Some(false),
        _ => None,
    }
}

/// Validates one record into a prepared lead.
fn parse_row(
    tenant: &crm_db::entity::tenant::Model,
    cols: &[Option<&'static str>],
    rec: &csv::StringRecord,
    owners: &HashMap<String, Uuid>,
    ctx: &TenantCtx,
) -> Result<(leads::Prepared, Vec<String>), RowError> {
    let mut f: HashMap<&str, &str> = HashMap::new();
    for (i, v) in rec.iter().enumerate() {
        if let Some(Some(field)) = cols.get(i) {
            let v = v.trim();
            if !v.is_empty() {
                f.insert(field, v);
            }
        }
    }
    let err = |field: &str, e: CoreError| match e {
        CoreError::Validation { code, message, .. } => {
            (Some(field.to_owned()), code.to_owned(), message)
        }
        other => (
            Some(field.to_owned()),
            "invalid".to_owned(),
            other.to_string(),
        ),
    };
    let name = match (f.get("name"), f.get("first_name"), f.get("last_name")) {
        (Some(n), _, _) => Some((*n).to_owned()),
        (None, Some(a), Some(b)) => Some(format!("{a} {b}")),
        (None, Some(a), None) | (None, None, Some(a)) => Some((*a).to_owned()),
        _ => None,
    };
    let phone = f.get("phone").copied();
    let c_phone = phone
        .map(|p| super::phone::normalize(p, &tenant.country))
        .transpose()
        .map_err(|e| err("phone", e))?;
    let c_email = f
        .get("email")
        .map(|e| crate::validate::email(e))
        .transpose()
        .map_err(|e| err("email", e))?;
    let rest = normalize_contact(
        &tenant.country,
        None,
        None,
        f.get("wa_id").copied(),
        f.get("bsuid").copied(),
    )
    .map_err(|e| {
        let field = match &e {
            CoreError::Validation { code, .. } if *code == "invalid_bsuid" => "bsuid",
            _ => "wa_id",
        };
        err(field, e)
    })?;
    let contact = Contact {
        phone: c_phone.or(rest.phone),
        email: c_email,
        wa_id: rest.wa_id,
        bsuid: rest.bsuid,
    };
    let status = match f.get("status") {
        Some(s) => LeadStatus::parse(s).ok_or_else(|| {
            (
                Some("status".to_owned()),
                "invalid_status".to_owned(),
                format!("'{s}' is not a lead status (new, contacted, qualified, unqualified, customer, lost)"),
            )
        })?,
        None => LeadStatus::New,
    };
    let tags: Vec<String> = f
        .get("tags")
        .map(|t| t.split([';', '|', ',']).map(str::to_owned).collect())
        .unwrap_or_default();
    let owner = match f.get("owner_email") {
        Some(e) => Some(*owners.get(&e.to_lowercase()).ok_or_else(|| {
            (
                Some("owner_email".to_owned()),
                "invalid_owner".to_owned(),
                format!("no active user with email {e}"),
            )
        })?),
        None => None,
    };
    let owner = match (owner, ctx.role.own_records_only()) {
        (_, true) => ctx.user_id,
        (o, false) => o,
    };
    let lead_source = match f.get("lead_source") {
        Some(s) => Some(LeadSource::parse(s).ok_or_else(|| {
            (
                Some("lead_source".to_owned()),
                "invalid_source".to_owned(),
                format!("'{s}' is not a lead_source (META_ADS, ORGANIC, WEBSITE, REFERRAL, IMPORT, OTHER)"),
            )
        })?),
        None => None,
    };
    let channel = match f.get("channel") {
        Some(s) => Some(Channel::parse(s).ok_or_else(|| {
            (
                Some("channel".to_owned()),
                "invalid_channel".to_owned(),
                format!("'{s}' is not a channel"),
            )
        })?),
        None => None,
    };
    let g = |k: &str| f.get(k).map(|v| (*v).to_owned());
    let occurred_at = match f.get("created_at") {
        Some(v) => Some(v.parse::<DateTime<Utc>>().map_err(|_| {
            (
                Some("created_at".to_owned()),
                "invalid_date".to_owned(),
                format!("'{v}' is not an RFC 3339 date-time"),
            )
        })?),
        None => None,
    };
    let touch = TouchInput {
        lead_source,
        channel,
        meta_campaign_id: g("meta_campaign_id"),
        meta_adset_id: g("meta_adset_id"),
        meta_ad_id: g("meta_ad_id"),
        meta_ad_headline: g("meta_ad_headline"),
        meta_ad_body: g("meta_ad_body"),
        meta_source_url: g("meta_source_url"),
        meta_lead_id: g("meta_lead_id"),
        meta_form_id: g("meta_form_id"),
        ctwa_clid: g("ctwa_clid"),
        utm_source: g("utm_source"),
        utm_medium: g("utm_medium"),
        utm_campaign: g("utm_campaign"),
        utm_content: g("utm_content"),
        utm_term: g("utm_term"),
        fbclid: g("fbclid"),
        occurred_at,
    };
    let opt_in = match f.get("opt_in") {
        Some(v) => match truthy(v) {
            Some(true) => Some((
                occurred_at.unwrap_or_else(Utc::now),
                f.get("opt_in_method").map_or("import", |v| v).to_owned(),
            )),
            Some(false) => None,
            None => {
                return Err((
                    Some("opt_in".to_owned()),
                    "invalid_opt_in".to_owned(),
                    format!("'{v}' is not yes/no"),
                ));
            }
        },
        None => None,
    };
    let mut keys = keys_of(&contact);
    if keys.is_empty()
        && let Some(n) = &name
    {
        // A contact without ids is recognised by its exact name among leads
        // that also have no ids, so a re-import does not duplicate it.
        keys.push(format!("n:{}", n.trim().to_lowercase()));
    }
    let p = leads::prepare(
        tenant,
        name.as_deref(),
        contact,
        status,
        owner,
        tags,
        f.get("timezone").copied(),
        None,
        &touch,
        (LeadSource::Import, Channel::Import),
        opt_in,
    )
    .map_err(|e| {
        let field = match &e {
            CoreError::Validation { code, .. } if code.contains("tag") => "tags",
            CoreError::Validation { code, .. } if code.contains("timezone") => "timezone",
            CoreError::Validation { code, .. } if *code == "lead_needs_identity" => "name",
            _ => "name",
        };
        err(field, e)
    })?;
    Ok((p, keys))
}

/// What the parser thread hands to the writer: up to [`BATCH`] valid rows,
/// the invalid rows met on the way (in line order), and rows read so far.
struct Parsed {
    rows: Vec<Row>,
    invalid: Vec<(u64, Option<String>, String, String)>,
    rows_read: u64,
    /// A read error that ended the file.
    fatal: bool,
}

/// Imports leads from CSV. `progress` is called after each batch with the
/// number of rows read so far.
///
/// Parsing and validation (CSV, phone numbers, mapping) run on a blocking
/// thread one batch ahead of the database writes, so the two overlap; the
/// writer takes batches in file order, so the report is the same as a
/// sequential import's.
pub async fn import_csv<R: Read + Send + 'static>(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    reader: R,
    mapping: &Mapping,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, CoreError> {
    ctx.require(Permission::LeadsImport)?;
    let tenant = leads::tenant_of(db, ctx.tenant_id).await?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|e| {
            CoreError::validation("invalid_csv", format!("cannot read the header row: {e}"))
        })?
        .clone();
    let (cols, used, ignored) = resolve_mapping(&headers, mapping)?;
    let owners: HashMap<String, Uuid> = user::Entity::find()
        .filter(user::Column::TenantId.eq(ctx.tenant_id))
        .filter(user::Column::Status.eq("active"))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.email, u.id))
        .collect();
    let mut report = ImportReport {
        mapping: used,
        ignored_columns: ignored,
        ..Default::default()
    };
    // One batch parsed ahead of the one being written.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Parsed>(1);
    let pctx = ctx.clone();
    let parser = tokio::task::spawn_blocking(move || {
        let mut rec = csv::StringRecord::new();
        let mut rows_read = 0u64;
        let mut cur = Parsed {
            rows: Vec::with_capacity(BATCH),
            invalid: vec![],
            rows_read: 0,
            fatal: false,
        };
        loop {
            let more = match rdr.read_record(&mut rec) {
                Ok(more) => more,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    rows_read += 1;
                    cur.invalid
                        .push((line, None, "invalid_csv".into(), e.to_string()));
                    if e.is_io_error() {
                        cur.fatal = true;
                        break;
                    }
                    continue;
                }
            };
            if !more {
                break;
            }
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            if rec.iter().all(|v| v.trim().is_empty()) {
                continue;
            }
            rows_read += 1;
            match parse_row(&tenant, &cols, &rec, &owners, &pctx) {
                Ok((prepared, keys)) => cur.rows.push(Row {
                    line,
                    prepared,
                    keys,
                }),
                Err((field, code, reason)) => cur.invalid.push((line, field, code, reason)),
            }
            if cur.rows.len() >= BATCH {
                cur.rows_read = rows_read;
                let next = Parsed {
                    rows: Vec::with_capacity(BATCH),
                    invalid: vec![],
                    rows_read: 0,
                    fatal: false,
                };
                if tx.blocking_send(std::mem::replace(&mut cur, next)).is_err() {
                    // The writer stopped (a database error): nothing to do.
                    return;
                }
            }
        }
        cur.rows_read = rows_read;
        let _ = tx.blocking_send(cur);
    });
    let mut seen: HashSet<String> = HashSet::new();
    let mut next_analyze = 0u64;
    while let Some(mut p) = rx.recv().await {
        report.rows = p.rows_read;
        for (line, field, code, reason) in p.invalid.drain(..) {
            report.invalid += 1;
            push_err(&mut report, line, field, &code, reason);
        }
        flush(db, ctx, &mut p.rows, &mut seen, &mut report).await?;
        progress(report.rows);
        // A large import changes the table's shape under PostgreSQL's
        // planner: with statistics from a much smaller table (autovacuum may
        // be off or behind) it answers the duplicate lookups through the
        // tenant prefix index and compares every lead of the tenant with
        // every key of the batch (seen: 100 ms per lookup at 8,000 leads).
        // Refresh them each time the import has doubled what it created.
        if crm_db::is_postgres(db) && report.created > 0 && report.created >= next_analyze {
            db.execute_unprepared("ANALYZE leads").await?;
            next_analyze = report.created * 2;
        }
        if p.fatal {
            break;
        }
    }
    parser
        .await
        .map_err(|e| CoreError::Internal(format!("import parser: {e}")))?;
    Ok(report)
}

fn push_err(r: &mut ImportReport, line: u64, field: Option<String>, code: &str, reason: String) {
    if r.errors.len() < MAX_LISTED {
        r.errors.push(ImportError {
            line,
            field,
            code: code.to_owned(),
            reason,
        });
    } else {
        r.truncated = true;
    }
}

async fn flush(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    batch: &mut Vec<Row>,
    seen: &mut HashSet<String>,
    report: &mut ImportReport,
) -> Result<(), CoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows = std::mem::take(batch);
    // Which keys of this batch already exist in the tenant.
    let mut phones = vec![];
    let mut emails = vec![];
    let mut was = vec![];
    let mut bsuids = vec![];
    for r in &rows {
        let m = &r.prepared.model;
        phones.extend(m.phone.clone());
        emails.extend(m.email.clone());
        was.extend(m.wa_id.clone());
        bsuids.extend(m.bsuid.clone());
    }
    let names: Vec<String> = rows
        .iter()
        .filter(|r| r.keys.iter().any(|k| k.starts_with("n:")))
        .map(|r| r.prepared.model.name.clone())
        .collect();
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    if !names.is_empty() {
        let nameless: Vec<String> = lead::Entity::find()
            .select_only()
            .column(lead::Column::Name)
            .filter(lead::Column::TenantId.eq(ctx.tenant_id))
            .filter(lead::Column::Name.is_in(names))
            .filter(lead::Column::Phone.is_null())
            .filter(lead::Column::Email.is_null())
            .filter(lead::Column::WaId.is_null())
            .filter(lead::Column::Bsuid.is_null())
            .into_tuple()
            .all(&txn)
            .await?;
        seen.extend(
            nameless
                .into_iter()
                .map(|n| format!("n:{}", n.to_lowercase())),
        );
    }
    // One lookup per contact key, each on its own unique index (an OR over
    // the four columns makes SQLite walk every lead of the tenant).
    for (col, prefix, values) in [
        (lead::Column::Phone, "p", phones),
        (lead::Column::Email, "e", emails),
        (lead::Column::WaId, "w", was),
        (lead::Column::Bsuid, "b", bsuids),
    ] {
        if values.is_empty() {
            continue;
        }
        let existing: Vec<String> = lead::Entity::find()
            .select_only()
            .column(col)
            .filter(lead::Column::TenantId.eq(ctx.tenant_id))
            .filter(col.is_in(values))
            .into_tuple()
            .all(&txn)
            .await?;
        seen.extend(existing.into_iter().map(|v| format!("{prefix}:{v}")));
    }
    let actor = ctx.actor();
    let now = Utc::now();
    let mut lead_rows = vec![];
    let mut touch_rows = vec![];
    let mut tag_rows = vec![];
    let mut activity_rows = vec![];
    let mut event_rows = vec![];
    let mut new_ids: Vec<uuid::Uuid> = vec![];
    for r in rows {
        if r.keys.iter().any(|k| seen.contains(k)) {
            report.duplicates += 1;
            if report.duplicate_lines.len() < MAX_LISTED {
                report.duplicate_lines.push(r.line);
            } else {
                report.truncated = true;
            }
            continue;
        }
        seen.extend(r.keys.iter().cloned());
        let m = r.prepared.model;
        for t in &r.prepared.tags {
            tag_rows.push(lead_tag::ActiveModel {
                tenant_id: Set(m.tenant_id),
                tag: Set(t.clone()),
                lead_id: Set(m.id),
            });
        }
        let t: lead_touch::ActiveModel = r.prepared.touch.into();
        touch_rows.push(t);
        activity_rows.push(lead_activity::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(m.tenant_id),
            lead_id: Set(m.id),
            kind: Set(kind::CREATED.to_owned()),
            actor_user_id: Set(actor.user_id),
            actor_token_id: Set(actor.token_id),
            payload: Set(json!({"via": "import", "line": r.line, "lead_source": m.lead_source, "channel": m.channel})),
            at: Set(now),
        });
        event_rows.push(outbox_entity::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(m.tenant_id),
            event_type: Set("lead_created".to_owned()),
            aggregate_type: Set("lead".to_owned()),
            aggregate_id: Set(m.id.to_string()),
            payload: Set(json!({"lead": LeadView::from(m.clone()), "via": "import"})),
            created_at: Set(now),
            dispatched_at: Set(None),
        });
        new_ids.push(m.id);
        let am: lead::ActiveModel = m.into();
        lead_rows.push(am);
    }
    let created = lead_rows.len() as u64;
    if created > 0 {
        lead::Entity::insert_many(lead_rows).exec(&txn).await?;
        lead_touch::Entity::insert_many(touch_rows)
            .exec(&txn)
            .await?;
        if !tag_rows.is_empty() {
            lead_tag::Entity::insert_many(tag_rows).exec(&txn).await?;
        }
        lead_activity::Entity::insert_many(activity_rows)
            .exec(&txn)
            .await?;
        outbox_entity::Entity::insert_many(event_rows)
            .exec(&txn)
            .await?;
        crm_db::rollups::mark_leads(&txn, ctx.tenant_id, &new_ids).await?;
        audit::record(
            &txn,
            &actor,
            "lead.import",
            "lead",
            None,
            json!({"created": created}),
        )
        .await?;
    }
    txn.commit().await?;
    report.created += created;
    Ok(())
}
