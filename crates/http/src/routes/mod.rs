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
use crate::openapi::schemas::{
    Conversation, ConversationList, ConversationPut, CreatedList, Empty, ImportItems, Message,
    MessageList, MessagePut, NewMessages, ParticipantPatch, ParticipantPut, Presences, Sessions,
    User, UserConversationList, UserList, UserPut, UsersPut,
};
use crate::openapi::{
    AppPath, BearerAuth, ConversationListQuery, ConversationPath, Failures, MessagePath,
    OptionalBodies, Page, ParticipantPath, RestVersionHeader, UserConversationListQuery, UserPath,
};
use crate::path::{
    conversation_id, import_conversation_id, legacy_key, message_id, participant_id, user_id,
};
use crate::state::AppState;
use crate::version::RestVersion;
use parley_domain::{ConversationQuery, Direction, OrderBy, ServiceError};

mod batch;
mod events;
mod files;
mod health;
mod metrics;
mod openapi;
mod reactions;

pub use events::{EventBus, JsonEventEncoder};
pub use metrics::render as render_metrics;
pub use openapi::document as openapi_json;

type Answer = Result<HttpResponse, ApiError>;

/// The whole application over `state`: every route, `/conversations/x/` as `/conversations/x`
/// (TalkJS's clients send both), the JSON 404 for the rest, and around it all the request ID,
/// metrics and access log of [`crate::observe`]. The server runs it.
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
    bare_app(state).wrap(actix_web::middleware::from_fn(crate::observe::observe))
}

/// [`app`] without the observing middleware: what `/batch` dispatches its operations into
/// (they run inside the batch's request, its ID and its access-log line).
pub(crate) fn bare_app(
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

/// The OpenAPI document: the operations are the ones [`operations`] registers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Parley",
        description = "A self-hosted chat backend speaking the TalkJS REST API v1, plus Parley's own event log, webhook deliveries, health checks and metrics. Success is always 200 with a JSON body; errors are JSON `{errorCode, message, reasons?}`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        list_conversations, get_conversation, put_conversation, delete_conversation,
        join_conversation, patch_participant, leave_conversation,
        list_messages, send_messages, get_message, edit_message, delete_message,
        import_messages,
        list_users, put_users, get_user, put_user, list_user_conversations,
        presences, user_sessions,
        batch::batch,
        files::upload, files::download,
        reactions::list, reactions::add, reactions::remove,
        events::list_events, events::stream_events, events::list_deliveries,
        events::retry_delivery,
        health::live, health::ready, metrics::metrics, openapi::openapi,
    ),
    components(schemas(
        crate::openapi::schemas::Node, crate::openapi::schemas::Block,
        crate::openapi::schemas::GivenBlock, crate::openapi::schemas::NewMessage,
        crate::openapi::schemas::ImportItem, crate::openapi::schemas::Created,
        crate::openapi::schemas::UserPut, crate::openapi::schemas::BatchOperation,
        crate::openapi::schemas::BatchAnswer, crate::openapi::OrderBy,
        crate::openapi::OrderDirection,
    )),
    modifiers(&BearerAuth, &OptionalBodies),
    security(("bearer" = [])),
    tags(
        (name = "Conversations"), (name = "Participation"), (name = "Messages"),
        (name = "Import"), (name = "Users"), (name = "Presence"), (name = "Batch"),
        (name = "Files"), (name = "Reactions"), (name = "Events", description = "Parley's event log"),
        (name = "Webhooks", description = "Parley's view of webhook deliveries"),
        (name = "Operations", description = "Health, metrics and this document"),
    ),
)]
pub(crate) struct ApiDoc;

/// One operation: the path and method its `#[utoipa::path]` annotation declares, and its
/// handler at that method.
struct Operation {
    path: String,
    #[cfg_attr(not(test), allow(dead_code))]
    method: actix_web::http::Method,
    route: actix_web::Route,
}

