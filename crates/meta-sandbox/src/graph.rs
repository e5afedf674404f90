//! Graph objects: node rendering with `fields=`, edges, paging and access checks.

use base64::Engine;
use chrono::TimeZone;
use serde_json::{Map, Value, json};

use crate::error::{GResult, GraphError};
use crate::fields::{self, FieldSel};
use crate::server::{App, Caller, GraphReq};
use crate::state::TokenKind;
use crate::util::{fmt_time, fmt_time_utc};
use crate::world::Obj;

/// Anything addressable by id.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    W(Obj),
    Lead(usize),
    Template(usize),
    Run(String),
}

pub fn param<'a>(params: &'a [(String, String)], k: &str) -> Option<&'a str> {
    crate::params::raw(params, k)
}

pub fn resolve(app: &App, id: &str) -> Option<Node> {
    if let Some(o) = app.world.lookup(id) {
        return Some(Node::W(o));
    }
    let st = app.lock();
    if let Some(i) = st.lead_index.get(id) {
        return Some(Node::Lead(*i));
    }
    if let Some(i) = st.template_index.get(id)
        && !st.templates[*i].deleted
    {
        return Some(Node::Template(*i));
    }
    if st.report_runs.contains_key(id) {
        return Some(Node::Run(id.to_string()));
    }
    None
}

fn node_type(n: &Node) -> &'static str {
    match n {
        Node::W(o) => match o {
            Obj::App => "Application",
            Obj::User(_) => "User",
            Obj::Business(_) => "Business",
            Obj::AdAccount(_) => "AdAccount",
            Obj::Campaign(_) => "Campaign",
            Obj::AdSet(_) => "AdSet",
            Obj::Ad(_) => "Ad",
            Obj::Creative(_) => "AdCreative",
            Obj::Page(_) => "Page",
            Obj::Form(_) => "LeadgenForm",
            Obj::Waba(_) => "WhatsAppBusinessAccount",
            Obj::Phone(_) => "WhatsAppBusinessPhoneNumber",
            Obj::Dataset(_) => "AdsPixel",
        },
        Node::Lead(_) => "Lead",
        Node::Template(_) => "WhatsAppMessageTemplate",
        Node::Run(_) => "AdReportRun",
    }
}

/// The ad account an object belongs to.
pub fn account_of(app: &App, o: Obj) -> Option<usize> {
    let w = &app.world;
    match o {
        Obj::AdAccount(a) => Some(a),
        Obj::Campaign(c) => Some(w.campaigns[c].account),
        Obj::AdSet(s) => Some(w.campaigns[w.adsets[s].campaign].account),
        Obj::Ad(a) | Obj::Creative(a) => Some(w.ads[a].account),
        _ => None,
    }
}

/// Whether the caller may see a node.
pub fn visible(app: &App, caller: &Caller, n: &Node) -> bool {
    let w = &app.world;
    let bizs = caller.businesses(w);
    let page_visible = |p: usize| match caller {
        Caller::App => false,
        Caller::Token(t) if t.kind == TokenKind::Page => t.page == Some(p),
        Caller::Token(_) => bizs.contains(&w.pages[p].business),
    };
    let user_biz = |b: usize| bizs.contains(&b);
    let accounts = || w.accounts_of(&bizs);
    match n {
        Node::W(Obj::App) => true,
        Node::W(Obj::User(u)) => caller.user() == Some(*u),
        Node::W(Obj::Business(b)) => user_biz(*b),
        Node::W(
            o @ (Obj::AdAccount(_)
            | Obj::Campaign(_)
            | Obj::AdSet(_)
            | Obj::Ad(_)
            | Obj::Creative(_)),
        ) => {
            let Some(a) = account_of(app, *o) else {
                return false;
            };
            accounts().contains(&a)
        }
        Node::W(Obj::Page(p)) => page_visible(*p),
        Node::W(Obj::Form(f)) => page_visible(w.forms[*f].page),
        Node::W(Obj::Waba(x)) => user_biz(w.wabas[*x].business),
        Node::W(Obj::Phone(p)) => user_biz(w.wabas[w.phones[*p].waba].business),
        Node::W(Obj::Dataset(d)) => user_biz(w.datasets[*d].business),
        Node::Lead(l) => {
            let form = app.lock().leads.get(*l).map(|l| l.form);
            form.is_some_and(|f| page_visible(w.forms[f].page))
        }
        Node::Template(t) => {
            let waba = app.lock().templates.get(*t).map(|t| t.waba);
            waba.is_some_and(|x| user_biz(w.wabas[x].business))
        }
        Node::Run(id) => {
            let acct = app.lock().report_runs.get(id).map(|r| r.account);
            acct.is_some_and(|a| accounts().contains(&a))
        }
    }
}

/// Where `paging.next` points.
#[derive(Debug, Clone)]
pub struct PageCtx {
    pub url: String,
    pub query: Vec<(String, String)>,
}

impl PageCtx {
    pub fn top(app: &App, req: &GraphReq) -> PageCtx {
        PageCtx {
            url: format!("{}/{}/{}", app.base_url, req.version, req.path()),
            query: req.query.clone(),
        }
    }
    fn nested(app: &App, req: &GraphReq, node_id: &str, edge: &str, sel: &FieldSel) -> PageCtx {
        let mut query = vec![];
        if req.token_in_query
            && let Some(t) = &req.token
        {
            query.push(("access_token".to_string(), t.clone()));
        }
        if let Some(c) = &sel.children {
            query.push(("fields".to_string(), fields::to_string(c)));
        }
        for (k, v) in &sel.modifiers {
            query.push((k.clone(), v.clone()));
        }
        PageCtx {
            url: format!("{}/{}/{}/{}", app.base_url, req.version, node_id, edge),
            query,
        }
    }
    fn link(&self, key: &str, cursor: &str) -> String {
        let mut q: Vec<(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| k != "after" && k != "before")
            .cloned()
            .collect();
        q.push((key.to_string(), cursor.to_string()));
        let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
        format!("{}?{}", self.url, qs)
    }
}

pub fn cursor(i: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("sbx:{i}"))
}

fn decode_cursor(c: &str) -> GResult<usize> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("sbx:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            GraphError::param(
                "The cursor is invalid. Cursors are opaque; use the values returned in paging",
            )
        })
}

