//! Contract cases of `MessageRepository::import_messages` and of the order by time.

use std::collections::BTreeMap;

use parley_domain::{
    AppId, Conversation, ConversationId, ConversationQuery, ImportRecord, Message, MessageId,
    MessageKind, MessageRecord, Origin, Participant, UserId, Walk,
};

use crate::Stores;

fn app() -> AppId {
    AppId::new("import-app").unwrap()
}
fn cid(raw: &str) -> ConversationId {
    ConversationId::new(raw).unwrap()
}
fn uid(raw: &str) -> UserId {
    UserId::new(raw).unwrap()
}

fn message(conversation: &str, sender: &str, text: &str, at: i64, origin: Origin) -> Message {
    Message {
        content: Vec::new(),
        reactions: Default::default(),
        id: MessageId::generate(),
        conversation_id: cid(conversation),
        kind: MessageKind::User,
        sender: Some(uid(sender)),
        text: text.into(),
        custom: BTreeMap::new(),
        created_at: at,
        edited_at: None,
        referenced_message_id: None,
        origin,
    }
}

fn old(
    conversation: &str,
    text: &str,
    at: i64,
    key: Option<&str>,
    readers: &[&str],
) -> ImportRecord {
    ImportRecord {
        record: MessageRecord {
            message: message(conversation, "writer", text, at, Origin::Import),
            idempotency_key: key.map(str::to_owned),
        },
        read_by: readers.iter().map(|r| uid(r)).collect(),
    }
}

async fn create(s: &Stores, id: &str, created_at: i64) {
    let mut c = Conversation::new(cid(id), created_at);
    c.participants
        .insert(uid("writer"), Participant::joined(created_at));
    c.participants.insert(uid("reader"), Participant::joined(0));
    s.conversations.insert(&app(), &c).await.unwrap();
}

async fn texts(s: &Stores, id: &str) -> Vec<String> {
    s.messages
        .list_messages(&app(), &cid(id), 100, None)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

pub async fn imported_history_takes_its_place_by_time_and_keeps_its_origin(s: &Stores) {
    create(s, "c", 1_000).await;
    let sent = MessageRecord {
        message: message("c", "writer", "sent", 5_000, Origin::Rest),
        idempotency_key: None,
    };
    s.messages
        .insert_messages(&app(), &cid("c"), &[sent], 0)
        .await
        .unwrap()
        .unwrap();
    let ids = s
        .messages
        .import_messages(
            &app(),
            &cid("c"),
            &[
                old("c", "b", 2_000, None, &[]),
                old("c", "a", 1_500, None, &[]),
                old("c", "b2", 2_000, None, &[]),
            ],
            0,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids.len(), 3);
    // Newest first by (created_at, storage order).
    assert_eq!(texts(s, "c").await, ["sent", "b2", "b", "a"]);
    // Paging after a message in the middle continues by that order.
    let after = s
        .messages
        .list_messages(&app(), &cid("c"), 2, Some(ids[2].clone()))
        .await
        .unwrap()
        .unwrap();
    let after: Vec<&str> = after.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(after, ["b", "a"]);
    let found = s
        .messages
        .find_message(&app(), &cid("c"), &ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.value.origin, Origin::Import);
    assert_eq!(found.value.created_at, 2_000);
    // Old history leaves the last message (and the conversation's place) as it was.
    let c = s
        .conversations
        .find(&app(), &cid("c"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.value.last_message.unwrap().text, "sent");
    let standing = s
        .conversations
        .standing(&app(), &cid("c"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(standing.last_message_at, Some(5_000));
    // A newer import becomes the last message; deleting it brings back the newest left.
    let newer = s
        .messages
        .import_messages(&app(), &cid("c"), &[old("c", "new", 9_000, None, &[])], 0)
        .await
        .unwrap()
        .unwrap();
    let c = s
        .conversations
        .find(&app(), &cid("c"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.value.last_message.as_ref().unwrap().text, "new");
    assert_eq!(c.value.last_message.unwrap().origin, Origin::Import);
    assert!(s
        .messages
        .delete_message(&app(), &cid("c"), &newer[0])
        .await
        .unwrap());
    let c = s
        .conversations
        .find(&app(), &cid("c"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.value.last_message.unwrap().text, "sent");
    // A missing conversation.
    assert!(s
        .messages
        .import_messages(&app(), &cid("nope"), &[old("nope", "x", 1, None, &[])], 0)
        .await
        .unwrap()
        .is_none());
}

pub async fn import_keys_are_kept_without_expiry_and_read_by_moves_read_until_forward(s: &Stores) {
    create(s, "c", 1_000).await;
    let first = s
        .messages
        .import_messages(
            &app(),
            &cid("c"),
            &[old("c", "one", 100, Some("k"), &["reader"])],
            0,
        )
        .await
        .unwrap()
        .unwrap();
    // Far beyond any send window: the key still answers the first ID.
    let again = s
        .messages
        .import_messages(
            &app(),
            &cid("c"),
            &[
                old("c", "one", 100, Some("k"), &["reader"]),
                old("c", "two", 50, None, &["reader"]),
            ],
            i64::MAX,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again[0], first[0]);
    assert_eq!(texts(s, "c").await, ["one", "two"]);
    let c = s
        .conversations
        .find(&app(), &cid("c"))
        .await
        .unwrap()
        .unwrap();
    let reader = c.value.participants[&uid("reader")];
    // Moved to 100 by "one", not back to 50 by "two".
    assert_eq!(reader.read_until, 100);
    assert_eq!(reader.read_mark, 100);
    // A stranger as reader is a conflict; nothing is stored.
    let err = s
        .messages
        .import_messages(
            &app(),
            &cid("c"),
            &[
                old("c", "three", 10, None, &[]),
                old("c", "x", 1, None, &["stranger"]),
            ],
            0,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, parley_domain::RepositoryError::Conflict),
        "{err:?}"
    );
    assert_eq!(texts(s, "c").await, ["one", "two"]);
}

pub async fn a_walk_keeps_its_snapshot_when_an_import_moves_a_conversation(s: &Stores) {
    for (id, at) in [("a", 3_000), ("b", 2_000), ("c", 1_000)] {
        create(s, id, at).await;
    }
    let query = ConversationQuery {
        limit: 1,
        ..Default::default()
    };
    let first = s
        .conversations
        .list(
            &app(),
            &query,
            &Walk {
                snapshot: None,
                after: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.items[0].0.id.as_str(), "a");
    // "c" jumps to the top by an import after the walk began; the walk still places it last.
    s.messages
        .import_messages(&app(), &cid("c"), &[old("c", "new", 9_000, None, &[])], 0)
        .await
        .unwrap()
        .unwrap();
    let rest = s
        .conversations
        .list(
            &app(),
            &ConversationQuery {
                limit: 10,
                ..Default::default()
            },
            &Walk {
                snapshot: Some(first.snapshot),
                after: Some(parley_domain::Position {
                    key: first.items[0].1,
                    id: cid("a"),
                }),
            },
        )
        .await
        .unwrap()
        .unwrap();
    let order: Vec<&str> = rest.items.iter().map(|(c, _)| c.id.as_str()).collect();
    assert_eq!(order, ["b", "c"]);
    // A new walk sees it on top.
    let fresh = s
        .conversations
        .list(
            &app(),
            &query,
            &Walk {
                snapshot: None,
                after: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh.items[0].0.id.as_str(), "c");
}
