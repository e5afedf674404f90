//! Fidelity against Meta's official Python SDK (facebook-business).
//!
//! `tests/fixtures/sdk/requests.json` holds the exact HTTP requests the SDK made for six
//! everyday jobs (account list, campaigns with paging, an async insights report run with
//! polling and result paging, a batch of three, lead retrieval, WhatsApp template list),
//! captured once by `scripts/capture-sdk-requests.py`. This test replays them one by one, byte
//! for byte (method, path, query, content type, body), against a fresh in-process sandbox with
//! the same world, and checks the shape of every answer.
//!
//! Substitution rule, applied to the path, query and body of each request before it is sent:
//! - `{{ACCESS_TOKEN}}` becomes a token issued by this sandbox, and `{{APPSECRET_PROOF}}` its
//!   HMAC-SHA256 proof under the sandbox's app secret;
//! - `{{answer:N:PATH}}` becomes the value at PATH in this replay's answer to request N
//!   (0-based). PATH is dot-separated object keys and array indexes; when the path continues
//!   past a string that holds JSON (a batch item's `body`), that string is parsed. This is how
//!   ids, `report_run_id` and paging cursors that the SDK took from earlier answers are carried.
//!
//! Substituted values must be URL-safe (`[A-Za-z0-9_-]`), so they need no escaping wherever
//! the placeholder sits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use meta_sandbox::{Sandbox, SandboxConfig, TokenRequest, WorldSize};
use serde_json::Value;
use sha2::Sha256;

const FIXTURE: &str = include_str!("fixtures/sdk/requests.json");

struct Recorded {
    scenario: String,
    step: String,
    method: String,
    path: String,
    query: String,
    content_type: Option<String>,
    body: Option<String>,
    user_agent: Option<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(String::from)
}

fn load() -> (Value, Vec<Recorded>) {
    let doc: Value = serde_json::from_str(FIXTURE).expect("fixture is JSON");
    let requests = doc["requests"]
        .as_array()
        .expect("fixture has requests")
        .iter()
        .map(|r| Recorded {
            scenario: text(r, "scenario").unwrap(),
            step: text(r, "step").unwrap(),
            method: text(r, "method").unwrap(),
            path: text(r, "path").unwrap(),
            query: text(r, "query").unwrap_or_default(),
            content_type: text(r, "content_type"),
            body: text(r, "body"),
            user_agent: text(r, "user_agent"),
        })
        .collect();
    (doc["world"].clone(), requests)
}