/// Slices `items` per `limit`/`after`/`before` and builds the paging envelope.
pub fn paginate<T>(
    items: Vec<T>,
    params: &[(String, String)],
    ctx: &PageCtx,
    default_limit: usize,
) -> GResult<(Vec<T>, Value)> {
    let limit = match param(params, "limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| GraphError::param("limit must be a positive integer"))?,
        None => default_limit,
    }
    .clamp(1, 5000);
    let total = items.len();
    let (start, end) = if let Some(a) = param(params, "after") {
        let s = (decode_cursor(a)? + 1).min(total);
        (s, (s + limit).min(total))
    } else if let Some(b) = param(params, "before") {
        let e = decode_cursor(b)?.min(total);
        (e.saturating_sub(limit), e)
    } else {
        (0, limit.min(total))
    };
    let slice: Vec<T> = items.into_iter().skip(start).take(end - start).collect();
    let mut paging = Map::new();
    if end > start {
        paging.insert(
            "cursors".into(),
            json!({"before": cursor(start), "after": cursor(end - 1)}),
        );
        if end < total {
            paging.insert("next".into(), json!(ctx.link("after", &cursor(end - 1))));
        }
        if start > 0 {
            paging.insert("previous".into(), json!(ctx.link("before", &cursor(start))));
        }
    }
    Ok((slice, Value::Object(paging)))
}

/// `summary=true` (JSON-encoded boolean, as the SDKs send it), or a list naming `total_count`.
fn summary_requested(params: &[(String, String)]) -> bool {
    match crate::params::boolean(params, "summary") {
        Ok(b) => b.unwrap_or(false),
        Err(_) => crate::params::list(params, "summary")
            .ok()
            .flatten()
            .is_some_and(|l| l.iter().any(|s| s == "total_count")),
    }
}

fn envelope(data: Vec<Value>, paging: Value, total: Option<usize>) -> Value {
    let mut m = Map::new();
    m.insert("data".into(), Value::Array(data));
    if paging.as_object().is_some_and(|o| !o.is_empty()) {
        m.insert("paging".into(), paging);
    }
    if let Some(t) = total {
        m.insert("summary".into(), json!({"total_count": t}));
    }
    Value::Object(m)
}

fn default_fields(n: &Node) -> Vec<FieldSel> {
    let names: &[&str] = match n {
        Node::W(Obj::User(_))
        | Node::W(Obj::Business(_))
        | Node::W(Obj::Page(_))
        | Node::W(Obj::Dataset(_)) => &["id", "name"],
        Node::W(Obj::App) => &["id", "name", "link", "category"],
        Node::W(Obj::AdAccount(_)) => &["id", "account_id"],
        Node::W(Obj::Campaign(_))
        | Node::W(Obj::AdSet(_))
        | Node::W(Obj::Ad(_))
        | Node::W(Obj::Creative(_)) => &["id"],
        Node::W(Obj::Form(_)) => &["id", "name", "status", "locale"],
        Node::W(Obj::Waba(_)) => &[
            "id",
            "name",
            "currency",
            "timezone_id",
            "message_template_namespace",
        ],
        Node::W(Obj::Phone(_)) => &[
            "verified_name",
            "code_verification_status",
            "display_phone_number",
            "quality_rating",
            "id",
        ],
        Node::Lead(_) => &["created_time", "id", "field_data"],
        Node::Template(_) => &[
            "name",
            "parameter_format",
            "components",
            "language",
            "status",
            "category",
            "id",
        ],
        Node::Run(_) => &[
            "id",
            "account_id",
            "async_status",
            "async_percent_completion",
            "date_start",
            "date_stop",
            "time_ref",
            "time_completed",
            "is_running",
        ],
    };
    names.iter().map(|n| FieldSel::simple(n)).collect()
}

fn edges(n: &Node) -> &'static [&'static str] {
    match n {
        Node::W(Obj::User(_)) => &["businesses", "adaccounts", "accounts", "permissions"],
        Node::W(Obj::Business(_)) => &[
            "owned_ad_accounts",
            "client_ad_accounts",
            "owned_pages",
            "owned_whatsapp_business_accounts",
            "client_whatsapp_business_accounts",
            "adspixels",
        ],
        Node::W(Obj::AdAccount(_)) => &["campaigns", "adsets", "ads", "insights", "adcreatives"],
        Node::W(Obj::Campaign(_)) => &["adsets", "ads", "insights"],
        Node::W(Obj::AdSet(_)) => &["ads", "insights"],
        Node::W(Obj::Ad(_)) => &["insights", "leads", "adcreatives"],
        Node::W(Obj::Page(_)) => &["leadgen_forms", "subscribed_apps"],
        Node::W(Obj::Form(_)) => &["leads"],
        Node::W(Obj::Waba(_)) => &["phone_numbers", "message_templates", "subscribed_apps"],
        Node::W(Obj::App) => &["subscriptions"],
        Node::Run(_) => &["insights"],
        _ => &[],
    }
}

fn node_id(app: &App, n: &Node) -> String {
    let w = &app.world;
    match n {
        Node::W(o) => match *o {
            Obj::App => w.app_id.clone(),
            Obj::User(i) => w.users[i].id.clone(),
            Obj::Business(i) => w.businesses[i].id.clone(),
            Obj::AdAccount(i) => w.ad_accounts[i].act_id(),
            Obj::Campaign(i) => w.campaigns[i].id.clone(),
            Obj::AdSet(i) => w.adsets[i].id.clone(),
            Obj::Ad(i) => w.ads[i].id.clone(),
            Obj::Creative(i) => w.ads[i].creative.id.clone(),
            Obj::Page(i) => w.pages[i].id.clone(),
            Obj::Form(i) => w.forms[i].id.clone(),
            Obj::Waba(i) => w.wabas[i].id.clone(),
            Obj::Phone(i) => w.phones[i].id.clone(),
            Obj::Dataset(i) => w.datasets[i].id.clone(),
        },
        Node::Lead(i) => app
            .lock()
            .leads
            .get(*i)
            .map(|l| l.id.clone())
            .unwrap_or_default(),
        Node::Template(i) => app
            .lock()
            .templates
            .get(*i)
            .map(|t| t.id.clone())
            .unwrap_or_default(),
        Node::Run(id) => id.clone(),
    }
}

fn reference(app: &App, n: &Node, field: &str) -> Option<Node> {
    let w = &app.world;
    match (n, field) {
        (Node::W(Obj::Ad(a)), "creative") => Some(Node::W(Obj::Creative(*a))),
        (Node::W(Obj::Ad(a)), "campaign") => Some(Node::W(Obj::Campaign(w.ads[*a].campaign))),
        (Node::W(Obj::Ad(a)), "adset") => Some(Node::W(Obj::AdSet(w.ads[*a].adset))),
        (Node::W(Obj::AdSet(s)), "campaign") => Some(Node::W(Obj::Campaign(w.adsets[*s].campaign))),
        (Node::W(Obj::AdAccount(a)), "business") => {
            Some(Node::W(Obj::Business(w.ad_accounts[*a].owner)))
        }
        (Node::W(Obj::Form(f)), "page") => Some(Node::W(Obj::Page(w.forms[*f].page))),
        _ => None,
    }
}

