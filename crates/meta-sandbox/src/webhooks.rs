//! The webhook emitter: signed POSTs with retries, and the `hub.challenge` handshake client.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::{GResult, GraphError};
use crate::server::{App, GraphReq};
use crate::state::{Attempt, WebhookRecord};
use crate::util::hmac_sha256_hex;

/// Records a webhook and delivers it in the background. `subscribed` = whether the object
/// is subscribed to the app (Meta only sends for subscribed Pages/WABAs).
pub fn emit(app: &App, object: &str, field: &str, payload: &Value, subscribed: bool) -> u64 {
    let body = payload.to_string();
    let signature = format!(
        "sha256={}",
        hmac_sha256_hex(app.config.app_secret.as_bytes(), body.as_bytes())
    );
    let mut st = app.lock();
    let id = st.next_id();
    let url = st
        .app_subscriptions
        .get(object)
        .map(|(u, _)| u.clone())
        .or_else(|| st.runtime.webhook_url.clone());
    let require = st.runtime.require_subscription;
    let state = if require && !subscribed {
        "not_subscribed"
    } else if url.is_none() {
        "no_webhook_url"
    } else {
        "pending"
    };
    st.webhooks.push(WebhookRecord {
        id,
        object: object.to_string(),
        field: field.to_string(),
        url: url.clone(),
        body: body.clone(),
        signature_256: signature.clone(),
        state: state.to_string(),
        attempts: vec![],
        created_at: app.now(),
    });
    drop(st);
    if state == "pending"
        && let Some(url) = url
    {
        let app = app.clone();
        tokio::spawn(async move { deliver(app, id, url, body, signature).await });
    }
    id
}

async fn deliver(app: App, id: u64, url: String, body: String, signature: String) {
    let legacy = format!(
        "sha1={}",
        crate::util::hmac_sha1_hex(app.config.app_secret.as_bytes(), body.as_bytes())
    );
    let (max, base) = {
        let st = app.lock();
        (
            st.runtime.webhook_max_attempts.max(1),
            st.runtime.webhook_retry_base_ms,
        )
    };
    for attempt in 1..=max {
        let started = Instant::now();
        let res = app
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &signature)
            .header("x-hub-signature", &legacy)
            .header("user-agent", "facebookexternalua")
            .body(body.clone())
            .send()
            .await;
        let (status, error, response_body) = match res {
            Ok(r) => {
                let s = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (
                    Some(s),
                    None,
                    Some(text.chars().take(500).collect::<String>()),
                )
            }
            Err(e) => (None, Some(e.to_string()), None),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        {
            let mut st = app.lock();
            if let Some(rec) = st.webhooks.iter_mut().find(|w| w.id == id) {
                rec.attempts.push(Attempt {
                    at_ms: app.now_ms(),
                    status,
                    error,
                    response_body,
                    duration_ms: started.elapsed().as_millis() as u64,
                });
                rec.state = if ok {
                    "delivered".into()
                } else if attempt == max {
                    "failed".into()
                } else {
                    "retrying".into()
                };
            }
        }
        if ok {
            return;
        }
        if attempt < max {
            let wait = base.saturating_mul(1u64 << (attempt - 1).min(16));
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

/// Meta's verification request: GET with hub.mode/hub.verify_token/hub.challenge; the
/// endpoint must answer 200 with the challenge as the body.
pub async fn handshake(app: &App, url: &str, verify_token: &str) -> Result<(), String> {
    let challenge = format!(
        "{}",
        crate::util::mix(app.now() as u64 ^ app.world.seed) % 1_000_000_000
    );
    let res = app
        .http
        .get(url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", challenge.as_str()),
            ("hub.verify_token", verify_token),
        ])
        .send()
        .await
        .map_err(|e| format!("could not reach callback URL: {e}"))?;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    if status != 200 {
        return Err(format!(
            "callback answered HTTP {status} to the verification request"
        ));
    }
    if text.trim() != challenge {
        return Err("callback did not echo hub.challenge".to_string());
    }
    Ok(())
}

/// `POST /{app-id}/subscriptions` (app token): object, callback_url, fields, verify_token.
pub async fn app_subscribe(app: &App, req: &GraphReq) -> GResult<Value> {
    let object = req
        .param("object")
        .ok_or_else(|| GraphError::param("The parameter object is required"))?
        .to_string();
    if !matches!(
        object.as_str(),
        "page" | "whatsapp_business_account" | "user" | "application" | "permissions"
    ) {
        return Err(GraphError::param(format!(
            "Param object must be one of {{page, whatsapp_business_account, user, application, permissions}}, got '{object}'"
        )));
    }
    let url = req
        .param("callback_url")
        .ok_or_else(|| GraphError::param("The parameter callback_url is required"))?
        .to_string();
    let fields = crate::params::list(&req.params, "fields")?.unwrap_or_default();
    if fields.is_empty() {
        return Err(GraphError::param("The parameter fields is required"));
    }
    let token = req.param("verify_token").unwrap_or("").to_string();
    if let Err(msg) = handshake(app, &url, &token).await {
        return Err(GraphError::param(format!(
            "The URL couldn't be validated. Response does not match challenge: {msg}"
        ))
        .with_subcode(2200));
    }
    let mut st = app.lock();
    st.app_subscriptions.insert(object, (url, fields));
    Ok(json!({"success": true}))
}
