//! Facebook Login: the consent dialog, code and token exchange, `/debug_token`, revocation.

use axum::Form;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::error::{GResult, GraphError};
use crate::server::{App, GraphReq, check_token};
use crate::state::{CodeRec, TokenKind, TokenRec};
use crate::util::{ct_eq, hmac_sha256_hex};

pub const ALL_SCOPES: &[&str] = &[
    "public_profile",
    "email",
    "ads_read",
    "ads_management",
    "business_management",
    "leads_retrieval",
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_metadata",
    "pages_manage_ads",
    "whatsapp_business_management",
    "whatsapp_business_messaging",
];

/// Further permissions the dialog accepts (granted as asked, but no sandbox edge needs them).
pub const OTHER_SCOPES: &[&str] = &[
    "read_insights",
    "pages_messaging",
    "pages_manage_posts",
    "pages_read_user_content",
    "instagram_basic",
    "instagram_manage_messages",
    "instagram_manage_insights",
    "catalog_management",
    "whatsapp_business_manage_events",
];

/// About 60 days, as Meta reports for long-lived tokens.
pub const LONG_LIVED_SECS: i64 = 5_183_944;
/// Short-lived user tokens from the code exchange.
pub const SHORT_LIVED_SECS: i64 = 5_400;
const CODE_TTL_SECS: i64 = 600;

fn new_secret(app: &App, prefix: &str) -> String {
    let n = app.lock().next_id();
    let h = hmac_sha256_hex(
        format!("sandbox-token-{}", app.world.seed).as_bytes(),
        format!("{prefix}:{n}:{}", app.now()).as_bytes(),
    );
    format!("{prefix}{}", &h[..48])
}

pub fn issue_user_token(
    app: &App,
    user: usize,
    scopes: Vec<String>,
    lifetime: i64,
    long_lived: bool,
) -> String {
    let token = new_secret(app, "EAASbx");
    let now = app.now();
    let rec = TokenRec {
        token: token.clone(),
        kind: TokenKind::User,
        user: Some(user),
        page: None,
        scopes,
        issued_at: now,
        expires_at: if lifetime <= 0 { 0 } else { now + lifetime },
        data_access_expires_at: now + 90 * 86400,
        invalidated: false,
        revoked: false,
        long_lived,
        business: None,
    };
    app.lock().tokens.insert(token.clone(), rec);
    token
}

/// A Business Integration System User token: limited to one client business, never expires.
pub fn issue_system_user_token(
    app: &App,
    user: usize,
    business: usize,
    scopes: Vec<String>,
) -> String {
    let token = new_secret(app, "EAASbxSu");
    let now = app.now();
    let rec = TokenRec {
        token: token.clone(),
        kind: TokenKind::SystemUser,
        user: Some(user),
        page: None,
        scopes,
        issued_at: now,
        expires_at: 0,
        data_access_expires_at: 0,
        invalidated: false,
        revoked: false,
        long_lived: true,
        business: Some(business),
    };
    app.lock().tokens.insert(token.clone(), rec);
    token
}

