use sea_orm::entity::prelude::*;

/// One rule firing for one lead and one trigger occurrence. `send_key` is
/// unique: the same occurrence can never produce a second send.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "automation_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub rule_id: Uuid,
    pub lead_id: Uuid,
    pub send_key: String,
    pub occurrence: String,
    /// scheduled, sending, sent, delivered, read, failed, skipped.
    pub status: String,
    pub reason: Option<String>,
    pub template_name: String,
    pub language: String,
    pub rendered: Option<String>,
    pub variables: Json,
    pub wamid: Option<String>,
    pub message_id: Option<Uuid>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    /// [{status, at, reason?}] in order.
    pub timeline: Json,
    pub run_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
