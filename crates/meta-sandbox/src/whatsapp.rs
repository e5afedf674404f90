//! WhatsApp Cloud API: templates, sending with Meta's validations, statuses, inbound simulation.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::{GResult, GraphError};
use crate::graph::param;
use crate::server::{App, GraphReq};
use crate::state::{ContactRec, SentMessage, StatusEvent, TemplateRec};
use crate::util::mix;

/// Templates every WABA starts with (ids and WABA are filled in by the caller).
pub fn seed_templates() -> Vec<TemplateRec> {
    let t = |name: &str,
             lang: &str,
             cat: &str,
             status: &str,
             body: &str,
             examples: &[&str],
             reason: &str| {
        let mut body_c = json!({"type": "BODY", "text": body});
        if !examples.is_empty() {
            body_c["example"] = json!({"body_text": [examples]});
        }
        TemplateRec {
            id: String::new(),
            waba: 0,
            name: name.into(),
            language: lang.into(),
            category: cat.into(),
            status: status.into(),
            components: json!([body_c]),
            parameter_format: "POSITIONAL".into(),
            quality: if status == "APPROVED" {
                "GREEN".into()
            } else {
                "UNKNOWN".into()
            },
            rejected_reason: reason.into(),
            previous_category: None,
            deleted: false,
            body_params: examples.len(),
            header_params: 0,
        }
    };
    vec![
        t(
            "hello_world",
            "en_US",
            "UTILITY",
            "APPROVED",
            "Hello World! Welcome to the WhatsApp Cloud API sandbox.",
            &[],
            "NONE",
        ),
        t(
            "bienvenida",
            "es",
            "UTILITY",
            "APPROVED",
            "Hola {{1}}, gracias por escribirnos. Un asesor te responde en breve.",
            &["Ana"],
            "NONE",
        ),
        t(
            "seguimiento_lead",
            "es_AR",
            "UTILITY",
            "APPROVED",
            "Hola {{1}}, ¿pudiste ver la propuesta de {{2}}? Respondé este mensaje y te ayudamos.",
            &["Ana", "Plan Premium"],
            "NONE",
        ),
        t(
            "promo_mes",
            "es",
            "MARKETING",
            "APPROVED",
            "¡{{1}}, este mes tenés {{2}} de descuento! Respondé QUIERO para aprovecharlo.",
            &["Ana", "30%"],
            "NONE",
        ),
        t(
            "oferta_pendiente",
            "es",
            "MARKETING",
            "PENDING",
            "Oferta exclusiva para vos, {{1}}. Escribinos para más info.",
            &["Ana"],
            "NONE",
        ),
        t(
            "oferta_rechazada",
            "es",
            "MARKETING",
            "REJECTED",
            "GANÁ PLATA YA {{1}}!!! Escribinos.",
            &["Ana"],
            "PROMOTIONAL",
        ),
    ]
}

fn wa_err(code: i64, title: &str, details: impl Into<String>) -> GraphError {
    let mut e = GraphError::whatsapp(code, &format!("({code}) {title}"), details);
    e.user_title = Some(title.to_string());
    e
}

fn positional_vars(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(s) = rest.find("{{") {
        let after = &rest[s + 2..];
        let Some(e) = after.find("}}") else { break };
        out.push(after[..e].trim().to_string());
        rest = &after[e + 2..];
    }
    out
}

fn invalid(msg: impl Into<String>) -> GraphError {
    let m = msg.into();
    GraphError::param("Invalid parameter").user("Invalid template", m)
}

