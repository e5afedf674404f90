//! HTTP layer: routing, version handling, authentication, usage headers, faults and batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::SandboxConfig;
use crate::error::{GResult, GraphError};
use crate::state::{FaultKind, RequestLog, Runtime, State, TokenKind, TokenRec};
use crate::util;
use crate::world::{Obj, World};

pub const DEFAULT_VERSION: &str = "v25.0";

/// (major version, last day available); versions not listed and newer than the table are accepted.
const RETIREMENTS: &[(u32, &str)] = &[
    (20, "2026-09-24"),
    (21, "2027-01-21"),
    (22, "2027-05-20"),
    (23, "2027-10-08"),
    (24, "2028-02-18"),
    (25, "2028-07-29"),
];

pub struct Inner {
    pub config: SandboxConfig,
    pub world: Arc<World>,
    pub state: Mutex<State>,
    pub http: reqwest::Client,
    pub base_url: String,
    pub spent_cache: Mutex<std::collections::HashMap<usize, i64>>,
    pub insights_cache: crate::insights::Cache,
    trace: AtomicU64,
}

pub type App = Arc<Inner>;

pub fn initial_runtime(config: &SandboxConfig) -> Runtime {
    Runtime {
        webhook_url: config.webhook_url.clone(),
        webhook_verify_token: config.webhook_verify_token.clone(),
        template_review_delay_ms: config.template_review_delay.map(|d| d.as_millis() as u64),
        status_delay_ms: 30,
        status_mode: "ordered".into(),
        messages_per_second: 80,
        pair_messages_per_minute: 10,
        app_calls_per_window: 60_000,
        account_calls_per_window: 30_000,
        user_calls_per_window: 60_000,
        webhook_max_attempts: 5,
        webhook_retry_base_ms: 200,
        async_policy_errors: false,
        require_subscription: true,
        report_run_polls: 3,
        auto_restate_every: None,
        require_appsecret_proof: false,
    }
}

impl Inner {
    pub fn new(config: SandboxConfig, base_url: String) -> anyhow::Result<App> {
        let today = config.today.unwrap_or_else(|| Utc::now().date_naive());
        let world = World::generate(config.seed, config.world, today, &config.app_id);
        let now = Utc::now().timestamp();
        let state = State::new(&world, initial_runtime(&config), now);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Arc::new(Inner {
            config,
            world: Arc::new(world),
            state: Mutex::new(state),
            http,
            base_url,
            spent_cache: Mutex::new(std::collections::HashMap::new()),
            insights_cache: Mutex::new(std::collections::HashMap::new()),
            trace: AtomicU64::new(1),
        }))
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now(&self) -> i64 {
        Utc::now().timestamp()
    }

    pub fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }

    /// "Today" in a time zone: the configured date, or the real clock.
    pub fn today_in(&self, tz: Tz) -> NaiveDate {
        self.config
            .today
            .unwrap_or_else(|| Utc::now().with_timezone(&tz).date_naive())
    }

    pub fn trace_id(&self) -> String {
        util::trace_id(
            self.trace.fetch_add(1, Ordering::Relaxed) ^ self.config.seed.rotate_left(17),
        )
    }

    pub fn reset(&self) {
        let now = self.now();
        let mut st = self.lock();
        *st = State::new(&self.world, initial_runtime(&self.config), now);
    }
}

pub fn router(app: App) -> Router {
    let mut r = Router::new()
        .route("/{version}/dialog/oauth", get(crate::oauth::dialog))
        .route("/dialog/oauth", get(crate::oauth::dialog_unversioned))
        .route(
            "/{version}/dialog/oauth/confirm",
            post(crate::oauth::confirm),
        );
    if app.config.enable_control {
        r = r.nest("/_sandbox", crate::control::router());
    }
    r.fallback(graph_handler).with_state(app)
}

/// One Graph call, whether it came over HTTP or inside a batch.
#[derive(Debug, Clone)]
pub struct GraphReq {
    pub method: String,
    pub version: String,
    pub segs: Vec<String>,
    pub params: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub json: Option<Value>,
    pub token: Option<String>,
    pub token_in_query: bool,
    pub in_batch: bool,
}

