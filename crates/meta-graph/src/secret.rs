//! Secret-holding newtypes whose `Debug`/`Display` never reveal the value.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A Meta access token (user, page, system-user or app token).
///
/// `Debug` and `Display` print `AccessToken(***)`; the only way to read the
/// value is [`AccessToken::expose`], which callers should use solely to
/// encrypt the token for storage.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the raw token. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The app access token `app_id|app_secret`, used for `debug_token` and
    /// app-level calls.
    pub fn app_token(app_id: &str, secret: &AppSecret) -> Self {
        Self(format!("{app_id}|{}", secret.expose()))
    }

    /// `true` when the token string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The Meta app secret. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AppSecret(String);

impl AppSecret {
    /// Wraps an app secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the raw secret. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `appsecret_proof`: lowercase hex of HMAC-SHA256 keyed with the app
    /// secret over the access token.
    pub fn proof_for(&self, token: &AccessToken) -> String {
        hex::encode(hmac_sha256(self.0.as_bytes(), token.expose().as_bytes()))
    }
}

impl fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppSecret(***)")
    }
}

impl fmt::Display for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here;
    // fall back to an empty MAC rather than panicking if that ever changed.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn debug_and_display_hide_the_token() {
        let t = AccessToken::new("EAAB-very-secret");
        assert_eq!(format!("{t:?}"), "AccessToken(***)");
        assert_eq!(format!("{t}"), "***");
        let s = AppSecret::new("shh");
        assert!(!format!("{s:?} {s}").contains("shh"));
    }

    #[test]
    fn appsecret_proof_matches_rfc_style_vector() {
        // HMAC-SHA256(key="key", msg="The quick brown fox jumps over the lazy dog")
        let s = AppSecret::new("key");
        let t = AccessToken::new("The quick brown fox jumps over the lazy dog");
        assert_eq!(
            s.proof_for(&t),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn app_token_joins_id_and_secret() {
        let t = AccessToken::app_token("123", &AppSecret::new("abc"));
        assert_eq!(t.expose(), "123|abc");
    }
}
