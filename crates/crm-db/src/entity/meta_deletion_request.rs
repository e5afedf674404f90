use sea_orm::entity::prelude::*;

/// A data-deletion request received from Meta (`signed_request`), with the
/// confirmation code Meta shows the person.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "meta_deletion_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub confirmation_code: String,
    pub meta_user_id: String,
    pub tenants_affected: i32,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
