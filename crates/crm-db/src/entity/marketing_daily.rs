use sea_orm::entity::prelude::*;

/// Additive daily Marketing Hub figures of one total (`t`, per channel),
/// campaign (`c`) or ad (`a`). Money in the tenant's reporting currency.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub level: String,
    pub campaign_id: String,
    pub ad_id: String,
    pub channel: String,
    pub day: Date,
    pub insight_rows: i64,
    pub spend: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub reach: i64,
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
