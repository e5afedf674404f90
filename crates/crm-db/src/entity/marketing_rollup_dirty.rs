use sea_orm::entity::prelude::*;

/// A lead or a day whose Marketing Hub rollups must be recomputed. `generation`
/// grows on every new mark, so a recompute only clears what it saw.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_rollup_dirty")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `lead`, `day` or `all`.
    pub kind: String,
    pub key: String,
    pub generation: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
