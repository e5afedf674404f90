use sea_orm::entity::prelude::*;

/// One counted event of a Meta-attributed lead (see the rollups migration).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_lead_facts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub lead_id: Uuid,
    pub kind: String,
    pub campaign_id: String,
    pub ad_id: String,
    pub channel: String,
    /// The day the fact counts in (tenant time zone).
    pub day: Date,
    /// The FX day for money; the previous sale day for activity customers.
    pub ref_day: Date,
    /// ISO currency for money, "" for counts.
    pub currency: String,
    pub value: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
