use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing;
use hmac::{Hmac, Mac};
use meta_sandbox::{Sandbox, SandboxConfig, TokenRequest};
use serde_json::Value;
use sha2::Sha256;

pub fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 18).unwrap()
}

pub async fn start() -> Sandbox {
    Sandbox::start(SandboxConfig {
        enable_control: true,
        today: Some(today()),
        ..Default::default()
    })
    .await
    .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn token(sb: &Sandbox) -> String {
    sb.issue_token(TokenRequest::default()).unwrap()
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

pub async fn get(c: &reqwest::Client, url: &str) -> Resp {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let json = r.json().await.unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        json,
    }
}

pub async fn post_form(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Resp {
    let r = c.post(url).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let json = r.json().await.unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        json,
    }
}

pub async fn post_json(c: &reqwest::Client, url: &str, body: &Value) -> Resp {
    let r = c.post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let json = r.json().await.unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        json,
    }
}

/// Asserts Meta's error envelope and returns (code, subcode).
pub fn assert_error(r: &Resp) -> (i64, Option<i64>) {
    assert_eq!(
        r.status, 400,
        "Graph errors come back as HTTP 400: {}",
        r.json
    );
    let e = &r.json["error"];
    assert!(e["message"].is_string(), "error.message: {}", r.json);
    assert!(e["type"].is_string(), "error.type: {}", r.json);
    assert!(
        e["fbtrace_id"].as_str().is_some_and(|s| !s.is_empty()),
        "error.fbtrace_id: {}",
        r.json
    );
    (
        e["code"].as_i64().expect("error.code is an integer"),
        e["error_subcode"].as_i64(),
    )
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub body: Bytes,
    pub signature: Option<String>,
    pub legacy_signature: Option<String>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    fail_first: Arc<Mutex<usize>>,
    verify_token: String,
}

impl Receiver {
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
    /// Waits until `pred` holds for the JSON bodies received, or panics after 5 s.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..250 {
            let bodies: Vec<Value> = self
                .hits()
                .iter()
                .map(|h| serde_json::from_slice(&h.body).unwrap())
                .collect();
            if pred(&bodies) {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "timed out waiting for webhooks: {what}; got {:?}",
            self.hits().len()
        );
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let legacy = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    r.hits.lock().unwrap().push(Hit {
        body,
        signature: sig,
        legacy_signature: legacy,
    });
    let mut f = r.fail_first.lock().unwrap();
    if *f > 0 {
        *f -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

async fn verify(
    State(r): State<Receiver>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> (StatusCode, String) {
    if q.get("hub.mode").map(|s| s.as_str()) == Some("subscribe")
        && q.get("hub.verify_token") == Some(&r.verify_token)
    {
        (
            StatusCode::OK,
            q.get("hub.challenge").cloned().unwrap_or_default(),
        )
    } else {
        (StatusCode::FORBIDDEN, String::new())
    }
}

/// A webhook endpoint that records deliveries; the first `fail_first` POSTs get HTTP 500.
pub async fn receiver(verify_token: &str, fail_first: usize) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let r = Receiver {
        url: format!("http://{addr}/webhook"),
        hits: Arc::new(Mutex::new(vec![])),
        fail_first: Arc::new(Mutex::new(fail_first)),
        verify_token: verify_token.to_string(),
    };
    let app = Router::new()
        .route("/webhook", routing::get(verify).post(receive))
        .with_state(r.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    r
}

pub fn signature_ok(secret: &str, hit: &Hit) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&hit.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    hit.signature.as_deref() == Some(expected.as_str())
}

/// Points the sandbox's webhooks at a receiver and turns off the subscription requirement unless asked.
pub async fn hook(c: &reqwest::Client, sb: &Sandbox, r: &Receiver, require_subscription: bool) {
    let res = post_json(
        c,
        &format!("{}/_sandbox/config", sb.base_url()),
        &serde_json::json!({"webhook_url": r.url, "require_subscription": require_subscription, "status_delay_ms": 5, "webhook_retry_base_ms": 20}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.json);
}

pub fn legacy_signature_ok(secret: &str, hit: &Hit) -> bool {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&hit.body);
    let expected = format!("sha1={}", hex::encode(mac.finalize().into_bytes()));
    hit.legacy_signature.as_deref() == Some(expected.as_str())
}
