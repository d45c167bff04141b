//! Resumable uploads with tus 1.0 (<https://tus.io/protocols/resumable-upload>) at
//! `/api/uploads/`, next to the one-shot `POST /api/media`: core protocol plus the `creation`,
//! `termination` and `expiration` extensions.
//!
//! - `OPTIONS /api/uploads/`: what the server speaks (no token needed).
//! - `POST /api/uploads/` with `Upload-Length` and optional `Upload-Metadata` (`filename`,
//!   `filetype`, `purpose`: `attachment` or `avatar`) → 201 and `Location: /api/uploads/{id}`.
//! - `HEAD /api/uploads/{id}` → `Upload-Offset`, `Upload-Length`, `Cache-Control: no-store`.
//! - `PATCH /api/uploads/{id}` (`application/offset+octet-stream`, `Upload-Offset` equal to the
//!   bytes received) appends the body → 204 with the new `Upload-Offset`.
//! - `DELETE /api/uploads/{id}` → 204, and what was received is removed.
//!
//! The same limits hold as for `POST /api/media`: `media.max_upload_bytes` and the user's quota
//! are checked against `Upload-Length` at creation. When the last byte arrives the upload
//! becomes the media item with the same id, through the one-shot upload's own code path
//! (`services::media::MediaService::accept_upload`): sniffed, recorded, processed, announced in `media` frames.
//! The answer carrying the last byte, and every `HEAD` after it, name it in `Upload-Media-Id`.
//!
//! The bytes go to `media.dir/<id>/upload` as they arrive; its length is the offset, so what
//! arrived before a dropped connection or a restart is kept. A `PATCH` holds an exclusive lock
//! on that file (a second one at the same time gets 423). An upload receiving nothing for
//! `media.upload_expiry_secs` is removed by `crate::actors::uploads::start`'s sweep. Only its
//! creator can see or touch an upload; anyone else gets 404 as for a missing id.

mod receive;
pub mod tus;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use entities::upload;
use futures_util::StreamExt;

use self::receive::{receive, Ended};
use self::tus::{TusError, UPLOAD_EXPIRES, UPLOAD_LENGTH, UPLOAD_MEDIA_ID, UPLOAD_OFFSET};
use super::auth::AuthUser;
use super::AppState;
use crate::actors::media::UPLOAD_FILE;
use crate::error::ChatError;
use crate::ids::{now_ms, MessageId, UserId};
use crate::media::partial::{self, PartialError, PartialFile};
use crate::media::urls::sanitize_file_name;
use crate::services::media::{storage_error, StoredUpload};
use crate::store::media::Purpose;

/// After a `PATCH` refused for going past the upload's length, this much more of its body is
/// read (and dropped) so the client gets to see the 413 instead of a reset connection.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;

/// Mounts the tus endpoints (inside `/api`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/uploads")
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((tus::TUS_RESUMABLE, tus::VERSION)),
            )
            .route(
                "",
                web::method(actix_web::http::Method::OPTIONS).to(options),
            )
            .route(
                "/",
                web::method(actix_web::http::Method::OPTIONS).to(options),
            )
            .route("", web::post().to(create))
            .route("/", web::post().to(create))
            .route("/{id}", web::head().to(head))
            .route("/{id}", web::patch().to(patch))
            .route("/{id}", web::delete().to(terminate)),
    );
}

/// `OPTIONS /api/uploads/` → 204 with `Tus-Version`, `Tus-Extension`, `Tus-Max-Size`.
pub async fn options(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((tus::TUS_VERSION, tus::VERSION))
        .insert_header((tus::TUS_EXTENSION, tus::EXTENSIONS))
        .insert_header((tus::TUS_MAX_SIZE, state.settings.media.max_upload_bytes))
        .finish()
}

/// When an upload touched now expires (ms since the epoch).
fn expiry(state: &AppState) -> i64 {
    let secs = i64::try_from(state.settings.media.upload_expiry_secs).unwrap_or(i64::MAX / 2000);
    now_ms().saturating_add(secs.saturating_mul(1000))
}

