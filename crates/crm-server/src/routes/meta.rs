//! Meta connection routes: OAuth (`/api/crm/auth/meta/*`), Meta's
//! deauthorize and data-deletion callbacks, and the connection routes of the
//! Marketing Hub (`/api/crm/marketing/*`). Handlers are thin: the work is in
//! `crm_core::services::meta_connection`.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crm_core::services::meta_connection::{
    self as svc, CallbackParams, ConnectAdAccount, ConnectionTest, DeletionReceipt, DeletionStatus,
    Disconnected, LeadPageOption, MetaFail, MetaFailKind, Portfolio, ReturnTo, SelectPages,
    SelectWhatsApp, TokenMetadata, TokenStatus, WabaOption,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(oauth_url))
        .routes(routes!(oauth_callback))
        .routes(routes!(disconnect))
        .routes(routes!(debug_token))
        .routes(routes!(test_connection))
        .routes(routes!(system_user_token))
        .routes(routes!(deauthorize))
        .routes(routes!(data_deletion))
        .routes(routes!(deletion_status))
        .routes(routes!(token_status))
        .routes(routes!(portfolios))
        .routes(routes!(ad_accounts))
        .routes(routes!(connect_ad_account))
        .routes(routes!(whatsapp_accounts, select_whatsapp))
        .routes(routes!(lead_pages, select_lead_pages))
}

pub(crate) fn api_error(e: MetaFail) -> ApiError {
    match e {
        MetaFail::Core(c) => c.into(),
        MetaFail::Meta {
            kind,
            code,
            message,
            details,
            retry_after_secs,
        } => {
            let status = match kind {
                MetaFailKind::Rejected => StatusCode::CONFLICT,
                MetaFailKind::NotFound => StatusCode::NOT_FOUND,
                MetaFailKind::Throttled => StatusCode::SERVICE_UNAVAILABLE,
                MetaFailKind::Unavailable => StatusCode::BAD_GATEWAY,
            };
            let mut err = ApiError::new(status, code, message);
            err.details = details;
            err.retry_after = retry_after_secs;
            err
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UrlQuery {
    /// Where to land after Meta: `marketing` (default, `/crm/marketing`) or `settings` (`/settings/meta`).
    #[param(inline)]
    pub return_to: Option<ReturnTo>,
}

#[derive(Serialize, ToSchema)]
pub struct AuthorizeUrl {
    /// Meta's OAuth dialog; open it in the browser (same tab).
    pub url: String,
}

/// Start connecting Meta (ceo/admin, signed in): returns the OAuth dialog URL.
/// The `state` in it is random, single-use, valid 10 minutes and bound to the
/// caller's tenant and user.
#[utoipa::path(operation_id = "metaAuthUrl", get, path = "/api/crm/auth/meta/url", tag = "meta",
    params(UrlQuery),
    responses((status = 200, body = AuthorizeUrl), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "meta_not_configured"),
        (status = 422, body = ErrorBody, description = "session_required (API tokens cannot start OAuth)")))]
