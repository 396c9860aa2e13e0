//! Messages: the entity, what a send and an edit ask for, and their rules.

use std::collections::BTreeMap;
use std::fmt;

use rand::rngs::OsRng;
use rand::RngCore;

use crate::content::{plain_text, Block};
use crate::conversation::{Access, Conversation, CustomPatch};
use crate::error::{Invalid, Problems};
use crate::ids::{check_id, ConversationId, IdError, UserId};
use crate::limits::Limits;
use crate::text::check_text;

/// How long an idempotency key is remembered, in milliseconds.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// A message's ID: `msg_` and 22 base62 characters when generated here.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(String);

/// `len` base62 characters from one read (or a few) of the operating system's cryptographically
/// secure random source, mapped without bias (bytes of 248 and above are skipped).
pub(crate) fn random_base62(len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut bytes = [0_u8; 48];
        OsRng.fill_bytes(&mut bytes);
        for b in bytes.into_iter().filter(|b| *b < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(b % 62)]));
        }
    }
    out
}

/// `value` as exactly `width` base62 digits (most significant first; the high digits of a
/// larger value are dropped).
fn base62_fixed(mut value: u64, width: usize) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[usize::try_from(value % 62).unwrap_or(0)];
        value /= 62;
    }
    String::from_utf8(digits).unwrap_or_default()
}

impl MessageId {
    /// A fresh ID: `msg_`, 8 base62 digits of the current Unix time in milliseconds, then 14
    /// characters (about 83 bits) from the operating system's cryptographically secure random
    /// source. The time prefix makes IDs generated close together neighbours in the ID index, so
    /// that a write of many messages touches a few index pages instead of one per message.
    pub fn generate() -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self(format!(
            "msg_{}{}",
            base62_fixed(now_ms, 8),
            random_base62(14)
        ))
    }

    /// Any string that is a valid ID (lookups of IDs that were never generated simply find
    /// nothing).
    ///
    /// # Errors
    /// [`IdError`] when `raw` breaks the general ID rules.
    pub fn new(raw: impl Into<String>) -> Result<Self, IdError> {
        let raw = raw.into();
        check_id(&raw)?;
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({:?})", self.0)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `UserMessage` (has a sender) or `SystemMessage` (has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    User,
    System,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::User => "UserMessage",
            MessageKind::System => "SystemMessage",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "UserMessage" => Some(MessageKind::User),
            "SystemMessage" => Some(MessageKind::System),
            _ => None,
        }
    }
}

/// Where a message came from (TalkJS's `origin`): sent through the REST API, brought in by an
/// import, or (in data migrated from TalkJS) sent from a browser or by email reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    #[default]
    Rest,
    Import,
    Web,
    Email,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Rest => "rest",
            Origin::Import => "import",
            Origin::Web => "web",
            Origin::Email => "email",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "rest" => Some(Origin::Rest),
            "import" => Some(Origin::Import),
            "web" => Some(Origin::Web),
            "email" => Some(Origin::Email),
            _ => None,
        }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub kind: MessageKind,
    pub sender: Option<UserId>,
    pub text: String,
    pub custom: BTreeMap<String, String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub referenced_message_id: Option<MessageId>,
    pub origin: Origin,
    /// The content blocks; `text` is their plain text.
    pub content: Vec<Block>,
    /// Per emoji (fully qualified, or `:custom:`): how many reacted and when the first did.
    pub reactions: BTreeMap<String, ReactionSummary>,
}

/// One emoji's reactions on a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionSummary {
    pub count: u64,
    pub created_at: i64,
}

/// Which request field carried a message's content (for the paths of reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentField {
    Content,
    AttachmentToken,
    Location,
}

/// Content given as blocks (`content`), or by one of the legacy fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenContent {
    pub blocks: Vec<Block>,
    pub field: ContentField,
}

impl GivenContent {
    /// Where the problem with the file token of block `j` of item `prefix` is reported.
    pub fn token_path(&self, prefix: &str, j: usize) -> String {
        match self.field {
            ContentField::AttachmentToken => format!("{prefix}attachmentToken"),
            _ => format!("{prefix}content[{j}].fileToken"),
        }
    }
}

