use sea_orm::entity::prelude::*;

/// One additive daily figure of the Marketing Hub.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_rollups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub metric: String,
    pub day: Date,
    /// Meta campaign id, or "" for the unknown campaign.
    pub campaign_id: String,
    /// Meta ad id, or "".
    pub ad_id: String,
    /// ISO currency for money metrics, "" for counts.
    pub currency: String,
    pub value: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
