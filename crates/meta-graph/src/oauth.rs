//! Facebook Login (and Login for Business) endpoints.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::{GraphClient, GraphRequest, Session};
use crate::error::GraphError;
use crate::secret::AccessToken;
use crate::webhook::opt_string_or_number;

/// What the OAuth dialog asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginScope {
    /// Classic Facebook Login: `scope=a,b,c`.
    Scopes(Vec<String>),
    /// Facebook Login for Business: a configuration id from the App Dashboard.
    ConfigId(String),
}

/// Answer of `/oauth/access_token`.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds until expiry; absent for non-expiring tokens.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// `/debug_token` data.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct DebugToken {
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub app_id: Option<String>,
    /// USER, PAGE, APP, SYSTEM_USER.
    #[serde(rename = "type", default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub application: Option<String>,
    #[serde(default)]
    pub is_valid: bool,
    #[serde(default)]
    pub issued_at: Option<i64>,
    /// Unix seconds; 0 means the token never expires.
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub data_access_expires_at: Option<i64>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub granular_scopes: Vec<GranularScope>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub user_id: Option<String>,
    #[serde(default)]
    pub error: Option<DebugTokenError>,
}

impl DebugToken {
    /// `None` when the token never expires (`expires_at` 0 or absent).
    pub fn expires_at_unix(&self) -> Option<i64> {
        self.expires_at.filter(|t| *t > 0)
    }

    /// Assets (ad accounts, pages, WABAs) a scope is limited to.
    pub fn target_ids(&self, scope: &str) -> Vec<String> {
        self.granular_scopes
            .iter()
            .filter(|g| g.scope == scope)
            .flat_map(|g| g.target_ids.iter().cloned())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct GranularScope {
    pub scope: String,
    #[serde(default)]
    pub target_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct DebugTokenError {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub subcode: Option<i64>,
}

#[derive(Deserialize)]
struct DataWrapper<T> {
    data: T,
}

/// `/me`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Me {
    #[serde(deserialize_with = "crate::webhook::string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Set for Business Integration System User tokens.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub client_business_id: Option<String>,
}

/// One entry of `/me/permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Permission {
    pub permission: String,
    /// granted, declined, expired.
    pub status: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SuccessBody {
    Bool(bool),
    Obj { success: bool },
}

pub(crate) fn success_of(v: serde_json::Value) -> Result<bool, GraphError> {
    serde_json::from_value::<SuccessBody>(v)
        .map(|s| match s {
            SuccessBody::Bool(b) | SuccessBody::Obj { success: b } => b,
        })
        .map_err(|e| GraphError::UnexpectedResponse {
            status: 200,
            message: format!("expected a success flag: {e}"),
        })
}

impl GraphClient {
    /// The OAuth dialog URL: `{dialog_base}/{version}/dialog/oauth?...` with
    /// `response_type=code`.
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        scope: &LoginScope,
    ) -> Result<Url, GraphError> {
        let cfg = self.config();
        if cfg.app_id.is_empty() {
            return Err(GraphError::Config("app_id is not configured".into()));
        }
        if state.len() < 16 {
            return Err(GraphError::InvalidInput(
                "OAuth state must be a random value of at least 16 characters".into(),
            ));
        }
        Url::parse(redirect_uri)
            .map_err(|e| GraphError::InvalidInput(format!("redirect_uri is not a URL: {e}")))?;
        let mut url = Url::parse(&format!(
            "{}/{}/dialog/oauth",
            cfg.dialog_base_url.trim_end_matches('/'),
            cfg.api_version
        ))
        .map_err(|e| GraphError::Config(format!("dialog URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &cfg.app_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state)
                .append_pair("response_type", "code");
            match scope {
                LoginScope::Scopes(scopes) => {
                    if scopes.is_empty() {
                        return Err(GraphError::InvalidInput("no OAuth scopes requested".into()));
                    }
                    q.append_pair("scope", &scopes.join(","));
                }
                LoginScope::ConfigId(id) => {
                    if id.is_empty() {
                        return Err(GraphError::InvalidInput("empty config_id".into()));
                    }
                    q.append_pair("config_id", id)
                        .append_pair("override_default_response_type", "true");
                }
            }
        }
        Ok(url)
    }

    fn token_request(&self, extra: &[(&str, &str)]) -> Result<GraphRequest, GraphError> {
        let secret = self.app_secret()?;
        let cfg = self.config();
        if cfg.app_id.is_empty() {
            return Err(GraphError::Config("app_id is not configured".into()));
        }
        // The secret, the code and the tokens travel in a form body, never in
        // the URL (URLs end up in proxy and server logs).
        let mut req = GraphRequest::post("oauth/access_token")
            .form_field("client_id", cfg.app_id.clone())
            .form_field("client_secret", secret.expose().to_string());
        for (k, v) in extra {
            req = req.form_field(*k, *v);
        }
        // A code is single-use, and Meta reports a wrong client secret as
        // code 1: surface exchange failures at once instead of retrying.
        Ok(req.unsafe_to_repeat())
    }

    /// Exchanges an authorization code. `redirect_uri` must equal the one
    /// used in [`authorize_url`](Self::authorize_url) byte for byte.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, GraphError> {
        if code.is_empty() {
            return Err(GraphError::InvalidInput("empty authorization code".into()));
        }
        let req = self.token_request(&[("redirect_uri", redirect_uri), ("code", code)])?;
        Ok(self.execute::<TokenResponse>(None, &req).await?.value)
    }

    /// Exchanges a short-lived user token for a long-lived (~60 day) one.
    pub async fn exchange_long_lived(
        &self,
        short_token: &AccessToken,
    ) -> Result<TokenResponse, GraphError> {
        let req = self.token_request(&[
            ("grant_type", "fb_exchange_token"),
            ("fb_exchange_token", short_token.expose()),
        ])?;
        Ok(self.execute::<TokenResponse>(None, &req).await?.value)
    }

    /// Inspects a token with the app token. An expired or revoked token is
    /// reported through `is_valid=false` and `error`, not as an `Err`.
    pub async fn debug_token(&self, input_token: &AccessToken) -> Result<DebugToken, GraphError> {
        let app = self.app_token()?;
        let req = GraphRequest::get("debug_token").query("input_token", input_token.expose());
        let resp = self
            .execute::<DataWrapper<DebugToken>>(Some(&app), &req)
            .await?;
        Ok(resp.value.data)
    }
}

impl Session {
    /// `GET /me?fields=id,name`.
    pub async fn me(&self) -> Result<Me, GraphError> {
        self.call(&GraphRequest::get("me").query("fields", "id,name"))
            .await
    }

    /// The client business of a Business Integration System User token
    /// (`GET /me?fields=client_business_id`); `None` for other tokens.
    pub async fn client_business_id(&self) -> Result<Option<String>, GraphError> {
        let me: Me = self
            .call(&GraphRequest::get("me").query("fields", "id,client_business_id"))
            .await?;
        Ok(me.client_business_id)
    }

    /// `GET /me/permissions`: every permission and its status.
    pub async fn permissions(&self) -> Result<Vec<Permission>, GraphError> {
        self.all(GraphRequest::get("me/permissions")).await
    }

    /// `DELETE /me/permissions`: revokes the app's login for this user.
    pub async fn revoke_permissions(&self) -> Result<bool, GraphError> {
        let v: serde_json::Value = self.call(&GraphRequest::delete("me/permissions")).await?;
        success_of(v)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::client::GraphConfig;
    use crate::secret::AppSecret;

    fn client() -> GraphClient {
        GraphClient::new(GraphConfig::new("1234", AppSecret::new("s"))).unwrap()
    }

    #[test]
    fn authorize_url_with_scopes() {
        let url = client()
            .authorize_url(
                "https://crm.example/api/crm/auth/meta/callback",
                "0123456789abcdef0123",
                &LoginScope::Scopes(vec!["ads_read".into(), "leads_retrieval".into()]),
            )
            .unwrap();
        assert_eq!(url.host_str(), Some("www.facebook.com"));
        assert_eq!(url.path(), "/v25.0/dialog/oauth");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "1234");
        assert_eq!(
            q["redirect_uri"],
            "https://crm.example/api/crm/auth/meta/callback"
        );
        assert_eq!(q["scope"], "ads_read,leads_retrieval");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["state"], "0123456789abcdef0123");
    }

    #[test]
    fn authorize_url_with_config_id_and_sandbox_base() {
        let c = GraphClient::new(
            GraphConfig::new("1", AppSecret::new("s")).with_base_url("http://127.0.0.1:4000"),
        )
        .unwrap();
        let url = c
            .authorize_url(
                "http://localhost/cb",
                "statestatestatestate",
                &LoginScope::ConfigId("987".into()),
            )
            .unwrap();
        assert!(
            url.as_str()
                .starts_with("http://127.0.0.1:4000/v25.0/dialog/oauth?")
        );
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["config_id"], "987");
        assert!(!q.contains_key("scope"));
    }

