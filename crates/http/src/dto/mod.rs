//! Wire DTOs: the JSON of requests turned into domain inputs (with a reason per bad field), and
//! domain values turned into the JSON of responses.

use std::collections::BTreeMap;

use parley_domain::content::ContentParser;
use parley_domain::error::Problems;
use parley_domain::listing::MAX_LIMIT;
use parley_domain::{
    Access, Block, ContentField, Conversation, ConversationId, ConversationPatch,
    ConversationQuery, CustomPatch, Direction, Field, FileBlock, GivenContent, Invalid, Join,
    Message, MessageId, MessageKind, MessagePatch, NewMessage, Notify, OrderBy, ParticipantPatch,
    PushTokensPatch, ReactionSummary, User, UserConversation, UserId, UserPatch,
};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

pub mod archive;
mod imports;

pub use imports::import_items;

/// Fields of the Conversation object that a PUT may carry but that are read-only.
const READ_ONLY_CONVERSATION_FIELDS: [&str; 3] = ["topicId", "createdAt", "lastMessage"];

fn as_object(body: Value) -> Result<Map<String, Value>, Invalid> {
    match body {
        Value::Object(map) => Ok(map),
        _ => {
            let mut problems = Problems::default();
            problems.invalid("(body)", "must be a JSON object");
            Err(problems.finish().unwrap_err())
        }
    }
}

fn nullable_string(problems: &mut Problems, name: &str, value: Value) -> Field<String> {
    match value {
        Value::Null => Field::Null,
        Value::String(s) => Field::Set(s),
        _ => {
            problems.invalid(name, "must be a string or null");
            Field::Absent
        }
    }
}

/// An array of strings, each with its index in the request (so reasons name the right item).
pub(super) fn string_items(
    problems: &mut Problems,
    name: &str,
    value: Value,
) -> Option<Vec<(usize, String)>> {
    let Value::Array(items) = value else {
        problems.invalid(name, "must be an array of strings");
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(s) => out.push((i, s)),
            _ => problems.invalid(format!("{name}[{i}]"), "must be a string"),
        }
    }
    Some(out)
}

fn string_array(problems: &mut Problems, name: &str, value: Value) -> Option<Vec<String>> {
    string_items(problems, name, value).map(|items| items.into_iter().map(|(_, s)| s).collect())
}

/// `custom`: an object of string-or-null values, or `null`.
pub fn custom_patch(problems: &mut Problems, value: Value) -> Option<CustomPatch> {
    match value {
        Value::Null => Some(CustomPatch::Clear),
        Value::Object(map) => {
            let mut changes = BTreeMap::new();
            for (key, value) in map {
                match value {
                    Value::String(s) => {
                        changes.insert(key, Some(s));
                    }
                    Value::Null => {
                        changes.insert(key, None);
                    }
                    _ => problems.invalid(
                        format!("custom.{key}"),
                        "must be a string (or null to delete the key)",
                    ),
                }
            }
            Some(CustomPatch::Merge(changes))
        }
        _ => {
            problems.invalid("custom", "must be an object of strings, or null");
            None
        }
    }
}

/// The body of PUT `/conversations/{id}`.
///
/// # Errors
/// [`Invalid`] naming every bad or unknown field; nothing is half-applied.
pub fn conversation_patch(
    body: Value,
    path_id: &ConversationId,
) -> Result<ConversationPatch, Invalid> {
    let mut problems = Problems::default();
    let mut patch = ConversationPatch::default();
    for (name, value) in as_object(body)? {
        match name.as_str() {
            "participants" => {
                if value.is_null() {
                    problems.invalid(
                        "participants",
                        "must be an array of user IDs; PUT never removes participants",
                    );
                } else if let Some(ids) = string_items(&mut problems, "participants", value) {
                    for (i, raw) in ids {
                        match UserId::new(raw) {
                            Ok(id) => patch.participants.push(id),
                            Err(e) => problems.invalid(format!("participants[{i}]"), e.to_string()),
                        }
                    }
                }
            }
            "subject" => patch.subject = nullable_string(&mut problems, "subject", value),
            "photoUrl" => patch.photo_url = nullable_string(&mut problems, "photoUrl", value),
            "welcomeMessages" => {
                patch.welcome_messages = if value.is_null() {
                    Field::Null
                } else {
                    string_array(&mut problems, "welcomeMessages", value)
                        .map_or(Field::Absent, Field::Set)
                };
            }
            "custom" => patch.custom = custom_patch(&mut problems, value),
            "id" => {
                if value.as_str() != Some(path_id.as_str()) {
                    problems.invalid("id", "must equal the conversation ID in the path");
                }
            }
            other if READ_ONLY_CONVERSATION_FIELDS.contains(&other) => {}
            other => problems.unknown(other),
        }
    }
    problems.finish()?;
    Ok(patch)
}