/// Validates components like Meta; returns (body params, header params).
fn validate_components(components: &Value, format: &str) -> GResult<(usize, usize)> {
    let arr = components
        .as_array()
        .ok_or_else(|| invalid("components must be an array"))?;
    let mut body_vars = None;
    let mut header_vars = 0;
    let mut seen = std::collections::HashSet::new();
    for c in arr {
        let kind = c
            .get("type")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_uppercase();
        if !seen.insert(kind.clone()) {
            return Err(invalid(format!("Only one {kind} component is allowed")));
        }
        let text = c.get("text").and_then(|v| v.as_str()).unwrap_or("");
        match kind.as_str() {
            "HEADER" => {
                let f = c
                    .get("format")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_uppercase();
                match f.as_str() {
                    "TEXT" => {
                        if text.is_empty() || text.chars().count() > 60 {
                            return Err(invalid(
                                "Header text is required and must be at most 60 characters",
                            ));
                        }
                        let vars = positional_vars(text);
                        if vars.len() > 1 {
                            return Err(invalid("Header text can contain at most one variable"));
                        }
                        if !vars.is_empty() {
                            let ex = c
                                .pointer("/example/header_text")
                                .and_then(|v| v.as_array())
                                .map(|a| a.len())
                                .unwrap_or(0);
                            let exn = c
                                .pointer("/example/header_text_named_params")
                                .and_then(|v| v.as_array())
                                .map(|a| a.len())
                                .unwrap_or(0);
                            if ex + exn != 1 {
                                return Err(invalid(
                                    "Header variables need example.header_text with one sample value",
                                ));
                            }
                        }
                        header_vars = vars.len();
                    }
                    "IMAGE" | "VIDEO" | "DOCUMENT" => {
                        if c.pointer("/example/header_handle")
                            .and_then(|v| v.as_array())
                            .is_none_or(|a| a.is_empty())
                        {
                            return Err(invalid("Media headers need example.header_handle"));
                        }
                    }
                    "LOCATION" => {}
                    other => {
                        return Err(invalid(format!(
                            "Header format must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION, got '{other}'"
                        )));
                    }
                }
            }
            "BODY" => {
                if text.trim().is_empty() {
                    return Err(invalid("Body text is required"));
                }
                if text.chars().count() > 1024 {
                    return Err(invalid("Body text must be at most 1024 characters"));
                }
                let vars = positional_vars(text);
                if !vars.is_empty() {
                    let t = text.trim();
                    if t.starts_with("{{") || t.ends_with("}}") {
                        return Err(GraphError::param("Invalid parameter")
                            .with_subcode(2388299)
                            .user(
                                "Variables can't be at the start or end of the template",
                                "Variables can't be at the start or end of the template body.",
                            ));
                    }
                }
                if format == "NAMED" {
                    for v in &vars {
                        if v.is_empty()
                            || !v.chars().all(|ch| {
                                ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit()
                            })
                            || v.chars().next().is_some_and(|c| c.is_ascii_digit())
                        {
                            return Err(invalid(format!(
                                "Named parameter '{{{{{v}}}}}' must use lowercase letters, digits and underscores"
                            )));
                        }
                    }
                    if !vars.is_empty() {
                        let ex = c
                            .pointer("/example/body_text_named_params")
                            .and_then(|v| v.as_array())
                            .ok_or_else(|| {
                                invalid("Named variables need example.body_text_named_params")
                            })?;
                        for v in &vars {
                            if !ex.iter().any(|e| {
                                e.get("param_name").and_then(|p| p.as_str()) == Some(v.as_str())
                            }) {
                                return Err(invalid(format!(
                                    "Missing example for parameter '{v}'"
                                )));
                            }
                        }
                    }
                    let mut uniq = vars.clone();
                    uniq.sort();
                    uniq.dedup();
                    body_vars = Some(uniq.len());
                } else {
                    let mut nums = vec![];
                    for v in &vars {
                        let n: usize = v.parse().map_err(|_| invalid(format!("Positional variables must be numbers like {{{{1}}}}, got '{{{{{v}}}}}'")))?;
                        nums.push(n);
                    }
                    let mut uniq = nums.clone();
                    uniq.sort_unstable();
                    uniq.dedup();
                    if uniq.iter().enumerate().any(|(i, n)| *n != i + 1) {
                        return Err(invalid("Variables must be sequential, starting at {{1}}"));
                    }
                    if !uniq.is_empty() {
                        let ex = c
                            .pointer("/example/body_text")
                            .and_then(|v| v.as_array())
                            .and_then(|a| a.first())
                            .and_then(|a| a.as_array())
                            .map(|a| a.len());
                        match ex {
                            Some(n) if n == uniq.len() => {}
                            Some(n) => {
                                return Err(invalid(format!(
                                    "example.body_text has {n} values but the body has {} variables",
                                    uniq.len()
                                )));
                            }
                            None => {
                                return Err(invalid(
                                    "Templates with variables need example.body_text",
                                ));
                            }
                        }
                    }
                    body_vars = Some(uniq.len());
                }
            }
            "FOOTER" => {
                if text.is_empty() || text.chars().count() > 60 {
                    return Err(invalid(
                        "Footer text is required and must be at most 60 characters",
                    ));
                }
                if !positional_vars(text).is_empty() {
                    return Err(invalid("Footer text cannot contain variables"));
                }
            }
            "BUTTONS" => {
                let buttons = c
                    .get("buttons")
                    .and_then(|v| v.as_array())
                    .ok_or_else(|| invalid("BUTTONS needs a buttons array"))?;
                if buttons.is_empty() || buttons.len() > 10 {
                    return Err(invalid("A template can have 1 to 10 buttons"));
                }
                for b in buttons {
                    let bt = b
                        .get("type")
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_uppercase();
                    let btext = b.get("text").and_then(|v| v.as_str()).unwrap_or("");
                    match bt.as_str() {
                        "QUICK_REPLY" | "URL" | "PHONE_NUMBER" | "FLOW" => {
                            if btext.is_empty() || btext.chars().count() > 25 {
                                return Err(invalid(
                                    "Button text is required and must be at most 25 characters",
                                ));
                            }
                        }
                        "COPY_CODE" | "OTP" | "CATALOG" | "MPM" | "VOICE_CALL" => {}
                        other => return Err(invalid(format!("Unknown button type '{other}'"))),
                    }
                    if bt == "URL" {
                        let url = b
                            .get("url")
                            .and_then(|v| v.as_str())
                            .ok_or_else(|| invalid("URL buttons need url"))?;
                        if !positional_vars(url).is_empty() && b.get("example").is_none() {
                            return Err(invalid("URL buttons with a variable need an example"));
                        }
                    }
                    if bt == "PHONE_NUMBER"
                        && b.get("phone_number").and_then(|v| v.as_str()).is_none()
                    {
                        return Err(invalid("PHONE_NUMBER buttons need phone_number"));
                    }
                }
            }
            other => return Err(invalid(format!("Unknown component type '{other}'"))),
        }
    }
    let body = body_vars.ok_or_else(|| invalid("A BODY component is required"))?;
    Ok((body, header_vars))
}

fn valid_language(l: &str) -> bool {
    let (lang, region) = l.split_once('_').unwrap_or((l, ""));
    (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_lowercase())
        && (region.is_empty()
            || (region.len() == 2 && region.chars().all(|c| c.is_ascii_uppercase())))
}

