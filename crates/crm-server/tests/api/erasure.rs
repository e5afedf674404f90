//! Deleting a lead erases the person everywhere their data was copied
//! (issue 18.11), and the deletion is audited without the data.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::hsm_api::{approved_template, ready};
use crate::meta_support::*;

const ANA_DIGITS: &str = "5491155550301";

async fn lead(c: &Client, name: &str, phone: &str, email: &str) -> String {
    let r = c
        .post(
            "/api/leads",
            json!({"name": name, "phone": phone, "email": email, "opt_in_method": "web_form"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Every text column of the rows `sql` selects, joined.
async fn texts(db: &sea_orm::DatabaseConnection, sql: &str) -> String {
    let mut out = String::new();
    for row in query(db, sql).await {
        let v: String = row.try_get_by_index(0).unwrap_or_default();
        out.push_str(&v);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn deleting_a_lead_erases_their_messages_events_deliveries_and_audit_details() {
    let (app, ceo, _, _) = ready().await;
    let t = approved_template(&app, &ceo, "hsm_borrado", "UTILITY").await;
    let tid = t["id"].as_str().unwrap();
    let ana = lead(
        &ceo,
        "Ana Borrable",
        "+5491155550301",
        "ana.borrable@cliente.test",
    )
    .await;
    let beto = lead(&ceo, "Beto Queda", "+5491155550302", "beto@cliente.test").await;
    let r = ceo
        .patch(
            &format!("/api/leads/{ana}"),
            json!({"name": "Ana M. Borrable"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let send = format!("/api/crm/marketing/hsm/templates/{tid}/send");
    for id in [&ana, &beto] {
        let r = ceo
            .post(
                &send,
                json!({"lead_id": id, "variables": {"1": "Cliente", "2": "Marta"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let db = crm_db::connect(&app.database_url, 2).await.unwrap();
    // Meta's status webhooks for Ana's message arrive and are processed.
    eventually("Ana's status webhook is processed", || {
        let db = db.clone();
        async move {
            let all = texts(
                &db,
                "SELECT CAST(payload AS TEXT) FROM webhook_inbox WHERE status <> 'pending'",
            )
            .await;
            all.contains(ANA_DIGITS)
        }
    })
    .await;
    let before = texts(&db, "SELECT CAST(payload AS TEXT) FROM outbox").await;
    assert!(
        before.contains("Borrable"),
        "the outbox had Ana's data before: {before}"
    );
    // The dispatcher copies lead events into consumer jobs.
    eventually("a consumer job holds Ana's data", || {
        let db = db.clone();
        async move {
            texts(&db, "SELECT CAST(payload AS TEXT) FROM jobs")
                .await
                .contains("Borrable")
        }
    })
    .await;

    let r = ceo.delete(&format!("/api/leads/{ana}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);

    for (what, sql) in [
        ("outbox", "SELECT CAST(payload AS TEXT) FROM outbox"),
        ("jobs", "SELECT CAST(payload AS TEXT) FROM jobs"),
        (
            "webhook inbox",
            "SELECT CAST(payload AS TEXT) FROM webhook_inbox WHERE status <> 'pending'",
        ),
        ("messages", "SELECT body FROM wa_messages"),
        (
            "automation runs",
            "SELECT CAST(variables AS TEXT) FROM automation_runs",
        ),
        ("audit log", "SELECT CAST(details AS TEXT) FROM audit_log"),
    ] {
        let all = texts(&db, sql).await;
        for secret in ["Borrable", ANA_DIGITS, "ana.borrable@cliente.test"] {
            assert!(
                !all.contains(secret),
                "{secret} is still in the {what}: {all}"
            );
        }
    }
    let left = query(
        &db,
        &format!("SELECT id FROM wa_messages WHERE lead_id = '{ana}'"),
    )
    .await;
    assert!(left.is_empty());
    // Beto is untouched: his message and his deliveries stay.
    let panel = ceo
        .get(&format!("/api/crm/marketing/hsm/leads/{beto}/messages"))
        .await;
    assert_eq!(panel.status, StatusCode::OK);
    assert!(
        panel.body.to_string().contains("hsm_borrado"),
        "{}",
        panel.body
    );
    // The deletion is audited, with counts and no data.
    let audit = ceo.get("/api/audit?action=lead.delete").await;
    let row = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "lead.delete")
        .cloned()
        .expect("a lead.delete audit row");
    assert_eq!(row["resource_id"], ana.as_str());
    assert!(
        row["details"]["erased"]["messages"].as_u64() >= Some(1),
        "{row}"
    );
    assert!(!row.to_string().contains("Borrable"));
}
