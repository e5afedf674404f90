//! Tenant isolation and role restrictions, generated from the OpenAPI
//! document. Every documented operation with a path id is called by tenant B
//! (a user session AND an API token) with tenant A's ids and must answer 404;
//! every list (GET without path ids) must never show A's rows. A second matrix
//! does the same for a seller against another seller's records, and proves
//! that marketing cannot write.
//!
//! New routes are covered automatically. A route with a path id whose resource
//! the fixtures cannot create FAILS this test until its owner adds the kind to
//! [`KINDS`] and [`create_fixture`] (or lists it in [`NO_FIXTURE`] with a reason).

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::*;

/// Path prefix (everything before the first `{`) → fixture kind.
pub const KINDS: &[(&str, &str)] = &[
    ("/api/leads/", "lead"),
    ("/api/opportunities/", "opportunity"),
    ("/api/sales/", "sale"),
    ("/api/pipeline/stages/", "stage"),
    ("/api/team/", "user"),
    ("/api/tokens/", "token"),
    ("/api/crm/marketing/hsm/leads/", "lead"),
    ("/api/crm/marketing/automation/rules/", "rule"),
    ("/api/crm/marketing/fx-rates/", "fx_rate"),
    ("/api/crm/marketing/campaigns/", "campaign"),
];

/// (method, path) operations with a path id that the matrix skips, each with
/// the reason. Keep this short: prefer adding a fixture.
pub const NO_FIXTURE: &[(&str, &str, &str)] = &[
    (
        "delete",
        "/api/auth/sessions/{id}",
        "acts only on the caller's own sessions; another user's session id answers 404 \
     (account tests cover it)",
    ),
    (
        "get",
        "/api/crm/auth/meta/data-deletion/{code}",
        "public status of a Meta data-deletion request, addressed by its unguessable \
     confirmation code rather than a tenant resource id (Meta connection tests cover it)",
    ),
    (
        "get",
        "/api/crm/marketing/hsm/templates/{id}",
        "templates exist only through a Meta connection (hsm_api tests cover other tenants' ids)",
    ),
    (
        "delete",
        "/api/crm/marketing/hsm/templates/{id}",
        "templates exist only through a Meta connection (hsm_api tests cover other tenants' ids)",
    ),
    (
        "post",
        "/api/crm/marketing/hsm/templates/{id}/send",
        "templates exist only through a Meta connection (hsm_api tests cover other tenants' ids)",
    ),
    (
        "get",
        "/api/crm/marketing/lead-forms/{form_id}",
        "lead forms exist only on the Pages of a Meta connection (lead_forms tests prove \
     another tenant's form id is 404)",
    ),
    (
        "put",
        "/api/crm/marketing/lead-forms/{form_id}/mapping",
        "lead forms exist only on the Pages of a Meta connection (lead_forms tests prove \
     another tenant's form id is 404)",
    ),
    (
        "delete",
        "/api/crm/marketing/lead-forms/{form_id}/mapping",
        "lead forms exist only on the Pages of a Meta connection (lead_forms tests prove \
     another tenant's form id is 404)",
    ),
    (
        "post",
        "/api/crm/marketing/hsm/messages/{id}/resend",
        "messages exist only after a send through a Meta connection (send_review tests prove \
     another tenant's and another seller's message ids are 404)",
    ),
    (
        "post",
        "/api/crm/marketing/hsm/messages/{id}/dismiss",
        "messages exist only after a send through a Meta connection (send_review tests prove \
     another tenant's and another seller's message ids are 404)",
    ),
    (
        "post",
        "/api/webhooks/inbox/{id}/replay",
        "inbox events exist only after a signed Meta webhook delivery; webhooks_inbox tests \
     prove another tenant never sees them",
    ),
];

/// Kinds that belong to one seller (others' ids must be 404 for a seller).
const OWNED_KINDS: &[&str] = &["lead", "opportunity", "sale"];

/// Path prefixes where the marketing role may read but never write.
const MARKETING_READ_ONLY: &[&str] = &[
    "/api/leads",
    "/api/opportunities",
    "/api/sales",
    "/api/pipeline",
];

/// A tenant's data made for the matrix: kind → id, plus a marker string that
/// appears in its lead's name and email.
pub struct Fixtures {
    pub ids: BTreeMap<&'static str, String>,
    pub marker: String,
}

