//! Cursor pagination shared by list endpoints.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CoreError;

/// An opaque cursor: the sort key of the last row seen, base64url JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    /// The last row's sort value (as a string), if the list is sorted by a field.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub k: Option<String>,
    /// The last row's id.
    pub id: uuid::Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Result<Self, CoreError> {
        URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| CoreError::validation("invalid_cursor", "the cursor is not valid"))
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Deserializes an optional page size (`limit`), refusing one outside
/// `1..=MAX`: the query is then answered 400 `invalid_query` instead of the
/// value being clamped silently.
pub fn limit_upto<'de, const MAX: u64, D>(d: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let v = Option::<u64>::deserialize(d)?;
    match v {
        Some(n) if !(1..=MAX).contains(&n) => Err(serde::de::Error::custom(format!(
            "limit must be between 1 and {MAX}"
        ))),
        other => Ok(other),
    }
}

/// Clamp a requested page size.
pub fn limit(requested: Option<u64>, default: u64, max: u64) -> u64 {
    requested.unwrap_or(default).clamp(1, max)
}
