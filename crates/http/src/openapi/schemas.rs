//! The wire shapes of requests and responses, as OpenAPI schemas.
//!
//! Parley's handlers read request bodies by hand (every problem named with its place), and the
//! response views borrow from domain values with custom serialisers, so neither derives its
//! schema. These types exist only to describe the JSON; `scripts/test.sh` checks every response
//! against them with Schemathesis, and `additionalProperties: false` (`deny_unknown_fields`)
//! makes a key the server adds or drops without the document a failure there.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// Every error: a stable code, a human-readable message and, for bad input, what is wrong with
/// each field.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"errorCode": "INVALID_FIELD", "message": "subject: must be a string or null", "reasons": {"subject": "must be a string or null"}}))]
pub struct Error {
    /// `INVALID_FIELD`, `UNKNOWN_FIELD`, `LIMIT_EXCEEDED`, `INVALID_ID`, `INVALID_JSON`,
    /// `UNAUTHORIZED`, `NOT_FOUND`, `ROUTE_NOT_FOUND`, `METHOD_NOT_ALLOWED`,
    /// `PAYLOAD_TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`, `REQUEST_TIMEOUT`, `RATE_LIMITED`,
    /// `RANGE_NOT_SATISFIABLE`, `SERVICE_UNAVAILABLE`, `INTERNAL_ERROR`.
    error_code: String,
    message: String,
    /// A field path (`custom.color`, `[3].sender`) to what is wrong with it.
    reasons: Option<BTreeMap<String, String>>,
    /// On 5xx answers: the request's ID, as in the `X-Request-Id` header and the server's log.
    request_id: Option<String>,
}

/// `{}`: the answer of a call with nothing to return.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct Empty {}

/// `true`, `false` or `"MentionsOnly"`.
#[derive(Deserialize)]
pub struct Notify;

impl PartialSchema for Notify {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["MentionsOnly"])),
            )
            .description(Some(
                "Whether the participant is notified: true, false or \"MentionsOnly\".",
            ))
            .into()
    }
}

impl ToSchema for Notify {}

/// A participant's access in a Conversation object.
#[derive(Deserialize, ToSchema)]
pub enum Access {
    ReadWrite,
    Read,
}

/// Access as a PATCH sets it: `None` hides the participant and stops them reading and sending.
#[derive(Deserialize, ToSchema)]
pub enum PatchedAccess {
    ReadWrite,
    Read,
    None,
}

/// A participant entry of a Conversation object.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Participant {
    access: Access,
    notify: Notify,
    is_unread: bool,
    /// Unix ms up to which the participant has read.
    read_until: i64,
}

/// The Conversation object: every key always present, unset values `null`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"id": "order_fc_491731", "subject": "Black leather boots", "topicId": null,
    "photoUrl": null, "welcomeMessages": ["Hello there!"], "custom": {"productId": "454545"},
    "participants": {"123456": {"access": "ReadWrite", "notify": true, "isUnread": false, "readUntil": 1_623_926_680_929_i64}},
    "lastMessage": null, "createdAt": 1_623_926_680_929_i64}))]
pub struct Conversation {
    id: String,
    #[schema(required = true)]
    subject: Option<String>,
    #[schema(required = true)]
    topic_id: Option<String>,
    #[schema(required = true)]
    photo_url: Option<String>,
    #[schema(required = true)]
    welcome_messages: Option<Vec<String>>,
    custom: BTreeMap<String, String>,
    /// By user ID; participants with access `None` are not shown.
    participants: BTreeMap<String, Participant>,
    /// The newest message, or `null`.
    #[schema(required = true)]
    last_message: Option<Message>,
    created_at: i64,
}

/// One item of a user's conversation list: the Conversation plus that user's unread state.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserConversation {
    id: String,
    #[schema(required = true)]
    subject: Option<String>,
    #[schema(required = true)]
    topic_id: Option<String>,
    #[schema(required = true)]
    photo_url: Option<String>,
    #[schema(required = true)]
    welcome_messages: Option<Vec<String>>,
    custom: BTreeMap<String, String>,
    participants: BTreeMap<String, Participant>,
    #[schema(required = true)]
    last_message: Option<Message>,
    created_at: i64,
    is_unread: bool,
    unread_message_count: i64,
}

