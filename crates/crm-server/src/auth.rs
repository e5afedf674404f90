//! Authentication extractors.
//!
//! `Authed` resolves the caller from an API token (`Authorization: Bearer`) or
//! the session cookie into a [`TenantCtx`]. Cookie-authenticated mutations must
//! carry the session's CSRF token in `X-CSRF-Token`. Each request with a
//! credential first takes a cell from that credential's API rate-limit
//! bucket, before the credential is looked up.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use crm_core::services::accounts::{self, SessionInfo};
use crm_core::{Role, TenantCtx};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "crm_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Client IP and user agent of a request.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(client_info(parts, proxy_hops(state)))
    }
}

/// The number of trusted proxy hops, or 0 when X-Forwarded-For is not
/// trusted.
fn proxy_hops(state: &AppState) -> usize {
    if state.cfg.trust_proxy {
        state.cfg.trusted_proxy_hops.max(1)
    } else {
        0
    }
}

/// The client's address in `X-Forwarded-For` behind `hops` trusted proxies:
/// each of them appends the address it received from, so the client is the
/// entry `hops` from the right (entries further left are whatever the client
/// sent). None when the header is missing, too short or not an address.
pub fn forwarded_client(header: &str, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    let entries: Vec<&str> = header.split(',').map(str::trim).collect();
    let i = entries.len().checked_sub(hops)?;
    entries.get(i)?.parse::<IpAddr>().ok()
}

pub fn client_info(parts: &Parts, hops: usize) -> ClientInfo {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| forwarded_client(v, hops));
    ClientInfo {
        ip: forwarded.or(peer),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(400).collect()),
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Authed {
    pub ctx: TenantCtx,
    /// Present when the caller used the session cookie.
    pub session: Option<SessionInfo>,
}

impl std::ops::Deref for Authed {
    type Target = TenantCtx;
    fn deref(&self) -> &TenantCtx {
        &self.ctx
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = client_info(parts, proxy_hops(state));
        // The rate limit comes first, keyed by the presented credential, so
        // that a request over its limit never reaches the database.
        let jar = CookieJar::from_headers(&parts.headers);
        let credential = match bearer(parts) {
            Some(secret) => Some(("t:", secret.to_owned())),
            None => jar
                .get(SESSION_COOKIE)
                .map(|c| ("s:", c.value().to_owned())),
        };
        let Some((kind, secret)) = credential else {
            return Err(ApiError::unauthenticated());
        };
        let key = format!("{kind}{}", &crm_core::secrets::sha256_hex(&secret)[..32]);
        state
            .api_limiter
            .check(&key)
            .map_err(ApiError::rate_limited)?;
        let authed = if kind == "t:" {
            let info = accounts::resolve_api_token(&state.db, &secret)
                .await?
                .ok_or_else(ApiError::unauthenticated)?;
            Authed {
                ctx: TenantCtx {
                    tenant_id: info.token.tenant_id,
                    user_id: None,
                    token_id: Some(info.token.id),
                    role: info.role,
                    ip: client.ip_string(),
                    user_agent: client.user_agent,
                },
                session: None,
            }
        } else {
            let idle = chrono::Duration::minutes(state.cfg.session_idle_minutes);
            let info = accounts::resolve_session(&state.db, &secret, idle)
                .await?
                .ok_or_else(ApiError::unauthenticated)?;
            if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
                let sent = parts
                    .headers
                    .get(CSRF_HEADER)
                    .map(|v| v.as_bytes())
                    .unwrap_or_default();
                if sent.is_empty() || !bool::from(sent.ct_eq(info.csrf_token.as_bytes())) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf_token_invalid",
                        "missing or wrong X-CSRF-Token header for a cookie-authenticated change",
                    ));
                }
            }
            Authed {
                ctx: TenantCtx {
                    tenant_id: info.tenant.id,
                    user_id: Some(info.user.id),
                    token_id: None,
                    role: Role::parse(&info.user.role).unwrap_or(Role::Seller),
                    ip: client.ip_string(),
                    user_agent: client.user_agent,
                },
                session: Some(info),
            }
        };
        Ok(authed)
    }
}

/// The session cookie for a new session.
pub fn session_cookie(state: &AppState, secret: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, secret))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(!state.insecure_cookies)
        .path("/")
        .max_age(time_duration(state.cfg.session_ttl_hours))
        .build()
}

/// A cookie that removes the session cookie.
pub fn clear_session_cookie(state: &AppState) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(!state.insecure_cookies)
        .path("/")
        .max_age(time_duration(0))
        .build()
}

fn time_duration(hours: i64) -> cookie::time::Duration {
    cookie::time::Duration::hours(hours)
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;

    #[test]
    fn the_client_is_counted_from_the_right() {
        // A client sends its own X-Forwarded-For; our one proxy appends the
        // address it saw.
        let h = "6.6.6.6, 203.0.113.9";
        assert_eq!(forwarded_client(h, 1), Some([203, 0, 113, 9].into()));
        // Behind two proxies (a CDN, then ours).
        let h = "6.6.6.6, 198.51.100.7, 10.0.0.2";
        assert_eq!(forwarded_client(h, 2), Some([198, 51, 100, 7].into()));
        assert_eq!(forwarded_client("203.0.113.9", 2), None);
        assert_eq!(forwarded_client("nonsense", 1), None);
        assert_eq!(forwarded_client("203.0.113.9", 0), None);
    }
}
