//! The Conversation entity and the PUT merge rules, as pure functions.

use std::collections::BTreeMap;

use crate::ids::{ConversationId, UserId};
use crate::message::Message;

/// What a participant may do in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    #[default]
    ReadWrite,
    Read,
    /// Kept on record but hidden from `participants`; may neither read nor send.
    None,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::ReadWrite => "ReadWrite",
            Access::Read => "Read",
            Access::None => "None",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "ReadWrite" => Some(Access::ReadWrite),
            "Read" => Some(Access::Read),
            "None" => Some(Access::None),
            _ => None,
        }
    }
}

/// Whether a participant is notified of new messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notify {
    #[default]
    On,
    Off,
    MentionsOnly,
}

impl Notify {
    /// The stored form: `true`, `false` or `MentionsOnly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Notify::On => "true",
            Notify::Off => "false",
            Notify::MentionsOnly => "MentionsOnly",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "true" => Some(Notify::On),
            "false" => Some(Notify::Off),
            "MentionsOnly" => Some(Notify::MentionsOnly),
            _ => None,
        }
    }
}

/// One user's membership of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Participant {
    pub access: Access,
    pub notify: Notify,
    /// Messages up to this time (Unix ms) count as read by this participant.
    pub read_until: i64,
    /// The highest `readUntil` this participant ever had. A PATCH may move `readUntil` back
    /// (marking messages unread again), but a message counts as newly read (`message.read`)
    /// only once: when `readUntil` first passes it, i.e. beyond this mark.
    pub read_mark: i64,
}

impl Participant {
    /// A new participant with the defaults (ReadWrite, notify on) who joined at `now`: nothing
    /// sent before they joined is unread for them.
    pub fn joined(now: i64) -> Self {
        Self {
            access: Access::ReadWrite,
            notify: Notify::On,
            read_until: now,
            read_mark: now,
        }
    }
}

/// A conversation between participants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub subject: Option<String>,
    pub topic_id: Option<String>,
    pub photo_url: Option<String>,
    pub welcome_messages: Option<Vec<String>>,
    pub custom: BTreeMap<String, String>,
    pub participants: BTreeMap<UserId, Participant>,
    pub created_at: i64,
    /// The newest message, read along with the conversation; never written through it.
    pub last_message: Option<Message>,
}

/// A field of a PUT body: absent (leave as is), `null` (clear) or a value (replace).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Set(T),
}

impl<T> Field<T> {
    fn apply_to(&self, target: &mut Option<T>)
    where
        T: Clone,
    {
        match self {
            Field::Absent => {}
            Field::Null => *target = None,
            Field::Set(value) => *target = Some(value.clone()),
        }
    }
}

/// How a PUT changes `custom`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomPatch {
    /// `custom: null`: delete every key.
    Clear,
    /// `custom: {...}`: a string sets its key, `null` deletes it, other keys stay.
    Merge(BTreeMap<String, Option<String>>),
}

impl CustomPatch {
    pub fn apply_to(&self, custom: &mut BTreeMap<String, String>) {
        match self {
            CustomPatch::Clear => custom.clear(),
            CustomPatch::Merge(changes) => {
                for (key, value) in changes {
                    match value {
                        Some(value) => {
                            custom.insert(key.clone(), value.clone());
                        }
                        None => {
                            custom.remove(key);
                        }
                    }
                }
            }
        }
    }
}

/// The changes of one PUT `/conversations/{id}`: the domain's input, separate from the wire DTO.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationPatch {
    /// Participants to add; never removes anyone.
    pub participants: Vec<UserId>,
    pub subject: Field<String>,
    pub photo_url: Field<String>,
    pub welcome_messages: Field<Vec<String>>,
    pub custom: Option<CustomPatch>,
}

impl Conversation {
    /// A new, empty conversation created at `created_at`.
    pub fn new(id: ConversationId, created_at: i64) -> Self {
        Self {
            id,
            subject: None,
            topic_id: None,
            photo_url: None,
            welcome_messages: None,
            custom: BTreeMap::new(),
            participants: BTreeMap::new(),
            created_at,
            last_message: None,
        }
    }

    /// Merges a PUT into this conversation: absent fields stay, `null` clears, participants are
    /// only added (existing ones keep their settings), `custom` merges key by key.
    /// New participants join at `now`.
    pub fn apply(&mut self, patch: &ConversationPatch, now: i64) {
        for user in &patch.participants {
            self.participants
                .entry(user.clone())
                .or_insert_with(|| Participant::joined(now));
        }
        patch.subject.apply_to(&mut self.subject);
        patch.photo_url.apply_to(&mut self.photo_url);
        patch.welcome_messages.apply_to(&mut self.welcome_messages);
        if let Some(custom) = &patch.custom {
            custom.apply_to(&mut self.custom);
        }
    }
}

