use clap::Parser;
use crm_server::config::ServeArgs;
use crm_server::server::RunningServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(args_override_self = true)]
struct Wrap {
    #[command(flatten)]
    args: ServeArgs,
}

pub struct TestApp {
    pub url: String,
    pub database_url: String,
    pub server: Option<RunningServer>,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop_token().cancel();
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let dir = std::env::temp_dir().join(format!("crm-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = crm_db::testing::fresh_database_url(&dir).await.unwrap();
    start_app(url, TempDir(dir), extra).await
}

/// A server on an existing database (the folder stays owned by the caller).
pub async fn spawn_app_on(url: &str, dir: &TempDir) -> TestApp {
    let own = std::env::temp_dir().join(format!("crm-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&own).unwrap();
    let _ = dir;
    start_app(url.to_owned(), TempDir(own), &[]).await
}

async fn start_app(url: String, dir: TempDir, extra: &[&str]) -> TestApp {
    let database_url = url.clone();
    let dir_path = dir.0.clone();
    let mut argv = vec![
        "crm".to_owned(),
        "--database-url".into(),
        url,
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        dir_path.display().to_string(),
        "--api-rate-per-sec".into(),
        "10000".into(),
        "--api-burst".into(),
        "10000".into(),
        "--db-max-connections".into(),
        "5".into(),
    ];
    // Tests run in development mode unless they ask for production.
    if !extra.iter().any(|a| a.starts_with("--production")) {
        argv.push("--production=false".into());
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    let args = Wrap::try_parse_from(argv).unwrap().args;
    let server = crm_server::server::start(args).await.unwrap();
    TestApp {
        url: format!("http://{}", server.addr),
        database_url,
        server: Some(server),
        _dir: dir,
    }
}

impl TestApp {
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.0.clone()
    }
}

/// A browser-like client: keeps cookies and sends the CSRF token it was given.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Client {
    pub fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            base: app.url.clone(),
            csrf: None,
            bearer: None,
        }
    }

    pub fn with_token(app: &TestApp, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: app.url.clone(),
            csrf: None,
            bearer: Some(token.to_owned()),
        }
    }

    pub async fn req(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.req_opts(method, path, body, true).await
    }

    pub async fn req_opts(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        send_csrf: bool,
    ) -> Resp {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path));
        if let (Some(c), true) = (&self.csrf, send_csrf) {
            rb = rb.header("x-csrf-token", c);
        }
        if let Some(b) = &self.bearer {
            rb = rb.bearer_auth(b);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.req(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.req(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.req(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.req(Method::DELETE, path, None).await
    }

    /// Logs in and remembers the CSRF token.
    pub async fn login(&mut self, email: &str, password: &str) -> Resp {
        let r = self
            .post(
                "/api/auth/login",
                json!({"email": email, "password": password}),
            )
            .await;
        if r.status == StatusCode::OK {
            self.csrf = r.body["csrf_token"].as_str().map(str::to_owned);
        }
        r
    }
}

pub const PASSWORD: &str = "correct-horse-42";

/// Runs first-run setup and returns the CEO's logged-in client.
pub async fn setup_ceo(app: &TestApp) -> Client {
    let mut c = Client::new(app);
    let r = c
        .post(
            "/api/setup",
            json!({"tenant_name": "Acme", "currency": "USD", "timezone": "America/Argentina/Buenos_Aires",
                   "locale": "es", "name": "Carla CEO", "email": "ceo@acme.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    c.csrf = r.body["csrf_token"].as_str().map(str::to_owned);
    c
}

/// Creates a user with a role through the team API and returns its id.
pub async fn add_user(ceo: &Client, email: &str, role: &str) -> String {
    let r = ceo
        .post(
            "/api/team",
            json!({"email": email, "name": email.split('@').next().unwrap(), "role": role, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

pub async fn logged_in(app: &TestApp, email: &str) -> Client {
    let mut c = Client::new(app);
    let r = c.login(email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    c
}