/// The value at `path` in `answer` (see the module comment for the path syntax).
fn lookup(answer: &Value, path: &str) -> Option<String> {
    let mut cur = answer.clone();
    for seg in path.split('.') {
        if let Value::String(s) = &cur
            && let Ok(parsed) = serde_json::from_str::<Value>(s)
        {
            cur = parsed;
        }
        cur = match &cur {
            Value::Object(m) => m.get(seg)?.clone(),
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?.clone(),
            _ => return None,
        };
    }
    match cur {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn substitute(s: &str, token: &str, proof: &str, answers: &[Value]) -> String {
    let s = s
        .replace("{{ACCESS_TOKEN}}", token)
        .replace("{{APPSECRET_PROOF}}", proof);
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(start) = rest.find("{{answer:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "{{answer:".len()..];
        let end = after.find("}}").expect("placeholder is closed");
        let (n, path) = after[..end].split_once(':').expect("{{answer:N:PATH}}");
        let n: usize = n.parse().expect("answer index");
        assert!(
            n < answers.len(),
            "placeholder refers to a later answer: {n}"
        );
        let v = lookup(&answers[n], path)
            .unwrap_or_else(|| panic!("answer {n} has no {path}: {}", answers[n]));
        assert!(
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "substituted value {v:?} is not URL-safe"
        );
        out.push_str(&v);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn query_param(query: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn has_str(v: &Value, key: &str) -> bool {
    v.get(key)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

fn assert_fields(item: &Value, keys: &[&str], what: &str) {
    for k in keys {
        assert!(has_str(item, k), "{what}: missing string field {k}: {item}");
    }
}

fn data(answer: &Value, what: &str) -> Vec<Value> {
    answer["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no data array: {answer}"))
        .clone()
}

/// `actions` entries carry `value`, and each requested window; `value` is the 7-day click figure.
fn assert_actions(row: &Value, windows: &[&str], what: &str) {
    let actions = row["actions"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: row without actions: {row}"));
    assert!(!actions.is_empty(), "{what}: empty actions");
    let mut by_type: BTreeMap<String, &Value> = BTreeMap::new();
    for a in actions {
        assert_fields(a, &["action_type", "value"], what);
        for w in windows {
            assert!(has_str(a, w), "{what}: action without {w}: {a}");
        }
        if windows.contains(&"7d_click") {
            assert_eq!(a["value"], a["7d_click"], "{what}: value is 7d_click: {a}");
        }
        by_type.insert(text(a, "action_type").unwrap(), a);
    }
    // `lead` is the sum of its components in every window.
    if let Some(lead) = by_type.get("lead") {
        for w in std::iter::once(&"value").chain(windows) {
            let n = |t: &str| -> i64 {
                by_type
                    .get(t)
                    .and_then(|a| a[*w].as_str())
                    .map_or(0, |s| s.parse().unwrap())
            };
            assert_eq!(
                n("lead"),
                n("onsite_conversion.lead_grouped") + n("offsite_conversion.fb_pixel_lead"),
                "{what}: lead components in {w}: {lead}"
            );
        }
    }
}

/// Checks a batch answer: 3 items, each code 200 with a JSON body.
fn check_batch(answer: &Value) -> Vec<Value> {
    let items = answer.as_array().expect("a batch answers an array");
    assert_eq!(items.len(), 3, "batch of three: {answer}");
    items
        .iter()
        .map(|item| {
            assert_eq!(item["code"], 200, "batch item: {item}");
            assert!(item["headers"].is_array(), "batch item headers: {item}");
            let body: Value = serde_json::from_str(item["body"].as_str().expect("body string"))
                .expect("batch item body is JSON");
            assert!(body.get("error").is_none(), "batch item error: {body}");
            body
        })
        .collect()
}

#[tokio::test]
async fn official_sdk_requests_replay_with_the_right_shapes() {
    let (world, recorded) = load();
    let config = SandboxConfig {
        seed: world["seed"].as_u64().unwrap(),
        world: WorldSize::by_name(world["size"].as_str().unwrap()).unwrap(),
        today: Some(world["today"].as_str().unwrap().parse().unwrap()),
        ..Default::default()
    };
    let sb = Sandbox::start(config).await.unwrap();
    let token = sb.issue_token(TokenRequest::default()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(sb.app_secret().as_bytes()).unwrap();
    mac.update(token.as_bytes());
    let proof = hex::encode(mac.finalize().into_bytes());
    let http = reqwest::Client::new();

    let mut answers: Vec<Value> = vec![];
    // Paged sequences: (scenario/step, pages); a page without `after` starts a new sequence.
    let mut sequences: Vec<(String, Vec<Value>)> = vec![];
    // Report-run polls since the last result page: (async_status, percent).
    let mut polls: Vec<(String, i64)> = vec![];
    let mut seen = BTreeMap::<String, usize>::new();

    for (i, r) in recorded.iter().enumerate() {
        let what = format!("request {i} ({}/{})", r.scenario, r.step);
        let path = substitute(&r.path, &token, &proof, &answers);
        let query = substitute(&r.query, &token, &proof, &answers);
        let url = if query.is_empty() {
            format!("{}{path}", sb.base_url())
        } else {
            format!("{}{path}?{query}", sb.base_url())
        };
        let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
        let mut req = http.request(method, &url);
        if let Some(ct) = &r.content_type {
            req = req.header("content-type", ct);
        }
        if let Some(ua) = &r.user_agent {
            req = req.header("user-agent", ua);
        }
        if let Some(b) = &r.body {
            req = req.body(substitute(b, &token, &proof, &answers));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "{what}: {} {path}?{query}\n{answer}", r.method);
        assert!(answer.get("error").is_none(), "{what}: {answer}");
        *seen.entry(r.scenario.clone()).or_default() += 1;

        let paged = r.step.ends_with("_page");
        if paged {
            let key = format!("{}/{}", r.scenario, r.step);
            let starts = query_param(&query, "after").is_none();
            match sequences.last_mut() {
                Some((k, pages)) if *k == key && !starts => pages.push(answer.clone()),
                _ => sequences.push((key, vec![answer.clone()])),
            }
            if let Some(limit) = query_param(&query, "limit") {
                let limit: usize = limit.parse().unwrap();
                assert!(
                    data(&answer, &what).len() <= limit,
                    "{what}: page over limit"
                );
            }
        }

        match (r.scenario.as_str(), r.step.as_str()) {
            (_, "me_adaccounts") => {
                let accounts = data(&answer, &what);
                assert!(!accounts.is_empty(), "{what}: no ad accounts");
                for a in &accounts {
                    assert_fields(
                        a,
                        &["id", "account_id", "name", "currency", "timezone_name"],
                        &what,
                    );
                    assert!(a["id"].as_str().unwrap().starts_with("act_"), "{what}: {a}");
                    assert!(a["account_status"].is_i64(), "{what}: {a}");
                }
                assert!(answer["summary"]["total_count"].is_u64(), "{what}: summary");
            }
            (_, "campaigns_page") => {
                for c in data(&answer, &what) {
                    assert_fields(
                        &c,
                        &["id", "name", "status", "effective_status", "objective"],
                        &what,
                    );
                    let eff = c["effective_status"].as_str().unwrap();
                    assert!(
                        eff == "ACTIVE" || eff == "PAUSED",
                        "{what}: effective_status filter (a JSON-encoded list) ignored: {c}"
                    );
                }
                assert!(answer["summary"]["total_count"].is_u64(), "{what}: summary");
            }
            (_, "report_run_start") => {
                let id = text(&answer, "report_run_id").unwrap_or_default();
                assert!(
                    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
                    "{what}: {answer}"
                );
            }
            (_, "report_run_poll") => {
                assert!(has_str(&answer, "id"), "{what}: {answer}");
                let status = text(&answer, "async_status").expect("async_status");
                let pct = answer["async_percent_completion"]
                    .as_i64()
                    .expect("async_percent_completion");
                assert!((0..=100).contains(&pct), "{what}: {answer}");
                if let Some((_, last)) = polls.last() {
                    assert!(pct >= *last, "{what}: completion went backwards");
                }
                polls.push((status, pct));
            }
            (scenario, "report_run_result_page") => {
                if query_param(&query, "after").is_none() {
                    let last = polls.last().expect("polled before reading the result");
                    assert_eq!(
                        last,
                        &("Job Completed".to_string(), 100),
                        "{what}: result read after completion"
                    );
                    assert!(polls.len() >= 2, "{what}: the run went through states");
                    polls.clear();
                }
                for row in data(&answer, &what) {
                    assert_fields(
                        &row,
                        &["campaign_id", "spend", "date_start", "date_stop"],
                        &what,
                    );
                    if scenario == "async_insights" {
                        assert_fields(&row, &["campaign_name", "impressions", "clicks"], &what);
                        assert_eq!(row["date_start"], row["date_stop"], "{what}: daily rows");
                        let day = row["date_start"].as_str().unwrap();
                        assert!(
                            ("2026-03-04"..="2026-03-17").contains(&day),
                            "{what}: time_range (a JSON object) ignored: {day}"
                        );
                        assert_actions(&row, &["1d_view", "7d_click", "28d_click"], &what);
                    }
                }
                assert!(answer["paging"].is_object(), "{what}: paging");
            }
            (_, "batch") => {
                let bodies = check_batch(&answer);
                assert_fields(
                    &bodies[0],
                    &["id", "name", "currency", "amount_spent"],
                    &what,
                );
                let rows = data(&bodies[1], &what);
                assert!(!rows.is_empty(), "{what}: campaign insights rows");
                for row in &rows {
                    assert_fields(row, &["spend", "date_start", "date_stop"], &what);
                    assert_actions(row, &["1d_view", "7d_click"], &what);
                }
                assert!(
                    has_str(&bodies[2], "report_run_id"),
                    "{what}: {}",
                    bodies[2]
                );
            }
            (_, "me_accounts" | "leadgen_forms" | "me_businesses" | "owned_wabas") => {
                let items = data(&answer, &what);
                assert!(!items.is_empty(), "{what}: empty");
                for it in &items {
                    assert_fields(it, &["id", "name"], &what);
                }
            }
            (_, "leads_page") => {
                for lead in data(&answer, &what) {
                    assert_fields(&lead, &["id", "created_time", "form_id"], &what);
                    assert!(
                        lead["created_time"].as_str().unwrap() > "2026-03-11",
                        "{what}: filtering on time_created ignored: {lead}"
                    );
                    let fd = lead["field_data"].as_array().expect("field_data");
                    assert!(!fd.is_empty(), "{what}: {lead}");
                    for f in fd {
                        assert!(has_str(f, "name") && f["values"].is_array(), "{what}: {f}");
                    }
                }
            }
            (_, "templates_page") => {
                for t in data(&answer, &what) {
                    assert_fields(&t, &["id", "name", "language", "status", "category"], &what);
                    assert_eq!(t["status"], "APPROVED", "{what}: status list ignored: {t}");
                    let cat = t["category"].as_str().unwrap();
                    assert!(
                        cat == "UTILITY" || cat == "MARKETING",
                        "{what}: category list ignored: {t}"
                    );
                    assert!(t["components"].is_array(), "{what}: {t}");
                }
                assert!(answer["summary"]["total_count"].is_u64(), "{what}: summary");
            }
            (s, step) => panic!("{what}: no shape check for {s}/{step}"),
        }
        answers.push(answer);
    }

    // Paging: every page but the last of a sequence links `next`; the last does not.
    for (key, pages) in &sequences {
        for (n, page) in pages.iter().enumerate() {
            let has_next = page["paging"]["next"].is_string();
            let last = n + 1 == pages.len();
            assert_eq!(has_next, !last, "{key} page {n} of {}: {page}", pages.len());
            if !data(page, key).is_empty() {
                assert!(
                    page["paging"]["cursors"]["after"].is_string(),
                    "{key}: cursors"
                );
            }
        }
        if let Some(total) = pages[0]["summary"]["total_count"].as_u64() {
            let n: usize = pages.iter().map(|p| data(p, key).len()).sum();
            assert_eq!(
                n as u64, total,
                "{key}: pages add up to summary.total_count"
            );
        }
    }
    let multi: Vec<&String> = sequences
        .iter()
        .filter(|(_, p)| p.len() > 1)
        .map(|(k, _)| k)
        .collect();
    for key in [
        "campaigns/campaigns_page",
        "async_insights/report_run_result_page",
        "leads/leads_page",
        "templates/templates_page",
    ] {
        assert!(
            multi.iter().any(|k| *k == key),
            "{key} is replayed over several pages"
        );
    }
    for scenario in [
        "accounts",
        "campaigns",
        "async_insights",
        "batch",
        "leads",
        "templates",
    ] {
        assert!(seen.contains_key(scenario), "fixture covers {scenario}");
    }
    sb.shutdown().await;
}
