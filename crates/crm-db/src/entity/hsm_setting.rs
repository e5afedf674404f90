use sea_orm::entity::prelude::*;

/// Per-tenant HSM settings.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "hsm_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub opt_out_keywords: Json,
    pub opt_in_keywords: Json,
    pub messages_per_second: i32,
    /// Set when automation is paused for the tenant (e.g. token_invalid).
    pub paused_reason: Option<String>,
    pub paused_at: Option<DateTimeUtc>,
    /// Hand a send whose outcome is unknown to Meta again after silence
    /// (at least once) instead of holding it for review (the default).
    pub resend_unconfirmed: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