fn local_time(tz: chrono_tz::Tz, date: chrono::NaiveDate, h: u32) -> String {
    let dt = date.and_hms_opt(h, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&dt).earliest() {
        Some(t) => fmt_time(&t),
        None => String::new(),
    }
}

fn utc_in(tz: chrono_tz::Tz, unix: i64) -> String {
    match tz.timestamp_opt(unix, 0).single() {
        Some(t) => fmt_time(&t),
        None => String::new(),
    }
}

/// All scalar fields of a node (Null = known field with no value, omitted from output).
fn scalars(app: &App, caller: &Caller, n: &Node) -> Map<String, Value> {
    let w = &app.world;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    match n {
        Node::W(Obj::App) => {
            put("id", json!(w.app_id));
            put("name", json!("CRM Ventas (Meta sandbox app)"));
            put("link", json!(format!("{}/apps/{}", app.base_url, w.app_id)));
            put("category", json!("Business"));
        }
        Node::W(Obj::User(u)) => {
            let u = &w.users[*u];
            let (first, last) = u.name.split_once(' ').unwrap_or((&u.name, ""));
            put("id", json!(u.id));
            put("name", json!(u.name));
            put("email", json!(u.email));
            put("first_name", json!(first));
            put("last_name", json!(last));
            put("short_name", json!(first));
            // Only Business Integration System User tokens carry a client business.
            put(
                "client_business_id",
                caller
                    .token()
                    .and_then(|t| t.business)
                    .map(|b| json!(w.businesses[b].id))
                    .unwrap_or(Value::Null),
            );
        }
        Node::W(Obj::Business(b)) => {
            let b = &w.businesses[*b];
            put("id", json!(b.id));
            put("name", json!(b.name));
            put("created_time", json!(fmt_time_utc(b.created_time)));
            put("verification_status", json!("verified"));
            put(
                "link",
                json!(format!(
                    "https://business.facebook.com/settings/info?business_id={}",
                    b.id
                )),
            );
        }
        Node::W(Obj::AdAccount(a)) => {
            let acct = &w.ad_accounts[*a];
            let owner_view = caller.businesses(w).contains(&acct.owner);
            put("id", json!(acct.act_id()));
            put("account_id", json!(acct.account_id));
            put("name", json!(acct.name));
            put("currency", json!(acct.currency));
            put("timezone_name", json!(acct.tz.name()));
            put("timezone_offset_hours_utc", json!(acct.tz_offset_hours()));
            put("account_status", json!(acct.account_status));
            put("disable_reason", json!(0));
            put(
                "amount_spent",
                json!(crate::insights::amount_spent(app, *a).to_string()),
            );
            put("spend_cap", json!("0"));
            put("balance", json!("0"));
            put("owner", json!(w.businesses[acct.owner].id));
            put("created_time", json!(utc_in(acct.tz, acct.created_time)));
            put(
                "permitted_tasks",
                if owner_view {
                    json!(["MANAGE", "ADVERTISE", "ANALYZE"])
                } else {
                    json!(["ADVERTISE", "ANALYZE"])
                },
            );
        }
        Node::W(Obj::Campaign(c)) => {
            let camp = &w.campaigns[*c];
            let acct = &w.ad_accounts[camp.account];
            put("id", json!(camp.id));
            put("account_id", json!(acct.account_id));
            put("name", json!(camp.name));
            put("status", json!(camp.status));
            put("configured_status", json!(camp.status));
            put("effective_status", json!(w.effective_status_campaign(*c)));
            put("objective", json!(camp.objective));
            put("buying_type", json!("AUCTION"));
            put("bid_strategy", json!("LOWEST_COST_WITHOUT_CAP"));
            put("special_ad_categories", json!([]));
            put(
                "daily_budget",
                camp.daily_budget
                    .map(|b| json!(b.to_string()))
                    .unwrap_or(Value::Null),
            );
            put(
                "lifetime_budget",
                camp.lifetime_budget
                    .map(|b| json!(b.to_string()))
                    .unwrap_or(Value::Null),
            );
            put(
                "budget_remaining",
                json!(
                    camp.daily_budget
                        .map(|b| (b / 3).to_string())
                        .unwrap_or_else(|| "0".into())
                ),
            );
            put(
                "start_time",
                json!(local_time(acct.tz, w.date_of(camp.start_day), 0)),
            );
            put(
                "stop_time",
                if camp.status == "ACTIVE" {
                    Value::Null
                } else {
                    json!(local_time(acct.tz, w.date_of(camp.end_day), 0))
                },
            );
            put("created_time", json!(utc_in(acct.tz, camp.created_time)));
            put(
                "updated_time",
                json!(utc_in(acct.tz, camp.created_time + 86400)),
            );
        }
        Node::W(Obj::AdSet(s)) => {
            let set = &w.adsets[*s];
            let camp = &w.campaigns[set.campaign];
            let acct = &w.ad_accounts[camp.account];
            put("id", json!(set.id));
            put("account_id", json!(acct.account_id));
            put("campaign_id", json!(camp.id));
            put("name", json!(set.name));
            put("status", json!(set.status));
            put("configured_status", json!(set.status));
            put("effective_status", json!(w.effective_status_adset(*s)));
            put(
                "daily_budget",
                set.daily_budget
                    .map(|b| json!(b.to_string()))
                    .unwrap_or(Value::Null),
            );
            put("lifetime_budget", Value::Null);
            put(
                "end_time",
                if camp.status == "ACTIVE" {
                    Value::Null
                } else {
                    json!(local_time(acct.tz, w.date_of(camp.end_day), 0))
                },
            );
            put("optimization_goal", json!(set.optimization_goal));
            put("billing_event", json!("IMPRESSIONS"));
            put("destination_type", json!(set.destination_type));
            put(
                "start_time",
                json!(local_time(acct.tz, w.date_of(camp.start_day), 0)),
            );
            put(
                "created_time",
                json!(utc_in(acct.tz, camp.created_time + 60)),
            );
            put(
                "updated_time",
                json!(utc_in(acct.tz, camp.created_time + 86400)),
            );
            put(
                "targeting",
                json!({"geo_locations": {"countries": [if acct.currency == "ARS" { "AR" } else { "US" }]}, "age_min": 18, "age_max": 65}),
            );
        }
        Node::W(Obj::Ad(a)) => {
            let ad = &w.ads[*a];
            let camp = &w.campaigns[ad.campaign];
            let acct = &w.ad_accounts[ad.account];
            put("id", json!(ad.id));
            put("account_id", json!(acct.account_id));
            put("campaign_id", json!(camp.id));
            put("adset_id", json!(w.adsets[ad.adset].id));
            put("name", json!(ad.name));
            put("status", json!(ad.status));
            put("configured_status", json!(ad.status));
            put("effective_status", json!(w.effective_status_ad(*a)));
            put(
                "created_time",
                json!(utc_in(acct.tz, camp.created_time + 120)),
            );
            put(
                "updated_time",
                json!(utc_in(acct.tz, camp.created_time + 86400)),
            );
            put(
                "preview_shareable_link",
                json!(format!("https://fb.me/sandbox-{}", ad.id)),
            );
            put(
                "tracking_specs",
                json!([{"action.type": ["offsite_conversion"], "fb_pixel": [w.datasets[acct.owner.min(w.datasets.len() - 1)].id]}]),
            );
        }
        Node::W(Obj::Creative(a)) => {
            let c = &w.ads[*a].creative;
            put("id", json!(c.id));
            put("name", json!(c.name));
            put("title", json!(c.title));
            put("body", json!(c.body));
            put("image_url", json!(c.image_url));
            put(
                "thumbnail_url",
                json!(c.image_url.replace(".jpg", "_thumb.jpg")),
            );
            put("object_type", json!("SHARE"));
            put("call_to_action_type", json!(c.call_to_action_type));
            put("status", json!("ACTIVE"));
        }
        Node::W(Obj::Page(p)) => {
            let page = &w.pages[*p];
            put("id", json!(page.id));
            put("name", json!(page.name));
            put("category", json!(page.category));
            put(
                "link",
                json!(format!("https://www.facebook.com/{}", page.id)),
            );
            put(
                "tasks",
                json!([
                    "ADVERTISE",
                    "ANALYZE",
                    "CREATE_CONTENT",
                    "MESSAGING",
                    "MODERATE",
                    "MANAGE"
                ]),
            );
            put(
                "access_token",
                page_token_for(app, caller, *p)
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            );
        }
        Node::W(Obj::Form(f)) => {
            let form = &w.forms[*f];
            let count = app.lock().leads.iter().filter(|l| l.form == *f).count();
            put("id", json!(form.id));
            put("name", json!(form.name));
            put("status", json!("ACTIVE"));
            put("locale", json!(form.locale));
            put("created_time", json!(fmt_time_utc(form.created_time)));
            put("leads_count", json!(count));
            put("expired_leads_count", json!(0));
            put("page_id", json!(w.pages[form.page].id));
            put(
                "privacy_policy_url",
                json!("https://sandbox.invalid/privacy"),
            );
            put(
                "questions",
                Value::Array(
                    form.questions
                        .iter()
                        .enumerate()
                        .map(|(i, q)| json!({"key": q.key, "label": q.label, "type": q.kind, "id": format!("{}{}", form.id, i)}))
                        .collect(),
                ),
            );
        }
        Node::W(Obj::Waba(x)) => {
            let waba = &w.wabas[*x];
            let biz = &w.businesses[waba.business];
            put("id", json!(waba.id));
            put("name", json!(waba.name));
            put("currency", json!(waba.currency));
            put("timezone_id", json!(waba.timezone_id));
            put("message_template_namespace", json!(waba.namespace));
            put("account_review_status", json!("APPROVED"));
            put("business_verification_status", json!("verified"));
            put(
                "owner_business_info",
                json!({"id": biz.id, "name": biz.name}),
            );
        }
        Node::W(Obj::Phone(p)) => {
            let ph = &w.phones[*p];
            put("id", json!(ph.id));
            put("display_phone_number", json!(ph.display_phone_number));
            put("verified_name", json!(ph.verified_name));
            put("quality_rating", json!(ph.quality_rating));
            put("code_verification_status", json!("VERIFIED"));
            put("platform_type", json!("CLOUD_API"));
            put("throughput", json!({"level": "STANDARD"}));
            put("name_status", json!("APPROVED"));
            put("status", json!("CONNECTED"));
            put("account_mode", json!("LIVE"));
            put("is_official_business_account", json!(false));
            put(
                "whatsapp_business_manager_messaging_limit",
                json!("TIER_2K"),
            );
            put("messaging_limit_tier", json!("TIER_2K"));
        }
        Node::W(Obj::Dataset(d)) => {
            let ds = &w.datasets[*d];
            put("id", json!(ds.id));
            put("name", json!(ds.name));
            put(
                "owner_business",
                json!({"id": w.businesses[ds.business].id}),
            );
            put("is_unavailable", json!(false));
        }
        Node::Lead(l) => {
            let st = app.lock();
            if let Some(lead) = st.leads.get(*l) {
                let ad = lead.ad.map(|a| &w.ads[a]);
                put("id", json!(lead.id));
                put("created_time", json!(fmt_time_utc(lead.created_time)));
                put("form_id", json!(w.forms[lead.form].id));
                put(
                    "field_data",
                    Value::Array(
                        lead.field_data
                            .iter()
                            .map(|(k, v)| json!({"name": k, "values": v}))
                            .collect(),
                    ),
                );
                put("ad_id", ad.map(|a| json!(a.id)).unwrap_or(Value::Null));
                put("ad_name", ad.map(|a| json!(a.name)).unwrap_or(Value::Null));
                put(
                    "adset_id",
                    ad.map(|a| json!(w.adsets[a.adset].id))
                        .unwrap_or(Value::Null),
                );
                put(
                    "adset_name",
                    ad.map(|a| json!(w.adsets[a.adset].name))
                        .unwrap_or(Value::Null),
                );
                put(
                    "campaign_id",
                    ad.map(|a| json!(w.campaigns[a.campaign].id))
                        .unwrap_or(Value::Null),
                );
                put(
                    "campaign_name",
                    ad.map(|a| json!(w.campaigns[a.campaign].name))
                        .unwrap_or(Value::Null),
                );
                put("is_organic", json!(lead.ad.is_none()));
                put("platform", json!(lead.platform));
                put("custom_disclaimer_responses", json!([]));
                put("partner_name", Value::Null);
                put("retailer_item_id", Value::Null);
            }
        }
        Node::Template(t) => {
            let st = app.lock();
            if let Some(t) = st.templates.get(*t) {
                put("id", json!(t.id));
                put("name", json!(t.name));
                put("language", json!(t.language));
                put("status", json!(t.status));
                put("category", json!(t.category));
                put("components", t.components.clone());
                put("parameter_format", json!(t.parameter_format));
                put(
                    "quality_score",
                    json!({"score": t.quality, "date": app.now()}),
                );
                put("rejected_reason", json!(t.rejected_reason));
                put(
                    "previous_category",
                    t.previous_category
                        .clone()
                        .map(Value::String)
                        .unwrap_or(Value::Null),
                );
            }
        }
        Node::Run(id) => {
            let mut st = app.lock();
            let total_polls = st.runtime.report_run_polls.max(1);
            if let Some(run) = st.report_runs.get_mut(id) {
                run.polls += 1;
                let p = run.polls.saturating_sub(1);
                let pctv = if p >= total_polls {
                    100
                } else {
                    (p * 100 / total_polls).min(99)
                };
                let status = if pctv >= 100 {
                    "Job Completed"
                } else if p == 0 {
                    "Job Not Started"
                } else if p == 1 {
                    "Job Started"
                } else {
                    "Job Running"
                };
                put("id", json!(run.id));
                put("account_id", json!(w.ad_accounts[run.account].account_id));
                put("async_status", json!(status));
                put("async_percent_completion", json!(pctv));
                put("date_start", json!(run.date_start));
                put("date_stop", json!(run.date_stop));
                put("time_ref", json!(run.created_at));
                put(
                    "time_completed",
                    if pctv >= 100 {
                        json!(run.created_at + 2)
                    } else {
                        Value::Null
                    },
                );
                put("is_running", json!(pctv < 100));
                put("emails", json!([]));
            }
        }
    }
    m
}

