//! Rows as diesel reads and writes them, and their conversion to and from the domain.

use std::collections::BTreeMap;

use diesel::prelude::*;
use parley_domain::{
    Access, AppId, Block, Conversation, ConversationId, Message, MessageId, MessageKind, Notify,
    Origin, Participant, UserId, Versioned,
};
use serde::{Deserialize, Serialize};

use crate::error::DbError;
use crate::schema::{conversations, messages, participants};

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = conversations)]
pub(crate) struct ConversationRow {
    pub app_id: String,
    pub id: String,
    pub subject: Option<String>,
    pub topic_id: Option<String>,
    pub photo_url: Option<String>,
    pub welcome_messages: Option<String>,
    pub custom: String,
    pub created_at: i64,
    pub version: i64,
    pub last_message_seq: Option<i64>,
    pub last_activity: i64,
    pub activity_seq: Option<i64>,
    pub last_message_sender: Option<String>,
    /// JSON array of the participants' [`ParticipantRow`]s.
    pub participant_rows: String,
    /// JSON of the last message's [`MessageRow`].
    pub last_message: Option<String>,
}

/// A participant as read from its table; also the JSON form of a conversation's copy of its
/// participants (`conversations.participant_rows`).
#[derive(Debug, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = participants)]
pub(crate) struct ParticipantRow {
    pub user_id: String,
    pub access: String,
    pub notify: String,
    pub read_until: i64,
    /// Copies written before the read mark existed lack it: it is then read as `read_until`.
    #[serde(default)]
    pub read_mark: i64,
}

/// A new participation; its copy of the conversation's columns is filled in by
/// `sync_participants` (or set directly by the bulk import).
#[derive(Debug, Insertable)]
#[diesel(table_name = participants)]
pub(crate) struct NewParticipantRow {
    pub app_id: String,
    pub conversation_id: String,
    pub user_id: String,
    pub access: String,
    pub notify: String,
    pub read_until: i64,
    pub read_mark: i64,
    pub conv_created_at: i64,
    pub conv_last_activity: i64,
    pub conv_activity_seq: Option<i64>,
    pub conv_last_message_seq: Option<i64>,
    pub conv_last_message_sender: Option<String>,
}

/// A message as read from its table; also the JSON form of a conversation's copy of its last
/// message (`conversations.last_message`).
#[derive(Debug, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = messages)]
pub(crate) struct MessageRow {
    pub conversation_id: String,
    pub id: String,
    pub kind: String,
    pub sender_id: Option<String>,
    pub text: String,
    pub custom: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub referenced_message_id: Option<String>,
    pub version: i64,
    /// Copies written before origins were stored lack it: they were all sent through REST.
    #[serde(default = "rest_origin")]
    pub origin: String,
    /// JSON of the content blocks; `None` for messages stored before content existed.
    #[serde(default)]
    pub content: Option<String>,
    /// JSON of the reactions summary.
    #[serde(default = "no_reactions")]
    pub reactions: String,
}

fn no_reactions() -> String {
    "{}".to_owned()
}

pub(crate) fn encode_content(content: &[Block]) -> String {
    serde_json::to_string(content).unwrap_or_else(|_| "[]".into())
}

fn rest_origin() -> String {
    Origin::Rest.as_str().to_owned()
}

#[derive(Debug, Insertable)]
#[diesel(table_name = messages)]
pub(crate) struct NewMessageRow<'a> {
    pub seq: i64,
    pub app_id: &'a str,
    pub conversation_id: &'a str,
    pub id: &'a str,
    pub kind: &'a str,
    pub sender_id: Option<&'a str>,
    pub text: &'a str,
    pub custom: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub referenced_message_id: Option<&'a str>,
    pub origin: &'a str,
    pub content: String,
    /// JSON of the reactions summary (`{}` for a new message; set for restored ones).
    pub reactions: String,
    pub xid: i64,
}

fn corrupt(what: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(what.to_string())
}

