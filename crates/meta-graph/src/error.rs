//! Meta's error envelope and the typed errors the client returns.
//!
//! Classification follows `error.code` / `error.error_subcode`, never the
//! HTTP status (Meta answers most errors, throttling included, with 400).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::usage::Usage;

/// Everything Meta said about an error, kept so the CRM can show and log it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetaError {
    #[serde(default)]
    pub message: String,
    /// e.g. `OAuthException`, `GraphMethodException`.
    #[serde(rename = "type", default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub error_user_title: Option<String>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
    /// WhatsApp puts `{messaging_product, details}` here; other products
    /// sometimes a string.
    #[serde(default)]
    pub error_data: Option<serde_json::Value>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    /// HTTP status of the response that carried the envelope (0 for batch
    /// entries without one).
    #[serde(default)]
    pub http_status: u16,
}

impl MetaError {
    /// Parses `{"error": {...}}` from a response body. `None` when the body is
    /// not an error envelope.
    pub fn from_body(body: &serde_json::Value, http_status: u16) -> Option<Self> {
        let inner = body.get("error")?;
        if !inner.is_object() {
            return None;
        }
        let mut parsed: MetaError = serde_json::from_value(inner.clone()).ok()?;
        parsed.http_status = http_status;
        Some(parsed)
    }

    /// WhatsApp's `error_data.details`, when present.
    pub fn details(&self) -> Option<&str> {
        self.error_data
            .as_ref()
            .and_then(|d| d.get("details"))
            .and_then(|d| d.as_str())
    }

    pub(crate) fn redact(&mut self, secret: &str) {
        if secret.len() < 8 {
            return;
        }
        for field in [
            Some(&mut self.message),
            self.error_user_msg.as_mut(),
            self.error_user_title.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            if field.contains(secret) {
                *field = field.replace(secret, "***");
            }
        }
    }
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(#{}", self.code)?;
        if let Some(sub) = self.error_subcode {
            write!(f, "/{sub}")?;
        }
        write!(f, ") {}", self.message)?;
        if let Some(t) = &self.error_type {
            write!(f, " [{t}]")?;
        }
        if let Some(d) = self.details() {
            write!(f, ": {d}")?;
        }
        if let Some(id) = &self.fbtrace_id {
            write!(f, " (fbtrace_id {id})")?;
        }
        Ok(())
    }
}

/// Why a request is considered transient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransientKind {
    /// The connection could not be opened: the request was never sent.
    Connect,
    /// No answer in time: the request may or may not have been processed.
    Timeout,
    /// HTTP 5xx without an error envelope.
    ServerError,
    /// Meta error code 1 or 2 (unknown / service error).
    MetaService,
    /// A batch entry came back `null` (not processed).
    BatchNotProcessed,
    /// The body could not be read completely.
    Body,
}

/// Errors returned by the Graph client.
#[derive(Debug, Clone, Error)]
pub enum GraphError {
    /// Code 190 with subcode 463: the token expired. Reconnect; never retried.
    #[error("Meta access token expired {0}")]
    TokenExpired(Box<MetaError>),
    /// Code 190 otherwise (467 logged out, 460 password changed, …). Never retried.
    #[error("Meta access token invalid {0}")]
    TokenInvalid(Box<MetaError>),
    /// Code 10 or 200-299: a permission is missing. Never retried.
    #[error("Meta permission missing {0}")]
    PermissionMissing(Box<MetaError>),
    /// Rate limited (4, 17, 32, 613, 80000-80009, 80014). `retry_after` comes
    /// from the usage headers, or the configured default.
    #[error("Meta throttled the request, retry after {}s {meta}", retry_after.as_secs_f64())]
    Throttled {
        retry_after: Duration,
        meta: Box<MetaError>,
        usage: Box<Usage>,
    },
    /// Code 100/33 or 803: the object does not exist or is not visible.
    #[error("Meta object not found {0}")]
    NotFound(Box<MetaError>),
    /// Worth retrying later: codes 1/2, HTTP 5xx, timeouts, connection errors,
    /// batch `null` entries.
    #[error("transient Meta failure ({kind:?}): {reason}")]
    Transient {
        kind: TransientKind,
        reason: String,
        meta: Option<Box<MetaError>>,
    },
    /// Code 100 (other than subcode 33): a bad parameter.
    #[error("Meta rejected a parameter {0}")]
    InvalidParameter(Box<MetaError>),
    /// WhatsApp Cloud API errors (codes 130000-139999), with Meta's details.
    #[error("WhatsApp error {code}: {meta}")]
    WhatsApp {
        code: i64,
        details: Option<String>,
        meta: Box<MetaError>,
    },
    /// Any other Meta error envelope.
    #[error("Meta error {0}")]
    Other(Box<MetaError>),
    /// Meta answered without an error envelope but not with what was expected.
    #[error("unexpected response from Meta (HTTP {status}): {message}")]
    UnexpectedResponse { status: u16, message: String },
    /// The caller passed input the client refuses to send.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The client is not configured for this call (e.g. no app secret).
    #[error("configuration error: {0}")]
    Config(String),
    /// A request could not be built or sent for a non-transient reason.
    #[error("request failed: {0}")]
    Request(String),
}