/// `{"data": [Conversation, ...]}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationList {
    data: Vec<Conversation>,
}

/// `{"data": [UserConversation, ...]}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserConversationList {
    data: Vec<UserConversation>,
}

#[derive(Deserialize, ToSchema)]
pub enum MessageType {
    UserMessage,
    SystemMessage,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Rest,
    Import,
    Web,
    Email,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileSubtype {
    Image,
    Video,
    Audio,
    Voice,
}

/// The legacy `attachment`: the first file block, without its type and token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// Downloads the file without credentials.
    url: String,
    size: u64,
    filename: String,
    subtype: Option<FileSubtype>,
    width: Option<u64>,
    height: Option<u64>,
    /// Seconds.
    duration: Option<f64>,
}

/// One reaction's summary in a Message object.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReactionSummary {
    count: u64,
    /// Unix ms of its first reaction.
    created_at: i64,
}

/// The Message object.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"id": "msg_0UQbqdxnQWkoIw7Db7fZHK", "conversationId": "order_fc_491731",
    "type": "UserMessage", "senderId": "123456", "text": "Hey, I'm in London", "custom": {},
    "createdAt": 1632919967033_i64, "editedAt": null, "readBy": ["654321"], "origin": "rest",
    "referencedMessageId": null, "attachment": null, "location": null,
    "content": [{"type": "text", "children": ["Hey, I'm in London"]}], "reactions": {}}))]
pub struct Message {
    id: String,
    conversation_id: String,
    #[serde(rename = "type")]
    kind: MessageType,
    /// `null` for a SystemMessage.
    #[schema(required = true)]
    sender_id: Option<String>,
    /// The plain text of the text blocks.
    text: String,
    custom: BTreeMap<String, String>,
    created_at: i64,
    #[schema(required = true)]
    edited_at: Option<i64>,
    /// Participants other than the sender who have read the message.
    read_by: Vec<String>,
    origin: Origin,
    #[schema(required = true)]
    referenced_message_id: Option<String>,
    #[schema(required = true)]
    attachment: Option<Attachment>,
    /// `[latitude, longitude]` of the first location block.
    #[schema(required = true, value_type = Option<Vec<f64>>, min_items = 2, max_items = 2)]
    location: Option<Vec<f64>>,
    content: Vec<Block>,
    /// By emoji.
    reactions: BTreeMap<String, ReactionSummary>,
}

/// `{"data": [Message, ...]}`, newest first.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageList {
    data: Vec<Message>,
}

/// A node of a text block: a string, or a formatting, link, mention or action node.
#[derive(Deserialize)]
pub struct Node;

/// `additionalProperties: false`
fn closed() -> AdditionalProperties<Schema> {
    AdditionalProperties::FreeForm(false)
}

fn node_ref() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name("Node"))
}

fn children() -> ArrayBuilder {
    ArrayBuilder::new().items(node_ref())
}

fn typed(names: &[&'static str]) -> ObjectBuilder {
    ObjectBuilder::new().property(
        "type",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names.to_vec())),
    )
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

impl PartialSchema for Node {
    fn schema() -> RefOr<Schema> {
        let node = |names: &[&'static str], fields: &[&'static str], with_children: bool| {
            let mut object = typed(names).required("type");
            for field in fields {
                object = object.property(*field, string()).required(*field);
            }
            if with_children {
                object = object.property("children", children()).required("children");
            }
            object.additional_properties(Some(closed()))
        };
        OneOfBuilder::new()
            .item(string())
            .item(node(
                &[
                    "bold",
                    "italic",
                    "strikethrough",
                    "bulletList",
                    "bulletPoint",
                ],
                &[],
                true,
            ))
            .item(node(&["link"], &["url"], true))
            .item(node(&["autoLink"], &["url", "text"], false))
            .item(node(&["codeSpan", "customEmoji"], &["text"], false))
            .item(node(&["mention"], &["id", "text"], false))
            .item(
                typed(&["actionLink", "actionButton"])
                    .required("type")
                    .property("action", string())
                    .required("action")
                    .property(
                        "params",
                        ObjectBuilder::new()
                            .schema_type(Type::Object)
                            .additional_properties(Some(string())),
                    )
                    .property("children", children())
                    .required("children")
                    .additional_properties(Some(closed())),
            )
            .description(Some("A node of a text block (nested at most 16 deep)."))
            .into()
    }
}

