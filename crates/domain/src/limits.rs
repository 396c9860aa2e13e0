//! The configurable limits on sizes and counts, and the validation that enforces them.

use crate::conversation::{Conversation, ConversationPatch, CustomPatch, Field};
use std::collections::BTreeMap;

use crate::error::{Invalid, Problems};
use crate::text::{check_text, check_texts};

/// Size and count limits. The defaults are those of API.md. Read from the `[limits]` section of
/// the configuration as is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub participants_per_conversation: usize,
    pub custom_keys: usize,
    pub custom_key_bytes: usize,
    pub custom_value_bytes: usize,
    pub subject_bytes: usize,
    pub welcome_messages: usize,
    pub body_bytes: usize,
    pub messages_per_request: usize,
    pub messages_per_import: usize,
    pub content_blocks: usize,
    pub reactions_per_message: usize,
    pub file_bytes: u64,
    pub users_per_batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            participants_per_conversation: 300,
            custom_keys: 100,
            custom_key_bytes: 255,
            custom_value_bytes: 10_000,
            subject_bytes: 10_000,
            welcome_messages: 20,
            body_bytes: 1024 * 1024,
            messages_per_request: 10,
            messages_per_import: 100,
            content_blocks: 10,
            reactions_per_message: 50,
            file_bytes: 25 * 1024 * 1024,
            users_per_batch: 100,
        }
    }
}

impl Limits {
    /// Checks what a PUT body asks for on its own, before it is merged.
    ///
    /// # Errors
    /// [`Invalid`] naming every field over a limit.
    pub fn check_patch(&self, patch: &ConversationPatch) -> Result<(), Invalid> {
        let mut problems = Problems::default();
        let distinct: std::collections::BTreeSet<_> = patch.participants.iter().collect();
        if distinct.len() > self.participants_per_conversation {
            problems.over_limit(
                "participants",
                format!(
                    "at most {} participants per conversation",
                    self.participants_per_conversation
                ),
            );
        }
        if let Field::Set(subject) = &patch.subject {
            if subject.len() > self.subject_bytes {
                problems.over_limit("subject", format!("at most {} bytes", self.subject_bytes));
            }
            check_text(&mut problems, || "subject".into(), subject);
        }
        if let Field::Set(url) = &patch.photo_url {
            check_text(&mut problems, || "photoUrl".into(), url);
        }
        if let Field::Set(messages) = &patch.welcome_messages {
            check_texts(&mut problems, "welcomeMessages", messages);
            if messages.len() > self.welcome_messages {
                problems.over_limit(
                    "welcomeMessages",
                    format!("at most {} welcome messages", self.welcome_messages),
                );
            }
        }
        if let Some(CustomPatch::Merge(changes)) = &patch.custom {
            self.check_custom_changes(&mut problems, "custom", changes);
        }
        problems.finish()
    }

    /// Checks the keys and values of a `custom` object (or the changes to one) found at `path`.
    pub(crate) fn check_custom_changes(
        &self,
        problems: &mut Problems,
        path: &str,
        changes: &BTreeMap<String, Option<String>>,
    ) {
        // Deletions do not count: the merged object is checked again as a whole.
        if changes.values().filter(|v| v.is_some()).count() > self.custom_keys {
            problems.over_limit(path, format!("at most {} keys", self.custom_keys));
        }
        for (key, value) in changes {
            check_text(
                problems,
                || format!("{path}.{}", key.replace('\0', "\\u0000")),
                key,
            );
            if let Some(value) = value {
                check_text(problems, || format!("{path}.{key}"), value);
            }
            if key.len() > self.custom_key_bytes {
                let shown: String = key.chars().take(32).collect();
                problems.over_limit(
                    format!("{path}.{shown}"),
                    format!("keys are at most {} bytes", self.custom_key_bytes),
                );
            } else if value
                .as_ref()
                .is_some_and(|v| v.len() > self.custom_value_bytes)
            {
                problems.over_limit(
                    format!("{path}.{key}"),
                    format!("values are at most {} bytes", self.custom_value_bytes),
                );
            }
        }
    }

