//! `users`: accounts.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Lower-case, unique, validated at registration.
    #[sea_orm(unique)]
    pub username: String,
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub created_at: i64,
    /// When the user's last session closed; `None` until then.
    pub last_seen: Option<i64>,
    /// Status line shown on the profile.
    pub about: Option<String>,
    pub email: Option<String>,
    /// E.164, e.g. `+14155550123`.
    pub phone: Option<String>,
    /// Media id of the avatar.
    pub avatar_media: Option<String>,
    /// Set when the account was deleted (the row stays so messages keep their sender).
    pub deleted_at: Option<i64>,
    /// May use the admin pages and `/api/admin`.
    pub is_admin: bool,
    /// Set while the account is banned: no login, no token works.
    pub banned_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