impl ToSchema for Node {}

/// A content block as a message shows it: text, file (with its download URL) or location.
#[derive(Deserialize)]
pub struct Block;

fn text_block() -> ObjectBuilder {
    typed(&["text"])
        .required("type")
        .property("children", children())
        .required("children")
        .additional_properties(Some(closed()))
}

fn location_block() -> ObjectBuilder {
    typed(&["location"])
        .required("type")
        .property(
            "latitude",
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(-90.0))
                .maximum(Some(90.0)),
        )
        .required("latitude")
        .property(
            "longitude",
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(-180.0))
                .maximum(Some(180.0)),
        )
        .required("longitude")
        .additional_properties(Some(closed()))
}

fn file_fields(object: ObjectBuilder) -> ObjectBuilder {
    let integer = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0.0))
    };
    object
        .property("subtype", FileSubtype::schema())
        .property("width", integer())
        .property("height", integer())
        .property(
            "duration",
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0.0))
                .description(Some("Seconds.")),
        )
}

impl PartialSchema for Block {
    fn schema() -> RefOr<Schema> {
        let file = file_fields(
            typed(&["file"])
                .required("type")
                .property("fileToken", string())
                .required("fileToken")
                .property("url", string())
                .required("url")
                .property("filename", string())
                .required("filename")
                .property(
                    "size",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0.0)),
                )
                .required("size"),
        )
        .additional_properties(Some(closed()));
        OneOfBuilder::new()
            .item(text_block())
            .item(file)
            .item(location_block())
            .into()
    }
}

impl ToSchema for Block {}

/// A content block as a request gives it: a file block names only its token.
#[derive(Deserialize)]
pub struct GivenBlock;

impl PartialSchema for GivenBlock {
    fn schema() -> RefOr<Schema> {
        let file = typed(&["file"])
            .required("type")
            .property("fileToken", string())
            .required("fileToken")
            .additional_properties(Some(closed()));
        OneOfBuilder::new()
            .item(text_block())
            .item(file)
            .item(location_block())
            .into()
    }
}

impl ToSchema for GivenBlock {}

/// `custom` in a write: a string sets a key, `null` deletes it; `null` for the whole object
/// deletes every key.
pub type CustomPatch = Option<BTreeMap<String, Option<String>>>;

/// The body of `PUT /conversations/{conversationId}`: every field optional; absent is
/// unchanged, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"participants": ["alice", "bob"], "subject": "Hello", "custom": {"productId": "454545"}}))]
pub struct ConversationPut {
    /// Added (never removed); a new participant gets ReadWrite and notify true.
    #[schema(nullable = false)]
    participants: Option<Vec<String>>,
    subject: Option<String>,
    photo_url: Option<String>,
    welcome_messages: Option<Vec<String>>,
    #[schema(value_type = Option<BTreeMap<String, Option<String>>>)]
    custom: CustomPatch,
    /// Ignored, unless it differs from the path's ID (400).
    #[schema(nullable = false)]
    id: Option<String>,
    /// Read-only: ignored.
    #[schema(value_type = Option<Object>)]
    topic_id: Option<serde_json::Value>,
    /// Read-only: ignored.
    #[schema(value_type = Option<Object>)]
    created_at: Option<serde_json::Value>,
    /// Read-only: ignored.
    #[schema(value_type = Option<Object>)]
    last_message: Option<serde_json::Value>,
}

