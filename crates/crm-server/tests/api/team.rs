use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn team_management_is_for_ceo_and_admin() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "sel@acme.test", "seller").await;
    add_user(&ceo, "mk@acme.test", "marketing").await;
    for email in ["sel@acme.test", "mk@acme.test"] {
        let c = logged_in(&app, email).await;
        let r = c.get("/api/team").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{email}");
        assert_eq!(r.code(), "forbidden");
        let r = c
            .post("/api/team", json!({"email": "z@acme.test", "name": "Z", "role": "seller", "password": PASSWORD}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{email}");
    }
    let list = ceo.get("/api/team").await;
    let emails: Vec<_> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        emails,
        vec!["ceo@acme.test", "sel@acme.test", "mk@acme.test"]
    );
}

#[tokio::test]
async fn team_input_is_validated() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "dup@acme.test", "seller").await;
    let r = ceo
        .post(
            "/api/team",
            json!({"email": "DUP@acme.test", "name": "D", "role": "seller", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "email_taken");
    let r = ceo
        .post(
            "/api/team",
            json!({"email": "x@acme.test", "name": "X", "role": "overlord", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "invalid_body");
    let me = ceo.get("/api/auth/me").await;
    let my_id = me.body["user"]["id"].as_str().unwrap();
    let r = ceo
        .patch(&format!("/api/team/{my_id}"), json!({"status": "disabled"}))
        .await;
    assert_eq!(r.code(), "cannot_disable_self");
    let r = ceo
        .patch(
            "/api/team/01a1ffa3-0000-7000-8000-000000000009",
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_of_another_tenant_are_invisible() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    // A second tenant, made with the admin CLI path.
    let other_tenant = {
        let db = &app.server.as_ref().unwrap().state.db;
        let t = crm_core::services::accounts::create_tenant(
            db,
            &crm_core::services::accounts::NewTenant {
                name: "Other".into(),
                currency: "ARS".into(),
                timezone: "UTC".into(),
                locale: "en".into(),
                country: "AR".into(),
            },
        )
        .await
        .unwrap();
        crm_core::services::accounts::create_user_cli(
            db,
            t.id,
            &crm_core::services::accounts::NewUser {
                email: "boss@other.test".into(),
                name: "Boss".into(),
                role: crm_core::Role::Ceo,
                password: PASSWORD.into(),
            },
        )
        .await
        .unwrap()
    };
    let boss = logged_in(&app, "boss@other.test").await;
    let list = boss.get("/api/team").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let acme_users = ceo.get("/api/team").await;
    let acme_ceo_id = acme_users.body["items"][0]["id"].as_str().unwrap();
    let r = boss
        .patch(
            &format!("/api/team/{acme_ceo_id}"),
            json!({"name": "pwned"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_ne!(other_tenant.id.to_string(), acme_ceo_id);
    assert_eq!(
        ceo.get("/api/team").await.body["items"][0]["name"],
        "Carla CEO"
    );
}
