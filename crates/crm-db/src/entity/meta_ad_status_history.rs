use sea_orm::entity::prelude::*;

/// A status change of a synced ad object, as observed by a sync.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "meta_ad_status_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub level: String,
    pub external_id: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub effective_status: Option<String>,
    pub observed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