/// The body of `PUT /participants/{userId}`: joins with these settings (defaults ReadWrite,
/// true), overwriting earlier ones.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"access": "Read", "notify": "MentionsOnly"}))]
pub struct ParticipantPut {
    #[schema(nullable = false)]
    access: Option<Access>,
    #[schema(value_type = Option<Notify>, nullable = false)]
    notify: Option<Notify>,
}

/// The body of `PATCH /participants/{userId}`: changes only the given fields.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"readUntil": 1623926680929_i64}))]
pub struct ParticipantPatch {
    #[schema(nullable = false)]
    access: Option<PatchedAccess>,
    #[schema(value_type = Option<Notify>, nullable = false)]
    notify: Option<Notify>,
    /// Unix ms; set exactly, also earlier than now.
    #[schema(nullable = false)]
    read_until: Option<i64>,
}

/// One item of `POST /messages`: exactly one of `text`, `content`, `attachmentToken` and
/// `location`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"text": "Hello!", "type": "UserMessage", "sender": "alice"}))]
pub struct NewMessage {
    #[schema(nullable = false)]
    text: Option<String>,
    #[schema(nullable = false, max_items = 10)]
    content: Option<Vec<GivenBlock>>,
    /// A `fileToken` from `POST /files`.
    #[schema(nullable = false)]
    attachment_token: Option<String>,
    /// `[latitude, longitude]`.
    #[schema(nullable = false, min_items = 2, max_items = 2)]
    location: Option<Vec<f64>>,
    #[serde(rename = "type")]
    kind: MessageType,
    /// A participant with access ReadWrite or Read; required for a UserMessage, absent for a
    /// SystemMessage.
    #[schema(nullable = false)]
    sender: Option<String>,
    #[schema(nullable = false)]
    custom: Option<BTreeMap<String, String>>,
    #[schema(nullable = false)]
    referenced_message_id: Option<String>,
    /// Repeated within 24 hours: the first call's IDs, nothing stored.
    #[schema(nullable = false)]
    idempotency_key: Option<String>,
}

/// One item of an import: history with its original time.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"type": "UserMessage", "sender": "1234", "timestamp": 1509132622706_i64, "text": "Hello!", "readBy": ["5678"]}))]
pub struct ImportItem {
    /// Unix ms (or `createdAt`).
    #[schema(nullable = false)]
    timestamp: Option<i64>,
    /// Unix ms (or `timestamp`).
    #[schema(nullable = false)]
    created_at: Option<i64>,
    #[schema(nullable = false)]
    text: Option<String>,
    #[schema(nullable = false, max_items = 10)]
    content: Option<Vec<GivenBlock>>,
    #[schema(nullable = false)]
    attachment_token: Option<String>,
    #[schema(nullable = false, min_items = 2, max_items = 2)]
    location: Option<Vec<f64>>,
    /// Default `UserMessage`.
    #[serde(rename = "type")]
    #[schema(nullable = false)]
    kind: Option<MessageType>,
    #[schema(nullable = false)]
    sender: Option<String>,
    /// Participants who have read it.
    #[schema(nullable = false)]
    read_by: Option<Vec<String>>,
    #[schema(nullable = false)]
    custom: Option<BTreeMap<String, String>>,
    #[schema(nullable = false)]
    referenced_message_id: Option<String>,
    /// An item whose key was imported before answers the first ID and is not stored again.
    #[schema(nullable = false)]
    idempotency_key: Option<String>,
}

/// The body of `PUT /messages/{messageId}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"text": "Edited", "custom": {"edited": "yes"}}))]
pub struct MessagePut {
    #[schema(nullable = false)]
    text: Option<String>,
    #[schema(nullable = false, max_items = 10)]
    content: Option<Vec<GivenBlock>>,
    #[schema(value_type = Option<BTreeMap<String, Option<String>>>)]
    custom: CustomPatch,
}

/// `[{"id": "msg_..."}, ...]`, one per item in input order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Created {
    id: String,
}

/// The User object.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"id": "alice", "name": "Alice", "email": ["alice@example.com"], "phone": null,
    "photoUrl": null, "welcomeMessage": null, "role": "buyer", "locale": null, "availabilityText": null,
    "custom": {}, "pushTokens": {}, "createdAt": 1623926680929_i64}))]