/// The body of PUT `/conversations/participants=...`: a conversation PUT without `participants`
/// (the path fixes them).
///
/// # Errors
/// As [`conversation_patch`], and `participants` is refused.
pub fn legacy_patch(body: Value, id: &ConversationId) -> Result<ConversationPatch, Invalid> {
    if body.get("participants").is_some() {
        let mut problems = Problems::default();
        problems.invalid(
            "participants",
            "the participants of a participants=... conversation are given by its path",
        );
        problems.finish()?;
    }
    conversation_patch(body, id)
}

pub(crate) struct NotifyView(pub(crate) Notify);

impl Serialize for NotifyView {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Notify::On => s.serialize_bool(true),
            Notify::Off => s.serialize_bool(false),
            Notify::MentionsOnly => s.serialize_str("MentionsOnly"),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ParticipantView {
    pub(crate) access: &'static str,
    pub(crate) notify: NotifyView,
    pub(crate) is_unread: bool,
    /// TalkJS's data-transfer script reads it from listed conversations and PATCHes it back.
    pub(crate) read_until: i64,
}

/// The Conversation object: every key always present, unset values `null`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView<'a> {
    id: &'a str,
    subject: Option<&'a str>,
    topic_id: Option<&'a str>,
    photo_url: Option<&'a str>,
    welcome_messages: Option<&'a [String]>,
    custom: &'a BTreeMap<String, String>,
    participants: BTreeMap<&'a str, ParticipantView>,
    last_message: Option<MessageView<'a>>,
    created_at: i64,
}

impl<'a> ConversationView<'a> {
    pub fn new(c: &'a Conversation, urls: &'a FileUrls) -> Self {
        Self {
            id: c.id.as_str(),
            subject: c.subject.as_deref(),
            topic_id: c.topic_id.as_deref(),
            photo_url: c.photo_url.as_deref(),
            welcome_messages: c.welcome_messages.as_deref(),
            custom: &c.custom,
            participants: c
                .visible_participants()
                .map(|(user, p)| {
                    (
                        user.as_str(),
                        ParticipantView {
                            access: p.access.as_str(),
                            notify: NotifyView(p.notify),
                            is_unread: c.is_unread(user, p),
                            read_until: p.read_until,
                        },
                    )
                })
                .collect(),
            last_message: c
                .last_message
                .as_ref()
                .map(|m| MessageView::new(m, c, urls)),
            created_at: c.created_at,
        }
    }
}

fn notify_value(problems: &mut Problems, value: Value) -> Option<Notify> {
    match value {
        Value::Bool(true) => Some(Notify::On),
        Value::Bool(false) => Some(Notify::Off),
        Value::String(s) if s == "MentionsOnly" => Some(Notify::MentionsOnly),
        _ => {
            problems.invalid("notify", "must be true, false or \"MentionsOnly\"");
            None
        }
    }
}

fn access_value(problems: &mut Problems, value: Value, allow_none: bool) -> Option<Access> {
    let parsed = value.as_str().and_then(Access::parse);
    match parsed {
        Some(Access::None) if !allow_none => {
            problems.invalid(
                "access",
                "must be \"ReadWrite\" or \"Read\" (use PATCH for \"None\")",
            );
            None
        }
        Some(access) => Some(access),
        None => {
            let allowed = if allow_none {
                "must be \"ReadWrite\", \"Read\" or \"None\""
            } else {
                "must be \"ReadWrite\" or \"Read\""
            };
            problems.invalid("access", allowed);
            None
        }
    }
}