/// What a PUT `/participants/{userId}` asks for; absent fields take the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Join {
    pub access: Option<Access>,
    pub notify: Option<Notify>,
}

/// What a PATCH `/participants/{userId}` asks for; absent fields stay as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParticipantPatch {
    pub access: Option<Access>,
    pub notify: Option<Notify>,
    pub read_until: Option<i64>,
}

impl Participant {
    /// Applies a PATCH; `readUntil` is set exactly, earlier or later (a copy of an app restores
    /// read state with it), and the read mark follows it upwards only.
    pub fn apply(&mut self, patch: &ParticipantPatch) {
        if let Some(access) = patch.access {
            self.access = access;
        }
        if let Some(notify) = patch.notify {
            self.notify = notify;
        }
        if let Some(read_until) = patch.read_until {
            self.read_until = read_until;
            self.read_mark = self.read_mark.max(read_until);
        }
    }
}

impl Conversation {
    /// Joins `user` (or re-joins them), always overwriting their settings with the given ones or
    /// the defaults. A re-joining participant keeps their `readUntil`; a new one joins at `now`.
    pub fn join(&mut self, user: &UserId, join: &Join, now: i64) {
        let entry = self
            .participants
            .entry(user.clone())
            .or_insert_with(|| Participant::joined(now));
        entry.access = join.access.unwrap_or_default();
        entry.notify = join.notify.unwrap_or_default();
    }

    /// The participants that are shown: everyone on record but those with access `None`.
    pub fn visible_participants(&self) -> impl Iterator<Item = (&UserId, &Participant)> {
        self.participants
            .iter()
            .filter(|(_, p)| p.access != Access::None)
    }

