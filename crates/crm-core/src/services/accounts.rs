//! Tenants, users, sessions and API tokens.

use chrono::{DateTime, Duration, Utc};
use crm_db::audit::{self, Actor};
use crm_db::entity::{api_token, session, tenant, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set, Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::roles::{Permission, Role};
use crate::{CoreError, TenantCtx, secrets, validate};

pub const SESSION_PREFIX: &str = "crm_ses_";
pub const TOKEN_PREFIX: &str = "crm_tok_";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    pub name: String,
    /// Reporting currency (ISO 4217).
    pub currency: String,
    /// IANA time zone used for reports and quiet hours.
    pub timezone: String,
    pub locale: String,
    /// Default country for phone numbers (ISO 3166 alpha-2).
    pub country: String,
}

impl From<tenant::Model> for TenantView {
    fn from(t: tenant::Model) -> Self {
        Self {
            id: t.id,
            name: t.name,
            currency: t.currency,
            timezone: t.timezone,
            locale: t.locale,
            country: t.country,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<user::Model> for UserView {
    fn from(u: user::Model) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            role: Role::parse(&u.role).unwrap_or(Role::Seller),
            status: u.status,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the token stops working; null: until it is revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<api_token::Model> for ApiTokenView {
    fn from(t: api_token::Model) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: Role::parse(&t.role).unwrap_or(Role::Seller),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            expires_at: t.expires_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewTenant {
    pub name: String,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default = "default_locale")]
    pub locale: String,
    #[serde(default = "default_country")]
    pub country: String,
}

fn default_currency() -> String {
    "USD".into()
}
fn default_timezone() -> String {
    "America/Argentina/Buenos_Aires".into()
}
fn default_locale() -> String {
    "es".into()
}
fn default_country() -> String {
    "AR".into()
}

#[derive(Clone, Deserialize, ToSchema)]
pub struct NewUser {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    pub name: String,
    pub role: Role,
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct UserPatch {
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    pub name: Option<String>,
    pub role: Option<Role>,
    /// `active` or `disabled`.
    #[schema(pattern = r"^(active|disabled)$")]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TenantPatch {
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(pattern = r"^\s*[A-Za-z]{3}\s*$")]
    pub currency: Option<String>,
    #[schema(min_length = 1)]
    pub timezone: Option<String>,
    #[schema(pattern = r"^\s*(es|en)\s*$")]
    pub locale: Option<String>,
    #[schema(pattern = r"^\s*[A-Za-z]{2}\s*$")]
    pub country: Option<String>,
}

/// First-run input: the first tenant and its CEO.
#[derive(Clone, Deserialize, ToSchema)]
pub struct SetupInput {
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    pub tenant_name: String,
    #[serde(default = "default_currency")]
    #[schema(pattern = r"^\s*[A-Za-z]{3}\s*$")]
    pub currency: String,
    #[serde(default = "default_timezone")]
    #[schema(min_length = 1)]
    pub timezone: String,
    #[serde(default = "default_locale")]
    #[schema(pattern = r"^\s*(es|en)\s*$")]
    pub locale: String,
    #[serde(default = "default_country")]
    #[schema(pattern = r"^\s*[A-Za-z]{2}\s*$")]
    pub country: String,
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    pub name: String,
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// In production: the one-time token `crm serve` printed at its first
    /// start (see `GET /api/setup`'s `needs_setup_token`).
    #[serde(default)]
    pub setup_token: Option<String>,
}

/// A resolved, live session.
#[derive(Clone)]
pub struct SessionInfo {
    pub session_id: Uuid,
    pub csrf_token: String,
    pub user: user::Model,
    pub tenant: tenant::Model,
}

/// A session just created: the secret goes to the cookie and nowhere else.
pub struct NewSession {
    pub secret: String,
    pub info: SessionInfo,
}

fn validated_tenant(input: &NewTenant) -> Result<tenant::ActiveModel, CoreError> {
    let now = Utc::now();
    Ok(tenant::ActiveModel {
        id: Set(crm_db::new_id()),
        name: Set(validate::name("name", &input.name, 120)?),
        currency: Set(validate::currency(&input.currency)?),
        timezone: Set(validate::timezone(&input.timezone)?),
        locale: Set(validate::locale(&input.locale)?),
        country: Set(validate::country(&input.country)?),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

async fn insert_user(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    input: &NewUser,
) -> Result<user::Model, CoreError> {
    let email = validate::email(&input.email)?;
    let name = validate::name("name", &input.name, 120)?;
    let password = validate::new_password(&input.password, &[&email, &name])?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(conn)
        .await?
        .is_some()
    {
        return Err(CoreError::conflict(
            "email_taken",
            format!("a user with email {email} already exists"),
        ));
    }
    let now = Utc::now();
    let m = user::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(tenant_id),
        email: Set(email),
        name: Set(name),
        role: Set(input.role.as_str().to_owned()),
        status: Set("active".to_owned()),
        password_hash: Set(secrets::hash_password(password)?),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(m)
}

/// Whether the first-run setup is still open (no user exists anywhere).
pub async fn needs_setup(db: &DatabaseConnection) -> Result<bool, CoreError> {
    Ok(user::Entity::find().count(db).await? == 0)
}

/// Creates a tenant (admin CLI).
pub async fn create_tenant(
    db: &DatabaseConnection,
    input: &NewTenant,
) -> Result<tenant::Model, CoreError> {
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let t = validated_tenant(input)?.insert(&txn).await?;
    audit::record(
        &txn,
        &Actor::system(t.id),
        "tenant.create",
        "tenant",
        Some(t.id.to_string()),
        json!({"name": t.name, "via": "cli"}),
    )
    .await?;
    txn.commit().await?;
    Ok(t)
}

/// Creates a user in a tenant from the admin CLI (no caller session).
pub async fn create_user_cli(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    input: &NewUser,
) -> Result<user::Model, CoreError> {
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    if tenant::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?
        .is_none()
    {
        return Err(CoreError::NotFound("tenant"));
    }
    let u = insert_user(&txn, tenant_id, input).await?;
    audit::record(
        &txn,
        &Actor::system(tenant_id),
        "user.create",
        "user",
        Some(u.id.to_string()),
        json!({"email": u.email, "role": u.role, "via": "cli"}),
    )
    .await?;
    txn.commit().await?;
    Ok(u)
}

/// First run: creates the first tenant and its CEO, only while no user exists,
/// and opens a session for the new CEO.
pub async fn setup(
    db: &DatabaseConnection,
    input: &SetupInput,
    ip: Option<String>,
    user_agent: Option<String>,
    session_ttl: Duration,
) -> Result<NewSession, CoreError> {
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    if crm_db::is_postgres(&txn) {
        // Serialise concurrent first-run attempts.
        txn.execute_raw(Statement::from_string(
            txn.get_database_backend(),
            "LOCK TABLE users IN EXCLUSIVE MODE",
        ))
        .await?;
    }
    if user::Entity::find().count(&txn).await? > 0 {
        return Err(CoreError::conflict(
            "setup_already_done",
            "setup is closed: a user already exists",
        ));
    }
    let t = validated_tenant(&NewTenant {
        name: input.tenant_name.clone(),
        currency: input.currency.clone(),
        timezone: input.timezone.clone(),
        locale: input.locale.clone(),
        country: input.country.clone(),
    })?
    .insert(&txn)
    .await?;
    let u = insert_user(
        &txn,
        t.id,
        &NewUser {
            email: input.email.clone(),
            name: input.name.clone(),
            role: Role::Ceo,
            password: input.password.clone(),
        },
    )
    .await?;
    let actor = Actor {
        tenant_id: t.id,
        user_id: Some(u.id),
        token_id: None,
        ip: ip.clone(),
        user_agent: user_agent.clone(),
    };
    audit::record(
        &txn,
        &actor,
        "setup.complete",
        "tenant",
        Some(t.id.to_string()),
        json!({"tenant": t.name, "ceo": u.email}),
    )
    .await?;
    let s = open_session(&txn, &u, ip, user_agent, session_ttl).await?;
    txn.commit().await?;
    Ok(NewSession {
        secret: s.0,
        info: SessionInfo {
            session_id: s.1.id,
            csrf_token: s.1.csrf_token,
            user: u,
            tenant: t,
        },
    })
}

async fn open_session(
    conn: &impl ConnectionTrait,
    u: &user::Model,
    ip: Option<String>,
    user_agent: Option<String>,
    ttl: Duration,
) -> Result<(String, session::Model), CoreError> {
    let secret = secrets::new_secret(SESSION_PREFIX);
    let now = Utc::now();
    let s = session::ActiveModel {
        id: Set(crm_db::new_id()),
        token_hash: Set(secrets::sha256_hex(&secret)),
        tenant_id: Set(u.tenant_id),
        user_id: Set(u.id),
        csrf_token: Set(secrets::new_secret("")),
        ip: Set(ip),
        user_agent: Set(user_agent.map(|ua| ua.chars().take(400).collect())),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + ttl),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok((secret, s))
}

/// Result of a login attempt that did not succeed.
#[derive(Debug)]
pub enum LoginFailure {
    BadCredentials,
    Disabled,
}

/// Checks email and password and opens a session. Failures are audited in the
/// user's tenant when the email belongs to a user.
pub async fn login(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
    ip: Option<String>,
    user_agent: Option<String>,
    session_ttl: Duration,
) -> Result<Result<NewSession, LoginFailure>, CoreError> {
    let email = email.trim().to_lowercase();
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?;
    let Some(u) = found else {
        // Spend the same time as a real check.
        secrets::verify_password_off_thread(password, secrets::dummy_hash()).await;
        return Ok(Err(LoginFailure::BadCredentials));
    };
    let ok = secrets::verify_password_off_thread(password, &u.password_hash).await;
    let actor = Actor {
        tenant_id: u.tenant_id,
        user_id: Some(u.id),
        token_id: None,
        ip: ip.clone(),
        user_agent: user_agent.clone(),
    };
    if !ok || u.status != "active" {
        let reason = if ok { "disabled" } else { "bad_password" };
        audit::record(
            db,
            &actor,
            "auth.login_failed",
            "user",
            Some(u.id.to_string()),
            json!({"reason": reason}),
        )
        .await?;
        return Ok(Err(if ok {
            LoginFailure::Disabled
        } else {
            LoginFailure::BadCredentials
        }));
    }
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let (secret, s) = open_session(&txn, &u, ip, user_agent, session_ttl).await?;
    let mut am: user::ActiveModel = u.clone().into();
    am.last_login_at = Set(Some(Utc::now()));
    let u = am.update(&txn).await?;
    audit::record(
        &txn,
        &actor,
        "auth.login",
        "session",
        Some(s.id.to_string()),
        json!({}),
    )
    .await?;
    let t = tenant::Entity::find_by_id(u.tenant_id)
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    txn.commit().await?;
    Ok(Ok(NewSession {
        secret,
        info: SessionInfo {
            session_id: s.id,
            csrf_token: s.csrf_token,
            user: u,
            tenant: t,
        },
    }))
}

/// Resolves a session secret into a live session: not revoked, not expired,
/// not idle for longer than `idle`, and its user still active. The user's
/// role is read fresh on every call, so a role change applies to the very
/// next request.
pub async fn resolve_session(
    db: &DatabaseConnection,
    secret: &str,
    idle: Duration,
) -> Result<Option<SessionInfo>, CoreError> {
    if !secret.starts_with(SESSION_PREFIX) {
        return Ok(None);
    }
    let hash = secrets::sha256_hex(secret);
    let Some(s) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if s.revoked_at.is_some() || s.expires_at <= now {
        return Ok(None);
    }
    if now - s.last_seen_at > idle {
        // Recorded, so a longer idle setting later does not revive it.
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Some(now).into())
            .filter(session::Column::Id.eq(s.id))
            .filter(session::Column::RevokedAt.is_null())
            .exec(db)
            .await?;
        return Ok(None);
    }
    let Some(u) = user::Entity::find_by_id(s.user_id).one(db).await? else {
        return Ok(None);
    };
    if u.status != "active" || u.tenant_id != s.tenant_id {
        return Ok(None);
    }
    let Some(t) = tenant::Entity::find_by_id(u.tenant_id).one(db).await? else {
        return Ok(None);
    };
    if now - s.last_seen_at > Duration::minutes(1) {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, now.into())
            .filter(session::Column::Id.eq(s.id))
            .exec(db)
            .await?;
    }
    Ok(Some(SessionInfo {
        session_id: s.id,
        csrf_token: s.csrf_token,
        user: u,
        tenant: t,
    }))
}

pub async fn logout(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    session_id: Uuid,
) -> Result<(), CoreError> {
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Some(Utc::now()).into())
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::TenantId.eq(ctx.tenant_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "auth.logout",
        "session",
        Some(session_id.to_string()),
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A resolved API token.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub token: api_token::Model,
    pub role: Role,
}

pub async fn resolve_api_token(
    db: &DatabaseConnection,
    secret: &str,
) -> Result<Option<TokenInfo>, CoreError> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let Some(t) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(secrets::sha256_hex(secret)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if t.revoked_at.is_some() || t.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let Some(role) = Role::parse(&t.role) else {
        return Ok(None);
    };
    // A token stops working when the person who created it is disabled
    // (revoke it and create another under an active user to keep an
    // integration running).
    if let Some(creator) = t.created_by {
        let active = user::Entity::find_by_id(creator)
            .one(db)
            .await?
            .is_some_and(|u| u.status == "active");
        if !active {
            return Ok(None);
        }
    }
    if t.last_used_at
        .is_none_or(|at| now - at > Duration::minutes(1))
    {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Some(now).into())
            .filter(api_token::Column::Id.eq(t.id))
            .exec(db)
            .await?;
    }
    Ok(Some(TokenInfo { token: t, role }))
}

/// Only a CEO may grant the CEO role.
fn check_grant(ctx: &TenantCtx, role: Role) -> Result<(), CoreError> {
    if role == Role::Ceo && ctx.role != Role::Ceo {
        return Err(CoreError::Validation {
            code: "role_not_grantable",
            message: "only a ceo can grant the ceo role".into(),
            details: None,
        });
    }
    Ok(())
}

pub async fn list_team(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
) -> Result<Vec<UserView>, CoreError> {
    ctx.require(Permission::TeamManage)?;
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(ctx.tenant_id))
        .order_by_asc(user::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(users.into_iter().map(UserView::from).collect())
}

pub async fn create_team_member(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &NewUser,
) -> Result<UserView, CoreError> {
    ctx.require(Permission::TeamManage)?;
    check_grant(ctx, input.role)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let u = insert_user(&txn, ctx.tenant_id, input).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "user.create",
        "user",
        Some(u.id.to_string()),
        json!({"email": u.email, "role": u.role}),
    )
    .await?;
    txn.commit().await?;
    Ok(u.into())
}

pub async fn update_team_member(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
    patch: &UserPatch,
) -> Result<UserView, CoreError> {
    ctx.require(Permission::TeamManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let u = user::Entity::find_by_id(id)
        .filter(user::Column::TenantId.eq(ctx.tenant_id))
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound("user"))?;
    let current_role = Role::parse(&u.role).unwrap_or(Role::Seller);
    if current_role == Role::Ceo && ctx.role != Role::Ceo {
        return Err(CoreError::validation(
            "role_not_grantable",
            "only a ceo can change another ceo",
        ));
    }
    let mut changes = serde_json::Map::new();
    let mut am: user::ActiveModel = u.clone().into();
    if let Some(name) = &patch.name {
        let n = validate::name("name", name, 120)?;
        changes.insert("name".into(), json!({"from": u.name, "to": n}));
        am.name = Set(n);
    }
    if let Some(role) = patch.role {
        check_grant(ctx, role)?;
        if Some(id) == ctx.user_id && role != current_role {
            return Err(CoreError::validation(
                "cannot_change_own_role",
                "you cannot change your own role",
            ));
        }
        changes.insert("role".into(), json!({"from": u.role, "to": role.as_str()}));
        am.role = Set(role.as_str().to_owned());
    }
    if let Some(status) = &patch.status {
        if status != "active" && status != "disabled" {
            return Err(CoreError::validation(
                "invalid_status",
                "status must be active or disabled",
            ));
        }
        if Some(id) == ctx.user_id && status == "disabled" {
            return Err(CoreError::validation(
                "cannot_disable_self",
                "you cannot disable your own account",
            ));
        }
        changes.insert("status".into(), json!({"from": u.status, "to": status}));
        am.status = Set(status.clone());
        if status == "disabled" {
            super::passwords::spend_open_links(&txn, id).await?;
            session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Some(Utc::now()).into())
                .filter(session::Column::UserId.eq(id))
                .filter(session::Column::RevokedAt.is_null())
                .exec(&txn)
                .await?;
        }
    }
    am.updated_at = Set(Utc::now());
    let u = am.update(&txn).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "user.update",
        "user",
        Some(u.id.to_string()),
        serde_json::Value::Object(changes),
    )
    .await?;
    txn.commit().await?;
    Ok(u.into())
}

