use sea_orm::entity::prelude::*;

/// A synced campaign, ad set or ad (`level`). Deleted and archived objects are
/// kept; status changes go to `meta_ad_status_history`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "meta_ad_objects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub level: String,
    pub external_id: String,
    pub ad_account_id: String,
    pub campaign_id: Option<String>,
    pub adset_id: Option<String>,
    pub name: String,
    pub status: String,
    pub effective_status: Option<String>,
    pub objective: Option<String>,
    pub creative_title: Option<String>,
    pub creative_body: Option<String>,
    pub created_time: Option<String>,
    pub first_seen_at: DateTimeUtc,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
