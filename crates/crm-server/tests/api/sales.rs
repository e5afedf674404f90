//! Sales: attribution snapshot, refunds as their own transactions, status
//! changes, events and the timeline.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::leads::events;
use crate::pipeline::stage_id;

#[tokio::test]
async fn sales_snapshot_attribution_and_refunds_never_edit_amounts() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let lead = ceo
        .post(
            "/api/leads",
            json!({"name": "Karen", "phone": "+5491166660000",
                   "attribution": {"meta_lead_id": "lg-77", "meta_ad_id": "ad-77", "meta_campaign_id": "cmp-77"}}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let opp = ceo
        .post(
            "/api/opportunities",
            json!({"lead_id": lead, "name": "Kit", "value_minor": 80000, "currency": "ARS"}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let won = stage_id(&ceo, "won").await;
    ceo.patch(
        &format!("/api/opportunities/{opp}"),
        json!({"stage_id": won}),
    )
    .await;
    let r = ceo
        .post(
            "/api/sales",
            json!({"opportunity_id": opp, "amount_minor": 80000, "method": "transfer", "invoice_ref": "A-0001"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let sale = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["currency"], "ARS");
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["kind"], "sale");
    assert_eq!(r.body["lead_id"], json!(lead));
    assert!(r.body["paid_at"].is_string());
    assert_eq!(r.body["attribution"]["meta_lead_id"], "lg-77");
    assert_eq!(r.body["attribution"]["meta_campaign_id"], "cmp-77");
    assert_eq!(r.body["attribution"]["lead_source"], "META_ADS");

    // Later touches do not change the snapshot.
    ceo.post(
        &format!("/api/leads/{lead}/touches"),
        json!({"ctwa_clid": "late"}),
    )
    .await;
    assert_eq!(
        ceo.get(&format!("/api/sales/{sale}")).await.body["attribution"]["ctwa_clid"],
        Value::Null
    );

    // The amount cannot be edited; unknown fields are ignored.
    let r = ceo
        .patch(
            &format!("/api/sales/{sale}"),
            json!({"amount_minor": 1, "invoice_ref": "A-0001b"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["amount_minor"], 80000);
    assert_eq!(r.body["invoice_ref"], "A-0001b");
    let r = ceo
        .patch(&format!("/api/sales/{sale}"), json!({"status": "pending"}))
        .await;
    assert_eq!(r.code(), "invalid_status_change");

    // Partial refund, then the rest; a third one is refused.
    let r = ceo
        .post(
            &format!("/api/sales/{sale}/refunds"),
            json!({"amount_minor": 30000, "note": "damaged"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["kind"], "refund");
    assert_eq!(r.body["refund_of"], json!(sale));
    assert_eq!(r.body["amount_minor"], 30000);
    assert_eq!(r.body["attribution"]["meta_lead_id"], "lg-77");
    let r = ceo
        .post(
            &format!("/api/sales/{sale}/refunds"),
            json!({"amount_minor": 60000}),
        )
        .await;
    assert_eq!(r.code(), "invalid_refund_amount");
    assert_eq!(r.body["error"]["details"]["refundable_minor"], 50000);
    let r = ceo
        .post(&format!("/api/sales/{sale}/refunds"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["amount_minor"], 50000);
    let orig = ceo.get(&format!("/api/sales/{sale}")).await;
    assert_eq!(orig.body["status"], "refunded");
    assert_eq!(orig.body["amount_minor"], 80000);
    let r = ceo
        .post(&format!("/api/sales/{sale}/refunds"), json!({}))
        .await;
    assert_eq!(r.code(), "not_refundable");

    let list = ceo.get(&format!("/api/sales?lead_id={lead}")).await;
    let kinds: Vec<(&str, i64)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap(),
                s["amount_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![("refund", 50000), ("refund", 30000), ("sale", 80000)]
    );
    assert_eq!(
        ceo.get("/api/sales?kind=refund").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Events carry the sale, the opportunity, the lead and the attribution.
    let evs = events(&app, &sale).await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].event_type, "sale_recorded");
    let p = &evs[0].payload;
    assert_eq!(p["sale"]["amount_minor"], 80000);
    assert_eq!(p["sale"]["currency"], "ARS");
    assert_eq!(p["opportunity"]["id"], json!(opp));
    assert_eq!(p["lead"]["phone"], "+5491166660000");
    assert_eq!(p["attribution"]["meta_ad_id"], "ad-77");

    // A lead with sales cannot be deleted; the timeline lists the sale and refunds.
    let r = ceo.delete(&format!("/api/leads/{lead}")).await;
    assert_eq!(r.code(), "lead_has_sales");
    let tl = ceo
        .get(&format!("/api/leads/{lead}/timeline?kind=sale,refund"))
        .await;
    let k: Vec<&str> = tl.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(k, vec!["refund", "refund", "sale"]);
    assert_eq!(tl.body["items"][2]["payload"]["invoice_ref"], "A-0001");
}

#[tokio::test]
async fn pending_sales_complete_and_bad_input_is_refused() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let lead = ceo.post("/api/leads", json!({"name": "Luis"})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let opp = ceo
        .post(
            "/api/opportunities",
            json!({"lead_id": lead, "name": "X", "value_minor": 5000}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, code) in [
        (
            json!({"opportunity_id": opp, "amount_minor": 0}),
            "invalid_amount",
        ),
        (
            json!({"opportunity_id": opp, "amount_minor": 10, "currency": "EURO"}),
            "invalid_currency",
        ),
        (
            json!({"opportunity_id": opp, "amount_minor": 10, "status": "refunded"}),
            "invalid_status",
        ),
        (
            json!({"opportunity_id": lead, "amount_minor": 10}),
            "invalid_opportunity",
        ),
        (
            json!({"opportunity_id": opp, "amount_minor": 1_000_000_000_000_001_i64}),
            "amount_too_large",
        ),
        (
            json!({"opportunity_id": opp, "amount_minor": i64::MAX}),
            "amount_too_large",
        ),
    ] {
        let r = ceo.post("/api/sales", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.code(), code);
    }
    // The bound holds for deals too (created or edited), and 10^15 itself
    // is accepted.
    let r = ceo
        .post(
            "/api/opportunities",
            json!({"lead_id": lead, "name": "Y", "value_minor": 1_000_000_000_000_001_i64}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.code(), "amount_too_large");
    let r = ceo
        .patch(
            &format!("/api/opportunities/{opp}"),
            json!({"value_minor": i64::MAX}),
        )
        .await;
    assert_eq!(r.code(), "amount_too_large", "{:?}", r.body);
    let r = ceo
        .post(
            "/api/opportunities",
            json!({"lead_id": lead, "name": "Z", "value_minor": 1_000_000_000_000_000_i64}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = ceo
        .post(
            "/api/sales",
            json!({"opportunity_id": opp, "amount_minor": 5000, "status": "pending"}),
        )
        .await;
    let sale = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["paid_at"], Value::Null);
    // A pending sale does not make the lead a customer yet.
    assert_eq!(
        ceo.get(&format!("/api/leads/{lead}")).await.body["lead"]["status"],
        "new"
    );
    let r = ceo
        .post(&format!("/api/sales/{sale}/refunds"), json!({}))
        .await;
    assert_eq!(r.code(), "not_refundable");
    let r = ceo
        .patch(
            &format!("/api/sales/{sale}"),
            json!({"status": "completed"}),
        )
        .await;
    assert_eq!(r.body["status"], "completed");
    assert!(r.body["paid_at"].is_string());
    let evs = events(&app, &sale).await;
    let t: Vec<&str> = evs.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(t, vec!["sale_recorded", "sale_status_changed"]);
    assert_eq!(evs[1].payload["from_status"], "pending");
    assert_eq!(evs[1].payload["sale"]["status"], "completed");
    // Completing it does, with the status change on the lead's timeline and
    // its own lead_status_changed event.
    assert_eq!(
        ceo.get(&format!("/api/leads/{lead}")).await.body["lead"]["status"],
        "customer"
    );
    let tl = ceo.get(&format!("/api/leads/{lead}/timeline")).await;
    let items = tl.body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "status_changed" && i["payload"]["to"] == "customer"),
        "{:?}",
        tl.body
    );
    let lead_events = events(&app, &lead).await;
    assert!(
        lead_events
            .iter()
            .any(|e| e.event_type == "lead_status_changed" && e.payload["to"] == "customer")
    );
    // Marketing reads sales but cannot record them.
    add_user(&ceo, "m@acme.test", "marketing").await;
    let m = logged_in(&app, "m@acme.test").await;
    assert_eq!(
        m.get(&format!("/api/sales/{sale}")).await.status,
        StatusCode::OK
    );
    let r = m
        .post(
            "/api/sales",
            json!({"opportunity_id": opp, "amount_minor": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
