//! Accounts and bearer tokens.

use entities::{token, user};
use sea_orm::{
    sea_query::Query, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, Set, Statement,
};

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use chat_protocol::ids::{now_ms, UserId};
use chat_protocol::settings::UserSettings;

/// Someone `user`'s presence changes are pushed to, and who is pushed to `user` (see
/// `Store::presence_peers`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresencePeer {
    pub user: UserId,
    /// `user` blocked them: they are not told of `user`'s presence.
    pub hidden: bool,
    /// They blocked `user`: `user` is not told of theirs.
    pub blocked_me: bool,
}

/// A live token's user (without the password hash), settings and expiry: what `/ws` asks at
/// every connect, and what the connect cache keeps.
#[derive(Debug, FromQueryResult, Serialize, Deserialize)]
struct TokenSession {
    id: String,
    username: String,
    display_name: String,
    created_at: i64,
    last_seen: Option<i64>,
    about: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    avatar_media: Option<String>,
    deleted_at: Option<i64>,
    is_admin: bool,
    banned_at: Option<i64>,
    /// The settings document (JSON), if the user ever saved one.
    settings: Option<String>,
    expires_at: i64,
}

impl TokenSession {
    fn into_parts(self) -> (user::Model, UserSettings) {
        let settings = super::people::read_settings(&self.id, self.settings.as_deref());
        let user = user::Model {
            id: self.id,
            username: self.username,
            display_name: self.display_name,
            password_hash: String::new(),
            created_at: self.created_at,
            last_seen: self.last_seen,
            about: self.about,
            email: self.email,
            phone: self.phone,
            avatar_media: self.avatar_media,
            deleted_at: self.deleted_at,
            is_admin: self.is_admin,
            banned_at: self.banned_at,
        };
        (user, settings)
    }
}

/// The owner of a token that is still valid at `now`, as a subquery.
fn live_token_owner(token_hash: &str, now: i64) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(token::Column::UserId)
        .from(token::Entity)
        .and_where(token::Column::TokenHash.eq(token_hash))
        .and_where(token::Column::ExpiresAt.gt(now))
        .to_owned()
}

impl Store {
    /// Creates an account; `Conflict` if the username is taken. No account becomes an admin by
    /// being created (see the server's `bootstrap` for the first admin).
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<user::Model, StoreError> {
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
        model.insert(&self.db).await.map_err(StoreError::classify)
    }