pub fn list_templates(app: &App, waba: usize, params: &[(String, String)]) -> GResult<Vec<usize>> {
    let upper = |l: Vec<String>| l.into_iter().map(|x| x.to_uppercase()).collect::<Vec<_>>();
    // `status`, `category` and `language` are lists (the SDK sends them JSON-encoded).
    let statuses = crate::params::list(params, "status")?.map(upper);
    let categories = crate::params::list(params, "category")?.map(upper);
    let languages = crate::params::list(params, "language")?;
    let name = param(params, "name");
    let st = app.lock();
    Ok(st
        .templates
        .iter()
        .enumerate()
        .filter(|(_, t)| t.waba == waba && !t.deleted)
        .filter(|(_, t)| statuses.as_ref().is_none_or(|s| s.contains(&t.status)))
        .filter(|(_, t)| name.is_none_or(|n| t.name.contains(n)))
        .filter(|(_, t)| categories.as_ref().is_none_or(|c| c.contains(&t.category)))
        .filter(|(_, t)| languages.as_ref().is_none_or(|l| l.contains(&t.language)))
        .map(|(i, _)| i)
        .collect())
}

fn schedule_review(app: &App, idx: usize) {
    let delay = app.lock().runtime.template_review_delay_ms;
    if let Some(ms) = delay {
        let app = app.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let (pending, name) = {
                let st = app.lock();
                st.templates
                    .get(idx)
                    .map(|t| (t.status == "PENDING" && !t.deleted, t.name.clone()))
                    .unwrap_or((false, String::new()))
            };
            if pending {
                let (status, reason) = if name.contains("reject") {
                    ("REJECTED", Some("INVALID_FORMAT"))
                } else {
                    ("APPROVED", None)
                };
                let _ = set_template_status(&app, idx, status, reason);
            }
        });
    }
}

pub fn create_template(app: &App, req: &GraphReq, waba: usize) -> GResult<Value> {
    let body = req.body_json();
    let name = body
        .get("name")
        .and_then(|v| v.as_str())
        .ok_or_else(|| GraphError::param("The parameter name is required."))?;
    if name.is_empty()
        || name.len() > 512
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(invalid(
            "Template names may only contain lowercase letters, digits and underscores (max 512)",
        ));
    }
    let language = body
        .get("language")
        .and_then(|v| v.as_str())
        .ok_or_else(|| GraphError::param("The parameter language is required."))?;
    if !valid_language(language) {
        return Err(invalid(format!(
            "Language '{language}' is not a valid language code like en_US or es"
        )));
    }
    let category = body
        .get("category")
        .and_then(|v| v.as_str())
        .ok_or_else(|| GraphError::param("The parameter category is required."))?
        .to_uppercase();
    if !matches!(
        category.as_str(),
        "MARKETING" | "UTILITY" | "AUTHENTICATION"
    ) {
        return Err(GraphError::param(format!(
            "Param category must be one of {{MARKETING, UTILITY, AUTHENTICATION}}, got '{category}'"
        )));
    }
    let format = body
        .get("parameter_format")
        .and_then(|v| v.as_str())
        .unwrap_or("POSITIONAL")
        .to_uppercase();
    if !matches!(format.as_str(), "POSITIONAL" | "NAMED") {
        return Err(GraphError::param(
            "Param parameter_format must be one of {POSITIONAL, NAMED}",
        ));
    }
    let components = body
        .get("components")
        .cloned()
        .ok_or_else(|| GraphError::param("The parameter components is required."))?;
    let (body_params, header_params) = validate_components(&components, &format)?;
    let idx = {
        let mut st = app.lock();
        if st
            .templates
            .iter()
            .any(|t| t.waba == waba && !t.deleted && t.name == name && t.language == language)
        {
            return Err(GraphError::param("Invalid parameter")
                .with_subcode(2388024)
                .user("Content in this language already exists", format!("{name} already has content in {language}. Edit the existing template or choose another language.")));
        }
        let id = st.new_numeric_id(app.world.seed ^ 0x7E, "", 15);
        st.insert_template(TemplateRec {
            id,
            waba,
            name: name.to_string(),
            language: language.to_string(),
            category: category.clone(),
            status: "PENDING".into(),
            components,
            parameter_format: format,
            quality: "UNKNOWN".into(),
            rejected_reason: "NONE".into(),
            previous_category: None,
            deleted: false,
            body_params,
            header_params,
        });
        st.templates.len() - 1
    };
    schedule_review(app, idx);
    let id = app.lock().templates[idx].id.clone();
    Ok(json!({"id": id, "status": "PENDING", "category": category}))
}

pub fn edit_template(app: &App, req: &GraphReq, idx: usize) -> GResult<Value> {
    let body = req.body_json();
    let (status, format) = {
        let st = app.lock();
        let t = st
            .templates
            .get(idx)
            .ok_or_else(|| GraphError::param("Template not found"))?;
        (t.status.clone(), t.parameter_format.clone())
    };
    if !matches!(status.as_str(), "APPROVED" | "REJECTED" | "PAUSED") {
        return Err(invalid(format!(
            "Templates with status {status} cannot be edited"
        )));
    }
    let components = body.get("components").cloned();
    let category = body
        .get("category")
        .and_then(|v| v.as_str())
        .map(|s| s.to_uppercase());
    if components.is_none() && category.is_none() {
        return Err(GraphError::param(
            "Nothing to edit: send components and/or category",
        ));
    }
    if let Some(c) = &category
        && !matches!(c.as_str(), "MARKETING" | "UTILITY" | "AUTHENTICATION")
    {
        return Err(GraphError::param(
            "Param category must be one of {MARKETING, UTILITY, AUTHENTICATION}",
        ));
    }
    let counts = match &components {
        Some(c) => Some(validate_components(c, &format)?),
        None => None,
    };
    {
        let mut st = app.lock();
        if let Some(t) = st.templates.get_mut(idx) {
            if let (Some(c), Some((b, h))) = (components, counts) {
                t.components = c;
                t.body_params = b;
                t.header_params = h;
            }
            if let Some(c) = category {
                t.category = c;
            }
            t.status = "PENDING".into();
            t.rejected_reason = "NONE".into();
        }
    }
    schedule_review(app, idx);
    Ok(json!({"success": true}))
}

