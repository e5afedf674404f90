//! The one API error type. Every error leaves as
//! `{"error": {"code", "message", "details"}}` with a stable snake_case code.
//! Server-side failures are opaque to the client and logged with the request id.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crm_core::CoreError;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

tokio::task_local! {
    /// The current request's id, set by the request-id middleware.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(|s| s.clone()).unwrap_or_default()
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after: Option<u64>,
}

/// The error body, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_credentials`.
    pub code: String,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in or send a valid API token",
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {} s", retry_after_secs.max(1)),
            )
        }
    }
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %current_request_id(), "{context}: {err}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(what) => ApiError::not_found(what),
            CoreError::Validation {
                code,
                message,
                details,
            } => ApiError {
                details,
                ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            },
            CoreError::Conflict {
                code,
                message,
                details,
            } => ApiError {
                details,
                ..ApiError::new(StatusCode::CONFLICT, code, message)
            },
            CoreError::Forbidden(p) => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("your role does not allow this (needs {p})"),
            ),
            CoreError::Unauthorized(code, msg) => {
                ApiError::new(StatusCode::UNAUTHORIZED, code, msg)
            }
            CoreError::Db(err) => ApiError::internal("database", err),
            CoreError::Internal(msg) => ApiError::internal("internal", msg),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::internal("database", e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let (status, code) = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            other => (other.status(), "invalid_body"),
        };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        let status = match r.status() {
            StatusCode::INTERNAL_SERVER_ERROR => {
                return ApiError::internal("path extraction", r.body_text());
            }
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, "invalid_path", r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut details = self.details;
        if self.status.is_server_error() {
            details = Some(json!({"request_id": current_request_id()}));
        }
        let body =
            json!({"error": {"code": self.code, "message": self.message, "details": details}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// `Json` whose rejections use the API error shape.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A JSON body serialized ahead of time (the Marketing Hub read cache keeps
/// each answer's body, so a repeated view is not serialized again).
pub struct JsonBody(pub bytes::Bytes);

impl IntoResponse for JsonBody {
    fn into_response(self) -> Response {
        (
            [(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

/// A cached JSON answer, sent gzip-compressed when the client accepts gzip
/// (the compressed body is kept with the answer, so a repeated view costs no
/// compression; the compression layer leaves an encoded response alone).
pub fn cached_json<T: serde::Serialize>(
    answer: crm_core::services::marketing_cache::Cached<T>,
    headers: &http::HeaderMap,
) -> ApiResult<Response> {
    if accepts_gzip(headers) {
        Ok((
            [
                (
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                ),
                (
                    http::header::CONTENT_ENCODING,
                    http::HeaderValue::from_static("gzip"),
                ),
                (
                    http::header::VARY,
                    http::HeaderValue::from_static("accept-encoding"),
                ),
            ],
            answer.json_gzip()?,
        )
            .into_response())
    } else {
        Ok(JsonBody(answer.json()?).into_response())
    }
}

/// Whether `Accept-Encoding` lists gzip (or `*`) without `q=0`.
pub fn accepts_gzip(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding == "gzip" || coding == "*") && !refused
        })
}

/// `Query` whose rejections use the API error shape (400 `invalid_query`).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Middleware: an error answer under `/api` that did not come from an
/// [`ApiError`] (a 405 for a known path with another method, a 413 from the
/// body-size layer, a 408 from the timeout layer) is rewritten into the one
/// JSON envelope, keeping its status and its `Allow` / `Retry-After` headers.
pub async fn envelope_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    let status = resp.status();
    if !is_api || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this path does not accept that method (see the Allow header)",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            "the request took longer than the server allows",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request body has a content type this operation does not accept",
        ),
        StatusCode::NOT_FOUND => ("not_found", "not found"),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests"),
        s if s.is_server_error() => ("internal_error", "internal error"),
        _ => ("bad_request", "the request is not valid"),
    };
    let keep: Vec<(header::HeaderName, HeaderValue)> = [header::ALLOW, header::RETRY_AFTER]
        .into_iter()
        .filter_map(|name| resp.headers().get(&name).map(|v| (name, v.clone())))
        .collect();
    let mut out = ApiError::new(status, code, message).into_response();
    for (name, value) in keep {
        out.headers_mut().insert(name, value);
    }
    out
}

/// `Path` whose rejections (a malformed id, say) use the API error shape:
/// 400 `invalid_path`.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

pub type ApiResult<T> = Result<T, ApiError>;
