use sea_orm::entity::prelude::*;

/// A sales transaction. `kind` is `sale` or `refund`; a refund references the
/// sale it reverses in `refund_of`. `amount_minor` is always positive and never
/// edited after insert; a refund's effect on revenue is negative.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sales")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub opportunity_id: Uuid,
    pub lead_id: Uuid,
    pub kind: String,
    pub refund_of: Option<Uuid>,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub paid_at: Option<DateTimeUtc>,
    pub method: Option<String>,
    pub invoice_ref: Option<String>,
    pub note: Option<String>,
    /// The lead's attribution at the time of the sale.
    pub attribution: Json,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
