//! `POST /v1/{appId}/batch` (API.md "Batch"): up to 10 operations, each dispatched as its own
//! request into this worker's instance of the same actix application, one after the other, so
//! that routing, rules, limits, statuses and side effects are exactly those of standalone
//! requests.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use actix_service::IntoServiceFactory;
use actix_web::body::{to_bytes, BoxBody};
use actix_web::dev::ServiceResponse;
use actix_web::dev::{AppConfig, Payload, Service, ServiceFactory};
use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use actix_web::http::{Method, Uri};
use actix_web::{web, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use super::{ok, Answer};
use crate::body::read_json;
use crate::error::ApiError;
use crate::openapi::schemas::{BatchAnswers, BatchBody};
use crate::openapi::{AppPath, Failures};
use crate::state::{AppState, BatchOperation};
use crate::version;

/// Operations per batch.
pub const MAX_OPERATIONS: usize = 10;

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "PATCH", "DELETE"];

/// One operation, checked.
struct Operation {
    sequence: i64,
    method: Method,
    /// Path and query relative to `/v1/{appId}`.
    target: String,
    body: Option<Vec<u8>>,
    api_version: Option<String>,
}

fn malformed(why: impl Into<String>) -> ApiError {
    ApiError::Invalid(parley_domain::Invalid::field(
        parley_domain::InvalidCode::InvalidField,
        "(body)",
        why,
    ))
}

fn at(i: usize, why: &str) -> ApiError {
    ApiError::Invalid(parley_domain::Invalid::field(
        parley_domain::InvalidCode::InvalidField,
        format!("[{i}]"),
        why.to_owned(),
    ))
}

/// A GET payload as a query string: an object of string (or number/boolean) parameters.
fn query_of(i: usize, payload: &Value) -> Result<String, ApiError> {
    let Value::Object(map) = payload else {
        return Err(at(
            i,
            "a GET's payload must be an object of query parameters",
        ));
    };
    let mut pairs = Vec::with_capacity(map.len());
    for (key, value) in map {
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(at(i, "query parameter values must be strings")),
        };
        pairs.push((key.as_str(), value));
    }
    serde_urlencoded::to_string(&pairs).map_err(|_| at(i, "query parameters cannot be encoded"))
}

/// The whole batch checked before anything runs: the malformed cases are a 400 for all.
fn operations(body: Value) -> Result<Vec<Operation>, ApiError> {
    let Value::Array(items) = body else {
        return Err(malformed(
            "must be an array of operations [sequenceNumber, method, path, payload?, options?]",
        ));
    };
    if items.is_empty() {
        return Err(malformed("must contain at least one operation"));
    }
    if items.len() > MAX_OPERATIONS {
        return Err(ApiError::Invalid(parley_domain::Invalid::field(
            parley_domain::InvalidCode::LimitExceeded,
            "(body)",
            format!("at most {MAX_OPERATIONS} operations per batch"),
        )));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::Array(parts) = item else {
            return Err(at(
                i,
                "must be an array [sequenceNumber, method, path, payload?, options?]",
            ));
        };
        if !(3..=5).contains(&parts.len()) {
            return Err(at(
                i,
                "must have 3 to 5 elements: [sequenceNumber, method, path, payload?, options?]",
            ));
        }
        let Some(sequence) = parts[0].as_i64() else {
            return Err(at(i, "the sequence number must be an integer"));
        };
        if !seen.insert(sequence) {
            return Err(at(i, "repeats a sequence number of this batch"));
        }
        let method = match parts[1].as_str() {
            Some(m) if METHODS.contains(&m) => Method::from_bytes(m.as_bytes())
                .map_err(|_| at(i, "the method must be GET, PUT, POST, PATCH or DELETE"))?,
            _ => return Err(at(i, "the method must be GET, PUT, POST, PATCH or DELETE")),
        };
        let Some(path) = parts[2].as_str().filter(|p| p.starts_with('/')) else {
            return Err(at(i, "the path must be a string starting with /"));
        };
        let bare = path.split(['?', '#']).next().unwrap_or("");
        if bare.trim_end_matches('/') == "/batch" {
            return Err(at(i, "a batch cannot contain /batch"));
        }
        if bare.trim_end_matches('/') == "/events/stream" {
            return Err(at(
                i,
                "the event stream never ends: it cannot be a batch operation",
            ));
        }
        let payload = parts.get(3).filter(|p| !p.is_null());
        let (target, body) = match (payload, method == Method::GET) {
            (Some(payload), true) => {
                let query = query_of(i, payload)?;
                let joiner = if path.contains('?') { '&' } else { '?' };
                let target = if query.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}{joiner}{query}")
                };
                (target, None)
            }
            (Some(payload), false) => (
                path.to_owned(),
                Some(serde_json::to_vec(payload).unwrap_or_default()),
            ),
            (None, _) => (path.to_owned(), None),
        };
        let api_version = match parts.get(4) {
            None | Some(Value::Null) => None,
            Some(Value::Object(options)) => match options.get("api_version") {
                None | Some(Value::Null) => None,
                Some(Value::String(v)) => Some(v.clone()),
                Some(_) => return Err(at(i, "options.api_version must be a string")),
            },
            Some(_) => return Err(at(i, "options must be an object")),
        };
        out.push(Operation {
            sequence,
            method,
            target,
            body,
            api_version,
        });
    }
    Ok(out)
}

