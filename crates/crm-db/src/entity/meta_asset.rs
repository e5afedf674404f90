use sea_orm::entity::prelude::*;

/// A Meta asset a tenant selected: ad_account, waba, phone_number or page.
/// `(kind, external_id)` is unique, so webhooks route to one tenant.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "meta_assets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: String,
    pub external_id: String,
    pub name: Option<String>,
    /// The WABA of a phone number.
    pub parent_id: Option<String>,
    /// Kind-specific facts (currency, timezone, display number, …).
    pub details: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