pub fn delete_templates(app: &App, req: &GraphReq, waba: usize) -> GResult<Value> {
    let name = req
        .param("name")
        .ok_or_else(|| GraphError::param("The parameter name is required."))?;
    let hsm = req.param("hsm_id");
    let mut st = app.lock();
    let mut n = 0;
    for t in st.templates.iter_mut() {
        if t.waba == waba && !t.deleted && t.name == name && hsm.is_none_or(|h| h == t.id) {
            t.deleted = true;
            t.status = "DELETED".into();
            n += 1;
        }
    }
    if n == 0 {
        return Err(GraphError::param("Message template not found").with_subcode(2593002));
    }
    Ok(json!({"success": true}))
}

fn template_entry(app: &App, t: &TemplateRec, field: &str, value: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": app.world.wabas[t.waba].id, "time": app.now(), "changes": [{"field": field, "value": value}]}]})
}

fn template_id_num(t: &TemplateRec) -> Value {
    t.id.parse::<u64>()
        .map(|n| json!(n))
        .unwrap_or_else(|_| json!(t.id))
}

/// Moves a template to a review status and emits `message_template_status_update`.
pub fn set_template_status(
    app: &App,
    idx: usize,
    status: &str,
    reason: Option<&str>,
) -> GResult<Value> {
    if !matches!(
        status,
        "APPROVED"
            | "REJECTED"
            | "PAUSED"
            | "DISABLED"
            | "PENDING"
            | "FLAGGED"
            | "REINSTATED"
            | "IN_APPEAL"
    ) {
        return Err(GraphError::param(
            "status must be APPROVED, REJECTED, PAUSED, DISABLED, PENDING, FLAGGED, REINSTATED or IN_APPEAL",
        ));
    }
    let t = {
        let mut st = app.lock();
        let t = st
            .templates
            .get_mut(idx)
            .filter(|t| !t.deleted)
            .ok_or_else(|| GraphError::param("Template not found"))?;
        t.status = if status == "REINSTATED" {
            "APPROVED".into()
        } else {
            status.to_string()
        };
        t.rejected_reason = if status == "REJECTED" {
            reason.unwrap_or("INVALID_FORMAT").to_string()
        } else {
            "NONE".into()
        };
        if status == "APPROVED" && t.quality == "UNKNOWN" {
            t.quality = "UNKNOWN".into();
        }
        t.clone()
    };
    let mut value = json!({
        "event": status,
        "message_template_id": template_id_num(&t),
        "message_template_name": t.name,
        "message_template_language": t.language,
        "message_template_category": t.category,
        "reason": if status == "REJECTED" { t.rejected_reason.clone() } else { reason.unwrap_or("NONE").to_string() },
    });
    if status == "DISABLED" {
        value["disable_info"] = json!({"disable_date": app.now()});
    }
    if status == "PAUSED" {
        value["other_info"] = json!({"title": "FIRST_PAUSE", "description": "Your message template has been paused for 3 hours due to low quality."});
    }
    let subscribed = app.lock().waba_subscriptions.contains(&t.waba);
    let wid = crate::webhooks::emit(
        app,
        "whatsapp_business_account",
        "message_template_status_update",
        &template_entry(app, &t, "message_template_status_update", value),
        subscribed,
    );
    Ok(json!({"success": true, "id": t.id, "status": t.status, "webhook_id": wid}))
}

pub fn set_template_quality(app: &App, idx: usize, score: &str) -> GResult<Value> {
    if !matches!(score, "GREEN" | "YELLOW" | "RED" | "UNKNOWN") {
        return Err(GraphError::param(
            "score must be GREEN, YELLOW, RED or UNKNOWN",
        ));
    }
    let (t, prev) = {
        let mut st = app.lock();
        let t = st
            .templates
            .get_mut(idx)
            .filter(|t| !t.deleted)
            .ok_or_else(|| GraphError::param("Template not found"))?;
        let prev = std::mem::replace(&mut t.quality, score.to_string());
        (t.clone(), prev)
    };
    let value = json!({
        "previous_quality_score": prev,
        "new_quality_score": score,
        "message_template_id": template_id_num(&t),
        "message_template_name": t.name,
        "message_template_language": t.language,
    });
    let subscribed = app.lock().waba_subscriptions.contains(&t.waba);
    let wid = crate::webhooks::emit(
        app,
        "whatsapp_business_account",
        "message_template_quality_update",
        &template_entry(app, &t, "message_template_quality_update", value),
        subscribed,
    );
    Ok(json!({"success": true, "webhook_id": wid}))
}

