//! `oauth_links`: a provider account (Facebook, Twitter/X) linked to a local account.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_links")]
pub struct Model {
    /// `facebook` or `twitter`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider: String,
    /// The provider's id of the account.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    /// The local account; at most one link per provider.
    pub user_id: String,
    /// The name the provider gave at the last sign-in.
    pub name: Option<String>,
    /// The provider's handle, where it has one (Twitter/X).
    pub username: Option<String>,
    /// The provider's picture URL at the last sign-in.
    pub avatar_url: Option<String>,
    pub linked_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
