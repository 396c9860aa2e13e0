//! Reading a JSON request body: content type, size limit, syntax. Field rules live in `dto`.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use crate::error::ApiError;

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Like [`read_json`], but a request without a body counts as `{}` (whatever its content type).
///
/// # Errors
/// As [`read_json`].
pub async fn read_json_or_empty(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Value, ApiError> {
    let headers = req.headers();
    let declared_empty = headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0");
    let no_body = headers.get(header::CONTENT_LENGTH).is_none()
        && headers.get(header::TRANSFER_ENCODING).is_none();
    if declared_empty || no_body {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    read_json(req, payload, limit).await
}

/// Reads the body as JSON, refusing a wrong content type (415) or more than `limit` bytes (413)
/// before parsing anything.
///
/// # Errors
/// [`ApiError::UnsupportedMediaType`], [`ApiError::PayloadTooLarge`], [`ApiError::InvalidJson`].
pub async fn read_json(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Value, ApiError> {
    if !is_json(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::InvalidJson(format!("could not read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::InvalidJson(e.to_string()))
}
