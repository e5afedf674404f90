//! Passwords (issue 18.6): change your own, reset by a single-use token.
//!
//! A reset token is 256 random bits shown once (in an e-mail, to an admin
//! when no e-mail can be sent, or to an operator by `crm user
//! reset-password`); only its SHA-256 is stored. It works once, for 30
//! minutes, and only while its user is active. Setting a password by either
//! route revokes the user's other sessions (all of them after a reset).

use chrono::{DateTime, Duration, Utc};
use crm_db::audit::{self, Actor};
use crm_db::entity::{password_reset, session, tenant, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::roles::{Permission, Role};
use crate::{CoreError, TenantCtx, secrets, validate};

/// How long a reset token works.
pub const RESET_TTL: Duration = Duration::minutes(30);
const RESET_PREFIX: &str = "crm_reset_";

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetCompletion {
    /// The token from the reset link.
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// A reset token just issued: the secret goes into a link and nowhere else.
pub struct IssuedReset {
    pub secret: String,
    pub expires_at: DateTime<Utc>,
    pub user: user::Model,
    pub tenant: tenant::Model,
}

impl std::fmt::Debug for IssuedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedReset")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("user", &self.user.id)
            .finish_non_exhaustive()
    }
}

/// What an admin sees after asking for a reset.
#[derive(Serialize, ToSchema)]
pub struct ResetIssued {
    /// True when the link went to the user by e-mail (then it is not shown here).
    pub emailed: bool,
    /// The one-time link to hand to the user, when no e-mail could be sent.
    pub reset_url: Option<String>,
    pub expires_at: DateTime<Utc>,
}

async fn revoke_sessions(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    except: Option<Uuid>,
) -> Result<u64, CoreError> {
    let mut q = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Some(Utc::now()).into())
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(keep) = except {
        q = q.filter(session::Column::Id.ne(keep));
    }
    Ok(q.exec(conn).await?.rows_affected)
}