pub fn set_template_category(app: &App, idx: usize, category: &str) -> GResult<Value> {
    if !matches!(category, "MARKETING" | "UTILITY" | "AUTHENTICATION") {
        return Err(GraphError::param(
            "category must be MARKETING, UTILITY or AUTHENTICATION",
        ));
    }
    let (t, prev) = {
        let mut st = app.lock();
        let t = st
            .templates
            .get_mut(idx)
            .filter(|t| !t.deleted)
            .ok_or_else(|| GraphError::param("Template not found"))?;
        let prev = std::mem::replace(&mut t.category, category.to_string());
        t.previous_category = Some(prev.clone());
        (t.clone(), prev)
    };
    let value = json!({
        "message_template_id": template_id_num(&t),
        "message_template_name": t.name,
        "message_template_language": t.language,
        "previous_category": prev,
        "new_category": category,
    });
    let subscribed = app.lock().waba_subscriptions.contains(&t.waba);
    let wid = crate::webhooks::emit(
        app,
        "whatsapp_business_account",
        "template_category_update",
        &template_entry(app, &t, "template_category_update", value),
        subscribed,
    );
    Ok(json!({"success": true, "webhook_id": wid}))
}

fn digits(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_digit()).collect()
}

fn wamid(app: &App) -> String {
    let n = app.lock().next_id();
    use base64::Engine;
    let raw = format!("HBgN{:016X}{:08X}", mix(app.world.seed ^ n), n);
    format!(
        "wamid.{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn metadata(app: &App, phone: usize) -> Value {
    let p = &app.world.phones[phone];
    json!({"display_phone_number": digits(&p.display_phone_number), "phone_number_id": p.id})
}

fn count_params(components: Option<&Value>, kind: &str) -> (usize, Vec<String>) {
    let mut n = 0;
    let mut names = vec![];
    if let Some(arr) = components.and_then(|c| c.as_array()) {
        for c in arr {
            if c.get("type")
                .and_then(|v| v.as_str())
                .map(|s| s.to_lowercase())
                == Some(kind.to_string())
                && let Some(ps) = c.get("parameters").and_then(|v| v.as_array())
            {
                n += ps.len();
                names.extend(ps.iter().filter_map(|p| {
                    p.get("parameter_name")
                        .and_then(|v| v.as_str())
                        .map(String::from)
                }));
            }
        }
    }
    (n, names)
}

/// `POST /{phone-number-id}/messages`.
pub fn send_message(app: &App, req: &GraphReq, phone: usize) -> GResult<Value> {
    let body = req.body_json();
    let w = &app.world;
    let waba = w.phones[phone].waba;
    if body.get("messaging_product").and_then(|v| v.as_str()) != Some("whatsapp") {
        return Err(GraphError::param(
            "The parameter messaging_product is required and must be \"whatsapp\".",
        ));
    }
    let to_raw = body
        .get("to")
        .or_else(|| body.get("recipient"))
        .and_then(|v| v.as_str())
        .ok_or_else(|| GraphError::param("The parameter to is required."))?
        .to_string();
    let is_bsuid = to_raw.len() > 3
        && to_raw.as_bytes()[2] == b'.'
        && to_raw[..2].chars().all(|c| c.is_ascii_uppercase());
    let to = if is_bsuid {
        to_raw.clone()
    } else {
        digits(&to_raw)
    };
    if !is_bsuid && !(7..=15).contains(&to.len()) {
        return Err(wa_err(
            131009,
            "Parameter value is not valid",
            format!("Recipient '{to_raw}' is not a valid phone number"),
        ));
    }
    let kind = body
        .get("type")
        .and_then(|v| v.as_str())
        .unwrap_or("text")
        .to_string();
    if !matches!(
        kind.as_str(),
        "text"
            | "template"
            | "image"
            | "audio"
            | "video"
            | "document"
            | "sticker"
            | "location"
            | "contacts"
            | "interactive"
            | "reaction"
    ) {
        return Err(wa_err(
            131051,
            "Unsupported message type",
            format!("Message type '{kind}' is not supported"),
        ));
    }
    let mut template: Option<TemplateRec> = None;
    match kind.as_str() {
        "text" => {
            let text = body
                .pointer("/text/body")
                .and_then(|v| v.as_str())
                .ok_or_else(|| GraphError::param("The parameter text['body'] is required."))?;
            if text.is_empty() || text.chars().count() > 4096 {
                return Err(wa_err(
                    131009,
                    "Parameter value is not valid",
                    "text.body must be 1 to 4096 characters",
                ));
            }
        }
        "image" | "audio" | "video" | "document" | "sticker" => {
            let m = body
                .get(&kind)
                .ok_or_else(|| GraphError::param(format!("The parameter {kind} is required.")))?;
            if m.get("link").is_none() && m.get("id").is_none() {
                return Err(wa_err(
                    131008,
                    "Required parameter is missing",
                    format!("{kind} needs link or id"),
                ));
            }
        }
        "interactive" if body.pointer("/interactive/type").is_none() => {
            return Err(wa_err(
                131008,
                "Required parameter is missing",
                "interactive.type is required",
            ));
        }
        "template" => {
            let name = body
                .pointer("/template/name")
                .and_then(|v| v.as_str())
                .ok_or_else(|| GraphError::param("The parameter template['name'] is required."))?;
            let lang = body
                .pointer("/template/language/code")
                .and_then(|v| v.as_str())
                .ok_or_else(|| {
                    GraphError::param("The parameter template['language']['code'] is required.")
                })?;
            let st = app.lock();
            let found = st
                .templates
                .iter()
                .find(|t| t.waba == waba && !t.deleted && t.name == name && t.language == lang)
                .cloned();
            drop(st);
            let t = found.ok_or_else(|| {
                wa_err(
                    132001,
                    "Template name does not exist in the translation",
                    format!("template name ({name}) does not exist in {lang}"),
                )
            })?;
            match t.status.as_str() {
                "APPROVED" => {}
                "PAUSED" => {
                    return Err(wa_err(
                        132015,
                        "Template is Paused",
                        format!("Template {name} is paused due to low quality"),
                    ));
                }
                "DISABLED" => {
                    return Err(wa_err(
                        132016,
                        "Template is disabled",
                        format!("Template {name} has been disabled"),
                    ));
                }
                _ => {
                    return Err(wa_err(
                        132001,
                        "Template name does not exist in the translation",
                        format!(
                            "template name ({name}) does not exist in {lang} (status {})",
                            t.status
                        ),
                    ));
                }
            }
            let comps = body.pointer("/template/components");
            let (n_body, names) = count_params(comps, "body");
            let (n_header, _) = count_params(comps, "header");
            if t.parameter_format == "NAMED" {
                if n_body > 0 && names.len() != n_body {
                    return Err(wa_err(
                        132012,
                        "Parameter format does not match format in the created template",
                        "body parameters need parameter_name for a NAMED template",
                    ));
                }
            } else if !names.is_empty() {
                return Err(wa_err(
                    132012,
                    "Parameter format does not match format in the created template",
                    "parameter_name is not allowed for a POSITIONAL template",
                ));
            }
            if n_body != t.body_params {
                return Err(wa_err(
                    132000,
                    "Number of parameters does not match the expected number of params",
                    format!(
                        "body: number of localizable_params ({n_body}) does not match the expected number of params ({})",
                        t.body_params
                    ),
                ));
            }
            if n_header != t.header_params {
                return Err(wa_err(
                    132000,
                    "Number of parameters does not match the expected number of params",
                    format!(
                        "header: number of localizable_params ({n_header}) does not match the expected number of params ({})",
                        t.header_params
                    ),
                ));
            }
            template = Some(t);
        }
        _ => {}
    }
    let now = app.now();
    let mut st = app.lock();
    let rt = st.runtime.clone();
    // Resolve the contact (BSUID recipients must be known users).
    let key = if is_bsuid {
        match st
            .contacts
            .iter()
            .find(|(k, c)| k.0 == waba && c.user_id.as_deref() == Some(to.as_str()))
        {
            Some((k, _)) => k.clone(),
            None => {
                return Err(wa_err(
                    131030,
                    "Recipient phone number not in allowed list",
                    format!("No user with BSUID {to}"),
                ));
            }
        }
    } else {
        (waba, to.clone())
    };
    let contact = st
        .contacts
        .entry(key.clone())
        .or_insert_with(|| ContactRec {
            wa_id: to.clone(),
            name: String::new(),
            user_id: None,
            last_inbound: None,
            opted_out: false,
        })
        .clone();
    let in_window = contact.last_inbound.is_some_and(|t| now - t < 24 * 3600);
    let mut policy_error: Option<GraphError> = None;
    if template.is_none() && kind != "reaction" && !in_window {
        policy_error = Some(wa_err(
            131047,
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        ));
    }
    if let Some(t) = &template
        && t.category == "MARKETING"
        && contact.opted_out
    {
        policy_error = Some(wa_err(
            131050,
            "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business",
            "The user has stopped marketing messages from this business.",
        ));
    }
    if let Some(e) = &policy_error
        && !rt.async_policy_errors
    {
        return Err(e.clone());
    }
    // Throughput per number.
    let instant = Instant::now();
    let q = st.throughput.entry(phone).or_default();
    while q
        .front()
        .is_some_and(|t| instant.duration_since(*t) >= Duration::from_secs(1))
    {
        q.pop_front();
    }
    if q.len() as u32 >= rt.messages_per_second {
        return Err(wa_err(
            130429,
            "Rate limit hit",
            "Cloud API message throughput has been reached.",
        )
        .transient());
    }
    q.push_back(instant);
    let pq = st.pair.entry((phone, key.1.clone())).or_default();
    while pq
        .front()
        .is_some_and(|t| instant.duration_since(*t) >= Duration::from_secs(60))
    {
        pq.pop_front();
    }
    if pq.len() as u32 >= rt.pair_messages_per_minute {
        return Err(wa_err(
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
        ));
    }
    pq.push_back(instant);
    drop(st);
    let id = wamid(app);
    let category = match &template {
        Some(t) => t.category.to_lowercase(),
        None => "service".to_string(),
    };
    let msg = SentMessage {
        id: id.clone(),
        phone_number_id: w.phones[phone].id.clone(),
        to: contact.wa_id.clone(),
        kind: kind.clone(),
        payload: body.clone(),
        template_name: template.as_ref().map(|t| t.name.clone()),
        template_language: template.as_ref().map(|t| t.language.clone()),
        category: category.clone(),
        biz_opaque_callback_data: body
            .get("biz_opaque_callback_data")
            .and_then(|v| v.as_str())
            .map(String::from),
        status: "accepted".into(),
        statuses: vec![],
        created_at: now,
        in_window,
    };
    {
        let mut st = app.lock();
        let i = st.sent.len();
        st.sent_index.insert(id.clone(), i);
        st.sent.push(msg);
    }
    let undeliverable = contact.wa_id.ends_with("0000");
    let fail = policy_error.or_else(|| {
        undeliverable.then(|| {
            wa_err(
                131026,
                "Message undeliverable",
                "Unable to deliver message. The recipient may not be a WhatsApp user.",
            )
        })
    });
    schedule_statuses(app, id.clone(), phone, fail, in_window);
    let mut contact_json = json!({"input": to_raw, "wa_id": contact.wa_id});
    if let Some(u) = &contact.user_id {
        contact_json["user_id"] = json!(u);
    }
    let mut message = json!({"id": id});
    if template.is_some() {
        message["message_status"] = json!("accepted");
    }
    Ok(json!({"messaging_product": "whatsapp", "contacts": [contact_json], "messages": [message]}))
}

fn status_payload(
    app: &App,
    phone: usize,
    m: &SentMessage,
    status: &str,
    err: Option<&GraphError>,
    in_window: bool,
) -> Value {
    let now = app.now();
    let mut s =
        json!({"id": m.id, "status": status, "timestamp": now.to_string(), "recipient_id": m.to});
    if let Some(b) = &m.biz_opaque_callback_data {
        s["biz_opaque_callback_data"] = json!(b);
    }
    if let Some(e) = err {
        s["errors"] = json!([{
            "code": e.code,
            "title": e.user_title.clone().unwrap_or_else(|| e.message.clone()),
            "message": e.user_title.clone().unwrap_or_else(|| e.message.clone()),
            "error_data": {"details": e.details.clone().unwrap_or_default()},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }]);
    } else {
        let free = m.category == "service" || (m.category == "utility" && in_window);
        let mut conv = json!({"id": format!("{:032x}", mix(m.created_at as u64 ^ 0xC0) as u128 * 7), "origin": {"type": m.category}});
        if status == "sent" {
            conv["expiration_timestamp"] = json!((m.created_at + 24 * 3600).to_string());
        }
        s["conversation"] = conv;
        s["pricing"] = json!({"billable": !free, "pricing_model": "PMP", "category": m.category, "type": if free { "free_customer_service" } else { "regular" }});
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": app.world.wabas[app.world.phones[phone].waba].id, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": metadata(app, phone), "statuses": [s]}}]}]})
}