/// Codes Meta uses for rate limiting.
pub fn is_throttle_code(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613 | 80000..=80009 | 80014)
}

impl GraphError {
    /// Builds the typed error for a Meta envelope. `default_wait` is used for
    /// throttling when the usage headers advertise no wait.
    pub fn classify(meta: MetaError, usage: &Usage, default_wait: Duration) -> Self {
        let code = meta.code;
        let sub = meta.error_subcode;
        let meta = Box::new(meta);
        match code {
            190 if sub == Some(463) => Self::TokenExpired(meta),
            190 | 102 => Self::TokenInvalid(meta),
            10 | 200..=299 => Self::PermissionMissing(meta),
            c if is_throttle_code(c) => {
                let retry_after = usage
                    .regain_access_after()
                    .filter(|d| !d.is_zero())
                    .unwrap_or(default_wait);
                Self::Throttled {
                    retry_after,
                    meta,
                    usage: Box::new(usage.clone()),
                }
            }
            1 | 2 => Self::Transient {
                kind: TransientKind::MetaService,
                reason: meta.message.clone(),
                meta: Some(meta),
            },
            100 if sub == Some(33) => Self::NotFound(meta),
            803 => Self::NotFound(meta),
            100 => Self::InvalidParameter(meta),
            130_000..=139_999 => Self::WhatsApp {
                code,
                details: meta.details().map(str::to_string),
                meta,
            },
            _ => Self::Other(meta),
        }
    }

    /// Meta's error details, when the error came from an envelope.
    pub fn meta(&self) -> Option<&MetaError> {
        match self {
            Self::TokenExpired(m)
            | Self::TokenInvalid(m)
            | Self::PermissionMissing(m)
            | Self::NotFound(m)
            | Self::InvalidParameter(m)
            | Self::Other(m) => Some(m),
            Self::Throttled { meta, .. } | Self::WhatsApp { meta, .. } => Some(meta),
            Self::Transient { meta, .. } => meta.as_deref(),
            Self::UnexpectedResponse { .. }
            | Self::InvalidInput(_)
            | Self::Config(_)
            | Self::Request(_) => None,
        }
    }

    /// Meta's `error.code`, when known.
    pub fn code(&self) -> Option<i64> {
        self.meta().map(|m| m.code)
    }

