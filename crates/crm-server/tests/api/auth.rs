use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn setup_is_open_only_while_no_user_exists() {
    let app = spawn_app().await;
    let anon = Client::new(&app);
    let r = anon.get("/api/setup").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"needs_setup": true, "meta_sandbox": false, "needs_setup_token": false})
    );
    let ceo = setup_ceo(&app).await;
    let me = ceo.get("/api/auth/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["email"], "ceo@acme.test");
    assert_eq!(me.body["role"], "ceo");
    assert_eq!(me.body["tenant"]["name"], "Acme");
    assert!(
        me.body["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("team.manage"))
    );

    assert_eq!(
        anon.get("/api/setup").await.body,
        json!({"needs_setup": false, "meta_sandbox": false, "needs_setup_token": false})
    );
    let again = anon
        .post(
            "/api/setup",
            json!({"tenant_name": "Evil", "name": "E", "email": "evil@x.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "setup_already_done");
}

#[tokio::test]
async fn setup_validates_its_input() {
    let app = spawn_app().await;
    let anon = Client::new(&app);
    let r = anon
        .post(
            "/api/setup",
            json!({"tenant_name": "Acme", "name": "A", "email": "not-an-email", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "invalid_email");
    let r = anon
        .post(
            "/api/setup",
            json!({"tenant_name": "Acme", "name": "A", "email": "a@b.test", "password": "short"}),
        )
        .await;
    assert_eq!(r.code(), "weak_password");
    let r = anon
        .post(
            "/api/setup",
            json!({"tenant_name": "Acme", "timezone": "Nowhere/Land", "name": "A", "email": "a@b.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.code(), "invalid_timezone");
    // Nothing was half-written: setup is still open.
    assert_eq!(
        anon.get("/api/setup").await.body,
        json!({"needs_setup": true, "meta_sandbox": false, "needs_setup_token": false})
    );
}

#[tokio::test]
async fn login_and_logout() {
    let app = spawn_app().await;
    setup_ceo(&app).await;
    let mut c = Client::new(&app);
    let bad = c.login("ceo@acme.test", "wrong-password!").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.code(), "invalid_credentials");
    let unknown = c.login("nobody@acme.test", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.code(), "invalid_credentials");

    let ok = c.login("CEO@acme.test", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK);
    let cookie = ok
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("crm_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(
        !cookie.contains("Secure"),
        "plain http on localhost: no Secure flag"
    );

    assert_eq!(c.get("/api/auth/me").await.status, StatusCode::OK);
    let out = c.post("/api/auth/logout", json!({})).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let me = c.get("/api/auth/me").await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.code(), "unauthenticated");
}

#[tokio::test]
async fn a_stolen_cookie_stops_working_after_logout() {
    let app = spawn_app().await;
    setup_ceo(&app).await;
    let mut c = Client::new(&app);
    let r = c.login("ceo@acme.test", PASSWORD).await;
    let cookie = r.headers.get("set-cookie").unwrap().to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let replay = || async {
        reqwest::Client::new()
            .get(format!("{}/api/auth/me", app.url))
            .header("cookie", &pair)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(replay().await, StatusCode::OK);
    c.post("/api/auth/logout", json!({})).await;
    assert_eq!(replay().await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn disabling_a_user_ends_their_session_at_once() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let id = add_user(&ceo, "sam@acme.test", "seller").await;
    let sam = logged_in(&app, "sam@acme.test").await;
    assert_eq!(sam.get("/api/auth/me").await.status, StatusCode::OK);

    let r = ceo
        .patch(&format!("/api/team/{id}"), json!({"status": "disabled"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "disabled");
    let me = sam.get("/api/auth/me").await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.code(), "unauthenticated");

    // The right password of a disabled account gets the same answer as a
    // wrong one: the answer never confirms a password.
    let mut again = Client::new(&app);
    let right = again.login("sam@acme.test", PASSWORD).await;
    let wrong = again.login("sam@acme.test", "not-the-password-1").await;
    assert_eq!(right.status, StatusCode::UNAUTHORIZED);
    assert_eq!(right.status, wrong.status);
    assert_eq!(right.body, wrong.body);
    assert_eq!(right.code(), "invalid_credentials");
}

#[tokio::test]
async fn a_role_change_narrows_access_on_the_next_request() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let id = add_user(&ceo, "adam@acme.test", "admin").await;
    let adam = logged_in(&app, "adam@acme.test").await;
    assert_eq!(adam.get("/api/team").await.status, StatusCode::OK);

    let r = ceo
        .patch(&format!("/api/team/{id}"), json!({"role": "seller"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["role"], "seller");

    let t = adam.get("/api/team").await;
    assert_eq!(t.status, StatusCode::FORBIDDEN);
    assert_eq!(t.code(), "forbidden");
    let me = adam.get("/api/auth/me").await;
    assert_eq!(me.body["role"], "seller");
    assert!(
        !me.body["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("team.manage"))
    );
}

#[tokio::test]
async fn the_sixth_rapid_failed_login_gets_429() {
    let app = spawn_app().await;
    setup_ceo(&app).await;
    let mut c = Client::new(&app);
    for i in 1..=5 {
        let r = c.login("ceo@acme.test", "not-the-password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = c.login("ceo@acme.test", "not-the-password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.code(), "rate_limited");
    let retry: u64 = r
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry), "Retry-After {retry}");
    // Even the right password is refused while blocked.
    let r = c.login("ceo@acme.test", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_api_rate_limit_answers_429_with_retry_after() {
    let app = spawn_app_with(&["--api-rate-per-sec", "1", "--api-burst", "3"]).await;
    let ceo = setup_ceo(&app).await;
    let mut statuses = vec![];
    for _ in 0..5 {
        statuses.push(ceo.get("/api/auth/me").await);
    }
    let limited = statuses
        .iter()
        .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .expect("limited");
    assert_eq!(limited.code(), "rate_limited");
    assert!(limited.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn in_production_the_first_run_setup_needs_the_printed_one_time_token() {
    // 32 zero bytes, base64: a master key for the test.
    let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let app = spawn_app_with(&[
        "--production",
        "--public-url",
        "https://crm.example.test",
        "--master-key",
        key,
    ])
    .await;
    let token = app
        .server
        .as_ref()
        .unwrap()
        .setup_token
        .clone()
        .expect("a production server with no user has a setup token");
    let c = Client::new(&app);
    let st = c.get("/api/setup").await.body;
    assert_eq!(st["needs_setup"], true);
    assert_eq!(st["needs_setup_token"], true);
    let body = |t: Option<&str>| {
        let mut b = json!({"tenant_name": "Acme", "name": "Carla", "email": "carla@acme.test",
                           "password": PASSWORD});
        if let Some(t) = t {
            b["setup_token"] = json!(t);
        }
        b
    };
    for wrong in [None, Some("crm_setup_not-the-token")] {
        let r = c.post("/api/setup", body(wrong)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(r.code(), "setup_token_invalid");
    }
    let r = c.post("/api/setup", body(Some(&token))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let st = c.get("/api/setup").await.body;
    assert_eq!(
        (st["needs_setup"].clone(), st["needs_setup_token"].clone()),
        (json!(false), json!(false))
    );
    // Outside production the setup is open as before (the demo, tests).
    let dev = spawn_app().await;
    assert!(dev.server.as_ref().unwrap().setup_token.is_none());
    assert_eq!(
        Client::new(&dev).get("/api/setup").await.body["needs_setup_token"],
        false
    );
}

async fn login_from(app: &TestApp, forwarded: &str, email: &str, password: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{}/api/auth/login", app.url))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn logins_are_throttled_per_account_and_per_network_behind_a_trusted_proxy() {
    let app = spawn_app_with(&["--trust-proxy"]).await;
    let ceo = setup_ceo(&app).await;
    add_user(&ceo, "beto@acme.test", "seller").await;
    // One account guessed from five different networks: the account is
    // throttled, wherever the sixth attempt comes from.
    for i in 1..=5 {
        let st = login_from(&app, &format!("10.{i}.0.1"), "ceo@acme.test", "nope-nope-1").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(
        login_from(&app, "10.9.0.1", "ceo@acme.test", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another account from a fresh network is not affected.
    assert_eq!(
        login_from(&app, "10.10.0.1", "beto@acme.test", PASSWORD).await,
        StatusCode::OK
    );
    // Behind our proxy, the client is the entry our proxy appended (the
    // rightmost): rotating the entries a client sends itself, or its last
    // octet, does not escape the limit of its network.
    for i in 1..=5 {
        let st = login_from(
            &app,
            &format!("6.6.6.{i}, 172.16.5.{i}"),
            &format!("nobody-{i}@acme.test"),
            "nope-nope-1",
        )
        .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(
        login_from(&app, "7.7.7.7, 172.16.5.200", "beto@acme.test", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}
