//! CSV import: mapping, validation report with line numbers, duplicates, and
//! idempotent re-import; by text/csv body and by multipart upload.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const CSV: &str = "Nombre,Teléfono,Correo,Estado,Etiquetas,utm_source,Notas\n\
Mara López,011 15-3333-0001,mara@example.com,new,vip;feria,facebook,x\n\
Nico Ruiz,12,nico@example.com,new,,,bad phone\n\
Olga,,olga@example,contacted,,,bad email\n\
Pablo,+54 9 11 3333-0004,,qualified,,,ok\n\
Quique,,,,,,no contact but named\n\
Rita,+5491133330004,,new,,,same phone as Pablo\n\
,,,,,,empty identity\n\
Sara,,sara@example.com,maybe,,,bad status\n";

async fn post_csv(c: &Client, path: &str, body: &str) -> Resp {
    let r = c
        .http
        .post(format!("{}{}", c.base, path))
        .header("x-csrf-token", c.csrf.clone().unwrap_or_default())
        .header("content-type", "text/csv")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

#[tokio::test]
async fn import_reports_bad_rows_and_reimport_creates_nothing() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let mapping = urlencode(r#"{"Notas":"-"}"#);
    let r = post_csv(&ceo, &format!("/api/leads/import?mapping={mapping}"), CSV).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let rep = &r.body;
    assert_eq!(rep["rows"], 8);
    assert_eq!(rep["created"], 3, "{rep:#}");
    assert_eq!(rep["duplicates"], 1);
    assert_eq!(rep["invalid"], 4);
    assert_eq!(rep["duplicate_lines"], json!([7]));
    let errs: Vec<(i64, &str, &str)> = rep["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap(),
                e["field"].as_str().unwrap_or(""),
                e["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errs,
        vec![
            (3, "phone", "invalid_phone"),
            (4, "email", "invalid_email"),
            (8, "name", "lead_needs_identity"),
            (9, "status", "invalid_status"),
        ]
    );
    assert!(rep["errors"][0]["reason"].as_str().unwrap().contains("12"));
    assert_eq!(rep["mapping"]["Teléfono"], "phone");
    assert_eq!(rep["mapping"]["Nombre"], "name");
    assert_eq!(rep["ignored_columns"], json!(["Notas"]));

    let list = ceo.get("/api/leads?sort=name").await;
    let items = list.body["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Mara López", "Pablo", "Quique"]);
    assert_eq!(items[0]["phone"], "+5491133330001");
    assert_eq!(items[0]["tags"], json!(["feria", "vip"]));
    // utm_source=facebook makes it a Meta web touch; the others come from the import.
    assert_eq!(items[0]["lead_source"], "META_ADS");
    assert_eq!(items[1]["lead_source"], "IMPORT");
    assert_eq!(items[1]["channel"], "import");
    let d = ceo
        .get(&format!("/api/leads/{}", items[1]["id"].as_str().unwrap()))
        .await;
    assert_eq!(d.body["touches"].as_array().unwrap().len(), 1);
    let tl = ceo
        .get(&format!(
            "/api/leads/{}/timeline",
            items[1]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(tl.body["items"][0]["payload"]["via"], "import");
    assert_eq!(tl.body["items"][0]["payload"]["line"], 5);

    // Same file again (as a multipart upload): nothing new.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::text(CSV)
                .file_name("leads.csv")
                .mime_str("text/csv")
                .unwrap(),
        )
        .text("mapping", r#"{"Notas":"-"}"#);
    let r = ceo
        .http
        .post(format!("{}/api/leads/import", ceo.base))
        .header("x-csrf-token", ceo.csrf.clone().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rep: Value = r.json().await.unwrap();
    assert_eq!(rep["created"], 0);
    assert_eq!(rep["duplicates"], 4);
    assert_eq!(rep["invalid"], 4);
    assert_eq!(
        ceo.get("/api/leads").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn import_refuses_bad_mappings_media_types_and_roles() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let r = post_csv(&ceo, "/api/leads/import", "foo,bar\n1,2\n").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "no_identity_column");
    let r = post_csv(
        &ceo,
        &format!(
            "/api/leads/import?mapping={}",
            urlencode(r#"{"foo":"salary"}"#)
        ),
        "foo,bar\n1,2\n",
    )
    .await;
    assert_eq!(r.code(), "invalid_mapping");
    let r = post_csv(
        &ceo,
        &format!(
            "/api/leads/import?mapping={}",
            urlencode(r#"{"nope":"name"}"#)
        ),
        "foo,bar\n1,2\n",
    )
    .await;
    assert_eq!(r.code(), "invalid_mapping");
    let r = post_csv(
        &ceo,
        &format!(
            "/api/leads/import?mapping={}",
            urlencode(r#"{"foo":"name"}"#)
        ),
        "foo,bar\nZoe,2\n",
    )
    .await;
    assert_eq!(r.body["created"], 1);
    let r = ceo.post("/api/leads/import", json!({"rows": []})).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    add_user(&ceo, "s@acme.test", "seller").await;
    let s = logged_in(&app, "s@acme.test").await;
    let r = post_csv(&s, "/api/leads/import", "name\nA\n").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