pub struct User {
    id: String,
    name: String,
    #[schema(required = true)]
    email: Option<Vec<String>>,
    #[schema(required = true)]
    phone: Option<Vec<String>>,
    #[schema(required = true)]
    photo_url: Option<String>,
    #[schema(required = true)]
    welcome_message: Option<String>,
    #[schema(required = true)]
    role: Option<String>,
    #[schema(required = true)]
    locale: Option<String>,
    #[schema(required = true)]
    availability_text: Option<String>,
    custom: BTreeMap<String, String>,
    push_tokens: BTreeMap<String, bool>,
    created_at: i64,
}

/// `{"data": [User, ...]}` in ID order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserList {
    data: Vec<User>,
}

/// The body of `PUT /users/{userId}`: `name` is required when creating; absent is unchanged,
/// `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "Alice", "email": ["alice@example.com"], "role": "buyer"}))]
pub struct UserPut {
    #[schema(nullable = false)]
    name: Option<String>,
    email: Option<Vec<String>>,
    phone: Option<Vec<String>>,
    photo_url: Option<String>,
    welcome_message: Option<String>,
    role: Option<String>,
    /// The deprecated name of `role`.
    configuration: Option<String>,
    locale: Option<String>,
    availability_text: Option<String>,
    #[schema(value_type = Option<BTreeMap<String, Option<String>>>)]
    custom: CustomPatch,
    /// `"fcm:..."` or `"apns:..."` to `true` (add) or `null` (remove).
    push_tokens: Option<BTreeMap<String, Option<bool>>>,
    /// Ignored, unless it differs from the path's ID (400).
    #[schema(nullable = false)]
    id: Option<String>,
}

/// `{"data": {}}`: nobody is online (Parley has no realtime API yet).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Presences {
    data: Empty,
}

/// A reaction of `GET /reactions/{emoji}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reaction {
    user_id: String,
    created_at: i64,
}

/// `{"data": [Reaction, ...]}` oldest first.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionList {
    data: Vec<Reaction>,
}

/// The answer of `POST /files`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileToken {
    /// Usable in messages of this app only.
    file_token: String,
}

/// The form of `POST /files`.
#[derive(Deserialize, ToSchema)]
pub struct FileUpload {
    /// The file's bytes (its part's `Content-Type` is kept when not octet-stream).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Wins over the `file` part's filename.
    filename: Option<String>,
    subtype: Option<FileSubtype>,
    /// Pixels, a decimal integer.
    width: Option<String>,
    height: Option<String>,
    /// Seconds, a decimal number.
    duration: Option<String>,
}

/// An event of the log: the webhook envelope.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Event {
    /// `evt_...`
    id: String,
    /// `message.sent`, `message.updated`, `message.deleted`, `message.read`,
    /// `conversation.created`, `conversation.updated`, `conversation.deleted`, `user.created`,
    /// `user.updated`, `participant.joined`, `participant.updated`, `participant.left`,
    /// `reaction.added`, `reaction.removed`.
    #[serde(rename = "type")]
    kind: String,
    created_at: i64,
    /// The objects of the event, in the shapes of the REST responses.
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// `{"data": [Event, ...]}` oldest first.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventList {
    data: Vec<Event>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// One event's delivery to one webhook URL.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delivery {
    event_id: String,
    url: String,
    status: DeliveryStatus,
    attempts: i32,
    /// The HTTP status of the last attempt; `null` when it got no HTTP answer.
    #[schema(required = true)]
    last_status: Option<i32>,
    /// Why the last attempt got no HTTP answer (`timeout`, `connection refused`, ...).
    #[schema(required = true)]
    last_error: Option<String>,
    #[schema(required = true)]
    next_attempt_at: Option<i64>,
}

/// `{"data": [Delivery, ...]}` newest event first.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryList {
    data: Vec<Delivery>,
}

/// One operation of a batch: `[sequenceNumber, method, path, payload?, options?]`.
#[derive(Deserialize)]
pub struct BatchOperation;

