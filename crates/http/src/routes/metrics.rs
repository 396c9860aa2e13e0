//! `GET /metrics`: Prometheus text format, no credentials (serve it on `metrics.port` to keep
//! it off the public port).

use actix_web::{web, HttpResponse};

use super::Answer;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(get, path = "/metrics", tag = "Operations",
    summary = "Prometheus metrics", security(()),
    description = "Requests by route template, method and status; latency by route; the database pool; the SQLite writer queue; the webhook outbox; the process. Answers 404 when `metrics.port` moves it to a port of its own.",
    responses(
        (status = 200, description = "The text exposition format", content_type = "text/plain", body = String),
        (status = 404, description = "Served on `metrics.port` instead", body = crate::openapi::schemas::Error)))]
pub(super) async fn metrics(state: web::Data<AppState>) -> Answer {
    if !state.metrics_here {
        return Err(ApiError::RouteNotFound {
            method: "GET".into(),
            path: "/metrics".into(),
        });
    }
    Ok(render(&state).await)
}

/// The exposition, for this route and for the server on `metrics.port`.
pub async fn render(state: &AppState) -> HttpResponse {
    let text = state.metrics.render(state.probe.as_ref()).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}