    /// `true` for token errors (190): the connection must be marked broken.
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::TokenExpired(_) | Self::TokenInvalid(_))
    }

    /// For throttling, how long Meta asked to wait; schedule the retry then.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// `true` when retrying later may succeed (transient or throttled).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::Throttled { .. })
    }

    /// A stable snake_case name of the variant for APIs and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TokenExpired(_) => "token_expired",
            Self::TokenInvalid(_) => "token_invalid",
            Self::PermissionMissing(_) => "permission_missing",
            Self::Throttled { .. } => "throttled",
            Self::NotFound(_) => "not_found",
            Self::Transient { .. } => "transient",
            Self::InvalidParameter(_) => "invalid_parameter",
            Self::WhatsApp { .. } => "whatsapp",
            Self::Other(_) => "other",
            Self::UnexpectedResponse { .. } => "unexpected_response",
            Self::InvalidInput(_) => "invalid_input",
            Self::Config(_) => "config",
            Self::Request(_) => "request",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn classify(body: &str) -> GraphError {
        classify_with(body, &Usage::default())
    }

    fn classify_with(body: &str, usage: &Usage) -> GraphError {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let meta = MetaError::from_body(&v, 400).unwrap();
        GraphError::classify(meta, usage, Duration::from_secs(60))
    }

    #[test]
    fn expired_token() {
        let e = classify(
            r#"{"error":{"message":"Error validating access token: Session has expired on Tuesday, 10-Mar-26 10:00:00 PDT.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbCdEf123"}}"#,
        );
        let GraphError::TokenExpired(m) = &e else {
            panic!("expected TokenExpired, got {e:?}")
        };
        assert_eq!(m.fbtrace_id.as_deref(), Some("AbCdEf123"));
        assert_eq!(m.error_type.as_deref(), Some("OAuthException"));
        assert_eq!(m.http_status, 400);
        assert!(e.is_auth());
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("190/463"));
    }

    #[test]
    fn invalid_token_variants() {
        for body in [
            r#"{"error":{"message":"Error validating access token: The session is invalid because the user logged out.","type":"OAuthException","code":190,"error_subcode":467,"fbtrace_id":"x"}}"#,
            r#"{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"x"}}"#,
            r#"{"error":{"message":"password changed","type":"OAuthException","code":190,"error_subcode":460}}"#,
        ] {
            assert!(
                matches!(classify(body), GraphError::TokenInvalid(_)),
                "{body}"
            );
        }
    }

    #[test]
    fn permissions() {
        let e = classify(
            r#"{"error":{"message":"(#200) Requires ads_read permission","type":"OAuthException","code":200,"fbtrace_id":"x"}}"#,
        );
        assert!(matches!(e, GraphError::PermissionMissing(_)));
        let e = classify(
            r#"{"error":{"message":"(#10) Application does not have permission for this action","type":"OAuthException","code":10}}"#,
        );
        assert!(matches!(e, GraphError::PermissionMissing(_)));
        let e = classify(r#"{"error":{"message":"x","code":294}}"#);
        assert!(matches!(e, GraphError::PermissionMissing(_)));
    }

    #[test]
    fn throttling_uses_usage_headers() {
        let usage = Usage::from_header_values(
            None,
            Some(
                r#"{"123":[{"type":"ads_management","call_count":100,"total_cputime":5,"total_time":5,"estimated_time_to_regain_access":3}]}"#,
            ),
            None,
            None,
        );
        let e = classify_with(
            r#"{"error":{"message":"(#80004) There have been too many calls to this ad-account.","type":"OAuthException","code":80004,"error_subcode":2446079,"fbtrace_id":"x"}}"#,
            &usage,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(180)));
        assert!(e.is_retryable());
    }

    #[test]
    fn throttling_without_headers_uses_default() {
        for code in [4, 17, 32, 613, 80000, 80006, 80008, 80014] {
            let body = format!(
                r#"{{"error":{{"message":"limit","type":"OAuthException","code":{code}}}}}"#
            );
            let e = classify(&body);
            let GraphError::Throttled { retry_after, .. } = e else {
                panic!("{code} should be throttled")
            };
            assert_eq!(retry_after, Duration::from_secs(60));
        }
    }

    #[test]
    fn not_found_and_invalid_parameter() {
        let e = classify(
            r#"{"error":{"message":"Unsupported get request. Object with ID 'act_1' does not exist, cannot be loaded due to missing permissions, or does not support this operation.","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"x"}}"#,
        );
        assert!(matches!(e, GraphError::NotFound(_)));
        let e = classify(
            r#"{"error":{"message":"(#803) Some of the aliases you requested do not exist: foo","type":"OAuthException","code":803}}"#,
        );
        assert!(matches!(e, GraphError::NotFound(_)));
        let e = classify(
            r#"{"error":{"message":"(#100) The parameter fields is required","type":"OAuthException","code":100}}"#,
        );
        assert!(matches!(e, GraphError::InvalidParameter(_)));
    }

    #[test]
    fn transient_codes() {
        let e = classify(
            r#"{"error":{"message":"An unknown error has occurred.","type":"OAuthException","code":1,"is_transient":true}}"#,
        );
        assert!(matches!(
            e,
            GraphError::Transient {
                kind: TransientKind::MetaService,
                ..
            }
        ));
        assert!(e.is_retryable());
        let e = classify(
            r#"{"error":{"message":"Service temporarily unavailable","type":"OAuthException","code":2}}"#,
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn whatsapp_keeps_details() {
        let e = classify(
            r#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"Az8"}}"#,
        );
        let GraphError::WhatsApp {
            code,
            details,
            meta,
        } = &e
        else {
            panic!("expected WhatsApp")
        };
        assert_eq!(*code, 131047);
        assert!(details.as_deref().unwrap().contains("24 hours"));
        assert_eq!(meta.fbtrace_id.as_deref(), Some("Az8"));
        assert_eq!(e.kind(), "whatsapp");
    }

    #[test]
    fn other_codes_fall_through() {
        let e = classify(
            r#"{"error":{"message":"(#368) blocked","type":"OAuthException","code":368}}"#,
        );
        assert!(matches!(e, GraphError::Other(_)));
        assert_eq!(e.code(), Some(368));
    }

    #[test]
    fn non_envelopes_are_not_meta_errors() {
        let v: serde_json::Value = serde_json::from_str(r#"{"data":[]}"#).unwrap();
        assert!(MetaError::from_body(&v, 200).is_none());
        let v: serde_json::Value = serde_json::from_str(r#"{"error":"nope"}"#).unwrap();
        assert!(MetaError::from_body(&v, 400).is_none());
    }

    #[test]
    fn redaction_removes_the_token() {
        let mut m = MetaError {
            message: "Malformed access token EAABsecretsecret".into(),
            ..Default::default()
        };
        m.redact("EAABsecretsecret");
        assert_eq!(m.message, "Malformed access token ***");
    }
}
