use sea_orm::entity::prelude::*;

/// A tenant's Meta connection (at most one per tenant). The token itself is
/// never here: it lives encrypted in `meta_credentials`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "meta_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// ok, expiring, expired, invalid, missing_scopes, disconnected.
    pub status: String,
    /// oauth or system_user.
    pub source: String,
    pub meta_user_id: Option<String>,
    pub meta_user_name: Option<String>,
    pub token_type: Option<String>,
    pub scopes: Json,
    pub granular_scopes: Json,
    pub expires_at: Option<DateTimeUtc>,
    pub data_access_expires_at: Option<DateTimeUtc>,
    pub checked_at: Option<DateTimeUtc>,
    pub last_error: Option<Json>,
    pub business_id: Option<String>,
    pub business_name: Option<String>,
    pub connected_by: Option<Uuid>,
    pub connected_at: Option<DateTimeUtc>,
    pub disconnected_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