async fn oauth_url(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<UrlQuery>,
) -> ApiResult<ApiJson<AuthorizeUrl>> {
    let url = svc::start_oauth(&s.db, &s.meta, &auth, q.return_to.unwrap_or_default())
        .await
        .map_err(api_error)?;
    Ok(ApiJson(AuthorizeUrl { url }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_reason: Option<String>,
    pub error_description: Option<String>,
}

fn redirect(url: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(url) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// Meta redirects the browser here. Validates the state against the signed-in
/// session, exchanges the code for a long-lived token, inspects it and stores
/// it encrypted, then redirects to `/crm/marketing?connected=1` (or
/// `/settings/meta`). Every failure redirects with `?meta_error=CODE`:
/// not_signed_in, state_missing, state_invalid (unknown or already used),
/// state_expired, state_mismatch (another session's state), cancelled,
/// meta_denied, forbidden, code_missing, not_configured,
/// code_exchange_failed, token_exchange_failed, token_check_failed,
/// token_wrong_app, meta_unavailable, internal_error.
#[utoipa::path(operation_id = "metaAuthCallback", get, path = "/api/crm/auth/meta/callback", tag = "meta",
    security(()),
    params(CallbackQuery),
    responses((status = 303, description = "to /crm/marketing?connected=1 or ?meta_error=CODE")))]
async fn oauth_callback(
    State(s): State<AppState>,
    auth: Result<Authed, ApiError>,
    ApiQuery(q): ApiQuery<CallbackQuery>,
) -> Response {
    let params = CallbackParams {
        code: q.code,
        state: q.state,
        error: q.error,
        error_reason: q.error_reason,
        error_description: q.error_description,
    };
    let ctx = auth.ok().map(|a| a.ctx);
    let base = s.public_url.trim_end_matches('/');
    match svc::complete_oauth(&s.db, &s.meta, ctx.as_ref(), &params).await {
        Ok(path) => redirect(&format!("{base}{path}?connected=1")),
        Err(f) => redirect(&format!("{base}{}?meta_error={}", f.return_path, f.code)),
    }
}

/// Disconnect Meta (ceo/admin): revokes the app at Meta and deletes the
/// stored credentials and asset selection. Synced history stays.
#[utoipa::path(operation_id = "metaDisconnect", post, path = "/api/crm/auth/meta/disconnect", tag = "meta",
    responses((status = 200, body = Disconnected), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "meta_not_connected")))]
async fn disconnect(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<Disconnected>> {
    Ok(ApiJson(
        svc::disconnect(&s.db, &s.meta, &auth)
            .await
            .map_err(api_error)?,
    ))
}

/// What Meta says about the stored token (ceo/admin): validity, type, scopes,
/// granular target ids, expiry. Never any part of the token. Audited.
#[utoipa::path(operation_id = "metaDebugToken", get, path = "/api/crm/auth/meta/debug/token", tag = "meta",
    responses((status = 200, body = TokenMetadata), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn debug_token(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<TokenMetadata>> {
    Ok(ApiJson(
        svc::debug_token(&s.db, &s.meta, &auth)
            .await
            .map_err(api_error)?,
    ))
}

/// Live check (ceo/admin): `/me`, the selected ad account and WhatsApp
/// account. A refused token marks the connection expired/invalid at once.
#[utoipa::path(operation_id = "metaTestConnection", get, path = "/api/crm/auth/meta/test-connection", tag = "meta",
    responses((status = 200, body = ConnectionTest), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "meta_not_connected")))]
async fn test_connection(
    State(s): State<AppState>,
    auth: Authed,
) -> ApiResult<ApiJson<ConnectionTest>> {
    Ok(ApiJson(
        svc::test_connection(&s.db, &s.meta, &auth)
            .await
            .map_err(api_error)?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct SystemUserToken {
    /// A system-user access token generated in Business Settings for this app.
    #[schema(min_length = 20, max_length = 2048, pattern = r"^\s*\S+\s*$")]
    pub token: String,
}

/// Connect with a pasted system-user token (ceo/admin; agencies). Validated
/// with `debug_token`, then stored encrypted like an OAuth token.
#[utoipa::path(operation_id = "metaSystemUserToken", post, path = "/api/crm/auth/meta/system-user-token", tag = "meta",
    request_body = SystemUserToken,
    responses((status = 200, body = TokenStatus), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "token_malformed, token_invalid, token_wrong_app, token_wrong_type")))]