    /// Checks a conversation after a merge: counts that only the merged whole can exceed.
    ///
    /// # Errors
    /// [`Invalid`] naming the exceeded limit.
    pub fn check_conversation(&self, conversation: &Conversation) -> Result<(), Invalid> {
        let mut problems = Problems::default();
        if conversation.participants.len() > self.participants_per_conversation {
            problems.over_limit(
                "participants",
                format!(
                    "at most {} participants per conversation (this change would make {})",
                    self.participants_per_conversation,
                    conversation.participants.len()
                ),
            );
        }
        if conversation.custom.len() > self.custom_keys {
            problems.over_limit(
                "custom",
                format!(
                    "at most {} keys (this change would make {})",
                    self.custom_keys,
                    conversation.custom.len()
                ),
            );
        }
        problems.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InvalidCode;
    use crate::ids::{ConversationId, UserId};

    fn users(n: usize) -> Vec<UserId> {
        (0..n)
            .map(|i| UserId::new(format!("u{i}")).unwrap())
            .collect()
    }

    fn custom_patch(n: usize) -> Option<CustomPatch> {
        Some(CustomPatch::Merge(
            (0..n)
                .map(|i| (format!("k{i}"), Some("v".into())))
                .collect(),
        ))
    }

    fn reason(err: Invalid, path: &str) -> String {
        assert_eq!(err.code, InvalidCode::LimitExceeded);
        err.reasons.get(path).cloned().unwrap_or_else(|| {
            panic!("no reason for {path}: {:?}", err.reasons);
        })
    }

    #[test]
    fn defaults_are_those_of_the_contract() {
        let l = Limits::default();
        assert_eq!(l.participants_per_conversation, 300);
        assert_eq!(l.custom_keys, 100);
        assert_eq!(l.custom_key_bytes, 255);
        assert_eq!(l.custom_value_bytes, 10_000);
        assert_eq!(l.subject_bytes, 10_000);
        assert_eq!(l.welcome_messages, 20);
        assert_eq!(l.body_bytes, 1_048_576);
        assert_eq!(l.messages_per_request, 10);
        assert_eq!(l.users_per_batch, 100);
    }

    #[test]
    fn patches_at_the_limits_pass() {
        let l = Limits::default();
        let patch = ConversationPatch {
            participants: users(300),
            subject: Field::Set("s".repeat(10_000)),
            welcome_messages: Field::Set(vec!["w".into(); 20]),
            custom: Some(CustomPatch::Merge(BTreeMap::from([(
                "k".repeat(255),
                Some("v".repeat(10_000)),
            )]))),
            ..Default::default()
        };
        assert_eq!(l.check_patch(&patch), Ok(()));
        assert_eq!(
            l.check_patch(&ConversationPatch {
                custom: custom_patch(100),
                ..Default::default()
            }),
            Ok(())
        );
    }

    #[test]
    fn each_limit_is_named_when_exceeded() {
        let l = Limits::default();
        let over = |patch: ConversationPatch| l.check_patch(&patch).unwrap_err();
        reason(
            over(ConversationPatch {
                participants: users(301),
                ..Default::default()
            }),
            "participants",
        );
        reason(
            over(ConversationPatch {
                subject: Field::Set("s".repeat(10_001)),
                ..Default::default()
            }),
            "subject",
        );
        reason(
            over(ConversationPatch {
                welcome_messages: Field::Set(vec!["w".into(); 21]),
                ..Default::default()
            }),
            "welcomeMessages",
        );
        reason(
            over(ConversationPatch {
                custom: custom_patch(101),
                ..Default::default()
            }),
            "custom",
        );
        let long_key = "k".repeat(256);
        reason(
            over(ConversationPatch {
                custom: Some(CustomPatch::Merge(BTreeMap::from([(
                    long_key.clone(),
                    Some("v".into()),
                )]))),
                ..Default::default()
            }),
            &format!("custom.{}", &long_key[..32]),
        );
        reason(
            over(ConversationPatch {
                custom: Some(CustomPatch::Merge(BTreeMap::from([(
                    "color".into(),
                    Some("v".repeat(10_001)),
                )]))),
                ..Default::default()
            }),
            "custom.color",
        );
    }

    #[test]
    fn limits_are_configurable() {
        let l = Limits {
            participants_per_conversation: 2,
            ..Default::default()
        };
        assert!(l
            .check_patch(&ConversationPatch {
                participants: users(3),
                ..Default::default()
            })
            .is_err());
    }

    #[test]
    fn merged_conversation_is_checked_against_the_counts() {
        let l = Limits {
            participants_per_conversation: 2,
            custom_keys: 1,
            ..Default::default()
        };
        let mut c = Conversation::new(ConversationId::new("c").unwrap(), 0);
        c.apply(
            &ConversationPatch {
                participants: users(2),
                custom: custom_patch(1),
                ..Default::default()
            },
            0,
        );
        assert_eq!(l.check_conversation(&c), Ok(()));
        c.apply(
            &ConversationPatch {
                participants: vec![UserId::new("extra").unwrap()],
                custom: custom_patch(2),
                ..Default::default()
            },
            0,
        );
        let err = l.check_conversation(&c).unwrap_err();
        assert!(err.reasons.contains_key("participants"));
        assert!(err.reasons.contains_key("custom"));
    }
}
