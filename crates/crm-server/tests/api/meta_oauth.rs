//! Connecting Meta with OAuth against the sandbox: state handling, error
//! codes, roles, disconnect.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::meta_support::*;

#[tokio::test]
async fn oauth_connects_and_a_replayed_state_is_refused() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    assert_eq!(token_status(&ceo).await["status"], "disconnected");

    let url = auth_url(&ceo).await;
    let q: std::collections::HashMap<String, String> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(url.starts_with(&sandbox_url(&app)));
    assert_eq!(
        q["redirect_uri"],
        format!("{}/api/crm/auth/meta/callback", app.url)
    );
    assert!(q["state"].len() >= 43, "256-bit state");
    // Only a hash of the state is stored.
    let rows = query(&db(&app), "SELECT state_hash FROM meta_oauth_states").await;
    let stored: String = rows[0].try_get("", "state_hash").unwrap();
    assert_ne!(stored, q["state"]);
    assert_eq!(stored, crm_core::secrets::sha256_hex(&q["state"]));

    let callback = consent_callback_url(&url, "continue").await;
    assert!(callback.starts_with(&format!("{}/api/crm/auth/meta/callback?", app.url)));
    let landed = browse(&ceo, &callback).await;
    assert_eq!(landed, format!("{}/crm/marketing?connected=1", app.url));

    let st = token_status(&ceo).await;
    assert_eq!(st["connected"], true);
    assert_eq!(st["status"], "ok", "{st}");
    assert_eq!(st["source"], "oauth");
    assert_eq!(st["missing_scopes"], json!([]));
    assert!(
        st["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "ads_read")
    );
    let days = st["days_left"].as_i64().unwrap();
    assert!((58..=60).contains(&days), "long-lived token, {days} days");

    // The same callback again (browser back button, or an attacker replaying it).
    let again = browse(&ceo, &callback).await;
    assert_eq!(
        again,
        format!("{}/crm/marketing?meta_error=state_invalid", app.url)
    );
    assert_eq!(
        query(&db(&app), "SELECT id FROM meta_oauth_states")
            .await
            .len(),
        0
    );

    // Exactly one connection and one user-token credential.
    let creds = query(&db(&app), "SELECT kind FROM meta_credentials").await;
    assert_eq!(creds.len(), 1);
    let audit = ceo.get("/api/audit?action=meta.connected").await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_state_from_another_tenant_or_user_cannot_connect() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "admin@acme.test", "admin").await;
    let admin = logged_in(&app, "admin@acme.test").await;
    let (_other, other_ceo) = other_tenant_ceo(&app, "boss@other.test").await;

    // Tenant A's CEO starts; the callback URL (with A's state and a valid
    // code) is opened by tenant B's CEO, then by A's admin.
    let url = auth_url(&ceo).await;
    let callback = consent_callback_url(&url, "continue").await;
    let landed = browse(&other_ceo, &callback).await;
    assert_eq!(
        landed,
        format!("{}/crm/marketing?meta_error=state_mismatch", app.url)
    );
    assert_eq!(token_status(&other_ceo).await["status"], "disconnected");
    let landed = browse(&admin, &callback).await;
    assert_eq!(
        landed,
        format!("{}/crm/marketing?meta_error=state_mismatch", app.url)
    );
    assert_eq!(token_status(&ceo).await["status"], "disconnected");
    // Nobody signed in: refused too.
    let anon = Client::new(&app);
    assert_eq!(
        browse(&anon, &callback).await,
        format!("{}/crm/marketing?meta_error=not_signed_in", app.url)
    );
    assert_eq!(
        query(&db(&app), "SELECT id FROM meta_connections")
            .await
            .len(),
        0
    );

    // The rightful owner can still finish.
    assert_eq!(
        browse(&ceo, &callback).await,
        format!("{}/crm/marketing?connected=1", app.url)
    );
    assert_eq!(token_status(&ceo).await["status"], "ok");
    assert_eq!(token_status(&other_ceo).await["status"], "disconnected");
}

