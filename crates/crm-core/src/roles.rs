//! Roles and the permission matrix. The server checks a permission on every
//! route; the web app receives the caller's permissions and filters its menus
//! from them, so the matrix is written once, here.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Ceo,
    Admin,
    Marketing,
    Seller,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Ceo, Role::Admin, Role::Marketing, Role::Seller];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ceo => "ceo",
            Role::Admin => "admin",
            Role::Marketing => "marketing",
            Role::Seller => "seller",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "ceo" => Some(Role::Ceo),
            "admin" => Some(Role::Admin),
            "marketing" => Some(Role::Marketing),
            "seller" => Some(Role::Seller),
            _ => None,
        }
    }

    /// Whether this role may only see records assigned to the caller.
    pub fn own_records_only(self) -> bool {
        self == Role::Seller
    }

    pub fn has(self, p: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match p {
            TeamManage | TokensManage | AuditRead | SettingsManage | MetaManage | HsmManage
            | LeadsImport | WebhooksManage => matches!(self, Ceo | Admin),
            LeadsRead | PipelineRead => true,
            LeadsWrite | PipelineWrite | SalesWrite | MessagesSend => {
                matches!(self, Ceo | Admin | Seller)
            }
            MarketingRead | MarketingManage => matches!(self, Ceo | Admin | Marketing),
        }
    }

    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| self.has(*p))
            .collect()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Permission {
    #[serde(rename = "team.manage")]
    TeamManage,
    #[serde(rename = "tokens.manage")]
    TokensManage,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "settings.manage")]
    SettingsManage,
    #[serde(rename = "meta.manage")]
    MetaManage,
    #[serde(rename = "webhooks.manage")]
    WebhooksManage,
    #[serde(rename = "leads.read")]
    LeadsRead,
    #[serde(rename = "leads.write")]
    LeadsWrite,
    #[serde(rename = "leads.import")]
    LeadsImport,
    #[serde(rename = "pipeline.read")]
    PipelineRead,
    #[serde(rename = "pipeline.write")]
    PipelineWrite,
    #[serde(rename = "sales.write")]
    SalesWrite,
    #[serde(rename = "messages.send")]
    MessagesSend,
    #[serde(rename = "marketing.read")]
    MarketingRead,
    #[serde(rename = "marketing.manage")]
    MarketingManage,
    #[serde(rename = "hsm.manage")]
    HsmManage,
}

impl Permission {
    pub const ALL: [Permission; 16] = [
        Permission::TeamManage,
        Permission::TokensManage,
        Permission::AuditRead,
        Permission::SettingsManage,
        Permission::MetaManage,
        Permission::WebhooksManage,
        Permission::LeadsRead,
        Permission::LeadsWrite,
        Permission::LeadsImport,
        Permission::PipelineRead,
        Permission::PipelineWrite,
        Permission::SalesWrite,
        Permission::MessagesSend,
        Permission::MarketingRead,
        Permission::MarketingManage,
        Permission::HsmManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::TeamManage => "team.manage",
            Permission::TokensManage => "tokens.manage",
            Permission::AuditRead => "audit.read",
            Permission::SettingsManage => "settings.manage",
            Permission::MetaManage => "meta.manage",
            Permission::WebhooksManage => "webhooks.manage",
            Permission::LeadsRead => "leads.read",
            Permission::LeadsWrite => "leads.write",
            Permission::LeadsImport => "leads.import",
            Permission::PipelineRead => "pipeline.read",
            Permission::PipelineWrite => "pipeline.write",
            Permission::SalesWrite => "sales.write",
            Permission::MessagesSend => "messages.send",
            Permission::MarketingRead => "marketing.read",
            Permission::MarketingManage => "marketing.manage",
            Permission::HsmManage => "hsm.manage",
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_matches_the_documented_roles() {
        assert!(Role::Ceo.has(Permission::TeamManage));
        assert!(Role::Admin.has(Permission::TeamManage));
        assert!(!Role::Marketing.has(Permission::TeamManage));
        assert!(!Role::Seller.has(Permission::TeamManage));
        assert!(Role::Marketing.has(Permission::MarketingRead));
        assert!(!Role::Seller.has(Permission::MarketingRead));
        assert!(!Role::Marketing.has(Permission::LeadsWrite));
        assert!(Role::Marketing.has(Permission::LeadsRead));
        assert!(Role::Seller.has(Permission::LeadsWrite));
        assert!(!Role::Marketing.has(Permission::HsmManage));
        assert!(Role::Seller.own_records_only());
        assert!(!Role::Admin.own_records_only());
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for p in Permission::ALL {
            let json = serde_json::to_string(&p).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
    }
}
