//! Media rows: uploads, their processing outcome, who may see them, and the media items of
//! messages' attachments (looked up with one batched query per page of messages).

use std::collections::{HashMap, HashSet};

use entities::{media, media_room, message, room_member};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
};

use super::messages::{message_of, Message};
use super::{Store, StoreError};
use chat_media_types::{Kind, Processed};
use chat_protocol::ids::{now_ms, RoomId, UserId};
use chat_protocol::MediaStatus;

/// A media item as stored: what `GET /api/media/{id}` shows of it, its URLs aside (the server
/// signs those when it answers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaItem {
    pub id: String,
    pub status: MediaStatus,
    /// `image`, `audio`, `video` or `file`.
    pub kind: String,
    pub mime: String,
    pub size: i64,
    /// Its processed content is stored (it has a content URL once ready).
    pub has_content: bool,
    /// A thumbnail is stored.
    pub has_thumb: bool,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i64>,
    /// The uploaded file's name.
    pub name: Option<String>,
    /// Why processing failed.
    pub error: Option<String>,
}

impl MediaItem {
    /// The item a media row describes.
    pub fn of(m: &media::Model) -> Self {
        Self {
            id: m.id.clone(),
            status: MediaStatus::parse(&m.status),
            kind: m.kind.clone(),
            mime: m.mime.clone(),
            size: m.size,
            has_content: m.content_file.is_some(),
            has_thumb: m.thumb_file.is_some(),
            width: m.width,
            height: m.height,
            duration_ms: m.duration_ms,
            name: m.name.clone(),
            error: m.error.clone(),
        }
    }
}

/// Why media cannot be used as asked (attached to a message, set as an avatar). The server maps
/// it to `ChatError`; the texts of `Invalid` are shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum MediaUseError {
    /// The user is not a member of the room the media would be shared with.
    #[error("you are not a member of this room")]
    NotMember,
    /// No such media, or not one the user may use (the same answer, so ids are not probed).
    #[error("media not found")]
    NotFound,
    /// The request cannot be honoured as it stands; the text says why.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MediaUseError {
    fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
}

pub use super::purpose::{Purpose, UnknownPurpose};