    pub async fn user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<user::Model>, StoreError> {
        Ok(user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&self.db)
            .await?)
    }

    /// The users a message body names as `@username` (see `protocol::mentions::named`); unknown
    /// and deleted accounts are left out. No query when the body names nobody.
    pub async fn named_users(&self, body: &str) -> Result<Vec<UserId>, StoreError> {
        let names = chat_protocol::mentions::named(body);
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let found = user::Entity::find()
            .filter(user::Column::Username.is_in(names.iter().map(String::as_str)))
            .filter(user::Column::DeletedAt.is_null())
            .all(&self.db)
            .await?;
        // In the order the body names them.
        Ok(names
            .iter()
            .filter_map(|n| found.iter().find(|u| u.username == *n))
            .map(|u| UserId(u.id.clone()))
            .collect())
    }

    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<user::Model>, StoreError> {
        Ok(user::Entity::find_by_id(id.0.clone()).one(&self.db).await?)
    }

    /// Users whose ids are in `ids` (unknown ids are left out).
    pub async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<user::Model>, StoreError> {
        let ids: Vec<String> = ids.iter().map(|u| u.0.clone()).collect();
        Ok(user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .all(&self.db)
            .await?)
    }

    /// Stores a new token hash for `user`, valid until `expires_at`; `user_agent` is what signed
    /// in (shown in the owner's list of sessions).
    pub async fn insert_token(
        &self,
        token_hash: &str,
        user: &UserId,
        expires_at: i64,
        user_agent: Option<String>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        token::ActiveModel {
            token_hash: Set(token_hash.to_owned()),
            user_id: Set(user.0.clone()),
            created_at: Set(now),
            expires_at: Set(expires_at),
            user_agent: Set(user_agent),
            last_used_at: Set(Some(now)),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// The user holding an unexpired token with this hash, unless banned.
    /// The account a live token belongs to (one query: every connect asks), unless banned. An
    /// expired token is deleted.
    pub async fn user_for_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<user::Model>, StoreError> {
        let now = now_ms();
        let found = user::Entity::find()
            .filter(user::Column::Id.in_subquery(live_token_owner(token_hash, now)))
            .one(&self.db)
            .await?;
        if let Some(u) = found {
            return Ok(Some(u).filter(|u| u.banned_at.is_none()));
        }
        self.drop_expired_token(token_hash, now).await?;
        Ok(None)
    }

    /// The same with the owner's settings, in one query (what `/ws` needs before `hello`, at
    /// every connect), from the connect cache when Redis has a valid entry (see `cache`). The
    /// user comes without its password hash.
    pub async fn session_for_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(user::Model, UserSettings)>, StoreError> {
        let found = self
            .cached(
                "token",
                token_hash,
                |s: &Option<TokenSession>| {
                    // Never cached past the token's own expiry; a refusal is not cached.
                    s.as_ref()
                        .map(|s| ((s.expires_at - now_ms()) / 1000).max(0) as u64)
                },
                || self.session_for_token_sql(token_hash),
            )
            .await?;
        match found {
            Some(s) if s.expires_at > now_ms() => Ok(Some(s.into_parts())),
            // Expired while cached: what the database says now (it deletes the token).
            Some(_) => Ok(self
                .session_for_token_sql(token_hash)
                .await?
                .map(TokenSession::into_parts)),
            None => Ok(None),
        }
    }

    /// [`Self::session_for_token`]'s query.
    async fn session_for_token_sql(
        &self,
        token_hash: &str,
    ) -> Result<Option<TokenSession>, StoreError> {
        let now = now_ms();
        let found = TokenSession::find_by_statement(Statement::from_sql_and_values(
            self.db.get_database_backend(),
            "SELECT u.id, u.username, u.display_name, u.created_at, u.last_seen, u.about, u.email, \
               u.phone, u.avatar_media, u.deleted_at, u.is_admin, u.banned_at, \
               s.settings AS settings, t.expires_at AS expires_at \
             FROM tokens t JOIN users u ON u.id = t.user_id \
             LEFT JOIN user_settings s ON s.user_id = u.id \
             WHERE t.token_hash = ? AND t.expires_at > ?",
            [token_hash.into(), now.into()],
        ))
        .one(&self.db)
        .await?;
        if let Some(s) = found {
            return Ok(Some(s).filter(|s| s.banned_at.is_none()));
        }
        self.drop_expired_token(token_hash, now).await?;
        Ok(None)
    }

    /// Deletes the token if it has expired.
    async fn drop_expired_token(&self, token_hash: &str, now: i64) -> Result<(), StoreError> {
        token::Entity::delete_many()
            .filter(token::Column::TokenHash.eq(token_hash))
            .filter(token::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn delete_token(&self, token_hash: &str) -> Result<(), StoreError> {
        token::Entity::delete_by_id(token_hash.to_owned())
            .exec(&self.db)
            .await?;
        self.cache_changed().await;
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
    /// Each comes with the blocks between them and `user`, in the same query.
    /// From the connect cache when Redis has a valid entry (see `cache`).
    pub async fn presence_peers(
        &self,
        user: &UserId,
        max_members: usize,
    ) -> Result<Vec<PresencePeer>, StoreError> {
        self.cached(
            &format!("peers{max_members}"),
            &user.0,
            |_| Some(u64::MAX),
            || self.presence_peers_sql(user, max_members),
        )
        .await
    }

    /// [`Self::presence_peers`]'s query.
    async fn presence_peers_sql(
        &self,
        user: &UserId,
        max_members: usize,
    ) -> Result<Vec<PresencePeer>, StoreError> {
        #[derive(FromQueryResult)]
        struct Row {
            user_id: String,
            hidden: i64,
            blocked_me: i64,
        }
        let backend: DbBackend = self.db.get_database_backend();
        let rows = Row::find_by_statement(Statement::from_sql_and_values(
            backend,
            // A room is small enough when it has no (max + 1)th member: at most max + 1 index
            // entries are read per room of the user, however large the room.
            "SELECT DISTINCT o.user_id AS user_id, \
               CASE WHEN EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ? AND b.blocked_id = o.user_id) \
                 THEN 1 ELSE 0 END AS hidden, \
               CASE WHEN EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = o.user_id AND b.blocked_id = ?) \
                 THEN 1 ELSE 0 END AS blocked_me \
             FROM room_members me \
             JOIN room_members o ON o.room_id = me.room_id \
             WHERE me.user_id = ? AND o.user_id <> ? \
               AND (SELECT c.user_id FROM room_members c WHERE c.room_id = me.room_id \
                    ORDER BY c.user_id LIMIT 1 OFFSET ?) IS NULL",
            [
                user.0.clone().into(),
                user.0.clone().into(),
                user.0.clone().into(),
                user.0.clone().into(),
                (max_members.max(2) as i64).into(),
            ],
        ))
        .all(&self.db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| PresencePeer {
                user: UserId(r.user_id),
                hidden: r.hidden != 0,
                blocked_me: r.blocked_me != 0,
            })
            .collect())
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
