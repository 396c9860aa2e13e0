//! The one place where errors become HTTP statuses and JSON bodies:
//! `{"errorCode": "SCREAMING_SNAKE", "message": "...", "reasons": {...}}`.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use parley_domain::{Invalid, InvalidCode, RepositoryError, ServiceError};
use serde::Serialize;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("request body is not valid JSON: {message}")]
    InvalidJson {
        message: String,
        /// The place in the body, for a body that is valid JSON but refused.
        reasons: BTreeMap<String, String>,
    },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no such route: {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("method {0} is not allowed on this resource")]
    MethodNotAllowed(String),
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("request bodies must have Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the request body did not arrive in time: {0}")]
    RequestTimeout(&'static str),
    #[error("too many requests for this app; retry after {0} s")]
    RateLimited(u64),
    #[error("service temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    error_code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasons: Option<&'a BTreeMap<String, String>>,
    /// On 5xx answers: the request's ID, so that a client's report finds the log lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid(i) => match i.code {
                InvalidCode::InvalidField => "INVALID_FIELD",
                InvalidCode::UnknownField => "UNKNOWN_FIELD",
                InvalidCode::LimitExceeded => "LIMIT_EXCEEDED",
                InvalidCode::InvalidId => "INVALID_ID",
            },
            ApiError::InvalidJson { .. } => "INVALID_JSON",
            ApiError::RequestTimeout(_) => "REQUEST_TIMEOUT",
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::RouteNotFound { .. } => "ROUTE_NOT_FOUND",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::RateLimited(_) => "RATE_LIMITED",
            ApiError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }
}

impl ApiError {
    /// A body that is not JSON, with no place to point at.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        ApiError::InvalidJson {
            message: message.into(),
            reasons: BTreeMap::new(),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(value: Invalid) -> Self {
        ApiError::Invalid(value)
    }
}

impl From<ServiceError> for ApiError {
    fn from(value: ServiceError) -> Self {
        match value {
            ServiceError::Invalid(invalid) => ApiError::Invalid(invalid),
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::Busy => {
                ApiError::Unavailable("too many concurrent writes to one record".into())
            }
            ServiceError::Repository(RepositoryError::Unavailable(why)) => {
                ApiError::Unavailable(why)
            }
            ServiceError::Repository(RepositoryError::Conflict) => {
                ApiError::Unavailable("concurrent write".into())
            }
            ServiceError::Repository(RepositoryError::Other(why)) => ApiError::Internal(why),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) | ApiError::InvalidJson { .. } => StatusCode::BAD_REQUEST,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) | ApiError::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // Server faults are logged with their detail; the client learns only that it may retry.
        let message = match self {
            ApiError::Unavailable(detail) => {
                tracing::warn!(%detail, "answering 503");
                "the service is temporarily unavailable; retry the request".to_string()
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "answering 500");
                "internal server error; the request may be retried".to_string()
            }
            other => other.to_string(),
        };
        let reasons = match self {
            ApiError::Invalid(invalid) if !invalid.reasons.is_empty() => Some(&invalid.reasons),
            ApiError::InvalidJson { reasons, .. } if !reasons.is_empty() => Some(reasons),
            _ => None,
        };
        let request_id = if status.is_server_error() {
            crate::observe::current_request_id()
        } else {
            None
        };
        let body = ErrorBody {
            error_code: self.code(),
            message,
            reasons,
            request_id,
        };
        let mut response = HttpResponse::build(status);
        match self {
            ApiError::RateLimited(secs) => {
                response.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            // The rest of a late body may still arrive; the connection cannot be reused.
            ApiError::RequestTimeout(_) => {
                response.force_close();
            }
            _ => {}
        }
        response.json(body)
    }
}
