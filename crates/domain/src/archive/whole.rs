//! Whole new conversations: which records of an archive make one, and the write they become.
//!
//! A group of records is written whole when it starts with its conversation's record and
//! everything after it belongs to that conversation: its participants, then files, messages
//! (each sent by one of those participants, no ID twice) and reactions (on those messages, each
//! user's emoji once). Anything else (a group that continues a conversation of an earlier
//! batch, a record that could not be stored) takes the one-by-one way of
//! [`Restorer::restore`](super::Restorer::restore), which also names what is wrong.

use std::collections::{BTreeMap, HashSet};

use super::{Record, Restored};
use crate::files::StoredFile;
use crate::message::{Message, MessageId, ReactionSummary};
use crate::reactions::Emoji;
use crate::{Conversation, UserId};

/// A user's reaction on a message of a [`WholeConversation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeReaction {
    pub message: MessageId,
    pub emoji: Emoji,
    pub user: UserId,
    pub created_at: i64,
}

/// A conversation with everything it holds, new to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct WholeConversation {
    /// Its fields and participants (`last_message` is not read: the store takes the newest of
    /// `messages`).
    pub conversation: Conversation,
    /// Oldest first; each with its reactions summary.
    pub messages: Vec<Message>,
    pub reactions: Vec<WholeReaction>,
}

/// A group of records made into one whole conversation.
#[derive(Debug)]
pub struct Assembled<'a> {
    pub whole: WholeConversation,
    /// The group's files, written after the conversation.
    pub files: Vec<(&'a StoredFile, &'a [u8])>,
    /// What writing it counts as (the files aside).
    pub records: Restored,
}

/// Sets the participants of `records` in `conversation` exactly (the read mark only rises).
pub(super) fn set_participants(conversation: &mut Conversation, records: &[Record]) -> Restored {
    let mut done = Restored::default();
    for record in records {
        let Record::Participant {
            user, participant, ..
        } = record
        else {
            continue;
        };
        let mut wanted = *participant;
        let before = conversation.participants.get(user).copied();
        wanted.read_mark = wanted
            .read_mark
            .max(before.map_or(wanted.read_until, |b| b.read_mark));
        if before == Some(wanted) {
            done.unchanged += 1;
        } else {
            conversation.participants.insert(user.clone(), wanted);
            done.written += 1;
        }
    }
    done
}

/// The whole conversation `group` makes, or `None` when it does not make one (see the module).
pub fn assemble(group: &[Record]) -> Option<Assembled<'_>> {
    let (Record::Conversation(c), rest) = group.split_first()? else {
        return None;
    };
    let mut conversation = c.clone();
    conversation.participants.clear();
    conversation.last_message = None;
    let mut records = Restored::written(1);
    let participants = rest
        .iter()
        .position(|r| !matches!(r, Record::Participant { .. }))
        .unwrap_or(rest.len());
    let (people, rest) = rest.split_at(participants);
    if people
        .iter()
        .any(|r| !matches!(r, Record::Participant { conversation, .. } if *conversation == c.id))
    {
        return None;
    }
    records += set_participants(&mut conversation, people);
    let mut messages: Vec<Message> = Vec::new();
    let mut ids: HashSet<&MessageId> = HashSet::new();
    let mut reactions: Vec<WholeReaction> = Vec::new();
    let mut reacted: HashSet<(&MessageId, &Emoji, &UserId)> = HashSet::new();
    let mut files = Vec::new();
    for record in rest {
        match record {
            Record::File { file, bytes } => files.push((file, bytes.as_slice())),
            Record::Message(m) => {
                let sender_known = m
                    .sender
                    .as_ref()
                    .is_none_or(|s| conversation.participants.contains_key(s));
                if m.conversation_id != c.id || !sender_known || !ids.insert(&m.id) {
                    return None;
                }
                messages.push(m.clone());
            }
            Record::Reaction {
                conversation: of,
                message,
                emoji,
                user,
                created_at,
            } => {
                if *of != c.id || !ids.contains(message) || !reacted.insert((message, emoji, user))
                {
                    return None;
                }
                reactions.push(WholeReaction {
                    message: message.clone(),
                    emoji: emoji.clone(),
                    user: user.clone(),
                    created_at: *created_at,
                });
            }
            Record::User(_) | Record::Conversation(_) | Record::Participant { .. } => return None,
        }
    }
    summarise(&mut messages, &reactions);
    records += Restored::written((messages.len() + reactions.len()) as u64);
    Some(Assembled {
        whole: WholeConversation {
            conversation,
            messages,
            reactions,
        },
        files,
        records,
    })
}