/// A Page token for a page the calling user manages.
fn page_token_for(app: &App, caller: &Caller, p: usize) -> Option<String> {
    let t = caller.token()?;
    if t.kind == TokenKind::Page {
        return (t.page == Some(p)).then(|| {
            let st = app.lock();
            st.tokens
                .iter()
                .find(|(_, r)| r.kind == TokenKind::Page && r.page == Some(p) && !r.invalidated)
                .map(|(k, _)| k.clone())
        })?;
    }
    if !app.world.pages_of(&t.businesses(&app.world)).contains(&p) {
        return None;
    }
    Some(crate::oauth::issue_page_token(app, t, p))
}

fn filter_value(v: &Value, sel: Option<&Vec<FieldSel>>) -> Value {
    match (v, sel) {
        (Value::Object(o), Some(s)) => {
            let mut out = Map::new();
            for f in s {
                if let Some(x) = o.get(&f.name) {
                    out.insert(f.name.clone(), filter_value(x, f.children.as_ref()));
                }
            }
            Value::Object(out)
        }
        (Value::Array(a), Some(_)) => {
            Value::Array(a.iter().map(|x| filter_value(x, sel)).collect())
        }
        _ => v.clone(),
    }
}

/// Renders a node with a field selection.
pub fn render(
    app: &App,
    req: &GraphReq,
    caller: &Caller,
    n: &Node,
    sel: &[FieldSel],
) -> GResult<Value> {
    let map = scalars(app, caller, n);
    let mut out = Map::new();
    for f in sel {
        if let Some(target) = reference(app, n, &f.name) {
            let child = f
                .children
                .clone()
                .unwrap_or_else(|| vec![FieldSel::simple("id")]);
            out.insert(f.name.clone(), render(app, req, caller, &target, &child)?);
        } else if edges(n).contains(&f.name.as_str()) {
            let ctx = PageCtx::nested(app, req, &node_id(app, n), &f.name, f);
            out.insert(
                f.name.clone(),
                edge_get(
                    app,
                    req,
                    caller,
                    n,
                    &f.name,
                    &f.modifiers,
                    f.children.as_deref(),
                    &ctx,
                )?,
            );
        } else if let Some(v) = map.get(&f.name) {
            if !v.is_null() {
                out.insert(f.name.clone(), filter_value(v, f.children.as_ref()));
            }
        } else {
            return Err(GraphError::nonexisting_field(&f.name, node_type(n)));
        }
    }
    if !out.contains_key("id")
        && let Some(id) = map.get("id")
        && !matches!(n, Node::Run(_))
    {
        out.insert("id".into(), id.clone());
    }
    Ok(Value::Object(out))
}