/// One item of a send request, already type-checked by the wire layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub kind: MessageKind,
    pub sender: Option<UserId>,
    /// The `text` form (then `content` is `None`), or the plain text of `content`.
    pub text: String,
    /// Content given as blocks or a legacy field instead of `text`.
    pub content: Option<GivenContent>,
    pub custom: BTreeMap<String, String>,
    pub referenced_message_id: Option<MessageId>,
    pub idempotency_key: Option<String>,
}

impl NewMessage {
    /// The blocks the message is stored with.
    pub fn blocks(&self) -> Vec<Block> {
        match &self.content {
            Some(given) => given.blocks.clone(),
            None => vec![Block::plain(self.text.clone())],
        }
    }
}

/// A message to store: the new message with its ID and time assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub message: Message,
    pub idempotency_key: Option<String>,
}

/// What an edit asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessagePatch {
    pub text: Option<String>,
    /// `content` in place of `text` (file tokens already resolved by the service).
    pub content: Option<GivenContent>,
    pub custom: Option<CustomPatch>,
}

impl Message {
    /// Applies an edit: `text` (or `content`) replaces, `custom` merges like a conversation's,
    /// `editedAt` is set.
    pub fn apply(&mut self, patch: &MessagePatch, now: i64) {
        if let Some(text) = &patch.text {
            self.text = text.clone();
            self.content = vec![Block::plain(text.clone())];
        }
        if let Some(given) = &patch.content {
            self.content = given.blocks.clone();
            self.text = plain_text(&self.content);
        }
        if let Some(custom) = &patch.custom {
            custom.apply_to(&mut self.custom);
        }
        self.edited_at = Some(now);
    }
}

