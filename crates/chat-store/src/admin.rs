//! What the admin pages read and change: accounts (admin role, bans) and conversations.

use entities::{admin_bootstrap_code as code, room, room_member, user};
use sea_orm::{
    sea_query::{Expr, Func},
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::{Store, StoreError};
use chat_protocol::ids::{now_ms, RoomId, UserId};

/// An account as the admin pages show it.
#[derive(Debug, Clone)]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub created_at: i64,
    pub last_seen: Option<i64>,
    pub is_admin: bool,
    pub banned_at: Option<i64>,
}

impl From<user::Model> for AdminUser {
    fn from(u: user::Model) -> Self {
        Self {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            created_at: u.created_at,
            last_seen: u.last_seen,
            is_admin: u.is_admin,
            banned_at: u.banned_at,
        }
    }
}

/// A conversation as the admin pages list it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct AdminRoom {
    pub id: String,
    pub kind: String,
    pub name: Option<String>,
    pub created_at: i64,
    /// Messages committed to SQL (seqs are gap-free from 1).
    pub messages: i64,
    pub members: i64,
}

/// A member of a conversation, for the admin pages.
#[derive(Debug, Clone, FromQueryResult)]
pub struct AdminMember {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
}

impl Store {
    /// Accounts (deleted ones left out) whose username or display name starts with `q`, with
    /// their admin and ban state.
    pub async fn admin_search_users(
        &self,
        q: &str,
        limit: u64,
    ) -> Result<Vec<AdminUser>, StoreError> {
        let pattern = format!("{}%", q.trim().to_lowercase().replace(['%', '_'], ""));
        let rows = user::Entity::find()
            .filter(user::Column::DeletedAt.is_null())
            .filter(
                Condition::any()
                    .add(user::Column::Username.like(pattern.clone()))
                    .add(
                        Expr::expr(Func::lower(Expr::col(user::Column::DisplayName))).like(pattern),
                    ),
            )
            .order_by_asc(user::Column::Username)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(AdminUser::from).collect())
    }

    /// Gives or takes the admin role; `false` if there is no such (undeleted) account. Once
    /// there is an admin, the bootstrap codes are void.
    pub async fn set_admin(&self, user: &UserId, admin: bool) -> Result<bool, StoreError> {
        let res = user::Entity::update_many()
            .col_expr(user::Column::IsAdmin, Expr::value(admin))
            .filter(user::Column::Id.eq(user.0.clone()))
            .filter(user::Column::DeletedAt.is_null())
            .exec(&self.db)
            .await?;
        if admin && res.rows_affected == 1 {
            self.clear_bootstrap_codes().await?;
        }
        self.cache_changed().await;
        Ok(res.rows_affected == 1)
    }

    /// Whether any (undeleted) account is an admin.
    pub async fn has_admin(&self) -> Result<bool, StoreError> {
        any_admin(&self.db).await
    }

    /// Whether a bootstrap code with this hash is still waiting to be redeemed.
    pub async fn bootstrap_code_pending(&self, code_hash: &str) -> Result<bool, StoreError> {
        Ok(code::Entity::find_by_id(code_hash.to_owned())
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Stores the hash of a freshly minted bootstrap code (several may wait: one per node).
    pub async fn add_bootstrap_code(&self, code_hash: &str) -> Result<(), StoreError> {
        code::ActiveModel {
            code_hash: Set(code_hash.to_owned()),
            created_at: Set(now_ms()),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Voids every bootstrap code.
    pub async fn clear_bootstrap_codes(&self) -> Result<(), StoreError> {
        code::Entity::delete_many().exec(&self.db).await?;
        Ok(())
    }

    /// Redeems a bootstrap code for `user`: if the code is waiting and no account is an admin
    /// yet, `user` becomes one and every code is voided; `false` otherwise (a wrong or used code,
    /// or an admin exists already). One transaction: of two redemptions racing (the same code or
    /// two nodes' codes) exactly one wins; the code row's delete is the lock the other waits on.
    pub async fn redeem_bootstrap_code(
        &self,
        code_hash: &str,
        user: &UserId,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        let taken = code::Entity::delete_by_id(code_hash.to_owned())
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !taken {
            return Ok(false);
        }
        let admin_exists = any_admin(&txn).await?;
        let made = !admin_exists
            && user::Entity::update_many()
                .col_expr(user::Column::IsAdmin, Expr::value(true))
                .filter(user::Column::Id.eq(user.0.clone()))
                .filter(user::Column::DeletedAt.is_null())
                .filter(user::Column::BannedAt.is_null())
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
        // Used or void: every code ends here (the caller is signed in, so not banned or gone).
        code::Entity::delete_many().exec(&txn).await?;
        txn.commit().await?;
        if made {
            self.cache_changed().await;
        }
        Ok(made)
    }

    /// Bans (`true`) or unbans an account. A ban also revokes every token; their hashes are
    /// returned so the caller can close the sockets opened with them.
    pub async fn set_banned(&self, user: &UserId, banned: bool) -> Result<Vec<String>, StoreError> {
        let at: Option<i64> = banned.then(now_ms);
        user::Entity::update_many()
            .col_expr(user::Column::BannedAt, Expr::value(at))
            .filter(user::Column::Id.eq(user.0.clone()))
            .exec(&self.db)
            .await?;
        self.cache_changed().await;
        if banned {
            self.revoke_tokens(user, None).await
        } else {
            Ok(Vec::new())
        }
    }

    /// Number of accounts (deleted ones included, as their rows stay).
    pub async fn count_users(&self) -> Result<u64, StoreError> {
        Ok(user::Entity::find().count(&self.db).await?)
    }

    /// Conversations, largest first, optionally only those whose name starts with `q`.
    pub async fn admin_rooms(&self, q: &str, limit: u64) -> Result<Vec<AdminRoom>, StoreError> {
        let pattern = format!("{}%", q.trim().to_lowercase().replace(['%', '_'], ""));
        let mut query = room::Entity::find()
            .select_only()
            .column(room::Column::Id)
            .column(room::Column::Kind)
            .column(room::Column::Name)
            .column(room::Column::CreatedAt)
            .column_as(room::Column::LastSeq, "messages")
            .expr_as(
                Expr::cust("(SELECT COUNT(*) FROM room_members rm WHERE rm.room_id = rooms.id)"),
                "members",
            );
        // A room nobody is in any more (closed by an admin, or left by everyone) is not listed.
        query = query.filter(Expr::cust(
            "EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = rooms.id)",
        ));
        if !q.trim().is_empty() {
            query =
                query.filter(Expr::expr(Func::lower(Expr::col(room::Column::Name))).like(pattern));
        }
        Ok(query
            .order_by_desc(room::Column::LastSeq)
            .order_by_asc(room::Column::Id)
            .limit(limit)
            .into_model::<AdminRoom>()
            .all(&self.db)
            .await?)
    }

    /// Releases the pair key of a dm closed by an admin (a no-op for groups), so a later
    /// `POST /api/dms` between the same two people starts a new room instead of finding the
    /// closed one.
    pub async fn release_dm(&self, room_id: &RoomId) -> Result<(), StoreError> {
        room::Entity::update_many()
            .col_expr(room::Column::DmKey, Expr::value(Option::<String>::None))
            .filter(room::Column::Id.eq(room_id.0.clone()))
            .exec(&self.db)
            .await?;
        self.cache_changed().await;
        Ok(())
    }

    /// The members of a room with their roles; `None` if there is no such room.
    pub async fn admin_room_members(
        &self,
        room_id: &RoomId,
    ) -> Result<Option<Vec<AdminMember>>, StoreError> {
        if room::Entity::find_by_id(room_id.0.clone())
            .one(&self.db)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let members = room_member::Entity::find()
            .filter(room_member::Column::RoomId.eq(room_id.0.clone()))
            .all(&self.db)
            .await?;
        let ids: Vec<UserId> = members.iter().map(|m| UserId(m.user_id.clone())).collect();
        let users = self.users_by_ids(&ids).await?;
        let out = members
            .into_iter()
            .filter_map(|m| {
                let u = users.iter().find(|u| u.id == m.user_id)?;
                Some(AdminMember {
                    id: u.id.clone(),
                    username: u.username.clone(),
                    display_name: u.display_name.clone(),
                    role: m.role,
                })
            })
            .collect();
        Ok(Some(out))
    }
}

/// Whether any (undeleted) account is an admin, on `conn` (the pool or a transaction).
async fn any_admin(conn: &impl sea_orm::ConnectionTrait) -> Result<bool, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::IsAdmin.eq(true))
        .filter(user::Column::DeletedAt.is_null())
        .count(conn)
        .await?
        > 0)
}