/// Emits one status for a sent message now (also used by the control API).
pub fn emit_status(app: &App, wamid: &str, status: &str, err: Option<&GraphError>) -> GResult<u64> {
    let m = {
        let mut st = app.lock();
        let i = *st
            .sent_index
            .get(wamid)
            .ok_or_else(|| GraphError::param(format!("Unknown message id {wamid}")))?;
        let m = &mut st.sent[i];
        m.status = status.to_string();
        m.statuses.push(StatusEvent {
            status: status.to_string(),
            timestamp: app.now(),
            error_code: err.map(|e| e.code),
        });
        m.clone()
    };
    let phone_idx = app
        .world
        .phones
        .iter()
        .position(|p| p.id == m.phone_number_id)
        .unwrap_or(0);
    let waba = app.world.phones[phone_idx].waba;
    let payload = status_payload(app, phone_idx, &m, status, err, m.in_window);
    let subscribed = app.lock().waba_subscriptions.contains(&waba);
    Ok(crate::webhooks::emit(
        app,
        "whatsapp_business_account",
        "messages",
        &payload,
        subscribed,
    ))
}

fn schedule_statuses(
    app: &App,
    id: String,
    _phone: usize,
    fail: Option<GraphError>,
    _in_window: bool,
) {
    let app = app.clone();
    tokio::spawn(async move {
        let (delay, mode) = {
            let st = app.lock();
            (st.runtime.status_delay_ms, st.runtime.status_mode.clone())
        };
        let to = {
            let st = app.lock();
            st.sent_index
                .get(&id)
                .map(|i| st.sent[*i].to.clone())
                .unwrap_or_default()
        };
        let mut seq: Vec<&str> = match &fail {
            Some(_) => vec!["failed"],
            None if to.ends_with('9') => vec!["sent", "delivered"],
            None => vec!["sent", "delivered", "read"],
        };
        match mode.as_str() {
            "shuffled" if seq.len() == 3 => seq = vec!["sent", "read", "delivered"],
            "duplicate" => seq = seq.iter().flat_map(|s| [*s, *s]).collect(),
            // Only the first status (`sent`, or `failed`): light load tests.
            "sent_only" => seq.truncate(1),
            _ => {}
        }
        for s in seq {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let err = if s == "failed" { fail.as_ref() } else { None };
            let _ = emit_status(&app, &id, s, err);
        }
    });
}