impl Limits {
    /// Checks a send request against the conversation: count, senders and their access, custom
    /// limits. Reasons are keyed by item index (`[3].sender`).
    ///
    /// # Errors
    /// [`Invalid`] naming every bad item.
    pub fn check_send(
        &self,
        conversation: &Conversation,
        items: &[NewMessage],
    ) -> Result<(), Invalid> {
        let mut problems = Problems::default();
        if items.is_empty() {
            problems.invalid("(body)", "must contain at least one message");
        }
        if items.len() > self.messages_per_request {
            problems.over_limit(
                "(body)",
                format!("at most {} messages per request", self.messages_per_request),
            );
        }
        for (i, item) in items.iter().enumerate() {
            match (item.kind, &item.sender) {
                (MessageKind::User, None) => {
                    problems.invalid(format!("[{i}].sender"), "a UserMessage needs a sender")
                }
                (MessageKind::User, Some(sender)) => match conversation.participants.get(sender) {
                    // Read participants may send with the app's credentials (TalkJS lets them);
                    // only None refuses.
                    Some(p) if p.access != Access::None => {}
                    Some(p) => problems.invalid(
                        format!("[{i}].sender"),
                        format!(
                            "{sender} may not send: their access is {}",
                            p.access.as_str()
                        ),
                    ),
                    None => problems.invalid(
                        format!("[{i}].sender"),
                        format!("{sender} is not a participant of this conversation"),
                    ),
                },
                (MessageKind::System, Some(_)) => {
                    problems.invalid(format!("[{i}].sender"), "a SystemMessage has no sender")
                }
                (MessageKind::System, None) => {}
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

    /// What a send and an import item share: the text (not empty in the `text` form) or the
    /// content's block count, no NUL, the idempotency key, the custom limits.
    pub(crate) fn check_item_body(
        &self,
        problems: &mut Problems,
        i: usize,
        (text, content): (&str, Option<&GivenContent>),
        idempotency_key: Option<&str>,
        custom: &BTreeMap<String, String>,
    ) {
        if content.is_none() && text.is_empty() {
            problems.invalid(format!("[{i}].text"), "must not be empty");
        }
        if let Some(given) = content {
            self.check_blocks(problems, &format!("[{i}]."), given);
        }
        check_text(problems, || format!("[{i}].text"), text);
        if let Some(key) = idempotency_key {
            check_text(problems, || format!("[{i}].idempotencyKey"), key);
        }
        self.check_custom(problems, &format!("[{i}].custom"), custom);
    }

    /// The number of content blocks.
    pub(crate) fn check_blocks(&self, problems: &mut Problems, prefix: &str, given: &GivenContent) {
        if given.blocks.len() > self.content_blocks {
            problems.over_limit(
                format!("{prefix}content"),
                format!("at most {} content blocks per message", self.content_blocks),
            );
        }
    }

    /// Checks an edit.
    ///
    /// # Errors
    /// [`Invalid`] naming every bad field.
    pub fn check_message_patch(&self, patch: &MessagePatch) -> Result<(), Invalid> {
        let mut problems = Problems::default();
        if let Some(given) = &patch.content {
            self.check_blocks(&mut problems, "", given);
        }
        if let Some(text) = &patch.text {
            if text.is_empty() {
                problems.invalid("text", "must not be empty");
            }
            check_text(&mut problems, || "text".into(), text);
        }
        if let Some(CustomPatch::Merge(changes)) = &patch.custom {
            self.check_custom_changes(&mut problems, "custom", changes);
        }
        problems.finish()
    }

    /// Checks a message after an edit: the number of custom keys.
    ///
    /// # Errors
    /// [`Invalid`] when the merged custom object has too many keys.
    pub fn check_message(&self, message: &Message) -> Result<(), Invalid> {
        let mut problems = Problems::default();
        if message.custom.len() > self.custom_keys {
            problems.over_limit("custom", format!("at most {} keys", self.custom_keys));
        }
        problems.finish()
    }

    pub(crate) fn check_custom(
        &self,
        problems: &mut Problems,
        path: &str,
        custom: &BTreeMap<String, String>,
    ) {
        let as_changes: BTreeMap<String, Option<String>> = custom
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        self.check_custom_changes(problems, path, &as_changes);
    }
}

impl Conversation {
    /// The participants other than the sender whose `readUntil` is at or after the message.
    pub fn read_by(&self, message: &Message) -> Vec<&UserId> {
        self.participants
            .iter()
            .filter(|(user, p)| {
                Some(*user) != message.sender.as_ref()
                    && p.access != Access::None
                    && p.read_until >= message.created_at
            })
            .map(|(user, _)| user)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Participant;
    use crate::error::InvalidCode;

    fn uid(raw: &str) -> UserId {
        UserId::new(raw).unwrap()
    }

    fn conversation() -> Conversation {
        let mut c = Conversation::new(ConversationId::new("c").unwrap(), 0);
        c.participants.insert(uid("writer"), Participant::joined(0));
        c.participants.insert(
            uid("reader"),
            Participant {
                access: Access::Read,
                ..Participant::joined(0)
            },
        );
        c.participants.insert(
            uid("hidden"),
            Participant {
                access: Access::None,
                ..Participant::joined(0)
            },
        );
        c
    }

    fn user_message(sender: &str) -> NewMessage {
        NewMessage {
            content: None,
            kind: MessageKind::User,
            sender: Some(uid(sender)),
            text: "hi".into(),
            custom: BTreeMap::new(),
            referenced_message_id: None,
            idempotency_key: None,
        }
    }

    fn system_message() -> NewMessage {
        NewMessage {
            kind: MessageKind::System,
            sender: None,
            ..user_message("writer")
        }
    }

    #[test]
    fn generated_ids_are_msg_and_22_base62_characters() {
        let a = MessageId::generate();
        let b = MessageId::generate();
        assert_ne!(a, b);
        let tail = a.as_str().strip_prefix("msg_").unwrap();
        assert_eq!(tail.len(), 22);
        assert!(tail.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn generated_ids_use_the_whole_base62_alphabet() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.extend(MessageId::generate().as_str()[12..].chars());
        }
        assert_eq!(seen.len(), 62, "{seen:?}");
    }

    #[test]
    fn generated_ids_start_with_their_time_so_later_ones_sort_after() {
        assert_eq!(base62_fixed(0, 8), "00000000");
        assert_eq!(base62_fixed(61, 3), "00z");
        assert_eq!(base62_fixed(62, 3), "010");
        let a = MessageId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = MessageId::generate();
        assert!(a.as_str()[..12] < b.as_str()[..12], "{a} {b}");
        // 2026 in milliseconds needs 8 base62 digits with room for millennia.
        assert!(a.as_str().as_bytes()[4] == b'0');
    }

    #[test]
    fn senders_must_be_participants_with_access_and_system_messages_have_none() {
        let limits = Limits::default();
        let c = conversation();
        assert_eq!(
            limits.check_send(
                &c,
                &[
                    user_message("writer"),
                    user_message("reader"),
                    system_message()
                ]
            ),
            Ok(())
        );
        let mut no_sender = user_message("writer");
        no_sender.sender = None;
        let mut system_with_sender = system_message();
        system_with_sender.sender = Some(uid("writer"));
        let err = limits
            .check_send(
                &c,
                &[
                    user_message("writer"),
                    user_message("hidden"),
                    user_message("stranger"),
                    no_sender,
                    system_with_sender,
                ],
            )
            .unwrap_err();
        let keys: Vec<&String> = err.reasons.keys().collect();
        assert_eq!(
            keys,
            ["[1].sender", "[2].sender", "[3].sender", "[4].sender"]
        );
    }

    #[test]
    fn one_to_ten_messages_per_request() {
        let limits = Limits::default();
        let c = conversation();
        assert!(limits.check_send(&c, &[]).is_err());
        assert_eq!(limits.check_send(&c, &vec![system_message(); 10]), Ok(()));
        let err = limits
            .check_send(&c, &vec![system_message(); 11])
            .unwrap_err();
        assert_eq!(err.code, InvalidCode::LimitExceeded);
    }

    #[test]
    fn message_custom_has_the_conversation_limits() {
        let limits = Limits::default();
        let mut m = system_message();
        m.custom.insert("k".into(), "v".repeat(10_001));
        let err = limits.check_send(&conversation(), &[m]).unwrap_err();
        assert!(err.reasons.contains_key("[0].custom.k"), "{err:?}");
    }

    #[test]
    fn read_by_lists_other_participants_who_read_up_to_the_message() {
        let mut c = conversation();
        c.participants.insert(uid("late"), Participant::joined(500));
        c.participants.get_mut(&uid("reader")).unwrap().read_until = 100;
        let m = Message {
            content: Vec::new(),
            reactions: Default::default(),
            id: MessageId::generate(),
            conversation_id: c.id.clone(),
            kind: MessageKind::User,
            sender: Some(uid("writer")),
            text: "t".into(),
            custom: BTreeMap::new(),
            created_at: 100,
            edited_at: None,
            referenced_message_id: None,
            origin: Origin::Rest,
        };
        let names: Vec<&str> = c.read_by(&m).iter().map(|u| u.as_str()).collect();
        assert_eq!(names, ["late", "reader"]);
    }

    #[test]
    fn edits_replace_text_merge_custom_and_set_edited_at() {
        let mut m = Message {
            content: Vec::new(),
            reactions: Default::default(),
            id: MessageId::generate(),
            conversation_id: ConversationId::new("c").unwrap(),
            kind: MessageKind::System,
            sender: None,
            text: "old".into(),
            custom: BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
            created_at: 1,
            edited_at: None,
            referenced_message_id: None,
            origin: Origin::Rest,
        };
        m.apply(
            &MessagePatch {
                content: None,
                text: Some("new".into()),
                custom: Some(CustomPatch::Merge(BTreeMap::from([
                    ("a".into(), None),
                    ("c".into(), Some("3".into())),
                ]))),
            },
            9,
        );
        assert_eq!(m.text, "new");
        assert_eq!(
            m.custom,
            BTreeMap::from([("b".into(), "2".into()), ("c".into(), "3".into())])
        );
        assert_eq!(m.edited_at, Some(9));
    }
}
