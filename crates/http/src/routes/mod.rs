//! Routes and handlers of the REST API.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::body::{read_json, read_json_or_empty};
use crate::dto::{
    conversation_patch, conversation_query, import_items, join_body, legacy_patch, message_patch,
    message_query, new_messages, participant_patch, query_pairs, user_batch,
    user_conversation_query, user_patch, user_query, ConversationView, Created, Data, MessageView,
    UserConversationView, UserView,
};
use crate::error::ApiError;
use crate::path::{
    conversation_id, import_conversation_id, legacy_key, message_id, participant_id, user_id,
};
use crate::state::AppState;
use crate::version::RestVersion;
use parley_domain::{ConversationQuery, Direction, OrderBy, ServiceError};

mod batch;
mod events;
mod files;
mod reactions;

pub use events::{EventBus, JsonEventEncoder};

type Answer = Result<HttpResponse, ApiError>;

/// The whole application over `state`: every route, `/conversations/x/` as `/conversations/x`
/// (TalkJS's clients send both), and the JSON 404 for the rest. The server runs it, and
/// `/batch` dispatches its operations into a per-worker instance of it.
pub fn app(
    state: web::Data<AppState>,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .wrap(actix_web::middleware::NormalizePath::trim())
        .app_data(state)
        .configure(configure)
        .default_service(web::to(route_not_found))
}

/// Registers every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/{app_id}/batch").route(web::post().to(batch::batch)))
        .service(resource("/v1/{app_id}/files").route(web::post().to(files::upload)))
        .service(resource("/files/{token}/{filename}").route(web::get().to(files::download)))
        .service(resource("/v1/{app_id}/conversations").route(web::get().to(list_conversations)))
        .service(
            resource("/v1/{app_id}/conversations/{conversation_id}")
                .route(web::get().to(get_conversation))
                .route(web::put().to(put_conversation))
                .route(web::delete().to(delete_conversation)),
        )
        .service(
            resource("/v1/{app_id}/conversations/{conversation_id}/participants/{user_id}")
                .route(web::put().to(join_conversation))
                .route(web::patch().to(patch_participant))
                .route(web::delete().to(leave_conversation)),
        )
        .service(
            resource("/v1/{app_id}/users")
                .route(web::get().to(list_users))
                .route(web::put().to(put_users)),
        )
        .service(
            resource("/v1/{app_id}/users/{user_id}")
                .route(web::get().to(get_user))
                .route(web::put().to(put_user)),
        )
        .service(
            resource("/v1/{app_id}/users/{user_id}/conversations")
                .route(web::get().to(list_user_conversations)),
        )
        .service(
            resource("/v1/{app_id}/conversations/{conversation_id}/messages")
                .route(web::get().to(list_messages))
                .route(web::post().to(send_messages)),
        )
        .service(
            resource("/v1/{app_id}/import/conversations/{conversation_id}/messages")
                .route(web::post().to(import_messages)),
        )
        .service(resource("/v1/{app_id}/presences").route(web::post().to(presences)))
        .service(
            resource("/v1/{app_id}/users/{user_id}/sessions").route(web::get().to(user_sessions)),
        )
        .service(resource("/v1/{app_id}/events").route(web::get().to(events::list_events)))
        .service(resource("/v1/{app_id}/events/stream").route(web::get().to(events::stream_events)))
        .service(
            resource("/v1/{app_id}/webhooks/deliveries")
                .route(web::get().to(events::list_deliveries)),
        )
        .service(
            resource("/v1/{app_id}/webhooks/deliveries/{event_id}/retry")
                .route(web::post().to(events::retry_delivery)),
        )
        .service(
            resource(
                "/v1/{app_id}/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",
            )
            .route(web::get().to(reactions::list)),
        )
        .service(
            resource(
                "/v1/{app_id}/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}/{user_id}",
            )
            .route(web::put().to(reactions::add))
            .route(web::delete().to(reactions::remove)),
        )
        .service(
            resource("/v1/{app_id}/conversations/{conversation_id}/messages/{message_id}")
                .route(web::get().to(get_message))
                .route(web::put().to(edit_message))
                .route(web::delete().to(delete_message)),
        );
}

/// A route's resource, answering 405 for the methods it has no handler for.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

pub(crate) fn ok<T: Serialize>(value: &T) -> HttpResponse {
    HttpResponse::Ok().json(value)
}

pub(crate) fn ok_empty() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body("{}")
}

/// Answers every request that matches no route: a JSON 404 (a 401 first under `/v1/{appId}/`
/// without a valid key, so that nothing is learned without one).
pub async fn route_not_found(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    if req.path().starts_with("/v1/") && req.path()[4..].contains('/') {
        state.admit(&req)?;
    }
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().to_string(),
    })
}

async fn method_not_allowed(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    state.admit(&req)?;
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}

/// The query parameters of a conversation list as the request's API version reads them:
/// 2021-01-01 orders by creation, newest first, whatever `orderBy`/`orderDirection` say.
fn versioned_pairs(version: RestVersion, raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = query_pairs(raw)?;
    if version.lists_by_creation_only() {
        pairs.retain(|(name, _)| name != "orderBy" && name != "orderDirection");
    }
    Ok(pairs)
}

fn versioned_query(version: RestVersion, mut query: ConversationQuery) -> ConversationQuery {
    if version.lists_by_creation_only() {
        query.order_by = OrderBy::CreatedAt;
        query.direction = Direction::Desc;
    }
    query
}

