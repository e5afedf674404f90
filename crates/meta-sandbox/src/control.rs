//! The control API under `/_sandbox/` (only when enabled): faults, tokens, reviews, inbound, leads.

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::error::{GResult, GraphError};
use crate::server::App;
use crate::state::{Fault, FaultKind, LeadRec};

pub fn router() -> Router<App> {
    Router::new()
        .route("/reset", post(reset))
        .route("/world", get(world))
        .route("/config", get(get_config).post(set_config))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/tokens", post(issue_token))
        .route("/tokens/expire", post(expire_tokens))
        .route("/tokens/invalidate", post(invalidate_tokens))
        .route("/templates/{id}/review", post(review_template))
        .route("/templates/{id}/quality", post(template_quality))
        .route("/templates/{id}/category", post(template_category))
        .route("/inbound", post(inbound))
        .route("/user-preferences", post(user_preferences))
        .route("/leads", post(create_lead))
        .route("/restate", post(restate))
        .route("/messages/{wamid}/status", post(message_status))
        .route("/received/messages", get(received_messages))
        .route("/received/capi", get(received_capi))
        .route("/received/webhooks", get(received_webhooks))
        .route("/received/requests", get(received_requests))
}

fn reply(r: GResult<Value>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(e.to_json("sandbox-control"))).into_response(),
    }
}

