use sea_orm::entity::prelude::*;

/// A WhatsApp message to or from a lead.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "wa_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub lead_id: Uuid,
    /// in or out.
    pub direction: String,
    pub wamid: Option<String>,
    /// text, template, image, button, …
    pub kind: String,
    pub template_id: Option<Uuid>,
    pub template_name: Option<String>,
    pub template_category: Option<String>,
    /// The text the person wrote or read.
    pub body: String,
    /// received; or sending, sent, delivered, read, failed.
    pub status: String,
    pub sent_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub read_at: Option<DateTimeUtc>,
    pub failed_at: Option<DateTimeUtc>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub rule_id: Option<Uuid>,
    pub run_id: Option<Uuid>,
    pub sent_by: Option<Uuid>,
    /// Click-to-WhatsApp referral of an inbound message.
    pub referral: Option<Json>,
    pub payload: Json,
    /// The client's `Idempotency-Key` of a manual send (unique per tenant).
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
