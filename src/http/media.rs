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
use tokio::io::AsyncWriteExt;

use super::auth::AuthUser;
use super::AppState;
use crate::actors::media::UPLOAD_FILE;
use crate::error::ChatError;
use crate::ids::now_secs;
use crate::media::urls::{sanitize_file_name, Variant};
use crate::media::Kind;
use crate::protocol::api::media::UploadAccepted;
use crate::protocol::MediaStatus;
use crate::services::media::{storage_error, MediaService, StoredUpload};
use crate::store::media::Purpose;

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

impl AppState {
    /// The media service over this state.
    pub fn media_service(&self) -> MediaService<'_> {
        MediaService {
            store: &self.store,
            media_urls: &self.media_urls,
            settings: &self.settings,
            pool: &self.media,
        }
    }
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
    let cap = state.media_service().upload_cap(&auth.id()).await?;
    let (max, quota_left) = (cap.max, cap.quota_left);
    let purpose = Purpose::requested(query.purpose.as_deref())
        .map_err(|e| ChatError::invalid(e.to_string()))?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if quota_left == Some(0)
        || declared.is_some_and(|len| len > max.saturating_add(MULTIPART_OVERHEAD))
    {
        return Err(cap.too_large());
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
                return Err(cap.too_large());
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
    state
        .media_service()
        .accept_upload(&auth.id(), stored)
        .await?;
    cleanup.0 = None;
    Ok(HttpResponse::Accepted().json(UploadAccepted {
        id,
        status: MediaStatus::Processing,
    }))
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
    let media = state
        .media_service()
        .get(&auth.id(), &path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(media))
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
        if state.media_urls.verify(id, variant, exp, sig, now) {
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