/// Entry point from the dispatcher.
pub fn route(app: &App, req: &GraphReq, caller: &Caller) -> GResult<Value> {
    let mut segs: Vec<String> = req.segs.clone();
    if segs.is_empty() {
        return Err(GraphError::param(
            "Unsupported request: an object id is required",
        ));
    }
    if segs[0] == "me" {
        segs[0] = match caller {
            Caller::App => {
                return Err(GraphError::new(
                    2500,
                    "OAuthException",
                    "An active access token must be used to query information about the current user.",
                ));
            }
            Caller::Token(t) => match (t.kind, t.page, t.user) {
                (TokenKind::Page, Some(p), _) => app.world.pages[p].id.clone(),
                (_, _, Some(u)) => app.world.users[u].id.clone(),
                _ => return Err(GraphError::token_unparsable()),
            },
        };
    }
    let id = segs[0].clone();
    let method = req.method.as_str();
    let Some(node) = resolve(app, &id) else {
        return Err(GraphError::no_object(&id, &method.to_lowercase()));
    };
    if !visible(app, caller, &node) {
        return Err(GraphError::no_object(&id, &method.to_lowercase()));
    }
    let params = &req.params;
    let ctx = PageCtx::top(app, req);
    match (method, segs.len()) {
        ("GET", 1) => {
            let sel =
                crate::params::field_selection(params)?.unwrap_or_else(|| default_fields(&node));
            render(app, req, caller, &node, &sel)
        }
        ("POST", 1) => match node {
            Node::Template(t) => crate::whatsapp::edit_template(app, req, t),
            _ => Err(GraphError::new(
                3,
                "OAuthException",
                "(#3) The sandbox does not model updates to this object type",
            )),
        },
        ("DELETE", 1) => Err(GraphError::new(
            3,
            "OAuthException",
            "(#3) The sandbox does not model deleting this object type",
        )),
        ("GET", 2) => {
            let edge = segs[1].as_str();
            if !edges(&node).contains(&edge) {
                return Err(GraphError::unknown_path(&format!("{}/{}", id, edge)));
            }
            let sel = crate::params::field_selection(params)?;
            edge_get(app, req, caller, &node, edge, params, sel.as_deref(), &ctx)
        }
        ("POST", 2) => edge_post(app, req, caller, &node, segs[1].as_str()),
        ("DELETE", 2) | ("DELETE", 3) => edge_delete(app, req, caller, &node, &segs[1..]),
        _ => Err(GraphError::unknown_path(&segs.join("/"))),
    }
}

