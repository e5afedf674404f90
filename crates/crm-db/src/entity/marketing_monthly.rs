use sea_orm::entity::prelude::*;

/// `marketing_daily` summed per calendar month (`month` = its first day):
/// what long ranges read for their whole months.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_monthly")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub level: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub campaign_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub ad_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub channel: String,
    pub insight_rows: i64,
    pub spend: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub meta_leads: i64,
    pub messaging: i64,
    pub leads: i64,
    pub opps_c: i64,
    pub won_c: i64,
    pub customers_c: i64,
    pub revenue_c: i64,
    pub opps_a: i64,
    pub won_a: i64,
    pub revenue_a: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The additive figures, in [`crate::rollups::SUM_COLUMNS`] order.
    pub fn sums(&self) -> [i64; 14] {
        [
            self.insight_rows,
            self.spend,
            self.impressions,
            self.clicks,
            self.meta_leads,
            self.messaging,
            self.leads,
            self.opps_c,
            self.won_c,
            self.customers_c,
            self.revenue_c,
            self.opps_a,
            self.won_a,
            self.revenue_a,
        ]
    }
}