pub async fn list_tokens(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
) -> Result<Vec<ApiTokenView>, CoreError> {
    ctx.require(Permission::TokensManage)?;
    let rows = api_token::Entity::find()
        .filter(api_token::Column::TenantId.eq(ctx.tenant_id))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(ApiTokenView::from).collect())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewApiToken {
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    pub name: String,
    pub role: Role,
    /// Days until the token stops working (1 to 3650); absent: until it is
    /// revoked.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

pub async fn create_token(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    input: &NewApiToken,
) -> Result<(ApiTokenView, String), CoreError> {
    ctx.require(Permission::TokensManage)?;
    check_grant(ctx, input.role)?;
    let name = validate::name("name", &input.name, 120)?;
    let expires_at = match input.expires_in_days {
        None => None,
        Some(d @ 1..=3650) => Some(Utc::now() + Duration::days(i64::from(d))),
        Some(_) => {
            return Err(CoreError::validation(
                "invalid_expiry",
                "expires_in_days must be between 1 and 3650",
            ));
        }
    };
    let secret = secrets::new_secret(TOKEN_PREFIX);
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let t = api_token::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(ctx.tenant_id),
        name: Set(name),
        role: Set(input.role.as_str().to_owned()),
        token_hash: Set(secrets::sha256_hex(&secret)),
        created_by: Set(ctx.user_id),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "api_token.create",
        "api_token",
        Some(t.id.to_string()),
        json!({"name": t.name, "role": t.role, "expires_at": t.expires_at}),
    )
    .await?;
    txn.commit().await?;
    Ok((t.into(), secret))
}