impl GraphReq {
    pub fn param(&self, k: &str) -> Option<&str> {
        crate::params::raw(&self.params, k)
    }
    pub fn path(&self) -> String {
        self.segs.join("/")
    }
    /// The JSON body if there was one, otherwise the params as a JSON object (values parsed as JSON when possible).
    pub fn body_json(&self) -> Value {
        match &self.json {
            Some(j) => j.clone(),
            None => crate::params::as_json_object(&self.params),
        }
    }
}

pub struct GraphResp {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    /// Error code when the body is an error (for logs).
    pub error_code: Option<i64>,
    /// Batch "null" entry.
    pub null_batch: bool,
}

impl GraphResp {
    fn ok(body: Value) -> GraphResp {
        GraphResp {
            status: 200,
            body,
            headers: vec![],
            error_code: None,
            null_batch: false,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    App,
    Token(TokenRec),
}

impl Caller {
    /// Businesses whose assets the caller reaches (none for app and Page tokens).
    pub fn businesses(&self, w: &World) -> Vec<usize> {
        match self {
            Caller::Token(t) if t.kind != TokenKind::Page => t.businesses(w),
            _ => vec![],
        }
    }
    pub fn user(&self) -> Option<usize> {
        match self {
            Caller::Token(t) if t.kind != TokenKind::Page => t.user,
            _ => None,
        }
    }
    pub fn page(&self) -> Option<usize> {
        match self {
            Caller::Token(t) if t.kind == TokenKind::Page => t.page,
            _ => None,
        }
    }
    pub fn has_scope(&self, s: &str) -> bool {
        match self {
            Caller::App => false,
            Caller::Token(t) => t.scopes.iter().any(|x| x == s),
        }
    }
    pub fn require_any(&self, scopes: &[&str]) -> GResult<()> {
        if scopes.iter().any(|s| self.has_scope(s)) {
            Ok(())
        } else {
            Err(GraphError::permission(&scopes.join(" or ")))
        }
    }
    pub fn token(&self) -> Option<&TokenRec> {
        match self {
            Caller::Token(t) => Some(t),
            Caller::App => None,
        }
    }
}

fn parse_pairs(s: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(s).unwrap_or_default()
}

async fn graph_handler(AxState(app): AxState<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_uppercase();
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let bytes = match axum::body::to_bytes(body, 8 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(&app, &GraphError::param("Request body too large"), vec![]);
        }
    };
    let query = parse_pairs(&raw_query);
    let mut params = query.clone();
    let mut json_body = None;
    let ctype = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !bytes.is_empty() {
        if ctype.starts_with("application/json") {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => {
                    if let Some(obj) = v.as_object() {
                        for (k, val) in obj {
                            let s = match val {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            params.push((k.clone(), s));
                        }
                    }
                    json_body = Some(v);
                }
                Err(e) => {
                    return error_response(
                        &app,
                        &GraphError::param(format!("Invalid JSON body: {e}")),
                        vec![],
                    );
                }
            }
        } else if ctype.starts_with("multipart/") {
            return error_response(
                &app,
                &GraphError::param("multipart uploads are not modelled by the sandbox"),
                vec![],
            );
        } else {
            params.extend(parse_pairs(&String::from_utf8_lossy(&bytes)));
        }
    }
    let bearer = bearer_token(&parts.headers);
    let token_in_query = query.iter().any(|(k, _)| k == "access_token");
    let token = params
        .iter()
        .rev()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.clone())
        .or(bearer);
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string())
        .collect();
    let mut req = GraphReq {
        method: method.clone(),
        version: DEFAULT_VERSION.to_string(),
        segs,
        params,
        query,
        json: json_body,
        token,
        token_in_query,
        in_batch: false,
    };
    // Graph accepts method override via `method=`.
    if let Some(m) = req.param("method") {
        let m = m.to_uppercase();
        if matches!(m.as_str(), "GET" | "POST" | "DELETE") {
            req.method = m;
        }
    }
    let version = req
        .segs
        .first()
        .filter(|s| {
            s.starts_with('v')
                && s.contains('.')
                && s[1..].split('.').all(|p| p.parse::<u32>().is_ok())
        })
        .cloned()
        .unwrap_or_else(|| DEFAULT_VERSION.to_string());
    let mut resp = dispatch(&app, req).await;
    resp.headers.push(("facebook-api-version".into(), version));
    {
        let mut st = app.lock();
        st.log_request(RequestLog {
            at_ms: app.now_ms(),
            method,
            path,
            query: util::redact_query(&raw_query),
            status: resp.status,
            error_code: resp.error_code,
        });
    }
    to_http(resp)
}

