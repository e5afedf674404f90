//! Conversions API: `POST /{dataset}/events` validation and recording.

use serde_json::{Value, json};

use crate::error::{GResult, GraphError};
use crate::server::{App, GraphReq};
use crate::state::CapiRecord;

const ACTION_SOURCES: &[&str] = &[
    "email",
    "website",
    "app",
    "phone_call",
    "chat",
    "physical_store",
    "system_generated",
    "business_messaging",
    "other",
];

fn bad(i: usize, msg: &str, subcode: i64) -> GraphError {
    GraphError::param("Invalid parameter")
        .with_subcode(subcode)
        .user("Invalid parameter", format!("Event {i}: {msg}"))
}

fn is_hashed(v: &Value) -> bool {
    let check = |s: &str| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit());
    match v {
        Value::String(s) => check(s),
        Value::Array(a) => a.iter().all(|x| x.as_str().is_some_and(check)),
        _ => false,
    }
}

fn validate(i: usize, e: &Value, now: i64) -> GResult<()> {
    if e.get("event_name")
        .and_then(|v| v.as_str())
        .is_none_or(|s| s.trim().is_empty())
    {
        return Err(bad(i, "event_name is required", 2804006));
    }
    let t = e
        .get("event_time")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or_else(|| {
            bad(
                i,
                "event_time is required as a Unix timestamp in seconds",
                2804006,
            )
        })?;
    if t < now - 7 * 86400 {
        return Err(bad(
            i,
            "event_time is more than 7 days in the past",
            2804003,
        ));
    }
    if t > now + 3600 {
        return Err(bad(i, "event_time is in the future", 2804004));
    }
    let source = e
        .get("action_source")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad(i, "action_source is required", 2804006))?;
    if !ACTION_SOURCES.contains(&source) {
        return Err(bad(
            i,
            &format!("action_source must be one of {}", ACTION_SOURCES.join(", ")),
            2804006,
        ));
    }
    let ud = e
        .get("user_data")
        .filter(|u| u.is_object())
        .ok_or_else(|| bad(i, "user_data is required", 2804006))?;
    for k in [
        "em",
        "ph",
        "fn",
        "ln",
        "ct",
        "st",
        "zp",
        "country",
        "ge",
        "db",
        "external_id",
    ] {
        if let Some(v) = ud.get(k)
            && k != "external_id"
            && !is_hashed(v)
        {
            return Err(bad(
                i,
                &format!("user_data.{k} must be SHA-256 hashed (64 hex characters)"),
                2804019,
            ));
        }
    }
    let lead_id = ud.get("lead_id").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if let Some(l) = &lead_id
        && !(15..=17).contains(&l.len())
    {
        return Err(bad(
            i,
            "user_data.lead_id must be the 15-17 digit leadgen id",
            2804019,
        ));
    }
    if let Some(l) = &lead_id
        && !l.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad(
            i,
            "user_data.lead_id must be numeric and not hashed",
            2804019,
        ));
    }
    let clid = ud.get("ctwa_clid").and_then(|v| v.as_str());
    match source {
        "business_messaging" => {
            let ch = e
                .get("messaging_channel")
                .and_then(|v| v.as_str())
                .ok_or_else(|| {
                    bad(
                        i,
                        "messaging_channel is required when action_source is business_messaging",
                        2804006,
                    )
                })?;
            if !matches!(ch, "whatsapp" | "messenger" | "instagram") {
                return Err(bad(
                    i,
                    "messaging_channel must be whatsapp, messenger or instagram",
                    2804006,
                ));
            }
            if ch == "whatsapp" && clid.is_none() {
                return Err(bad(
                    i,
                    "user_data.ctwa_clid is required for WhatsApp business_messaging events",
                    2804006,
                ));
            }
        }
        "system_generated" if lead_id.is_none() && clid.is_none() => {
            return Err(bad(
                i,
                "CRM events need user_data.lead_id (or ctwa_clid)",
                2804006,
            ));
        }
        _ => {}
    }
    Ok(())
}

pub fn receive(app: &App, req: &GraphReq, dataset: usize) -> GResult<Value> {
    let body = req.body_json();
    let data = match body.get("data") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => serde_json::from_str::<Vec<Value>>(s)
            .map_err(|_| GraphError::param("The parameter data must be a JSON array of events"))?,
        _ => return Err(GraphError::param("The parameter data is required")),
    };
    if data.is_empty() {
        return Err(GraphError::param(
            "The parameter data must contain at least one event",
        ));
    }
    if data.len() > 1000 {
        return Err(GraphError::param(
            "A request can contain at most 1000 events",
        ));
    }
    let now = app.now();
    for (i, e) in data.iter().enumerate() {
        validate(i, e, now)?;
    }
    let n = data.len();
    let trace = app.trace_id();
    app.lock().capi.push(CapiRecord {
        dataset_id: app.world.datasets[dataset].id.clone(),
        received_at: now,
        events: data,
        test_event_code: body
            .get("test_event_code")
            .and_then(|v| v.as_str())
            .map(String::from),
        partner_agent: body
            .get("partner_agent")
            .and_then(|v| v.as_str())
            .map(String::from),
    });
    Ok(json!({"events_received": n, "messages": [], "fbtrace_id": trace}))
}
