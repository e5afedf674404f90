use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn mutations_write_audit_rows_with_who_and_where() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let sam = add_user(&ceo, "sam@acme.test", "seller").await;
    ceo.patch(&format!("/api/team/{sam}"), json!({"role": "marketing"}))
        .await;
    let tok = ceo
        .post("/api/tokens", json!({"name": "t", "role": "seller"}))
        .await;
    let tok_id = tok.body["token"]["id"].as_str().unwrap().to_owned();
    ceo.delete(&format!("/api/tokens/{tok_id}")).await;
    ceo.patch("/api/tenant", json!({"currency": "ARS"})).await;

    let r = ceo.get("/api/audit?limit=200").await;
    assert_eq!(r.status, StatusCode::OK);
    let items = r.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    for expected in [
        "setup.complete",
        "user.create",
        "user.update",
        "api_token.create",
        "api_token.revoke",
        "tenant.update",
    ] {
        assert!(
            actions.contains(&expected),
            "missing {expected} in {actions:?}"
        );
    }
    let upd = items.iter().find(|i| i["action"] == "user.update").unwrap();
    assert_eq!(upd["resource_type"], "user");
    assert_eq!(upd["resource_id"], sam);
    assert_eq!(upd["user_email"], "ceo@acme.test");
    assert_eq!(upd["ip"], "127.0.0.1");
    assert_eq!(
        upd["details"]["role"],
        json!({"from": "seller", "to": "marketing"})
    );
    // Newest first.
    assert_eq!(actions[0], "tenant.update");
}

#[tokio::test]
async fn audit_filters_paginate_and_reads_are_audited() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    for i in 0..5 {
        add_user(&ceo, &format!("u{i}@acme.test"), "seller").await;
    }
    let p1 = ceo.get("/api/audit?action=user.create&limit=2").await;
    assert_eq!(p1.body["items"].as_array().unwrap().len(), 2);
    let cursor = p1.body["next_cursor"].as_str().unwrap().to_owned();
    let p2 = ceo
        .get(&format!(
            "/api/audit?action=user.create&limit=2&cursor={cursor}"
        ))
        .await;
    let p3c = p2.body["next_cursor"].as_str().unwrap().to_owned();
    let p3 = ceo
        .get(&format!(
            "/api/audit?action=user.create&limit=2&cursor={p3c}"
        ))
        .await;
    assert_eq!(p3.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(p3.body["next_cursor"], json!(null));
    let mut seen: Vec<String> = [&p1, &p2, &p3]
        .iter()
        .flat_map(|p| {
            p.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["resource_id"].as_str().unwrap().to_owned())
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);

    let reads = ceo.get("/api/audit?action=audit.read").await;
    assert!(reads.body["items"].as_array().unwrap().len() >= 3);
    let bad = ceo.get("/api/audit?cursor=garbage").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.code(), "invalid_cursor");
    let seller = logged_in(&app, "u0@acme.test").await;
    assert_eq!(seller.get("/api/audit").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn failed_logins_are_audited_in_the_users_tenant() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let mut c = Client::new(&app);
    c.login("ceo@acme.test", "wrong-password-1").await;
    let r = ceo.get("/api/audit?action=auth.login_failed").await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["details"]["reason"], "bad_password");
}