/// The body of PUT `/participants/{userId}`: `{"access"?, "notify"?}`.
///
/// # Errors
/// [`Invalid`] naming every bad or unknown field.
pub fn join_body(body: Value) -> Result<Join, Invalid> {
    let mut problems = Problems::default();
    let mut join = Join::default();
    for (name, value) in as_object(body)? {
        match name.as_str() {
            "access" => join.access = access_value(&mut problems, value, false),
            "notify" => join.notify = notify_value(&mut problems, value),
            other => problems.unknown(other),
        }
    }
    problems.finish()?;
    Ok(join)
}

/// The body of PATCH `/participants/{userId}`: `{"access"?, "notify"?, "readUntil"?}`.
///
/// # Errors
/// [`Invalid`] naming every bad or unknown field.
pub fn participant_patch(body: Value) -> Result<ParticipantPatch, Invalid> {
    let mut problems = Problems::default();
    let mut patch = ParticipantPatch::default();
    for (name, value) in as_object(body)? {
        match name.as_str() {
            "access" => patch.access = access_value(&mut problems, value, true),
            "notify" => patch.notify = notify_value(&mut problems, value),
            "readUntil" => match value.as_i64() {
                Some(ms) => patch.read_until = Some(ms),
                None => problems.invalid("readUntil", "must be a Unix timestamp in milliseconds"),
            },
            other => problems.unknown(other),
        }
    }
    problems.finish()?;
    Ok(patch)
}

/// Where downloads of files are served: `server.public_url` and the download path.
#[derive(Debug, Clone)]
pub struct FileUrls {
    base: String,
}

impl FileUrls {
    pub fn new(public_url: &str) -> Self {
        Self {
            base: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The capability URL of a file: anyone holding it downloads the file.
    pub fn url(&self, token: &str, filename: &str) -> String {
        let name: String =
            percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        format!("{}/files/{token}/{name}", self.base)
    }
}

/// A file block as the Message object shows it: with its download URL.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileBlockView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    file_token: &'a str,
    url: String,
    filename: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtype: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<f64>,
}

/// The legacy `attachment`: the first file block without its type and token.
#[derive(Serialize)]
struct AttachmentView<'a> {
    url: String,
    size: u64,
    filename: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtype: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<f64>,
}

/// A message's content blocks, file blocks with their URLs.
struct ContentView<'a> {
    blocks: &'a [Block],
    urls: &'a FileUrls,
}

impl Serialize for ContentView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.blocks.len()))?;
        for block in self.blocks {
            match block {
                Block::File(f) => seq.serialize_element(&FileBlockView {
                    kind: "file",
                    file_token: &f.file_token,
                    url: self.urls.url(&f.file_token, &f.filename),
                    filename: &f.filename,
                    size: f.size,
                    subtype: f.subtype.as_deref(),
                    width: f.width,
                    height: f.height,
                    duration: f.duration.map(|d| d.0),
                })?,
                other => seq.serialize_element(other)?,
            }
        }
        seq.end()
    }
}

/// The Message object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView<'a> {
    id: &'a str,
    conversation_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    sender_id: Option<&'a str>,
    text: &'a str,
    custom: &'a BTreeMap<String, String>,
    created_at: i64,
    edited_at: Option<i64>,
    read_by: Vec<&'a str>,
    origin: &'static str,
    referenced_message_id: Option<&'a str>,
    attachment: Option<AttachmentView<'a>>,
    location: Option<[f64; 2]>,
    content: ContentView<'a>,
    reactions: &'a BTreeMap<String, ReactionSummary>,
}

impl<'a> MessageView<'a> {
    pub fn new(m: &'a Message, conversation: &'a Conversation, urls: &'a FileUrls) -> Self {
        Self {
            id: m.id.as_str(),
            conversation_id: m.conversation_id.as_str(),
            kind: m.kind.as_str(),
            sender_id: m.sender.as_ref().map(UserId::as_str),
            text: &m.text,
            custom: &m.custom,
            created_at: m.created_at,
            edited_at: m.edited_at,
            read_by: conversation
                .read_by(m)
                .into_iter()
                .map(UserId::as_str)
                .collect(),
            origin: m.origin.as_str(),
            referenced_message_id: m.referenced_message_id.as_ref().map(MessageId::as_str),
            attachment: parley_domain::content::attachment(&m.content).map(|f| AttachmentView {
                url: urls.url(&f.file_token, &f.filename),
                size: f.size,
                filename: &f.filename,
                subtype: f.subtype.as_deref(),
                width: f.width,
                height: f.height,
                duration: f.duration.map(|d| d.0),
            }),
            location: parley_domain::content::location(&m.content),
            content: ContentView {
                blocks: &m.content,
                urls,
            },
            reactions: &m.reactions,
        }
    }
}

