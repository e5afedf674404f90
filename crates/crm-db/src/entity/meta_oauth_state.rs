use sea_orm::entity::prelude::*;

/// A pending OAuth `state`, stored as its SHA-256 and bound to the tenant and
/// user who started the flow. Deleted when consumed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "meta_oauth_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub state_hash: String,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub redirect_uri: String,
    /// Where the browser lands after the callback (a fixed UI path).
    pub return_path: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
