//! The API's error answers, as an outside client meets them: every one is the
//! JSON envelope, and every status an operation answers is listed for it in
//! the OpenAPI document. Walks the document, so a new operation is covered
//! without touching this file. (The property-based fuzzer in
//! `scripts/contract-test.sh` goes further; this runs with `cargo test`.)

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn method_of(m: &str) -> Method {
    Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap()
}

/// Resolves `$ref` to a shared response.
fn documented(doc: &Value, op: &Value, status: u16) -> bool {
    op["responses"].get(status.to_string()).is_some() || (status == 405 && doc["paths"].is_object())
}

fn assert_envelope(r: &Resp, what: &str) {
    assert!(
        r.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "{what}: not JSON: {:?} {:?}",
        r.headers.get("content-type"),
        r.body
    );
    assert!(
        r.body["error"]["code"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
            && r.body["error"]["message"].is_string(),
        "{what}: not the error envelope: {}",
        r.body
    );
}

fn fill(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => {
                in_param = true;
                out.push_str(value);
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

fn uuid_path_params(op: &Value) -> bool {
    op["parameters"].as_array().is_some_and(|ps| {
        ps.iter()
            .any(|p| p["in"] == "path" && p["schema"]["format"] == "uuid")
    })
}

#[tokio::test]
async fn malformed_path_ids_answer_400_in_the_envelope_and_are_documented() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let doc = ceo.get("/api/openapi.json").await.body;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            if !METHODS.contains(&m.as_str()) || !uuid_path_params(op) {
                continue;
            }
            let url = fill(path, "not-a-uuid");
            let body = (m != "get" && m != "delete").then(|| serde_json::json!({}));
            let r = ceo.req(method_of(m), &url, body).await;
            let what = format!("{m} {url}");
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.body);
            assert_envelope(&r, &what);
            assert_eq!(r.code(), "invalid_path", "{what}");
            assert!(documented(&doc, op, 400), "{what}: 400 is not documented");
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "only {checked} operations take a uuid in the path"
    );
}

#[tokio::test]
async fn every_authenticated_operation_documents_401_403_and_429() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let anon = Client::new(&app);
    let doc = ceo.get("/api/openapi.json").await.body;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            if !METHODS.contains(&m.as_str()) {
                continue;
            }
            let public = op["security"].as_array().is_some_and(|reqs| {
                reqs.iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            if public {
                continue;
            }
            let url = fill(path, "01a1ffa3-0000-7000-8000-000000000001");
            let r = anon.req(method_of(m), &url, None).await;
            let what = format!("{m} {path}");
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
            assert_envelope(&r, &what);
            for status in [401, 403, 429] {
                assert!(
                    documented(&doc, op, status),
                    "{what}: {status} is not documented"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 80, "only {checked} authenticated operations");
}

#[tokio::test]
async fn bad_bodies_answer_in_the_envelope_with_documented_statuses() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let doc = ceo.get("/api/openapi.json").await.body;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let json_body = op["requestBody"]["content"]
                .get("application/json")
                .is_some();
            if !METHODS.contains(&m.as_str()) || !json_body {
                continue;
            }
            let url = fill(path, "01a1ffa3-0000-7000-8000-000000000001");
            let what = format!("{m} {path}");
            // Not JSON at all.
            let mut rb = ceo
                .http
                .request(method_of(m), format!("{}{}", ceo.base, url))
                .header("content-type", "application/json")
                .body("{not json");
            if let Some(c) = &ceo.csrf {
                rb = rb.header("x-csrf-token", c);
            }
            let r = to_resp(rb.send().await.unwrap()).await;
            assert_envelope(&r, &what);
            assert!(
                documented(&doc, op, r.status.as_u16()),
                "{what}: answered {} to a body that is not JSON, undocumented: {}",
                r.status,
                r.body
            );
            // JSON sent as text/plain.
            let mut rb = ceo
                .http
                .request(method_of(m), format!("{}{}", ceo.base, url))
                .header("content-type", "text/plain")
                .body("{}");
            if let Some(c) = &ceo.csrf {
                rb = rb.header("x-csrf-token", c);
            }
            let r = to_resp(rb.send().await.unwrap()).await;
            assert_envelope(&r, &what);
            assert!(
                documented(&doc, op, r.status.as_u16()),
                "{what}: answered {} to a text/plain body, undocumented: {}",
                r.status,
                r.body
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} operations take a JSON body");
}

async fn to_resp(r: reqwest::Response) -> Resp {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn a_known_path_with_another_method_answers_405_in_the_envelope() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let r = ceo.req(Method::PUT, "/api/leads", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&r, "PUT /api/leads");
    assert_eq!(r.code(), "method_not_allowed");
    let allow = r
        .headers
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_answers_413_in_the_envelope() {
    let app = spawn_app_with(&["--body-limit-bytes", "4096", "--upload-limit-bytes", "8192"]).await;
    let ceo = setup_ceo(&app).await;
    // Over the JSON limit.
    let big = serde_json::json!({"name": "x".repeat(6000)});
    let r = ceo.post("/api/leads", big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_envelope(&r, "large JSON body");
    // Over the upload limit (the request-wide layer answers).
    let mut rb = ceo
        .http
        .post(format!("{}/api/leads/import", ceo.base))
        .header("content-type", "text/csv")
        .body("name\n".to_owned() + &"Ana\n".repeat(5000));
    if let Some(c) = &ceo.csrf {
        rb = rb.header("x-csrf-token", c);
    }
    let r = to_resp(rb.send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_envelope(&r, "large upload");
    assert_eq!(r.code(), "payload_too_large");
}

#[tokio::test]
async fn out_of_range_numbers_answer_400_in_the_envelope() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    for url in [
        "/api/webhooks/inbox?limit=9223372036854775808",
        "/api/webhooks/inbox?limit=-1",
        "/api/webhooks/inbox?limit=0",
        "/api/leads?limit=100000",
        "/api/audit?limit=0",
    ] {
        let r = ceo.get(url).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.body);
        assert_envelope(&r, url);
        assert_eq!(r.code(), "invalid_query", "{url}");
    }
}