/// `{"data": [...]}`
#[derive(Serialize)]
pub struct Data<T> {
    pub data: Vec<T>,
}

/// `[{"id": "msg_..."}, ...]`
#[derive(Serialize)]
pub struct Created<'a> {
    pub id: &'a str,
}

/// The body of a message item or edit: exactly one of `text`, `content`, `attachmentToken`
/// and `location` (taken out of `map`). Answers the text (the plain text of content) and the
/// content when it was not the `text` form. `None` once a problem is recorded.
pub(super) fn message_body(
    problems: &mut Problems,
    prefix: &str,
    map: &mut Map<String, Value>,
) -> Option<(String, Option<GivenContent>)> {
    let forms: Vec<(&str, Value)> = ["text", "content", "attachmentToken", "location"]
        .into_iter()
        .filter_map(|name| map.remove(name).map(|v| (name, v)))
        .filter(|(_, v)| !v.is_null())
        .collect();
    let mut forms = forms.into_iter();
    let (first, second) = (forms.next(), forms.next());
    let Some((name, value)) = first else {
        problems.invalid(
            format!("{prefix}text"),
            "is required (or content, attachmentToken or location)",
        );
        return None;
    };
    if let Some((other, _)) = second {
        problems.invalid(
            format!("{prefix}{other}"),
            format!("give one of text, content, attachmentToken and location, not both {name} and {other}"),
        );
        return None;
    }
    let path = format!("{prefix}{name}");
    let mut parser = ContentParser {
        problems,
        max_blocks: usize::MAX,
    };
    let (blocks, field) = match name {
        "text" => {
            return match value {
                Value::String(text) => Some((text, None)),
                _ => {
                    parser.problems.invalid(path, "must be a string");
                    None
                }
            }
        }
        "content" => (parser.content(&path, &value)?, ContentField::Content),
        "attachmentToken" => match value {
            Value::String(token) => (
                vec![Block::File(FileBlock::token_only(token))],
                ContentField::AttachmentToken,
            ),
            _ => {
                parser
                    .problems
                    .invalid(path, "must be a fileToken (a string)");
                return None;
            }
        },
        _ => (
            vec![parser.legacy_location(&path, &value)?],
            ContentField::Location,
        ),
    };
    let text = parley_domain::content::plain_text(&blocks);
    Some((text, Some(GivenContent { blocks, field })))
}

pub(super) fn required_string(
    problems: &mut Problems,
    path: &str,
    value: Option<Value>,
) -> Option<String> {
    match value {
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            problems.invalid(path, "must be a string");
            None
        }
        None => {
            problems.invalid(path, "is required");
            None
        }
    }
}

/// `custom` of a new message: an object of strings.
pub(super) fn string_map(
    problems: &mut Problems,
    path: &str,
    value: Value,
) -> BTreeMap<String, String> {
    let Value::Object(map) = value else {
        problems.invalid(path, "must be an object of strings");
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (key, value) in map {
        match value {
            Value::String(s) => {
                out.insert(key, s);
            }
            _ => problems.invalid(format!("{path}.{key}"), "must be a string"),
        }
    }
    out
}

fn new_message(problems: &mut Problems, i: usize, item: Value) -> Option<NewMessage> {
    let Value::Object(mut map) = item else {
        problems.invalid(format!("[{i}]"), "must be a message object");
        return None;
    };
    let body = message_body(problems, &format!("[{i}]."), &mut map);
    let kind = match required_string(problems, &format!("[{i}].type"), map.remove("type")) {
        Some(raw) => match MessageKind::parse(&raw) {
            Some(kind) => Some(kind),
            None => {
                problems.invalid(
                    format!("[{i}].type"),
                    "must be \"UserMessage\" or \"SystemMessage\"",
                );
                None
            }
        },
        None => None,
    };
    let sender = match map.remove("sender") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => match UserId::new(raw) {
            Ok(id) => Some(id),
            Err(e) => {
                problems.invalid(format!("[{i}].sender"), e.to_string());
                None
            }
        },
        Some(_) => {
            problems.invalid(format!("[{i}].sender"), "must be a user ID");
            None
        }
    };
    let custom = match map.remove("custom") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => string_map(problems, &format!("[{i}].custom"), value),
    };
    let referenced_message_id = match map.remove("referencedMessageId") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => match MessageId::new(raw) {
            Ok(id) => Some(id),
            Err(e) => {
                problems.invalid(format!("[{i}].referencedMessageId"), e.to_string());
                None
            }
        },
        Some(_) => {
            problems.invalid(format!("[{i}].referencedMessageId"), "must be a message ID");
            None
        }
    };
    let idempotency_key = match map.remove("idempotencyKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) if !key.is_empty() && key.len() <= 255 => Some(key),
        Some(_) => {
            problems.invalid(
                format!("[{i}].idempotencyKey"),
                "must be a string of 1 to 255 bytes",
            );
            None
        }
    };
    for name in map.keys() {
        problems.unknown(format!("[{i}].{name}"));
    }
    let (text, content) = body?;
    Some(NewMessage {
        content,
        kind: kind?,
        sender,
        text,
        custom,
        referenced_message_id,
        idempotency_key,
    })
}