/// Applies `effective_status=[...]` and `filtering=[...]` to ads objects.
fn ads_filter(app: &App, params: &[(String, String)], objs: Vec<Obj>) -> GResult<Vec<Obj>> {
    let w = &app.world;
    let statuses = crate::params::list(params, "effective_status")?;
    let filtering = crate::params::objects(params, "filtering")?.unwrap_or_default();
    let eff = |o: &Obj| match *o {
        Obj::Campaign(c) => w.effective_status_campaign(c),
        Obj::AdSet(s) => w.effective_status_adset(s),
        Obj::Ad(a) => w.effective_status_ad(a),
        _ => "ACTIVE",
    };
    let mentions_deleted = |v: &[String]| v.iter().any(|s| s == "DELETED" || s == "ARCHIVED");
    let mut out = vec![];
    'objs: for o in objs {
        let e = eff(&o);
        match &statuses {
            Some(s) => {
                if !s.iter().any(|x| x == e) {
                    continue;
                }
            }
            None => {
                let filt_deleted = filtering.iter().any(|f| {
                    f.get("field")
                        .and_then(|x| x.as_str())
                        .is_some_and(|x| x.ends_with("effective_status"))
                        && f.get("value").and_then(|v| v.as_array()).is_some_and(|a| {
                            mentions_deleted(
                                &a.iter()
                                    .filter_map(|x| x.as_str().map(String::from))
                                    .collect::<Vec<_>>(),
                            )
                        })
                });
                if (e == "DELETED" || e == "ARCHIVED") && !filt_deleted {
                    continue;
                }
            }
        }
        for f in &filtering {
            let field = f.get("field").and_then(|x| x.as_str()).unwrap_or("");
            let op = f.get("operator").and_then(|x| x.as_str()).unwrap_or("");
            let actual: String = match (field, o) {
                (
                    "effective_status"
                    | "campaign.effective_status"
                    | "adset.effective_status"
                    | "ad.effective_status",
                    _,
                ) => e.to_string(),
                ("name" | "campaign.name", Obj::Campaign(c)) => w.campaigns[c].name.clone(),
                ("name" | "adset.name", Obj::AdSet(s)) => w.adsets[s].name.clone(),
                ("name" | "ad.name", Obj::Ad(a)) => w.ads[a].name.clone(),
                ("campaign.id", Obj::Campaign(c)) => w.campaigns[c].id.clone(),
                ("campaign.id", Obj::AdSet(s)) => w.campaigns[w.adsets[s].campaign].id.clone(),
                ("campaign.id", Obj::Ad(a)) => w.campaigns[w.ads[a].campaign].id.clone(),
                ("adset.id", Obj::AdSet(s)) => w.adsets[s].id.clone(),
                ("adset.id", Obj::Ad(a)) => w.adsets[w.ads[a].adset].id.clone(),
                ("ad.id", Obj::Ad(a)) => w.ads[a].id.clone(),
                ("objective" | "campaign.objective", Obj::Campaign(c)) => {
                    w.campaigns[c].objective.to_string()
                }
                _ => {
                    return Err(GraphError::param(format!(
                        "Filtering field '{field}' is not supported on this edge"
                    )));
                }
            };
            if !filter_match(op, &actual, f.get("value"))? {
                continue 'objs;
            }
        }
        out.push(o);
    }
    Ok(out)
}

