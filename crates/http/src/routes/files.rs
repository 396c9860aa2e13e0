//! `POST /v1/{appId}/files` (a multipart upload streamed into the file store) and the download
//! route `GET /files/{fileToken}/{filename}`: a capability URL, no credentials.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::body::SizedStream;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::{StreamExt, TryStreamExt};
use parley_domain::content::SUBTYPES;
use parley_domain::error::Problems;
use parley_domain::files::{generate_token, ByteStream, FileStoreError, StoredFile};
use parley_domain::{Finite, Invalid};
use serde::Serialize;

use super::{ok, Answer};
use crate::error::ApiError;
use crate::openapi::schemas::{Bytes, Error, FileToken, FileUpload};
use crate::openapi::{AppPath, Failures, FilePath};
use crate::state::AppState;

/// Room for the multipart framing and the small fields around a file at the limit.
const FRAMING_BYTES: u64 = 64 * 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Uploaded<'a> {
    file_token: &'a str,
}

fn unavailable() -> ApiError {
    ApiError::Unavailable("no file store is configured".into())
}

fn store_failed(e: FileStoreError) -> ApiError {
    match e {
        FileStoreError::TooLarge(limit) => {
            ApiError::PayloadTooLarge(usize::try_from(limit).unwrap_or(usize::MAX))
        }
        FileStoreError::NotFound => ApiError::NotFound("file"),
        FileStoreError::Upload(why) => {
            ApiError::invalid_json(format!("the upload broke off: {why}"))
        }
        FileStoreError::Store(why) => ApiError::Unavailable(why),
    }
}

/// A small text field, read whole (at most 1 KiB).
async fn small_field(field: &mut actix_multipart::Field, name: &str) -> Result<String, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid_json(format!("multipart: {e}")))?;
        out.extend_from_slice(&chunk);
        if out.len() > 1024 {
            return Err(field_problem(name, "must be at most 1 KiB"));
        }
    }
    String::from_utf8(out).map_err(|_| field_problem(name, "must be UTF-8 text"))
}

fn field_problem(name: &str, why: &str) -> ApiError {
    ApiError::Invalid(Invalid::field(
        parley_domain::InvalidCode::InvalidField,
        name,
        why.to_owned(),
    ))
}

/// The upload's descriptive fields, as given.
#[derive(Default)]
struct Fields {
    filename: Option<String>,
    subtype: Option<String>,
    width: Option<String>,
    height: Option<String>,
    duration: Option<String>,
}

/// Removes the upload's bytes unless disarmed: also when the client goes away mid-request and
/// the handler is dropped before it could clean up.
struct Cleanup {
    store: std::sync::Arc<dyn parley_domain::files::FileStore>,
    token: String,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, token) = (self.store.clone(), std::mem::take(&mut self.token));
            runtime.spawn(async move {
                let _ = store.delete(&token).await;
            });
        }
    }
}

