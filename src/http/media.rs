//! Media over HTTP: uploads (`POST /api/media`), their status (`GET /api/media/{id}`) and the
//! files themselves (`GET /media/{id}/{variant}`).
//!
//! Uploads are streamed to disk under a generated name (`media.dir/<id>/upload`), never held in
//! memory, and capped at `media.max_upload_bytes` (413, and nothing of it is kept). What a file
//! is comes from its bytes. The processing runs on the MediaWorker pool.
//!
//! Files are served to whoever presents a valid signed URL (see `crate::media::urls`; those are
//! handed out only to the uploader and members of rooms the item was sent to) or an
//! `Authorization: Bearer` token of such a person. Anything else gets the same 404 as a missing
//! id. Plain files are always downloads (`Content-Disposition: attachment`, served as
//! `application/octet-stream`), so uploaded HTML or SVG never renders in the server's origin.

use actix_files::NamedFile;
use actix_multipart::Multipart;
use actix_web::http::header::{
    self, ContentDisposition, DispositionParam, DispositionType, HeaderValue,
};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use entities::media;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::auth::AuthUser;
use super::AppState;
use crate::actors::media::{sniff_upload, UPLOAD_FILE};
use crate::error::ChatError;
use crate::ids::{now_ms, UserId};
use crate::media::urls::{sanitize_file_name, Variant};
use crate::media::{Job, Kind};
use crate::protocol::MediaStatus;
use crate::store::media::{new_upload, PURPOSE_ATTACHMENT, PURPOSE_AVATAR};

/// Room for the multipart framing around the file in a request's `Content-Length`.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// After a too-large upload, this much more of the request is read (and dropped) so the client
/// gets to see the 413 instead of a reset connection.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;

/// `POST /api/media` query.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// `avatar` for a profile picture (square crops in two sizes); default: an attachment.
    pub purpose: Option<String>,
}

/// `GET /media/{id}/{variant}` query: the signature of a signed URL.
#[derive(Debug, Deserialize)]
pub struct SignedQuery {
    pub exp: Option<u64>,
    pub sig: Option<String>,
}

/// Removes a half-written upload's folder when dropped, unless disarmed.
struct Cleanup(Option<std::path::PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            // Dropped on an async worker: the removal runs on tokio's blocking pool.
            actix_web::rt::spawn(async move {
                let _ = tokio::fs::remove_dir_all(&dir).await;
            });
        }
    }
}

/// `POST /api/media?purpose=` (multipart, field `file`) → 202 {id, status: "processing"}.
#[tracing::instrument(skip_all, fields(user = %auth.user.id))]
pub async fn upload(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
    query: web::Query<UploadQuery>,
    mut payload: Multipart,
) -> Result<HttpResponse, ChatError> {
    state
        .limits
        .user_action(crate::limits::UserAction::Upload, &auth.id())?;
    let cap = upload_cap(&state, &auth.id()).await?;
    let (max, quota_left) = (cap.max, cap.quota_left);
    let too_large = |_: u64| cap.too_large();
    let purpose = match query.purpose.as_deref() {
        None | Some("attachment") => PURPOSE_ATTACHMENT,
        Some("avatar") => PURPOSE_AVATAR,
        Some(_) => return Err(ChatError::invalid("purpose: attachment or avatar")),
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if quota_left == Some(0)
        || declared.is_some_and(|len| len > max.saturating_add(MULTIPART_OVERHEAD))
    {
        return Err(too_large(max));
    }
    let id = crate::ids::MessageId::generate().0;
    let folder = state.media.folder(&id);
    let mut cleanup = Cleanup(None);
    let mut stored: Option<(u64, Option<String>)> = None;
    while let Some(field) = payload.next().await {
        let mut field =
            field.map_err(|e| ChatError::invalid(format!("bad multipart body: {e}")))?;
        if field.name() != Some("file") || stored.is_some() {
            while let Some(chunk) = field.next().await {
                chunk.map_err(|e| ChatError::invalid(format!("bad multipart body: {e}")))?;
            }
            continue;
        }
        let name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .and_then(sanitize_file_name);
        tokio::fs::create_dir_all(&folder)
            .await
            .map_err(storage_error)?;
        cleanup.0 = Some(folder.clone());
        let mut file = tokio::fs::File::create(folder.join(UPLOAD_FILE))
            .await
            .map_err(storage_error)?;
        let mut size: u64 = 0;
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| ChatError::invalid(format!("upload interrupted: {e}")))?;
            size += chunk.len() as u64;
            if size > max {
                drop(file);
                let _ = tokio::fs::remove_dir_all(&folder).await;
                cleanup.0 = None;
                drain(field, payload).await;
                return Err(too_large(max));
            }
            file.write_all(&chunk).await.map_err(storage_error)?;
        }
        file.flush().await.map_err(storage_error)?;
        file.sync_all().await.map_err(storage_error)?;
        stored = Some((size, name));
    }
    let Some((size, name)) = stored else {
        return Err(ChatError::invalid("multipart field \"file\" is missing"));
    };
    let stored = StoredUpload {
        id: id.clone(),
        folder,
        size,
        name,
        purpose,
    };
    accept_upload(&state, &auth.id(), stored).await?;
    cleanup.0 = None;
    Ok(HttpResponse::Accepted().json(json!({"id": id, "status": MediaStatus::Processing})))
}

