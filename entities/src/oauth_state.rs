//! `oauth_states`: sign-in attempts started and not yet finished; each is used at most once and
//! expires.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    /// Hex SHA-256 of the `state` parameter sent to the provider.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub provider: String,
    /// Hex SHA-256 of the random value in the starting browser's cookie.
    pub browser_hash: String,
    /// The PKCE code verifier, for providers that use PKCE.
    pub pkce_verifier: Option<String>,
    /// The redirect URI sent to the provider (the token request must repeat it).
    pub redirect_uri: String,
    /// The signed-in user who asked to link an account; `None` for a sign-in.
    pub link_user_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
