//! Wire DTOs: the JSON of requests turned into domain inputs (with a reason per bad field), and
//! domain values turned into the JSON of responses.

use std::collections::BTreeMap;

use parley_domain::error::Problems;
use parley_domain::{
    Conversation, ConversationId, ConversationPatch, CustomPatch, Field, Invalid, Notify, UserId,
};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

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
fn string_items(problems: &mut Problems, name: &str, value: Value) -> Option<Vec<(usize, String)>> {
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

struct NotifyView(Notify);

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
struct ParticipantView {
    access: &'static str,
    notify: NotifyView,
    is_unread: bool,
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
    last_message: Option<()>,
    created_at: i64,
}

impl<'a> From<&'a Conversation> for ConversationView<'a> {
    fn from(c: &'a Conversation) -> Self {
        Self {
            id: c.id.as_str(),
            subject: c.subject.as_deref(),
            topic_id: c.topic_id.as_deref(),
            photo_url: c.photo_url.as_deref(),
            welcome_messages: c.welcome_messages.as_deref(),
            custom: &c.custom,
            participants: c
                .participants
                .iter()
                .map(|(user, p)| {
                    (
                        user.as_str(),
                        ParticipantView {
                            access: p.access.as_str(),
                            notify: NotifyView(p.notify),
                            // No messages exist yet, so nothing can be unread.
                            is_unread: false,
                        },
                    )
                })
                .collect(),
            last_message: None,
            created_at: c.created_at,
        }
    }
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
