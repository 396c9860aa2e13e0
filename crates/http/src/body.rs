//! Reading a JSON request body: content type, size limit, time limits, the memory that bodies
//! in flight may hold, syntax. Field rules live in `dto`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

use crate::error::ApiError;
use crate::json;

/// How request bodies are read: the limits that keep a slow or hostile client from holding a
/// connection, a worker or memory.
#[derive(Debug, Clone)]
pub struct BodyPolicy {
    /// Bytes of one body (more is 413).
    pub limit: usize,
    /// How long the body may pause between two reads (408 after).
    pub idle_timeout: Duration,
    /// How long a whole body may take to arrive, however steadily (408 after).
    pub total_timeout: Duration,
    /// Bytes of bodies the process buffers at once, in KiB permits: a body reserves its size
    /// before it is read, and waits (within `total_timeout`) while others hold the rest.
    buffers: Arc<Semaphore>,
    buffer_kib: u32,
}

/// How many times its size a body's parsed values may take in memory.
const PARSE_BUDGET_FACTOR: usize = 4;
/// The budget of small bodies, whose values cost more per byte but little in all.
const MIN_PARSE_BUDGET: usize = 64 * 1024;

impl BodyPolicy {
    /// A policy for bodies of at most `limit` bytes, with `buffer_bytes` for all bodies being
    /// read at once (at least one body's worth).
    pub fn new(
        limit: usize,
        idle_timeout: Duration,
        total_timeout: Duration,
        buffer_bytes: usize,
    ) -> Self {
        let buffer_kib = kib(buffer_bytes.max(limit)).min(Semaphore::MAX_PERMITS as u32);
        Self {
            limit,
            idle_timeout,
            total_timeout,
            buffers: Arc::new(Semaphore::new(buffer_kib as usize)),
            buffer_kib,
        }
    }

    /// The memory a body's parsed values may take: a small multiple of the body limit.
    pub fn parse_budget(&self) -> usize {
        (self.limit * PARSE_BUDGET_FACTOR).max(MIN_PARSE_BUDGET)
    }
}

impl BodyPolicy {
    /// Bodies of at most `limit` bytes with the other defaults of `config/default.toml`.
    pub fn with_limit(limit: usize) -> Self {
        Self::new(
            limit,
            Duration::from_secs(10),
            Duration::from_secs(30),
            64 * 1024 * 1024,
        )
    }
}

fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

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
    policy: &BodyPolicy,
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
    read_json(req, payload, policy).await
}

/// Reads the body as JSON, refusing a wrong content type (415) or more than the limit (413)
/// before reading anything, a body that stalls or trickles (408), and JSON that is invalid,
/// repeats a key, nests too deep or holds too many values (400).
///
/// # Errors
/// [`ApiError::UnsupportedMediaType`], [`ApiError::PayloadTooLarge`],
/// [`ApiError::RequestTimeout`], [`ApiError::Unavailable`] (no buffer freed up in time),
/// [`ApiError::InvalidJson`].
pub async fn read_json(
    req: &HttpRequest,
    mut payload: web::Payload,
    policy: &BodyPolicy,
) -> Result<Value, ApiError> {
    if !is_json(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let limit = policy.limit;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let deadline = Instant::now() + policy.total_timeout;
    // A chunked body may be as large as the limit, so it reserves that much.
    let reserve = kib(declared.unwrap_or(limit)).clamp(1, policy.buffer_kib);
    let _buffer = match timeout_at(deadline, policy.buffers.acquire_many(reserve)).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_closed)) => return Err(ApiError::Internal("body buffers closed".into())),
        Err(_elapsed) => {
            return Err(ApiError::Unavailable(
                "too many request bodies are being received at once".into(),
            ))
        }
    };
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    loop {
        let pause = (Instant::now() + policy.idle_timeout).min(deadline);
        let chunk = match timeout_at(pause, payload.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_elapsed) if pause == deadline => {
                return Err(ApiError::RequestTimeout(
                    "the whole body must arrive within the body timeout",
                ))
            }
            Err(_elapsed) => {
                return Err(ApiError::RequestTimeout(
                    "the body stopped arriving for longer than the idle timeout",
                ))
            }
        };
        let chunk =
            chunk.map_err(|e| ApiError::invalid_json(format!("could not read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    json::parse(&body, policy.parse_budget()).map_err(|failure| ApiError::InvalidJson {
        message: failure.message,
        reasons: failure.refusal.map(|r| r.reason()).into_iter().collect(),
    })
}
