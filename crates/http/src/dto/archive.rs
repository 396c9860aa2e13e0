//! The JSON Lines form of [`Record`]s (`parley export`, `parley import`, `parley migrate`): one
//! object per line, `{"kind": ..., "appId": ..., ...}`, the REST JSON of each thing inside.
//!
//! - `{"kind": "user", "appId", "user": User}`
//! - `{"kind": "conversation", "appId", "conversation": Conversation}` (its `participants`
//!   and `lastMessage` are shown, but restored from their own records)
//! - `{"kind": "participant", "appId", "conversationId", "userId", "participant": {"access",
//!   "notify", "readUntil"}}` (also access `None`, which the REST API hides)
//! - `{"kind": "message", "appId", "message": Message}`
//! - `{"kind": "reaction", "appId", "conversationId", "messageId", "emoji", "userId",
//!   "createdAt"}`
//! - `{"kind": "file", "appId", "fileToken", "filename", "contentType", "size", "subtype"?,
//!   "width"?, "height"?, "duration"?, "createdAt", "base64": the bytes}`

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use parley_domain::archive::Record;
use parley_domain::content::Finite;
use parley_domain::files::StoredFile;
use parley_domain::message::Origin;
use parley_domain::reactions::Emoji;
use parley_domain::{
    Access, AppId, Block, Conversation, ConversationId, Message, MessageId, MessageKind, Notify,
    Participant, User, UserId,
};
use serde_json::{json, Map, Value};

use super::{ConversationView, FileUrls, MessageView, NotifyView, UserView};

/// The line of `record` of `app` (without the newline). `conversation` is the message's
/// conversation (its `readBy` comes from the participants).
pub fn encode(
    app: &AppId,
    record: &Record,
    conversation: Option<&Conversation>,
    urls: &FileUrls,
) -> String {
    let app = app.as_str();
    let value = match record {
        Record::User(u) => json!({"kind": "user", "appId": app, "user": UserView::from(u)}),
        Record::Conversation(c) => json!({
            "kind": "conversation", "appId": app,
            "conversation": ConversationView::new(c, urls),
        }),
        Record::Participant {
            conversation,
            user,
            participant,
        } => json!({
            "kind": "participant", "appId": app,
            "conversationId": conversation.as_str(), "userId": user.as_str(),
            "participant": {
                "access": participant.access.as_str(),
                "notify": NotifyView(participant.notify),
                "readUntil": participant.read_until,
            },
        }),
        Record::Message(m) => {
            let fallback;
            let conversation = match conversation {
                Some(c) => c,
                None => {
                    fallback = Conversation::new(m.conversation_id.clone(), 0);
                    &fallback
                }
            };
            json!({"kind": "message", "appId": app, "message": MessageView::new(m, conversation, urls)})
        }
        Record::Reaction {
            conversation,
            message,
            emoji,
            user,
            created_at,
        } => json!({
            "kind": "reaction", "appId": app, "conversationId": conversation.as_str(),
            "messageId": message.as_str(), "emoji": emoji.as_str(), "userId": user.as_str(),
            "createdAt": created_at,
        }),
        Record::File { file, bytes } => {
            let mut v = json!({
                "kind": "file", "appId": app, "fileToken": file.token, "filename": file.filename,
                "contentType": file.content_type, "size": bytes.len(), "createdAt": file.created_at,
                "base64": base64::engine::general_purpose::STANDARD.encode(bytes),
            });
            let o = v.as_object_mut().expect("an object");
            if let Some(s) = &file.subtype {
                o.insert("subtype".into(), json!(s));
            }
            if let Some(w) = file.width {
                o.insert("width".into(), json!(w));
            }
            if let Some(h) = file.height {
                o.insert("height".into(), json!(h));
            }
            if let Some(d) = file.duration {
                o.insert("duration".into(), json!(d.0));
            }
            v
        }
    };
    value.to_string()
}

