//! The legacy `participants={userIds}[;topic={topicId}]` conversations of TalkJS's old
//! `getOrStartConversation`: their ID is derived from the participants and the topic.

use sha1::{Digest, Sha1};

use crate::error::{Invalid, InvalidCode, Problems};
use crate::ids::{ConversationId, UserId, LEGACY_PREFIX};

/// A legacy conversation's identity: its participants (de-duplicated, in JavaScript's sort
/// order) and optional topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyKey {
    pub participants: Vec<UserId>,
    pub topic: Option<String>,
}

impl LegacyKey {
    /// De-duplicates and sorts the participants by UTF-16 code units, like JavaScript's `sort()`.
    pub fn new(mut participants: Vec<UserId>, topic: Option<String>) -> Self {
        participants.sort_by(|a, b| a.as_str().encode_utf16().cmp(b.as_str().encode_utf16()));
        participants.dedup();
        Self {
            participants,
            topic,
        }
    }

    /// Parses the raw path segment `participants=a,b;topic=t`: split on `;` and `,` first, each
    /// piece percent-decoded afterwards by `decode`.
    ///
    /// # Errors
    /// [`Invalid`] naming `conversationId` when the segment is malformed or an ID is invalid.
    pub fn parse_segment(
        raw: &str,
        decode: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Invalid> {
        let bad =
            |why: &str| Invalid::field(InvalidCode::InvalidId, "conversationId", why.to_string());
        let rest = raw
            .strip_prefix(LEGACY_PREFIX)
            .ok_or_else(|| bad("must start with participants="))?;
        let mut parts = rest.split(';');
        let users = parts.next().unwrap_or_default();
        let mut topic = None;
        for extra in parts {
            match extra.strip_prefix("topic=") {
                Some(t) if topic.is_none() => {
                    topic = Some(decode(t).ok_or_else(|| bad("the topic is not valid UTF-8"))?)
                }
                _ => return Err(bad("only `;topic=...` may follow the participants")),
            }
        }
        let mut problems = Problems::default();
        let mut ids = Vec::new();
        for (i, piece) in users.split(',').enumerate() {
            match decode(piece).map(UserId::new) {
                Some(Ok(id)) => ids.push(id),
                Some(Err(e)) => problems.invalid(format!("participants[{i}]"), e.to_string()),
                None => problems.invalid(format!("participants[{i}]"), "is not valid UTF-8"),
            }
        }
        problems.finish()?;
        if let Some(t) = &topic {
            if t.is_empty() {
                return Err(bad("the topic must not be empty"));
            }
            if t.contains('\0') {
                return Err(bad(crate::text::NUL_REASON));
            }
        }
        Ok(Self::new(ids, topic))
    }

    /// `JSON.stringify(sortedIds)`, or `JSON.stringify([sortedIds, topic])` with a topic.
    fn canonical_json(&self) -> String {
        let ids: Vec<&str> = self.participants.iter().map(UserId::as_str).collect();
        let json = match &self.topic {
            None => serde_json::to_string(&ids),
            Some(topic) => serde_json::to_string(&(ids, topic)),
        };
        json.unwrap_or_default()
    }

    /// The first 20 lowercase hex digits of the SHA-1 of the canonical JSON; for two users and
    /// no topic this is TalkJS's `Talk.oneOnOneId`.
    pub fn conversation_id(&self) -> ConversationId {
        let digest = Sha1::digest(self.canonical_json().as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        ConversationId::new(&hex[..20]).expect("20 hex digits are a valid conversation ID")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ids: &[&str], topic: Option<&str>) -> LegacyKey {
        LegacyKey::new(
            ids.iter().map(|i| UserId::new(*i).unwrap()).collect(),
            topic.map(str::to_string),
        )
    }

    fn decode(s: &str) -> Option<String> {
        percent_decode(s)
    }

    /// A minimal percent-decoder for the tests (the HTTP layer uses a crate).
    fn percent_decode(s: &str) -> Option<String> {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }

    #[test]
    fn two_users_give_talkjs_one_on_one_ids() {
        assert_eq!(
            key(&["a", "b"], None).conversation_id().as_str(),
            "d12e223825a919e00efd"
        );
        assert_eq!(
            key(&["b", "a"], None).conversation_id().as_str(),
            "d12e223825a919e00efd"
        );
        assert_eq!(
            key(&["123456", "654321"], None).conversation_id().as_str(),
            "7fcfae37bf41727cd5d6"
        );
    }

    #[test]
    fn a_topic_is_hashed_with_the_participants() {
        let with_topic = key(&["98", "42"], Some("612"));
        assert_eq!(with_topic.canonical_json(), r#"[["42","98"],"612"]"#);
        assert_eq!(
            with_topic.conversation_id().as_str(),
            "8cdc9d5b04bd970dd0e0"
        );
    }

    #[test]
    fn duplicates_are_dropped_and_order_is_that_of_javascript_sort() {
        let k = key(&["\u{1F600}", "\u{FFFF}", "a", "a"], None);
        // UTF-16: "a" (0x61) < U+1F600 (0xD83D...) < U+FFFF; bytewise UTF-8 would put U+FFFF
        // before U+1F600.
        assert_eq!(k.canonical_json(), "[\"a\",\"\u{1F600}\",\"\u{FFFF}\"]");
        assert_eq!(k.conversation_id().as_str(), "7c25f8ed210870cec512");
    }

    #[test]
    fn the_segment_is_split_before_it_is_decoded() {
        let k = LegacyKey::parse_segment("participants=a%2Cb,c%3Bd;topic=t%3B1", decode).unwrap();
        let ids: Vec<&str> = k.participants.iter().map(UserId::as_str).collect();
        assert_eq!(ids, ["a,b", "c;d"]);
        assert_eq!(k.topic.as_deref(), Some("t;1"));
    }

    #[test]
    fn malformed_segments_are_refused() {
        for raw in [
            "participants=",
            "participants=a,,b",
            "participants=a;color=red",
            "participants=a;topic=x;topic=y",
            "participants=a;topic=",
            "participants=%FF",
        ] {
            assert!(LegacyKey::parse_segment(raw, decode).is_err(), "{raw}");
        }
    }
}
