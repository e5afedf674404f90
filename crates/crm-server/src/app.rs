//! Assembles the HTTP application: documented API routes, the embedded web
//! app, docs, metrics, and the middleware stack.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rust_embed::RustEmbed;
use tower_http::CompressionLevel;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, REQUEST_ID};
use crate::routes;
use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct WebDist;

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// How often the recorder's upkeep runs: it folds the histogram samples
/// recorded since the last run into their summaries. Without it the samples
/// pile up in memory until someone scrapes `/metrics`.
const METRICS_UPKEEP: Duration = Duration::from_secs(1);

fn metrics_handle() -> Option<&'static PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().ok()?;
            crate::telemetry::describe();
            let upkeep = handle.clone();
            let started = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(METRICS_UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = started {
                tracing::warn!("could not start the metrics upkeep thread: {e}");
            }
            Some(handle)
        })
        .as_ref()
}

pub fn build(state: AppState) -> Router {
    let _ = metrics_handle();
    let (api, doc) = routes::api_parts();
    let doc_json: Arc<str> = Arc::from(doc.to_pretty_json().unwrap_or_default());
    let https = state.public_url.starts_with("https://");
    let timeout = Duration::from_secs(state.cfg.request_timeout_secs.max(1));
    let body_limit = state.cfg.body_limit_bytes;

    let api = api
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc_json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .route("/api/docs", get(api_docs))
        .route("/metrics", get(metrics));

    Router::new()
        .merge(api)
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit.max(state.cfg.upload_limit_bytes)))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("panic", "a handler panicked").into_response()
        }))
        .layer(middleware::from_fn(crate::error::envelope_errors))
        .layer(middleware::from_fn(move |req, next| {
            security_headers(https, req, next)
        }))
        // gzip or brotli, as the client accepts: the web app's assets and
        // API answers (JSON shrinks 7-9x). Bodies under 1 KiB (where the
        // encoder's setup costs more than the bytes saved), images, event
        // streams and answers that are already encoded (the Marketing Hub's
        // cached views carry their gzip body) are left as they are. The
        // fastest level: most answers are computed per request, and JSON
        // shrinks several times even so.
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Fastest)
                .compress_when(
                    SizeAbove::new(1024)
                        .and(NotForContentType::GRPC)
                        .and(NotForContentType::IMAGES)
                        .and(NotForContentType::SSE),
                ),
        )
        .layer(middleware::from_fn(track_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let rid = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %rid)
        }))
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// Gives every request an id (the client's `X-Request-Id` when it is sane),
/// echoes it on the response and makes it available to error logging.
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert("x-request-id", v);
    }
    let mut resp = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob: https:; font-src 'self' data:; connect-src 'self'; \
frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

async fn security_headers(https: bool, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: &'static str, value: &'static str| {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "strict-origin-when-cross-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    if https {
        set(
            h,
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
    }
    resp
}

async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method)
        .record(start.elapsed().as_secs_f64());
    resp
}

async fn metrics(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    // In production the metrics are private: without a configured token
    // nobody may read them.
    if s.cfg.production && s.cfg.metrics_token.is_none() {
        return ApiError::unauthenticated().into_response();
    }
    if let Some(expected) = &s.cfg.metrics_token {
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| {
                use subtle::ConstantTimeEq;
                bool::from(t.as_bytes().ct_eq(expected.0.as_bytes()))
            });
        if !ok {
            return ApiError::unauthenticated().into_response();
        }
    }
    if let Err(e) = s.telemetry.sample(&s.db).await {
        // The counters are still worth serving; the gauges keep their last values.
        tracing::warn!("could not read the database gauges for /metrics: {e}");
    }
    match metrics_handle() {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => ApiError::internal("metrics", "recorder not installed").into_response(),
    }
}

/// Interactive API docs, served from assets bundled with the web app.
async fn api_docs() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>CRM Ventas API</title>\
<link rel=\"stylesheet\" href=\"/swagger/swagger-ui.css\"></head>\
<body><div id=\"swagger-ui\"><noscript>The interactive docs need JavaScript. \
The raw document is at <a href=\"/api/openapi.json\">/api/openapi.json</a>.</noscript></div>\
<script src=\"/swagger/swagger-ui-bundle.js\"></script>\
<script src=\"/swagger/swagger-init.js\"></script></body></html>",
    )
}

async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path == "/api" {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("no route for {method} {path}"),
        )
        .into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        )
        .into_response();
    }
    let rel = path.trim_start_matches('/');
    if !rel.is_empty()
        && let Some(file) = WebDist::get(rel)
    {
        let cache = if rel.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, file.metadata.mimetype().to_owned()),
                (header::CACHE_CONTROL, cache.to_owned()),
            ],
            Body::from(file.data.into_owned()),
        )
            .into_response();
    }
    // Missing static files get a 404; any other path is a client route.
    let looks_like_file = rel
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'));
    if looks_like_file {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match WebDist::get("index.html") {
        Some(index) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                (header::CACHE_CONTROL, "no-cache".to_owned()),
            ],
            Body::from(index.data.into_owned()),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The web UI is not built into this binary. Build it with \
             `npm --prefix web ci && npm --prefix web run build`, then rebuild `crm`. \
             The API is available under /api (see /api/openapi.json).",
        )
            .into_response(),
    }
}