/// Changes the caller's own password. The current one is required; every
/// other session of theirs is signed out.
pub async fn change_own(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    session_id: Uuid,
    input: &PasswordChange,
) -> Result<(), CoreError> {
    let user_id = ctx.user_id.ok_or(CoreError::NotFound("user"))?;
    let u = user::Entity::find_by_id(user_id)
        .filter(user::Column::TenantId.eq(ctx.tenant_id))
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("user"))?;
    if !secrets::verify_password_off_thread(&input.current_password, &u.password_hash).await {
        return Err(CoreError::validation(
            "wrong_current_password",
            "the current password is not right",
        ));
    }
    let new = validate::new_password(&input.new_password, &[&u.email, &u.name])?;
    if secrets::verify_password_off_thread(new, &u.password_hash).await {
        return Err(CoreError::validation(
            "same_password",
            "the new password must differ from the current one",
        ));
    }
    let hash = secrets::hash_password_off_thread(new).await?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    set_hash(&txn, &u, hash).await?;
    spend_open_links(&txn, u.id).await?;
    let revoked = revoke_sessions(&txn, u.id, Some(session_id)).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        "auth.password_changed",
        "user",
        Some(u.id.to_string()),
        json!({"other_sessions_revoked": revoked}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Spends every open reset link of the user (their password changed another
/// way, or they were disabled: a link seen before must not work after).
pub(crate) async fn spend_open_links(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<u64, CoreError> {
    Ok(password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Some(Utc::now()).into())
        .filter(password_reset::Column::UserId.eq(user_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected)
}

async fn set_hash(
    conn: &impl ConnectionTrait,
    u: &user::Model,
    hash: String,
) -> Result<(), CoreError> {
    let mut am: user::ActiveModel = u.clone().into();
    am.password_hash = Set(hash);
    am.updated_at = Set(Utc::now());
    am.update(conn).await?;
    Ok(())
}

async fn issue(
    db: &DatabaseConnection,
    actor: &Actor,
    u: user::Model,
    created_by: Option<Uuid>,
    via: &str,
) -> Result<IssuedReset, CoreError> {
    let secret = secrets::new_secret(RESET_PREFIX);
    let now = Utc::now();
    let expires_at = now + RESET_TTL;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    // A new link replaces any earlier one still open.
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Some(now).into())
        .filter(password_reset::Column::UserId.eq(u.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    password_reset::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(u.tenant_id),
        user_id: Set(u.id),
        token_hash: Set(secrets::sha256_hex(&secret)),
        created_by: Set(created_by),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        "auth.password_reset_issued",
        "user",
        Some(u.id.to_string()),
        json!({"via": via}),
    )
    .await?;
    let t = tenant::Entity::find_by_id(u.tenant_id)
        .one(&txn)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    txn.commit().await?;
    Ok(IssuedReset {
        secret,
        expires_at,
        user: u,
        tenant: t,
    })
}

/// An admin (team managers) asks for a reset of a user of their tenant.
/// Only a ceo may reset a ceo; nobody resets themselves this way; a person
/// signed in asks for it (`by_person`), never an integration's API token.
pub async fn issue_by_admin(
    db: &DatabaseConnection,
    ctx: &TenantCtx,
    user_id: Uuid,
    by_person: bool,
) -> Result<IssuedReset, CoreError> {
    ctx.require(Permission::TeamManage)?;
    let u = user::Entity::find_by_id(user_id)
        .filter(user::Column::TenantId.eq(ctx.tenant_id))
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("user"))?;
    if !by_person {
        return Err(CoreError::validation(
            "not_a_session",
            "password resets are asked for by a signed-in person, not an API token",
        ));
    }
    if Some(u.id) == ctx.user_id {
        return Err(CoreError::validation(
            "reset_own_password",
            "change your own password from your account page",
        ));
    }
    if Role::parse(&u.role) == Some(Role::Ceo) && ctx.role != Role::Ceo {
        return Err(CoreError::validation(
            "role_not_grantable",
            "only a ceo can reset a ceo's password",
        ));
    }
    if u.status != "active" {
        return Err(CoreError::validation(
            "user_disabled",
            "enable the user before resetting their password",
        ));
    }
    issue(db, &ctx.actor(), u, ctx.user_id, "admin").await
}

/// Self-service: a reset for whoever owns `email`, if that is an active
/// user. `None` otherwise; the caller answers the same either way.
pub async fn issue_for_email(
    db: &DatabaseConnection,
    email: &str,
    ip: Option<String>,
) -> Result<Option<IssuedReset>, CoreError> {
    let email = email.trim().to_lowercase();
    let Some(u) = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if u.status != "active" {
        return Ok(None);
    }
    // Anonymous: nobody is signed in, so the audit row names no actor
    // (the user it concerns is its resource).
    let actor = Actor {
        tenant_id: u.tenant_id,
        user_id: None,
        token_id: None,
        ip,
        user_agent: None,
    };
    issue(db, &actor, u, None, "email").await.map(Some)
}

/// An operator on the machine (`crm user reset-password`).
pub async fn issue_by_operator(
    db: &DatabaseConnection,
    email: &str,
) -> Result<IssuedReset, CoreError> {
    let email = email.trim().to_lowercase();
    let u = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("user"))?;
    if u.status != "active" {
        return Err(CoreError::validation(
            "user_disabled",
            "the user is disabled; enable them first",
        ));
    }
    let actor = Actor {
        tenant_id: u.tenant_id,
        user_id: None,
        token_id: None,
        ip: None,
        user_agent: Some("crm user reset-password".into()),
    };
    issue(db, &actor, u, None, "cli").await
}

fn invalid_token() -> CoreError {
    CoreError::validation(
        "reset_token_invalid",
        "this reset link is not valid: it was already used, replaced by a newer one, or is older than 30 minutes; ask for a new one",
    )
}

/// Sets a new password with a reset token. The token is spent and every
/// session of the user is signed out.
pub async fn complete(
    db: &DatabaseConnection,
    input: &ResetCompletion,
    ip: Option<String>,
) -> Result<(), CoreError> {
    if !input.token.starts_with(RESET_PREFIX) {
        return Err(invalid_token());
    }
    let hash = secrets::sha256_hex(&input.token);
    let Some(r) = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(&hash))
        .one(db)
        .await?
    else {
        return Err(invalid_token());
    };
    let now = Utc::now();
    if r.used_at.is_some() || r.expires_at <= now {
        return Err(invalid_token());
    }
    let u = user::Entity::find_by_id(r.user_id)
        .one(db)
        .await?
        .filter(|u| u.status == "active" && u.tenant_id == r.tenant_id)
        .ok_or_else(invalid_token)?;
    let new = validate::new_password(&input.new_password, &[&u.email, &u.name])?;
    let new_hash = secrets::hash_password_off_thread(new).await?;
    let txn = db.begin_with_options(crm_db::write_txn()).await?;
    // Spend the token first: of two racing uses, one updates the row.
    let spent = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Some(now).into())
        .filter(password_reset::Column::Id.eq(r.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if spent != 1 {
        return Err(invalid_token());
    }
    set_hash(&txn, &u, new_hash).await?;
    let revoked = revoke_sessions(&txn, u.id, None).await?;
    let actor = Actor {
        tenant_id: u.tenant_id,
        user_id: Some(u.id),
        token_id: None,
        ip,
        user_agent: None,
    };
    audit::record(
        &txn,
        &actor,
        "auth.password_reset",
        "user",
        Some(u.id.to_string()),
        json!({"sessions_revoked": revoked}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
