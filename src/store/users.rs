//! Accounts and bearer tokens.

use entities::{token, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Set,
    Statement, TransactionTrait,
};

use super::{Store, StoreError};
use crate::ids::{now_ms, UserId};

impl Store {
    /// Creates an account; `Conflict` if the username is taken. The first account ever created
    /// becomes an admin: in the same transaction it claims the `first_user` row of
    /// `admin_claims`, whose primary key lets only one of two racing registrations win.
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<user::Model, StoreError> {
        let txn = self.db.begin().await?;
        let model = user::ActiveModel {
            id: Set(UserId::generate().0),
            username: Set(username.to_owned()),
            display_name: Set(display_name.to_owned()),
            password_hash: Set(password_hash.to_owned()),
            created_at: Set(now_ms()),
            last_seen: Set(None),
            is_admin: Set(false),
            ..Default::default()
        };
        let user = model.insert(&txn).await.map_err(StoreError::classify)?;
        let user = claim_first_admin(&txn, user).await?;
        txn.commit().await?;
        Ok(user)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<user::Model>, StoreError> {
        Ok(user::Entity::find().filter(user::Column::Username.eq(username)).one(&self.db).await?)
    }

    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<user::Model>, StoreError> {
        Ok(user::Entity::find_by_id(id.0.clone()).one(&self.db).await?)
    }

    /// Users whose ids are in `ids` (unknown ids are left out).
    pub async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<user::Model>, StoreError> {
        let ids: Vec<String> = ids.iter().map(|u| u.0.clone()).collect();
        Ok(user::Entity::find().filter(user::Column::Id.is_in(ids)).all(&self.db).await?)
    }

    /// Stores a new token hash for `user`, valid until `expires_at`.
    pub async fn insert_token(&self, token_hash: &str, user: &UserId, expires_at: i64) -> Result<(), StoreError> {
        token::ActiveModel {
            token_hash: Set(token_hash.to_owned()),
            user_id: Set(user.0.clone()),
            created_at: Set(now_ms()),
            expires_at: Set(expires_at),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// The user holding an unexpired token with this hash, unless banned.
    pub async fn user_for_token(&self, token_hash: &str) -> Result<Option<user::Model>, StoreError> {
        let Some(tok) = token::Entity::find_by_id(token_hash.to_owned()).one(&self.db).await? else {
            return Ok(None);
        };
        if tok.expires_at <= now_ms() {
            token::Entity::delete_by_id(token_hash.to_owned()).exec(&self.db).await?;
            return Ok(None);
        }
        Ok(self.user_by_id(&UserId(tok.user_id)).await?.filter(|u| u.banned_at.is_none()))
    }

    pub async fn delete_token(&self, token_hash: &str) -> Result<(), StoreError> {
        token::Entity::delete_by_id(token_hash.to_owned()).exec(&self.db).await?;
        Ok(())
    }

    pub async fn set_last_seen(&self, user: &UserId, at: i64) -> Result<(), StoreError> {
        user::Entity::update_many()
            .col_expr(user::Column::LastSeen, at.into())
            .filter(user::Column::Id.eq(user.0.clone()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Everyone who shares a dm, or a group of at most `max_members` members, with `user` (not
    /// `user` itself): whom `user`'s presence changes are pushed to.
    pub async fn presence_peers(&self, user: &UserId, max_members: usize) -> Result<Vec<UserId>, StoreError> {
        #[derive(FromQueryResult)]
        struct Row {
            user_id: String,
        }
        let backend: DbBackend = self.db.get_database_backend();
        let rows = Row::find_by_statement(Statement::from_sql_and_values(
            backend,
            "SELECT DISTINCT o.user_id AS user_id FROM room_members o \
             WHERE o.user_id <> ? AND o.room_id IN ( \
               SELECT c.room_id FROM room_members c \
               WHERE c.room_id IN (SELECT me.room_id FROM room_members me WHERE me.user_id = ?) \
               GROUP BY c.room_id HAVING COUNT(*) <= ?)",
            [user.0.clone().into(), user.0.clone().into(), (max_members.max(2) as i64).into()],
        ))
        .all(&self.db)
        .await?;
        Ok(rows.into_iter().map(|r| UserId(r.user_id)).collect())
    }

    /// Everyone who shares at least one room with `user` (not `user` itself).
    pub async fn co_members(&self, user: &UserId) -> Result<Vec<UserId>, StoreError> {
        #[derive(FromQueryResult)]
        struct Row {
            user_id: String,
        }
        let backend: DbBackend = self.db.get_database_backend();
        let rows = Row::find_by_statement(Statement::from_sql_and_values(
            backend,
            "SELECT DISTINCT o.user_id AS user_id FROM room_members o \
             JOIN room_members me ON me.room_id = o.room_id \
             WHERE me.user_id = ? AND o.user_id <> ?",
            [user.0.clone().into(), user.0.clone().into()],
        ))
        .all(&self.db)
        .await?;
        Ok(rows.into_iter().map(|r| UserId(r.user_id)).collect())
    }
}


/// Makes `user` an admin when it is the first account ever created: claims the `first_user` row
/// of `admin_claims` inside the caller's account-creating transaction, whose primary key lets
/// only one of two racing registrations win. Every way of creating an account goes through it.
pub(super) async fn claim_first_admin(
    txn: &sea_orm::DatabaseTransaction,
    user: user::Model,
) -> Result<user::Model, StoreError> {
    let backend = txn.get_database_backend();
    let insert = match backend {
        DbBackend::MySql => "INSERT IGNORE INTO admin_claims (claim, user_id, claimed_at) VALUES ('first_user', ?, ?)",
        _ => "INSERT INTO admin_claims (claim, user_id, claimed_at) VALUES ('first_user', ?, ?) ON CONFLICT DO NOTHING",
    };
    let claimed = txn
        .execute(Statement::from_sql_and_values(backend, insert, [user.id.clone().into(), user.created_at.into()]))
        .await?
        .rows_affected()
        == 1;
    if !claimed {
        return Ok(user);
    }
    let mut active: user::ActiveModel = user.into();
    active.is_admin = Set(true);
    Ok(active.update(txn).await?)
}
