use sea_orm::entity::prelude::*;

/// One attribution touch of a lead. Append-only.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "lead_touches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub lead_id: Uuid,
    pub is_first: bool,
    pub lead_source: String,
    pub channel: String,
    pub meta_campaign_id: Option<String>,
    pub meta_adset_id: Option<String>,
    pub meta_ad_id: Option<String>,
    pub meta_lead_id: Option<String>,
    pub meta_form_id: Option<String>,
    pub ctwa_clid: Option<String>,
    /// Headline, body, source URL, UTM fields, fbclid.
    pub details: Json,
    pub occurred_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