/// The most a user may upload now: `media.max_upload_bytes`, or what is left of their quota
/// (`media.quota_bytes_per_user`, counting stored media and unfinished resumable uploads).
pub(crate) struct UploadCap {
    pub max: u64,
    /// Set when the quota is the tighter bound.
    pub quota_left: Option<u64>,
    quota: u64,
}

impl UploadCap {
    /// The 413 for an upload over this cap, naming the quota when that is the bound.
    pub fn too_large(&self) -> ChatError {
        match self.quota_left {
            Some(left) => ChatError::TooLarge(format!(
                "upload quota of {} bytes: {left} bytes left",
                self.quota
            )),
            None => too_large(self.max),
        }
    }
}

pub(crate) async fn upload_cap(state: &AppState, user: &UserId) -> Result<UploadCap, ChatError> {
    let mut cap = UploadCap {
        max: state.settings.media.max_upload_bytes,
        quota_left: None,
        quota: state.settings.media.quota_bytes_per_user,
    };
    if cap.quota > 0 {
        let used = state
            .store
            .media_bytes_of(user)
            .await?
            .saturating_add(state.store.pending_upload_bytes(user).await?);
        let left = cap.quota.saturating_sub(used);
        if left < cap.max {
            cap.max = left;
            cap.quota_left = Some(left);
        }
    }
    Ok(cap)
}

/// An upload whose bytes are all in `folder/upload`.
pub(crate) struct StoredUpload {
    /// The media id to be (generated by the server).
    pub id: String,
    pub folder: std::path::PathBuf,
    pub size: u64,
    /// The client's file name, sanitized.
    pub name: Option<String>,
    /// `PURPOSE_ATTACHMENT` or `PURPOSE_AVATAR`.
    pub purpose: &'static str,
}

/// Turns a stored upload into a media item: sniffs what it is, records it (`processing`) and
/// hands it to the MediaWorker pool, which announces the outcome. The one path of both
/// `POST /api/media` and the last `PATCH` of a resumable upload. On an error nothing is
/// recorded; the caller removes the folder.
pub(crate) async fn accept_upload(
    state: &AppState,
    owner: &UserId,
    up: StoredUpload,
) -> Result<(), ChatError> {
    let input = up.folder.join(UPLOAD_FILE);
    let sniffed = sniff_upload(&input).await.map_err(storage_error)?;
    if up.purpose == PURPOSE_AVATAR && sniffed.kind != Kind::Image {
        return Err(ChatError::invalid(
            "an avatar must be a JPEG, PNG, GIF or WebP image",
        ));
    }
    let row = new_upload(
        &up.id,
        owner,
        up.purpose,
        sniffed.kind,
        &sniffed.mime,
        up.size,
        up.name,
    );
    state.store.create_media(row).await?;
    tracing::info!(media = %up.id, bytes = up.size, kind = sniffed.kind.as_str(), mime = %sniffed.mime, "upload stored");
    let job = Job {
        input,
        out_dir: up.folder,
        sniffed,
        avatar: up.purpose == PURPOSE_AVATAR,
    };
    state.media.submit(up.id, owner.clone(), job);
    Ok(())
}

fn too_large(max: u64) -> ChatError {
    ChatError::TooLarge(format!("uploads are limited to {max} bytes"))
}

pub(crate) fn storage_error(e: std::io::Error) -> ChatError {
    tracing::error!(error = %e, "media storage error");
    ChatError::Unavailable("media storage".into())
}