/// A person messages the business (optionally from a Click-to-WhatsApp ad).
pub fn inbound(app: &App, body: &Value) -> GResult<Value> {
    let w = &app.world;
    let phone = match body.get("phone_number_id").and_then(|v| v.as_str()) {
        Some(id) => w
            .phones
            .iter()
            .position(|p| p.id == id)
            .ok_or_else(|| GraphError::param(format!("Unknown phone_number_id {id}")))?,
        None => 0,
    };
    let waba = w.phones[phone].waba;
    let from = body.get("from").and_then(|v| v.as_str()).map(digits);
    let user_id = body
        .get("user_id")
        .and_then(|v| v.as_str())
        .map(String::from);
    if from.as_deref().is_none_or(|f| f.is_empty()) && user_id.is_none() {
        return Err(GraphError::param(
            "from (E.164 digits) or user_id is required",
        ));
    }
    let text = body
        .get("text")
        .and_then(|v| v.as_str())
        .ok_or_else(|| GraphError::param("text is required"))?;
    let name = body
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("Sandbox Contact")
        .to_string();
    let now = app.now();
    let id = wamid(app);
    let wa_id = from.clone().unwrap_or_default();
    {
        let mut st = app.lock();
        let key = (
            waba,
            if wa_id.is_empty() {
                user_id.clone().unwrap_or_default()
            } else {
                wa_id.clone()
            },
        );
        let c = st.contacts.entry(key).or_insert_with(|| ContactRec {
            wa_id: wa_id.clone(),
            name: name.clone(),
            user_id: None,
            last_inbound: None,
            opted_out: false,
        });
        c.last_inbound = Some(now);
        c.name = name.clone();
        if user_id.is_some() {
            c.user_id = user_id.clone();
        }
    }
    let mut message =
        json!({"id": id, "timestamp": now.to_string(), "type": "text", "text": {"body": text}});
    if !wa_id.is_empty() {
        message["from"] = json!(wa_id);
    }
    if let Some(u) = &user_id {
        message["from_user_id"] = json!(u);
    }
    let mut referral_out = Value::Null;
    if let Some(r) = body.get("referral").filter(|r| r.is_object()) {
        let source_id = r
            .get("source_id")
            .or_else(|| r.get("ad_id"))
            .and_then(|v| v.as_str())
            .ok_or_else(|| GraphError::param("referral needs ad_id or source_id"))?;
        let ad = w.ads.iter().find(|a| a.id == source_id);
        let n = app.lock().next_id();
        let clid = r
            .get("ctwa_clid")
            .and_then(|v| v.as_str())
            .map(String::from)
            .unwrap_or_else(|| format!("ARAkSbx{:016x}", mix(w.seed ^ n ^ 0xC7)));
        let mut referral = json!({
            "source_url": format!("https://fb.me/{source_id}"),
            "source_id": source_id,
            "source_type": r.get("source_type").and_then(|v| v.as_str()).unwrap_or("ad"),
            "headline": r.get("headline").and_then(|v| v.as_str()).map(String::from).or_else(|| ad.map(|a| a.creative.title.clone())).unwrap_or_default(),
            "body": r.get("body").and_then(|v| v.as_str()).map(String::from).or_else(|| ad.map(|a| a.creative.body.clone())).unwrap_or_default(),
            "media_type": "image",
            "image_url": ad.map(|a| a.creative.image_url.clone()).unwrap_or_else(|| "https://sandbox.invalid/creatives/unknown.jpg".into()),
            "ctwa_clid": clid,
        });
        if let Some(wm) = r.get("welcome_message") {
            referral["welcome_message"] = wm.clone();
        }
        message["referral"] = referral.clone();
        referral_out = referral;
    }
    let mut contact = json!({"profile": {"name": name}});
    if !wa_id.is_empty() {
        contact["wa_id"] = json!(wa_id);
    }
    if let Some(u) = &user_id {
        contact["user_id"] = json!(u);
    }
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": w.wabas[waba].id, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": metadata(app, phone), "contacts": [contact], "messages": [message]}}]}]});
    let subscribed = app.lock().waba_subscriptions.contains(&waba);
    let webhook_id = crate::webhooks::emit(
        app,
        "whatsapp_business_account",
        "messages",
        &payload,
        subscribed,
    );
    Ok(json!({"wamid": id, "webhook_id": webhook_id, "referral": referral_out}))
}