async fn list_conversations(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let version = state.version(&req, &app)?;
    let query = conversation_query(versioned_pairs(version, req.query_string())?)?;
    let query = versioned_query(version, query);
    let page = state.conversations.list(&app, &query).await?;
    Ok(ok(&Data {
        data: page
            .iter()
            .map(|c| ConversationView::new(c, &state.files.urls))
            .collect(),
    }))
}

async fn get_conversation(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = match legacy_key(&req)? {
        Some(key) => key.conversation_id(),
        None => conversation_id(&req)?,
    };
    let conversation = state.conversations.get(&app, &id).await?;
    Ok(ok(&ConversationView::new(&conversation, &state.files.urls)))
}

async fn put_conversation(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let app = state.admit(&req)?;
    if let Some(key) = legacy_key(&req)? {
        let body = read_json_or_empty(&req, payload, &state.body).await?;
        let patch = legacy_patch(body, &key.conversation_id())?;
        state.conversations.put_legacy(&app, &key, &patch).await?;
        return Ok(ok_empty());
    }
    let id = conversation_id(&req)?;
    let body = read_json_or_empty(&req, payload, &state.body).await?;
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

async fn list_messages(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let (limit, after) = message_query(query_pairs(req.query_string())?)?;
    let (conversation, messages) = state.messages.list(&app, &id, limit, after).await?;
    Ok(ok(&Data {
        data: messages
            .iter()
            .map(|m| MessageView::new(m, &conversation, &state.files.urls))
            .collect(),
    }))
}

async fn send_messages(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let body = read_json(&req, payload, &state.body).await?;
    let items = new_messages(body)?;
    let ids = state.messages.send(&app, &id, items).await?;
    let created: Vec<Created> = ids.iter().map(|id| Created { id: id.as_str() }).collect();
    Ok(ok(&created))
}

/// `POST /import/conversations/{id}/messages`: history with its original times.
async fn import_messages(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let app = state.admit(&req)?;
    let id = import_conversation_id(&req)?;
    let body = read_json(&req, payload, &state.body).await?;
    let items = import_items(body)?;
    let ids = state.messages.import(&app, &id, items).await?;
    let created: Vec<Created> = ids.iter().map(|id| Created { id: id.as_str() }).collect();
    Ok(ok(&created))
}

async fn get_message(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let message = message_id(&req)?;
    let (conversation, message) = state.messages.get(&app, &id, &message).await?;
    Ok(ok(&MessageView::new(
        &message,
        &conversation,
        &state.files.urls,
    )))
}

async fn edit_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let message = message_id(&req)?;
    let body = read_json(&req, payload, &state.body).await?;
    let patch = message_patch(body)?;
    state.messages.edit(&app, &id, &message, &patch).await?;
    Ok(ok_empty())
}

async fn delete_message(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let message = message_id(&req)?;
    state.messages.delete(&app, &id, &message).await?;
    Ok(ok_empty())
}

async fn join_conversation(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let user = participant_id(&req)?;
    let join = join_body(read_json_or_empty(&req, payload, &state.body).await?)?;
    state.conversations.join(&app, &id, &user, &join).await?;
    Ok(ok_empty())
}

async fn patch_participant(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let user = participant_id(&req)?;
    let patch = participant_patch(read_json_or_empty(&req, payload, &state.body).await?)?;
    state
        .conversations
        .patch_participant(&app, &id, &user, &patch)
        .await?;
    Ok(ok_empty())
}

async fn leave_conversation(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let user = participant_id(&req)?;
    state.conversations.leave(&app, &id, &user).await?;
    Ok(ok_empty())
}

async fn list_users(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let (limit, after) = user_query(query_pairs(req.query_string())?)?;
    let users = state.users.list(&app, limit, after).await?;
    Ok(ok(&Data {
        data: users.iter().map(UserView::from).collect(),
    }))
}

async fn put_users(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let items = user_batch(read_json(&req, payload, &state.body).await?)?;
    state.users.put_batch(&app, &items).await?;
    Ok(ok_empty())
}

async fn get_user(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = user_id(&req)?;
    let user = state.users.get(&app, &id).await?;
    Ok(ok(&UserView::from(&user)))
}

async fn put_user(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = user_id(&req)?;
    let patch = user_patch(read_json_or_empty(&req, payload, &state.body).await?, &id)?;
    state.users.put(&app, &id, &patch).await?;
    Ok(ok_empty())
}

/// `POST /presences`: nobody is online until Parley has a realtime API, so there is nothing to
/// report (the body must still be JSON).
async fn presences(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    state.admit(&req)?;
    read_json_or_empty(&req, payload, &state.body).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"data":{}}"#))
}

/// `GET /users/{userId}/sessions`: a known user has no sessions (no realtime API yet).
async fn user_sessions(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = user_id(&req)?;
    state.users.get(&app, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body("[]"))
}

async fn list_user_conversations(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let version = state.version(&req, &app)?;
    let id = user_id(&req)?;
    let query = user_conversation_query(versioned_pairs(version, req.query_string())?)?;
    let query = versioned_query(version, query);
    let page = match state.users.conversations(&app, &id, &query).await {
        // Before 2024-01-01 an unknown user simply has no conversations.
        Err(ServiceError::NotFound("user")) if version.unknown_user_lists_empty() => Vec::new(),
        other => other?,
    };
    Ok(ok(&Data {
        data: page
            .iter()
            .map(|c| UserConversationView::new(c, &state.files.urls))
            .collect(),
    }))
}