fn op<P, F, Args>(handler: F) -> Operation
where
    P: utoipa::Path,
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    use actix_web::http::Method;
    use utoipa::openapi::HttpMethod;
    let methods = P::methods();
    assert_eq!(methods.len(), 1, "{}: one method per handler", P::path());
    let method = match methods[0] {
        HttpMethod::Get => Method::GET,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Post => Method::POST,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    };
    Operation {
        path: P::path(),
        route: web::method(method.clone()).to(handler),
        method,
    }
}

/// Every operation of the server, each at the path and method of its OpenAPI annotation.
fn operations() -> Vec<Operation> {
    vec![
        op::<__path_list_conversations, _, _>(list_conversations),
        op::<__path_get_conversation, _, _>(get_conversation),
        op::<__path_put_conversation, _, _>(put_conversation),
        op::<__path_delete_conversation, _, _>(delete_conversation),
        op::<__path_join_conversation, _, _>(join_conversation),
        op::<__path_patch_participant, _, _>(patch_participant),
        op::<__path_leave_conversation, _, _>(leave_conversation),
        op::<__path_list_messages, _, _>(list_messages),
        op::<__path_send_messages, _, _>(send_messages),
        op::<__path_get_message, _, _>(get_message),
        op::<__path_edit_message, _, _>(edit_message),
        op::<__path_delete_message, _, _>(delete_message),
        op::<__path_import_messages, _, _>(import_messages),
        op::<__path_list_users, _, _>(list_users),
        op::<__path_put_users, _, _>(put_users),
        op::<__path_get_user, _, _>(get_user),
        op::<__path_put_user, _, _>(put_user),
        op::<__path_list_user_conversations, _, _>(list_user_conversations),
        op::<__path_presences, _, _>(presences),
        op::<__path_user_sessions, _, _>(user_sessions),
        op::<batch::__path_batch, _, _>(batch::batch),
        op::<files::__path_upload, _, _>(files::upload),
        op::<files::__path_download, _, _>(files::download),
        op::<reactions::__path_list, _, _>(reactions::list),
        op::<reactions::__path_add, _, _>(reactions::add),
        op::<reactions::__path_remove, _, _>(reactions::remove),
        op::<events::__path_list_events, _, _>(events::list_events),
        op::<events::__path_stream_events, _, _>(events::stream_events),
        op::<events::__path_list_deliveries, _, _>(events::list_deliveries),
        op::<events::__path_retry_delivery, _, _>(events::retry_delivery),
        op::<health::__path_live, _, _>(health::live),
        op::<health::__path_ready, _, _>(health::ready),
        op::<metrics::__path_metrics, _, _>(metrics::metrics),
        op::<openapi::__path_openapi, _, _>(openapi::openapi),
    ]
}

/// Registers every operation, one resource per path (405 for its other methods).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut resources: Vec<(String, Vec<actix_web::Route>)> = Vec::new();
    for operation in operations() {
        match resources
            .iter_mut()
            .find(|(path, _)| *path == operation.path)
        {
            Some((_, routes)) => routes.push(operation.route),
            None => resources.push((operation.path, vec![operation.route])),
        }
    }
    for (path, routes) in resources {
        let mut resource = resource(&path);
        for route in routes {
            resource = resource.route(route);
        }
        cfg.service(resource);
    }
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

#[utoipa::path(get, path = "/v1/{appId}/conversations", tag = "Conversations",
    summary = "List the app's conversations",
    description = "Stable paging: walking every page with `startingAfter` returns each conversation exactly once, also during writes.",
    params(AppPath, ConversationListQuery, RestVersionHeader),
    responses((status = 200, description = "A page of conversations", body = ConversationList), Failures))]
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

#[utoipa::path(get, path = "/v1/{appId}/conversations/{conversationId}", tag = "Conversations",
    summary = "Get a conversation", params(ConversationPath),
    responses((status = 200, description = "The conversation", body = Conversation), Failures))]
async fn get_conversation(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = match legacy_key(&req)? {
        Some(key) => key.conversation_id(),
        None => conversation_id(&req)?,
    };
    let conversation = state.conversations.get(&app, &id).await?;
    Ok(ok(&ConversationView::new(&conversation, &state.files.urls)))
}