/// The body of POST `/messages`: an array of messages.
///
/// # Errors
/// [`Invalid`] with reasons keyed by item index.
pub fn new_messages(body: Value) -> Result<Vec<NewMessage>, Invalid> {
    let mut problems = Problems::default();
    let Value::Array(items) = body else {
        problems.invalid("(body)", "must be an array of messages");
        problems.finish()?;
        return Ok(Vec::new());
    };
    let parsed: Vec<Option<NewMessage>> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| new_message(&mut problems, i, item))
        .collect();
    problems.finish()?;
    Ok(parsed.into_iter().flatten().collect())
}

/// The body of PUT `/messages/{id}`: `{"text"?, "content"?, "custom"?}` (text or content, not
/// both).
///
/// # Errors
/// [`Invalid`] naming every bad or unknown field.
pub fn message_patch(body: Value) -> Result<MessagePatch, Invalid> {
    let mut problems = Problems::default();
    let mut patch = MessagePatch::default();
    let mut map = as_object(body)?;
    if map.contains_key("text") || map.contains_key("content") {
        let mut body_map = Map::new();
        for name in ["text", "content"] {
            if let Some(v) = map.remove(name) {
                body_map.insert(name.to_owned(), v);
            }
        }
        if let Some((text, content)) = message_body(&mut problems, "", &mut body_map) {
            match content {
                Some(given) => patch.content = Some(given),
                None => patch.text = Some(text),
            }
        }
    }
    for (name, value) in map {
        match name.as_str() {
            "custom" => patch.custom = custom_patch(&mut problems, value),
            other => problems.unknown(other),
        }
    }
    problems.finish()?;
    Ok(patch)
}

/// Query parameters as pairs; a query string that cannot be decoded is a 400.
///
/// # Errors
/// [`Invalid`] for an undecodable query string.
pub fn query_pairs(raw: &str) -> Result<Vec<(String, String)>, Invalid> {
    serde_urlencoded::from_str(raw).map_err(|e| {
        let mut problems = Problems::default();
        problems.invalid("(query)", e.to_string());
        problems.finish().unwrap_err()
    })
}

/// `limit`: an integer from 1 to `max`.
pub(crate) fn parse_limit(problems: &mut Problems, raw: &str, max: usize) -> Option<usize> {
    match raw.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Some(n),
        _ => {
            problems.invalid("limit", format!("must be an integer from 1 to {max}"));
            None
        }
    }
}

fn parse_millis(problems: &mut Problems, name: &str, raw: &str) -> Option<i64> {
    match raw.parse::<i64>() {
        Ok(ms) => Some(ms),
        Err(_) => {
            problems.invalid(
                name,
                "must be a Unix timestamp in milliseconds (an integer)",
            );
            None
        }
    }
}