pub(crate) fn encode_custom(custom: &BTreeMap<String, String>) -> String {
    serde_json::to_string(custom).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn encode_welcome(messages: &Option<Vec<String>>) -> Option<String> {
    messages
        .as_ref()
        .map(|m| serde_json::to_string(m).unwrap_or_else(|_| "[]".into()))
}

/// The JSON of `conversations.participant_rows` for these participants.
fn encode_participants(c: &Conversation) -> String {
    let rows: Vec<ParticipantRow> = c
        .participants
        .iter()
        .map(|(user, p)| ParticipantRow {
            user_id: user.as_str().to_owned(),
            access: p.access.as_str().to_owned(),
            notify: p.notify.as_str().to_owned(),
            read_until: p.read_until,
            read_mark: p.read_mark,
        })
        .collect();
    encode_participant_rows(&rows)
}

pub(crate) fn encode_participant_rows(rows: &[ParticipantRow]) -> String {
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".into())
}

impl ConversationRow {
    /// The row of a conversation that has no messages yet.
    pub fn new(app: &AppId, c: &Conversation, version: i64) -> Self {
        Self {
            app_id: app.as_str().to_owned(),
            id: c.id.as_str().to_owned(),
            subject: c.subject.clone(),
            topic_id: c.topic_id.clone(),
            photo_url: c.photo_url.clone(),
            welcome_messages: encode_welcome(&c.welcome_messages),
            custom: encode_custom(&c.custom),
            created_at: c.created_at,
            version,
            last_message_seq: None,
            last_activity: c.created_at,
            activity_seq: None,
            last_message_sender: None,
            participant_rows: encode_participants(c),
            last_message: None,
        }
    }

    /// The conversation with the version it was read at.
    pub fn into_versioned(self) -> Result<Versioned<Conversation>, DbError> {
        let version = self.version;
        Ok(Versioned {
            value: self.into_domain()?,
            version,
        })
    }

    pub fn into_domain(self) -> Result<Conversation, DbError> {
        let id = ConversationId::new(self.id).map_err(corrupt)?;
        let welcome_messages = match self.welcome_messages {
            Some(raw) => Some(serde_json::from_str(&raw).map_err(corrupt)?),
            None => None,
        };
        let custom = serde_json::from_str(&self.custom).map_err(corrupt)?;
        let parts: Vec<ParticipantRow> =
            serde_json::from_str(&self.participant_rows).map_err(corrupt)?;
        let mut participants = BTreeMap::new();
        for p in parts {
            let (user, participant) = p.into_domain()?;
            participants.insert(user, participant);
        }
        Ok(Conversation {
            id,
            subject: self.subject,
            topic_id: self.topic_id,
            photo_url: self.photo_url,
            welcome_messages,
            custom,
            participants,
            created_at: self.created_at,
            last_message: match self.last_message {
                Some(raw) => Some(
                    serde_json::from_str::<MessageRow>(&raw)
                        .map_err(corrupt)?
                        .into_domain()?,
                ),
                None => None,
            },
        })
    }
}

impl NewParticipantRow {
    pub fn new(app: &AppId, conversation: &ConversationId, user: &UserId, p: &Participant) -> Self {
        Self {
            app_id: app.as_str().to_owned(),
            conversation_id: conversation.as_str().to_owned(),
            user_id: user.as_str().to_owned(),
            access: p.access.as_str().to_owned(),
            notify: p.notify.as_str().to_owned(),
            read_until: p.read_until,
            read_mark: p.read_mark,
            conv_created_at: 0,
            conv_last_activity: 0,
            conv_activity_seq: None,
            conv_last_message_seq: None,
            conv_last_message_sender: None,
        }
    }
}

impl ParticipantRow {
    pub fn into_domain(self) -> Result<(UserId, Participant), DbError> {
        let user = UserId::new(self.user_id).map_err(corrupt)?;
        let access = Access::parse(&self.access).ok_or_else(|| corrupt(&self.access))?;
        let notify = Notify::parse(&self.notify).ok_or_else(|| corrupt(&self.notify))?;
        Ok((
            user,
            Participant {
                access,
                notify,
                read_until: self.read_until,
                read_mark: self.read_mark.max(self.read_until),
            },
        ))
    }
}

impl MessageRow {
    /// The row of a message as first stored (version 1).
    pub fn new(m: &Message) -> Self {
        Self {
            conversation_id: m.conversation_id.as_str().to_owned(),
            id: m.id.as_str().to_owned(),
            kind: m.kind.as_str().to_owned(),
            sender_id: m.sender.as_ref().map(|u| u.as_str().to_owned()),
            text: m.text.clone(),
            custom: encode_custom(&m.custom),
            created_at: m.created_at,
            edited_at: m.edited_at,
            referenced_message_id: m
                .referenced_message_id
                .as_ref()
                .map(|r| r.as_str().to_owned()),
            version: 1,
            origin: m.origin.as_str().to_owned(),
            content: Some(encode_content(&m.content)),
            reactions: serde_json::to_string(&m.reactions).unwrap_or_else(|_| no_reactions()),
        }
    }

    /// The JSON kept in `conversations.last_message`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn into_domain(self) -> Result<Message, DbError> {
        let content = match &self.content {
            Some(json) => serde_json::from_str(json).map_err(corrupt)?,
            None => vec![Block::plain(self.text.clone())],
        };
        Ok(Message {
            content,
            reactions: serde_json::from_str(&self.reactions).map_err(corrupt)?,
            id: MessageId::new(self.id).map_err(corrupt)?,
            conversation_id: ConversationId::new(self.conversation_id).map_err(corrupt)?,
            kind: MessageKind::parse(&self.kind).ok_or_else(|| corrupt(&self.kind))?,
            sender: self
                .sender_id
                .map(UserId::new)
                .transpose()
                .map_err(corrupt)?,
            text: self.text,
            custom: serde_json::from_str(&self.custom).map_err(corrupt)?,
            created_at: self.created_at,
            edited_at: self.edited_at,
            referenced_message_id: self
                .referenced_message_id
                .map(MessageId::new)
                .transpose()
                .map_err(corrupt)?,
            origin: Origin::parse(&self.origin).ok_or_else(|| corrupt(&self.origin))?,
        })
    }
}

impl<'a> NewMessageRow<'a> {
    /// The row of `m`, stored with these numbers (see `number_messages` of the backend).
    pub fn new(app: &'a AppId, m: &'a Message, seq: i64, xid: i64) -> Self {
        Self {
            seq,
            xid,
            app_id: app.as_str(),
            conversation_id: m.conversation_id.as_str(),
            id: m.id.as_str(),
            kind: m.kind.as_str(),
            sender_id: m.sender.as_ref().map(UserId::as_str),
            text: &m.text,
            custom: encode_custom(&m.custom),
            created_at: m.created_at,
            edited_at: m.edited_at,
            referenced_message_id: m.referenced_message_id.as_ref().map(MessageId::as_str),
            origin: m.origin.as_str(),
            content: encode_content(&m.content),
            reactions: serde_json::to_string(&m.reactions).unwrap_or_else(|_| no_reactions()),
        }
    }
}
