use sea_orm::entity::prelude::*;

/// The field mapping of one Meta Lead Ads form of a tenant.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "lead_form_mappings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub page_id: String,
    pub form_id: String,
    pub form_name: Option<String>,
    /// `[{"key", "label", "type"}]`: the form's questions when last fetched.
    pub questions: Json,
    /// `{"question key": "target"}` (`full_name`, `email`, `note`, `tag`, …).
    pub mapping: Json,
    pub updated_at: DateTimeUtc,
    pub updated_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
