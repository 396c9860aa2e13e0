//! Path segments, percent-decoded by us: clients `encodeURIComponent` their IDs, so
//! `order%2F1` is the ID `order/1`.

use actix_web::HttpRequest;
use parley_domain::ids::LEGACY_PREFIX;
use parley_domain::legacy::LegacyKey;
use parley_domain::{ConversationId, IdError, Invalid, InvalidCode, MessageId, UserId};
use percent_encoding::percent_decode_str;

/// The raw (still encoded) `index`-th segment of the request path, counting from 0 after the
/// leading `/`. Taken from the URI itself so that no layer has decoded any of it yet.
fn raw_segment(req: &HttpRequest, index: usize) -> &str {
    req.uri().path().split('/').nth(index + 1).unwrap_or("")
}

/// The percent-decoded segment as UTF-8.
///
/// # Errors
/// [`Invalid`] naming `name` when the decoded bytes are not UTF-8.
pub fn decoded_segment(req: &HttpRequest, index: usize, name: &str) -> Result<String, Invalid> {
    percent_decode_str(raw_segment(req, index))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            Invalid::field(
                InvalidCode::InvalidId,
                name,
                "is not valid UTF-8 after percent-decoding",
            )
        })
}

pub fn id_problem(name: &str, err: &IdError) -> Invalid {
    Invalid::field(InvalidCode::InvalidId, name, err.to_string())
}

/// `/v1/{appId}/...`: the app segment, decoded (an undecodable one matches no app).
pub fn app_segment(req: &HttpRequest) -> String {
    decoded_segment(req, 1, "appId").unwrap_or_default()
}

/// The legacy `participants=...[;topic=...]` segment in place of a conversation ID, if it is one.
///
/// # Errors
/// [`Invalid`] when it is one but malformed.
pub fn legacy_key(req: &HttpRequest) -> Result<Option<LegacyKey>, Invalid> {
    let raw = raw_segment(req, 3);
    if !raw.starts_with(LEGACY_PREFIX) {
        return Ok(None);
    }
    LegacyKey::parse_segment(raw, |piece| {
        percent_decode_str(piece)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    })
    .map(Some)
}

/// `/v1/{appId}/conversations/{conversationId}...`
///
/// # Errors
/// [`Invalid`] when the segment is not a valid conversation ID.
pub fn conversation_id(req: &HttpRequest) -> Result<ConversationId, Invalid> {
    let raw = decoded_segment(req, 3, "conversationId")?;
    ConversationId::new(raw).map_err(|e| id_problem("conversationId", &e))
}

/// `/v1/{appId}/conversations/{conversationId}/messages/{messageId}`
///
/// # Errors
/// [`Invalid`] when the segment is not a valid ID.
pub fn message_id(req: &HttpRequest) -> Result<MessageId, Invalid> {
    let raw = decoded_segment(req, 5, "messageId")?;
    MessageId::new(raw).map_err(|e| id_problem("messageId", &e))
}

/// `/v1/{appId}/users/{userId}...`
///
/// # Errors
/// [`Invalid`] when the segment is not a valid ID.
pub fn user_id(req: &HttpRequest) -> Result<UserId, Invalid> {
    let raw = decoded_segment(req, 3, "userId")?;
    UserId::new(raw).map_err(|e| id_problem("userId", &e))
}

/// `/v1/{appId}/conversations/{conversationId}/participants/{userId}`
///
/// # Errors
/// [`Invalid`] when the segment is not a valid ID.
pub fn participant_id(req: &HttpRequest) -> Result<UserId, Invalid> {
    let raw = decoded_segment(req, 5, "userId")?;
    UserId::new(raw).map_err(|e| id_problem("userId", &e))
}

/// `/v1/{appId}/import/conversations/{conversationId}/messages`
///
/// # Errors
/// [`Invalid`] when the segment is not a valid conversation ID.
pub fn import_conversation_id(req: &HttpRequest) -> Result<ConversationId, Invalid> {
    let raw = decoded_segment(req, 4, "conversationId")?;
    ConversationId::new(raw).map_err(|e| id_problem("conversationId", &e))
}