/// Reads fields out of one JSON object, naming the first problem.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    at: &'a str,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, at: &'a str) -> Result<Self, String> {
        value
            .as_object()
            .map(|object| Self { object, at })
            .ok_or_else(|| format!("{at}: must be an object"))
    }

    fn value(&self, name: &str) -> Result<&'a Value, String> {
        self.object
            .get(name)
            .ok_or_else(|| format!("{}.{name}: missing", self.at))
    }

    fn string(&self, name: &str) -> Result<String, String> {
        self.value(name)?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{}.{name}: must be a string", self.at))
    }

    fn opt_string(&self, name: &str) -> Result<Option<String>, String> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{}.{name}: must be a string or null", self.at)),
        }
    }

    fn int(&self, name: &str) -> Result<i64, String> {
        self.value(name)?
            .as_i64()
            .ok_or_else(|| format!("{}.{name}: must be an integer", self.at))
    }

    fn opt_int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("{}.{name}: must be an integer or null", self.at)),
        }
    }

    fn strings(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| format!("{}.{name}: must be an array of strings", self.at)),
            Some(_) => Err(format!("{}.{name}: must be an array of strings", self.at)),
        }
    }

    fn custom(&self) -> Result<BTreeMap<String, String>, String> {
        match self.object.get("custom") {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect::<Option<BTreeMap<_, _>>>()
                .ok_or_else(|| format!("{}.custom: values must be strings", self.at)),
            Some(_) => Err(format!("{}.custom: must be an object", self.at)),
        }
    }
}

fn user_id(raw: String, at: &str) -> Result<UserId, String> {
    UserId::new(raw).map_err(|e| format!("{at}: {e}"))
}

fn conversation_id(raw: String, at: &str) -> Result<ConversationId, String> {
    ConversationId::new(raw).map_err(|e| format!("{at}: {e}"))
}

fn message_id(raw: String, at: &str) -> Result<MessageId, String> {
    MessageId::new(raw).map_err(|e| format!("{at}: {e}"))
}

/// A User object of the REST API.
///
/// # Errors
/// What is wrong, with the field's place.
pub fn user_from_rest(value: &Value, at: &str) -> Result<User, String> {
    let f = Fields::new(value, at)?;
    let push_tokens = match f.object.get("pushTokens") {
        None | Some(Value::Null) => BTreeSet::new(),
        Some(Value::Object(map)) => map
            .iter()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .map(|(k, _)| k.clone())
            .collect(),
        Some(_) => return Err(format!("{at}.pushTokens: must be an object")),
    };
    Ok(User {
        id: user_id(f.string("id")?, &format!("{at}.id"))?,
        name: f.opt_string("name")?.unwrap_or_default(),
        email: f.strings("email")?,
        phone: f.strings("phone")?,
        photo_url: f.opt_string("photoUrl")?,
        welcome_message: f.opt_string("welcomeMessage")?,
        role: f.opt_string("role")?,
        locale: f.opt_string("locale")?,
        availability_text: f.opt_string("availabilityText")?,
        custom: f.custom()?,
        push_tokens,
        created_at: f.int("createdAt")?,
    })
}

/// A Conversation object of the REST API: its own fields, and its participants as shown.
///
/// # Errors
/// What is wrong, with the field's place.
pub fn conversation_from_rest(value: &Value, at: &str) -> Result<Conversation, String> {
    let f = Fields::new(value, at)?;
    let mut c = Conversation::new(
        conversation_id(f.string("id")?, &format!("{at}.id"))?,
        f.int("createdAt")?,
    );
    c.subject = f.opt_string("subject")?;
    c.topic_id = f.opt_string("topicId")?;
    c.photo_url = f.opt_string("photoUrl")?;
    c.welcome_messages = f.strings("welcomeMessages")?;
    c.custom = f.custom()?;
    if let Some(Value::Object(participants)) = f.object.get("participants") {
        for (user, p) in participants {
            let place = format!("{at}.participants.{user}");
            let participant = participant_from_rest(p, &place)?;
            c.participants
                .insert(user_id(user.clone(), &place)?, participant);
        }
    }
    Ok(c)
}

/// A participant entry (`access`, `notify`, `readUntil`).
///
/// # Errors
/// What is wrong, with the field's place.
pub fn participant_from_rest(value: &Value, at: &str) -> Result<Participant, String> {
    let f = Fields::new(value, at)?;
    let access = Access::parse(&f.string("access")?)
        .ok_or_else(|| format!("{at}.access: must be ReadWrite, Read or None"))?;
    let notify = match f.value("notify")? {
        Value::Bool(true) => Notify::On,
        Value::Bool(false) => Notify::Off,
        Value::String(s) if s == "MentionsOnly" => Notify::MentionsOnly,
        _ => {
            return Err(format!(
                "{at}.notify: must be true, false or \"MentionsOnly\""
            ))
        }
    };
    let read_until = f.opt_int("readUntil")?.unwrap_or(0);
    Ok(Participant {
        access,
        notify,
        read_until,
        read_mark: read_until,
    })
}

