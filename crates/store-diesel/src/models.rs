//! Rows as diesel reads and writes them, and their conversion to and from the domain.

use std::collections::BTreeMap;

use diesel::prelude::*;
use parley_domain::{Access, AppId, Conversation, ConversationId, Notify, Participant, UserId};

use crate::error::DbError;
use crate::schema::{conversations, participants};

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
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = participants)]
pub(crate) struct ParticipantRow {
    pub app_id: String,
    pub conversation_id: String,
    pub user_id: String,
    pub access: String,
    pub notify: String,
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

impl ConversationRow {
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
        }
    }

    pub fn into_domain(self, parts: Vec<ParticipantRow>) -> Result<Conversation, DbError> {
        let id = ConversationId::new(self.id).map_err(corrupt)?;
        let welcome_messages = match self.welcome_messages {
            Some(raw) => Some(serde_json::from_str(&raw).map_err(corrupt)?),
            None => None,
        };
        let custom = serde_json::from_str(&self.custom).map_err(corrupt)?;
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
        })
    }
}

impl ParticipantRow {
    pub fn new(app: &AppId, conversation: &ConversationId, user: &UserId, p: &Participant) -> Self {
        Self {
            app_id: app.as_str().to_owned(),
            conversation_id: conversation.as_str().to_owned(),
            user_id: user.as_str().to_owned(),
            access: p.access.as_str().to_owned(),
            notify: p.notify.as_str().to_owned(),
        }
    }

    fn into_domain(self) -> Result<(UserId, Participant), DbError> {
        let user = UserId::new(self.user_id).map_err(corrupt)?;
        let access = Access::parse(&self.access).ok_or_else(|| corrupt(&self.access))?;
        let notify = Notify::parse(&self.notify).ok_or_else(|| corrupt(&self.notify))?;
        Ok((user, Participant { access, notify }))
    }
}