/// `GET /conversations?limit&startingAfter&lastMessageBefore&lastMessageAfter&orderBy&orderDirection`.
/// Unknown parameters are ignored, like TalkJS does.
///
/// # Errors
/// [`Invalid`] naming every bad parameter.
pub fn conversation_query(pairs: Vec<(String, String)>) -> Result<ConversationQuery, Invalid> {
    let mut problems = Problems::default();
    let mut query = ConversationQuery::default();
    for (name, value) in pairs {
        match name.as_str() {
            "limit" => {
                query.limit = parse_limit(&mut problems, &value, MAX_LIMIT).unwrap_or(query.limit)
            }
            "startingAfter" => match ConversationId::new(value) {
                Ok(id) => query.starting_after = Some(id),
                Err(e) => problems.invalid("startingAfter", e.to_string()),
            },
            "lastMessageBefore" => {
                query.last_message_before = parse_millis(&mut problems, "lastMessageBefore", &value)
            }
            "lastMessageAfter" => {
                query.last_message_after = parse_millis(&mut problems, "lastMessageAfter", &value)
            }
            "orderBy" => match value.to_ascii_lowercase().as_str() {
                "lastactivity" => query.order_by = OrderBy::LastActivity,
                "createdat" => query.order_by = OrderBy::CreatedAt,
                _ => problems.invalid("orderBy", "must be lastActivity or createdAt"),
            },
            "orderDirection" => match value.to_ascii_uppercase().as_str() {
                "DESC" => query.direction = Direction::Desc,
                "ASC" => query.direction = Direction::Asc,
                _ => problems.invalid("orderDirection", "must be DESC or ASC"),
            },
            _ => {}
        }
    }
    problems.finish()?;
    Ok(query)
}

/// `GET /messages?limit&startingAfter`.
///
/// # Errors
/// [`Invalid`] naming every bad parameter.
pub fn message_query(pairs: Vec<(String, String)>) -> Result<(usize, Option<MessageId>), Invalid> {
    let mut problems = Problems::default();
    let mut limit = parley_domain::listing::DEFAULT_LIMIT;
    let mut after = None;
    for (name, value) in pairs {
        match name.as_str() {
            "limit" => limit = parse_limit(&mut problems, &value, MAX_LIMIT).unwrap_or(limit),
            "startingAfter" => match MessageId::new(value) {
                Ok(id) => after = Some(id),
                Err(e) => problems.invalid("startingAfter", e.to_string()),
            },
            _ => {}
        }
    }
    problems.finish()?;
    Ok((limit, after))
}

/// The fields of a user PUT body.
fn user_fields(problems: &mut Problems, prefix: &str, body: Value, path_id: &UserId) -> UserPatch {
    let mut patch = UserPatch::default();
    let Value::Object(map) = body else {
        let path = match prefix.trim_end_matches('.') {
            "" => "(body)".to_string(),
            id => id.to_string(),
        };
        problems.invalid(path, "must be a JSON object");
        return patch;
    };
    let name = |field: &str| format!("{prefix}{field}");
    let mut sub = Problems::default();
    // TalkJS's oldest docs call `role` `configuration`.
    let mut configuration = Field::Absent;
    for (field, value) in map {
        match field.as_str() {
            "name" => patch.name = nullable_string(&mut sub, &name("name"), value),
            "configuration" => {
                configuration = nullable_string(&mut sub, &name("configuration"), value);
            }
            "email" | "phone" => {
                let parsed = if value.is_null() {
                    Field::Null
                } else {
                    string_array(&mut sub, &name(&field), value).map_or(Field::Absent, Field::Set)
                };
                if field == "email" {
                    patch.email = parsed;
                } else {
                    patch.phone = parsed;
                }
            }
            "photoUrl" => patch.photo_url = nullable_string(&mut sub, &name("photoUrl"), value),
            "welcomeMessage" => {
                patch.welcome_message = nullable_string(&mut sub, &name("welcomeMessage"), value)
            }
            "role" => patch.role = nullable_string(&mut sub, &name("role"), value),
            "locale" => patch.locale = nullable_string(&mut sub, &name("locale"), value),
            "availabilityText" => {
                patch.availability_text =
                    nullable_string(&mut sub, &name("availabilityText"), value)
            }
            "custom" => {
                let mut inner = Problems::default();
                patch.custom = custom_patch(&mut inner, value);
                if let Err(invalid) = inner.finish() {
                    for (path, reason) in invalid.reasons {
                        sub.invalid(format!("{prefix}{path}"), reason);
                    }
                }
            }
            "pushTokens" => match value {
                Value::Null => patch.push_tokens = Some(PushTokensPatch::Clear),
                Value::Object(tokens) => {
                    let mut changes = BTreeMap::new();
                    for (token, keep) in tokens {
                        match keep {
                            Value::Bool(true) => {
                                changes.insert(token, true);
                            }
                            Value::Null => {
                                changes.insert(token, false);
                            }
                            _ => sub.invalid(
                                name(&format!("pushTokens.{token}")),
                                "must be true (to add the token) or null (to remove it)",
                            ),
                        }
                    }
                    patch.push_tokens = Some(PushTokensPatch::Merge(changes));
                }
                _ => sub.invalid(name("pushTokens"), "must be an object of tokens, or null"),
            },
            "id" => {
                if value.as_str() != Some(path_id.as_str()) {
                    sub.invalid(name("id"), "must equal the user ID in the path");
                }
            }
            "createdAt" => {}
            other => sub.unknown(name(other)),
        }
    }
    match (&patch.role, configuration) {
        (_, Field::Absent) => {}
        (Field::Absent, alias) => patch.role = alias,
        (role, alias) if *role == alias => {}
        _ => sub.invalid(
            name("configuration"),
            "is the old name of `role`; both were given with different values",
        ),
    }
    if let Err(invalid) = sub.finish() {
        problems.absorb(invalid);
    }
    patch
}

