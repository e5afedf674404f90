use sea_orm::entity::prelude::*;

/// Daily figures that need a second day or a currency: activity-model
/// customers (`cust_a`, `ref_day` = the lead's previous sale day) and amounts
/// without an FX rate (`unconv_spend`, `unconv_rev_c`, `unconv_rev_a`,
/// `ref_day` = the day of the missing rate).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_daily_extra")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub level: String,
    pub campaign_id: String,
    pub ad_id: String,
    pub channel: String,
    pub day: Date,
    pub kind: String,
    pub ref_day: Date,
    pub currency: String,
    pub value: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
