//! Routes and handlers of the REST API.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::body::read_json;
use crate::dto::{conversation_patch, ConversationView};
use crate::error::ApiError;
use crate::path::conversation_id;
use crate::state::AppState;

type Answer = Result<HttpResponse, ApiError>;

/// Registers every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/{app_id}/conversations/{conversation_id}")
            .route(web::get().to(get_conversation))
            .route(web::put().to(put_conversation))
            .route(web::delete().to(delete_conversation))
            .default_service(web::to(method_not_allowed)),
    );
}

fn ok<T: Serialize>(value: &T) -> HttpResponse {
    HttpResponse::Ok().json(value)
}

fn ok_empty() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body("{}")
}

/// Answers every request that matches no route: a JSON 404.
pub async fn route_not_found(req: HttpRequest) -> Answer {
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().to_string(),
    })
}

async fn method_not_allowed(req: HttpRequest) -> Answer {
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}

async fn get_conversation(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let conversation = state.conversations.get(&app, &id).await?;
    Ok(ok(&ConversationView::from(&conversation)))
}

async fn put_conversation(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let body = read_json(&req, payload, state.body_limit()).await?;
    let patch = conversation_patch(body, &id)?;
    state.conversations.put(&app, &id, &patch).await?;
    Ok(ok_empty())
}

async fn delete_conversation(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    state.conversations.delete(&app, &id).await?;
    Ok(ok_empty())
}