#[utoipa::path(put, path = "/v1/{appId}/conversations/{conversationId}", tag = "Conversations",
    summary = "Create or update a conversation",
    description = "Absent fields are left as they are, `null` clears; `participants` only adds; `custom` merges key by key. An empty body is `{}`.",
    params(ConversationPath), request_body(content = Option<ConversationPut>, content_type = "application/json"),
    responses((status = 200, description = "Stored", body = Empty), Failures))]
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

#[utoipa::path(delete, path = "/v1/{appId}/conversations/{conversationId}", tag = "Conversations",
    summary = "Delete a conversation, its participations and its messages", params(ConversationPath),
    responses((status = 200, description = "Deleted", body = Empty), Failures))]
async fn delete_conversation(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    state.conversations.delete(&app, &id).await?;
    Ok(ok_empty())
}

#[utoipa::path(get, path = "/v1/{appId}/conversations/{conversationId}/messages", tag = "Messages",
    summary = "List a conversation's messages, newest first", params(ConversationPath, Page),
    responses((status = 200, description = "A page of messages", body = MessageList), Failures))]
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

#[utoipa::path(post, path = "/v1/{appId}/conversations/{conversationId}/messages", tag = "Messages",
    summary = "Send messages", description = "All or nothing: one bad item stores none (`reasons` keyed by index).",
    params(ConversationPath), request_body(content = NewMessages, content_type = "application/json"),
    responses((status = 200, description = "The new messages' IDs, in input order", body = CreatedList), Failures))]
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
#[utoipa::path(post, path = "/v1/{appId}/import/conversations/{conversationId}/messages", tag = "Import",
    summary = "Import history with its original times",
    description = "Imported messages have `origin: \"import\"` and produce no events; an item whose `idempotencyKey` was imported before answers the first ID.",
    params(ConversationPath), request_body(content = ImportItems, content_type = "application/json"),
    responses((status = 200, description = "One ID per item, in input order", body = CreatedList), Failures))]
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

#[utoipa::path(get, path = "/v1/{appId}/conversations/{conversationId}/messages/{messageId}", tag = "Messages",
    summary = "Get a message", params(MessagePath),
    responses((status = 200, description = "The message", body = Message), Failures))]
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

#[utoipa::path(put, path = "/v1/{appId}/conversations/{conversationId}/messages/{messageId}", tag = "Messages",
    summary = "Edit a message", description = "Sets `editedAt`; `custom` merges.",
    params(MessagePath), request_body(content = MessagePut, content_type = "application/json"),
    responses((status = 200, description = "Edited", body = Empty), Failures))]
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

#[utoipa::path(delete, path = "/v1/{appId}/conversations/{conversationId}/messages/{messageId}", tag = "Messages",
    summary = "Delete a message", params(MessagePath),
    responses((status = 200, description = "Deleted", body = Empty), Failures))]
async fn delete_message(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let message = message_id(&req)?;
    state.messages.delete(&app, &id, &message).await?;
    Ok(ok_empty())
}

#[utoipa::path(put, path = "/v1/{appId}/conversations/{conversationId}/participants/{userId}", tag = "Participation",
    summary = "Join a user to a conversation", description = "Overwrites earlier settings; creates the conversation if it does not exist. An empty body is `{}`.",
    params(ParticipantPath), request_body(content = Option<ParticipantPut>, content_type = "application/json"),
    responses((status = 200, description = "Joined", body = Empty), Failures))]
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

#[utoipa::path(patch, path = "/v1/{appId}/conversations/{conversationId}/participants/{userId}", tag = "Participation",
    summary = "Change a participant's settings", description = "Only the given fields change; `readUntil` is set exactly.",
    params(ParticipantPath), request_body(content = Option<ParticipantPatch>, content_type = "application/json"),
    responses((status = 200, description = "Changed", body = Empty), Failures))]
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

#[utoipa::path(delete, path = "/v1/{appId}/conversations/{conversationId}/participants/{userId}", tag = "Participation",
    summary = "Remove a participant", params(ParticipantPath),
    responses((status = 200, description = "Left", body = Empty), Failures))]
