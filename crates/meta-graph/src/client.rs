//! The HTTP core: configuration, request execution, retries, paging, batch.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt, stream};
use rand::Rng;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{GraphError, MetaError, TransientKind};
use crate::secret::{AccessToken, AppSecret};
use crate::usage::Usage;

/// Client configuration. Only the base URLs differ between production and
/// the local sandbox.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// Graph API host, default `https://graph.facebook.com`.
    pub base_url: String,
    /// Host of the OAuth dialog, default `https://www.facebook.com`.
    pub dialog_base_url: String,
    /// API version path segment, default `v25.0`.
    pub api_version: String,
    pub app_id: String,
    /// Enables `appsecret_proof`, code exchange and app tokens.
    pub app_secret: Option<AppSecret>,
    /// Per-attempt request timeout.
    pub timeout: Duration,
    /// Retries after the first attempt, for transient and throttled errors only.
    pub max_retries: u32,
    /// First backoff step for transient errors (doubled per attempt, jittered).
    pub retry_base_delay: Duration,
    /// Upper bound of one transient backoff sleep.
    pub max_retry_delay: Duration,
    /// A throttle advertising a longer wait than this is returned to the
    /// caller (to reschedule) instead of being slept through.
    pub max_throttle_wait: Duration,
    /// Wait assumed for a throttle when no usage header advertises one.
    pub default_throttle_wait: Duration,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            base_url: "https://graph.facebook.com".to_string(),
            dialog_base_url: "https://www.facebook.com".to_string(),
            api_version: "v25.0".to_string(),
            app_id: String::new(),
            app_secret: None,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_base_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(30),
            max_throttle_wait: Duration::from_secs(120),
            default_throttle_wait: Duration::from_secs(60),
        }
    }
}

impl GraphConfig {
    /// Production configuration for an app.
    pub fn new(app_id: impl Into<String>, app_secret: AppSecret) -> Self {
        Self {
            app_id: app_id.into(),
            app_secret: Some(app_secret),
            ..Self::default()
        }
    }

    /// Points both the Graph API and the OAuth dialog at one host (the sandbox).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        let base = base_url.into();
        self.dialog_base_url = base.clone();
        self.base_url = base;
        self
    }
}

/// How a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads and idempotent writes: retry transient and throttled errors.
    Safe,
    /// Sends that must not be duplicated: retry only when Meta certainly did
    /// not process the request (throttled, connection never opened).
    Unsafe,
}

/// A low-level Graph request. Most callers use the typed methods instead.
/// Its `Debug` shows the query and form keys, never their values (the app
/// secret, codes and tokens travel there).
#[derive(Clone)]
pub struct GraphRequest {
    pub method: Method,
    /// Path below the version, e.g. `me/adaccounts`, or a full URL on the
    /// configured host (used for `paging.next`).
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Option<Vec<(String, String)>>,
    pub json: Option<serde_json::Value>,
    pub idempotency: Idempotency,
}

impl std::fmt::Debug for GraphRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        f.debug_struct("GraphRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_keys", &keys(&self.query))
            .field("form_keys", &self.form.as_deref().map(keys))
            .field("json", &self.json.is_some())
            .field("idempotency", &self.idempotency)
            .finish()
    }
}

impl GraphRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            form: None,
            json: None,
            idempotency: Idempotency::Safe,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    pub fn form_field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.form
            .get_or_insert_with(Vec::new)
            .push((key.into(), value.into()));
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.json = Some(body);
        self
    }

    pub fn unsafe_to_repeat(mut self) -> Self {
        self.idempotency = Idempotency::Unsafe;
        self
    }
}

/// A decoded response with the usage headers it carried.
#[derive(Debug, Clone)]
pub struct GraphResponse<T> {
    pub value: T,
    pub usage: Usage,
}

/// One page of an edge.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
    #[serde(default)]
    pub summary: Option<serde_json::Value>,
}

/// Cursor paging block.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Paging {
    #[serde(default)]
    pub cursors: Option<Cursors>,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Cursors {
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
}

/// One request inside a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchRequest {
    pub method: String,
    /// Relative to the version, e.g. `me?fields=id,name`.
    pub relative_url: String,
    /// urlencoded body for POST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl BatchRequest {
    pub fn get(relative_url: impl Into<String>) -> Self {
        Self {
            method: "GET".into(),
            relative_url: relative_url.into(),
            body: None,
            name: None,
        }
    }

    pub fn post(relative_url: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            method: "POST".into(),
            relative_url: relative_url.into(),
            body: Some(body.into()),
            name: None,
        }
    }
}

