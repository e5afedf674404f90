use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn api_tokens_work_carry_their_role_and_can_be_revoked() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let r = ceo
        .post("/api/tokens", json!({"name": "zapier", "role": "admin"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let id = r.body["token"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("crm_tok_"));
    assert_eq!(r.body["token"]["role"], "admin");

    let bot = Client::with_token(&app, &secret);
    // Bearer calls need no CSRF token.
    let team = bot.get("/api/team").await;
    assert_eq!(team.status, StatusCode::OK);
    let created = bot
        .post("/api/team", json!({"email": "bot-made@acme.test", "name": "B", "role": "seller", "password": PASSWORD}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let me = bot.get("/api/auth/me").await;
    assert_eq!(me.body["user"], json!(null));
    assert_eq!(me.body["token"]["name"], "zapier");
    assert_eq!(me.body["role"], "admin");

    // The list never shows secrets.
    let list = ceo.get("/api/tokens").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.to_string().contains(&secret));
    assert_eq!(list.body["items"][0]["name"], "zapier");
    assert!(list.body["items"][0]["last_used_at"].is_string());

    let del = ceo.delete(&format!("/api/tokens/{id}")).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let after = bot.get("/api/team").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.code(), "unauthenticated");
}

#[tokio::test]
async fn a_token_role_limits_what_it_can_do() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let r = ceo
        .post("/api/tokens", json!({"name": "ads", "role": "marketing"}))
        .await;
    let mk = Client::with_token(&app, r.body["secret"].as_str().unwrap());
    let team = mk.get("/api/team").await;
    assert_eq!(team.status, StatusCode::FORBIDDEN);
    assert_eq!(team.code(), "forbidden");
    let bogus = Client::with_token(&app, "crm_tok_not-a-real-token");
    assert_eq!(
        bogus.get("/api/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn only_ceo_and_admin_manage_tokens_and_only_ceo_grants_ceo() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "mia@acme.test", "marketing").await;
    add_user(&ceo, "ad@acme.test", "admin").await;
    let mia = logged_in(&app, "mia@acme.test").await;
    let r = mia
        .post("/api/tokens", json!({"name": "x", "role": "seller"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(mia.get("/api/tokens").await.status, StatusCode::FORBIDDEN);
    let ad = logged_in(&app, "ad@acme.test").await;
    let r = ad
        .post("/api/tokens", json!({"name": "x", "role": "ceo"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "role_not_grantable");
    let r = ad
        .post("/api/tokens", json!({"name": "x", "role": "seller"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}
