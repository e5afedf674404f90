//! HSM Automation against the in-process Meta sandbox: template lifecycle
//! (create → Meta review webhook → approved; sync), manual sends validated
//! before Meta, inbound messages and opt-out keywords, delivery statuses,
//! and the automation engine with its guards — each proven by what the
//! sandbox recorded.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::meta_support::*;

/// CEO signed in, Meta connected, a WABA and its first number selected.
pub(crate) async fn ready_with(extra: &[&str]) -> (TestApp, Client, String, String) {
    let app = spawn_app_with(extra).await;
    ready_on(app).await
}

pub(crate) async fn ready() -> (TestApp, Client, String, String) {
    ready_on(spawn_meta_app().await).await
}

async fn ready_on(app: TestApp) -> (TestApp, Client, String, String) {
    let ceo = setup_ceo(&app).await;
    connect_meta(&app, &ceo).await;
    let r = ceo.get("/api/crm/marketing/meta-portfolios").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut found = None;
    for p in r.body["items"].as_array().unwrap() {
        let pid = p["id"].as_str().unwrap();
        let r = ceo
            .get(&format!("/api/crm/marketing/whatsapp?portfolio_id={pid}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        if let Some(w) = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| !x["phone_numbers"].as_array().unwrap().is_empty())
        {
            found = Some(w.clone());
            break;
        }
    }
    let waba = found.expect("a WABA with a number");
    let waba_id = waba["id"].as_str().unwrap().to_owned();
    let phone_id = waba["phone_numbers"][0]["id"].as_str().unwrap().to_owned();
    let r = ceo
        .post(
            "/api/crm/marketing/whatsapp",
            json!({"waba_id": waba_id, "phone_number_ids": [phone_id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (app, ceo, waba_id, phone_id)
}

pub(crate) async fn eventually<F, Fut>(what: &str, mut f: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    for _ in 0..150 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Messages the sandbox accepted for delivery.
pub(crate) async fn sent_by_sandbox(app: &TestApp) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/_sandbox/received/messages", sandbox_url(app)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"].as_array().cloned().unwrap_or_default()
}

fn welcome_template(name: &str, category: &str) -> Value {
    json!({
        "name": name, "language": "es", "category": category,
        "components": [
            {"type": "BODY", "text": "Hola {{1}}, gracias por escribirnos. Te atiende {{2}}.",
             "example": {"body_text": [["Ana", "Marta"]]}},
            {"type": "FOOTER", "text": "Responde BAJA para no recibir más"}
        ]
    })
}

/// Creates a template through the CRM and approves it in the sandbox;
/// returns the CRM template once the webhook made it APPROVED.
pub(crate) async fn approved_template(
    app: &TestApp,
    ceo: &Client,
    name: &str,
    category: &str,
) -> Value {
    let r = ceo
        .post(
            "/api/crm/marketing/hsm/templates",
            welcome_template(name, category),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "PENDING");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let meta_id = r.body["meta_id"].as_str().unwrap().to_owned();
    control(
        app,
        Method::POST,
        &format!("/templates/{meta_id}/review"),
        json!({"status": "APPROVED"}),
    )
    .await;
    eventually("the template to be approved by webhook", || async {
        let r = ceo
            .get(&format!("/api/crm/marketing/hsm/templates/{id}"))
            .await;
        (r.body["status"] == "APPROVED").then_some(r.body)
    })
    .await
}

async fn new_lead(
    c: &Client,
    name: &str,
    phone: &str,
    opted_in: bool,
    source: Option<&str>,
) -> String {
    let mut body = json!({"name": name, "phone": phone});
    if opted_in {
        body["opt_in_method"] = json!("web_form");
    }
    if let Some(s) = source {
        body["attribution"] = json!({"lead_source": s});
    }
    let r = c.post("/api/leads", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"]
        .as_str()
        .or_else(|| r.body["lead"]["id"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn template_lifecycle_validation_sync_and_webhooks() {
    let (app, ceo, waba_id, _) = ready().await;

    // Meta's rules are applied before anything reaches Meta.
    let mut bad = welcome_template("welcome_x", "MARKETING");
    bad["components"][0]["example"] = json!({"body_text": [["Ana"]]});
    let r = ceo.post("/api/crm/marketing/hsm/templates", bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "missing_example");
    let r = ceo
        .post(
            "/api/crm/marketing/hsm/templates",
            welcome_template("Bad Name", "MARKETING"),
        )
        .await;
    assert_eq!(r.code(), "invalid_template_name");
    assert!(received(&app, "POST", "message_templates").await.is_empty());

    // Create → PENDING at Meta → approved by the review webhook.
    let t = approved_template(&app, &ceo, "hsm_bienvenida", "UTILITY").await;
    assert_eq!(t["category"], "UTILITY");
    assert_eq!(t["variables"], json!(["1", "2"]));
    let history: Vec<&str> = t["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "status")
        .map(|e| e["to_value"].as_str().unwrap())
        .collect();
    assert_eq!(history, vec!["PENDING", "APPROVED"]);
    assert_eq!(
        received(&app, "POST", &format!("{waba_id}/message_templates"))
            .await
            .len(),
        1
    );

    // Duplicate name+language is a conflict with the existing id.
    let r = ceo
        .post(
            "/api/crm/marketing/hsm/templates",
            welcome_template("hsm_bienvenida", "UTILITY"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["details"]["id"], t["id"]);

    // Meta recategorises it: surfaced, and marketing consent now applies.
    let meta_id = t["meta_id"].as_str().unwrap();
    control(
        &app,
        Method::POST,
        &format!("/templates/{meta_id}/category"),
        json!({"category": "MARKETING"}),
    )
    .await;
    let id = t["id"].as_str().unwrap();
    let t = eventually("the category update", || async {
        let r = ceo
            .get(&format!("/api/crm/marketing/hsm/templates/{id}"))
            .await;
        (r.body["category"] == "MARKETING").then_some(r.body)
    })
    .await;
    assert_eq!(t["previous_category"], "UTILITY");
    assert_eq!(t["needs_marketing_consent"], true);

    // A rejected template is kept with its reason.
    let r = ceo
        .post(
            "/api/crm/marketing/hsm/templates",
            welcome_template("hsm_promo_rechazada", "MARKETING"),
        )
        .await;
    let rid = r.body["id"].as_str().unwrap().to_owned();
    let rmeta = r.body["meta_id"].as_str().unwrap().to_owned();
    control(
        &app,
        Method::POST,
        &format!("/templates/{rmeta}/review"),
        json!({"status": "REJECTED", "reason": "PROMOTIONAL"}),
    )
    .await;
    eventually("the rejection", || async {
        let r = ceo
            .get(&format!("/api/crm/marketing/hsm/templates/{rid}"))
            .await;
        (r.body["status"] == "REJECTED").then_some(r.body)
    })
    .await;

    // On-demand sync pulls every template of the WABA (all pages).
    let r = ceo
        .post("/api/crm/marketing/hsm/templates/sync", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let fetched = r.body["fetched"].as_u64().unwrap();
    assert!(fetched >= 2);
    let mut all = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/crm/marketing/hsm/templates?limit=2&cursor={c}"),
            None => "/api/crm/marketing/hsm/templates?limit=2".to_owned(),
        };
        let r = ceo.get(&path).await;
        all.extend(r.body["items"].as_array().unwrap().clone());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(all.len() as u64 >= fetched);
    let r = ceo
        .get("/api/crm/marketing/hsm/templates?status=REJECTED")
        .await;
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "hsm_promo_rechazada" && x["rejected_reason"] == "PROMOTIONAL")
    );

    // Delete: removed at Meta, kept locally as DELETED.
    let r = ceo
        .delete(&format!("/api/crm/marketing/hsm/templates/{rid}"))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = ceo
        .get(&format!("/api/crm/marketing/hsm/templates/{rid}"))
        .await;
    assert_eq!(r.body["status"], "DELETED");
    assert_eq!(received(&app, "DELETE", "message_templates").await.len(), 1);
}

#[tokio::test]
async fn manual_send_is_checked_before_meta_and_statuses_move_forward() {
    let (app, ceo, _, _) = ready().await;
    let t = approved_template(&app, &ceo, "hsm_aviso_turno", "UTILITY").await;
    let tid = t["id"].as_str().unwrap();
    let lead = new_lead(&ceo, "Ana Pérez", "+5491155550101", true, None).await;

    // Parameter-count mismatch never reaches Meta.
    let r = ceo
        .post(
            &format!("/api/crm/marketing/hsm/templates/{tid}/send"),
            json!({"lead_id": lead, "variables": {"1": "Ana"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.code(), "parameter_count_mismatch");
    assert!(sent_by_sandbox(&app).await.is_empty());

    let r = ceo
        .post(
            &format!("/api/crm/marketing/hsm/templates/{tid}/send"),
            json!({"lead_id": lead, "variables": {"1": "Ana", "2": "Marta"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.body["message"]["body"],
        "Hola Ana, gracias por escribirnos. Te atiende Marta.\nResponde BAJA para no recibir más"
    );
    let wamid = r.body["message"]["wamid"].as_str().unwrap().to_owned();
    let sent = sent_by_sandbox(&app).await;
    assert_eq!(sent.len(), 1, "{sent:?}");

    // The sandbox's status webhooks move it to read.
    let panel = eventually("delivery statuses", || async {
        let r = ceo
            .get(&format!("/api/crm/marketing/hsm/leads/{lead}/messages"))
            .await;
        let m = r.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["wamid"] == wamid.as_str())
            .cloned()?;
        // Webhooks are processed concurrently and may apply out of order:
        // wait until every step has its time.
        (m["status"] == "read"
            && m["sent_at"].is_string()
            && m["delivered_at"].is_string()
            && m["read_at"].is_string())
        .then_some(r.body)
    })
    .await;
    let m = &panel["messages"][0];
    assert_eq!(m["status"], "read");

    // A late/duplicate "delivered" does not move it back.
    control(
        &app,
        Method::POST,
        &format!("/messages/{wamid}/status"),
        json!({"status": "delivered"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = ceo
        .get(&format!("/api/crm/marketing/hsm/leads/{lead}/messages"))
        .await;
    assert_eq!(r.body["messages"][0]["status"], "read");

    // Marketing template to a lead without marketing opt-in: refused before Meta.
    let mk = approved_template(&app, &ceo, "hsm_promo_mes", "MARKETING").await;
    let cold = new_lead(&ceo, "Sin Consent", "+5491155550102", false, None).await;
    let r = ceo
        .post(
            &format!(
                "/api/crm/marketing/hsm/templates/{}/send",
                mk["id"].as_str().unwrap()
            ),
            json!({"lead_id": cold, "variables": {"1": "X", "2": "Y"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "no_marketing_consent");
    assert_eq!(sent_by_sandbox(&app).await.len(), 1);

    // A seller cannot send to a lead that is not theirs (404, not 403).
    add_user(&ceo, "seller@example.com", "seller").await;
    let seller = logged_in(&app, "seller@example.com").await;
    let r = seller
        .post(
            &format!("/api/crm/marketing/hsm/templates/{tid}/send"),
            json!({"lead_id": lead, "variables": {"1": "Ana", "2": "Marta"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn inbound_messages_create_leads_and_stop_keywords_opt_out() {
    let (app, ceo, _, phone_id) = ready().await;
    control(&app, Method::POST, "/inbound",
        json!({"phone_number_id": phone_id, "from": "5491155550199", "name": "Lucía", "text": "Hola, quiero info"})).await;
    let lead = eventually("the inbound lead", || async {
        let r = ceo.get("/api/leads?q=5491155550199").await;
        r.body["items"].as_array().and_then(|a| a.first().cloned())
    })
    .await;
    let lid = lead["id"].as_str().unwrap().to_owned();
    // The lead is created first, then the message is stored with it.
    let panel = eventually("the stored inbound message", || async {
        let r = ceo
            .get(&format!("/api/crm/marketing/hsm/leads/{lid}/messages"))
            .await;
        (!r.body["messages"].as_array()?.is_empty()).then_some(r.body)
    })
    .await;
    assert_eq!(panel["messages"][0]["direction"], "in");
    assert_eq!(panel["messages"][0]["body"], "Hola, quiero info");
    assert_eq!(panel["window"]["open"], true);
    assert_eq!(panel["consent"]["opted_out"], false);

    control(&app, Method::POST, "/inbound",
        json!({"phone_number_id": phone_id, "from": "5491155550199", "name": "Lucía", "text": "baja"})).await;
    let panel = eventually("the opt-out", || async {
        let r = ceo
            .get(&format!("/api/crm/marketing/hsm/leads/{lid}/messages"))
            .await;
        (r.body["consent"]["opted_out"] == true).then_some(r.body)
    })
    .await;
    assert_eq!(panel["consent"]["opt_out_method"], "keyword:BAJA");
    assert_eq!(panel["messages"].as_array().unwrap().len(), 2);
}

fn rule(name: &str, template: &str, trigger: Value) -> Value {
    json!({
        "name": name, "enabled": true, "trigger": trigger,
        "action": {"template_name": template, "language": "es", "bindings": {
            "1": {"source": "lead.first_name", "fallback": "hola"},
            "2": {"source": "tenant.name"}
        }},
        "frequency_cap": {"max": 1, "hours": 24}
    })
}

async fn logs_for(ceo: &Client, rule_id: &str) -> Vec<Value> {
    let r = ceo
        .get(&format!(
            "/api/crm/marketing/automation-logs?rule_id={rule_id}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn lead_created_rule_sends_once_and_guards_log_reasons() {
    let (app, ceo, _, _) = ready().await;
    approved_template(&app, &ceo, "hsm_bienvenida", "MARKETING").await;

    // Starter rules ship disabled.
    let r = ceo.get("/api/crm/marketing/automation/rules").await;
    let starters = r.body.as_array().unwrap();
    assert_eq!(starters.len(), 4);
    assert!(
        starters
            .iter()
            .all(|s| s["enabled"] == false && s["starter_key"].is_string())
    );

    // Binding map must match the template's variables.
    let mut bad = rule("Mal", "hsm_bienvenida", json!({"type": "lead_created"}));
    bad["action"]["bindings"] = json!({"1": {"source": "lead.name"}});
    let r = ceo.post("/api/crm/marketing/automation/rules", bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "parameter_count_mismatch");

    let r = ceo
        .post(
            "/api/crm/marketing/automation/rules",
            rule(
                "Bienvenida",
                "hsm_bienvenida",
                json!({"type": "lead_created"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let rid = r.body["id"].as_str().unwrap().to_owned();

    let ok = new_lead(&ceo, "Ana Pérez", "+5491155550111", true, None).await;
    let out = new_lead(&ceo, "Sin Permiso", "+5491155550112", false, None).await;
    let nophone = {
        let r = ceo.post("/api/leads", json!({"name": "Solo Email", "email": "solo@example.com", "opt_in_method": "web_form"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    };
    let logs = eventually("three runs settled", || async {
        let l = logs_for(&ceo, &rid).await;
        let settled = l
            .iter()
            .filter(|x| ["read", "skipped"].contains(&x["status"].as_str().unwrap()))
            .count();
        (settled == 3).then_some(json!(l))
    })
    .await;
    let by_lead = |id: &str| {
        logs.as_array()
            .unwrap()
            .iter()
            .find(|x| x["lead_id"] == id)
            .unwrap()
            .clone()
    };
    let sent = by_lead(&ok);
    assert_eq!(sent["status"], "read");
    assert_eq!(
        sent["rendered"],
        "Hola Ana, gracias por escribirnos. Te atiende Acme.\nResponde BAJA para no recibir más"
    );
    let steps: Vec<&str> = sent["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, vec!["queued", "sent", "delivered", "read"]);
    assert_eq!(by_lead(&out)["reason"], "no_marketing_consent");
    assert_eq!(by_lead(&nophone)["reason"], "no_recipient");

    // The sandbox received exactly one message, to the eligible lead.
    let sent_msgs = sent_by_sandbox(&app).await;
    assert_eq!(sent_msgs.len(), 1, "{sent_msgs:?}");

    // Dry-run sends nothing and explains.
    let r = ceo
        .post(
            &format!("/api/crm/marketing/automation/rules/{rid}/dry-run"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    // The lead already messaged for its creation would not get a second one.
    let handled = items.iter().find(|i| i["lead_id"] == ok.as_str()).unwrap();
    assert_eq!(handled["reason"], "already_handled", "{handled:?}");
    assert_eq!(handled["outcome"], "would_skip");
    assert_eq!(
        items.iter().find(|i| i["lead_id"] == out.as_str()).unwrap()["reason"],
        "no_marketing_consent"
    );
    assert_eq!(sent_by_sandbox(&app).await.len(), 1);

    // Counts for the rules tab.
    let r = ceo
        .get(&format!("/api/crm/marketing/automation/rules/{rid}"))
        .await;
    assert_eq!(r.body["last_7_days"]["sent"], 1);
    assert_eq!(r.body["last_7_days"]["skipped"], 2);

    // Toggle off: a new lead gets no run.
    let r = ceo
        .post(
            &format!("/api/crm/marketing/automation/rules/{rid}/toggle"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.body["enabled"], false);
    new_lead(&ceo, "Tarde", "+5491155550113", true, None).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(logs_for(&ceo, &rid).await.len(), 3);
}

#[tokio::test]
async fn unapproved_template_is_skipped_and_alerted() {
    let (app, ceo, _, _) = ready().await;
    let r = ceo
        .post(
            "/api/crm/marketing/hsm/templates",
            welcome_template("hsm_pendiente", "UTILITY"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = ceo
        .post(
            "/api/crm/marketing/automation/rules",
            rule(
                "Pendiente",
                "hsm_pendiente",
                json!({"type": "lead_created"}),
            ),
        )
        .await;
    let rid = r.body["id"].as_str().unwrap().to_owned();
    new_lead(&ceo, "Beto", "+5491155550121", true, None).await;
    let logs = eventually("the skip", || async {
        let l = logs_for(&ceo, &rid).await;
        l.first().filter(|x| x["status"] == "skipped").cloned()
    })
    .await;
    assert_eq!(logs["reason"], "template_not_approved");
    let r = ceo.get("/api/audit?action=hsm.alert").await;
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "hsm.alert"),
        "{:?}",
        r.body
    );
    assert!(sent_by_sandbox(&app).await.is_empty());
}
