//! `verification_codes`: the pending code of an account for one kind (`phone`, `email`), stored
//! as a hash.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "verification_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// The number or address the code was sent to.
    pub value: String,
    /// SHA-256 (hex) of the code bound to the account and value.
    pub code_hash: String,
    pub expires_at: i64,
    /// Wrong codes entered so far.
    pub attempts: i32,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
