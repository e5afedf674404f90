//! Pipeline: default stages, opportunities, stage history, won/lost events,
//! the board with per-currency totals, and stage configuration.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::leads::events;

pub async fn stage_id(c: &Client, key: &str) -> String {
    let r = c.get("/api/pipeline/stages").await;
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("stage {key}: {:?}", r.body))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn default_stages_are_seeded_once_and_configurable() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let r = ceo.get("/api/pipeline/stages").await;
    assert_eq!(r.status, StatusCode::OK);
    let keys: Vec<(&str, &str, i64)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap(),
                s["kind"].as_str().unwrap(),
                s["probability"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("prospecting", "open", 10),
            ("qualification", "open", 25),
            ("proposal", "open", 50),
            ("negotiation", "open", 75),
            ("won", "won", 100),
            ("lost", "lost", 0)
        ]
    );
    // Reading again does not seed twice.
    assert_eq!(
        ceo.get("/api/pipeline/stages").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    let r = ceo
        .post("/api/pipeline/stages", json!({"key": "demo", "name": "Demo", "kind": "open", "position": 5, "probability": 20}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let demo = r.body["id"].as_str().unwrap().to_owned();
    let keys: Vec<String> = ceo.get("/api/pipeline/stages").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys[..3], ["prospecting", "demo", "qualification"]);
    let r = ceo
        .post(
            "/api/pipeline/stages",
            json!({"key": "demo", "name": "Again", "kind": "open"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["details"]["existing_id"], json!(demo));
    let r = ceo
        .post(
            "/api/pipeline/stages",
            json!({"key": "Bad Key", "name": "x", "kind": "open"}),
        )
        .await;
    assert_eq!(r.code(), "invalid_stage_key");
    let r = ceo
        .patch(
            &format!("/api/pipeline/stages/{demo}"),
            json!({"name": "Demo call", "probability": 101}),
        )
        .await;
    assert_eq!(r.code(), "invalid_probability");
    let r = ceo
        .patch(
            &format!("/api/pipeline/stages/{demo}"),
            json!({"name": "Demo call"}),
        )
        .await;
    assert_eq!(r.body["name"], "Demo call");
    let won = stage_id(&ceo, "won").await;
    let r = ceo.delete(&format!("/api/pipeline/stages/{won}")).await;
    assert_eq!(r.code(), "last_stage_of_kind");
    let r = ceo.delete(&format!("/api/pipeline/stages/{demo}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // Sellers cannot configure the pipeline.
    add_user(&ceo, "s@acme.test", "seller").await;
    let s = logged_in(&app, "s@acme.test").await;
    let r = s
        .post(
            "/api/pipeline/stages",
            json!({"key": "x", "name": "X", "kind": "open"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn stage_moves_record_history_close_and_emit_events() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let seller = add_user(&ceo, "s@acme.test", "seller").await;
    let lead = ceo
        .post(
            "/api/leads",
            json!({"name": "Irene", "owner_id": seller, "attribution": {"ctwa_clid": "clid-9", "meta_ad_id": "ad-9"}}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = logged_in(&app, "s@acme.test").await;
    let r = s
        .post(
            "/api/opportunities",
            json!({"lead_id": lead, "name": "Annual plan", "value_minor": 250000, "expected_close_date": "2026-12-31"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let opp = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["currency"], "USD");
    assert_eq!(r.body["stage_key"], "prospecting");
    assert_eq!(r.body["probability"], 10);
    assert_eq!(r.body["owner_id"], json!(seller));
    assert_eq!(r.body["closed_at"], Value::Null);

    let proposal = stage_id(&s, "proposal").await;
    let won = stage_id(&s, "won").await;
    let lost = stage_id(&s, "lost").await;
    let r = s
        .patch(
            &format!("/api/opportunities/{opp}"),
            json!({"stage_id": proposal}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["probability"], 50);
    let r = s
        .patch(
            &format!("/api/opportunities/{opp}"),
            json!({"stage_id": won}),
        )
        .await;
    assert_eq!(r.body["stage_kind"], "won");
    assert!(r.body["closed_at"].is_string());
    // Reopen, then lose with a reason.
    let r = ceo
        .patch(
            &format!("/api/opportunities/{opp}"),
            json!({"stage_id": proposal}),
        )
        .await;
    assert_eq!(r.body["closed_at"], Value::Null);
    let r = ceo
        .patch(
            &format!("/api/opportunities/{opp}"),
            json!({"stage_id": lost, "lost_reason": "Too expensive"}),
        )
        .await;
    assert_eq!(r.body["lost_reason"], "Too expensive");
    assert!(r.body["closed_at"].is_string());
    let r = ceo
        .patch(
            &format!("/api/opportunities/{opp}"),
            json!({"stage_id": "01a1ffa3-0000-7000-8000-000000000001"}),
        )
        .await;
    assert_eq!(r.code(), "invalid_stage");

    let d = ceo.get(&format!("/api/opportunities/{opp}")).await;
    let h = d.body["history"].as_array().unwrap();
    let prospecting = stage_id(&ceo, "prospecting").await;
    let moves: Vec<(Value, Value)> = h
        .iter()
        .map(|x| (x["from_stage_id"].clone(), x["to_stage_id"].clone()))
        .collect();
    assert_eq!(
        moves,
        vec![
            (Value::Null, json!(prospecting)),
            (json!(prospecting), json!(proposal)),
            (json!(proposal), json!(won)),
            (json!(won), json!(proposal)),
            (json!(proposal), json!(lost)),
        ]
    );
    assert_eq!(h[1]["changed_by_user_id"], json!(seller));
    assert_ne!(h[3]["changed_by_user_id"], json!(seller));

    let evs = events(&app, &opp).await;
    let t: Vec<&str> = evs.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        t,
        vec![
            "opportunity_created",
            "opportunity_stage_changed",
            "opportunity_stage_changed",
            "opportunity_won",
            "opportunity_stage_changed",
            "opportunity_stage_changed",
            "opportunity_lost"
        ]
    );
    let won_ev = &evs[3].payload;
    assert_eq!(won_ev["from_stage"]["key"], "proposal");
    assert_eq!(won_ev["to_stage"]["key"], "won");
    assert_eq!(won_ev["opportunity"]["value_minor"], 250000);
    assert_eq!(won_ev["opportunity"]["owner_id"], json!(seller));
    assert_eq!(won_ev["attribution"]["ctwa_clid"], "clid-9");
    assert_eq!(won_ev["lead"]["id"], json!(lead));
    assert_eq!(
        evs[6].payload["opportunity"]["lost_reason"],
        "Too expensive"
    );

    // The lead's timeline shows the opportunity and its moves.
    let tl = ceo
        .get(&format!(
            "/api/leads/{lead}/timeline?kind=stage_changed,opportunity_created"
        ))
        .await;
    let items = tl.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["payload"]["to"], "lost");
    assert_eq!(items[4]["kind"], "opportunity_created");
}

#[tokio::test]
async fn board_groups_by_stage_with_totals_per_currency() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let lead = ceo.post("/api/leads", json!({"name": "Juan"})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let proposal = stage_id(&ceo, "proposal").await;
    for (name, v, cur, stage) in [
        ("A", 100000, "USD", None),
        ("B", 50000, "USD", None),
        ("C", 900000, "ARS", None),
        ("D", 30000, "USD", Some(proposal.clone())),
    ] {
        let r = ceo
            .post("/api/opportunities", json!({"lead_id": lead, "name": name, "value_minor": v, "currency": cur, "stage_id": stage}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let r = ceo
        .post(
            "/api/opportunities",
            json!({"lead_id": lead, "name": "E", "value_minor": -1}),
        )
        .await;
    assert_eq!(r.code(), "invalid_amount");
    let r = ceo
        .post(
            "/api/opportunities",
            json!({"lead_id": lead, "name": "E", "value_minor": 1, "currency": "XYZ"}),
        )
        .await;
    assert_eq!(r.code(), "invalid_currency");
    let b = ceo.get("/api/pipeline/board").await;
    assert_eq!(b.status, StatusCode::OK);
    let cols = b.body["columns"].as_array().unwrap();
    assert_eq!(cols.len(), 6);
    assert_eq!(cols[0]["stage"]["key"], "prospecting");
    assert_eq!(cols[0]["count"], 3);
    assert_eq!(
        cols[0]["totals"],
        json!([
            {"currency": "ARS", "value_minor": 900000, "weighted_minor": 90000, "count": 1},
            {"currency": "USD", "value_minor": 150000, "weighted_minor": 15000, "count": 2}
        ])
    );
    assert_eq!(cols[0]["items"][0]["lead_name"], "Juan");
    assert_eq!(cols[2]["stage"]["key"], "proposal");
    assert_eq!(
        cols[2]["totals"],
        json!([{"currency": "USD", "value_minor": 30000, "weighted_minor": 15000, "count": 1}])
    );
    assert_eq!(cols[4]["count"], 0);
    let list = ceo.get("/api/opportunities?status=open&limit=2").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let next = list.body["next_cursor"].as_str().unwrap();
    let more = ceo
        .get(&format!(
            "/api/opportunities?status=open&limit=2&cursor={next}"
        ))
        .await;
    assert_eq!(more.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(more.body["next_cursor"], Value::Null);
    let d = ceo.get(&format!("/api/leads/{lead}")).await;
    assert_eq!(d.body["opportunities"].as_array().unwrap().len(), 4);
}
