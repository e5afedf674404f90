use sea_orm::entity::prelude::*;

/// Daily ad-level insights in the ad account's day and currency.
/// `meta_leads` is Meta's `lead` aggregate only.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "meta_insights_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub ad_account_id: String,
    pub campaign_id: String,
    pub adset_id: String,
    pub ad_id: String,
    pub day: Date,
    pub currency: String,
    pub spend_minor: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub reach: i64,
    pub meta_leads: i64,
    pub messaging_started: i64,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