/// Creates one resource of `kind` with `admin` (a ceo client of the tenant),
/// owned by `owner` where the kind has an owner. Returns its id.
pub async fn create_fixture(
    kind: &str,
    admin: &Client,
    owner: Option<&str>,
    marker: &str,
    done: &BTreeMap<&'static str, String>,
) -> String {
    if kind == "campaign" {
        // The lead fixture is Meta-attributed to campaign `cmp-{marker}`: the
        // campaign exists in the tenant's numbers before any sync.
        assert!(done.contains_key("lead"), "the lead fixture comes first");
        return format!("cmp-{marker}");
    }
    let r = match kind {
        "lead" => {
            admin
                .post(
                    "/api/leads",
                    json!({"name": format!("Lead {marker}"), "email": format!("{marker}@example.com"),
                           "phone": format!("+54911{}", &digits_of(marker)[..8]), "owner_id": owner,
                           "tags": [marker.to_lowercase()],
                           "attribution": {"meta_ad_id": format!("ad-{marker}"), "meta_campaign_id": format!("cmp-{marker}"),
                                           "ctwa_clid": format!("clid-{marker}")}}),
                )
                .await
        }
        "opportunity" => {
            admin
                .post(
                    "/api/opportunities",
                    json!({"lead_id": done["lead"], "name": format!("Deal {marker}"), "value_minor": 150000,
                           "currency": "USD", "owner_id": owner}),
                )
                .await
        }
        "sale" => {
            admin
                .post(
                    "/api/sales",
                    json!({"opportunity_id": done["opportunity"], "amount_minor": 120000, "method": "card",
                           "invoice_ref": format!("INV-{marker}")}),
                )
                .await
        }
        "stage" => {
            admin
                .post(
                    "/api/pipeline/stages",
                    json!({"key": format!("s_{}", marker.to_lowercase()), "name": format!("Stage {marker}"), "kind": "open"}),
                )
                .await
        }
        "user" => {
            admin
                .post(
                    "/api/team",
                    json!({"email": format!("user-{}@example.com", marker.to_lowercase()), "name": format!("User {marker}"),
                           "role": "seller", "password": PASSWORD}),
                )
                .await
        }
        "token" => {
            admin
                .post(
                    "/api/tokens",
                    json!({"name": format!("Token {marker}"), "role": "admin"}),
                )
                .await
        }
        "rule" => {
            admin
                .post(
                    "/api/crm/marketing/automation/rules",
                    json!({"name": format!("Rule {marker}"), "enabled": false,
                           "trigger": {"type": "lead_created"},
                           "action": {"template_name": "fixture_tpl", "language": "es", "bindings": {}}}),
                )
                .await
        }
        "fx_rate" => {
            admin
                .req(
                    Method::PUT,
                    "/api/crm/marketing/fx-rates",
                    Some(json!({"from_currency": "BRL", "to_currency": "USD", "date": "2026-01-15", "rate": "0.2"})),
                )
                .await
        }
        other => panic!(
            "no fixture for resource kind '{other}': add it to isolation::create_fixture"
        ),
    };
    assert!(
        r.status == StatusCode::CREATED || r.status == StatusCode::OK,
        "fixture {kind}: {} {:?}",
        r.status,
        r.body
    );
    let body = if kind == "token" {
        &r.body["token"]
    } else {
        &r.body
    };
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("fixture {kind} has no id: {:?}", r.body))
        .to_owned()
}

fn digits_of(s: &str) -> String {
    let mut d: String = s.bytes().map(|b| char::from(b'0' + b % 10)).collect();
    while d.len() < 8 {
        d.push('7');
    }
    d
}

/// Creates every fixture kind in the order dependencies need.
pub async fn make_fixtures(admin: &Client, owner: Option<&str>, marker: &str) -> Fixtures {
    let mut ids: BTreeMap<&'static str, String> = BTreeMap::new();
    for (_, kind) in KINDS {
        if ids.contains_key(kind) {
            continue;
        }
        let id = create_fixture(kind, admin, owner, marker, &ids).await;
        ids.insert(kind, id);
    }
    Fixtures {
        ids,
        marker: marker.to_owned(),
    }
}

/// A second tenant with a ceo, created the way the admin CLI does it.
pub async fn second_tenant(app: &TestApp, email: &str) -> Client {
    let db = &app.server.as_ref().unwrap().state.db;
    let t = crm_core::services::accounts::create_tenant(
        db,
        &crm_core::services::accounts::NewTenant {
            name: "Beta".into(),
            currency: "ARS".into(),
            timezone: "UTC".into(),
            locale: "en".into(),
            country: "AR".into(),
        },
    )
    .await
    .unwrap();
    crm_core::services::accounts::create_user_cli(
        db,
        t.id,
        &crm_core::services::accounts::NewUser {
            email: email.into(),
            name: "Beta Boss".into(),
            role: crm_core::Role::Ceo,
            password: PASSWORD.into(),
        },
    )
    .await
    .unwrap();
    logged_in(app, email).await
}

