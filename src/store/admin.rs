//! What the admin pages read and change: accounts (admin role, bans) and conversations.

use entities::{room, room_member, user};
use sea_orm::{
    sea_query::{Expr, Func},
    ColumnTrait, Condition, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;

use super::{Store, StoreError};
use crate::ids::{now_ms, RoomId, UserId};

/// An account as the admin pages show it.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize, FromQueryResult)]
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
#[derive(Debug, Clone, Serialize, FromQueryResult)]
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

    /// Gives or takes the admin role; `false` if there is no such (undeleted) account.
    pub async fn set_admin(&self, user: &UserId, admin: bool) -> Result<bool, StoreError> {
        let res = user::Entity::update_many()
            .col_expr(user::Column::IsAdmin, Expr::value(admin))
            .filter(user::Column::Id.eq(user.0.clone()))
            .filter(user::Column::DeletedAt.is_null())
            .exec(&self.db)
            .await?;
        self.cache_changed().await;
        Ok(res.rows_affected == 1)
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
