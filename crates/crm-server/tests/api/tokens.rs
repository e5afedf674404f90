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

#[tokio::test]
async fn a_token_stops_working_when_it_expires_or_its_creator_is_disabled() {
    use crate::meta_support::db;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    // Expiry: chosen at creation, shown, and enforced.
    let r = ceo
        .post(
            "/api/tokens",
            json!({"name": "zapier 30 días", "role": "admin", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let expiring = r.body["secret"].as_str().unwrap().to_owned();
    let id = r.body["token"]["id"].as_str().unwrap().to_owned();
    let at = chrono::DateTime::parse_from_rfc3339(r.body["token"]["expires_at"].as_str().unwrap())
        .unwrap();
    let days = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{days}");
    let tok = Client::with_token(&app, &expiring);
    assert_eq!(tok.get("/api/auth/me").await.status, StatusCode::OK);
    crm_db::entity::api_token::Entity::update_many()
        .col_expr(
            crm_db::entity::api_token::Column::ExpiresAt,
            Some(chrono::Utc::now() - chrono::Duration::minutes(1)).into(),
        )
        .filter(crm_db::entity::api_token::Column::Id.eq(id.parse::<uuid::Uuid>().unwrap()))
        .exec(&db(&app))
        .await
        .unwrap();
    let r = tok.get("/api/auth/me").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    for bad in [0, 3651] {
        let r = ceo
            .post(
                "/api/tokens",
                json!({"name": "x", "role": "admin", "expires_in_days": bad}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            r.body
        );
    }
    // Creator disabled: the admin's token stops working with them.
    let admin_id = add_user(&ceo, "ada@acme.test", "admin").await;
    let ada = logged_in(&app, "ada@acme.test").await;
    let r = ada
        .post(
            "/api/tokens",
            json!({"name": "integración de Ada", "role": "seller"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let adas = Client::with_token(&app, r.body["secret"].as_str().unwrap());
    assert_eq!(adas.get("/api/leads").await.status, StatusCode::OK);
    let r = ceo
        .patch(
            &format!("/api/team/{admin_id}"),
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        adas.get("/api/leads").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Enabled again: it works again (it was never revoked).
    ceo.patch(
        &format!("/api/team/{admin_id}"),
        json!({"status": "active"}),
    )
    .await;
    assert_eq!(adas.get("/api/leads").await.status, StatusCode::OK);
}