    #[test]
    fn authorize_url_refuses_weak_state() {
        let e = client()
            .authorize_url(
                "https://x/cb",
                "tenant_1",
                &LoginScope::Scopes(vec!["ads_read".into()]),
            )
            .unwrap_err();
        assert!(matches!(e, GraphError::InvalidInput(_)));
    }

    #[test]
    fn debug_token_shape() {
        let d: DataWrapper<DebugToken> = serde_json::from_str(
            r#"{"data":{"app_id":"1234","type":"USER","application":"CRM","data_access_expires_at":1760000000,"expires_at":0,"is_valid":true,"issued_at":1750000000,"scopes":["ads_read","whatsapp_business_messaging"],"granular_scopes":[{"scope":"ads_read","target_ids":["act_1","act_2"]},{"scope":"whatsapp_business_messaging"}],"user_id":"10"}}"#,
        )
        .unwrap();
        assert!(d.data.is_valid);
        assert_eq!(d.data.expires_at_unix(), None);
        assert_eq!(d.data.target_ids("ads_read"), vec!["act_1", "act_2"]);
        assert!(d.data.target_ids("whatsapp_business_messaging").is_empty());
    }

    #[test]
    fn success_flags() {
        assert!(success_of(serde_json::json!(true)).unwrap());
        assert!(success_of(serde_json::json!({"success": true})).unwrap());
        assert!(!success_of(serde_json::json!({"success": false})).unwrap());
        assert!(success_of(serde_json::json!({"ok": 1})).is_err());
    }
}
