use sea_orm::entity::prelude::*;

/// An encrypted Meta credential (user/system-user token, or a Page token).
/// `ciphertext` is XChaCha20-Poly1305 under the key `key_id`, with the tenant
/// id, kind and ref id as associated data.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "meta_credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// user_token or page_token.
    pub kind: String,
    /// The Page id for page tokens; empty for the user token.
    pub ref_id: String,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
