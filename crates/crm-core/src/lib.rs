//! Domain types and services of CRM Ventas. No HTTP types live here: the
//! server turns requests into calls on these services, and each service does
//! its writes, its audit row and its outbox events in one transaction.

pub mod automation;
pub mod error;
pub mod metrics;
pub mod roles;
pub mod secrets;
pub mod services;
pub mod validate;
pub mod vault;

pub use error::CoreError;
pub use roles::{Permission, Role};

/// The authenticated caller: resolved from a session cookie or an API token,
/// never from anything in the request body.
#[derive(Debug, Clone)]
pub struct TenantCtx {
    pub tenant_id: uuid::Uuid,
    pub user_id: Option<uuid::Uuid>,
    pub token_id: Option<uuid::Uuid>,
    pub role: Role,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl TenantCtx {
    pub fn actor(&self) -> crm_db::audit::Actor {
        crm_db::audit::Actor {
            tenant_id: self.tenant_id,
            user_id: self.user_id,
            token_id: self.token_id,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }

    pub fn can(&self, p: Permission) -> bool {
        self.role.has(p)
    }

    pub fn require(&self, p: Permission) -> Result<(), CoreError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(p))
        }
    }
}