/// `POST /files`.
#[utoipa::path(post, path = "/v1/{appId}/files", tag = "Files",
    summary = "Upload a file for messages", params(AppPath),
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses((status = 200, description = "The file's token", body = FileToken), Failures))]
pub(super) async fn upload(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let app = state.admit(&req)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(ApiError::UnsupportedMediaType);
    }
    let (Some(store), Some(records)) = (&state.files.store, &state.files.records) else {
        return Err(unavailable());
    };
    let limit = state.files.max_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + FRAMING_BYTES) {
        return Err(ApiError::PayloadTooLarge(
            usize::try_from(limit).unwrap_or(usize::MAX),
        ));
    }
    let idle = state.body.idle_timeout;
    let mut parts = Multipart::new(req.headers(), payload);
    let token = generate_token();
    let mut cleanup = Cleanup {
        store: store.clone(),
        token: token.clone(),
        armed: true,
    };
    let mut fields = Fields::default();
    let mut stored: Option<(u64, Option<String>, Option<String>)> = None;
    let outcome: Result<(), ApiError> = async {
        while let Some(part) = next_part(&mut parts, idle).await? {
            let mut part = part;
            let name = part.name().unwrap_or("").to_owned();
            match name.as_str() {
                "file" => {
                    if stored.is_some() {
                        return Err(field_problem("file", "give one file per upload"));
                    }
                    let part_filename = part
                        .content_disposition()
                        .and_then(|d| d.get_filename())
                        .map(str::to_owned);
                    let part_type = part.content_type().map(|m| m.essence_str().to_owned());
                    let body = file_stream(part, idle);
                    let size = store.put(&token, body, limit).await.map_err(store_failed)?;
                    stored = Some((size, part_filename, part_type));
                }
                "filename" => fields.filename = Some(small_field(&mut part, "filename").await?),
                "subtype" => fields.subtype = Some(small_field(&mut part, "subtype").await?),
                "width" => fields.width = Some(small_field(&mut part, "width").await?),
                "height" => fields.height = Some(small_field(&mut part, "height").await?),
                "duration" => fields.duration = Some(small_field(&mut part, "duration").await?),
                other => {
                    let mut problems = Problems::default();
                    problems.unknown(other.to_owned());
                    problems.finish()?;
                }
            }
        }
        Ok(())
    }
    .await;
    let result = match outcome {
        Ok(()) => describe(&app, &token, fields, stored.clone(), &state),
        Err(e) => Err(e),
    };
    // A refused upload leaves nothing behind: removed before the answer (and by the guard when
    // the client went away before one).
    let recorded = match result {
        Ok(file) => records
            .insert_file(&file)
            .await
            .map_err(|e| ApiError::from(parley_domain::ServiceError::from(e))),
        Err(e) => Err(e),
    };
    cleanup.armed = false;
    match recorded {
        Ok(()) => Ok(ok(&Uploaded { file_token: &token })),
        Err(e) => {
            if stored.is_some() {
                let _ = store.delete(&token).await;
            }
            Err(e)
        }
    }
}

/// The next part, failing after `idle` without data.
async fn next_part(
    parts: &mut Multipart,
    idle: Duration,
) -> Result<Option<actix_multipart::Field>, ApiError> {
    match tokio::time::timeout(idle, parts.next()).await {
        Err(_) => Err(ApiError::RequestTimeout("the upload paused for too long")),
        Ok(None) => Ok(None),
        Ok(Some(Ok(field))) => Ok(Some(field)),
        Ok(Some(Err(e))) => Err(ApiError::invalid_json(format!("multipart: {e}"))),
    }
}

