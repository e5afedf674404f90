//! Per-form field mapping for Meta Lead Ads, over real HTTP with the
//! in-process sandbox: list the forms of the selected Page, edit a form's
//! mapping (validation, roles, audit, outbox), then a signed leadgen webhook
//! and the reconcile backfill create leads mapped the way the marketer said;
//! reset goes back to the default.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::meta_support::*;

/// Connects Meta and selects the first Page for Lead Ads; returns its id.
async fn page_selected(app: &TestApp, ceo: &Client) -> String {
    connect_meta(app, ceo).await;
    let w = world(app).await;
    let page = w["pages"][0]["id"].as_str().unwrap().to_owned();
    let r = ceo
        .post("/api/crm/marketing/lead-pages", json!({"page_ids": [page]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    page
}

async fn lead_by_leadgen(app: &TestApp, ceo: &Client, leadgen_id: &str) -> Value {
    let db = db(app);
    let sql = format!("SELECT lead_id FROM lead_touches WHERE meta_lead_id = '{leadgen_id}'");
    eventually("the Lead Ads lead", || async {
        !query(&db, &sql).await.is_empty()
    })
    .await;
    let rows = query(&db, &sql).await;
    assert_eq!(rows.len(), 1, "one lead per leadgen id");
    let id = rows[0].try_get::<uuid::Uuid>("", "lead_id").unwrap();
    let r = ceo.get(&format!("/api/leads/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["lead"].clone()
}

async fn notes_of(ceo: &Client, lead: &Value) -> Vec<String> {
    let r = ceo
        .get(&format!(
            "/api/leads/{}/timeline",
            lead["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "note")
        .map(|a| a["payload"]["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn target_of(detail: &Value, key: &str) -> String {
    detail["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["key"] == key)
        .map(|q| q["target"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no question {key}: {detail}"))
}

#[tokio::test]
async fn a_saved_form_mapping_shapes_webhook_and_backfilled_leads() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    let page = page_selected(&app, &ceo).await;

    // The page's forms, live from Meta; none customised yet.
    let r = ceo.get("/api/crm/marketing/lead-forms").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.iter().all(|f| f["page_id"] == page.as_str()));
    assert!(items.iter().all(|f| f["customized"] == false));
    let form = items
        .iter()
        .find(|f| f["name"].as_str().unwrap().ends_with("Formulario 1"))
        .unwrap();
    let form_id = form["form_id"].as_str().unwrap().to_owned();
    assert_eq!(form["question_count"], 4);

    // One form: its questions with the default mapping (today's behaviour).
    let path = format!("/api/crm/marketing/lead-forms/{form_id}");
    let d = ceo.get(&path).await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(target_of(&d.body, "full_name"), "full_name");
    assert_eq!(target_of(&d.body, "email"), "email");
    assert_eq!(target_of(&d.body, "phone_number"), "phone");
    assert_eq!(target_of(&d.body, "plan_de_interes"), "note");
    let custom = d.body["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["key"] == "plan_de_interes")
        .unwrap()
        .clone();
    assert_eq!(custom["label"], "¿Qué plan te interesa?");
    assert_eq!(custom["type"], "CUSTOM");

    // Invalid mappings: 422 with a message that says what is wrong.
    let mapping_path = format!("{path}/mapping");
    let put = |body: Value| {
        let ceo = &ceo;
        let p = mapping_path.clone();
        async move { ceo.req(Method::PUT, &p, Some(body)).await }
    };
    let r = put(json!({"mapping": {"ciudad": "note"}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.code(), "unknown_question");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("\"ciudad\" is not a question"), "{msg}");
    assert!(msg.contains("plan_de_interes"), "{msg}");
    let r = put(json!({"mapping": {"plan_de_interes": "city"}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.code(), "invalid_target");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("use one of: full_name"),
        "{:?}",
        r.body
    );
    let r = put(json!({"mapping": {"plan_de_interes": "email"}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.code(), "duplicate_target");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"email\" and \"plan_de_interes\" both map to email"),
        "{:?}",
        r.body
    );
    // Nothing was saved by the refused attempts.
    assert_eq!(ceo.get(&path).await.body["customized"], false);

    // A seller may not read or edit mappings; marketing may.
    add_user(&ceo, "seller@acme.test", "seller").await;
    add_user(&ceo, "mkt@acme.test", "marketing").await;
    let seller = logged_in(&app, "seller@acme.test").await;
    let mkt = logged_in(&app, "mkt@acme.test").await;
    assert_eq!(
        seller.get("/api/crm/marketing/lead-forms").await.status,
        StatusCode::FORBIDDEN
    );
    let r = seller
        .req(
            Method::PUT,
            &mapping_path,
            Some(json!({"mapping": {"plan_de_interes": "tag"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(
        seller.delete(&mapping_path).await.status,
        StatusCode::FORBIDDEN
    );

    // Marketing: the custom question becomes a tag, email is ignored.
    let r = mkt
        .req(
            Method::PUT,
            &mapping_path,
            Some(json!({"mapping": {"plan_de_interes": "tag", "email": "ignore"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["customized"], true);
    assert_eq!(target_of(&r.body, "plan_de_interes"), "tag");
    assert_eq!(target_of(&r.body, "email"), "ignore");
    assert_eq!(target_of(&r.body, "full_name"), "full_name");
    let listed = ceo.get("/api/crm/marketing/lead-forms").await;
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["form_id"] == form_id.as_str() && f["customized"] == true)
    );
    // Audited and announced in the same transaction.
    let db = db(&app);
    let audit = query(
        &db,
        &format!(
            "SELECT id FROM audit_log WHERE action = 'lead_form.mapping_put' AND resource_id = '{form_id}'"
        ),
    )
    .await;
    assert_eq!(audit.len(), 1);
    let events = query(
        &db,
        &format!(
            "SELECT id FROM outbox WHERE event_type = 'marketing_lead_form_mapping_changed' AND aggregate_id = '{form_id}'"
        ),
    )
    .await;
    assert_eq!(events.len(), 1);

    // Meta sends the signed leadgen webhook for a new lead of that form.
    let created = control(
        &app,
        Method::POST,
        "/leads",
        json!({"form_id": form_id, "fields": {
            "full_name": "Mara Mapeo", "email": "mara@mapeo.test",
            "phone_number": "+5491144445555", "plan_de_interes": "Premium"}}),
    )
    .await;
    let lead = lead_by_leadgen(&app, &ceo, created["leadgen_id"].as_str().unwrap()).await;
    assert_eq!(lead["name"], "Mara Mapeo");
    assert_eq!(lead["email"], Value::Null, "email is ignored: {lead}");
    assert_eq!(lead["phone"], "+5491144445555");
    assert_eq!(lead["tags"], json!(["premium"]));
    assert_eq!(lead["lead_source"], "META_ADS");
    assert_eq!(lead["meta_form_id"], form_id.as_str());
    assert!(
        notes_of(&ceo, &lead).await.is_empty(),
        "nothing went to the note"
    );

    // Reset: back to the default; the next lead's answer goes to the note.
    let r = mkt.delete(&mapping_path).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["customized"], false);
    assert_eq!(target_of(&r.body, "plan_de_interes"), "note");
    assert_eq!(target_of(&r.body, "email"), "email");
    assert_eq!(
        query(
            &db,
            &format!("SELECT id FROM audit_log WHERE action = 'lead_form.mapping_reset' AND resource_id = '{form_id}'"),
        )
        .await
        .len(),
        1
    );
    let created = control(
        &app,
        Method::POST,
        "/leads",
        json!({"form_id": form_id, "fields": {
            "full_name": "Nora Nota", "email": "nora@nota.test",
            "phone_number": "+5491188889999", "plan_de_interes": "Empresa"}}),
    )
    .await;
    let nora = lead_by_leadgen(&app, &ceo, created["leadgen_id"].as_str().unwrap()).await;
    assert_eq!(nora["email"], "nora@nota.test");
    assert_eq!(nora["tags"], json!([]));
    let notes = notes_of(&ceo, &nora).await;
    assert_eq!(notes, vec!["plan_de_interes: Empresa".to_owned()]);

    // Another tenant never sees this tenant's forms.
    let (_, other) = other_tenant_ceo(&app, "other@other.test").await;
    let r = other.get("/api/crm/marketing/lead-forms").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["items"], json!([]));
    assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);
    let r = other
        .req(
            Method::PUT,
            &mapping_path,
            Some(json!({"mapping": {"plan_de_interes": "tag"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert_eq!(
        other.delete(&mapping_path).await.status,
        StatusCode::NOT_FOUND
    );

    // Missed webhook: the reconcile backfill applies the saved mapping too.
    let r = mkt
        .req(
            Method::PUT,
            &mapping_path,
            Some(json!({"mapping": {"plan_de_interes": "tag", "email": "ignore"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let cfg: Value = reqwest::get(format!("{}/_sandbox/config", sandbox_url(&app)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(cfg["webhook_url"].is_string(), "{cfg}");
    control(&app, Method::POST, "/config", json!({"webhook_url": null})).await;
    let missed = control(
        &app,
        Method::POST,
        "/leads",
        json!({"form_id": form_id, "fields": {
            "full_name": "Beto Backfill", "email": "beto@backfill.test",
            "phone_number": "+5491166667777", "plan_de_interes": "Básico"}}),
    )
    .await;
    let server = app.server.as_ref().unwrap();
    let tenant_id = query(
        &db,
        &format!("SELECT tenant_id FROM meta_assets WHERE external_id = '{page}'"),
    )
    .await[0]
        .try_get::<uuid::Uuid>("", "tenant_id")
        .unwrap();
    crm_core::services::attribution::reconcile_forms(&db, &server.state.meta, tenant_id)
        .await
        .unwrap();
    let beto = lead_by_leadgen(&app, &ceo, missed["leadgen_id"].as_str().unwrap()).await;
    assert_eq!(beto["name"], "Beto Backfill");
    assert_eq!(beto["email"], Value::Null);
    assert_eq!(beto["tags"], json!(["básico"]));
    // Running the reconcile again adds nothing (dedupe on the leadgen id).
    crm_core::services::attribution::reconcile_forms(&db, &server.state.meta, tenant_id)
        .await
        .unwrap();
    let again = lead_by_leadgen(&app, &ceo, missed["leadgen_id"].as_str().unwrap()).await;
    assert_eq!(again["id"], beto["id"]);
}