#[tokio::test]
async fn cancel_bad_state_expiry_and_exchange_failures_have_distinct_codes() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    let base = format!("{}/api/crm/auth/meta/callback", app.url);

    // Cancel on the consent page.
    let url = auth_url(&ceo).await;
    assert_eq!(
        consent(&ceo, &url, "cancel").await,
        format!("{}/crm/marketing?meta_error=cancelled", app.url)
    );
    // A forged state and a missing one.
    assert_eq!(
        browse(&ceo, &format!("{base}?code=abc&state=tenant_1")).await,
        format!("{}/crm/marketing?meta_error=state_invalid", app.url)
    );
    assert_eq!(
        browse(&ceo, &format!("{base}?code=abc")).await,
        format!("{}/crm/marketing?meta_error=state_missing", app.url)
    );
    // An expired state.
    let url = auth_url(&ceo).await;
    exec(
        &db(&app),
        "UPDATE meta_oauth_states SET expires_at = created_at",
    )
    .await;
    let callback = consent_callback_url(&url, "continue").await;
    assert_eq!(
        browse(&ceo, &callback).await,
        format!("{}/crm/marketing?meta_error=state_expired", app.url)
    );
    // Meta refuses the code exchange.
    control(
        &app,
        Method::POST,
        "/faults",
        json!({"path": "/oauth/access_token", "kind": "error", "code": 100, "subcode": 36007, "count": 1}),
    )
    .await;
    let url = auth_url(&ceo).await;
    assert_eq!(
        consent(&ceo, &url, "continue").await,
        format!("{}/crm/marketing?meta_error=code_exchange_failed", app.url)
    );
    // Meta is down during the exchange.
    control(&app, Method::DELETE, "/faults", json!({})).await;
    let url = auth_url(&ceo).await;
    let callback = consent_callback_url(&url, "continue").await;
    control(
        &app,
        Method::POST,
        "/faults",
        json!({"path": "/oauth/access_token", "kind": "error", "code": 2, "count": 10}),
    )
    .await;
    assert_eq!(
        browse(&ceo, &callback).await,
        format!("{}/crm/marketing?meta_error=meta_unavailable", app.url)
    );
    control(&app, Method::DELETE, "/faults", json!({})).await;
    // A settings-page start returns there.
    let r = ceo.get("/api/crm/auth/meta/url?return_to=settings").await;
    let url = r.body["url"].as_str().unwrap().to_owned();
    assert_eq!(
        consent(&ceo, &url, "cancel").await,
        format!("{}/settings/meta?meta_error=cancelled", app.url)
    );

    // Nothing was saved by any failure.
    assert_eq!(token_status(&ceo).await["status"], "disconnected");
    assert_eq!(
        query(&db(&app), "SELECT id FROM meta_credentials")
            .await
            .len(),
        0
    );
    assert_eq!(
        query(&db(&app), "SELECT id FROM meta_connections")
            .await
            .len(),
        0
    );
}

#[tokio::test]
async fn marketing_and_sellers_cannot_start_oauth_or_disconnect() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "mk@acme.test", "marketing").await;
    add_user(&ceo, "seller@acme.test", "seller").await;
    let mk = logged_in(&app, "mk@acme.test").await;
    let seller = logged_in(&app, "seller@acme.test").await;
    connect_meta(&app, &ceo).await;

    for c in [&mk, &seller] {
        let r = c.get("/api/crm/auth/meta/url").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(r.code(), "forbidden");
        let r = c.post("/api/crm/auth/meta/disconnect", json!({})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = c.get("/api/crm/auth/meta/debug/token").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = c
            .post("/api/crm/marketing/connect", json!({"account_id": "act_1"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    // Marketing sees the banner status; sellers do not.
    assert_eq!(token_status(&mk).await["status"], "ok");
    let r = seller.get("/api/crm/marketing/token-status").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // An admin API token cannot run the browser flow.
    let r = ceo
        .post("/api/tokens", json!({"name": "ci", "role": "admin"}))
        .await;
    let bot = Client::with_token(&app, r.body["secret"].as_str().unwrap());
    let r = bot.get("/api/crm/auth/meta/url").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "session_required");
    assert_eq!(
        query(&db(&app), "SELECT id FROM meta_oauth_states")
            .await
            .len(),
        0
    );
    assert_eq!(token_status(&ceo).await["status"], "ok");
}

#[tokio::test]
async fn disconnect_revokes_at_meta_and_deletes_credentials() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    connect_meta(&app, &ceo).await;

    let r = ceo.post("/api/crm/auth/meta/disconnect", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"revoked_at_meta": true, "status": "disconnected"})
    );
    assert_eq!(received(&app, "DELETE", "/me/permissions").await.len(), 1);
    assert_eq!(
        query(&db(&app), "SELECT id FROM meta_credentials")
            .await
            .len(),
        0
    );
    let st = token_status(&ceo).await;
    assert_eq!(st["connected"], false);
    assert_eq!(st["status"], "disconnected");
    assert_eq!(st["scopes"], json!([]));
    let r = ceo.post("/api/crm/auth/meta/disconnect", json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "meta_not_connected");
    let audit = ceo.get("/api/audit?action=meta.status_changed").await;
    let last = &audit.body["items"][0]["details"];
    assert_eq!(last["to"], "disconnected");
    // Reconnecting works and is ok again.
    connect_meta(&app, &ceo).await;
    assert_eq!(token_status(&ceo).await["status"], "ok");
}