/// A successful batch entry.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResponse {
    pub code: u16,
    pub headers: Vec<(String, String)>,
    /// The entry's body, parsed from the JSON string Meta returns.
    pub body: serde_json::Value,
}

#[derive(Deserialize)]
struct RawBatchEntry {
    code: u16,
    #[serde(default)]
    headers: Vec<RawHeader>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    name: String,
    value: String,
}

/// Maximum requests in one batch call.
pub const MAX_BATCH: usize = 50;

struct Inner {
    http: reqwest::Client,
    config: GraphConfig,
    base: Url,
}

/// The Graph API client. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base_url", &self.inner.config.base_url)
            .field("api_version", &self.inner.config.api_version)
            .finish()
    }
}

impl GraphClient {
    /// Builds a client. Fails on an unparsable base URL or version.
    pub fn new(config: GraphConfig) -> Result<Self, GraphError> {
        let base = Url::parse(config.base_url.trim_end_matches('/'))
            .map_err(|e| GraphError::Config(format!("invalid base_url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(GraphError::Config("base_url must be http or https".into()));
        }
        Url::parse(&config.dialog_base_url)
            .map_err(|e| GraphError::Config(format!("invalid dialog_base_url: {e}")))?;
        let v = config.api_version.as_str();
        let valid_version = v
            .strip_prefix('v')
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            });
        if !valid_version {
            return Err(GraphError::Config(format!(
                "api_version must look like v25.0, got {v:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("crm-ventas-meta-graph/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Config(format!("http client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner { http, config, base }),
        })
    }

    pub fn config(&self) -> &GraphConfig {
        &self.inner.config
    }

    /// A handle that calls the API with `token` and remembers the last usage headers.
    pub fn session(&self, token: AccessToken) -> Session {
        Session {
            client: self.clone(),
            token,
            last_usage: Arc::new(Mutex::new(Usage::default())),
            page_limit: None,
        }
    }

    /// The app token (`app_id|app_secret`). Needs both configured.
    pub fn app_token(&self) -> Result<AccessToken, GraphError> {
        let cfg = &self.inner.config;
        let secret = self.app_secret()?;
        if cfg.app_id.is_empty() {
            return Err(GraphError::Config("app_id is not configured".into()));
        }
        Ok(AccessToken::app_token(&cfg.app_id, secret))
    }

    pub(crate) fn app_secret(&self) -> Result<&AppSecret, GraphError> {
        self.inner
            .config
            .app_secret
            .as_ref()
            .ok_or_else(|| GraphError::Config("app_secret is not configured".into()))
    }

    /// `{base}/{version}/{path}` or, for absolute URLs, the URL itself after
    /// checking it points at the configured host.
    pub(crate) fn resolve(&self, path: &str) -> Result<Url, GraphError> {
        if path.starts_with("http://") || path.starts_with("https://") {
            let url = Url::parse(path).map_err(|e| GraphError::UnexpectedResponse {
                status: 0,
                message: format!("unparsable paging URL: {e}"),
            })?;
            let base = &self.inner.base;
            if url.scheme() != base.scheme()
                || url.host_str() != base.host_str()
                || url.port_or_known_default() != base.port_or_known_default()
            {
                return Err(GraphError::UnexpectedResponse {
                    status: 0,
                    message: format!(
                        "refusing to follow a URL on another host ({})",
                        url.host_str().unwrap_or("?")
                    ),
                });
            }
            return Ok(url);
        }
        let path = path.trim_start_matches('/');
        if path.contains("..") || path.contains('?') || path.contains('#') {
            return Err(GraphError::InvalidInput(format!(
                "invalid Graph path {path:?}"
            )));
        }
        let s = format!(
            "{}/{}/{}",
            self.inner.base.as_str().trim_end_matches('/'),
            self.inner.config.api_version,
            path
        );
        Url::parse(&s).map_err(|e| GraphError::InvalidInput(format!("invalid Graph path: {e}")))
    }

    /// Executes a request with retries and decodes the JSON body as `T`.
    pub async fn execute<T: DeserializeOwned>(
        &self,
        token: Option<&AccessToken>,
        req: &GraphRequest,
    ) -> Result<GraphResponse<T>, GraphError> {
        let raw = self.execute_value(token, req).await?;
        let value =
            serde_json::from_value(raw.value).map_err(|e| GraphError::UnexpectedResponse {
                status: 200,
                message: format!("could not decode {}: {e}", describe(req)),
            })?;
        Ok(GraphResponse {
            value,
            usage: raw.usage,
        })
    }

    /// Like [`execute`](Self::execute) but returns the raw JSON.
    pub async fn execute_value(
        &self,
        token: Option<&AccessToken>,
        req: &GraphRequest,
    ) -> Result<GraphResponse<serde_json::Value>, GraphError> {
        use tracing::Instrument;
        let url = self.resolve(&req.path)?;
        // The path holds object ids, never a token (tokens travel in the
        // query string this span does not record).
        let span = tracing::info_span!("graph", family = family_of(url.path()), path = url.path());
        self.execute_url(token, req, url).instrument(span).await
    }

    async fn execute_url(
        &self,
        token: Option<&AccessToken>,
        req: &GraphRequest,
        url: Url,
    ) -> Result<GraphResponse<serde_json::Value>, GraphError> {
        let cfg = &self.inner.config;
        let mut attempt: u32 = 0;
        let family = family_of(url.path());
        loop {
            let result = self.attempt(token, req, url.clone()).await;
            let err = match result {
                Ok(ok) => {
                    metrics::counter!("crm_meta_graph_calls_total", "family" => family, "outcome" => "ok")
                        .increment(1);
                    return Ok(ok);
                }
                Err(e) => e,
            };
            metrics::counter!("crm_meta_graph_calls_total", "family" => family, "outcome" => err.kind())
                .increment(1);
            if let GraphError::Throttled { retry_after, .. } = &err {
                metrics::counter!("crm_meta_graph_throttles_total", "family" => family)
                    .increment(1);
                metrics::histogram!("crm_meta_graph_throttle_wait_seconds", "family" => family)
                    .record(retry_after.as_secs_f64());
            }
            let delay = match (&err, req.idempotency) {
                (GraphError::Throttled { retry_after, .. }, _) => {
                    if *retry_after > cfg.max_throttle_wait {
                        return Err(err);
                    }
                    throttle_delay(*retry_after)
                }
                (GraphError::Transient { kind, .. }, Idempotency::Safe)
                    if *kind != TransientKind::BatchNotProcessed =>
                {
                    backoff_delay(cfg, attempt)
                }
                (
                    GraphError::Transient {
                        kind: TransientKind::Connect,
                        ..
                    },
                    Idempotency::Unsafe,
                ) => backoff_delay(cfg, attempt),
                _ => return Err(err),
            };
            if attempt >= cfg.max_retries {
                return Err(err);
            }
            tracing::warn!(
                path = url.path(),
                attempt = attempt + 1,
                delay_ms = delay.as_millis() as u64,
                error = err.kind(),
                code = err.code().unwrap_or_default(),
                "retrying Meta Graph request"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        token: Option<&AccessToken>,
        req: &GraphRequest,
        mut url: Url,
    ) -> Result<GraphResponse<serde_json::Value>, GraphError> {
        let cfg = &self.inner.config;
        // Never let a token travel in the URL, even if Meta echoed one into paging.next.
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "access_token" && k != "appsecret_proof")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &kept {
                pairs.append_pair(k, v);
            }
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
            if let (Some(t), Some(secret)) = (token, cfg.app_secret.as_ref()) {
                pairs.append_pair("appsecret_proof", &secret.proof_for(t));
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let mut builder = self.inner.http.request(req.method.clone(), url.clone());
        if let Some(t) = token {
            builder = builder.bearer_auth(t.expose());
        }
        if let Some(form) = &req.form {
            builder = builder.form(form);
        } else if let Some(json) = &req.json {
            builder = builder.json(json);
        }
        let response = builder.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let usage = Usage::from_headers(response.headers());
        let bytes = response.bytes().await.map_err(|e| GraphError::Transient {
            kind: TransientKind::Body,
            reason: format!("reading response body: {}", e.without_url()),
            meta: None,
        })?;
        let parsed: Option<serde_json::Value> = if bytes.is_empty() {
            Some(serde_json::Value::Null)
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if let Some(body) = &parsed
            && let Some(mut meta) = MetaError::from_body(body, status)
        {
            if let Some(t) = token {
                meta.redact(t.expose());
            }
            if let Some(secret) = &cfg.app_secret {
                meta.redact(secret.expose());
            }
            return Err(GraphError::classify(
                meta,
                &usage,
                cfg.default_throttle_wait,
            ));
        }
        if status >= 500 {
            return Err(GraphError::Transient {
                kind: TransientKind::ServerError,
                reason: format!("HTTP {status} from {}", url.path()),
                meta: None,
            });
        }
        if status == 429 {
            // A bare 429 (a proxy, or Meta without an envelope): rejected, so safe to wait and retry.
            let meta = MetaError {
                message: format!("HTTP 429 from {} without an error envelope", url.path()),
                http_status: status,
                ..MetaError::default()
            };
            let retry_after = usage
                .regain_access_after()
                .filter(|d| !d.is_zero())
                .unwrap_or(cfg.default_throttle_wait);
            return Err(GraphError::Throttled {
                retry_after,
                meta: Box::new(meta),
                usage: Box::new(usage),
            });
        }
        if !(200..300).contains(&status) {
            return Err(GraphError::UnexpectedResponse {
                status,
                message: format!(
                    "HTTP {status} from {} without an error envelope",
                    url.path()
                ),
            });
        }
        match parsed {
            Some(value) => Ok(GraphResponse { value, usage }),
            None => Err(GraphError::UnexpectedResponse {
                status,
                message: format!("{} did not return JSON", url.path()),
            }),
        }
    }

    /// Streams every item of an edge, following `paging.next` until it is
    /// absent (short or empty pages do not stop it).
    pub fn paginate<T>(
        &self,
        token: Option<AccessToken>,
        first: GraphRequest,
        on_usage: Option<Arc<Mutex<Usage>>>,
    ) -> impl Stream<Item = Result<T, GraphError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        struct State {
            client: GraphClient,
            token: Option<AccessToken>,
            next: Option<GraphRequest>,
            seen: HashSet<String>,
            on_usage: Option<Arc<Mutex<Usage>>>,
        }
        let state = State {
            client: self.clone(),
            token,
            next: Some(first),
            seen: HashSet::new(),
            on_usage,
        };
        stream::try_unfold(state, |mut st| async move {
            let Some(req) = st.next.take() else {
                return Ok(None);
            };
            let resp = st
                .client
                .execute::<Page<T>>(st.token.as_ref(), &req)
                .await?;
            if let Some(slot) = &st.on_usage
                && let Ok(mut guard) = slot.lock()
            {
                *guard = resp.usage.clone();
            }
            let page = resp.value;
            st.next = next_page_request(page.paging.as_ref(), &mut st.seen)?;
            Ok(Some((stream::iter(page.data.into_iter().map(Ok)), st)))
        })
        .try_flatten()
    }

    /// Collects every item of an edge (see [`paginate`](Self::paginate)).
    pub async fn get_all<T>(
        &self,
        token: Option<AccessToken>,
        first: GraphRequest,
        on_usage: Option<Arc<Mutex<Usage>>>,
    ) -> Result<Vec<T>, GraphError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.paginate(token, first, on_usage).try_collect().await
    }

    /// Sends up to 50 requests in one `POST /` batch. Entries Meta leaves
    /// `null` (not processed) are re-sent up to `max_retries` times; entries
    /// still unprocessed come back as [`GraphError::Transient`]. Each entry's
    /// own error envelope is classified like a normal response.
    pub async fn batch(
        &self,
        token: &AccessToken,
        requests: &[BatchRequest],
    ) -> Result<Vec<Result<BatchResponse, GraphError>>, GraphError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        if requests.len() > MAX_BATCH {
            return Err(GraphError::InvalidInput(format!(
                "a batch holds at most {MAX_BATCH} requests, got {}",
                requests.len()
            )));
        }
        let all_reads = requests
            .iter()
            .all(|r| r.method.eq_ignore_ascii_case("GET"));
        let cfg = &self.inner.config;
        let mut results: Vec<Option<Result<BatchResponse, GraphError>>> =
            (0..requests.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let mut round: u32 = 0;
        loop {
            let subset: Vec<&BatchRequest> =
                pending.iter().filter_map(|i| requests.get(*i)).collect();
            let batch_json = serde_json::to_string(&subset)
                .map_err(|e| GraphError::InvalidInput(format!("batch encoding: {e}")))?;
            let mut req = GraphRequest::post("")
                .form_field("batch", batch_json)
                .form_field("include_headers", "true");
            if !all_reads {
                req = req.unsafe_to_repeat();
            }
            let resp = self.execute_value(Some(token), &req).await?;
            let entries: Vec<Option<RawBatchEntry>> =
                serde_json::from_value(resp.value).map_err(|e| GraphError::UnexpectedResponse {
                    status: 200,
                    message: format!("batch response is not an array of entries: {e}"),
                })?;
            if entries.len() != pending.len() {
                return Err(GraphError::UnexpectedResponse {
                    status: 200,
                    message: format!(
                        "batch returned {} entries for {} requests",
                        entries.len(),
                        pending.len()
                    ),
                });
            }
            let mut still = Vec::new();
            for (idx, entry) in pending.iter().copied().zip(entries) {
                match entry {
                    None => still.push(idx),
                    Some(raw) => {
                        if let Some(slot) = results.get_mut(idx) {
                            *slot = Some(self.decode_batch_entry(token, raw));
                        }
                    }
                }
            }
            pending = still;
            if pending.is_empty() || round >= cfg.max_retries {
                break;
            }
            let delay = backoff_delay(cfg, round);
            tracing::warn!(
                unprocessed = pending.len(),
                delay_ms = delay.as_millis() as u64,
                "re-sending unprocessed batch entries"
            );
            tokio::time::sleep(delay).await;
            round += 1;
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(GraphError::Transient {
                        kind: TransientKind::BatchNotProcessed,
                        reason: "Meta did not process this batch entry".into(),
                        meta: None,
                    })
                })
            })
            .collect())
    }

    fn decode_batch_entry(
        &self,
        token: &AccessToken,
        raw: RawBatchEntry,
    ) -> Result<BatchResponse, GraphError> {
        let headers: Vec<(String, String)> =
            raw.headers.into_iter().map(|h| (h.name, h.value)).collect();
        let body: serde_json::Value = match raw.body.as_deref() {
            None | Some("") => serde_json::Value::Null,
            Some(s) => serde_json::from_str(s).map_err(|e| GraphError::UnexpectedResponse {
                status: raw.code,
                message: format!("batch entry body is not JSON: {e}"),
            })?,
        };
        if let Some(mut meta) = MetaError::from_body(&body, raw.code) {
            meta.redact(token.expose());
            let find = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            let usage = Usage::from_header_values(
                find("x-app-usage"),
                find("x-business-use-case-usage"),
                find("x-ad-account-usage"),
                find("x-fb-ads-insights-throttle"),
            );
            return Err(GraphError::classify(
                meta,
                &usage,
                self.inner.config.default_throttle_wait,
            ));
        }
        if raw.code >= 500 {
            return Err(GraphError::Transient {
                kind: TransientKind::ServerError,
                reason: format!("batch entry HTTP {}", raw.code),
                meta: None,
            });
        }
        Ok(BatchResponse {
            code: raw.code,
            headers,
            body,
        })
    }
}

/// The request for the page after one whose paging block is `paging`.
/// Only the absence of `paging.next` ends the listing: short and empty pages
/// (Meta filters some objects out after paging) do not. A `next` already
/// followed is an error rather than an endless loop.
pub(crate) fn next_page_request(
    paging: Option<&Paging>,
    seen: &mut HashSet<String>,
) -> Result<Option<GraphRequest>, GraphError> {
    let Some(next) = paging
        .and_then(|p| p.next.as_deref())
        .filter(|n| !n.is_empty())
    else {
        return Ok(None);
    };
    if !seen.insert(next.to_string()) {
        return Err(GraphError::UnexpectedResponse {
            status: 200,
            message: "paging.next repeated a page already fetched".into(),
        });
    }
    Ok(Some(GraphRequest::get(next)))
}

fn describe(req: &GraphRequest) -> String {
    if req.path.starts_with("http") {
        "a paging response".to_string()
    } else {
        format!("{} /{}", req.method, req.path.trim_start_matches('/'))
    }
}

fn transport_error(e: reqwest::Error) -> GraphError {
    let e = e.without_url();
    if e.is_connect() {
        GraphError::Transient {
            kind: TransientKind::Connect,
            reason: format!("could not connect to Meta: {e}"),
            meta: None,
        }
    } else if e.is_timeout() {
        GraphError::Transient {
            kind: TransientKind::Timeout,
            reason: "Meta did not answer in time".into(),
            meta: None,
        }
    } else if e.is_request() || e.is_body() {
        GraphError::Transient {
            kind: TransientKind::Timeout,
            reason: format!("connection to Meta failed mid-request: {e}"),
            meta: None,
        }
    } else {
        GraphError::Request(e.to_string())
    }
}

/// Full-jitter exponential backoff: uniform in [d/2, d] with d = base·2^attempt, capped.
pub(crate) fn backoff_delay(cfg: &GraphConfig, attempt: u32) -> Duration {
    let base = cfg.retry_base_delay.as_millis().max(1) as u64;
    let exp = base.saturating_mul(1u64 << attempt.min(20));
    let cap = cfg.max_retry_delay.as_millis().max(1) as u64;
    let d = exp.min(cap);
    let low = d / 2;
    let ms = rand::thread_rng().gen_range(low..=d);
    Duration::from_millis(ms)
}

/// At least the advertised wait, plus up to 10 % (max 1 s) jitter so many
/// workers do not return at the same instant.
/// The endpoint family of a Graph path, for metric labels (a bounded set:
/// never an id).
pub fn family_of(path: &str) -> &'static str {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let has = |s: &str| segs.contains(&s);
    if has("insights") {
        "insights"
    } else if has("messages") {
        "messages"
    } else if has("message_templates") {
        "templates"
    } else if has("media") {
        "media"
    } else if has("leads") || has("leadgen_forms") {
        "leads"
    } else if has("oauth") || has("access_token") || has("debug_token") {
        "oauth"
    } else if has("campaigns") || has("adsets") || has("ads") || has("adaccounts") {
        "ads"
    } else if has("events") {
        "conversions"
    } else if has("subscribed_apps") || has("subscriptions") {
        "subscriptions"
    } else if has("me") || has("permissions") {
        "me"
    } else if segs.len() <= 1 {
        "batch_or_root"
    } else {
        "other"
    }
}

