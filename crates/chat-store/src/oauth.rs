//! OAuth sign-in: pending states (single-use, expiring) and provider accounts linked to local
//! accounts. Creating an account from a provider account is one transaction with its link.

use entities::{oauth_link, oauth_state, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use super::{Store, StoreError};
use chat_protocol::ids::{now_ms, UserId};

/// What a provider said about an account, to store with its link.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    pub provider: String,
    pub subject: String,
    pub name: Option<String>,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
}

/// How creating an account for a provider account ended.
#[derive(Debug)]
pub enum Created {
    /// The new account (with the username that was free).
    User(user::Model),
    /// Meanwhile someone else linked this provider account (a concurrent callback): no account
    /// was created; sign in to that one.
    AlreadyLinked(oauth_link::Model),
    /// Every candidate username was taken.
    NoUsername,
}

/// How an unlink ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Unlinked {
    Done,
    NotLinked,
    /// The account has no password and this is its last link: it could not sign in any more.
    LastWayToSignIn,
}

impl Store {
    /// Stores a started sign-in, and drops expired ones on the way.
    pub async fn insert_oauth_state(&self, state: oauth_state::Model) -> Result<(), StoreError> {
        oauth_state::Entity::delete_many()
            .filter(oauth_state::Column::ExpiresAt.lte(now_ms()))
            .exec(&self.db)
            .await?;
        oauth_state::ActiveModel {
            state_hash: Set(state.state_hash),
            provider: Set(state.provider),
            browser_hash: Set(state.browser_hash),
            pkce_verifier: Set(state.pkce_verifier),
            redirect_uri: Set(state.redirect_uri),
            link_user_id: Set(state.link_user_id),
            created_at: Set(state.created_at),
            expires_at: Set(state.expires_at),
        }
        .insert(&self.db)
        .await
        .map_err(StoreError::classify)?;
        Ok(())
    }

    /// Takes a started sign-in out (it can be used once): `None` when unknown, already taken
    /// (also by a concurrent request) or expired.
    pub async fn take_oauth_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<oauth_state::Model>, StoreError> {
        let Some(row) = oauth_state::Entity::find_by_id(state_hash.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let deleted = oauth_state::Entity::delete_by_id(state_hash.to_owned())
            .exec(&self.db)
            .await?;
        Ok((deleted.rows_affected == 1 && row.expires_at > now_ms()).then_some(row))
    }

    pub async fn oauth_link(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<oauth_link::Model>, StoreError> {
        Ok(
            oauth_link::Entity::find_by_id((provider.to_owned(), subject.to_owned()))
                .one(&self.db)
                .await?,
        )
    }

    /// The accounts linked to `user`, oldest first.
    pub async fn oauth_links_of(
        &self,
        user: &UserId,
    ) -> Result<Vec<oauth_link::Model>, StoreError> {
        Ok(oauth_link::Entity::find()
            .filter(oauth_link::Column::UserId.eq(user.0.clone()))
            .order_by_asc(oauth_link::Column::LinkedAt)
            .all(&self.db)
            .await?)
    }

    /// Links a provider account to `user`; `Conflict` if it is linked already (to anyone) or
    /// `user` has an account of that provider already.
    pub async fn insert_oauth_link(
        &self,
        user: &UserId,
        info: LinkInfo,
    ) -> Result<oauth_link::Model, StoreError> {
        link_model(user, info)
            .insert(&self.db)
            .await
            .map_err(StoreError::classify)
    }

    /// Keeps the name, handle and picture of a link as the provider gave them at this sign-in.
    pub async fn refresh_oauth_link(&self, info: LinkInfo) -> Result<(), StoreError> {
        oauth_link::Entity::update_many()
            .col_expr(oauth_link::Column::Name, info.name.into())
            .col_expr(oauth_link::Column::Username, info.username.into())
            .col_expr(oauth_link::Column::AvatarUrl, info.avatar_url.into())
            .filter(oauth_link::Column::Provider.eq(info.provider))
            .filter(oauth_link::Column::Subject.eq(info.subject))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Creates an account without a password, linked to the provider account, in one
    /// transaction: the first free username of `candidates` is taken. Nothing is left behind
    /// when it fails.
    pub async fn create_user_with_link(
        &self,
        candidates: &[String],
        display_name: &str,
        info: LinkInfo,
    ) -> Result<Created, StoreError> {
        for username in candidates {
            if self.user_by_username(username).await?.is_some() {
                continue;
            }
            let id = UserId::generate();
            let txn = self.db.begin().await?;
            let inserted = user::ActiveModel {
                id: Set(id.0.clone()),
                username: Set(username.clone()),
                display_name: Set(display_name.to_owned()),
                // No password: `verify_password` refuses an empty hash, so password login fails
                // until the owner sets one.
                password_hash: Set(String::new()),
                created_at: Set(now_ms()),
                last_seen: Set(None),
                ..Default::default()
            }
            .insert(&txn)
            .await
            .map_err(StoreError::classify);
            let user = match inserted {
                Ok(u) => u,
                // Taken between the check and the insert: try the next name.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            };
            match link_model(&id, info.clone())
                .insert(&txn)
                .await
                .map_err(StoreError::classify)
            {
                Ok(_) => {
                    txn.commit().await?;
                    return Ok(Created::User(user));
                }
                Err(StoreError::Conflict(_)) => {
                    drop(txn); // rolls back the user row
                    if let Some(link) = self.oauth_link(&info.provider, &info.subject).await? {
                        return Ok(Created::AlreadyLinked(link));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Created::NoUsername)
    }

    /// Removes `user`'s link to `provider`, unless that would leave the account without a way
    /// to sign in (no password and no other link).
    pub async fn unlink_oauth(
        &self,
        user: &UserId,
        provider: &str,
    ) -> Result<Unlinked, StoreError> {
        let txn = self.db.begin().await?;
        // Locks the account row (MySQL) so two unlinks cannot each see the other link remaining.
        let Some(account) = user::Entity::find_by_id(user.0.clone())
            .lock_exclusive()
            .one(&txn)
            .await?
        else {
            return Ok(Unlinked::NotLinked);
        };
        let links = oauth_link::Entity::find()
            .filter(oauth_link::Column::UserId.eq(user.0.clone()))
            .all(&txn)
            .await?;
        let Some(link) = links.iter().find(|l| l.provider == provider) else {
            return Ok(Unlinked::NotLinked);
        };
        if account.password_hash.is_empty() && links.len() == 1 {
            return Ok(Unlinked::LastWayToSignIn);
        }
        oauth_link::Entity::delete_by_id((link.provider.clone(), link.subject.clone()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Unlinked::Done)
    }
}

fn link_model(user: &UserId, info: LinkInfo) -> oauth_link::ActiveModel {
    oauth_link::ActiveModel {
        provider: Set(info.provider),
        subject: Set(info.subject),
        user_id: Set(user.0.clone()),
        name: Set(info.name),
        username: Set(info.username),
        avatar_url: Set(info.avatar_url),
        linked_at: Set(now_ms()),
    }
}
