use crate::roles::Permission;

/// Errors a service can return. The HTTP layer maps each to a status and a
/// stable error code.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Validation {
        code: &'static str,
        message: String,
        details: Option<serde_json::Value>,
    },
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: Option<serde_json::Value>,
    },
    #[error("this action needs the permission {0}")]
    Forbidden(Permission),
    #[error("{1}")]
    Unauthorized(&'static str, &'static str),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn validation(code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation {
            code,
            message: message.into(),
            details: None,
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
            details: None,
        }
    }
}