/// Marketing stop/resume from a user.
pub fn user_preferences(app: &App, body: &Value) -> GResult<Value> {
    let w = &app.world;
    let from = body
        .get("from")
        .and_then(|v| v.as_str())
        .map(digits)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| GraphError::param("from is required"))?;
    let value = body
        .get("value")
        .and_then(|v| v.as_str())
        .ok_or_else(|| GraphError::param("value (stop|resume) is required"))?;
    if !matches!(value, "stop" | "resume") {
        return Err(GraphError::param("value must be stop or resume"));
    }
    let phone = match body.get("phone_number_id").and_then(|v| v.as_str()) {
        Some(id) => w
            .phones
            .iter()
            .position(|p| p.id == id)
            .ok_or_else(|| GraphError::param(format!("Unknown phone_number_id {id}")))?,
        None => 0,
    };
    let waba = w.phones[phone].waba;
    let now = app.now();
    let name = {
        let mut st = app.lock();
        let c = st
            .contacts
            .entry((waba, from.clone()))
            .or_insert_with(|| ContactRec {
                wa_id: from.clone(),
                name: "Sandbox Contact".into(),
                user_id: None,
                last_inbound: None,
                opted_out: false,
            });
        c.opted_out = value == "stop";
        c.name.clone()
    };
    let detail = if value == "stop" {
        "User requested to stop marketing messages"
    } else {
        "User requested to resume marketing messages"
    };
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": w.wabas[waba].id, "changes": [{"field": "user_preferences", "value": {
        "messaging_product": "whatsapp", "metadata": metadata(app, phone),
        "contacts": [{"wa_id": from, "profile": {"name": name}}],
        "user_preferences": [{"wa_id": from, "detail": detail, "category": "marketing_messages", "value": value, "timestamp": now}]}}]}]});
    let subscribed = app.lock().waba_subscriptions.contains(&waba);
    let webhook_id = crate::webhooks::emit(
        app,
        "whatsapp_business_account",
        "user_preferences",
        &payload,
        subscribed,
    );
    Ok(json!({"success": true, "webhook_id": webhook_id}))
}