fn bearer_token(h: &HeaderMap) -> Option<String> {
    let v = h.get("authorization")?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
        Some(rest.trim().to_string())
    } else {
        None
    }
}

fn to_http(resp: GraphResp) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = resp.body.to_string();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    for (k, v) in resp.headers {
        if let (Ok(name), Ok(val)) = (
            axum::http::HeaderName::try_from(k.as_str()),
            HeaderValue::from_str(&v),
        ) {
            h.insert(name, val);
        }
    }
    r
}

pub fn error_response(app: &Inner, e: &GraphError, headers: Vec<(String, String)>) -> Response {
    to_http(err_resp(app, e, headers))
}

fn err_resp(app: &Inner, e: &GraphError, mut headers: Vec<(String, String)>) -> GraphResp {
    let trace = app.trace_id();
    headers.push(("x-fb-trace-id".into(), trace.clone()));
    headers.push((
        "www-authenticate".into(),
        format!(
            "OAuth \"Facebook Platform\" \"{}\" \"{}\"",
            e.kind,
            e.message.replace('"', "'")
        ),
    ));
    GraphResp {
        status: e.http_status,
        body: e.to_json(&trace),
        headers,
        error_code: Some(e.code),
        null_batch: false,
    }
}

/// Splits and checks the version prefix. Returns the remaining segments.
fn check_version(app: &Inner, req: &mut GraphReq) -> GResult<()> {
    let Some(first) = req.segs.first() else {
        return Ok(());
    };
    let Some(rest) = first.strip_prefix('v') else {
        return Ok(());
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return Ok(());
    };
    let (Ok(major), Ok(_minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
        return Ok(());
    };
    let today = app.today_in(chrono_tz::UTC);
    let retired = if major < 20 {
        true
    } else {
        RETIREMENTS
            .iter()
            .find(|(m, _)| *m == major)
            .and_then(|(_, until)| NaiveDate::parse_from_str(until, "%Y-%m-%d").ok())
            .is_some_and(|until| today > until)
    };
    if retired {
        return Err(GraphError::new(
            2635,
            "OAuthException",
            format!(
                "(#2635) You are calling a deprecated version of the Graph API. Please update to the latest version: {DEFAULT_VERSION}."
            ),
        ));
    }
    req.version = first.clone();
    req.segs.remove(0);
    Ok(())
}

/// Runs one Graph call. Boxed so that batch items can recurse into it.
pub fn dispatch(
    app: &App,
    mut req: GraphReq,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = GraphResp> + Send + '_>> {
    Box::pin(async move {
        if let Err(e) = check_version(app, &mut req) {
            return err_resp(app, &e, vec![]);
        }
        let full_path = format!("/{}/{}", req.version, req.path());
        let fault = app.lock().take_fault(&full_path, &req.method, req.in_batch);
        match fault {
            Some(FaultKind::Latency(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Some(FaultKind::NullBatch) => {
                return GraphResp {
                    status: 200,
                    body: Value::Null,
                    headers: vec![],
                    error_code: None,
                    null_batch: true,
                };
            }
            Some(FaultKind::Error(e)) => return err_resp(app, &e, vec![]),
            Some(FaultKind::TokenExpired) => {
                return err_resp(
                    app,
                    &GraphError::token_expired(
                        &Utc::now().format("%A, %d-%b-%y %H:%M:%S UTC").to_string(),
                    ),
                    vec![],
                );
            }
            Some(FaultKind::TokenInvalid) => {
                return err_resp(app, &GraphError::token_invalidated(), vec![]);
            }
            Some(FaultKind::Throttle(code)) => {
                let (e, headers) = forced_throttle(app, &req, code);
                return err_resp(app, &e, headers);
            }
            None => {}
        }
        // Token-less endpoints.
        let segs: Vec<&str> = req.segs.iter().map(|s| s.as_str()).collect();
        match segs.as_slice() {
            ["oauth", "access_token"] => {
                return finish(app, crate::oauth::access_token(app, &req), vec![]);
            }
            ["debug_token"] => return finish(app, crate::oauth::debug_token(app, &req), vec![]),
            ["dialog", "oauth"] => {
                return err_resp(
                    app,
                    &GraphError::param("The OAuth dialog is an HTML page; open it in a browser"),
                    vec![],
                );
            }
            _ => {}
        }
        if segs.is_empty() && req.method == "POST" && req.param("batch").is_some() {
            if req.in_batch {
                return err_resp(
                    app,
                    &GraphError::param("Batch requests cannot be nested"),
                    vec![],
                );
            }
            return match batch(app, &req).await {
                Ok(v) => GraphResp::ok(v),
                Err(e) => err_resp(app, &e, vec![]),
            };
        }
        let caller = match authenticate(app, &req) {
            Ok(c) => c,
            Err(e) => return err_resp(app, &e, vec![]),
        };
        let (usage_headers, throttle) = account_usage(app, &req, &caller);
        if let Some(e) = throttle {
            return err_resp(app, &e, usage_headers);
        }
        if req.method == "POST"
            && req.segs.len() == 2
            && req.segs[0] == app.config.app_id
            && req.segs[1] == "subscriptions"
        {
            let r = if matches!(caller, Caller::App) {
                crate::webhooks::app_subscribe(app, &req).await
            } else {
                Err(GraphError::new(
                    15,
                    "OAuthException",
                    "(#15) This method must be called with an app access_token.",
                ))
            };
            return finish(app, r, usage_headers);
        }
        let result = crate::graph::route(app, &req, &caller);
        finish(app, result, usage_headers)
    })
}

fn finish(app: &Inner, r: GResult<Value>, headers: Vec<(String, String)>) -> GraphResp {
    match r {
        Ok(v) => GraphResp {
            status: 200,
            body: v,
            headers,
            error_code: None,
            null_batch: false,
        },
        Err(e) => err_resp(app, &e, headers),
    }
}

fn authenticate(app: &Inner, req: &GraphReq) -> GResult<Caller> {
    let Some(token) = req.token.as_deref() else {
        return Err(GraphError::token_missing());
    };
    if let Some((id, secret)) = token.split_once('|') {
        if id == app.config.app_id && util::ct_eq(secret, &app.config.app_secret) {
            return Ok(Caller::App);
        }
        return Err(GraphError::new(
            190,
            "OAuthException",
            "Invalid OAuth access token signature.",
        ));
    }
    let rec = { app.lock().tokens.get(token).cloned() };
    let Some(rec) = rec else {
        return Err(GraphError::token_unparsable());
    };
    let require_proof = app.lock().runtime.require_appsecret_proof;
    if require_proof && req.param("appsecret_proof").is_none() {
        return Err(GraphError::new(
            100,
            "GraphMethodException",
            "API calls from the server require an appsecret_proof argument",
        ));
    }
    if let Some(proof) = req.param("appsecret_proof") {
        let expected = util::hmac_sha256_hex(app.config.app_secret.as_bytes(), token.as_bytes());
        if !util::ct_eq(&proof.to_ascii_lowercase(), &expected) {
            return Err(GraphError::new(
                100,
                "GraphMethodException",
                "Invalid appsecret_proof provided in the API argument",
            ));
        }
    }
    check_token(app, &rec)?;
    Ok(Caller::Token(rec))
}

pub fn check_token(app: &Inner, rec: &TokenRec) -> GResult<()> {
    if rec.revoked {
        return Err(GraphError::app_not_installed());
    }
    if rec.invalidated {
        return Err(GraphError::token_invalidated());
    }
    if rec.expires_at != 0 && rec.expires_at <= app.now() {
        let at = chrono::DateTime::from_timestamp(rec.expires_at, 0).unwrap_or_default();
        return Err(GraphError::token_expired(
            &at.format("%A, %d-%b-%y %H:%M:%S UTC").to_string(),
        ));
    }
    Ok(())
}

/// Which ad account (if any) a request is about, and whether it is an insights call.
fn usage_scope(app: &Inner, req: &GraphReq) -> (Option<usize>, &'static str, Option<String>) {
    let world = &app.world;
    let Some(first) = req.segs.first() else {
        return (None, "", None);
    };
    let is_insights = req.segs.iter().any(|s| s == "insights");
    let obj = world.lookup(first);
    let account = match obj {
        Some(Obj::AdAccount(a)) => Some(a),
        Some(Obj::Campaign(c)) => Some(world.campaigns[c].account),
        Some(Obj::AdSet(s)) => Some(world.campaigns[world.adsets[s].campaign].account),
        Some(Obj::Ad(a)) | Some(Obj::Creative(a)) => Some(world.ads[a].account),
        _ => None,
    };
    if let Some(a) = account {
        return (
            Some(a),
            if is_insights {
                "ads_insights"
            } else {
                "ads_management"
            },
            Some(world.ad_accounts[a].account_id.clone()),
        );
    }
    match obj {
        Some(Obj::Page(p)) => (None, "pages", Some(world.pages[p].id.clone())),
        Some(Obj::Form(f)) => (
            None,
            "leadgen",
            Some(world.pages[world.forms[f].page].id.clone()),
        ),
        Some(Obj::Waba(w)) => (
            None,
            "whatsapp_business_management",
            Some(world.wabas[w].id.clone()),
        ),
        _ => (None, "", None),
    }
}

fn pct(count: u32, budget: u32) -> u32 {
    if budget == 0 {
        return 100;
    }
    ((u64::from(count) * 100) / u64::from(budget)).min(100) as u32
}

fn usage_headers(
    app_pct: u32,
    regain_min: u64,
    scope: &(Option<usize>, &'static str, Option<String>),
    acct_pct: u32,
) -> Vec<(String, String)> {
    let mut h = vec![(
        "x-app-usage".to_string(),
        json!({"call_count": app_pct, "total_cputime": app_pct / 2, "total_time": app_pct * 2 / 3})
            .to_string(),
    )];
    if let (kind, Some(obj_id)) = (scope.1, &scope.2)
        && !kind.is_empty()
    {
        let mut buc = serde_json::Map::new();
        buc.insert(
            obj_id.clone(),
            json!([{ "type": kind, "call_count": acct_pct, "total_cputime": acct_pct / 2, "total_time": acct_pct * 2 / 3,
                     "estimated_time_to_regain_access": regain_min, "ads_api_access_tier": "standard_access" }]),
        );
        h.push((
            "x-business-use-case-usage".into(),
            Value::Object(buc).to_string(),
        ));
    }
    if scope.0.is_some() {
        h.push((
            "x-ad-account-usage".into(),
            json!({"acc_id_util_pct": acct_pct, "reset_time_duration": regain_min * 60, "ads_api_access_tier": "standard_access"}).to_string(),
        ));
        if scope.1 == "ads_insights" {
            h.push((
                "x-fb-ads-insights-throttle".into(),
                json!({"app_id_util_pct": app_pct, "acc_id_util_pct": acct_pct}).to_string(),
            ));
        }
    }
    h
}

fn throttle_error(kind: &str, code_hint: Option<i64>) -> GraphError {
    let code = code_hint.unwrap_or(match kind {
        "ads_insights" => 80000,
        "ads_management" => 80004,
        "leadgen" => 80005,
        "pages" => 80001,
        "whatsapp_business_management" => 80008,
        _ => 4,
    });
    match code {
        4 => GraphError::new(4, "OAuthException", "(#4) Application request limit reached").transient(),
        17 => GraphError::new(17, "OAuthException", "(#17) User request limit reached").with_subcode(2446079).transient(),
        613 => GraphError::new(613, "OAuthException", "(#613) Calls to this api have exceeded the rate limit.").with_subcode(1487742).transient(),
        32 => GraphError::new(32, "OAuthException", "(#32) Page request limit reached").transient(),
        c => GraphError::new(
            c,
            "OAuthException",
            format!("(#{c}) There have been too many calls from this business. Please wait a bit and try again."),
        )
        .transient(),
    }
}

fn forced_throttle(
    app: &Inner,
    req: &GraphReq,
    code: Option<i64>,
) -> (GraphError, Vec<(String, String)>) {
    let scope = usage_scope(app, req);
    let headers = usage_headers(100, 5, &scope, 100);
    (throttle_error(scope.1, code), headers)
}

/// Counts the call and returns the usage headers, plus a throttle error at 100%.
fn account_usage(
    app: &Inner,
    req: &GraphReq,
    caller: &Caller,
) -> (Vec<(String, String)>, Option<GraphError>) {
    let scope = usage_scope(app, req);
    let sec = Utc::now().timestamp() as u64;
    let mut st = app.lock();
    let rt = st.runtime.clone();
    st.app_usage.hit(sec);
    let app_count = st.app_usage.count(sec);
    let app_pct = pct(app_count, rt.app_calls_per_window);
    let mut regain = st.app_usage.regain_secs(sec);
    let mut acct_pct = 0;
    let mut acct_regain = 0;
    if let Some(a) = scope.0 {
        let entry = st.account_usage.entry(a).or_default();
        let w = if scope.1 == "ads_insights" {
            &mut entry.0
        } else {
            &mut entry.1
        };
        w.hit(sec);
        acct_pct = pct(w.count(sec), rt.account_calls_per_window);
        acct_regain = w.regain_secs(sec);
    }
    let mut user_pct = 0;
    if let Some(u) = caller.user() {
        let w = st.user_usage.entry(u).or_default();
        w.hit(sec);
        user_pct = pct(w.count(sec), rt.user_calls_per_window);
        regain = regain.max(w.regain_secs(sec));
    }
    drop(st);
    let regain_min = if app_pct >= 100 || acct_pct >= 100 || user_pct >= 100 {
        regain.max(acct_regain).div_ceil(60).max(1)
    } else {
        0
    };
    let headers = usage_headers(app_pct, regain_min, &scope, acct_pct);
    let err = if app_pct >= 100 {
        Some(throttle_error("", Some(4)))
    } else if acct_pct >= 100 {
        Some(throttle_error(scope.1, None))
    } else if user_pct >= 100 {
        Some(throttle_error("", Some(17)))
    } else {
        None
    };
    (headers, err)
}

/// `POST /` with `batch=[...]`.
async fn batch(app: &App, req: &GraphReq) -> GResult<Value> {
    let raw = req.param("batch").unwrap_or("[]");
    let items: Vec<Value> = serde_json::from_str(raw)
        .map_err(|e| GraphError::param(format!("The batch parameter must be a JSON array: {e}")))?;
    if items.is_empty() {
        return Err(GraphError::param(
            "The batch parameter must contain at least one request",
        ));
    }
    if items.len() > 50 {
        return Err(GraphError::param(
            "Too many requests in batch message. Maximum batch size is 50",
        ));
    }
    let include_headers = crate::params::boolean(&req.params, "include_headers")?.unwrap_or(true);
    let mut named: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let method = item
            .get("method")
            .and_then(|v| v.as_str())
            .unwrap_or("GET")
            .to_uppercase();
        let Some(rel) = item.get("relative_url").and_then(|v| v.as_str()) else {
            out.push(json!({"code": 400, "headers": [], "body": err_body(app, &GraphError::param("Missing relative_url in batch request"))}));
            continue;
        };
        let rel = match substitute(rel, &named) {
            Ok(r) => r,
            Err(e) => {
                out.push(json!({"code": 400, "headers": [], "body": err_body(app, &e)}));
                continue;
            }
        };
        let (path, q) = rel.split_once('?').unwrap_or((rel.as_str(), ""));
        let query = parse_pairs(q);
        let mut params = query.clone();
        if let Some(b) = item.get("body").and_then(|v| v.as_str()) {
            let b = substitute(b, &named).unwrap_or_else(|_| b.to_string());
            params.extend(parse_pairs(&b));
        }
        let mut token = params
            .iter()
            .rev()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.clone());
        if token.is_none() {
            token = req.token.clone();
            if let Some(t) = &token {
                params.push(("access_token".into(), t.clone()));
            }
        }
        let segs = path
            .trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
            .collect();
        let sub = GraphReq {
            method: method.clone(),
            version: req.version.clone(),
            segs,
            params,
            query,
            json: None,
            token,
            token_in_query: true,
            in_batch: true,
        };
        let mut sub = sub;
        // Relative URLs may omit the version; inherit the outer one.
        if !sub
            .segs
            .first()
            .is_some_and(|s| s.starts_with('v') && s.contains('.'))
        {
            sub.segs.insert(0, req.version.clone());
        }
        let resp = dispatch(app, sub).await;
        if resp.null_batch {
            out.push(Value::Null);
            continue;
        }
        if let Some(name) = item.get("name").and_then(|v| v.as_str())
            && resp.status == 200
        {
            named.insert(name.to_string(), resp.body.clone());
        }
        let headers: Vec<Value> = if include_headers {
            let mut h: Vec<Value> = resp
                .headers
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            h.push(json!({"name": "Content-Type", "value": "application/json; charset=UTF-8"}));
            h
        } else {
            vec![]
        };
        let omit = item
            .get("omit_response_on_success")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if omit && resp.status == 200 {
            out.push(json!({"code": 200, "headers": headers, "body": Value::Null}));
        } else {
            out.push(
                json!({"code": resp.status, "headers": headers, "body": resp.body.to_string()}),
            );
        }
    }
    Ok(Value::Array(out))
}

fn err_body(app: &Inner, e: &GraphError) -> String {
    e.to_json(&app.trace_id()).to_string()
}

/// Replaces `{result=NAME:$.json.path}` references with earlier results.
fn substitute(s: &str, named: &std::collections::HashMap<String, Value>) -> GResult<String> {
    let mut out = String::new();
    let mut rest = s;
    // Batch references may arrive URL-encoded in relative_url.
    let decoded;
    if rest.contains("%7Bresult=") || rest.contains("%7Bresult%3D") {
        decoded = rest
            .replace("%7B", "{")
            .replace("%7D", "}")
            .replace("%3D", "=")
            .replace("%3A", ":")
            .replace("%24", "$");
        rest = &decoded;
    }
    while let Some(start) = rest.find("{result=") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 8..];
        let Some(end) = after.find('}') else {
            return Err(GraphError::param(
                "Unterminated {result=} reference in batch",
            ));
        };
        let expr = &after[..end];
        let (name, path) = expr.split_once(':').ok_or_else(|| {
            GraphError::param("Batch reference must look like {result=name:$.path}")
        })?;
        let value = named.get(name).ok_or_else(|| {
            GraphError::param(format!(
                "Batch reference to unknown or failed request '{name}'"
            ))
        })?;
        out.push_str(&json_path(value, path).join(","));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn json_path(v: &Value, path: &str) -> Vec<String> {
    let path = path.trim_start_matches('$');
    let mut current = vec![v.clone()];
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut next = vec![];
        for c in current {
            if part == "*" {
                if let Some(arr) = c.as_array() {
                    next.extend(arr.iter().cloned());
                }
            } else if let Some(x) = c.get(part) {
                next.push(x.clone());
            } else if let (Ok(i), Some(arr)) = (part.parse::<usize>(), c.as_array())
                && let Some(x) = arr.get(i)
            {
                next.push(x.clone());
            }
        }
        current = next;
    }
    current
        .into_iter()
        .map(|x| match x {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect()
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let body = self.to_json(&util::trace_id(0)).to_string();
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = StatusCode::from_u16(self.http_status).unwrap_or(StatusCode::BAD_REQUEST);
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        r
    }
}