fn body_json(b: &Bytes) -> GResult<Value> {
    if b.iter().all(|c| c.is_ascii_whitespace()) {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(b)
        .map_err(|e| GraphError::param(format!("body must be JSON: {e}")))?;
    if !v.is_object() {
        return Err(GraphError::param("body must be a JSON object"));
    }
    Ok(v)
}

async fn reset(AxState(app): AxState<App>) -> Response {
    app.reset();
    reply(Ok(json!({"success": true})))
}

async fn world(AxState(app): AxState<App>) -> Response {
    let summary = serde_json::to_value(app.world.summary()).unwrap_or(Value::Null);
    reply(Ok(summary))
}

async fn get_config(AxState(app): AxState<App>) -> Response {
    let rt = app.lock().runtime.clone();
    reply(Ok(serde_json::to_value(rt).unwrap_or(Value::Null)))
}

async fn set_config(AxState(app): AxState<App>, b: Bytes) -> Response {
    reply(set_config_inner(&app, b).await)
}

async fn set_config_inner(app: &App, b: Bytes) -> GResult<Value> {
    let v = body_json(&b)?;
    let mut rt = app.lock().runtime.clone();
    let u64_of = |k: &str| v.get(k).and_then(|x| x.as_u64());
    if let Some(t) = v.get("webhook_verify_token") {
        rt.webhook_verify_token = t.as_str().map(String::from);
    }
    if let Some(x) = v.get("template_review_delay_ms") {
        rt.template_review_delay_ms = x.as_u64();
    }
    if let Some(x) = u64_of("status_delay_ms") {
        rt.status_delay_ms = x;
    }
    if let Some(m) = v.get("status_mode").and_then(|x| x.as_str()) {
        if !matches!(m, "ordered" | "shuffled" | "duplicate" | "sent_only") {
            return Err(GraphError::param(
                "status_mode must be ordered, shuffled, duplicate or sent_only",
            ));
        }
        rt.status_mode = m.to_string();
    }
    let set_u32 = |k: &str, target: &mut u32| {
        if let Some(x) = v.get(k).and_then(|x| x.as_u64()) {
            *target = x.min(u64::from(u32::MAX)) as u32;
        }
    };
    set_u32("messages_per_second", &mut rt.messages_per_second);
    set_u32("pair_messages_per_minute", &mut rt.pair_messages_per_minute);
    set_u32("app_calls_per_window", &mut rt.app_calls_per_window);
    set_u32("account_calls_per_window", &mut rt.account_calls_per_window);
    set_u32("user_calls_per_window", &mut rt.user_calls_per_window);
    set_u32("webhook_max_attempts", &mut rt.webhook_max_attempts);
    set_u32("report_run_polls", &mut rt.report_run_polls);
    if let Some(x) = u64_of("webhook_retry_base_ms") {
        rt.webhook_retry_base_ms = x;
    }
    if let Some(x) = v.get("async_policy_errors").and_then(|x| x.as_bool()) {
        rt.async_policy_errors = x;
    }
    if let Some(x) = v.get("auto_restate_every") {
        rt.auto_restate_every = x
            .as_u64()
            .filter(|n| *n > 0)
            .map(|n| n.min(u64::from(u32::MAX)) as u32);
    }
    if let Some(x) = v.get("require_appsecret_proof").and_then(|x| x.as_bool()) {
        rt.require_appsecret_proof = x;
    }
    if let Some(x) = v.get("require_subscription").and_then(|x| x.as_bool()) {
        rt.require_subscription = x;
    }
    let mut handshake = "skipped".to_string();
    if let Some(u) = v.get("webhook_url") {
        match u.as_str() {
            Some(url) => {
                if let Some(token) = rt.webhook_verify_token.clone() {
                    crate::webhooks::handshake(app, url, &token)
                        .await
                        .map_err(|e| {
                            GraphError::param(format!("webhook verification failed: {e}"))
                                .with_subcode(2200)
                        })?;
                    handshake = "ok".into();
                }
                rt.webhook_url = Some(url.to_string());
            }
            None => rt.webhook_url = None,
        }
    }
    app.lock().runtime = rt.clone();
    let mut out = serde_json::to_value(rt).unwrap_or(Value::Null);
    out["handshake"] = json!(handshake);
    Ok(out)
}

async fn list_faults(AxState(app): AxState<App>) -> Response {
    let st = app.lock();
    let list: Vec<Value> = st
        .faults
        .iter()
        .map(|f| {
            let kind = match &f.kind {
                FaultKind::Error(e) => {
                    json!({"kind": "error", "code": e.code, "subcode": e.subcode})
                }
                FaultKind::Latency(ms) => json!({"kind": "latency", "ms": ms}),
                FaultKind::Throttle(c) => json!({"kind": "throttle", "code": c}),
                FaultKind::NullBatch => json!({"kind": "null_batch"}),
                FaultKind::TokenExpired => json!({"kind": "token_expired"}),
                FaultKind::TokenInvalid => json!({"kind": "token_invalid"}),
            };
            json!({"path": f.path, "remaining": f.remaining, "method": f.method, "fault": kind})
        })
        .collect();
    reply(Ok(json!({"data": list})))
}

async fn add_fault(AxState(app): AxState<App>, b: Bytes) -> Response {
    reply((|| {
        let v = body_json(&b)?;
        let path = v
            .get("path")
            .and_then(|x| x.as_str())
            .ok_or_else(|| {
                GraphError::param(
                    "path is required (substring of the request path, e.g. \"/insights\")",
                )
            })?
            .to_string();
        let count = v.get("count").and_then(|x| x.as_u64()).unwrap_or(1).max(1) as u32;
        let kind_name = v.get("kind").and_then(|x| x.as_str()).unwrap_or("error");
        let src = v.get("error").filter(|e| e.is_object()).unwrap_or(&v);
        let kind = match kind_name {
            "error" => {
                let code = src
                    .get("code")
                    .and_then(|x| x.as_i64())
                    .ok_or_else(|| GraphError::param("error faults need code"))?;
                let kind = src
                    .get("type")
                    .and_then(|x| x.as_str())
                    .unwrap_or("OAuthException");
                let msg = src
                    .get("message")
                    .and_then(|x| x.as_str())
                    .map(String::from)
                    .unwrap_or_else(|| format!("(#{code}) Injected error from the Meta sandbox"));
                let mut e = GraphError::new(code, kind, msg);
                if let Some(s) = src
                    .get("subcode")
                    .or_else(|| src.get("error_subcode"))
                    .and_then(|x| x.as_i64())
                {
                    e = e.with_subcode(s);
                }
                if let Some(s) = src.get("http_status").and_then(|x| x.as_u64()) {
                    e = e.status(s as u16);
                }
                if let Some(d) = src.get("details").and_then(|x| x.as_str()) {
                    e = e.details(d);
                }
                if matches!(code, 1 | 2) {
                    e = e.transient();
                }
                FaultKind::Error(e)
            }
            "latency" => FaultKind::Latency(
                src.get("ms")
                    .and_then(|x| x.as_u64())
                    .ok_or_else(|| GraphError::param("latency faults need ms"))?,
            ),
            "throttle" => FaultKind::Throttle(src.get("code").and_then(|x| x.as_i64())),
            "null_batch" => FaultKind::NullBatch,
            "token_expired" => FaultKind::TokenExpired,
            "token_invalid" => FaultKind::TokenInvalid,
            other => {
                return Err(GraphError::param(format!(
                    "unknown fault kind '{other}' (error, latency, throttle, null_batch, token_expired, token_invalid)"
                )));
            }
        };
        let method = v
            .get("method")
            .and_then(|x| x.as_str())
            .map(|s| s.to_uppercase());
        app.lock().faults.push(Fault {
            path,
            remaining: count,
            kind,
            method,
        });
        Ok(json!({"success": true}))
    })())
}

async fn clear_faults(AxState(app): AxState<App>) -> Response {
    app.lock().faults.clear();
    reply(Ok(json!({"success": true})))
}

fn user_index(app: &App, v: &Value) -> GResult<usize> {
    match v.get("user") {
        None => Ok(0),
        Some(Value::Number(n)) => {
            let i = n.as_u64().unwrap_or(u64::MAX) as usize;
            if i < app.world.users.len() {
                Ok(i)
            } else {
                Err(GraphError::param("user index out of range"))
            }
        }
        Some(Value::String(s)) => app
            .world
            .users
            .iter()
            .position(|u| &u.id == s)
            .ok_or_else(|| GraphError::param(format!("unknown user {s}"))),
        _ => Err(GraphError::param("user must be an index or a user id")),
    }
}

async fn issue_token(AxState(app): AxState<App>, b: Bytes) -> Response {
    reply((|| {
        let v = body_json(&b)?;
        let user = user_index(&app, &v)?;
        let scopes: Vec<String> = match v.get("scopes").and_then(|s| s.as_array()) {
            Some(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            None => crate::oauth::ALL_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        let expires_in = v.get("expires_in").and_then(|x| x.as_i64());
        let lifetime = expires_in.unwrap_or(crate::oauth::LONG_LIVED_SECS);
        let token =
            crate::oauth::issue_user_token(&app, user, scopes, lifetime, expires_in.is_none());
        Ok(
            json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime, "user_id": app.world.users[user].id}),
        )
    })())
}

fn mutate_tokens(
    app: &App,
    v: &Value,
    f: impl Fn(&mut crate::state::TokenRec, i64),
) -> GResult<Value> {
    let now = app.now();
    let all = v.get("all").and_then(|x| x.as_bool()).unwrap_or(false);
    let token = v.get("token").and_then(|x| x.as_str());
    let mut st = app.lock();
    let mut n = 0;
    if all {
        for r in st.tokens.values_mut() {
            f(r, now);
            n += 1;
        }
    } else if let Some(t) = token {
        let r = st
            .tokens
            .get_mut(t)
            .ok_or_else(|| GraphError::param("unknown token"))?;
        f(r, now);
        n = 1;
    } else {
        return Err(GraphError::param(
            "send {\"token\": \"...\"} or {\"all\": true}",
        ));
    }
    Ok(json!({"success": true, "affected": n}))
}

async fn expire_tokens(AxState(app): AxState<App>, b: Bytes) -> Response {
    reply(body_json(&b).and_then(|v| mutate_tokens(&app, &v, |r, now| r.expires_at = now - 1)))
}

async fn invalidate_tokens(AxState(app): AxState<App>, b: Bytes) -> Response {
    reply(body_json(&b).and_then(|v| mutate_tokens(&app, &v, |r, _| r.invalidated = true)))
}

fn template_idx(app: &App, id: &str, v: &Value) -> GResult<usize> {
    let st = app.lock();
    if let Some(i) = st.template_index.get(id) {
        return Ok(*i);
    }
    let lang = v.get("language").and_then(|x| x.as_str());
    st.templates
        .iter()
        .position(|t| !t.deleted && t.name == id && lang.is_none_or(|l| t.language == l))
        .ok_or_else(|| GraphError::param(format!("no template with id or name '{id}'")))
}

async fn review_template(AxState(app): AxState<App>, Path(id): Path<String>, b: Bytes) -> Response {
    reply((|| {
        let v = body_json(&b)?;
        let idx = template_idx(&app, &id, &v)?;
        let status = v
            .get("status")
            .and_then(|x| x.as_str())
            .unwrap_or("APPROVED")
            .to_uppercase();
        crate::whatsapp::set_template_status(
            &app,
            idx,
            &status,
            v.get("reason").and_then(|x| x.as_str()),
        )
    })())
}

async fn template_quality(
    AxState(app): AxState<App>,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    reply((|| {
        let v = body_json(&b)?;
        let idx = template_idx(&app, &id, &v)?;
        let score = v
            .get("score")
            .and_then(|x| x.as_str())
            .ok_or_else(|| GraphError::param("score is required"))?
            .to_uppercase();
        crate::whatsapp::set_template_quality(&app, idx, &score)
    })())
}

async fn template_category(
    AxState(app): AxState<App>,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    reply((|| {
        let v = body_json(&b)?;
        let idx = template_idx(&app, &id, &v)?;
        let c = v
            .get("category")
            .and_then(|x| x.as_str())
            .ok_or_else(|| GraphError::param("category is required"))?
            .to_uppercase();
        crate::whatsapp::set_template_category(&app, idx, &c)
    })())
}

async fn inbound(AxState(app): AxState<App>, b: Bytes) -> Response {
    reply(body_json(&b).and_then(|v| crate::whatsapp::inbound(&app, &v)))
}

async fn user_preferences(AxState(app): AxState<App>, b: Bytes) -> Response {
    reply(body_json(&b).and_then(|v| crate::whatsapp::user_preferences(&app, &v)))
}

async fn create_lead(AxState(app): AxState<App>, b: Bytes) -> Response {
    reply(body_json(&b).and_then(|v| create_lead_inner(&app, &v)))
}

/// Creates a Lead Ads lead now and emits the `leadgen` webhook.
pub fn create_lead_inner(app: &App, v: &Value) -> GResult<Value> {
    let w = &app.world;
    let ad = match v.get("ad_id") {
        Some(Value::String(id)) => Some(
            w.ads
                .iter()
                .position(|a| &a.id == id)
                .ok_or_else(|| GraphError::param(format!("unknown ad_id {id}")))?,
        ),
        Some(Value::Null) => None,
        Some(_) => return Err(GraphError::param("ad_id must be a string")),
        None => None,
    };
    let form = match v.get("form_id").and_then(|x| x.as_str()) {
        Some(id) => w
            .forms
            .iter()
            .position(|f| f.id == id)
            .ok_or_else(|| GraphError::param(format!("unknown form_id {id}")))?,
        None => ad.and_then(|a| w.ads[a].form).unwrap_or_default(),
    };
    // Without an explicit ad, credit an ad that uses this form (unless organic is asked for).
    let organic = v.get("organic").and_then(|x| x.as_bool()).unwrap_or(false)
        || matches!(v.get("ad_id"), Some(Value::Null));
    let ad = if ad.is_none() && !organic {
        w.ads.iter().position(|a| a.form == Some(form))
    } else {
        ad
    };
    let now = app.now();
    let created = v
        .get("created_time")
        .and_then(|x| x.as_i64())
        .unwrap_or(now);
    let mut st = app.lock();
    let n = st.next_id();
    let mut field_data: Vec<(String, Vec<String>)> = w.forms[form]
        .questions
        .iter()
        .map(|q| {
            let val = match q.kind {
                "FULL_NAME" => format!("Lead Sandbox {n}"),
                "EMAIL" => format!("lead{n}@example.com"),
                "PHONE" => format!("+54911{:08}", crate::util::mix(n) % 100_000_000),
                _ => "Premium".to_string(),
            };
            (q.key.clone(), vec![val])
        })
        .collect();
    if let Some(fields) = v.get("fields").and_then(|x| x.as_object()) {
        for (k, val) in fields {
            let vals: Vec<String> = match val {
                Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect(),
                Value::String(s) => vec![s.clone()],
                other => vec![other.to_string()],
            };
            match field_data.iter_mut().find(|(key, _)| key == k) {
                Some(slot) => slot.1 = vals,
                None => field_data.push((k.clone(), vals)),
            }
        }
    }
    let id = st.new_lead_id(w.seed);
    st.insert_lead(LeadRec {
        id: id.clone(),
        form,
        ad,
        created_time: created,
        field_data,
        platform: "fb",
    });
    let page = w.forms[form].page;
    let subscribed = st
        .page_subscriptions
        .get(&page)
        .is_some_and(|f| f.iter().any(|x| x == "leadgen"));
    drop(st);
    let mut value = json!({"leadgen_id": id, "page_id": w.pages[page].id, "form_id": w.forms[form].id, "created_time": created});
    if let Some(a) = ad {
        value["ad_id"] = json!(w.ads[a].id);
        value["adgroup_id"] = json!(w.ads[a].id);
    }
    let payload = json!({"object": "page", "entry": [{"id": w.pages[page].id, "time": now, "changes": [{"field": "leadgen", "value": value}]}]});
    let webhook_id = crate::webhooks::emit(app, "page", "leadgen", &payload, subscribed);
    Ok(json!({
        "leadgen_id": id,
        "form_id": w.forms[form].id,
        "page_id": w.pages[page].id,
        "ad_id": ad.map(|a| w.ads[a].id.clone()),
        "webhook_id": webhook_id,
        "page_subscribed": subscribed,
    }))
}

async fn restate(AxState(app): AxState<App>, b: Bytes) -> Response {
    reply((|| {
        let v = body_json(&b)?;
        let days = v.get("days_back").and_then(|x| x.as_i64()).unwrap_or(28);
        let factor = v
            .get("factor")
            .and_then(|x| x.as_f64())
            .ok_or_else(|| GraphError::param("factor is required, e.g. 0.97"))?;
        if !((1..=3650).contains(&days) && factor > 0.0 && factor <= 10.0) {
            return Err(GraphError::param(
                "days_back must be 1..3650 and factor in (0, 10]",
            ));
        }
        let w = &app.world;
        let from = w.day_of(w.end_date) - days + 1;
        app.lock().restatements.push((from, factor));
        Ok(json!({"success": true, "from_date": crate::util::fmt_date(w.date_of(from))}))
    })())
}

async fn message_status(
    AxState(app): AxState<App>,
    Path(wamid): Path<String>,
    b: Bytes,
) -> Response {
    reply((|| {
        let v = body_json(&b)?;
        let status = v
            .get("status")
            .and_then(|x| x.as_str())
            .ok_or_else(|| GraphError::param("status is required"))?;
        if !matches!(status, "sent" | "delivered" | "read" | "failed" | "played") {
            return Err(GraphError::param(
                "status must be sent, delivered, read, played or failed",
            ));
        }
        let err = if status == "failed" {
            let code = v
                .get("error_code")
                .and_then(|x| x.as_i64())
                .unwrap_or(131026);
            let title = v
                .get("error_title")
                .and_then(|x| x.as_str())
                .unwrap_or("Message undeliverable");
            let mut e = GraphError::whatsapp(
                code,
                &format!("({code}) {title}"),
                v.get("details").and_then(|x| x.as_str()).unwrap_or(title),
            );
            e.user_title = Some(title.to_string());
            Some(e)
        } else {
            None
        };
        let id = crate::whatsapp::emit_status(&app, &wamid, status, err.as_ref())?;
        Ok(json!({"success": true, "webhook_id": id}))
    })())
}

async fn received_messages(AxState(app): AxState<App>) -> Response {
    let st = app.lock();
    reply(Ok(json!({"data": st.sent})))
}

async fn received_capi(AxState(app): AxState<App>) -> Response {
    let st = app.lock();
    reply(Ok(json!({"data": st.capi})))
}

async fn received_webhooks(
    AxState(app): AxState<App>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = app.lock();
    let data: Vec<&crate::state::WebhookRecord> = st
        .webhooks
        .iter()
        .filter(|w| q.get("field").is_none_or(|f| &w.field == f))
        .filter(|w| q.get("state").is_none_or(|s| &w.state == s))
        .collect();
    reply(Ok(json!({"data": data})))
}

async fn received_requests(AxState(app): AxState<App>) -> Response {
    let st = app.lock();
    reply(Ok(json!({"data": st.requests})))
}