pub async fn revoke_token(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    id: Uuid,
) -> Result<(), CoreError> {
    ctx.require(Permission::TokensManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let t = api_token::Entity::find_by_id(id)
        .filter(api_token::Column::TenantId.eq(ctx.tenant_id))
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound("api token"))?;
    if t.revoked_at.is_none() {
        let mut am: api_token::ActiveModel = t.into();
        am.revoked_at = Set(Some(Utc::now()));
        am.update(&txn).await?;
    }
    audit::record(
        &txn,
        &ctx.actor(),
        "api_token.revoke",
        "api_token",
        Some(id.to_string()),
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn get_tenant(db: &DatabaseConnection, ctx: &TenantCtx) -> Result<TenantView, CoreError> {
    tenant::Entity::find_by_id(ctx.tenant_id)
        .one(db)
        .await?
        .map(TenantView::from)
        .ok_or(CoreError::NotFound("tenant"))
}

pub async fn update_tenant(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    patch: &TenantPatch,
) -> Result<TenantView, CoreError> {
    ctx.require(Permission::SettingsManage)?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    let t = tenant::Entity::find_by_id(ctx.tenant_id)
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    let mut am: tenant::ActiveModel = t.into();
    let mut changed = serde_json::Map::new();
    if let Some(v) = &patch.name {
        let v = validate::name("name", v, 120)?;
        changed.insert("name".into(), json!(v));
        am.name = Set(v);
    }
    if let Some(v) = &patch.currency {
        let v = validate::currency(v)?;
        changed.insert("currency".into(), json!(v));
        am.currency = Set(v);
    }
    if let Some(v) = &patch.timezone {
        let v = validate::timezone(v)?;
        changed.insert("timezone".into(), json!(v));
        am.timezone = Set(v);
    }
    if let Some(v) = &patch.locale {
        let v = validate::locale(v)?;
        changed.insert("locale".into(), json!(v));
        am.locale = Set(v);
    }
    if let Some(v) = &patch.country {
        let v = validate::country(v)?;
        changed.insert("country".into(), json!(v));
        am.country = Set(v);
    }
    am.updated_at = Set(Utc::now());
    let t = am.update(&txn).await?;
    if changed.contains_key("currency") || changed.contains_key("timezone") {
        // Days and conversions of every Marketing Hub number move.
        crm_db::rollups::mark_all(&txn, t.id).await?;
        crm_db::rollups::bump_version(&txn, t.id).await?;
    }
    audit::record(
        &txn,
        &ctx.actor(),
        "tenant.update",
        "tenant",
        Some(t.id.to_string()),
        serde_json::Value::Object(changed),
    )
    .await?;
    txn.commit().await?;
    Ok(t.into())
}

/// One API token of a tenant, without a permission check (for `me`).
pub async fn list_tokens_unchecked(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<ApiTokenView>, CoreError> {
    Ok(api_token::Entity::find_by_id(id)
        .filter(api_token::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .map(ApiTokenView::from))
}

// `Debug` of the types that carry a password, a session secret or a CSRF
// token prints everything but those (they must never reach a log line).
const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password", &REDACTED)
            .finish()
    }
}

impl std::fmt::Debug for SetupInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupInput")
            .field("tenant_name", &self.tenant_name)
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("setup_token", &self.setup_token.as_ref().map(|_| REDACTED))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionInfo")
            .field("session_id", &self.session_id)
            .field("csrf_token", &REDACTED)
            .field("user", &self.user)
            .field("tenant", &self.tenant.id)
            .finish()
    }
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("secret", &REDACTED)
            .field("info", &self.info)
            .finish()
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn debug_never_prints_passwords_secrets_csrf_tokens_or_hashes() {
        let now = Utc::now();
        let user = user::Model {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            email: "ana@example.test".into(),
            name: "Ana".into(),
            role: "seller".into(),
            status: "active".into(),
            password_hash: "$argon2id$v=19$SECRET-HASH".into(),
            created_at: now,
            updated_at: now,
            last_login_at: None,
        };
        let tenant = tenant::Model {
            id: Uuid::nil(),
            name: "Acme".into(),
            currency: "USD".into(),
            timezone: "UTC".into(),
            locale: "es".into(),
            country: "AR".into(),
            created_at: now,
            updated_at: now,
        };
        let s = NewSession {
            secret: "crm_s_SECRET-SESSION".into(),
            info: SessionInfo {
                session_id: Uuid::nil(),
                csrf_token: "SECRET-CSRF".into(),
                user,
                tenant,
            },
        };
        let input = NewUser {
            email: "ana@example.test".into(),
            name: "Ana".into(),
            role: Role::Seller,
            password: "SECRET-PASSWORD".into(),
        };
        let printed = format!("{s:?} {input:?} {:#?}", s.info.user);
        assert!(printed.contains("ana@example.test"), "{printed}");
        for secret in [
            "SECRET-HASH",
            "SECRET-SESSION",
            "SECRET-CSRF",
            "SECRET-PASSWORD",
        ] {
            assert!(!printed.contains(secret), "{secret} printed: {printed}");
        }
    }
}