type Inner = Rc<
    dyn Fn(
        actix_http::Request,
    ) -> LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, actix_web::Error>>,
>;

thread_local! {
    /// This worker's instance of the application, built on its first batch, with the address
    /// of the state it was built over (tests run several servers in one process).
    static INNER: RefCell<Option<(usize, Inner)>> = const { RefCell::new(None) };
}

async fn inner_service(state: &web::Data<AppState>) -> Result<Inner, ApiError> {
    let key = std::ptr::from_ref::<AppState>(state.as_ref()) as usize;
    let cached = INNER.with(|cell| {
        cell.borrow()
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, inner)| inner.clone())
    });
    if let Some(inner) = cached {
        return Ok(inner);
    }
    let service = super::bare_app(state.clone())
        .into_factory()
        .new_service(AppConfig::default())
        .await
        .map_err(|()| ApiError::Internal("the batch dispatcher could not start".into()))?;
    let service = Rc::new(service);
    let inner: Inner = Rc::new(move |req| {
        let service = service.clone();
        Box::pin(async move { Ok(service.call(req).await?.map_into_boxed_body()) })
    });
    INNER.with(|cell| *cell.borrow_mut() = Some((key, inner.clone())));
    Ok(inner)
}

/// The request of one operation, with the batch's credentials.
fn request_of(
    batch: &HttpRequest,
    app_segment: &str,
    op: &Operation,
) -> Result<actix_http::Request, String> {
    let uri: Uri = format!("/v1/{app_segment}{}", op.target)
        .parse()
        .map_err(|_| format!("the path {:?} is not a valid URI path", op.target))?;
    let mut req = match &op.body {
        Some(body) => actix_http::Request::with_payload(Payload::from(body.clone())),
        None => actix_http::Request::new(),
    };
    let head = req.head_mut();
    head.method = op.method.clone();
    head.uri = uri;
    head.version = batch.version();
    for value in batch.headers().get_all(AUTHORIZATION) {
        head.headers.append(AUTHORIZATION, value.clone());
    }
    let version_header = HeaderName::from_static("talkjs-rest-version");
    match &op.api_version {
        Some(v) => {
            let value = HeaderValue::from_str(v)
                .map_err(|_| "options.api_version is not a valid header value".to_string())?;
            head.headers.insert(version_header, value);
        }
        None => {
            if let Some(v) = batch.headers().get(version::HEADER) {
                head.headers.insert(version_header, v.clone());
            }
        }
    }
    if let Some(body) = &op.body {
        head.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        head.headers.insert(
            actix_web::http::header::CONTENT_LENGTH,
            HeaderValue::from(body.len()),
        );
    }
    req.extensions_mut().insert(BatchOperation);
    Ok(req)
}

/// `POST /batch`.
#[utoipa::path(post, path = "/v1/{appId}/batch", tag = "Batch",
    summary = "Run up to 10 operations in one request",
    description = "Each operation runs as its own request with the batch's credentials, one after the other; one failing does not stop the others.",
    params(AppPath), request_body(content = BatchBody, content_type = "application/json"),
    responses((status = 200, description = "One answer per operation", body = BatchAnswers), Failures))]
pub(super) async fn batch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    // Authenticated before the body is read; counted for the rate limit once its size is known.
    let app = state.authenticate(&req)?;
    // However its path was spelled (`//batch`, `/%62atch`), a batch inside a batch is refused.
    if req.extensions().get::<BatchOperation>().is_some() {
        return Err(malformed("a batch cannot contain /batch"));
    }
    let body = read_json(&req, payload, &state.body).await?;
    let ops = operations(body)?;
    let weight = u32::try_from(ops.len()).unwrap_or(u32::MAX);
    state.charge(&req, &app, weight)?;
    let app_segment = req.path().split('/').nth(2).unwrap_or("").to_owned();
    let inner = inner_service(&state).await?;
    let mut answers = Vec::with_capacity(ops.len());
    for op in &ops {
        let (status, text) = match request_of(&req, &app_segment, op) {
            Ok(request) => {
                let response = match inner(request).await {
                    Ok(response) => response,
                    Err(e) => {
                        let response = e.error_response();
                        ServiceResponse::new(req.clone(), response)
                    }
                };
                let status = response.status().as_u16();
                let bytes = to_bytes(response.into_body())
                    .await
                    .map_err(|_| ApiError::Internal("an operation's body failed".into()))?;
                (status, String::from_utf8_lossy(&bytes).into_owned())
            }
            Err(why) => {
                let error = ApiError::Invalid(parley_domain::Invalid::field(
                    parley_domain::InvalidCode::InvalidField,
                    "path",
                    why,
                ));
                let response = actix_web::ResponseError::error_response(&error);
                let bytes = to_bytes(response.into_body()).await.unwrap_or_default();
                (400, String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        answers.push(serde_json::json!([op.sequence, status, text]));
    }
    Ok(ok(&answers))
}