/// The body of PUT `/users/{userId}`.
///
/// # Errors
/// [`Invalid`] naming every bad or unknown field.
pub fn user_patch(body: Value, id: &UserId) -> Result<UserPatch, Invalid> {
    let mut problems = Problems::default();
    let patch = user_fields(&mut problems, "", body, id);
    problems.finish()?;
    Ok(patch)
}

/// The body of PUT `/users`: `{userId: user body, ...}`, reasons keyed by user ID.
///
/// # Errors
/// [`Invalid`] naming every bad user ID and field.
pub fn user_batch(body: Value) -> Result<Vec<(UserId, UserPatch)>, Invalid> {
    let mut problems = Problems::default();
    let Value::Object(map) = body else {
        problems.invalid("(body)", "must be an object of user ID to user");
        problems.finish()?;
        return Ok(Vec::new());
    };
    let mut items = Vec::with_capacity(map.len());
    for (raw, value) in map {
        match UserId::new(raw.clone()) {
            Ok(id) => {
                if !value.is_object() {
                    problems.invalid(raw, "must be a JSON object");
                    continue;
                }
                let patch = user_fields(&mut problems, &format!("{id}."), value, &id);
                items.push((id, patch));
            }
            Err(e) => problems.invalid(raw, format!("is not a valid user ID: {e}")),
        }
    }
    problems.finish()?;
    Ok(items)
}

/// The User object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView<'a> {
    id: &'a str,
    name: &'a str,
    email: Option<&'a [String]>,
    phone: Option<&'a [String]>,
    photo_url: Option<&'a str>,
    welcome_message: Option<&'a str>,
    role: Option<&'a str>,
    locale: Option<&'a str>,
    availability_text: Option<&'a str>,
    custom: &'a BTreeMap<String, String>,
    push_tokens: BTreeMap<&'a str, bool>,
    created_at: i64,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            id: u.id.as_str(),
            name: &u.name,
            email: u.email.as_deref(),
            phone: u.phone.as_deref(),
            photo_url: u.photo_url.as_deref(),
            welcome_message: u.welcome_message.as_deref(),
            role: u.role.as_deref(),
            locale: u.locale.as_deref(),
            availability_text: u.availability_text.as_deref(),
            custom: &u.custom,
            push_tokens: u.push_tokens.iter().map(|t| (t.as_str(), true)).collect(),
            created_at: u.created_at,
        }
    }
}

/// One item of `GET /users/{userId}/conversations`: the Conversation plus that user's unread
/// state.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserConversationView<'a> {
    #[serde(flatten)]
    conversation: ConversationView<'a>,
    is_unread: bool,
    unread_message_count: i64,
}

impl<'a> UserConversationView<'a> {
    pub fn new(item: &'a UserConversation, urls: &'a FileUrls) -> Self {
        Self {
            conversation: ConversationView::new(&item.conversation, urls),
            is_unread: item.is_unread,
            unread_message_count: item.unread_message_count,
        }
    }
}