pub fn filter_match(op: &str, actual: &str, value: Option<&Value>) -> GResult<bool> {
    let as_str = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let list = || -> Vec<String> {
        value
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(as_str).collect())
            .unwrap_or_default()
    };
    let single = value.map(as_str).unwrap_or_default();
    Ok(match op {
        "EQUAL" => actual == single,
        "NOT_EQUAL" => actual != single,
        "IN" => list().iter().any(|x| x == actual),
        "NOT_IN" => !list().iter().any(|x| x == actual),
        "CONTAIN" => actual.to_lowercase().contains(&single.to_lowercase()),
        "NOT_CONTAIN" => !actual.to_lowercase().contains(&single.to_lowercase()),
        _ => {
            return Err(GraphError::param(format!(
                "Filtering operator '{op}' is not supported"
            )));
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn list_nodes(
    app: &App,
    req: &GraphReq,
    caller: &Caller,
    nodes: Vec<Node>,
    params: &[(String, String)],
    sel: Option<&[FieldSel]>,
    ctx: &PageCtx,
    default_limit: usize,
) -> GResult<Value> {
    let total = nodes.len();
    let (slice, paging) = paginate(nodes, params, ctx, default_limit)?;
    let mut data = Vec::with_capacity(slice.len());
    for n in &slice {
        let s = match sel {
            Some(s) => s.to_vec(),
            None => default_fields(n),
        };
        data.push(render(app, req, caller, n, &s)?);
    }
    Ok(envelope(
        data,
        paging,
        summary_requested(params).then_some(total),
    ))
}

#[allow(clippy::too_many_arguments)]
pub fn edge_get(
    app: &App,
    req: &GraphReq,
    caller: &Caller,
    node: &Node,
    edge: &str,
    params: &[(String, String)],
    sel: Option<&[FieldSel]>,
    ctx: &PageCtx,
) -> GResult<Value> {
    let w = &app.world;
    let ads_scopes = ["ads_read", "ads_management"];
    let wa = |o: Obj| Node::W(o);
    match (node, edge) {
        (_, "insights") => {
            caller.require_any(&ads_scopes)?;
            crate::insights::edge(app, caller, node, params, sel, ctx)
        }
        (Node::W(Obj::User(_)), "businesses") => {
            caller.require_any(&["business_management"])?;
            let nodes = caller
                .businesses(w)
                .iter()
                .map(|b| wa(Obj::Business(*b)))
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::User(_)), "adaccounts") => {
            caller.require_any(&["ads_read", "ads_management", "business_management"])?;
            let nodes = w
                .accounts_of(&caller.businesses(w))
                .into_iter()
                .map(|a| wa(Obj::AdAccount(a)))
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::User(_)), "accounts") => {
            caller.require_any(&[
                "pages_show_list",
                "pages_read_engagement",
                "pages_manage_metadata",
            ])?;
            let nodes = w
                .pages_of(&caller.businesses(w))
                .into_iter()
                .map(|p| wa(Obj::Page(p)))
                .collect();
            let default = ["id", "name", "category", "access_token", "tasks"]
                .iter()
                .map(|s| FieldSel::simple(s))
                .collect::<Vec<_>>();
            list_nodes(
                app,
                req,
                caller,
                nodes,
                params,
                Some(sel.unwrap_or(&default)),
                ctx,
                25,
            )
        }
        (Node::W(Obj::User(_)), "permissions") => {
            let Some(t) = caller.token() else {
                return Err(GraphError::token_unparsable());
            };
            let mut data = vec![json!({"permission": "public_profile", "status": "granted"})];
            for s in &t.scopes {
                if s != "public_profile" {
                    data.push(json!({"permission": s, "status": "granted"}));
                }
            }
            let (slice, paging) = paginate(data, params, ctx, 100)?;
            Ok(envelope(slice, paging, None))
        }
        (Node::W(Obj::Business(b)), "owned_ad_accounts" | "client_ad_accounts") => {
            caller.require_any(&["business_management", "ads_read", "ads_management"])?;
            let owned = edge == "owned_ad_accounts";
            let nodes = w
                .ad_accounts
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    if owned {
                        a.owner == *b
                    } else {
                        a.clients.contains(b)
                    }
                })
                .map(|(i, _)| wa(Obj::AdAccount(i)))
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::Business(b)), "owned_pages") => {
            let nodes = w
                .pages
                .iter()
                .enumerate()
                .filter(|(_, p)| p.business == *b)
                .map(|(i, _)| wa(Obj::Page(i)))
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::Business(b)), "owned_whatsapp_business_accounts") => {
            caller.require_any(&["whatsapp_business_management", "business_management"])?;
            let nodes = w
                .wabas
                .iter()
                .enumerate()
                .filter(|(_, x)| x.business == *b)
                .map(|(i, _)| wa(Obj::Waba(i)))
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::Business(_)), "client_whatsapp_business_accounts") => {
            list_nodes(app, req, caller, vec![], params, sel, ctx, 25)
        }
        (Node::W(Obj::Business(b)), "adspixels") => {
            let nodes = w
                .datasets
                .iter()
                .enumerate()
                .filter(|(_, d)| d.business == *b)
                .map(|(i, _)| wa(Obj::Dataset(i)))
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(o), "campaigns" | "adsets" | "ads") => {
            caller.require_any(&ads_scopes)?;
            let mut objs = vec![];
            let camps: Vec<usize> = match *o {
                Obj::AdAccount(a) => w.ad_accounts[a].campaigns.clone().collect(),
                Obj::Campaign(c) => vec![c],
                _ => vec![],
            };
            match edge {
                "campaigns" => objs.extend(camps.iter().map(|c| Obj::Campaign(*c))),
                "adsets" => {
                    for c in &camps {
                        objs.extend(w.campaigns[*c].adsets.clone().map(Obj::AdSet));
                    }
                }
                _ => {
                    if let Obj::AdSet(s) = *o {
                        objs.extend(w.adsets[s].ads.clone().map(Obj::Ad));
                    }
                    for c in &camps {
                        for s in w.campaigns[*c].adsets.clone() {
                            objs.extend(w.adsets[s].ads.clone().map(Obj::Ad));
                        }
                    }
                }
            }
            let objs = ads_filter(app, params, objs)?;
            list_nodes(
                app,
                req,
                caller,
                objs.into_iter().map(wa).collect(),
                params,
                sel,
                ctx,
                25,
            )
        }
        (Node::W(Obj::AdAccount(a)), "adcreatives") => {
            let nodes = (0..w.ads.len())
                .filter(|i| w.ads[*i].account == *a)
                .map(|i| wa(Obj::Creative(i)))
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::Ad(a)), "adcreatives") => list_nodes(
            app,
            req,
            caller,
            vec![wa(Obj::Creative(*a))],
            params,
            sel,
            ctx,
            25,
        ),
        (Node::W(Obj::Page(p)), "leadgen_forms") => {
            caller.require_any(&[
                "leads_retrieval",
                "pages_manage_ads",
                "pages_show_list",
                "pages_read_engagement",
                "pages_manage_metadata",
            ])?;
            let nodes = w
                .forms
                .iter()
                .enumerate()
                .filter(|(_, f)| f.page == *p)
                .map(|(i, _)| wa(Obj::Form(i)))
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::Form(_)) | Node::W(Obj::Ad(_)), "leads") => {
            caller.require_any(&["leads_retrieval"])?;
            let filtering = crate::params::objects(params, "filtering")?.unwrap_or_default();
            let mut conds = vec![];
            for f in &filtering {
                let field = f.get("field").and_then(|x| x.as_str()).unwrap_or("");
                if field != "time_created" {
                    return Err(GraphError::param(format!(
                        "Filtering field '{field}' is not supported for leads; use time_created"
                    )));
                }
                let op = f
                    .get("operator")
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_string();
                let v = f
                    .get("value")
                    .and_then(|v| {
                        v.as_i64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    })
                    .ok_or_else(|| {
                        GraphError::param("time_created filter value must be a unix timestamp")
                    })?;
                if !matches!(
                    op.as_str(),
                    "GREATER_THAN" | "GREATER_THAN_OR_EQUAL" | "LESS_THAN" | "LESS_THAN_OR_EQUAL"
                ) {
                    return Err(GraphError::param(format!(
                        "Filtering operator '{op}' is not supported for time_created"
                    )));
                }
                conds.push((op, v));
            }
            let st = app.lock();
            let mut idx: Vec<(i64, usize)> = st
                .leads
                .iter()
                .enumerate()
                .filter(|(_, l)| match node {
                    Node::W(Obj::Form(f)) => l.form == *f,
                    Node::W(Obj::Ad(a)) => l.ad == Some(*a),
                    _ => false,
                })
                .filter(|(_, l)| {
                    conds.iter().all(|(op, v)| match op.as_str() {
                        "GREATER_THAN" => l.created_time > *v,
                        "GREATER_THAN_OR_EQUAL" => l.created_time >= *v,
                        "LESS_THAN" => l.created_time < *v,
                        _ => l.created_time <= *v,
                    })
                })
                .map(|(i, l)| (l.created_time, i))
                .collect();
            drop(st);
            idx.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
            let nodes = idx.into_iter().map(|(_, i)| Node::Lead(i)).collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::Page(p)), "subscribed_apps") => {
            let st = app.lock();
            let data: Vec<Value> = match st.page_subscriptions.get(p) {
                Some(fields) => vec![
                    json!({"id": w.app_id, "name": "CRM Ventas (Meta sandbox app)", "subscribed_fields": fields}),
                ],
                None => vec![],
            };
            Ok(json!({"data": data}))
        }
        (Node::W(Obj::Waba(x)), "subscribed_apps") => {
            let st = app.lock();
            let data: Vec<Value> = if st.waba_subscriptions.contains(x) {
                vec![
                    json!({"whatsapp_business_api_data": {"id": w.app_id, "name": "CRM Ventas (Meta sandbox app)", "link": format!("{}/apps/{}", app.base_url, w.app_id)}}),
                ]
            } else {
                vec![]
            };
            Ok(json!({"data": data}))
        }
        (Node::W(Obj::Waba(x)), "phone_numbers") => {
            caller.require_any(&[
                "whatsapp_business_management",
                "whatsapp_business_messaging",
            ])?;
            let nodes = w
                .phones
                .iter()
                .enumerate()
                .filter(|(_, p)| p.waba == *x)
                .map(|(i, _)| wa(Obj::Phone(i)))
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::Waba(x)), "message_templates") => {
            caller.require_any(&["whatsapp_business_management"])?;
            let nodes = crate::whatsapp::list_templates(app, *x, params)?
                .into_iter()
                .map(Node::Template)
                .collect();
            list_nodes(app, req, caller, nodes, params, sel, ctx, 25)
        }
        (Node::W(Obj::App), "subscriptions") => {
            let st = app.lock();
            let data: Vec<Value> = st
                .app_subscriptions
                .iter()
                .map(|(object, (url, fields))| {
                    json!({"object": object, "callback_url": url, "active": true, "fields": fields.iter().map(|f| json!({"name": f, "version": "v25.0"})).collect::<Vec<_>>()})
                })
                .collect();
            Ok(json!({"data": data}))
        }
        _ => Err(GraphError::unknown_path(&format!(
            "{}/{}",
            node_id(app, node),
            edge
        ))),
    }
}