/// `POST /api/uploads/` (tus creation) → 201 with `Location`.
#[tracing::instrument(skip_all, fields(user = %auth.user.id))]
pub async fn create(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
) -> Result<HttpResponse, TusError> {
    let headers = req.headers();
    tus::require_version(headers)?;
    state
        .limits
        .user_action(crate::limits::UserAction::Upload, &auth.id())?;
    if headers.contains_key("Upload-Defer-Length") {
        return Err(TusError::BadHeader(
            "Upload-Defer-Length is not supported: send Upload-Length".into(),
        ));
    }
    let length = tus::required_number(headers, UPLOAD_LENGTH)?;
    let meta = tus::metadata(headers)?;
    let purpose = Purpose::requested(meta.get("purpose").map(String::as_str))
        .map_err(|e| TusError::BadHeader(format!("Upload-Metadata {e}")))?;
    let cap = state.media_service().upload_cap(&auth.id()).await?;
    if length > cap.max {
        return Err(cap.too_large().into());
    }
    let id = MessageId::generate().0;
    let folder = state.media.folder(&id);
    let file = folder.join(UPLOAD_FILE);
    let made = folder.clone();
    web::block(move || {
        std::fs::create_dir_all(&made)?;
        PartialFile::create(&file)
    })
    .await
    .map_err(|_| ChatError::Unavailable("media storage".into()))?
    .map_err(storage_error)?;
    let now = now_ms();
    let row = upload::Model {
        id: id.clone(),
        owner_id: auth.user.id.clone(),
        purpose: purpose.as_str().into(),
        length: i64::try_from(length).unwrap_or(i64::MAX),
        name: meta.get("filename").and_then(|n| sanitize_file_name(n)),
        filetype: meta.get("filetype").map(|t| t.chars().take(127).collect()),
        created_at: now,
        expires_at: expiry(&state),
        completed_at: None,
    };
    if let Err(e) = state.store.create_upload(row.clone()).await {
        if let Err(io) = remove_folder(&folder).await {
            // No row points at it, so nothing will remove it later.
            tracing::warn!(upload = %id, error = %io, "folder of an upload never created left behind");
        }
        return Err(e.into());
    }
    tracing::info!(upload = %id, length, "resumable upload created");
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, format!("/api/uploads/{id}")))
        .insert_header((UPLOAD_OFFSET, 0));
    if length == 0 {
        finish(&state, &auth.id(), row, &mut res).await?;
    } else {
        res.insert_header((UPLOAD_EXPIRES, tus::expires(row.expires_at)));
    }
    Ok(res.finish())
}

/// The caller's upload `id`, or 404 (also for other people's).
async fn owned(state: &AppState, auth: &AuthUser, id: &str) -> Result<upload::Model, TusError> {
    if id.is_empty() || id.len() > 36 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ChatError::NotFound("upload").into());
    }
    Ok(state
        .store
        .upload_of(id, &auth.id())
        .await?
        .ok_or(ChatError::NotFound("upload"))?)
}

/// Whether the upload already became a media item (also when recording that was cut short).
async fn became_media(state: &AppState, row: &upload::Model) -> Result<bool, TusError> {
    Ok(row.completed_at.is_some() || state.store.media(&row.id).await?.is_some())
}

/// Opens the upload's file with its lock, off the async worker.
async fn lock(state: &AppState, id: &str) -> Result<PartialFile, TusError> {
    let path = state.media.folder(id).join(UPLOAD_FILE);
    match web::block(move || PartialFile::open_locked(&path)).await {
        Ok(Ok(f)) => Ok(f),
        Ok(Err(PartialError::Locked)) => Err(TusError::Locked),
        // Removed by expiry or termination a moment ago.
        Ok(Err(PartialError::Io(e))) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ChatError::NotFound("upload").into())
        }
        Ok(Err(PartialError::Io(e))) => Err(storage_error(e).into()),
        Err(_) => Err(ChatError::Unavailable("media storage".into()).into()),
    }
}

/// Makes a complete upload the media item with its id (once: callers hold the file's lock and
/// this checks again), and names it in `Upload-Media-Id`. An upload refused on its content (an
/// avatar that is no image) is removed.
async fn finish(
    state: &AppState,
    owner: &UserId,
    row: upload::Model,
    res: &mut HttpResponseBuilder,
) -> Result<(), TusError> {
    let id = row.id.clone();
    if !became_media(state, &row).await? {
        let folder = state.media.folder(&id);
        let stored = StoredUpload {
            id: id.clone(),
            folder: folder.clone(),
            size: u64::try_from(row.length).unwrap_or(0),
            name: row.name.clone(),
            purpose: Purpose::stored(&row.purpose),
        };
        match state.media_service().accept_upload(owner, stored).await {
            Ok(()) => {}
            Err(e @ ChatError::Invalid(_)) => {
                match remove_folder(&folder).await {
                    Ok(()) => state.store.delete_upload(&id).await?,
                    // The row stays, so the bytes are removed by the next try or the sweep.
                    Err(io) => {
                        tracing::warn!(upload = %id, error = %io, "cannot remove a refused upload")
                    }
                }
                return Err(e.into());
            }
            // The bytes stay; the next HEAD or PATCH tries again.
            Err(e) => return Err(e.into()),
        }
    }
    if row.completed_at.is_none() {
        state.store.complete_upload(row).await?;
    }
    res.insert_header((UPLOAD_MEDIA_ID, id));
    Ok(())
}