async fn system_user_token(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<SystemUserToken>,
) -> ApiResult<ApiJson<TokenStatus>> {
    Ok(ApiJson(
        svc::connect_system_user_token(&s.db, &s.meta, &auth, &input.token)
            .await
            .map_err(api_error)?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct SignedRequestForm {
    pub signed_request: String,
}

fn signed_form(f: Result<Form<SignedRequestForm>, FormRejection>) -> ApiResult<String> {
    f.map(|Form(f)| f.signed_request).map_err(|_| {
        ApiError::bad_request(
            "invalid_signed_request",
            "send signed_request as application/x-www-form-urlencoded",
        )
    })
}

#[derive(Serialize, ToSchema)]
pub struct DeauthorizeResult {
    pub success: bool,
}

/// Meta's deauthorize callback (public; `signed_request` verified with the
/// app secret). Deletes the credentials of connections made by that person.
#[utoipa::path(operation_id = "metaDeauthorize", post, path = "/api/crm/auth/meta/deauthorize", tag = "meta",
    security(()),
    request_body(content = SignedRequestForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = DeauthorizeResult), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid_signed_request")))]
async fn deauthorize(
    State(s): State<AppState>,
    form: Result<Form<SignedRequestForm>, FormRejection>,
) -> ApiResult<ApiJson<DeauthorizeResult>> {
    let signed = signed_form(form)?;
    svc::deauthorize(&s.db, &s.meta, &signed).await?;
    Ok(ApiJson(DeauthorizeResult { success: true }))
}

/// Meta's data-deletion callback (public; `signed_request` verified). Deletes
/// the person's Meta data and returns `{url, confirmation_code}` as Meta expects.
#[utoipa::path(operation_id = "metaDataDeletion", post, path = "/api/crm/auth/meta/data-deletion", tag = "meta",
    security(()),
    request_body(content = SignedRequestForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = DeletionReceipt), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid_signed_request")))]
async fn data_deletion(
    State(s): State<AppState>,
    form: Result<Form<SignedRequestForm>, FormRejection>,
) -> ApiResult<ApiJson<DeletionReceipt>> {
    let signed = signed_form(form)?;
    Ok(ApiJson(svc::data_deletion(&s.db, &s.meta, &signed).await?))
}

/// Status of a data-deletion request (public, by confirmation code).
#[utoipa::path(operation_id = "metaDataDeletionStatus", get, path = "/api/crm/auth/meta/data-deletion/{code}", tag = "meta",
    security(()),
    params(("code" = String, Path, description = "confirmation code")),
    responses((status = 200, body = DeletionStatus), (status = 404, body = ErrorBody)))]
async fn deletion_status(
    State(s): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<ApiJson<DeletionStatus>> {
    Ok(ApiJson(svc::deletion_status(&s.db, &code).await?))
}

/// The Meta connection's health for banners (ceo/admin/marketing):
/// ok, expiring, expired, invalid, missing_scopes or disconnected, with the
/// selected ad account, WhatsApp number and pages. No Meta call.
#[utoipa::path(operation_id = "metaTokenStatus", get, path = "/api/crm/marketing/token-status", tag = "meta",
    responses((status = 200, body = TokenStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn token_status(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<TokenStatus>> {
    Ok(ApiJson(svc::token_status(&s.db, &s.meta, &auth).await?))
}

#[derive(Serialize, ToSchema)]
pub struct PortfolioList {
    pub items: Vec<Portfolio>,
}

/// Business portfolios the connection reaches (ceo/admin), every page.
#[utoipa::path(operation_id = "metaPortfolios", get, path = "/api/crm/marketing/meta-portfolios", tag = "meta",
    responses((status = 200, body = PortfolioList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn portfolios(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<PortfolioList>> {
    Ok(ApiJson(PortfolioList {
        items: svc::portfolios(&s.db, &s.meta, &auth)
            .await
            .map_err(api_error)?,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortfolioQuery {
    /// Business portfolio id; without it, every account the token reaches.
    pub portfolio_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AdAccountList {
    pub items: Vec<svc::AdAccountOption>,
}

/// Ad accounts of a portfolio (ceo/admin): owned and client, deduplicated,
/// every page fetched, sorted by name.
#[utoipa::path(operation_id = "metaAdAccounts", get, path = "/api/crm/marketing/meta-accounts", tag = "meta",
    params(PortfolioQuery),
    responses((status = 200, body = AdAccountList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn ad_accounts(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<PortfolioQuery>,
) -> ApiResult<ApiJson<AdAccountList>> {
    Ok(ApiJson(AdAccountList {
        items: svc::ad_accounts(&s.db, &s.meta, &auth, q.portfolio_id.as_deref())
            .await
            .map_err(api_error)?,
    }))
}

/// Select the ad account (ceo/admin). The server first checks this tenant's
/// token can read it.
#[utoipa::path(operation_id = "metaConnectAdAccount", post, path = "/api/crm/marketing/connect", tag = "meta",
    request_body = ConnectAdAccount,
    responses((status = 200, body = TokenStatus), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "meta_not_connected, asset_in_use"),
        (status = 422, body = ErrorBody, description = "invalid_account_id, ad_account_unreachable")))]
async fn connect_ad_account(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<ConnectAdAccount>,
) -> ApiResult<ApiJson<TokenStatus>> {
    Ok(ApiJson(
        svc::connect_ad_account(&s.db, &s.meta, &auth, &input)
            .await
            .map_err(api_error)?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct WabaList {
    pub items: Vec<WabaOption>,
}

/// WhatsApp Business Accounts and their numbers (ceo/admin), for the portfolio
/// given or the one picked with the ad account.
#[utoipa::path(operation_id = "metaWhatsAppAccounts", get, path = "/api/crm/marketing/whatsapp", tag = "meta",
    params(PortfolioQuery),
    responses((status = 200, body = WabaList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "portfolio_required")))]
async fn whatsapp_accounts(
    State(s): State<AppState>,
    auth: Authed,
    ApiQuery(q): ApiQuery<PortfolioQuery>,
) -> ApiResult<ApiJson<WabaList>> {
    Ok(ApiJson(WabaList {
        items: svc::whatsapp_accounts(&s.db, &s.meta, &auth, q.portfolio_id.as_deref())
            .await
            .map_err(api_error)?,
    }))
}

/// Select the WhatsApp account and number(s) (ceo/admin). Subscribes the app
/// to the account's webhooks.
#[utoipa::path(operation_id = "metaSelectWhatsApp", post, path = "/api/crm/marketing/whatsapp", tag = "meta",
    request_body = SelectWhatsApp,
    responses((status = 200, body = TokenStatus), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "asset_in_use"),
        (status = 422, body = ErrorBody, description = "phone_number_required, phone_number_not_in_waba")))]
async fn select_whatsapp(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<SelectWhatsApp>,
) -> ApiResult<ApiJson<TokenStatus>> {
    Ok(ApiJson(
        svc::select_whatsapp(&s.db, &s.meta, &auth, &input)
            .await
            .map_err(api_error)?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct LeadPageList {
    pub items: Vec<LeadPageOption>,
}

/// Facebook Pages the connection manages, for Lead Ads (ceo/admin).
#[utoipa::path(operation_id = "metaLeadPages", get, path = "/api/crm/marketing/lead-pages", tag = "meta",
    responses((status = 200, body = LeadPageList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn lead_pages(State(s): State<AppState>, auth: Authed) -> ApiResult<ApiJson<LeadPageList>> {
    Ok(ApiJson(LeadPageList {
        items: svc::lead_pages(&s.db, &s.meta, &auth)
            .await
            .map_err(api_error)?,
    }))
}

/// Select the Lead Ads pages (ceo/admin; the complete selection). Each page
/// is subscribed to `leadgen` and its Page token stored encrypted.
#[utoipa::path(operation_id = "metaSelectLeadPages", post, path = "/api/crm/marketing/lead-pages", tag = "meta",
    request_body = SelectPages,
    responses((status = 200, body = TokenStatus), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "asset_in_use"),
        (status = 422, body = ErrorBody, description = "page_not_managed, page_token_missing")))]
async fn select_lead_pages(
    State(s): State<AppState>,
    auth: Authed,
    ApiJson(input): ApiJson<SelectPages>,
) -> ApiResult<ApiJson<TokenStatus>> {
    Ok(ApiJson(
        svc::select_lead_pages(&s.db, &s.meta, &auth, &input)
            .await
            .map_err(api_error)?,
    ))
}
