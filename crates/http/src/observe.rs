//! What wraps every request: its ID (`X-Request-Id`, taken from the client when sensible,
//! else made), a tracing span carrying that ID around everything logged while it is handled,
//! the request metrics, and one access-log line.
//!
//! The access log names the route template, never the path: paths carry IDs and, for file
//! downloads, the file's capability token. Headers (credentials) are never logged.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use tracing::Instrument;

use crate::metrics::UNMATCHED;
use crate::state::AppState;

/// The header that carries a request's ID both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-given request ID kept; a longer one is replaced.
const MAX_REQUEST_ID: usize = 128;

tokio::task_local! {
    static CURRENT: String;
}

/// The app a request was admitted for, once its credentials were checked.
#[derive(Debug, Clone)]
pub(crate) struct AdmittedApp(pub(crate) String);

/// The ID of the request being handled by this task, if any.
pub(crate) fn current_request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// The client's `X-Request-Id` when it is 1 to 128 printable ASCII characters without
/// spaces; otherwise a new random one.
fn request_id(req: &ServiceRequest) -> String {
    let given = req
        .headers()
        .get(&REQUEST_ID)
        .map(HeaderValue::as_bytes)
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID)
        .filter(|v| v.iter().all(|b| (0x21..=0x7e).contains(b)));
    match given {
        Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        None => format!("{:032x}", rand::random::<u128>()),
    }
}

/// A method as a label: the standard ones by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The middleware (`actix_web::middleware::from_fn`).
///
/// # Errors
/// None of its own: an error of the inner service becomes its response here, so that it is
/// counted, logged and carries the request ID like any other.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("request", request_id = %id);
    let outcome = CURRENT
        .scope(id.clone(), async move {
            // An error is made into its response here, inside the scope, so that a 5xx body
            // names the request ID. (The request cannot be kept for it: routing needs to own
            // it alone.)
            next.call(req).await.map_err(|e| {
                let response = e.error_response();
                (e, response)
            })
        })
        .instrument(span.clone())
        .await;
    let header = HeaderValue::from_str(&id).ok();
    let (answer, route, app, status) = match outcome {
        Ok(mut res) => {
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| UNMATCHED.to_owned());
            let app = res
                .request()
                .extensions()
                .get::<AdmittedApp>()
                .map(|a| a.0.clone())
                .unwrap_or_default();
            let status = res.status().as_u16();
            if let Some(v) = header {
                res.headers_mut().insert(REQUEST_ID, v);
            }
            (Ok(res), route, app, status)
        }
        Err((e, mut response)) => {
            let status = response.status().as_u16();
            if let Some(v) = header {
                response.headers_mut().insert(REQUEST_ID, v);
            }
            let error: actix_web::Error =
                actix_web::error::InternalError::from_response(e.to_string(), response).into();
            (Err(error), UNMATCHED.to_owned(), String::new(), status)
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    if let Some(state) = &state {
        state
            .metrics
            .observe_request(&route, method, status, seconds);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "parley::access",
            method,
            route = %route,
            status,
            duration_ms = (seconds * 1000.0 * 1000.0).round() / 1000.0,
            app_id = %app,
            request_id = %id,
            "request"
        );
    });
    answer
}