fn edge_post(
    app: &App,
    req: &GraphReq,
    caller: &Caller,
    node: &Node,
    edge: &str,
) -> GResult<Value> {
    let w = &app.world;
    match (node, edge) {
        (
            Node::W(o @ (Obj::AdAccount(_) | Obj::Campaign(_) | Obj::AdSet(_) | Obj::Ad(_))),
            "insights",
        ) => {
            caller.require_any(&["ads_read", "ads_management"])?;
            crate::insights::start_async(app, *o, &req.params)
        }
        (Node::W(Obj::Page(p)), "subscribed_apps") => {
            if caller.page() != Some(*p) {
                return Err(GraphError::new(
                    210,
                    "OAuthException",
                    "(#210) This call requires a Page access token.",
                ));
            }
            let fields = crate::params::list(&req.params, "subscribed_fields")?
                .ok_or_else(|| GraphError::param("The parameter subscribed_fields is required."))?;
            for f in &fields {
                if !matches!(
                    f.as_str(),
                    "leadgen"
                        | "messages"
                        | "feed"
                        | "messaging_postbacks"
                        | "message_deliveries"
                        | "message_reads"
                ) {
                    return Err(GraphError::param(format!(
                        "Param subscribed_fields[{f}] must be one of {{leadgen, messages, feed, messaging_postbacks, message_deliveries, message_reads}}"
                    )));
                }
            }
            app.lock().page_subscriptions.insert(*p, fields);
            Ok(json!({"success": true}))
        }
        (Node::W(Obj::Waba(x)), "subscribed_apps") => {
            caller.require_any(&["whatsapp_business_management"])?;
            app.lock().waba_subscriptions.insert(*x);
            Ok(json!({"success": true}))
        }
        (Node::W(Obj::Waba(x)), "message_templates") => {
            caller.require_any(&["whatsapp_business_management"])?;
            crate::whatsapp::create_template(app, req, *x)
        }
        (Node::W(Obj::Phone(p)), "messages") => {
            caller.require_any(&["whatsapp_business_messaging"])?;
            crate::whatsapp::send_message(app, req, *p)
        }
        (Node::W(Obj::Phone(p)), "register") => {
            let _ = w.phones[*p].id.len();
            Ok(json!({"success": true}))
        }
        (Node::W(Obj::Dataset(d)), "events") => crate::capi::receive(app, req, *d),
        (Node::W(Obj::App), "subscriptions") => {
            let _ = (caller, req);
            Err(GraphError::new(
                15,
                "OAuthException",
                "(#15) This method must be called with an app access_token.",
            ))
        }
        _ => Err(GraphError::unknown_path(&format!(
            "{}/{}",
            node_id(app, node),
            edge
        ))),
    }
}

fn edge_delete(
    app: &App,
    req: &GraphReq,
    caller: &Caller,
    node: &Node,
    rest: &[String],
) -> GResult<Value> {
    match (node, rest.first().map(|s| s.as_str())) {
        (Node::W(Obj::User(_)), Some("permissions")) => {
            let Some(t) = caller.token() else {
                return Err(GraphError::token_unparsable());
            };
            crate::oauth::revoke(app, t, rest.get(1).map(|s| s.as_str()))
        }
        (Node::W(Obj::Waba(x)), Some("message_templates")) if rest.len() == 1 => {
            caller.require_any(&["whatsapp_business_management"])?;
            crate::whatsapp::delete_templates(app, req, *x)
        }
        (Node::W(Obj::Page(p)), Some("subscribed_apps")) if rest.len() == 1 => {
            if caller.page() != Some(*p) {
                return Err(GraphError::new(
                    210,
                    "OAuthException",
                    "(#210) This call requires a Page access token.",
                ));
            }
            app.lock().page_subscriptions.remove(p);
            Ok(json!({"success": true}))
        }
        (Node::W(Obj::Waba(x)), Some("subscribed_apps")) if rest.len() == 1 => {
            app.lock().waba_subscriptions.remove(x);
            Ok(json!({"success": true}))
        }
        (Node::W(Obj::App), Some("subscriptions")) if rest.len() == 1 => {
            if !matches!(caller, Caller::App) {
                return Err(GraphError::new(
                    15,
                    "OAuthException",
                    "(#15) This method must be called with an app access_token.",
                ));
            }
            let object = param(&req.params, "object").unwrap_or("").to_string();
            let mut st = app.lock();
            if object.is_empty() {
                st.app_subscriptions.clear();
            } else {
                st.app_subscriptions.remove(&object);
            }
            Ok(json!({"success": true}))
        }
        _ => Err(GraphError::unknown_path(&rest.join("/"))),
    }
}
