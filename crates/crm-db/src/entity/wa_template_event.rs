use sea_orm::entity::prelude::*;

/// One change of a template's status, quality or category.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "wa_template_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub template_id: Uuid,
    /// status, quality or category.
    pub kind: String,
    pub from_value: Option<String>,
    pub to_value: String,
    pub reason: Option<String>,
    /// create, sync, webhook.
    pub source: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