/// The file part as the store's byte stream. The multipart field is not `Send`, so its chunks
/// are forwarded through a channel by a local task.
fn file_stream(mut field: actix_multipart::Field, idle: Duration) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, FileStoreError>>(4);
    actix_web::rt::spawn(async move {
        loop {
            let next = tokio::time::timeout(idle, field.next()).await;
            let item = match next {
                Err(_) => Some(Err(FileStoreError::Upload(
                    "the upload paused for too long".into(),
                ))),
                Ok(None) => None,
                Ok(Some(Ok(bytes))) => Some(Ok(bytes)),
                Ok(Some(Err(e))) => Some(Err(FileStoreError::Upload(e.to_string()))),
            };
            let Some(item) = item else {
                break;
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    Box::pin(tokio_stream(rx))
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, FileStoreError>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, FileStoreError>> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn unsigned(name: &str, raw: &str) -> Result<u64, ApiError> {
    raw.trim()
        .parse::<u64>()
        .map_err(|_| field_problem(name, "must be a whole number (pixels)"))
}

/// The record of the upload, once every part is in.
fn describe(
    app: &parley_domain::AppId,
    token: &str,
    fields: Fields,
    stored: Option<(u64, Option<String>, Option<String>)>,
    state: &AppState,
) -> Result<StoredFile, ApiError> {
    let Some((size, part_filename, part_type)) = stored else {
        return Err(field_problem("file", "is required: a part named file"));
    };
    let filename = fields
        .filename
        .filter(|f| !f.is_empty())
        .or(part_filename.filter(|f| !f.is_empty()))
        .ok_or_else(|| {
            field_problem(
                "filename",
                "is required: a filename field, or a filename in the file part",
            )
        })?;
    if filename.chars().any(char::is_control) || filename.len() > 255 {
        return Err(field_problem(
            "filename",
            "must be 1 to 255 bytes without control characters",
        ));
    }
    let subtype = match fields.subtype.filter(|s| !s.is_empty()) {
        Some(s) if SUBTYPES.contains(&s.as_str()) => Some(s),
        Some(_) => {
            return Err(field_problem(
                "subtype",
                "must be image, video, audio or voice",
            ))
        }
        None => None,
    };
    let width = fields.width.map(|w| unsigned("width", &w)).transpose()?;
    let height = fields.height.map(|h| unsigned("height", &h)).transpose()?;
    let duration = match fields.duration {
        None => None,
        Some(raw) => match raw.trim().parse::<f64>() {
            Ok(d) if d.is_finite() && d >= 0.0 => Some(Finite(d)),
            _ => return Err(field_problem("duration", "must be a number of seconds")),
        },
    };
    let content_type = match part_type {
        Some(t) if t != "application/octet-stream" => t,
        _ => mime_guess::from_path(&filename)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_owned(),
    };
    Ok(StoredFile {
        app: app.clone(),
        token: token.to_owned(),
        filename,
        content_type,
        size,
        subtype,
        width,
        height,
        duration,
        created_at: state.files.now_ms(),
    })
}

/// A `Range: bytes=...` header as a half-open range of `size` bytes; `Err` when unsatisfiable.
/// `None` (serve everything) for no header, several ranges, or one that is not `bytes`.
fn range(req: &HttpRequest, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(raw) = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.is_empty(), last.is_empty()) {
        (true, false) => {
            let n: u64 = last.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size)
        }
        (false, _) => {
            let start: u64 = first.parse().map_err(|_| ())?;
            let end = if last.is_empty() {
                size
            } else {
                let l: u64 = last.parse().map_err(|_| ())?;
                if l < start {
                    return Err(());
                }
                l.saturating_add(1).min(size)
            };
            (start, end)
        }
        (true, true) => return Ok(None),
    };
    if parsed.0 >= size {
        return Err(());
    }
    Ok(Some(parsed))
}

/// `GET /files/{fileToken}/{filename}`: the exact bytes, no credentials needed.
#[utoipa::path(get, path = "/files/{token}/{filename}", tag = "Files",
    summary = "Download a file (no credentials: the URL is the capability)", params(FilePath),
    security(()),
    responses(
        (status = 200, description = "The file's exact bytes", content_type = "application/octet-stream", body = Bytes),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Bytes),
        (status = 416, description = "The range is outside the file", body = Error),
        Failures))]
pub async fn download(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let token = req.match_info().get("token").unwrap_or("").to_owned();
    let (Some(store), Some(records)) = (&state.files.store, &state.files.records) else {
        return Err(ApiError::NotFound("file"));
    };
    let Some(file) = records
        .find_file(&token)
        .await
        .map_err(|e| ApiError::from(parley_domain::ServiceError::from(e)))?
    else {
        return Err(ApiError::NotFound("file"));
    };
    let (status, start, end) = match range(&req, file.size) {
        Ok(None) => (StatusCode::OK, 0, file.size),
        Ok(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Err(()) => {
            return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
                .insert_header((header::CONTENT_RANGE, format!("bytes */{}", file.size)))
                .content_type("application/json")
                .body(
                    r#"{"errorCode":"RANGE_NOT_SATISFIABLE","message":"the range is outside the file"}"#,
                ))
        }
    };
    let body = store.get(&token, start, end).await.map_err(store_failed)?;
    let mut response = HttpResponse::build(status);
    // Uploads are served from the API's own origin: never sniffed, never run as a page.
    let media = ["image/", "video/", "audio/"]
        .iter()
        .any(|p| file.content_type.starts_with(p))
        && file.content_type != "image/svg+xml";
    response
        .content_type(file.content_type.as_str())
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        ))
        .insert_header(ContentDisposition {
            disposition: if media {
                DispositionType::Inline
            } else {
                DispositionType::Attachment
            },
            parameters: vec![DispositionParam::Filename(file.filename.clone())],
        });
    if status == StatusCode::PARTIAL_CONTENT {
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{}", end - 1, file.size),
        ));
    }
    let stream = body.map_err(|e| std::io::Error::other(e.to_string()));
    Ok(response.body(SizedStream::new(end - start, stream)))
}