    /// Whether `user` has an unread message: one newer than their `readUntil` that they did not
    /// send. Looking at the newest message suffices: a sender's `readUntil` moves to each message
    /// they send and never moves back, so if the newest is theirs, everything older is read.
    pub fn is_unread(&self, user: &UserId, participant: &Participant) -> bool {
        self.last_message.as_ref().is_some_and(|m| {
            m.sender.as_ref() != Some(user) && m.created_at > participant.read_until
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(raw: &str) -> UserId {
        UserId::new(raw).unwrap()
    }

    fn conv() -> Conversation {
        Conversation::new(ConversationId::new("c1").unwrap(), 1_000)
    }

    fn custom(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn merge(pairs: &[(&str, Option<&str>)]) -> Option<CustomPatch> {
        Some(CustomPatch::Merge(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
        ))
    }

    #[test]
    fn a_patch_sets_read_until_exactly_and_the_mark_only_rises() {
        let mut p = Participant::joined(100);
        let to = |t| ParticipantPatch {
            read_until: Some(t),
            ..Default::default()
        };
        p.apply(&to(500));
        assert_eq!((p.read_until, p.read_mark), (500, 500));
        p.apply(&to(200));
        assert_eq!((p.read_until, p.read_mark), (200, 500));
        p.apply(&to(300));
        assert_eq!((p.read_until, p.read_mark), (300, 500));
        p.apply(&to(900));
        assert_eq!((p.read_until, p.read_mark), (900, 900));
    }

    /// (name, before, patch, after): the merge rules of API.md as a table.
    #[test]
    fn merge_rules_table() {
        let reader = Participant {
            access: Access::Read,
            notify: Notify::MentionsOnly,
            read_until: 0,
            read_mark: 0,
        };
        let full = {
            let mut c = conv();
            c.subject = Some("s".into());
            c.photo_url = Some("p".into());
            c.welcome_messages = Some(vec!["w1".into(), "w2".into()]);
            c.custom = custom(&[("a", "1"), ("b", "2")]);
            c.participants.insert(uid("u1"), reader);
            c
        };
        let cases: Vec<(&str, Conversation, ConversationPatch, Conversation)> = vec![
            (
                "an empty patch changes nothing",
                full.clone(),
                ConversationPatch::default(),
                full.clone(),
            ),
            (
                "a new participant gets ReadWrite and notify on",
                conv(),
                ConversationPatch {
                    participants: vec![uid("u2")],
                    ..Default::default()
                },
                {
                    let mut c = conv();
                    c.participants.insert(uid("u2"), Participant::joined(0));
                    c
                },
            ),
            (
                "an existing participant keeps its settings and nobody is removed",
                full.clone(),
                ConversationPatch {
                    participants: vec![uid("u1"), uid("u3")],
                    ..Default::default()
                },
                {
                    let mut c = full.clone();
                    c.participants.insert(uid("u3"), Participant::joined(0));
                    c
                },
            ),
            (
                "an empty participants list removes nobody",
                full.clone(),
                ConversationPatch {
                    participants: vec![],
                    ..Default::default()
                },
                full.clone(),
            ),
            (
                "duplicate participants in one patch are added once",
                conv(),
                ConversationPatch {
                    participants: vec![uid("u2"), uid("u2")],
                    ..Default::default()
                },
                {
                    let mut c = conv();
                    c.participants.insert(uid("u2"), Participant::joined(0));
                    c
                },
            ),
            (
                "null clears scalar fields",
                full.clone(),
                ConversationPatch {
                    subject: Field::Null,
                    photo_url: Field::Null,
                    welcome_messages: Field::Null,
                    ..Default::default()
                },
                {
                    let mut c = full.clone();
                    c.subject = None;
                    c.photo_url = None;
                    c.welcome_messages = None;
                    c
                },
            ),
            (
                "values replace scalar fields and welcome messages as a whole",
                full.clone(),
                ConversationPatch {
                    subject: Field::Set("new".into()),
                    photo_url: Field::Set("q".into()),
                    welcome_messages: Field::Set(vec!["only".into()]),
                    ..Default::default()
                },
                {
                    let mut c = full.clone();
                    c.subject = Some("new".into());
                    c.photo_url = Some("q".into());
                    c.welcome_messages = Some(vec!["only".into()]);
                    c
                },
            ),
            (
                "custom merges key by key: set, overwrite, delete, keep",
                full.clone(),
                ConversationPatch {
                    custom: merge(&[("a", Some("10")), ("c", Some("3")), ("b", None)]),
                    ..Default::default()
                },
                {
                    let mut c = full.clone();
                    c.custom = custom(&[("a", "10"), ("c", "3")]);
                    c
                },
            ),
            (
                "deleting a custom key that does not exist is harmless",
                full.clone(),
                ConversationPatch {
                    custom: merge(&[("zzz", None)]),
                    ..Default::default()
                },
                full.clone(),
            ),
            (
                "an empty custom object changes nothing",
                full.clone(),
                ConversationPatch {
                    custom: merge(&[]),
                    ..Default::default()
                },
                full.clone(),
            ),
            (
                "custom null deletes all keys",
                full.clone(),
                ConversationPatch {
                    custom: Some(CustomPatch::Clear),
                    ..Default::default()
                },
                {
                    let mut c = full.clone();
                    c.custom.clear();
                    c
                },
            ),
            (
                "an empty string is a value, not a deletion",
                full.clone(),
                ConversationPatch {
                    subject: Field::Set(String::new()),
                    custom: merge(&[("a", Some(""))]),
                    ..Default::default()
                },
                {
                    let mut c = full.clone();
                    c.subject = Some(String::new());
                    c.custom.insert("a".into(), String::new());
                    c
                },
            ),
        ];
        for (name, mut before, patch, after) in cases {
            before.apply(&patch, 0);
            assert_eq!(before, after, "{name}");
        }
    }

    #[test]
    fn apply_never_changes_id_topic_or_created_at() {
        let mut c = conv();
        c.topic_id = Some("t".into());
        c.apply(
            &ConversationPatch {
                subject: Field::Set("x".into()),
                custom: Some(CustomPatch::Clear),
                participants: vec![uid("u")],
                ..Default::default()
            },
            5,
        );
        assert_eq!(c.id.as_str(), "c1");
        assert_eq!(c.participants[&uid("u")].read_until, 5);
        assert_eq!(c.topic_id.as_deref(), Some("t"));
        assert_eq!(c.created_at, 1_000);
    }

    #[test]
    fn notify_and_access_round_trip_through_their_stored_form() {
        for n in [Notify::On, Notify::Off, Notify::MentionsOnly] {
            assert_eq!(Notify::parse(n.as_str()), Some(n));
        }
        for a in [Access::ReadWrite, Access::Read, Access::None] {
            assert_eq!(Access::parse(a.as_str()), Some(a));
        }
        assert_eq!(Access::parse("none"), None);
    }
}