/// A Message object of the REST API.
///
/// # Errors
/// What is wrong, with the field's place.
pub fn message_from_rest(value: &Value, at: &str) -> Result<Message, String> {
    let f = Fields::new(value, at)?;
    let kind = MessageKind::parse(&f.string("type")?)
        .ok_or_else(|| format!("{at}.type: must be UserMessage or SystemMessage"))?;
    let origin = match f.opt_string("origin")? {
        None => Origin::Rest,
        Some(o) => Origin::parse(&o).ok_or_else(|| format!("{at}.origin: unknown origin {o:?}"))?,
    };
    let content: Vec<Block> = serde_json::from_value(f.value("content")?.clone())
        .map_err(|e| format!("{at}.content: {e}"))?;
    let sender = f
        .opt_string("senderId")?
        .map(|s| user_id(s, &format!("{at}.senderId")))
        .transpose()?;
    let referenced = f
        .opt_string("referencedMessageId")?
        .map(|s| message_id(s, &format!("{at}.referencedMessageId")))
        .transpose()?;
    Ok(Message {
        id: message_id(f.string("id")?, &format!("{at}.id"))?,
        conversation_id: conversation_id(
            f.string("conversationId")?,
            &format!("{at}.conversationId"),
        )?,
        kind,
        sender,
        text: f.string("text")?,
        custom: f.custom()?,
        created_at: f.int("createdAt")?,
        edited_at: f.opt_int("editedAt")?,
        referenced_message_id: referenced,
        origin,
        content,
        // Restored from the reaction records.
        reactions: BTreeMap::new(),
    })
}

/// Reads one line: the app it belongs to and its record.
///
/// # Errors
/// What is wrong with it, naming the field.
pub fn decode(line: &str) -> Result<(AppId, Record), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let f = Fields::new(&value, "(line)")?;
    let app = AppId::new(f.string("appId")?).map_err(|e| format!("appId: {e}"))?;
    let kind = f.string("kind")?;
    let record = match kind.as_str() {
        "user" => Record::User(user_from_rest(f.value("user")?, "user")?),
        "conversation" => {
            let mut c = conversation_from_rest(f.value("conversation")?, "conversation")?;
            c.participants.clear();
            Record::Conversation(c)
        }
        "participant" => Record::Participant {
            conversation: conversation_id(f.string("conversationId")?, "conversationId")?,
            user: user_id(f.string("userId")?, "userId")?,
            participant: participant_from_rest(f.value("participant")?, "participant")?,
        },
        "message" => Record::Message(message_from_rest(f.value("message")?, "message")?),
        "reaction" => Record::Reaction {
            conversation: conversation_id(f.string("conversationId")?, "conversationId")?,
            message: message_id(f.string("messageId")?, "messageId")?,
            emoji: Emoji::parse(&f.string("emoji")?).map_err(|e| format!("emoji: {e}"))?,
            user: user_id(f.string("userId")?, "userId")?,
            created_at: f.int("createdAt")?,
        },
        "file" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(f.string("base64")?)
                .map_err(|e| format!("base64: {e}"))?;
            let duration = match f.object.get("duration") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_f64()
                        .filter(|d| d.is_finite())
                        .map(Finite)
                        .ok_or("duration: must be a number")?,
                ),
            };
            let unsigned = |name: &str| -> Result<Option<u64>, String> {
                f.opt_int(name)?
                    .map(|n| u64::try_from(n).map_err(|_| format!("{name}: must not be negative")))
                    .transpose()
            };
            Record::File {
                file: StoredFile {
                    app: app.clone(),
                    token: f.string("fileToken")?,
                    filename: f.string("filename")?,
                    content_type: f.string("contentType")?,
                    size: bytes.len() as u64,
                    subtype: f.opt_string("subtype")?,
                    width: unsigned("width")?,
                    height: unsigned("height")?,
                    duration,
                    created_at: f.int("createdAt")?,
                },
                bytes,
            }
        }
        other => return Err(format!("kind: unknown kind {other:?}")),
    };
    Ok((app, record))
}
