//! Meta's error envelope.

use serde_json::{Value, json};

/// An error as Graph returns it: `{"error": {message, type, code, error_subcode, fbtrace_id, ...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub http_status: u16,
    pub code: i64,
    pub subcode: Option<i64>,
    pub kind: String,
    pub message: String,
    pub user_title: Option<String>,
    pub user_msg: Option<String>,
    /// WhatsApp `error_data.details`.
    pub details: Option<String>,
    pub is_transient: Option<bool>,
}

impl GraphError {
    pub fn new(code: i64, kind: &str, message: impl Into<String>) -> Self {
        GraphError {
            http_status: 400,
            code,
            subcode: None,
            kind: kind.to_string(),
            message: message.into(),
            user_title: None,
            user_msg: None,
            details: None,
            is_transient: None,
        }
    }

    pub fn with_subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub fn status(mut self, s: u16) -> Self {
        self.http_status = s;
        self
    }

    pub fn user(mut self, title: &str, msg: impl Into<String>) -> Self {
        self.user_title = Some(title.to_string());
        self.user_msg = Some(msg.into());
        self
    }

    pub fn details(mut self, d: impl Into<String>) -> Self {
        self.details = Some(d.into());
        self
    }

    pub fn transient(mut self) -> Self {
        self.is_transient = Some(true);
        self
    }

    /// `(#100) message`, type OAuthException.
    pub fn param(message: impl Into<String>) -> Self {
        GraphError::new(100, "OAuthException", format!("(#100) {}", message.into()))
    }

    /// Object missing or not visible with this token (100/33).
    pub fn no_object(id: &str, method: &str) -> Self {
        GraphError::new(
            100,
            "GraphMethodException",
            format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        )
        .with_subcode(33)
    }

    pub fn unknown_path(path: &str) -> Self {
        GraphError::new(
            2500,
            "OAuthException",
            format!("Unknown path components: /{path}"),
        )
    }

    pub fn nonexisting_field(field: &str, node: &str) -> Self {
        GraphError::param(format!(
            "Tried accessing nonexisting field ({field}) on node type ({node})"
        ))
    }

    pub fn permission(perm: &str) -> Self {
        GraphError::new(
            200,
            "OAuthException",
            format!("(#200) Requires {perm} permission to access this resource"),
        )
    }

    pub fn token_missing() -> Self {
        GraphError::new(
            104,
            "OAuthException",
            "An access token is required to request this resource.",
        )
    }

    pub fn token_unparsable() -> Self {
        GraphError::new(
            190,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
        )
    }

    pub fn token_expired(expired_at: &str) -> Self {
        GraphError::new(
            190,
            "OAuthException",
            format!("Error validating access token: Session has expired on {expired_at}. The current time is later."),
        )
        .with_subcode(463)
    }

    pub fn token_invalidated() -> Self {
        GraphError::new(
            190,
            "OAuthException",
            "Error validating access token: The session is invalid because the user logged out.",
        )
        .with_subcode(467)
    }

    pub fn app_not_installed() -> Self {
        GraphError::new(
            190,
            "OAuthException",
            "Error validating access token: The user has not authorized application.",
        )
        .with_subcode(458)
    }

    /// A WhatsApp Cloud API error, with `error_data`.
    pub fn whatsapp(code: i64, message: &str, details: impl Into<String>) -> Self {
        GraphError::new(code, "OAuthException", message).details(details)
    }

    pub fn to_json(&self, fbtrace_id: &str) -> Value {
        let mut e = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": fbtrace_id,
        });
        if let Some(obj) = e.as_object_mut() {
            if let Some(s) = self.subcode {
                obj.insert("error_subcode".into(), json!(s));
            }
            if let Some(t) = &self.is_transient {
                obj.insert("is_transient".into(), json!(t));
            }
            if let Some(t) = &self.user_title {
                obj.insert("error_user_title".into(), json!(t));
            }
            if let Some(m) = &self.user_msg {
                obj.insert("error_user_msg".into(), json!(m));
            }
            if let Some(d) = &self.details {
                obj.insert(
                    "error_data".into(),
                    json!({"messaging_product": "whatsapp", "details": d}),
                );
            }
        }
        json!({ "error": e })
    }
}

pub type GResult<T> = Result<T, GraphError>;
