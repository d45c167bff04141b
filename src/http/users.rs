//! Looking people up.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::auth::{user_out, AuthUser};
use super::AppState;
use crate::error::ChatError;
use crate::ids::UserId;

/// `GET /api/me` → {user}.
pub async fn me(auth: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({"user": user_out(&auth.user)}))
}

/// `GET /api/users/by-name/{username}` → {user} or 404.
pub async fn by_name(state: web::Data<AppState>, _auth: AuthUser, path: web::Path<String>) -> Result<HttpResponse, ChatError> {
    let name = path.into_inner().trim().to_lowercase();
    let user = state.store.user_by_username(&name).await?.ok_or(ChatError::NotFound("user"))?;
    Ok(HttpResponse::Ok().json(json!({"user": user_out(&user)})))
}

/// `GET /api/users/{id}` → {user} or 404.
pub async fn by_id(state: web::Data<AppState>, _auth: AuthUser, path: web::Path<String>) -> Result<HttpResponse, ChatError> {
    let user = state.store.user_by_id(&UserId(path.into_inner())).await?.ok_or(ChatError::NotFound("user"))?;
    Ok(HttpResponse::Ok().json(json!({"user": user_out(&user)})))
}