pub async fn token_client(app: &TestApp, admin: &Client, role: &str) -> Client {
    let r = admin
        .post(
            "/api/tokens",
            json!({"name": format!("matrix {role}"), "role": role}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let secret = r.body["secret"].as_str().expect("token secret").to_owned();
    Client::with_token(app, &secret)
}

/// A minimal JSON value that satisfies a schema (required properties only).
fn example(schema: &Value, doc: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return example(&doc["components"]["schemas"][name], doc, depth + 1);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(v) = schema.get(key).and_then(Value::as_array) {
            let pick = v
                .iter()
                .find(|s| s.get("type") != Some(&json!("null")))
                .unwrap_or(&v[0]);
            return example(pick, doc, depth + 1);
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        let mut out = Map::new();
        for s in all {
            if let Value::Object(o) = example(s, doc, depth + 1) {
                out.extend(o);
            }
        }
        return Value::Object(out);
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        return e.first().cloned().unwrap_or(Value::Null);
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_owned(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "null".into(),
    };
    match ty.as_str() {
        "object" => {
            let mut out = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for name in required {
                let prop = &schema["properties"][name];
                out.insert(name.to_owned(), example(prop, doc, depth + 1));
            }
            Value::Object(out)
        }
        "array" => json!([]),
        "string" => match schema.get("format").and_then(Value::as_str) {
            Some("uuid") => json!(uuid::Uuid::now_v7().to_string()),
            Some("date-time") => json!("2026-01-01T00:00:00Z"),
            Some("date") => json!("2026-01-01"),
            _ => json!("x"),
        },
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

struct Op {
    method: Method,
    path: String,
    body: Option<Value>,
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let json_schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let body = if json_schema.is_null() {
                if method == "get" || method == "delete" {
                    None
                } else {
                    Some(json!({}))
                }
            } else {
                Some(example(json_schema, doc, 0))
            };
            ops.push(Op {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                path: path.clone(),
                body,
            });
        }
    }
    ops
}

/// The fixture kind of a path with ids, or None for a path without ids.
fn kind_of(path: &str) -> Option<Result<&'static str, String>> {
    let brace = path.find('{')?;
    let prefix = &path[..brace];
    Some(
        KINDS
            .iter()
            .find(|(p, _)| *p == prefix)
            .map(|(_, k)| *k)
            .ok_or_else(|| prefix.to_owned()),
    )
}

fn fill(path: &str, id: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => {
                in_param = true;
                out.push_str(id);
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

fn skipped(method: &Method, path: &str) -> bool {
    NO_FIXTURE
        .iter()
        .any(|(m, p, _)| m.eq_ignore_ascii_case(method.as_str()) && *p == path)
}

/// Text of a response for "does A's data leak" checks.
fn text_of(r: &Resp) -> String {
    match &r.body {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Asserts a list response shows none of `a`'s fixtures of the given kinds
/// (by id) and none of the given strings.
fn assert_no_leak(
    who: &str,
    path: &str,
    r: &Resp,
    a: &Fixtures,
    kinds: &[&str],
    strings: &[String],
) {
    // A redirect into the web app (e.g. an OAuth callback) ends on the UI page,
    // which is plain text when the UI is not built into the test binary.
    assert!(
        r.status.as_u16() < 500 || r.body.is_string(),
        "{who} GET {path}: server error {:?}",
        r.body
    );
    let text = text_of(r).to_lowercase();
    for (kind, id) in &a.ids {
        if !kinds.contains(kind) {
            continue;
        }
        assert!(
            !text.contains(id.as_str()),
            "{who} GET {path} shows {kind} {id} of the other party: {text}"
        );
    }
    for s in strings {
        assert!(
            !text.contains(&s.to_lowercase()),
            "{who} GET {path} shows the other party's '{s}': {text}"
        );
    }
}

fn all_kinds() -> Vec<&'static str> {
    KINDS.iter().map(|(_, k)| *k).collect()
}

#[tokio::test]
async fn tenant_b_never_reaches_tenant_a_data_on_any_documented_route() {
    let app = spawn_app().await;
    let a_ceo = setup_ceo(&app).await;
    let a = make_fixtures(&a_ceo, None, "AcmeSecretQx").await;
    let b_user = second_tenant(&app, "boss@beta.test").await;
    let b_token = token_client(&app, &b_user, "ceo").await;
    // B has data of its own, so lists are not trivially empty.
    let b = make_fixtures(&b_user, None, "BetaOwnZk").await;

    let doc = a_ceo.get("/api/openapi.json").await.body;
    let ops = operations(&doc);
    let mut missing = vec![];
    let mut by_id = 0;
    let mut lists = 0;
    for op in &ops {
        match kind_of(&op.path) {
            Some(Err(prefix)) if !skipped(&op.method, &op.path) => {
                missing.push(format!("{} {} (prefix {prefix})", op.method, op.path));
            }
            Some(Err(_)) => {}
            Some(Ok(kind)) => {
                if skipped(&op.method, &op.path) {
                    continue;
                }
                let url = fill(&op.path, &a.ids[kind]);
                for (who, c) in [("B user", &b_user), ("B token", &b_token)] {
                    let r = c.req(op.method.clone(), &url, op.body.clone()).await;
                    assert_eq!(
                        r.status,
                        StatusCode::NOT_FOUND,
                        "{who} {} {} with A's {kind}: {:?}",
                        op.method,
                        op.path,
                        r.body
                    );
                    assert_eq!(r.code(), "not_found", "{who} {} {}", op.method, op.path);
                }
                // The same route works for B's own resource (the 404 is not blanket).
                if op.method == Method::GET {
                    let own = b_user.get(&fill(&op.path, &b.ids[kind])).await;
                    assert_eq!(
                        own.status,
                        StatusCode::OK,
                        "B GET {} own {kind}: {:?}",
                        op.path,
                        own.body
                    );
                }
                by_id += 1;
            }
            None if op.method == Method::GET => {
                for (who, c) in [("B user", &b_user), ("B token", &b_token)] {
                    let r = c.get(&op.path).await;
                    assert_no_leak(
                        who,
                        &op.path,
                        &r,
                        &a,
                        &all_kinds(),
                        std::slice::from_ref(&a.marker),
                    );
                }
                lists += 1;
            }
            None => {}
        }
    }
    assert!(
        missing.is_empty(),
        "routes with ids but no fixture (add them to isolation::KINDS/create_fixture): {missing:#?}"
    );
    assert!(by_id >= 15, "checked {by_id} id operations");
    assert!(lists >= 6, "checked {lists} lists");

    // Search and filters by A's values find nothing in B.
    let lead_a = a_ceo
        .get(&format!("/api/leads/{}", a.ids["lead"]))
        .await
        .body;
    let phone = lead_a["lead"]["phone"].as_str().unwrap().to_owned();
    for q in [
        format!("/api/leads?q={}", a.marker),
        format!("/api/leads?q={}", &phone[1..]),
        format!("/api/leads?ad_id=ad-{}", a.marker),
        format!("/api/leads?campaign_id=cmp-{}", a.marker),
        format!("/api/leads?tag={}", a.marker.to_lowercase()),
        format!("/api/leads/export.csv?q={}", a.marker),
        "/api/leads/export.csv".to_owned(),
        format!("/api/opportunities?lead_id={}", a.ids["lead"]),
        format!("/api/sales?lead_id={}", a.ids["lead"]),
        format!("/api/sales?opportunity_id={}", a.ids["opportunity"]),
    ] {
        for (who, c) in [("B user", &b_user), ("B token", &b_token)] {
            let r = c.get(&q).await;
            assert_eq!(r.status, StatusCode::OK, "{who} {q}");
            assert_no_leak(
                who,
                &q,
                &r,
                &a,
                &all_kinds(),
                std::slice::from_ref(&a.marker),
            );
        }
    }
    // The export does contain B's own rows (it is not empty by accident).
    let own = b_user.get("/api/leads/export.csv").await;
    assert!(text_of(&own).contains(&b.ids["lead"]));
    // A's records survived every attempt unchanged.
    let after = a_ceo.get(&format!("/api/leads/{}", a.ids["lead"])).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.body["lead"]["name"], lead_a["lead"]["name"]);
    assert_eq!(after.body["lead"]["tags"], lead_a["lead"]["tags"]);
    for kind in ["opportunity", "sale"] {
        let path = if kind == "sale" {
            "sales"
        } else {
            "opportunities"
        };
        let r = a_ceo.get(&format!("/api/{path}/{}", a.ids[kind])).await;
        assert_eq!(r.status, StatusCode::OK, "A's {kind} still there");
    }
    // Bulk endpoints with A's ids change nothing and reveal nothing.
    for (who, c) in [("B user", &b_user), ("B token", &b_token)] {
        let r = c
            .post(
                "/api/leads/bulk/tag",
                json!({"ids": [a.ids["lead"]], "add": ["pwned"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{who}");
        assert_eq!(r.code(), "leads_not_found");
        let r = c
            .post(
                "/api/opportunities",
                json!({"lead_id": a.ids["lead"], "name": "x", "value_minor": 1}),
            )
            .await;
        assert_eq!(r.code(), "invalid_lead", "{who}");
        let r = c
            .post(
                "/api/sales",
                json!({"opportunity_id": a.ids["opportunity"], "amount_minor": 1}),
            )
            .await;
        assert_eq!(r.code(), "invalid_opportunity", "{who}");
    }
    let tags = a_ceo
        .get(&format!("/api/leads/{}", a.ids["lead"]))
        .await
        .body["lead"]["tags"]
        .clone();
    assert_eq!(tags, json!([a.marker.to_lowercase()]));
}

#[tokio::test]
async fn sellers_see_only_their_records_and_marketing_cannot_write() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let s1_id = add_user(&ceo, "s1@acme.test", "seller").await;
    let s2_id = add_user(&ceo, "s2@acme.test", "seller").await;
    add_user(&ceo, "mk@acme.test", "marketing").await;
    let s1 = logged_in(&app, "s1@acme.test").await;
    let marketing = logged_in(&app, "mk@acme.test").await;
    let mk_token = token_client(&app, &ceo, "marketing").await;
    // Records owned by seller 2, and by seller 1.
    let theirs = make_fixtures(&ceo, Some(&s2_id), "SellerTwoQv").await;
    let mine = make_fixtures(&ceo, Some(&s1_id), "SellerOneWx").await;

    let doc = ceo.get("/api/openapi.json").await.body;
    let ops = operations(&doc);
    let mut owned_checked = 0;
    let mut writes_checked = 0;
    for op in &ops {
        let kind = match kind_of(&op.path) {
            Some(Ok(k)) => Some(k),
            Some(Err(_)) => continue, // reported by the tenant matrix
            None => None,
        };
        if skipped(&op.method, &op.path) {
            continue;
        }
        if let Some(k) = kind
            && OWNED_KINDS.contains(&k)
        {
            let r = s1
                .req(
                    op.method.clone(),
                    &fill(&op.path, &theirs.ids[k]),
                    op.body.clone(),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "seller {} {} on another seller's {k}: {:?}",
                op.method,
                op.path,
                r.body
            );
            if op.method == Method::GET {
                let own = s1.get(&fill(&op.path, &mine.ids[k])).await;
                assert_eq!(
                    own.status,
                    StatusCode::OK,
                    "seller GET {} own {k}: {:?}",
                    op.path,
                    own.body
                );
            }
            owned_checked += 1;
        }
        if kind.is_none() && op.method == Method::GET {
            let r = s1.get(&op.path).await;
            // Stage, user and token fixtures are tenant-wide; only owned kinds must not leak.
            let m = &theirs.marker;
            let strings = [
                format!("Lead {m}"),
                format!("Deal {m}"),
                format!("INV-{m}"),
                format!("{m}@example.com"),
            ];
            assert_no_leak("seller", &op.path, &r, &theirs, OWNED_KINDS, &strings);
        }
        if op.method != Method::GET && MARKETING_READ_ONLY.iter().any(|p| op.path.starts_with(p)) {
            let url = match kind {
                Some(k) => fill(&op.path, &theirs.ids[k]),
                None => op.path.clone(),
            };
            for (who, c) in [("marketing", &marketing), ("marketing token", &mk_token)] {
                let r = c.req(op.method.clone(), &url, op.body.clone()).await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{who} {} {}: {:?}",
                    op.method,
                    op.path,
                    r.body
                );
                assert_eq!(r.code(), "forbidden");
            }
            writes_checked += 1;
        }
    }
    assert!(owned_checked >= 10, "checked {owned_checked}");
    assert!(writes_checked >= 12, "checked {writes_checked}");
    // Marketing reads everything.
    let r = marketing
        .get(&format!("/api/leads/{}", theirs.ids["lead"]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = marketing.get("/api/leads?limit=100").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    // The seller's list holds exactly their own lead.
    let r = s1.get("/api/leads").await;
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![mine.ids["lead"].as_str()]);
    // A seller cannot hand a lead to someone else, nor bulk-assign.
    let r = s1
        .patch(
            &format!("/api/leads/{}", mine.ids["lead"]),
            json!({"owner_id": s2_id}),
        )
        .await;
    assert_eq!(r.code(), "owner_not_allowed");
    let r = s1
        .post(
            "/api/leads/bulk/assign",
            json!({"ids": [mine.ids["lead"]], "owner_id": s1_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A lead a seller creates is theirs.
    let r = s1.post("/api/leads", json!({"name": "Walk-in"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["owner_id"], json!(s1_id));
}