/// Sets each message's reactions summary from `reactions`: per emoji, how many and when the
/// first was.
fn summarise(messages: &mut [Message], reactions: &[WholeReaction]) {
    let mut summaries: BTreeMap<&MessageId, BTreeMap<String, ReactionSummary>> = BTreeMap::new();
    for r in reactions {
        let entry = summaries
            .entry(&r.message)
            .or_default()
            .entry(r.emoji.as_str().to_owned())
            .or_insert(ReactionSummary {
                count: 0,
                created_at: r.created_at,
            });
        entry.count += 1;
        entry.created_at = entry.created_at.min(r.created_at);
    }
    for m in messages {
        m.reactions = summaries.remove(&m.id).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageKind, Origin};
    use crate::{Access, ConversationId, Notify, Participant};

    fn conversation() -> Conversation {
        let mut c = Conversation::new(ConversationId::new("c").unwrap(), 10);
        c.subject = Some("Hi".into());
        c
    }

    fn participant(user: &str, read_until: i64) -> Record {
        Record::Participant {
            conversation: ConversationId::new("c").unwrap(),
            user: UserId::new(user).unwrap(),
            participant: Participant {
                access: Access::ReadWrite,
                notify: Notify::On,
                read_until,
                read_mark: 0,
            },
        }
    }

    fn message(id: &str, sender: &str, at: i64) -> Record {
        Record::Message(Message {
            id: MessageId::new(id).unwrap(),
            conversation_id: ConversationId::new("c").unwrap(),
            kind: MessageKind::User,
            sender: Some(UserId::new(sender).unwrap()),
            text: "hello".into(),
            custom: BTreeMap::new(),
            created_at: at,
            edited_at: None,
            referenced_message_id: None,
            origin: Origin::Rest,
            content: Vec::new(),
            reactions: BTreeMap::new(),
        })
    }

    fn reaction(message: &str, emoji: &str, user: &str, at: i64) -> Record {
        Record::Reaction {
            conversation: ConversationId::new("c").unwrap(),
            message: MessageId::new(message).unwrap(),
            emoji: Emoji::parse(emoji).unwrap(),
            user: UserId::new(user).unwrap(),
            created_at: at,
        }
    }

    #[test]
    fn a_conversation_with_what_it_holds_is_whole() {
        let group = vec![
            Record::Conversation(conversation()),
            participant("alice", 30),
            participant("bob", 0),
            message("m1", "alice", 20),
            message("m2", "bob", 30),
            reaction("m1", "👍", "bob", 40),
            reaction("m1", "👍", "alice", 35),
            reaction("m1", "🎉", "bob", 50),
        ];
        let a = assemble(&group).expect("whole");
        assert_eq!(a.records, Restored::written(8));
        let c = &a.whole.conversation;
        assert_eq!(c.subject.as_deref(), Some("Hi"));
        assert_eq!(c.participants.len(), 2);
        // The read mark is at least readUntil, as when participants are set one by one.
        assert_eq!(c.participants[&UserId::new("alice").unwrap()].read_mark, 30);
        assert_eq!(a.whole.messages.len(), 2);
        let summary = &a.whole.messages[0].reactions;
        assert_eq!(
            summary["👍"],
            ReactionSummary {
                count: 2,
                created_at: 35
            }
        );
        assert_eq!(summary["🎉"].count, 1);
        assert!(a.whole.messages[1].reactions.is_empty());
    }

    #[test]
    fn what_cannot_be_written_whole_is_left_to_the_one_by_one_way() {
        let base = || {
            vec![
                Record::Conversation(conversation()),
                participant("alice", 0),
                message("m1", "alice", 20),
            ]
        };
        assert!(assemble(&base()).is_some());
        // Not starting with the conversation: the rest of one from an earlier batch.
        assert!(assemble(&base()[1..]).is_none());
        // A sender who is no participant.
        let mut g = base();
        g.push(message("m2", "mallory", 30));
        assert!(assemble(&g).is_none());
        // The same message twice, the same reaction twice, a reaction on no message of it.
        let mut g = base();
        g.push(message("m1", "alice", 30));
        assert!(assemble(&g).is_none());
        let mut g = base();
        g.push(reaction("m1", "👍", "alice", 1));
        g.push(reaction("m1", "👍", "alice", 2));
        assert!(assemble(&g).is_none());
        let mut g = base();
        g.push(reaction("m9", "👍", "alice", 1));
        assert!(assemble(&g).is_none());
        // A participant after the messages, or a record of another kind.
        let mut g = base();
        g.push(participant("bob", 0));
        assert!(assemble(&g).is_none());
        let mut g = base();
        g.push(Record::Conversation(conversation()));
        assert!(assemble(&g).is_none());
    }
}
