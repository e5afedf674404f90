//! Helpers for the Meta connection tests: drive the sandbox's consent page
//! like a browser, talk to its control API, read raw rows.

use crm_core::Role;
use crm_core::services::accounts::{self, NewTenant, NewUser};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::Value;

use crate::helpers::*;

pub fn sandbox_url(app: &TestApp) -> String {
    app.server
        .as_ref()
        .and_then(|s| s.meta_sandbox_url.clone())
        .expect("started with --meta-sandbox")
}

pub fn db(app: &TestApp) -> DatabaseConnection {
    app.server.as_ref().expect("running").state.db.clone()
}

/// A server with the in-process Meta sandbox.
pub async fn spawn_meta_app() -> TestApp {
    spawn_app_with(&["--meta-sandbox"]).await
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Hidden inputs of the consent form, as a browser would submit them.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" ").skip(1) {
        let name = part
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default();
        let value = part
            .split("value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default();
        out.push((name.to_owned(), unescape(value)));
    }
    out
}

/// Opens the Meta dialog URL and submits its form (Continue or Cancel) with
/// the browser's client, following the redirects back through the CRM
/// callback. Returns the final URL the browser lands on.
pub async fn consent(browser: &Client, dialog_url: &str, action: &str) -> String {
    let page = browser.http.get(dialog_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("META SANDBOX"), "the sandbox consent page");
    let form_action = html
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let base = url::Url::parse(dialog_url).unwrap();
    let target = base.join(&form_action).unwrap();
    let mut fields = hidden_inputs(&html);
    fields.push(("action".into(), action.into()));
    let r = browser
        .http
        .post(target)
        .form(&fields)
        .send()
        .await
        .unwrap();
    without_fragment(r.url())
}

fn without_fragment(u: &url::Url) -> String {
    let mut u = u.clone();
    u.set_fragment(None);
    u.to_string()
}

/// Like [`consent`] but stops at the CRM callback URL (for replay tests).
pub async fn consent_callback_url(dialog_url: &str, action: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = http
        .get(dialog_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form_action = html
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let target = url::Url::parse(dialog_url)
        .unwrap()
        .join(&form_action)
        .unwrap();
    let mut fields = hidden_inputs(&html);
    fields.push(("action".into(), action.into()));
    let r = http.post(target).form(&fields).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let loc = r.headers()[reqwest::header::LOCATION].to_str().unwrap();
    without_fragment(&url::Url::parse(loc).unwrap())
}

/// The browser (with its session cookie) opens a URL; returns the final URL.
pub async fn browse(browser: &Client, url: &str) -> String {
    let u = browser.http.get(url).send().await.unwrap().url().clone();
    without_fragment(&u)
}

pub async fn auth_url(c: &Client) -> String {
    let r = c.get("/api/crm/auth/meta/url").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["url"].as_str().unwrap().to_owned()
}

/// Connects Meta through the real OAuth dance and checks the landing URL.
pub async fn connect_meta(app: &TestApp, c: &Client) {
    let url = auth_url(c).await;
    let landed = consent(c, &url, "continue").await;
    assert_eq!(landed, format!("{}/crm/marketing?connected=1", app.url));
}

pub async fn control(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .request(method, format!("{}/_sandbox{path}", sandbox_url(app)))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "sandbox control {path}: {v}");
    v
}

pub async fn world(app: &TestApp) -> Value {
    reqwest::get(format!("{}/_sandbox/world", sandbox_url(app)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Requests the sandbox received whose path contains `needle` (and method).
pub async fn received(app: &TestApp, method: &str, needle: &str) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/_sandbox/received/requests", sandbox_url(app)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["method"].as_str() == Some(method)
                && r["path"].as_str().is_some_and(|p| p.contains(needle))
        })
        .cloned()
        .collect()
}

/// A second tenant with its own CEO, logged in.
pub async fn other_tenant_ceo(app: &TestApp, email: &str) -> (uuid::Uuid, Client) {
    let db = db(app);
    let t = accounts::create_tenant(
        &db,
        &NewTenant {
            name: "Other Co".into(),
            currency: "USD".into(),
            timezone: "UTC".into(),
            locale: "en".into(),
            country: "US".into(),
        },
    )
    .await
    .unwrap();
    accounts::create_user_cli(
        &db,
        t.id,
        &NewUser {
            email: email.into(),
            name: "Other CEO".into(),
            role: Role::Ceo,
            password: PASSWORD.into(),
        },
    )
    .await
    .unwrap();
    (t.id, logged_in(app, email).await)
}

pub async fn query(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
}

pub async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
}

pub async fn token_status(c: &Client) -> Value {
    let r = c.get("/api/crm/marketing/token-status").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// Polls until `f` is true (up to 15 s).
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if f().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[derive(clap::Parser)]
#[command(args_override_self = true)]
struct Wrap {
    #[command(flatten)]
    args: crm_server::config::ServeArgs,
}

/// Starts a server on an existing database and data folder (for restarts).
pub async fn start_on(
    db_url: &str,
    dir: &std::path::Path,
    extra: &[String],
) -> anyhow::Result<crm_server::server::RunningServer> {
    use clap::Parser;
    let mut argv = vec![
        "crm".to_owned(),
        "--database-url".into(),
        db_url.to_owned(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--db-max-connections".into(),
        "5".into(),
    ];
    // Development mode unless the test asks for production.
    if !extra.iter().any(|a| a.starts_with("--production")) {
        argv.push("--production=false".into());
    }
    argv.extend(extra.iter().cloned());
    let args = Wrap::try_parse_from(argv)?.args;
    crm_server::server::start(args).await
}

/// A browser-like client for a server started with [`start_on`].
pub fn client_for(url: &str) -> Client {
    Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap(),
        base: url.to_owned(),
        csrf: None,
        bearer: None,
    }
}