/// Removes the folder of an upload; one already gone is no error.
async fn remove_folder(folder: &std::path::Path) -> std::io::Result<()> {
    match tokio::fs::remove_dir_all(folder).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// `HEAD /api/uploads/{id}` → `Upload-Offset`, `Upload-Length` (and `Upload-Media-Id` once
/// complete).
pub async fn head(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, TusError> {
    tus::require_version(req.headers())?;
    let row = owned(&state, &auth, &path).await?;
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((UPLOAD_LENGTH, row.length));
    let length = u64::try_from(row.length).unwrap_or(0);
    if became_media(&state, &row).await? {
        res.insert_header((UPLOAD_OFFSET, length));
        finish(&state, &auth.id(), row, &mut res).await?;
        return Ok(res.finish());
    }
    let file = state.media.folder(&row.id).join(UPLOAD_FILE);
    let offset = match web::block(move || partial::received(&file)).await {
        Ok(Ok(n)) => n,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ChatError::NotFound("upload").into())
        }
        Ok(Err(e)) => return Err(storage_error(e).into()),
        Err(_) => return Err(ChatError::Unavailable("media storage".into()).into()),
    };
    res.insert_header((UPLOAD_OFFSET, offset))
        .insert_header((UPLOAD_EXPIRES, tus::expires(row.expires_at)));
    // All bytes are here but the request that brought the last one ended before the media item
    // was made: make it now (unless a PATCH is still at it).
    if offset == length {
        match lock(&state, &row.id).await {
            Ok(held) => {
                finish(&state, &auth.id(), row, &mut res).await?;
                drop(held);
            }
            Err(TusError::Locked) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(res.finish())
}

/// `PATCH /api/uploads/{id}`: appends the body at `Upload-Offset` → 204 with the new offset.
#[tracing::instrument(skip_all, fields(user = %auth.user.id, upload = %path))]
pub async fn patch(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, TusError> {
    let headers = req.headers();
    tus::require_version(headers)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.eq_ignore_ascii_case(tus::OFFSET_OCTET_STREAM) {
        return Err(TusError::ContentType);
    }
    let sent = tus::required_number(headers, UPLOAD_OFFSET)?;
    let declared = tus::number(headers, header::CONTENT_LENGTH.as_str())?;
    let row = owned(&state, &auth, &path).await?;
    let length = u64::try_from(row.length).unwrap_or(0);
    if became_media(&state, &row).await? {
        if sent != length || declared.unwrap_or(0) > 0 {
            return Err(TusError::Offset {
                sent,
                received: length,
            });
        }
        let mut res = HttpResponse::NoContent();
        res.insert_header((UPLOAD_OFFSET, length));
        finish(&state, &auth.id(), row, &mut res).await?;
        return Ok(res.finish());
    }
    let file = lock(&state, &row.id).await?;
    let start = file.len().map_err(storage_error)?;
    if sent != start {
        return Err(TusError::Offset {
            sent,
            received: start,
        });
    }
    let room = length.saturating_sub(start);
    if declared.is_some_and(|n| n > room) {
        return Err(too_long(room).into());
    }
    state.store.touch_upload(&row.id, expiry(&state)).await?;
    let got = receive(file, start, room, &mut payload)
        .await
        .map_err(storage_error)?;
    let expires_at = expiry(&state);
    state.store.touch_upload(&row.id, expires_at).await?;
    match got.ended {
        Ended::Complete => {}
        Ended::Interrupted => {
            // Nobody reads this answer; the client asks HEAD for the offset.
            return Err(ChatError::invalid("the request body was cut short").into());
        }
        Ended::TooLong => {
            drop(got.file);
            drain(&mut payload).await;
            return Err(too_long(room).into());
        }
    }
    tracing::debug!(offset = got.offset, length, "upload chunk stored");
    let mut res = HttpResponse::NoContent();
    res.insert_header((UPLOAD_OFFSET, got.offset))
        .insert_header((UPLOAD_EXPIRES, tus::expires(expires_at)));
    if got.offset == length {
        let done = upload::Model { expires_at, ..row };
        finish(&state, &auth.id(), done, &mut res).await?;
    }
    drop(got.file);
    Ok(res.finish())
}

fn too_long(room: u64) -> ChatError {
    ChatError::TooLarge(format!(
        "the upload's Upload-Length leaves room for {room} more bytes"
    ))
}

/// Reads and drops the rest of a refused body, up to [`DRAIN_LIMIT`].
async fn drain(payload: &mut web::Payload) {
    let mut left = DRAIN_LIMIT;
    while let Some(Ok(chunk)) = payload.next().await {
        left = left.saturating_sub(chunk.len() as u64);
        if left == 0 {
            return;
        }
    }
}

/// `DELETE /api/uploads/{id}` (tus termination) → 204; the received bytes are removed. An
/// upload that already became a media item is only forgotten (the media item stays).
pub async fn terminate(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, TusError> {
    tus::require_version(req.headers())?;
    let row = owned(&state, &auth, &path).await?;
    if !became_media(&state, &row).await? {
        match lock(&state, &row.id).await {
            Ok(held) => {
                // The row stays until the bytes are gone: a failed removal is retried by the
                // client or by the sweep of expired uploads, never forgotten.
                remove_folder(&state.media.folder(&row.id))
                    .await
                    .map_err(storage_error)?;
                drop(held);
            }
            Err(TusError::Chat(ChatError::NotFound(_))) => {}
            Err(e) => return Err(e),
        }
    }
    state.store.delete_upload(&row.id).await?;
    tracing::info!(upload = %row.id, "resumable upload terminated");
    Ok(HttpResponse::NoContent().finish())
}
