use sea_orm::entity::prelude::*;

/// A lead (contact). The attribution columns hold the FIRST touch and are never
/// overwritten; later touches live in `lead_touches`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub status: String,
    pub owner_id: Option<Uuid>,
    pub tags: Json,
    pub lead_source: String,
    pub channel: String,
    pub meta_campaign_id: Option<String>,
    pub meta_adset_id: Option<String>,
    pub meta_ad_id: Option<String>,
    pub meta_ad_headline: Option<String>,
    pub meta_ad_body: Option<String>,
    pub meta_source_url: Option<String>,
    pub meta_lead_id: Option<String>,
    pub meta_form_id: Option<String>,
    pub ctwa_clid: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub utm_term: Option<String>,
    pub fbclid: Option<String>,
    pub external_ids: Json,
    pub opt_in_at: Option<DateTimeUtc>,
    pub opt_in_method: Option<String>,
    pub opt_out_at: Option<DateTimeUtc>,
    pub opt_out_method: Option<String>,
    pub last_inbound_at: Option<DateTimeUtc>,
    pub timezone: String,
    /// Lowercased name, phone digits and email, for text search.
    pub search: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
