//! Passwords and sessions (issue 18.6, 18.7): change your own password,
//! admin, operator and e-mail resets by single-use links, common passwords
//! refused, the idle timeout, and your sessions with "sign out others".

use chrono::{Duration, Utc};
use crm_db::entity::session;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::helpers::*;
use crate::smtp_sink::SmtpSink;

const NEW_PASSWORD: &str = "Nueva-clave-segura-77";

/// The token of a reset link (`…/reset-password#token=…`).
fn token_of(link: &str) -> String {
    let at = link.find("#token=").expect("a reset link") + "#token=".len();
    link[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

#[tokio::test]
async fn changing_your_password_needs_the_current_one_and_signs_out_your_other_sessions() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "sergio@acme.test", "seller").await;
    let phone = logged_in(&app, "sergio@acme.test").await;
    let laptop = logged_in(&app, "sergio@acme.test").await;

    let r = laptop
        .post(
            "/api/auth/password",
            json!({"current_password": "not-the-password", "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "wrong_current_password")
    );
    for (weak, code) in [
        ("password123", "common_password"),
        ("sergio123456", "common_password"),
        ("short", "weak_password"),
    ] {
        let r = laptop
            .post(
                "/api/auth/password",
                json!({"current_password": PASSWORD, "new_password": weak}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{weak}"
        );
    }
    let r = laptop
        .post(
            "/api/auth/password",
            json!({"current_password": PASSWORD, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.code(), "same_password");

    let r = laptop
        .post(
            "/api/auth/password",
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    // This session goes on; the phone's is over.
    assert_eq!(laptop.get("/api/auth/me").await.status, StatusCode::OK);
    assert_eq!(
        phone.get("/api/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut c = Client::new(&app);
    assert_eq!(
        c.login("sergio@acme.test", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.login("sergio@acme.test", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
    // The audit log has it, without the password.
    let audit = ceo.get("/api/audit?action=auth.password_changed").await;
    assert!(
        audit.body.to_string().contains("auth.password_changed"),
        "{}",
        audit.body
    );
    assert!(!audit.body.to_string().contains(NEW_PASSWORD));
}

#[tokio::test]
async fn you_see_your_sessions_and_can_sign_out_one_or_all_the_others() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "sergio@acme.test", "seller").await;
    let a = logged_in(&app, "sergio@acme.test").await;
    let b = logged_in(&app, "sergio@acme.test").await;
    let c = logged_in(&app, "sergio@acme.test").await;

    let list = a.get("/api/auth/sessions").await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(
        items
            .iter()
            .all(|s| s["ip"] == "127.0.0.1" && s["last_seen_at"].is_string())
    );
    // Nobody else's sessions: the ceo sees only theirs.
    assert_eq!(
        ceo.get("/api/auth/sessions").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Sign out b from a.
    let b_id = b.get("/api/auth/sessions").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another user cannot touch it.
    assert_eq!(
        ceo.delete(&format!("/api/auth/sessions/{b_id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a.delete(&format!("/api/auth/sessions/{b_id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(b.get("/api/auth/me").await.status, StatusCode::UNAUTHORIZED);

    let r = a.post("/api/auth/sessions/revoke-others", json!({})).await;
    assert_eq!(
        (r.status, r.body["revoked"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    assert_eq!(c.get("/api/auth/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.get("/api/auth/me").await.status, StatusCode::OK);
    assert_eq!(
        a.get("/api/auth/sessions").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // API tokens have no sessions.
    let tok = ceo
        .post("/api/tokens", json!({"name": "bot", "role": "seller"}))
        .await;
    let bot = Client::with_token(&app, tok.body["secret"].as_str().unwrap());
    assert_eq!(bot.get("/api/auth/sessions").await.code(), "not_a_session");
}

#[tokio::test]
async fn a_session_unused_for_the_idle_timeout_ends() {
    let app = spawn_app_with(&["--session-idle-minutes", "30"]).await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "sergio@acme.test", "seller").await;
    let s = logged_in(&app, "sergio@acme.test").await;
    assert_eq!(s.get("/api/auth/me").await.status, StatusCode::OK);
    let db = crm_db::connect(&app.database_url, 2).await.unwrap();
    let set_idle = |mins: i64| {
        let db = db.clone();
        async move {
            session::Entity::update_many()
                .col_expr(
                    session::Column::LastSeenAt,
                    (Utc::now() - Duration::minutes(mins)).into(),
                )
                .filter(session::Column::RevokedAt.is_null())
                .exec(&db)
                .await
                .unwrap();
        }
    };
    // 20 minutes idle is within the timeout (and using it refreshes it).
    set_idle(20).await;
    assert_eq!(s.get("/api/auth/me").await.status, StatusCode::OK);
    // 31 minutes idle is not, although the absolute lifetime is a week.
    set_idle(31).await;
    assert_eq!(s.get("/api/auth/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        ceo.get("/api/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_admin_reset_gives_a_single_use_link_that_signs_the_user_out_everywhere() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let seller = add_user(&ceo, "sergio@acme.test", "seller").await;
    add_user(&ceo, "ana@acme.test", "admin").await;
    let admin = logged_in(&app, "ana@acme.test").await;
    let sergio = logged_in(&app, "sergio@acme.test").await;

    // Sellers cannot; an admin cannot reset the ceo; nobody resets themselves here.
    let ceo_id = ceo.get("/api/auth/me").await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        sergio
            .post(&format!("/api/team/{ceo_id}/password-reset"), json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin
            .post(&format!("/api/team/{ceo_id}/password-reset"), json!({}))
            .await
            .code(),
        "role_not_grantable"
    );
    assert_eq!(
        ceo.post(&format!("/api/team/{ceo_id}/password-reset"), json!({}))
            .await
            .code(),
        "reset_own_password"
    );

    // No e-mail configured: the admin gets the link to hand over.
    let r = admin
        .post(&format!("/api/team/{seller}/password-reset"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["emailed"], false);
    let link = r.body["reset_url"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{}/reset-password#token=crm_reset_", app.url)),
        "{link}"
    );
    // A newer link replaces it.
    let r2 = admin
        .post(&format!("/api/team/{seller}/password-reset"), json!({}))
        .await;
    let link2 = r2.body["reset_url"].as_str().unwrap().to_owned();
    // The current password works until the link is used.
    assert_eq!(sergio.get("/api/auth/me").await.status, StatusCode::OK);

    let anon = Client::new(&app);
    let complete = |token: String, pw: &'static str| {
        let anon = &anon;
        async move {
            anon.post(
                "/api/auth/password-reset/complete",
                json!({"token": token, "new_password": pw}),
            )
            .await
        }
    };
    assert_eq!(
        complete(token_of(&link), NEW_PASSWORD).await.code(),
        "reset_token_invalid"
    );
    assert_eq!(
        complete(token_of(&link2), "qwertyuiop").await.code(),
        "common_password"
    );
    let r = complete(token_of(&link2), NEW_PASSWORD).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    // Spent: a second use fails; every session of the user ended.
    assert_eq!(
        complete(token_of(&link2), "Otra-clave-segura-88")
            .await
            .code(),
        "reset_token_invalid"
    );
    assert_eq!(
        sergio.get("/api/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut c = Client::new(&app);
    assert_eq!(
        c.login("sergio@acme.test", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
    // The database keeps only the token's hash.
    let db = crm_db::connect(&app.database_url, 2).await.unwrap();
    let rows = crate::meta_support::query(&db, "SELECT token_hash FROM password_resets").await;
    let secret = token_of(&link2);
    for row in rows {
        let h: String = row.try_get("", "token_hash").unwrap();
        assert!(!h.contains(&secret) && h.len() == 64);
    }
}

#[tokio::test]
async fn an_expired_reset_link_is_refused() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let seller = add_user(&ceo, "sergio@acme.test", "seller").await;
    let link = ceo
        .post(&format!("/api/team/{seller}/password-reset"), json!({}))
        .await
        .body["reset_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = crm_db::connect(&app.database_url, 2).await.unwrap();
    crm_db::entity::password_reset::Entity::update_many()
        .col_expr(
            crm_db::entity::password_reset::Column::ExpiresAt,
            (Utc::now() - Duration::minutes(1)).into(),
        )
        .exec(&db)
        .await
        .unwrap();
    let r = Client::new(&app)
        .post(
            "/api/auth/password-reset/complete",
            json!({"token": token_of(&link), "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.code(), "reset_token_invalid");
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_e_mail_and_the_answer_never_tells_who_has_an_account() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(&[
        "--smtp-url",
        &sink.url,
        "--smtp-from",
        "CRM Ventas <crm@acme.test>",
    ])
    .await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "sergio@acme.test", "seller").await;
    let anon = Client::new(&app);
    let known = anon
        .post(
            "/api/auth/password-reset",
            json!({"email": "Sergio@Acme.test"}),
        )
        .await;
    let unknown = anon
        .post(
            "/api/auth/password-reset",
            json!({"email": "nadie@acme.test"}),
        )
        .await;
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));

    let mail = sink.wait_for(1).await;
    assert_eq!(mail.to, vec!["sergio@acme.test".to_owned()]);
    // The tenant's language is Spanish.
    assert!(
        mail.text.contains("restablecer tu contraseña"),
        "{}",
        mail.text
    );
    let token = token_of(&mail.text);
    assert!(token.starts_with("crm_reset_"), "{}", mail.text);
    // Nothing went to the unknown address.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), 1);

    let r = anon
        .post(
            "/api/auth/password-reset/complete",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let mut c = Client::new(&app);
    assert_eq!(
        c.login("sergio@acme.test", NEW_PASSWORD).await.status,
        StatusCode::OK
    );

    // With e-mail configured, an admin's reset goes by e-mail, not to the admin.
    let seller = c.get("/api/auth/me").await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = ceo
        .post(&format!("/api/team/{seller}/password-reset"), json!({}))
        .await;
    assert_eq!(
        (r.body["emailed"].as_bool(), r.body["reset_url"].is_null()),
        (Some(true), true)
    );
    let mail = sink.wait_for(2).await;
    assert!(token_of(&mail.text).starts_with("crm_reset_"));
}

#[tokio::test]
async fn without_e_mail_the_self_service_reset_says_to_ask_an_admin() {
    let app = spawn_app().await;
    setup_ceo(&app).await;
    let r = Client::new(&app)
        .post(
            "/api/auth/password-reset",
            json!({"email": "ceo@acme.test"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "password_reset_unavailable"
        )
    );
}

#[tokio::test]
async fn an_operator_prints_a_reset_link_with_the_cli() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "sergio@acme.test", "seller").await;
    let (ok, out, err) = crate::cli::crm(
        &[
            "user",
            "reset-password",
            "--database-url",
            &app.database_url,
            "--email",
            "sergio@acme.test",
            "--public-url",
            "https://crm.example.test",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        out.trim()
            .starts_with("https://crm.example.test/reset-password#token=crm_reset_"),
        "{out}"
    );
    let r = Client::new(&app)
        .post(
            "/api/auth/password-reset/complete",
            json!({"token": token_of(&out), "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let (ok, _, err) = crate::cli::crm(
        &[
            "user",
            "reset-password",
            "--database-url",
            &app.database_url,
            "--email",
            "nadie@acme.test",
        ],
        None,
    );
    assert!(!ok && err.contains("not found"), "{err}");
}

#[tokio::test]
async fn an_open_reset_link_dies_when_the_password_changes_or_the_user_is_disabled() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let seller = add_user(&ceo, "sergio@acme.test", "seller").await;
    let link = |r: Resp| token_of(r.body["reset_url"].as_str().unwrap());
    let anon = Client::new(&app);
    let complete = |token: String| {
        let anon = &anon;
        async move {
            anon.post(
                "/api/auth/password-reset/complete",
                json!({"token": token, "new_password": NEW_PASSWORD}),
            )
            .await
        }
    };
    // The user changes the password themselves: the link handed over before is spent.
    let before_change = link(
        ceo.post(&format!("/api/team/{seller}/password-reset"), json!({}))
            .await,
    );
    let sergio = logged_in(&app, "sergio@acme.test").await;
    let r = sergio
        .post(
            "/api/auth/password",
            json!({"current_password": PASSWORD, "new_password": "Otra-clave-segura-88"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(complete(before_change).await.code(), "reset_token_invalid");
    // Disabled (and enabled again): the link from before does not come back.
    let before_disable = link(
        ceo.post(&format!("/api/team/{seller}/password-reset"), json!({}))
            .await,
    );
    assert_eq!(
        ceo.patch(
            &format!("/api/team/{seller}"),
            json!({"status": "disabled"})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        ceo.patch(&format!("/api/team/{seller}"), json!({"status": "active"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(complete(before_disable).await.code(), "reset_token_invalid");
}

#[tokio::test]
async fn guessing_the_current_password_is_limited_like_logins_and_tokens_cannot_reset() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let seller = add_user(&ceo, "sergio@acme.test", "seller").await;
    let sergio = logged_in(&app, "sergio@acme.test").await;
    let mut codes = Vec::new();
    for i in 0..7 {
        let r = sergio
            .post("/api/auth/password", json!({"current_password": format!("wrong-guess-{i}"), "new_password": NEW_PASSWORD}))
            .await;
        codes.push(r.code().to_owned());
    }
    assert_eq!(codes[0], "wrong_current_password");
    assert_eq!(
        codes.last().map(String::as_str),
        Some("rate_limited"),
        "{codes:?}"
    );
    // An integration's token cannot mint reset links for people.
    let tok = ceo
        .post("/api/tokens", json!({"name": "bot", "role": "admin"}))
        .await;
    let bot = Client::with_token(&app, tok.body["secret"].as_str().unwrap());
    let r = bot
        .post(&format!("/api/team/{seller}/password-reset"), json!({}))
        .await;
    assert_eq!(r.code(), "not_a_session", "{:?}", r.body);
}
