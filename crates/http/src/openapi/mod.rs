//! The OpenAPI 3.1 document of everything Parley serves.
//!
//! Each handler carries its operation as a `#[utoipa::path]` annotation, and the routes are
//! registered from those annotations (`routes::configure`), so a route and its documented path
//! and method cannot differ. This module holds what the annotations share: path and query
//! parameters, the error answers, the security scheme and the schemas.

pub mod schemas;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, Modify};

use schemas::Error;

/// `Authorization: Bearer <token>`: the app's secret key or an HS256 app JWT.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("secret key or app JWT")
                    .description(Some(
                        "The app's secret key (`sk_test_...`, `sk_live_...`), or an HS256 JWT \
                         signed with it whose claims are {\"tokenType\": \"app\", \"iss\": \
                         \"<appId>\", \"exp\": <unix seconds>}.",
                    ))
                    .build(),
            ),
        );
    }
}

/// A body given as `Option<T>` in an annotation is one that may be left out (an empty PUT is
/// `{}`): utoipa writes it as "T or null"; this makes it "T, not required" (a JSON `null` body
/// is a 400 like any other non-object).
pub struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::Schema;
        use utoipa::openapi::{RefOr, Required};
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let Some(body) = operation.request_body.as_mut() else {
                    continue;
                };
                for content in body.content.values_mut() {
                    let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
                        continue;
                    };
                    let [first, second] = one_of.items.as_slice() else {
                        continue;
                    };
                    let is_null = |s: &RefOr<Schema>| {
                        serde_json::to_value(s).ok() == Some(serde_json::json!({"type": "null"}))
                    };
                    let inner = if is_null(first) {
                        second.clone()
                    } else if is_null(second) {
                        first.clone()
                    } else {
                        continue;
                    };
                    content.schema = Some(inner);
                    body.required = Some(Required::False);
                }
            }
        }
    }
}

/// The answers every API operation may give besides its success.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Failures {
    /// Bad input (`reasons` names each bad field); nothing was changed.
    #[response(status = 400)]
    BadRequest(Error),
    /// Missing, wrong or expired credentials, or credentials of another app.
    #[response(status = 401)]
    Unauthorized(Error),
    /// No such record (or route).
    #[response(status = 404)]
    NotFound(Error),
    /// The resource has no such method.
    #[response(status = 405)]
    MethodNotAllowed(Error),
    /// The request body stopped arriving.
    #[response(status = 408)]
    RequestTimeout(Error),
    /// The request body is over `limits.body_bytes` (an upload: over `limits.file_bytes`).
    #[response(status = 413)]
    PayloadTooLarge(Error),
    /// A body that is not `application/json` (an upload: not `multipart/form-data`).
    #[response(status = 415)]
    UnsupportedMediaType(Error),
    /// Over the app's rate limit; `Retry-After` says when to try again.
    #[response(status = 429)]
    RateLimited(Error),
    /// A server fault; the request may be retried.
    #[response(status = 500)]
    Internal(Error),
    /// The storage is unavailable for now; retry after `Retry-After`.
    #[response(status = 503)]
    Unavailable(Error),
}

/// `/v1/{appId}/...`
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("appId"))]
#[allow(dead_code)]
pub struct AppPath(String);

/// `/v1/{appId}/conversations/{conversationId}`
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ConversationPath {
    app_id: String,
    /// Percent-encoded; `participants=a,b[;topic=t]` names a legacy conversation on GET and PUT.
    conversation_id: String,
}

/// `/v1/{appId}/conversations/{conversationId}/participants/{userId}`
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ParticipantPath {
    app_id: String,
    conversation_id: String,
    user_id: String,
}

/// `/v1/{appId}/conversations/{conversationId}/messages/{messageId}`
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MessagePath {
    app_id: String,
    conversation_id: String,
    message_id: String,
}

/// `.../messages/{messageId}/reactions/{emoji}`
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ReactionPath {
    app_id: String,
    conversation_id: String,
    message_id: String,
    /// One Unicode emoji (percent-encoded) or a custom `:name:`.
    emoji: String,
}

/// `.../messages/{messageId}/reactions/{emoji}/{userId}`
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ReactorPath {
    app_id: String,
    conversation_id: String,
    message_id: String,
    emoji: String,
    user_id: String,
}

/// `/v1/{appId}/users/{userId}`
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UserPath {
    app_id: String,
    user_id: String,
}

/// `/v1/{appId}/webhooks/deliveries/{eventId}/retry`
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct EventPath {
    app_id: String,
    /// `evt_...`
    event_id: String,
}

/// `/files/{token}/{filename}`
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct FilePath {
    /// The file's `fileToken`.
    token: String,
    filename: String,
}

/// `limit` and `startingAfter` of a list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Page {
    /// 1 to 100, default 10.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The last item of the previous page.
    starting_after: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum OrderBy {
    #[schema(rename = "lastActivity")]
    LastActivity,
    #[schema(rename = "createdAt")]
    CreatedAt,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum OrderDirection {
    #[schema(rename = "DESC")]
    Desc,
    #[schema(rename = "ASC")]
    Asc,
}

/// The filters and order of a conversation list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ConversationListQuery {
    /// 1 to 100, default 10.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The ID of the last conversation of the previous page.
    starting_after: Option<String>,
    /// Unix ms: conversations whose last message was sent before.
    last_message_before: Option<i64>,
    /// Unix ms: conversations whose last message was sent after.
    last_message_after: Option<i64>,
    /// Default `lastActivity`.
    order_by: Option<OrderBy>,
    /// Default `DESC`.
    order_direction: Option<OrderDirection>,
}

/// The filters and order of a user's conversation list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UserConversationListQuery {
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    starting_after: Option<String>,
    last_message_before: Option<i64>,
    last_message_after: Option<i64>,
    order_by: Option<OrderBy>,
    order_direction: Option<OrderDirection>,
    /// Only conversations with unread messages for this user.
    unreads_only: Option<bool>,
}

/// The API version of a request.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct RestVersionHeader {
    /// `YYYY-MM-DD`: `2021-01-01`, `2021-02-09`, `2021-07-30` or `2024-01-01` (the default
    /// unless the app's `rest_version` says otherwise).
    #[param(rename = "TalkJS-REST-Version", pattern = r"^\d{4}-\d{2}-\d{2}$")]
    version: Option<String>,
}

/// Where the event log resumes and what it shows.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EventListQuery {
    /// An event ID: the events recorded after it.
    after: Option<String>,
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Comma-separated event types.
    types: Option<String>,
}

/// Which deliveries.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct DeliveryListQuery {
    status: Option<schemas::DeliveryStatus>,
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// An eventId of the list.
    starting_after: Option<String>,
}