impl PartialSchema for BatchOperation {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .min_items(Some(3))
            .max_items(Some(5))
            .description(Some(
                "[sequenceNumber (integer), method (GET, PUT, POST, PATCH or DELETE), path \
                 (relative to /v1/{appId}), payload (the JSON body; for GET an object of query \
                 parameters), options ({\"api_version\": \"2021-01-01\"})]",
            ))
            .into()
    }
}

impl ToSchema for BatchOperation {}

/// One answer of a batch: `[sequenceNumber, status, body as a JSON string]`.
#[derive(Deserialize)]
pub struct BatchAnswer;

impl PartialSchema for BatchAnswer {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(
                OneOfBuilder::new()
                    .item(ObjectBuilder::new().schema_type(Type::Integer))
                    .item(ObjectBuilder::new().schema_type(Type::String)),
            )
            .min_items(Some(3))
            .max_items(Some(3))
            .description(Some(
                "[sequenceNumber, HTTP status, the response body as a JSON string]",
            ))
            .into()
    }
}

impl ToSchema for BatchAnswer {}

/// The answer of the health checks.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// `ok`, or `unavailable` with the reason in `detail`.
    status: String,
    detail: Option<String>,
}

fn array_of(name: &str, min: usize, max: usize, description: &str) -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(RefOr::Ref(Ref::from_schema_name(name)))
        .min_items(Some(min))
        .max_items(Some(max))
        .description(Some(description))
        .into()
}

/// The body of `POST /messages`.
#[derive(Deserialize)]
pub struct NewMessages;

impl PartialSchema for NewMessages {
    fn schema() -> RefOr<Schema> {
        array_of(
            "NewMessage",
            1,
            10,
            "1 to 10 messages (limits.messages_per_request), all or none stored",
        )
    }
}

impl ToSchema for NewMessages {}

/// The body of an import.
#[derive(Deserialize)]
pub struct ImportItems;

impl PartialSchema for ImportItems {
    fn schema() -> RefOr<Schema> {
        array_of(
            "ImportItem",
            1,
            100,
            "1 to 100 items (limits.messages_per_import), all or none stored",
        )
    }
}

impl ToSchema for ImportItems {}

/// The answer of a send or an import.
#[derive(Deserialize)]
pub struct CreatedList;

impl PartialSchema for CreatedList {
    fn schema() -> RefOr<Schema> {
        array_of("Created", 1, 100, "One ID per item, in input order")
    }
}

impl ToSchema for CreatedList {}

/// The body of `POST /batch`.
#[derive(Deserialize)]
pub struct BatchBody;

impl PartialSchema for BatchBody {
    fn schema() -> RefOr<Schema> {
        array_of(
            "BatchOperation",
            1,
            10,
            "1 to 10 operations, run one after the other",
        )
    }
}

impl ToSchema for BatchBody {}

/// The answer of `POST /batch`.
#[derive(Deserialize)]
pub struct BatchAnswers;

impl PartialSchema for BatchAnswers {
    fn schema() -> RefOr<Schema> {
        array_of(
            "BatchAnswer",
            1,
            10,
            "One answer per operation, in the batch's order",
        )
    }
}

impl ToSchema for BatchAnswers {}

/// The body of `PUT /users`: user ID to the body of a `PUT /users/{userId}`.
#[derive(Deserialize)]
pub struct UsersPut;

impl PartialSchema for UsersPut {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(RefOr::Ref(Ref::from_schema_name("UserPut"))))
            .max_properties(Some(100))
            .description(Some(
                "Up to 100 users (limits.users_per_batch), all or none written",
            ))
            .into()
    }
}

impl ToSchema for UsersPut {}

/// The answer of `GET /users/{userId}/sessions`: always empty (no realtime API yet).
#[derive(Deserialize)]
pub struct Sessions;

impl PartialSchema for Sessions {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new().max_items(Some(0)).into()
    }
}

impl ToSchema for Sessions {}

/// A file's bytes.
#[derive(Deserialize)]
pub struct Bytes;

impl PartialSchema for Bytes {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl ToSchema for Bytes {}