/// The row of a new upload: `processing`, nothing produced yet.
pub fn new_upload(
    id: &str,
    owner: &UserId,
    purpose: Purpose,
    kind: Kind,
    mime: &str,
    size: u64,
    name: Option<String>,
) -> media::Model {
    let now = now_ms();
    media::Model {
        id: id.to_owned(),
        owner_id: owner.0.clone(),
        purpose: purpose.as_str().to_owned(),
        status: MediaStatus::Processing.as_str().into(),
        kind: kind.as_str().into(),
        mime: mime.to_owned(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        name,
        content_file: None,
        thumb_file: None,
        width: None,
        height: None,
        duration_ms: None,
        error: None,
        created_at: now,
        updated_at: now,
    }
}

impl Store {
    /// Records a new upload (status `processing`).
    pub async fn create_media(&self, row: media::Model) -> Result<(), StoreError> {
        media::ActiveModel::from(row)
            .insert(&self.db)
            .await
            .map_err(StoreError::classify)?;
        Ok(())
    }

    /// A media row by id.
    /// Bytes of every media item `user` uploaded, at their recorded sizes (the upload's until
    /// processing finishes, then the result's).
    pub async fn media_bytes_of(&self, user: &UserId) -> Result<u64, StoreError> {
        use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
        #[derive(FromQueryResult)]
        struct Total {
            total: i64,
        }
        let backend = self.db.get_database_backend();
        let as_int = match backend {
            DbBackend::MySql => "SIGNED",
            _ => "INTEGER",
        };
        let total = Total::find_by_statement(Statement::from_sql_and_values(
            backend,
            format!("SELECT CAST(COALESCE(SUM(size), 0) AS {as_int}) AS total FROM media WHERE owner_id = ?"),
            [user.0.clone().into()],
        ))
        .one(&self.db)
        .await?
        .map_or(0, |t| t.total);
        Ok(total.max(0) as u64)
    }

    pub async fn media(&self, id: &str) -> Result<Option<media::Model>, StoreError> {
        Ok(media::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Rows still `processing` (after a restart, their jobs are submitted again).
    pub async fn media_in_progress(&self) -> Result<Vec<media::Model>, StoreError> {
        Ok(media::Entity::find()
            .filter(media::Column::Status.eq(MediaStatus::Processing.as_str()))
            .all(&self.db)
            .await?)
    }

    /// Stores the outcome of processing; returns the updated row.
    pub async fn finish_media(
        &self,
        id: &str,
        outcome: &Result<Processed, String>,
    ) -> Result<Option<media::Model>, StoreError> {
        let Some(row) = self.media(id).await? else {
            return Ok(None);
        };
        let mut m: media::ActiveModel = row.into();
        match outcome {
            Ok(p) => {
                m.status = Set(MediaStatus::Ready.as_str().into());
                m.kind = Set(p.kind.as_str().into());
                m.mime = Set(p.mime.clone());
                m.size = Set(i64::try_from(p.size).unwrap_or(i64::MAX));
                m.content_file = Set(Some(p.content.clone()));
                m.thumb_file = Set(p.thumb.clone());
                m.width = Set(p.width.and_then(|w| i32::try_from(w).ok()));
                m.height = Set(p.height.and_then(|h| i32::try_from(h).ok()));
                m.duration_ms = Set(p.duration_ms);
            }
            Err(e) => {
                m.status = Set(MediaStatus::Failed.as_str().into());
                m.error = Set(Some(e.chars().take(500).collect()));
            }
        }
        m.updated_at = Set(now_ms());
        Ok(Some(m.update(&self.db).await?))
    }

    /// The row if `viewer` may see it: its uploader, a member of a room it was sent to, or
    /// anyone signed in when it is the avatar of a profile or a group.
    pub async fn viewable_media(
        &self,
        id: &str,
        viewer: &UserId,
    ) -> Result<Option<media::Model>, StoreError> {
        let Some(row) = self.media(id).await? else {
            return Ok(None);
        };
        if row.owner_id == viewer.0 {
            return Ok(Some(row));
        }
        if Purpose::stored(&row.purpose) == Purpose::Avatar && self.is_avatar_in_use(id).await? {
            return Ok(Some(row));
        }
        let rooms: Vec<String> = media_room::Entity::find()
            .select_only()
            .column(media_room::Column::RoomId)
            .filter(media_room::Column::MediaId.eq(id))
            .into_tuple()
            .all(&self.db)
            .await?;
        if rooms.is_empty() {
            return Ok(None);
        }
        let member = room_member::Entity::find()
            .filter(room_member::Column::UserId.eq(viewer.0.clone()))
            .filter(room_member::Column::RoomId.is_in(rooms))
            .one(&self.db)
            .await?;
        Ok(member.map(|_| row))
    }

    async fn is_avatar_in_use(&self, id: &str) -> Result<bool, StoreError> {
        let on_user = entities::user::Entity::find()
            .filter(entities::user::Column::AvatarMedia.eq(id))
            .one(&self.db)
            .await?;
        if on_user.is_some() {
            return Ok(true);
        }
        Ok(entities::room::Entity::find()
            .filter(entities::room::Column::AvatarMedia.eq(id))
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Checks that `id` can become an avatar set by `user`: their own upload with
    /// `purpose=avatar`, processed and ready.
    pub async fn check_avatar(&self, id: &str, user: &UserId) -> Result<(), MediaUseError> {
        let row = self
            .media(id)
            .await?
            .filter(|m| m.owner_id == user.0)
            .ok_or_else(|| MediaUseError::invalid("avatar: no such upload of yours"))?;
        if Purpose::stored(&row.purpose) != Purpose::Avatar {
            return Err(MediaUseError::invalid(
                "avatar: upload it with POST /api/media?purpose=avatar",
            ));
        }
        if MediaStatus::parse(&row.status) != MediaStatus::Ready {
            return Err(MediaUseError::invalid(
                "avatar: the upload is not processed (yet)",
            ));
        }
        Ok(())
    }

    /// Ids of at most `limit` media items the unattached sweep may look at: uploaded before
    /// `cutoff` (ms), processed (or failed), and shared with no room. Whether one is an avatar
    /// or named by a stored message is decided by [`Store::delete_unattached_media`].
    pub async fn unattached_media(
        &self,
        cutoff: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all(Statement::from_sql_and_values(
                backend,
                "SELECT id FROM media WHERE created_at < ? AND status <> ? AND NOT EXISTS \
                 (SELECT 1 FROM media_rooms WHERE media_rooms.media_id = media.id) LIMIT ?",
                [
                    cutoff.into(),
                    MediaStatus::Processing.as_str().into(),
                    i64::try_from(limit).unwrap_or(i64::MAX).into(),
                ],
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String>("", "id").map_err(StoreError::from))
            .collect()
    }

    /// Deletes the row of media `id` if it is still unattached: uploaded before `cutoff` (ms),
    /// not processing, shared with no room, nobody's or no group's avatar, and in the
    /// `attachments` of no stored message (deleted ones included: their uploader keeps them).
    /// One statement, so a concurrent `send` either shares it first (and it stays) or finds it
    /// gone (see [`Store::resolve_attachments`]). Messages still in the Redis write buffer were
    /// shared before they were buffered. Returns whether the row was deleted; the caller removes
    /// the files.
    pub async fn delete_unattached_media(&self, id: &str, cutoff: i64) -> Result<bool, StoreError> {
        use sea_orm::{ConnectionTrait, Statement};
        // Media ids are generated alphanumerics; anything else cannot go in a LIKE pattern
        // safely, so it is kept.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(false);
        }
        let backend = self.db.get_database_backend();
        let done = self
            .db
            .execute(Statement::from_sql_and_values(
                backend,
                "DELETE FROM media WHERE id = ? AND created_at < ? AND status <> ? \
                 AND NOT EXISTS (SELECT 1 FROM media_rooms WHERE media_rooms.media_id = ?) \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE users.avatar_media = ?) \
                 AND NOT EXISTS (SELECT 1 FROM rooms WHERE rooms.avatar_media = ?) \
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.attachments LIKE ?)",
                [
                    id.into(),
                    cutoff.into(),
                    MediaStatus::Processing.as_str().into(),
                    id.into(),
                    id.into(),
                    id.into(),
                    format!("%\"{id}\"%").into(),
                ],
            ))
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Checks the attachments of a `send` from `sender` to `room`: at most `max`, no repeats,
    /// each one the sender's own upload and ready. Records that they were sent to `room`, so its
    /// members may view them. Media of other people gets the same `not_found` as missing ids.
    pub async fn resolve_attachments(
        &self,
        sender: &UserId,
        room: &RoomId,
        ids: &[String],
        max: usize,
    ) -> Result<Vec<MediaItem>, MediaUseError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        if ids.len() > max {
            return Err(MediaUseError::invalid(format!(
                "attachments: at most {max}"
            )));
        }
        if ids.iter().collect::<HashSet<_>>().len() != ids.len() {
            return Err(MediaUseError::invalid("attachments: an id is repeated"));
        }
        self.membership(room, sender)
            .await?
            .ok_or(MediaUseError::NotMember)?;
        let rows: HashMap<String, media::Model> = media::Entity::find()
            .filter(media::Column::Id.is_in(ids.to_vec()))
            .filter(media::Column::OwnerId.eq(sender.0.clone()))
            .all(&self.db)
            .await
            .map_err(StoreError::from)?
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        self.share_ready(room, ids, rows).await
    }

    /// The attachments of a message of `source` forwarded to `room` by `sender` (a member of
    /// both): each must be shared with `source` and ready; they are then shared with `room`.
    pub async fn resolve_forwarded(
        &self,
        sender: &UserId,
        source: &RoomId,
        room: &RoomId,
        ids: &[String],
    ) -> Result<Vec<MediaItem>, MediaUseError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        self.membership(room, sender)
            .await?
            .ok_or(MediaUseError::NotMember)?;
        let shared: HashSet<String> = media_room::Entity::find()
            .filter(media_room::Column::RoomId.eq(source.0.clone()))
            .filter(media_room::Column::MediaId.is_in(ids.to_vec()))
            .all(&self.db)
            .await
            .map_err(StoreError::from)?
            .into_iter()
            .map(|r| r.media_id)
            .collect();
        let rows: HashMap<String, media::Model> = media::Entity::find()
            .filter(media::Column::Id.is_in(shared.into_iter().collect::<Vec<_>>()))
            .all(&self.db)
            .await
            .map_err(StoreError::from)?
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        self.share_ready(room, ids, rows).await
    }

    /// Checks that each of `ids` is in `rows` and ready, then shares them with `room` (its
    /// members may view them).
    async fn share_ready(
        &self,
        room: &RoomId,
        ids: &[String],
        rows: HashMap<String, media::Model>,
    ) -> Result<Vec<MediaItem>, MediaUseError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let m = rows.get(id).ok_or(MediaUseError::NotFound)?;
            match MediaStatus::parse(&m.status) {
                MediaStatus::Ready => out.push(MediaItem::of(m)),
                MediaStatus::Processing => {
                    return Err(MediaUseError::invalid(format!(
                        "attachment {id} is still processing"
                    )))
                }
                MediaStatus::Failed => {
                    return Err(MediaUseError::invalid(format!(
                        "attachment {id} failed to process"
                    )))
                }
            }
        }
        let now = now_ms();
        let shares = ids.iter().map(|id| media_room::ActiveModel {
            media_id: Set(id.clone()),
            room_id: Set(room.0.clone()),
            shared_at: Set(now),
        });
        media_room::Entity::insert_many(shares)
            // `do_nothing_on`: plain `do_nothing` renders `ON DUPLICATE KEY IGNORE` for MySQL,
            // which MariaDB refuses; this renders `ON DUPLICATE KEY UPDATE media_id = media_id`.
            .on_conflict(
                OnConflict::columns([media_room::Column::MediaId, media_room::Column::RoomId])
                    .do_nothing_on([media_room::Column::MediaId])
                    .to_owned(),
            )
            .do_nothing()
            .exec_without_returning(&self.db)
            .await
            .map_err(StoreError::from)?;
        // The unattached sweep may have deleted one between the check and the share; once
        // shared, it no longer can.
        let still_there = media::Entity::find()
            .filter(media::Column::Id.is_in(ids.to_vec()))
            .count(&self.db)
            .await
            .map_err(StoreError::from)?;
        if usize::try_from(still_there).unwrap_or(0) != ids.len() {
            return Err(MediaUseError::NotFound);
        }
        Ok(out)
    }

    /// Stored rows as [`Message`]s: reactions and quotes added, and each attachment with its
    /// media item (one query for the whole page; an attachment whose media is gone has none).
    pub async fn read_messages(
        &self,
        rows: Vec<message::Model>,
    ) -> Result<Vec<Message>, StoreError> {
        let mut out: Vec<Message> = rows.into_iter().map(message_of).collect();
        self.decorate(&mut out).await?;
        let ids: HashSet<&str> = out
            .iter()
            .flat_map(|m| m.attachments.iter())
            .map(|a| a.id.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(out);
        }
        let found: HashMap<String, MediaItem> = media::Entity::find()
            .filter(media::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .iter()
            .map(|m| (m.id.clone(), MediaItem::of(m)))
            .collect();
        for a in out.iter_mut().flat_map(|m| m.attachments.iter_mut()) {
            a.media = found.get(&a.id).cloned();
        }
        Ok(out)
    }
}
