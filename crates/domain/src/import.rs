//! Importing history: messages with their original times (TalkJS's import endpoint).
//!
//! An import differs from a send in four ways: the time comes from the item, a sender may have
//! any access (history may outlive access), `readBy` moves the named participants' `readUntil`
//! forward, and idempotency keys are kept without expiry, so that an interrupted import can
//! simply be run again. Imported messages have `origin: "import"` and produce no events.

use std::collections::BTreeMap;

use crate::conversation::Conversation;
use crate::error::{Invalid, Problems};
use crate::ids::UserId;
use crate::limits::Limits;
use crate::message::{GivenContent, Message, MessageKind, MessageRecord};

/// One item of an import request, already type-checked by the wire layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportItem {
    pub kind: MessageKind,
    pub sender: Option<UserId>,
    /// The `text` form (then `content` is `None`), or the plain text of `content`.
    pub text: String,
    pub content: Option<GivenContent>,
    pub custom: BTreeMap<String, String>,
    /// The message's original time (Unix ms).
    pub created_at: i64,
    /// Participants who have read it.
    pub read_by: Vec<UserId>,
    pub idempotency_key: Option<String>,
}

/// A message to import: the record to store and whose `readUntil` it moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub record: MessageRecord,
    pub read_by: Vec<UserId>,
}

impl ImportRecord {
    pub fn message(&self) -> &Message {
        &self.record.message
    }
}

/// How far in the future (of the server's clock) an imported message may be: clock skew between
/// the source system and this one. A later time (seconds or microseconds mistaken for
/// milliseconds, `i64::MAX`) would date every message sent after it.
pub const MAX_FUTURE_MS: i64 = 60 * 60 * 1000;

impl Limits {
    /// Checks an import request against the conversation: count, senders (participants with any
    /// access), `readBy` (participants), text and custom limits. Reasons are keyed by item
    /// index (`[3].sender`).
    ///
    /// # Errors
    /// [`Invalid`] naming every bad item.
    pub fn check_import(
        &self,
        conversation: &Conversation,
        items: &[ImportItem],
        now: i64,
    ) -> Result<(), Invalid> {
        let mut problems = Problems::default();
        if items.is_empty() {
            problems.invalid("(body)", "must contain at least one message");
        }
        if items.len() > self.messages_per_import {
            problems.over_limit(
                "(body)",
                format!("at most {} messages per import", self.messages_per_import),
            );
        }
        let on_record = |user: &UserId| conversation.participants.contains_key(user);
        for (i, item) in items.iter().enumerate() {
            match (item.kind, &item.sender) {
                (MessageKind::User, None) => {
                    problems.invalid(format!("[{i}].sender"), "a UserMessage needs a sender")
                }
                (MessageKind::User, Some(sender)) if !on_record(sender) => problems.invalid(
                    format!("[{i}].sender"),
                    format!("{sender} is not a participant of this conversation"),
                ),
                (MessageKind::System, Some(_)) => {
                    problems.invalid(format!("[{i}].sender"), "a SystemMessage has no sender")
                }
                _ => {}
            }
            if item.created_at < 0 {
                problems.invalid(
                    format!("[{i}].timestamp"),
                    "must be a Unix time in milliseconds, not before 1970",
                );
            }
            if item.created_at > now.saturating_add(MAX_FUTURE_MS) {
                problems.invalid(
                    format!("[{i}].timestamp"),
                    "is more than an hour in the future: a Unix time in milliseconds is expected",
                );
            }
            for (j, reader) in item.read_by.iter().enumerate() {
                if !on_record(reader) {
                    problems.invalid(
                        format!("[{i}].readBy[{j}]"),
                        format!("{reader} is not a participant of this conversation"),
                    );
                }
            }
            self.check_item_body(
                &mut problems,
                i,
                (&item.text, item.content.as_ref()),
                item.idempotency_key.as_deref(),
                &item.custom,
            );
        }
        problems.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Access, Participant};
    use crate::error::InvalidCode;
    use crate::ids::ConversationId;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn times_far_in_the_future_are_refused() {
        let mut soon = item("writer");
        soon.created_at = NOW + 59 * 60 * 1000;
        let mut micros = item("writer");
        micros.created_at = NOW * 1000;
        let err = Limits::default()
            .check_import(&conversation(), &[soon, micros], NOW)
            .unwrap_err();
        assert!(!err.reasons.contains_key("[0].timestamp"), "{err:?}");
        assert!(err.reasons.contains_key("[1].timestamp"), "{err:?}");
    }

    fn uid(raw: &str) -> UserId {
        UserId::new(raw).unwrap()
    }

    fn conversation() -> Conversation {
        let mut c = Conversation::new(ConversationId::new("c").unwrap(), 0);
        c.participants.insert(uid("writer"), Participant::joined(0));
        c.participants.insert(
            uid("gone"),
            Participant {
                access: Access::None,
                ..Participant::joined(0)
            },
        );
        c
    }

    fn item(sender: &str) -> ImportItem {
        ImportItem {
            kind: MessageKind::User,
            sender: Some(uid(sender)),
            text: "old".into(),
            content: None,
            custom: BTreeMap::new(),
            created_at: 1_509_132_622_706,
            read_by: Vec::new(),
            idempotency_key: None,
        }
    }

    #[test]
    fn a_sender_with_access_none_may_appear_in_history() {
        let limits = Limits::default();
        assert!(limits
            .check_import(&conversation(), &[item("writer"), item("gone")], NOW)
            .is_ok());
    }

    #[test]
    fn strangers_as_sender_or_reader_are_named_by_index() {
        let mut read = item("writer");
        read.read_by = vec![uid("writer"), uid("stranger")];
        let err = Limits::default()
            .check_import(&conversation(), &[item("stranger"), read], NOW)
            .unwrap_err();
        assert!(err.reasons.contains_key("[0].sender"), "{err:?}");
        assert!(err.reasons.contains_key("[1].readBy[1]"), "{err:?}");
        assert!(!err.reasons.contains_key("[1].readBy[0]"), "{err:?}");
    }

    #[test]
    fn the_import_limit_is_its_own() {
        let limits = Limits {
            messages_per_import: 2,
            ..Limits::default()
        };
        let items = vec![item("writer"); 3];
        let err = limits
            .check_import(&conversation(), &items, NOW)
            .unwrap_err();
        assert_eq!(err.code, InvalidCode::LimitExceeded);
        assert!(limits
            .check_import(&conversation(), &items[..2], NOW)
            .is_ok());
        // More than a send allows is fine for an import.
        assert!(Limits::default()
            .check_import(&conversation(), &vec![item("writer"); 100], NOW)
            .is_ok());
    }

    #[test]
    fn system_messages_have_no_sender_and_times_are_not_negative() {
        let mut system = item("writer");
        system.kind = MessageKind::System;
        let mut early = item("writer");
        early.created_at = -1;
        let err = Limits::default()
            .check_import(&conversation(), &[system, early], NOW)
            .unwrap_err();
        assert!(err.reasons.contains_key("[0].sender"));
        assert!(err.reasons.contains_key("[1].timestamp"));
    }
}
