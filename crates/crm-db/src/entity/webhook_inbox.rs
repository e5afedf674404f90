use sea_orm::entity::prelude::*;

/// One change from a Meta webhook delivery, stored before it is acknowledged.
/// `dedupe_key` is built from Meta's own ids, so a redelivery is a no-op.
/// `status`: pending, processing, done, failed, unroutable, ignored.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_inbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Null until routed (and for unroutable events).
    pub tenant_id: Option<Uuid>,
    pub object: String,
    pub field: String,
    pub entry_id: String,
    /// page, waba or phone_number.
    pub routing_kind: Option<String>,
    pub routing_id: Option<String>,
    pub dedupe_key: String,
    /// `{"entry_id", "time", "field", "value"}`.
    pub payload: Json,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
