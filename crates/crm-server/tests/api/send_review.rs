//! A send Meta never confirms is held for review (at most once by default),
//! over the API: the sender sees it held on the lead, then resends or
//! dismisses it; neither happens twice.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::hsm_api::{approved_template, ready, sent_by_sandbox};
use crate::meta_support::*;

async fn lead_with_phone(c: &Client, name: &str, phone: &str) -> String {
    let r = c
        .post(
            "/api/leads",
            json!({"name": name, "phone": phone, "opt_in_method": "web_form"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Meta answers the next send with a 503: it may or may not have taken it.
async fn next_send_unanswered(app: &TestApp) {
    control(
        app,
        Method::POST,
        "/faults",
        json!({"path": "/messages", "kind": "error", "code": 2, "http_status": 503,
               "message": "Service temporarily unavailable"}),
    )
    .await;
}

#[tokio::test]
async fn an_unanswered_manual_send_is_held_then_resent_or_dismissed_once() {
    let (app, ceo, _, _) = ready().await;
    let t = approved_template(&app, &ceo, "hsm_sin_confirmar", "UTILITY").await;
    let tid = t["id"].as_str().unwrap();
    let ana = lead_with_phone(&ceo, "Ana Pérez", "+5491155550201").await;
    let send = format!("/api/crm/marketing/hsm/templates/{tid}/send");
    let vars = json!({"1": "Ana", "2": "Marta"});

    next_send_unanswered(&app).await;
    let r = ceo
        .post(&send, json!({"lead_id": ana, "variables": vars}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["message"]["status"], "held", "{:?}", r.body);
    let held = r.body["message"]["id"].as_str().unwrap().to_owned();
    assert!(
        r.body["message"]["error_message"]
            .as_str()
            .unwrap_or_default()
            .contains("may or may not"),
        "{:?}",
        r.body
    );
    // The lead's panel shows it held.
    let panel = ceo
        .get(&format!("/api/crm/marketing/hsm/leads/{ana}/messages"))
        .await;
    let m = panel.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == held.as_str())
        .cloned()
        .unwrap();
    assert_eq!(m["status"], "held");

    // Resent by the person: handed to Meta once more, and settled.
    let before = sent_by_sandbox(&app).await.len();
    let r = ceo
        .post(
            &format!("/api/crm/marketing/hsm/messages/{held}/resend"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["message"]["id"], held.as_str());
    assert!(
        ["sent", "delivered", "read"].contains(&r.body["message"]["status"].as_str().unwrap()),
        "{:?}",
        r.body
    );
    let sent = sent_by_sandbox(&app).await;
    assert_eq!(sent.len(), before + 1, "{sent:?}");
    assert_eq!(
        sent.last().unwrap()["biz_opaque_callback_data"],
        format!("m:{held}")
    );
    // Not again: it is no longer held.
    for action in ["resend", "dismiss"] {
        let r = ceo
            .post(
                &format!("/api/crm/marketing/hsm/messages/{held}/{action}"),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{action}: {:?}", r.body);
        assert_eq!(r.code(), "message_not_held");
    }
    assert_eq!(sent_by_sandbox(&app).await.len(), before + 1);

    // Another unanswered send, dismissed: closed, audited, nothing sent.
    let beto = lead_with_phone(&ceo, "Beto Gómez", "+5491155550202").await;
    next_send_unanswered(&app).await;
    let r = ceo
        .post(
            &send,
            json!({"lead_id": beto, "variables": {"1": "Beto", "2": "Marta"}}),
        )
        .await;
    assert_eq!(r.body["message"]["status"], "held", "{:?}", r.body);
    let held2 = r.body["message"]["id"].as_str().unwrap().to_owned();
    let n = sent_by_sandbox(&app).await.len();
    let r = ceo
        .post(
            &format!("/api/crm/marketing/hsm/messages/{held2}/dismiss"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "dismissed");
    assert_eq!(sent_by_sandbox(&app).await.len(), n);
    let audit = ceo.get("/api/audit?action=hsm.message.dismiss").await;
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        audit.body
    );

    // A seller cannot review a message of a lead they do not see.
    add_user(&ceo, "vendedora@acme.test", "seller").await;
    let seller = logged_in(&app, "vendedora@acme.test").await;
    let r = seller
        .post(
            &format!("/api/crm/marketing/hsm/messages/{held2}/resend"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    // Nor can another company.
    let other = crate::isolation::second_tenant(&app, "ceo@otra.test").await;
    for action in ["resend", "dismiss"] {
        let r = other
            .post(
                &format!("/api/crm/marketing/hsm/messages/{held2}/{action}"),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}: {:?}", r.body);
    }
    // Unknown and malformed ids.
    let r = ceo
        .post(
            "/api/crm/marketing/hsm/messages/01a1ffa3-0000-7000-8000-000000000001/dismiss",
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = ceo
        .post("/api/crm/marketing/hsm/messages/nope/dismiss", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_resend_setting_is_off_by_default_and_audited() {
    let (_app, ceo, _, _) = ready().await;
    let r = ceo.get("/api/crm/marketing/hsm/settings").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["resend_unconfirmed"], false);
    let r = ceo
        .req(
            Method::PUT,
            "/api/crm/marketing/hsm/settings",
            Some(
                json!({"opt_out_keywords": ["STOP"], "messages_per_second": 80,
                        "resend_unconfirmed": true}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["resend_unconfirmed"], true);
    // Leaving it out keeps it.
    let r = ceo
        .req(
            Method::PUT,
            "/api/crm/marketing/hsm/settings",
            Some(json!({"opt_out_keywords": ["STOP"], "messages_per_second": 60})),
        )
        .await;
    assert_eq!(r.body["resend_unconfirmed"], true, "{:?}", r.body);
    let audit = ceo.get("/api/audit?action=hsm.settings.update").await;
    let items = audit.body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|a| a["details"]["resend_unconfirmed"] == true),
        "{items:?}"
    );
}

#[tokio::test]
async fn a_repeated_idempotency_key_sends_once_and_a_full_number_answers_send_busy() {
    let (app, ceo, _, _) = ready().await;
    let t = approved_template(&app, &ceo, "hsm_idempotente", "UTILITY").await;
    let tid = t["id"].as_str().unwrap();
    let send = format!("/api/crm/marketing/hsm/templates/{tid}/send");
    let ana = lead_with_phone(&ceo, "Ana Pérez", "+5491155550301").await;
    let post = |key: Option<&'static str>, lead: String| {
        let c = ceo.http.clone();
        let url = format!("{}{}", ceo.base, send);
        let csrf = ceo.csrf.clone().unwrap_or_default();
        async move {
            let mut rb = c
                .post(url)
                .header("x-csrf-token", csrf)
                .json(&json!({"lead_id": lead, "variables": {"1": "Ana", "2": "Marta"}}));
            if let Some(k) = key {
                rb = rb.header("idempotency-key", k);
            }
            let r = rb.send().await.unwrap();
            let status = r.status();
            let retry = r.headers().get("retry-after").cloned();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body, retry)
        }
    };
    let before = sent_by_sandbox(&app).await.len();
    let (s1, b1, _) = post(Some("envio-ana-1"), ana.clone()).await;
    assert_eq!(s1, StatusCode::CREATED, "{b1}");
    let (s2, b2, _) = post(Some("envio-ana-1"), ana.clone()).await;
    assert_eq!(s2, StatusCode::OK, "{b2}");
    assert_eq!(b1["message"]["id"], b2["message"]["id"]);
    assert_eq!(sent_by_sandbox(&app).await.len(), before + 1);
    // The same key for another send is refused; a malformed key too.
    let beto = lead_with_phone(&ceo, "Beto Gómez", "+5491155550302").await;
    let (s3, b3, _) = post(Some("envio-ana-1"), beto).await;
    assert_eq!(s3, StatusCode::CONFLICT, "{b3}");
    assert_eq!(b3["error"]["code"], "idempotency_key_reused");
    let (s4, b4, _) = post(Some("con espacios"), ana.clone()).await;
    assert_eq!(s4, StatusCode::BAD_REQUEST, "{b4}");
    assert_eq!(b4["error"]["code"], "invalid_idempotency_key");
    assert_eq!(sent_by_sandbox(&app).await.len(), before + 1);

    // One message a second on this number, and 14 people at once: the sends
    // that would wait more than 10 s for a slot are refused at once with
    // send_busy and Retry-After, never left hanging.
    let r = ceo
        .req(
            Method::PUT,
            "/api/crm/marketing/hsm/settings",
            Some(json!({"opt_out_keywords": ["STOP"], "messages_per_second": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut leads = vec![];
    for i in 0..14 {
        leads.push(
            lead_with_phone(
                &ceo,
                &format!("Cliente {i}"),
                &format!("+54911555504{i:02}"),
            )
            .await,
        );
    }
    let before = sent_by_sandbox(&app).await.len();
    let answers = futures::future::join_all(leads.into_iter().map(|l| post(None, l))).await;
    let created = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::CREATED)
        .count();
    let busy: Vec<_> = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!busy.is_empty(), "{answers:?}");
    for (_, b, retry) in &busy {
        assert_eq!(b["error"]["code"], "send_busy", "{b}");
        assert!(retry.is_some(), "{b}");
    }
    assert_eq!(created + busy.len(), 14, "{answers:?}");
    assert_eq!(sent_by_sandbox(&app).await.len(), before + created);
}