async fn leave_conversation(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = conversation_id(&req)?;
    let user = participant_id(&req)?;
    state.conversations.leave(&app, &id, &user).await?;
    Ok(ok_empty())
}

#[utoipa::path(get, path = "/v1/{appId}/users", tag = "Users",
    summary = "List users in ID order", params(AppPath, Page),
    responses((status = 200, description = "A page of users", body = UserList), Failures))]
async fn list_users(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let (limit, after) = user_query(query_pairs(req.query_string())?)?;
    let users = state.users.list(&app, limit, after).await?;
    Ok(ok(&Data {
        data: users.iter().map(UserView::from).collect(),
    }))
}

#[utoipa::path(put, path = "/v1/{appId}/users", tag = "Users",
    summary = "Create or update up to 100 users", description = "All or nothing (`reasons` keyed by user ID).",
    params(AppPath), request_body(content = UsersPut, content_type = "application/json"),
    responses((status = 200, description = "Stored", body = Empty), Failures))]
async fn put_users(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let items = user_batch(read_json(&req, payload, &state.body).await?)?;
    state.users.put_batch(&app, &items).await?;
    Ok(ok_empty())
}

#[utoipa::path(get, path = "/v1/{appId}/users/{userId}", tag = "Users",
    summary = "Get a user", params(UserPath),
    responses((status = 200, description = "The user", body = User), Failures))]
async fn get_user(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = user_id(&req)?;
    let user = state.users.get(&app, &id).await?;
    Ok(ok(&UserView::from(&user)))
}

#[utoipa::path(put, path = "/v1/{appId}/users/{userId}", tag = "Users",
    summary = "Create or update a user", description = "`name` is required when creating; absent fields are left as they are, `null` clears. An empty body is `{}`.",
    params(UserPath), request_body(content = Option<UserPut>, content_type = "application/json"),
    responses((status = 200, description = "Stored", body = Empty), Failures))]
async fn put_user(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = user_id(&req)?;
    let patch = user_patch(read_json_or_empty(&req, payload, &state.body).await?, &id)?;
    state.users.put(&app, &id, &patch).await?;
    Ok(ok_empty())
}

/// `POST /presences`: nobody is online until Parley has a realtime API, so there is nothing to
/// report (the body must still be JSON).
#[utoipa::path(post, path = "/v1/{appId}/presences", tag = "Presence",
    summary = "Who is online (nobody: no realtime API yet)", params(AppPath),
    request_body(content = Option<Object>, content_type = "application/json"),
    responses((status = 200, description = "Nobody", body = Presences), Failures))]
async fn presences(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    state.admit(&req)?;
    read_json_or_empty(&req, payload, &state.body).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"data":{}}"#))
}

/// `GET /users/{userId}/sessions`: a known user has no sessions (no realtime API yet).
#[utoipa::path(get, path = "/v1/{appId}/users/{userId}/sessions", tag = "Presence",
    summary = "A user's sessions (none: no realtime API yet)", params(UserPath),
    responses((status = 200, description = "No sessions", body = Sessions), Failures))]
async fn user_sessions(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let id = user_id(&req)?;
    state.users.get(&app, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body("[]"))
}

#[utoipa::path(get, path = "/v1/{appId}/users/{userId}/conversations", tag = "Users",
    summary = "List a user's conversations with their unread state",
    params(UserPath, UserConversationListQuery, RestVersionHeader),
    responses((status = 200, description = "A page of the user's conversations", body = UserConversationList), Failures))]
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    /// The document's operations are exactly the registered ones: a handler registered but
    /// left out of `ApiDoc` (or listed but not registered) fails here.
    #[test]
    fn the_document_lists_exactly_the_registered_operations() {
        let registered: BTreeSet<(String, String)> = super::operations()
            .into_iter()
            .map(|op| (op.path, op.method.as_str().to_lowercase()))
            .collect();
        let document: Value = serde_json::from_str(super::openapi_json()).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((path.clone(), method.clone()));
            }
        }
        assert_eq!(registered, documented);
        assert_eq!(registered.len(), 34);
    }
}