pub(crate) fn throttle_delay(advertised: Duration) -> Duration {
    let extra_cap = (advertised.as_millis() as u64 / 10).clamp(1, 1000);
    advertised + Duration::from_millis(rand::thread_rng().gen_range(0..=extra_cap))
}

/// A client bound to one access token. Cheap to clone; clones share the
/// last-usage slot.
#[derive(Clone)]
pub struct Session {
    pub(crate) client: GraphClient,
    pub(crate) token: AccessToken,
    pub(crate) last_usage: Arc<Mutex<Usage>>,
    pub(crate) page_limit: Option<u32>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &self.token)
            .field("page_limit", &self.page_limit)
            .finish()
    }
}

impl Session {
    /// Requests pages of this size (`limit=`) on every list call.
    pub fn with_page_limit(mut self, limit: u32) -> Self {
        self.page_limit = Some(limit);
        self
    }

    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    pub fn token(&self) -> &AccessToken {
        &self.token
    }

    /// Usage headers of the most recent response on this session.
    pub fn last_usage(&self) -> Usage {
        self.last_usage
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    fn record(&self, usage: &Usage) {
        if let Ok(mut g) = self.last_usage.lock() {
            *g = usage.clone();
        }
    }

    /// Executes a request with this session's token, decoding `T`.
    pub async fn call<T: DeserializeOwned>(&self, req: &GraphRequest) -> Result<T, GraphError> {
        match self.client.execute::<T>(Some(&self.token), req).await {
            Ok(r) => {
                self.record(&r.usage);
                Ok(r.value)
            }
            Err(e) => {
                if let GraphError::Throttled { usage, .. } = &e {
                    self.record(usage);
                }
                Err(e)
            }
        }
    }

    /// Every item of an edge; `limit` from [`with_page_limit`](Self::with_page_limit).
    pub async fn all<T>(&self, mut first: GraphRequest) -> Result<Vec<T>, GraphError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        if let Some(limit) = self.page_limit
            && !first.query.iter().any(|(k, _)| k == "limit")
        {
            first = first.query("limit", limit.to_string());
        }
        self.client
            .get_all(
                Some(self.token.clone()),
                first,
                Some(self.last_usage.clone()),
            )
            .await
    }