/// A Page token derived from a user token (non-expiring when the user token is long-lived).
pub fn issue_page_token(app: &App, user_token: &TokenRec, page: usize) -> String {
    {
        let st = app.lock();
        if let Some((k, _)) = st.tokens.iter().find(|(_, r)| {
            r.kind == TokenKind::Page
                && r.page == Some(page)
                && r.user == user_token.user
                && !r.invalidated
                && !r.revoked
        }) {
            return k.clone();
        }
    }
    let token = new_secret(app, "EAASbxPg");
    let rec = TokenRec {
        token: token.clone(),
        kind: TokenKind::Page,
        user: user_token.user,
        page: Some(page),
        scopes: user_token.scopes.clone(),
        issued_at: app.now(),
        expires_at: if user_token.long_lived {
            0
        } else {
            user_token.expires_at
        },
        data_access_expires_at: user_token.data_access_expires_at,
        invalidated: false,
        revoked: false,
        long_lived: user_token.long_lived,
        business: user_token.business,
    };
    app.lock().tokens.insert(token.clone(), rec);
    token
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html_error(title: &str, msg: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t} | Meta sandbox</title></head><body style=\"font-family:sans-serif;max-width:560px;margin:40px auto\"><p style=\"background:#fff3cd;padding:8px\">META SANDBOX: this is a local stand-in for Facebook, not facebook.com.</p><h1>{t}</h1><p id=\"error\">{m}</p></body></html>",
        t = esc(title),
        m = esc(msg)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn parse_scopes(raw: &str) -> Vec<String> {
    raw.split([',', ' '])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Shared checks for dialog parameters; returns (scopes, redirect_uri).
fn check_dialog(app: &App, q: &HashMap<String, String>) -> Result<(Vec<String>, String), Response> {
    let client_id = q.get("client_id").map(|s| s.as_str()).unwrap_or("");
    if client_id != app.config.app_id {
        return Err(html_error(
            "Invalid App ID",
            "The provided app ID does not look like a valid app ID.",
        ));
    }
    let Some(redirect) = q.get("redirect_uri").filter(|r| !r.is_empty()) else {
        return Err(html_error(
            "URL blocked",
            "The redirect_uri parameter is required.",
        ));
    };
    if !(redirect.starts_with("http://") || redirect.starts_with("https://")) {
        return Err(html_error(
            "URL blocked",
            "This redirect failed because the redirect URI is not a valid absolute URL.",
        ));
    }
    let rt = q.get("response_type").map(|s| s.as_str()).unwrap_or("code");
    if !matches!(
        rt,
        "code" | "token" | "code token" | "code%20token" | "granted_scopes"
    ) {
        return Err(html_error(
            "Error",
            &format!("Unsupported response_type '{rt}'."),
        ));
    }
    let mut scopes = match (q.get("scope"), q.get("config_id")) {
        (Some(s), _) if !s.trim().is_empty() => parse_scopes(s),
        (_, Some(c)) if !c.trim().is_empty() => ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        _ => vec!["public_profile".to_string()],
    };
    let invalid: Vec<&String> = scopes
        .iter()
        .filter(|s| !ALL_SCOPES.contains(&s.as_str()) && !OTHER_SCOPES.contains(&s.as_str()))
        .collect();
    if !invalid.is_empty() {
        return Err(html_error(
            "Invalid Scopes",
            &format!(
                "Invalid Scopes: {}. This message is only shown to developers.",
                invalid
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if !scopes.iter().any(|s| s == "public_profile") {
        scopes.insert(0, "public_profile".into());
    }
    Ok((scopes, redirect.clone()))
}

pub async fn dialog_unversioned(
    state: AxState<App>,
    q: Query<HashMap<String, String>>,
) -> Response {
    dialog(state, Path(crate::server::DEFAULT_VERSION.to_string()), q).await
}

/// `GET /vNN.0/dialog/oauth`: a consent page with an account picker, Continue and Cancel.
pub async fn dialog(
    AxState(app): AxState<App>,
    Path(version): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (scopes, redirect) = match check_dialog(&app, &q) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let w = &app.world;
    let mut users = String::new();
    for (i, u) in w.users.iter().enumerate() {
        users.push_str(&format!(
            "<label class=\"user\"><input type=\"radio\" name=\"user_id\" value=\"{id}\"{checked}> {name} &lt;{email}&gt;</label><br>",
            id = esc(&u.id),
            checked = if i == 0 { " checked" } else { "" },
            name = esc(&u.name),
            email = esc(&u.email)
        ));
    }
    let perms: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>", esc(s)))
        .collect();
    // Facebook Login for Business: pick the business to connect.
    let businesses = if q.get("config_id").is_some_and(|c| !c.trim().is_empty()) {
        let radios: String = w
            .businesses
            .iter()
            .enumerate()
            .map(|(i, b)| {
                format!(
                    "<label class=\"business\"><input type=\"radio\" name=\"business_id\" value=\"{}\"{}> {}</label><br>",
                    esc(&b.id),
                    if i == 0 { " checked" } else { "" },
                    esc(&b.name)
                )
            })
            .collect();
        format!("<fieldset><legend>Business to connect</legend>\n{radios}</fieldset>")
    } else {
        String::new()
    };
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "state",
        "response_type",
        "config_id",
        "auth_type",
    ]
    .iter()
    .filter_map(|k| {
        q.get(*k)
            .map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
    })
    .collect::<String>()
        + &format!(
            "<input type=\"hidden\" name=\"scope\" value=\"{}\">",
            esc(&scopes.join(","))
        );
    let body = format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Log in with Facebook (Meta sandbox)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:560px;margin:40px auto;color:#1c1e21}}.banner{{background:#fff3cd;border:1px solid #e0c36a;padding:8px 12px;border-radius:6px}}button{{font-size:16px;padding:8px 20px;margin-right:8px;border-radius:6px;border:1px solid #ccc}}button.primary{{background:#1877f2;color:#fff;border-color:#1877f2}}</style></head>
<body>
<p class="banner" id="sandbox-banner"><strong>META SANDBOX</strong> - a local stand-in for Facebook Login. No real Facebook account is used.</p>
<h1>{app_name} is requesting access</h1>
<p>Redirects to: <code>{redirect}</code></p>
<form method="post" action="/{version}/dialog/oauth/confirm" id="consent">
{hidden}
<fieldset><legend>Continue as</legend>
{users}</fieldset>
{businesses}
<p>The app will receive:</p><ul id="permissions">{perms}</ul>
<button type="submit" name="action" value="continue" class="primary" id="continue">Continue</button>
<button type="submit" name="action" value="cancel" id="cancel">Cancel</button>
</form>
</body></html>"#,
        app_name = "CRM Ventas (Meta sandbox app)",
        redirect = esc(&redirect),
        version = esc(&version),
    );
    let mut r = Html(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn with_params(redirect: &str, params: &[(&str, &str)], fragment: Option<String>) -> String {
    let (base, frag) = redirect
        .split_once('#')
        .map(|(a, b)| (a, Some(b)))
        .unwrap_or((redirect, None));
    let qs = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut url = if qs.is_empty() {
        base.to_string()
    } else {
        format!("{base}{sep}{qs}")
    };
    match (fragment, frag) {
        (Some(f), _) => {
            url.push('#');
            url.push_str(&f);
        }
        (None, _) => url.push_str("#_=_"),
    }
    url
}

fn redirect_to(url: String) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `POST /vNN.0/dialog/oauth/confirm`: the form submission from the consent page.
pub async fn confirm(
    AxState(app): AxState<App>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let (scopes, redirect) = match check_dialog(&app, &f) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let state = f.get("state").cloned().unwrap_or_default();
    let mut params: Vec<(&str, &str)> = vec![];
    if f.get("action").map(|s| s.as_str()) != Some("continue") {
        params.extend([
            ("error", "access_denied"),
            ("error_code", "200"),
            ("error_description", "Permissions error"),
            ("error_reason", "user_denied"),
        ]);
        if !state.is_empty() {
            params.push(("state", state.as_str()));
        }
        return redirect_to(with_params(&redirect, &params, None));
    }
    let w = &app.world;
    let user = match f.get("user_id") {
        Some(id) => match w.users.iter().position(|u| &u.id == id) {
            Some(u) => u,
            None => return html_error("Error", "Unknown sandbox user."),
        },
        None => 0,
    };
    // Facebook Login for Business with a configuration: the person also picks the client business,
    // and the code exchange yields a Business Integration System User token for it.
    let business = match f.get("config_id").filter(|c| !c.trim().is_empty()) {
        None => None,
        Some(_) => {
            let b = match f.get("business_id") {
                Some(id) => w.businesses.iter().position(|b| &b.id == id),
                None => w.users[user].businesses.first().copied(),
            };
            match b {
                Some(b) if w.users[user].businesses.contains(&b) => Some(b),
                _ => {
                    return html_error("Error", "The selected person cannot manage that business.");
                }
            }
        }
    };
    let rt = f.get("response_type").map(|s| s.as_str()).unwrap_or("code");
    if rt == "token" && business.is_none() {
        let token = issue_user_token(&app, user, scopes, SHORT_LIVED_SECS, false);
        let mut frag_params = vec![
            ("access_token", token.as_str()),
            ("data_access_expiration_time", "0"),
        ];
        let expires = SHORT_LIVED_SECS.to_string();
        frag_params.push(("expires_in", expires.as_str()));
        if !state.is_empty() {
            frag_params.push(("state", state.as_str()));
        }
        let frag = serde_urlencoded::to_string(&frag_params).unwrap_or_default();
        return redirect_to(with_params(&redirect, &[], Some(frag)));
    }
    let code = new_secret(&app, "AQSbx");
    app.lock().codes.insert(
        code.clone(),
        CodeRec {
            user,
            business,
            scopes,
            redirect_uri: redirect.clone(),
            created_at: app.now(),
            used: false,
        },
    );
    params.push(("code", code.as_str()));
    if !state.is_empty() {
        params.push(("state", state.as_str()));
    }
    redirect_to(with_params(&redirect, &params, None))
}

fn check_client(app: &App, req: &GraphReq) -> GResult<()> {
    let id = req.param("client_id").unwrap_or("");
    if id != app.config.app_id {
        return Err(GraphError::new(
            101,
            "OAuthException",
            "Error validating application. Invalid application ID.",
        ));
    }
    let secret = req.param("client_secret").unwrap_or("");
    if !ct_eq(secret, &app.config.app_secret) {
        return Err(GraphError::new(
            1,
            "OAuthException",
            "Error validating client secret.",
        ));
    }
    Ok(())
}

/// `/oauth/access_token`: code exchange, `fb_exchange_token`, `client_credentials`.
pub fn access_token(app: &App, req: &GraphReq) -> GResult<Value> {
    match req.param("grant_type") {
        Some("fb_exchange_token") => {
            check_client(app, req)?;
            let short = req
                .param("fb_exchange_token")
                .ok_or_else(|| GraphError::param("Missing fb_exchange_token parameter"))?;
            let rec = app
                .lock()
                .tokens
                .get(short)
                .cloned()
                .ok_or_else(GraphError::token_unparsable)?;
            check_token(app, &rec)?;
            if rec.kind != TokenKind::User {
                return Err(GraphError::param(
                    "fb_exchange_token must be a user access token",
                ));
            }
            let user = rec.user.unwrap_or(0);
            let token = issue_user_token(app, user, rec.scopes.clone(), LONG_LIVED_SECS, true);
            Ok(
                json!({"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_SECS}),
            )
        }
        Some("client_credentials") => {
            check_client(app, req)?;
            Ok(
                json!({"access_token": format!("{}|{}", app.config.app_id, app.config.app_secret), "token_type": "bearer"}),
            )
        }
        Some(other) if other != "authorization_code" => Err(GraphError::param(format!(
            "Unsupported grant_type '{other}'"
        ))),
        _ => {
            check_client(app, req)?;
            let code = req
                .param("code")
                .ok_or_else(|| GraphError::param("Missing authorization code"))?;
            let redirect = req
                .param("redirect_uri")
                .ok_or_else(|| GraphError::param("Missing redirect_uri parameter."))?;
            let now = app.now();
            let mut st = app.lock();
            let rec = st.codes.get_mut(code).ok_or_else(|| {
                GraphError::new(100, "OAuthException", "Invalid verification code format.")
                    .with_subcode(36007)
            })?;
            if rec.used {
                return Err(GraphError::new(
                    100,
                    "OAuthException",
                    "This authorization code has been used.",
                )
                .with_subcode(36009));
            }
            if now - rec.created_at > CODE_TTL_SECS {
                return Err(GraphError::new(
                    100,
                    "OAuthException",
                    "This authorization code has expired.",
                )
                .with_subcode(36007));
            }
            if rec.redirect_uri != redirect {
                return Err(GraphError::new(
                    100,
                    "OAuthException",
                    "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
                )
                .with_subcode(36008));
            }
            rec.used = true;
            let (user, scopes, business) = (rec.user, rec.scopes.clone(), rec.business);
            drop(st);
            if let Some(b) = business {
                let token = issue_system_user_token(app, user, b, scopes);
                return Ok(json!({"access_token": token, "token_type": "bearer"}));
            }
            let token = issue_user_token(app, user, scopes, SHORT_LIVED_SECS, false);
            Ok(
                json!({"access_token": token, "token_type": "bearer", "expires_in": SHORT_LIVED_SECS}),
            )
        }
    }
}

fn granular(app: &App, rec: &TokenRec) -> Vec<Value> {
    let w = &app.world;
    let bizs = rec.businesses(w);
    let mut out = vec![];
    for s in &rec.scopes {
        let targets: Option<Vec<String>> = match s.as_str() {
            "ads_read" | "ads_management" => Some(
                w.accounts_of(&bizs)
                    .iter()
                    .map(|a| w.ad_accounts[*a].account_id.clone())
                    .collect(),
            ),
            "business_management" => {
                Some(bizs.iter().map(|b| w.businesses[*b].id.clone()).collect())
            }
            "pages_show_list"
            | "pages_read_engagement"
            | "pages_manage_metadata"
            | "pages_manage_ads"
            | "leads_retrieval" => Some(match rec.page {
                Some(p) => vec![w.pages[p].id.clone()],
                None => w
                    .pages_of(&bizs)
                    .iter()
                    .map(|p| w.pages[*p].id.clone())
                    .collect(),
            }),
            "whatsapp_business_management" | "whatsapp_business_messaging" => Some(
                w.wabas_of(&bizs)
                    .iter()
                    .map(|x| w.wabas[*x].id.clone())
                    .collect(),
            ),
            _ => None,
        };
        match targets {
            Some(t) => out.push(json!({"scope": s, "target_ids": t})),
            None => out.push(json!({"scope": s})),
        }
    }
    out
}

/// `GET /debug_token?input_token=...` with an app token or a user token of the app.
pub fn debug_token(app: &App, req: &GraphReq) -> GResult<Value> {
    let caller = req.token.as_deref().ok_or_else(GraphError::token_missing)?;
    let app_token = format!("{}|{}", app.config.app_id, app.config.app_secret);
    if !ct_eq(caller, &app_token) {
        let rec = app
            .lock()
            .tokens
            .get(caller)
            .cloned()
            .ok_or_else(GraphError::token_unparsable)?;
        check_token(app, &rec)?;
    }
    let input = req
        .param("input_token")
        .ok_or_else(|| GraphError::param("The parameter input_token is required"))?;
    let w = &app.world;
    if ct_eq(input, &app_token) {
        return Ok(
            json!({"data": {"app_id": w.app_id, "type": "APP", "application": "CRM Ventas (Meta sandbox app)", "is_valid": true, "scopes": []}}),
        );
    }
    let Some(rec) = app.lock().tokens.get(input).cloned() else {
        return Ok(
            json!({"data": {"error": {"code": 190, "message": "Invalid OAuth access token."}, "is_valid": false, "scopes": []}}),
        );
    };
    let mut data = json!({
        "app_id": w.app_id,
        "type": rec.kind,
        "application": "CRM Ventas (Meta sandbox app)",
        "data_access_expires_at": rec.data_access_expires_at,
        "expires_at": rec.expires_at,
        "is_valid": true,
        "issued_at": rec.issued_at,
        "scopes": rec.scopes,
        "granular_scopes": granular(app, &rec),
        "user_id": rec.user.map(|u| w.users[u].id.clone()),
    });
    if let Some(p) = rec.page {
        data["profile_id"] = json!(w.pages[p].id);
    }
    if let Err(e) = check_token(app, &rec) {
        data["is_valid"] = json!(false);
        data["error"] = json!({"code": e.code, "message": e.message, "subcode": e.subcode});
    }
    Ok(json!({ "data": data }))
}

/// `DELETE /me/permissions[/{perm}]`.
pub fn revoke(app: &App, caller: &TokenRec, perm: Option<&str>) -> GResult<Value> {
    let mut st = app.lock();
    let user = caller.user;
    for rec in st.tokens.values_mut() {
        if rec.user != user {
            continue;
        }
        match perm {
            None => rec.revoked = true,
            Some(p) => rec.scopes.retain(|s| s != p),
        }
    }
    Ok(json!({"success": true}))
}
