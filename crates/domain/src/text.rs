//! Rules for every string Parley stores, whichever backend stores it.

use crate::error::Problems;

/// Why a string with U+0000 is refused: PostgreSQL's `text` cannot hold it, and a string that one
/// backend stores and another refuses would make a backend choice visible to clients.
pub const NUL_REASON: &str = "must not contain the character U+0000";

/// Names `path` in `problems` when `value` contains U+0000.
pub(crate) fn check_text(problems: &mut Problems, path: impl FnOnce() -> String, value: &str) {
    if value.contains('\0') {
        problems.invalid(path(), NUL_REASON);
    }
}

/// [`check_text`] for each item of a list, named `path[i]`.
pub(crate) fn check_texts(problems: &mut Problems, path: &str, values: &[String]) {
    for (i, value) in values.iter().enumerate() {
        check_text(problems, || format!("{path}[{i}]"), value);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::conversation::{ConversationPatch, CustomPatch, Field};
    use crate::error::InvalidCode;
    use crate::legacy::LegacyKey;
    use crate::limits::Limits;
    use crate::message::{MessageKind, MessagePatch, NewMessage};
    use crate::user::UserPatch;
    use crate::{Conversation, ConversationId};

    const NUL: &str = "a\0b";

    fn reasons(result: Result<(), crate::Invalid>) -> Vec<String> {
        let invalid = result.expect_err("refused");
        assert_eq!(invalid.code, InvalidCode::InvalidField);
        invalid.reasons.into_keys().collect()
    }

    #[test]
    fn nul_is_refused_in_every_conversation_string() {
        let patch = ConversationPatch {
            subject: Field::Set(NUL.into()),
            photo_url: Field::Set(NUL.into()),
            welcome_messages: Field::Set(vec!["ok".into(), NUL.into()]),
            custom: Some(CustomPatch::Merge(BTreeMap::from([
                ("k".into(), Some(NUL.into())),
                (NUL.into(), None),
            ]))),
            ..ConversationPatch::default()
        };
        assert_eq!(
            reasons(Limits::default().check_patch(&patch)),
            [
                "custom.a\\u0000b",
                "custom.k",
                "photoUrl",
                "subject",
                "welcomeMessages[1]"
            ]
        );
    }

    #[test]
    fn nul_is_refused_in_every_user_string() {
        let text = || Field::Set(NUL.to_string());
        let patch = UserPatch {
            name: text(),
            email: Field::Set(vec![NUL.into()]),
            phone: Field::Set(vec!["1".into(), NUL.into()]),
            photo_url: text(),
            welcome_message: text(),
            role: text(),
            locale: text(),
            availability_text: text(),
            ..UserPatch::default()
        };
        assert_eq!(
            reasons(Limits::default().check_user_patch(&patch)),
            [
                "availabilityText",
                "email[0]",
                "locale",
                "name",
                "phone[1]",
                "photoUrl",
                "role",
                "welcomeMessage"
            ]
        );
    }

    #[test]
    fn nul_is_refused_in_message_texts_custom_and_idempotency_keys() {
        let conversation = Conversation::new(ConversationId::new("c").unwrap(), 0);
        let item = NewMessage {
            content: None,
            kind: MessageKind::System,
            sender: None,
            text: NUL.into(),
            custom: BTreeMap::from([("k".into(), NUL.into())]),
            referenced_message_id: None,
            idempotency_key: Some(NUL.into()),
        };
        assert_eq!(
            reasons(Limits::default().check_send(&conversation, &[item])),
            ["[0].custom.k", "[0].idempotencyKey", "[0].text"]
        );
        let edit = MessagePatch {
            content: None,
            text: Some(NUL.into()),
            custom: None,
        };
        assert_eq!(
            reasons(Limits::default().check_message_patch(&edit)),
            ["text"]
        );
    }

    #[test]
    fn nul_is_refused_in_a_legacy_topic_and_in_ids() {
        let err = LegacyKey::parse_segment("participants=a,b;topic=a\0b", |s| Some(s.into()))
            .expect_err("refused");
        assert!(err.message.contains("U+0000"), "{err}");
        assert!(crate::UserId::new(NUL).is_err());
        assert!(ConversationId::new(NUL).is_err());
    }
}