/// Reads and drops the rest of a refused upload, up to [`DRAIN_LIMIT`].
async fn drain(mut field: actix_multipart::Field, mut payload: Multipart) {
    let mut left = DRAIN_LIMIT;
    while let Some(Ok(chunk)) = field.next().await {
        left = left.saturating_sub(chunk.len() as u64);
        if left == 0 {
            return;
        }
    }
    drop(field);
    while let Some(Ok(mut f)) = payload.next().await {
        while let Some(Ok(chunk)) = f.next().await {
            left = left.saturating_sub(chunk.len() as u64);
            if left == 0 {
                return;
            }
        }
    }
}

/// `GET /api/media/{id}` → {id, status, kind, mime, size, url, thumb_url?, width?, height?,
/// duration_ms?}; 404 for ids the caller may not see.
pub async fn get(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let row = state
        .store
        .viewable_media(&path.into_inner(), &auth.id())
        .await?
        .ok_or(ChatError::NotFound("media"))?;
    Ok(HttpResponse::Ok().json(state.store.media_out(&row)))
}

fn now_secs() -> u64 {
    u64::try_from(now_ms() / 1000).unwrap_or(0)
}

/// Whether this request may read media `id`: a valid signature, or a bearer token of someone
/// who may view it. Returns the row and how long a browser may cache the answer.
async fn authorize(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
    variant: Variant,
    q: &SignedQuery,
) -> Result<(media::Model, u64), ChatError> {
    let now = now_secs();
    if let (Some(exp), Some(sig)) = (q.exp, q.sig.as_deref()) {
        if state.store.media_urls.verify(id, variant, exp, sig, now) {
            let row = state
                .store
                .media(id)
                .await?
                .ok_or(ChatError::NotFound("media"))?;
            return Ok((row, (exp - now).min(86_400)));
        }
        return Err(ChatError::NotFound("media"));
    }
    let auth = AuthUser::extract(req)
        .await
        .map_err(|_| ChatError::NotFound("media"))?;
    let row = state
        .store
        .viewable_media(id, &auth.id())
        .await?
        .ok_or(ChatError::NotFound("media"))?;
    Ok((row, 0))
}

/// `GET /media/{id}/content|thumb?exp=&sig=`: the file, with Range support, caching headers,
/// `X-Content-Type-Options: nosniff`, and downloads for anything that is not image/audio/video.
pub async fn serve(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<SignedQuery>,
) -> Result<HttpResponse, ChatError> {
    let (id, variant) = path.into_inner();
    let variant = Variant::parse(&variant).ok_or(ChatError::NotFound("media"))?;
    if id.is_empty() || id.len() > 36 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ChatError::NotFound("media"));
    }
    let (row, max_age) = authorize(&state, &req, &id, variant, &query).await?;
    let file_name = match variant {
        Variant::Content => row.content_file.clone(),
        Variant::Thumb => row.thumb_file.clone(),
    };
    let Some(file_name) = file_name.filter(|_| row.status == MediaStatus::Ready.as_str()) else {
        return Err(ChatError::NotFound("media"));
    };
    let file = NamedFile::open_async(state.media.folder(&row.id).join(&file_name))
        .await
        .map_err(|_| ChatError::NotFound("media"))?;
    let download = variant == Variant::Content && Kind::parse(&row.kind) == Kind::File;
    let mime: mime::Mime = if download {
        mime::APPLICATION_OCTET_STREAM
    } else if variant == Variant::Thumb {
        if file_name.ends_with(".png") {
            mime::IMAGE_PNG
        } else {
            mime::IMAGE_JPEG
        }
    } else {
        row.mime.parse().unwrap_or(mime::APPLICATION_OCTET_STREAM)
    };
    let shown_name = if download {
        row.name.clone().unwrap_or_else(|| "file".into())
    } else {
        file_name
    };
    let disposition = ContentDisposition {
        disposition: if download {
            DispositionType::Attachment
        } else {
            DispositionType::Inline
        },
        parameters: vec![DispositionParam::Filename(shown_name)],
    };
    let mut res = file
        .set_content_type(mime)
        .set_content_disposition(disposition)
        .use_etag(true)
        .into_response(&req);
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    let cache = if max_age > 0 {
        format!("private, max-age={max_age}")
    } else {
        "private, no-cache".into()
    };
    if let Ok(v) = HeaderValue::from_str(&cache) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    Ok(res)
}
