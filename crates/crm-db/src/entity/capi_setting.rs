use sea_orm::entity::prelude::*;

/// Conversions API settings of a tenant.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "capi_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub dataset_id: Option<String>,
    pub enabled: bool,
    /// `{"lead_created": "initial_lead", …}`: CRM stage → Meta event name.
    pub stage_events: Json,
    pub lead_event_source: String,
    pub test_event_code: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
