use sea_orm::entity::prelude::*;

/// A WhatsApp message template of the tenant's WABA, as last seen from Meta
/// (sync or webhook). Rejected and disabled templates are kept.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "wa_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub waba_id: String,
    /// Meta's template id.
    pub meta_id: String,
    pub name: String,
    pub language: String,
    /// MARKETING, UTILITY, AUTHENTICATION.
    pub category: String,
    /// Set when Meta recategorised the template.
    pub previous_category: Option<String>,
    pub category_changed_at: Option<DateTimeUtc>,
    /// APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …
    pub status: String,
    /// POSITIONAL or NAMED.
    pub parameter_format: String,
    pub components: Json,
    /// GREEN, YELLOW, RED, UNKNOWN.
    pub quality: Option<String>,
    pub rejected_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub synced_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
