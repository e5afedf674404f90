use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn cookie_mutations_need_the_csrf_token() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let body = json!({"email": "x@acme.test", "name": "X", "role": "seller", "password": PASSWORD});
    let r = ceo
        .req_opts(Method::POST, "/api/team", Some(body.clone()), false)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "csrf_token_invalid");

    let mut forged = Client::new(&app);
    forged.http = ceo.http.clone();
    forged.csrf = Some("forged-token".into());
    let r = forged.post("/api/team", body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "csrf_token_invalid");

    let r = ceo
        .req_opts(Method::POST, "/api/auth/logout", Some(json!({})), false)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nothing was created, and the session still works.
    let team = ceo.get("/api/team").await;
    assert_eq!(team.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        ceo.post("/api/team", body).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn security_headers_are_present() {
    let app = spawn_app().await;
    let anon = Client::new(&app);
    for path in ["/api/setup", "/api/team", "/healthz", "/", "/api/nope"] {
        let r = anon.get(path).await;
        let h = &r.headers;
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert_eq!(
            h.get("referrer-policy").unwrap(),
            "strict-origin-when-cross-origin"
        );
        assert!(h.get("x-request-id").is_some());
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain http"
        );
    }
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let app = spawn_app_with(&["--public-url", "https://crm.example.test"]).await;
    let r = Client::new(&app).get("/healthz").await;
    assert_eq!(
        r.headers.get("strict-transport-security").unwrap(),
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_and_errors_have_the_api_shape() {
    let app = spawn_app().await;
    let r = reqwest::Client::new()
        .get(format!("{}/api/does-not-exist", app.url))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("x-request-id").unwrap(), "abc-123");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "route_not_found");
}

#[tokio::test]
async fn bad_json_and_oversized_bodies_get_clear_errors() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/auth/login", app.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "invalid_json");

    let r = http
        .post(format!("{}/api/auth/login", app.url))
        .json(&json!({"email": "a@b.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "invalid_body");

    let big = "x".repeat(3 * 1024 * 1024);
    let r = http
        .post(format!("{}/api/auth/login", app.url))
        .header("content-type", "application/json")
        .body(format!("{{\"email\":\"{big}\",\"password\":\"x\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let anon = Client::new(&app);
    assert_eq!(anon.get("/healthz").await.body, json!({"status": "ok"}));
    assert_eq!(anon.get("/readyz").await.body, json!({"status": "ready"}));
    let m = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert_eq!(m.status(), StatusCode::OK);
    let text = m.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
}

#[tokio::test]
async fn api_docs_are_public_and_self_hosted() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/api/docs", app.url)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("/swagger/swagger-ui-bundle.js"), "{html}");
    assert!(!html.contains("https://"), "no CDN: the page works offline");
    let doc = Client::new(&app).get("/api/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["info"]["title"], "CRM Ventas API");
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
}
