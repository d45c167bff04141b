//! `verified_contacts`: a phone number or e-mail address an account proved it holds. The
//! primary key (`kind`, `value`) lets a value be verified by one account only.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "verified_contacts")]
pub struct Model {
    /// `phone` or `email`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// E.164 number or lower-cased e-mail address.
    #[sea_orm(primary_key, auto_increment = false)]
    pub value: String,
    pub user_id: String,
    pub verified_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
