use sea_orm::entity::prelude::*;

/// Sync state of one connected ad account.
/// `status`: pending, running, ok, error, throttled.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "meta_sync_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub ad_account_id: String,
    pub account_name: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
    pub status: String,
    pub last_started_at: Option<DateTimeUtc>,
    pub last_success_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub last_error_code: Option<i64>,
    pub last_error_at: Option<DateTimeUtc>,
    pub next_run_at: Option<DateTimeUtc>,
    pub backfill_done: bool,
    /// Where an interrupted backfill resumes (the next chunk ends here).
    pub backfill_next_until: Option<Date>,
    pub progress_pct: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