    /// Streams every item of an edge.
    pub fn stream<T>(
        &self,
        mut first: GraphRequest,
    ) -> impl Stream<Item = Result<T, GraphError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        if let Some(limit) = self.page_limit
            && !first.query.iter().any(|(k, _)| k == "limit")
        {
            first = first.query("limit", limit.to_string());
        }
        self.client
            .paginate(
                Some(self.token.clone()),
                first,
                Some(self.last_usage.clone()),
            )
            .boxed()
    }

    /// A batch call with this session's token.
    pub async fn batch(
        &self,
        requests: &[BatchRequest],
    ) -> Result<Vec<Result<BatchResponse, GraphError>>, GraphError> {
        self.client.batch(&self.token, requests).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let cfg = GraphConfig {
            retry_base_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_millis(1000),
            ..GraphConfig::default()
        };
        for _ in 0..50 {
            let d0 = backoff_delay(&cfg, 0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
            let d3 = backoff_delay(&cfg, 3);
            assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800));
            let d10 = backoff_delay(&cfg, 10);
            assert!(d10 <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn throttle_delay_never_undercuts_advertised() {
        for _ in 0..50 {
            let d = throttle_delay(Duration::from_secs(2));
            assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2200));
        }
    }

    #[test]
    fn resolve_builds_versioned_urls_and_guards_hosts() {
        let c =
            GraphClient::new(GraphConfig::default().with_base_url("http://127.0.0.1:9")).unwrap();
        assert_eq!(
            c.resolve("me/adaccounts").unwrap().as_str(),
            "http://127.0.0.1:9/v25.0/me/adaccounts"
        );
        assert!(c.resolve("http://127.0.0.1:9/v25.0/x?after=1").is_ok());
        assert!(c.resolve("http://evil.example/v25.0/x").is_err());
        assert!(c.resolve("http://127.0.0.1:10/v25.0/x").is_err());
        assert!(c.resolve("../etc").is_err());
    }

    #[test]
    fn rejects_bad_config() {
        let bad = GraphConfig {
            api_version: "25".into(),
            ..GraphConfig::default()
        };
        assert!(matches!(GraphClient::new(bad), Err(GraphError::Config(_))));
        assert!(GraphClient::new(GraphConfig::default().with_base_url("ftp://x")).is_err());
    }

    #[test]
    fn paging_stops_only_when_next_is_absent() {
        let mut seen = HashSet::new();
        // An empty page that still has `next` must be followed.
        let empty: Page<serde_json::Value> = serde_json::from_str(
            r#"{"data":[],"paging":{"cursors":{"after":"QVFI"},"next":"https://graph.facebook.com/v25.0/act_1/campaigns?after=QVFI&limit=25"}}"#,
        )
        .unwrap();
        let req = next_page_request(empty.paging.as_ref(), &mut seen)
            .unwrap()
            .unwrap();
        assert!(req.path.contains("after=QVFI"));
        // A short page with `next` is followed too.
        let short: Page<serde_json::Value> = serde_json::from_str(
            r#"{"data":[{"id":"1"}],"paging":{"next":"https://graph.facebook.com/v25.0/act_1/campaigns?after=QVFJ"}}"#,
        )
        .unwrap();
        assert!(
            next_page_request(short.paging.as_ref(), &mut seen)
                .unwrap()
                .is_some()
        );
        // Cursors without `next` end the listing, even on a full page.
        let last: Page<serde_json::Value> = serde_json::from_str(
            r#"{"data":[{"id":"2"},{"id":"3"}],"paging":{"cursors":{"before":"a","after":"b"}}}"#,
        )
        .unwrap();
        assert!(
            next_page_request(last.paging.as_ref(), &mut seen)
                .unwrap()
                .is_none()
        );
        assert!(next_page_request(None, &mut seen).unwrap().is_none());
        // A repeated `next` is refused instead of looping forever.
        assert!(next_page_request(short.paging.as_ref(), &mut seen).is_err());
    }

    #[test]
    fn page_decodes_with_and_without_paging() {
        let p: Page<serde_json::Value> = serde_json::from_str(
            r#"{"data":[],"paging":{"cursors":{"before":"a","after":"b"},"next":"http://x/next"}}"#,
        )
        .unwrap();
        assert!(p.data.is_empty());
        assert_eq!(p.paging.unwrap().next.as_deref(), Some("http://x/next"));
        let p: Page<serde_json::Value> = serde_json::from_str(r#"{"data":[1,2]}"#).unwrap();
        assert_eq!(p.data.len(), 2);
        assert!(p.paging.is_none());
    }
}
