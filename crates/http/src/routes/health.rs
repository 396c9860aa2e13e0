//! `GET /health/live` and `GET /health/ready`, for load balancers and orchestrators; no
//! credentials.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::Answer;
use crate::openapi::schemas::Health;
use crate::state::AppState;

#[derive(Serialize)]
struct Status<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// The process is up and answering.
#[utoipa::path(get, path = "/health/live", tag = "Operations",
    summary = "Liveness: the process answers", security(()),
    responses((status = 200, description = "Alive", body = Health)))]
pub(super) async fn live() -> Answer {
    Ok(HttpResponse::Ok().json(Status {
        status: "ok",
        detail: None,
    }))
}

/// The database answers and is migrated: this server can serve requests.
#[utoipa::path(get, path = "/health/ready", tag = "Operations",
    summary = "Readiness: the database answers and is migrated", security(()),
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready; `detail` says why", body = Health)))]
pub(super) async fn ready(state: web::Data<AppState>) -> Answer {
    let checked = match &state.probe {
        Some(probe) => probe.ready().await,
        None => Ok(()),
    };
    Ok(match checked {
        Ok(()) => HttpResponse::Ok().json(Status {
            status: "ok",
            detail: None,
        }),
        Err(why) => {
            tracing::warn!(%why, "not ready");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "1"))
                .json(Status {
                    status: "unavailable",
                    detail: Some(&why),
                })
        }
    })
}