/// `GET /users?limit&startingAfter`.
///
/// # Errors
/// [`Invalid`] naming every bad parameter.
pub fn user_query(pairs: Vec<(String, String)>) -> Result<(usize, Option<UserId>), Invalid> {
    let mut problems = Problems::default();
    let mut limit = parley_domain::listing::DEFAULT_LIMIT;
    let mut after = None;
    for (name, value) in pairs {
        match name.as_str() {
            "limit" => limit = parse_limit(&mut problems, &value, MAX_LIMIT).unwrap_or(limit),
            "startingAfter" => match UserId::new(value) {
                Ok(id) => after = Some(id),
                Err(e) => problems.invalid("startingAfter", e.to_string()),
            },
            _ => {}
        }
    }
    problems.finish()?;
    Ok((limit, after))
}

/// `GET /users/{userId}/conversations`: the conversation list's parameters plus `unreadsOnly`.
///
/// # Errors
/// [`Invalid`] naming every bad parameter.
pub fn user_conversation_query(pairs: Vec<(String, String)>) -> Result<ConversationQuery, Invalid> {
    let mut problems = Problems::default();
    let mut unreads_only = false;
    let mut rest = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        if name == "unreadsOnly" {
            match value.as_str() {
                "true" => unreads_only = true,
                "false" => unreads_only = false,
                _ => problems.invalid("unreadsOnly", "must be true or false"),
            }
        } else {
            rest.push((name, value));
        }
    }
    let query = conversation_query(rest);
    if let Err(invalid) = &query {
        problems.absorb(invalid.clone());
    }
    problems.finish()?;
    Ok(ConversationQuery {
        unreads_only,
        ..query?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_domain::InvalidCode;
    use serde_json::json;

    fn cid() -> ConversationId {
        ConversationId::new("c1").unwrap()
    }

    fn reasons(body: Value) -> (InvalidCode, BTreeMap<String, String>) {
        let err = conversation_patch(body, &cid()).unwrap_err();
        (err.code, err.reasons)
    }

    #[test]
    fn a_full_body_becomes_a_patch() {
        let patch = conversation_patch(
            json!({
                "participants": ["a", "b"], "subject": "s", "photoUrl": null,
                "welcomeMessages": ["w"], "custom": {"k": "v", "gone": null},
                "id": "c1", "topicId": "x", "createdAt": 5, "lastMessage": null
            }),
            &cid(),
        )
        .unwrap();
        assert_eq!(patch.participants.len(), 2);
        assert_eq!(patch.subject, Field::Set("s".into()));
        assert_eq!(patch.photo_url, Field::Null);
        assert_eq!(patch.welcome_messages, Field::Set(vec!["w".into()]));
        assert_eq!(
            patch.custom,
            Some(CustomPatch::Merge(BTreeMap::from([
                ("k".into(), Some("v".into())),
                ("gone".into(), None)
            ])))
        );
    }

    #[test]
    fn absent_fields_stay_absent() {
        assert_eq!(
            conversation_patch(json!({}), &cid()).unwrap(),
            ConversationPatch::default()
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let (code, r) = reasons(json!({
            "participants": ["ok", 5, ""], "subject": 1, "photoUrl": [],
            "welcomeMessages": "x", "custom": {"n": 1}
        }));
        assert_eq!(code, InvalidCode::InvalidField);
        for key in [
            "participants[1]",
            "participants[2]",
            "subject",
            "photoUrl",
            "welcomeMessages",
            "custom.n",
        ] {
            assert!(r.contains_key(key), "{key} missing from {r:?}");
        }
    }

    #[test]
    fn unknown_fields_and_null_participants_and_foreign_ids_are_refused() {
        let (code, r) = reasons(json!({"subjct": "typo"}));
        assert_eq!(code, InvalidCode::UnknownField);
        assert!(r.contains_key("subjct"));
        assert!(reasons(json!({"participants": null}))
            .1
            .contains_key("participants"));
        assert!(reasons(json!({"id": "other"})).1.contains_key("id"));
        assert!(reasons(json!({"custom": "x"})).1.contains_key("custom"));
        assert!(reasons(json!([1])).1.contains_key("(body)"));
    }
}
