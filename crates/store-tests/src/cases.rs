//! The contract cases. Each takes fresh, empty stores and panics when the adapter breaks the
//! port's documented contract.

use std::collections::BTreeMap;
use std::sync::Arc;

use parley_domain::{
    Access, AppId, Conversation, ConversationId, ConversationPatch, ConversationQuery,
    ConversationService, CustomPatch, Direction, Limits, Message, MessageId, MessageKind,
    MessageRecord, MessageService, NewMessage, Notify, OrderBy, Origin, Participant, Position,
    RepositoryError, SecretKey, Standing, SystemClock, User, UserId, UserWrite, Versioned, Walk,
};

use crate::Stores;

fn app(raw: &str) -> AppId {
    AppId::new(raw).unwrap()
}
fn cid(raw: &str) -> ConversationId {
    ConversationId::new(raw).unwrap()
}
fn uid(raw: &str) -> UserId {
    UserId::new(raw).unwrap()
}

fn sample(id: &str) -> Conversation {
    let mut c = Conversation::new(cid(id), 1_623_926_680_929);
    c.subject = Some("Black leather boots ✓".into());
    c.topic_id = Some("topic-1".into());
    c.photo_url = Some("https://example.com/p.png".into());
    c.welcome_messages = Some(vec!["Hello there!".into(), "Second".into()]);
    c.custom = BTreeMap::from([
        ("productId".to_string(), "454545".to_string()),
        (
            "ünïcode".to_string(),
            "日本語 \"quoted\" \\ back".to_string(),
        ),
    ]);
    c.participants.insert(uid("123456"), Participant::joined(0));
    c.participants.insert(
        uid("654321"),
        Participant {
            access: Access::Read,
            notify: Notify::MentionsOnly,
            read_until: 0,
            read_mark: 0,
        },
    );
    c.participants.insert(
        uid("silent"),
        Participant {
            access: Access::ReadWrite,
            notify: Notify::Off,
            read_until: 0,
            read_mark: 0,
        },
    );
    c
}

async fn found(s: &Stores, app_id: &str, id: &str) -> Versioned<Conversation> {
    s.conversations
        .find(&app(app_id), &cid(id))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("conversation {id} should exist"))
}

pub async fn find_returns_none_for_a_missing_conversation(s: &Stores) {
    assert!(s
        .conversations
        .find(&app("a"), &cid("nope"))
        .await
        .unwrap()
        .is_none());
}

pub async fn insert_then_find_returns_every_field(s: &Stores) {
    let c = sample("c1");
    s.conversations.insert(&app("a"), &c).await.unwrap();
    assert_eq!(found(s, "a", "c1").await.value, c);
}

pub async fn insert_of_an_existing_id_is_a_conflict_and_changes_nothing(s: &Stores) {
    let c = sample("c1");
    s.conversations.insert(&app("a"), &c).await.unwrap();
    let mut other = Conversation::new(cid("c1"), 5);
    other
        .participants
        .insert(uid("intruder"), Participant::joined(0));
    let err = s.conversations.insert(&app("a"), &other).await.unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict), "{err:?}");
    assert_eq!(found(s, "a", "c1").await.value, c);
}

pub async fn update_with_the_read_version_replaces_and_bumps_the_version(s: &Stores) {
    s.conversations
        .insert(&app("a"), &sample("c1"))
        .await
        .unwrap();
    let before = found(s, "a", "c1").await;
    let mut after = before.value.clone();
    after.subject = None;
    after.custom.insert("new".into(), "value".into());
    after.welcome_messages = Some(vec!["only".into()]);
    s.conversations
        .update(&app("a"), &before, &after)
        .await
        .unwrap();
    let now = found(s, "a", "c1").await;
    assert_eq!(now.value, after);
    assert_ne!(now.version, before.version);
}

pub async fn update_with_a_stale_version_is_a_conflict_and_changes_nothing(s: &Stores) {
    s.conversations
        .insert(&app("a"), &sample("c1"))
        .await
        .unwrap();
    let first = found(s, "a", "c1").await;
    let mut winner = first.value.clone();
    winner.subject = Some("winner".into());
    s.conversations
        .update(&app("a"), &first, &winner)
        .await
        .unwrap();

    let mut loser = first.value.clone();
    loser.subject = Some("loser".into());
    loser
        .participants
        .insert(uid("late"), Participant::joined(0));
    let err = s
        .conversations
        .update(&app("a"), &first, &loser)
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict), "{err:?}");
    assert_eq!(found(s, "a", "c1").await.value, winner);
}

pub async fn update_of_a_deleted_conversation_is_a_conflict(s: &Stores) {
    s.conversations
        .insert(&app("a"), &sample("c1"))
        .await
        .unwrap();
    let before = found(s, "a", "c1").await;
    assert!(s.conversations.delete(&app("a"), &cid("c1")).await.unwrap());
    let err = s
        .conversations
        .update(&app("a"), &before, &before.value)
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict), "{err:?}");
    assert!(s
        .conversations
        .find(&app("a"), &cid("c1"))
        .await
        .unwrap()
        .is_none());
}

pub async fn update_writes_participant_additions_changes_and_removals(s: &Stores) {
    s.conversations
        .insert(&app("a"), &sample("c1"))
        .await
        .unwrap();
    let before = found(s, "a", "c1").await;
    let mut after = before.value.clone();
    after.participants.remove(&uid("silent"));
    after.participants.insert(
        uid("123456"),
        Participant {
            access: Access::Read,
            notify: Notify::Off,
            read_until: 0,
            read_mark: 0,
        },
    );
    after
        .participants
        .insert(uid("newcomer"), Participant::joined(0));
    s.conversations
        .update(&app("a"), &before, &after)
        .await
        .unwrap();
    assert_eq!(
        found(s, "a", "c1").await.value.participants,
        after.participants
    );
}

pub async fn null_and_empty_values_are_told_apart(s: &Stores) {
    let mut empty = Conversation::new(cid("empty"), 1);
    empty.subject = Some(String::new());
    empty.photo_url = Some(String::new());
    empty.welcome_messages = Some(vec![]);
    empty.custom.insert(String::new(), String::new());
    s.conversations.insert(&app("a"), &empty).await.unwrap();
    assert_eq!(found(s, "a", "empty").await.value, empty);

    let bare = Conversation::new(cid("bare"), 2);
    s.conversations.insert(&app("a"), &bare).await.unwrap();
    assert_eq!(found(s, "a", "bare").await.value, bare);
}

pub async fn delete_removes_the_conversation_and_its_participants(s: &Stores) {
    s.conversations
        .insert(&app("a"), &sample("c1"))
        .await
        .unwrap();
    assert!(s.conversations.delete(&app("a"), &cid("c1")).await.unwrap());
    assert!(s
        .conversations
        .find(&app("a"), &cid("c1"))
        .await
        .unwrap()
        .is_none());
    // A new conversation with the same ID starts clean: no participant survives the delete.
    let fresh = Conversation::new(cid("c1"), 9);
    s.conversations.insert(&app("a"), &fresh).await.unwrap();
    assert_eq!(found(s, "a", "c1").await.value, fresh);
}

pub async fn delete_of_a_missing_conversation_returns_false(s: &Stores) {
    assert!(!s
        .conversations
        .delete(&app("a"), &cid("never"))
        .await
        .unwrap());
}

pub async fn apps_do_not_see_each_others_conversations(s: &Stores) {
    let c = sample("shared-id");
    s.conversations.insert(&app("a"), &c).await.unwrap();
    assert!(s
        .conversations
        .find(&app("b"), &cid("shared-id"))
        .await
        .unwrap()
        .is_none());
    assert!(!s
        .conversations
        .delete(&app("b"), &cid("shared-id"))
        .await
        .unwrap());

    let mut theirs = Conversation::new(cid("shared-id"), 3);
    theirs
        .participants
        .insert(uid("b-user"), Participant::joined(0));
    s.conversations.insert(&app("b"), &theirs).await.unwrap();
    assert_eq!(found(s, "a", "shared-id").await.value, c);
    assert_eq!(found(s, "b", "shared-id").await.value, theirs);
}

pub async fn unusual_ids_round_trip(s: &Stores) {
    let long = "é".repeat(127);
    for id in [
        "order/1",
        "with space",
        "✓ü日本",
        "a%2Fb",
        "'; DROP TABLE x; --",
        long.as_str(),
    ] {
        let mut c = Conversation::new(cid(id), 1);
        c.participants.insert(uid(id), Participant::joined(0));
        s.conversations.insert(&app(id), &c).await.unwrap();
        assert_eq!(found(s, id, id).await.value, c, "{id}");
    }
}

pub async fn concurrent_puts_through_the_service_all_take_effect(s: &Stores) {
    const WRITERS: usize = 24;
    const CONVERSATIONS: usize = 3;
    let service = Arc::new(ConversationService::new(
        s.conversations.clone(),
        s.cursors.clone(),
        Arc::new(SystemClock),
        Limits::default(),
    ));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        for c in 0..CONVERSATIONS {
            let service = service.clone();
            tasks.push(tokio::spawn(async move {
                let patch = ConversationPatch {
                    participants: vec![uid(&format!("user-{w}"))],
                    custom: Some(CustomPatch::Merge(BTreeMap::from([(
                        format!("key-{w}"),
                        Some(format!("value-{w}")),
                    )]))),
                    ..Default::default()
                };
                service
                    .put(&app("a"), &cid(&format!("hot-{c}")), &patch)
                    .await
                    .unwrap();
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    for c in 0..CONVERSATIONS {
        let conv = found(s, "a", &format!("hot-{c}")).await.value;
        assert_eq!(conv.participants.len(), WRITERS, "participants of hot-{c}");
        assert_eq!(conv.custom.len(), WRITERS, "custom keys of hot-{c}");
        for w in 0..WRITERS {
            assert!(conv.participants.contains_key(&uid(&format!("user-{w}"))));
            assert_eq!(conv.custom[&format!("key-{w}")], format!("value-{w}"));
        }
    }
}

pub async fn app_key_is_created_once_and_then_kept(s: &Stores) {
    let first = SecretKey::new("sk_test_first");
    let second = SecretKey::new("sk_test_second");
    let got = s
        .apps
        .get_or_create_key(&app("demo"), &first)
        .await
        .unwrap();
    assert_eq!(got, first);
    let again = s
        .apps
        .get_or_create_key(&app("demo"), &second)
        .await
        .unwrap();
    assert_eq!(again, first);
    let other = s
        .apps
        .get_or_create_key(&app("other"), &second)
        .await
        .unwrap();
    assert_eq!(other, second);
}

// ---------------------------------------------------------------------------------------------
// Messages

fn record(conversation: &str, sender: Option<&str>, text: &str, at: i64) -> MessageRecord {
    MessageRecord {
        message: Message {
            content: Vec::new(),
            reactions: Default::default(),
            id: MessageId::generate(),
            conversation_id: cid(conversation),
            kind: if sender.is_some() {
                MessageKind::User
            } else {
                MessageKind::System
            },
            sender: sender.map(uid),
            text: text.into(),
            custom: BTreeMap::from([("k".to_string(), text.to_string())]),
            created_at: at,
            edited_at: None,
            referenced_message_id: None,
            origin: Origin::Rest,
        },
        idempotency_key: None,
    }
}

fn with_key(mut r: MessageRecord, key: &str) -> MessageRecord {
    r.idempotency_key = Some(key.into());
    r
}

async fn conversation_with(s: &Stores, app_id: &str, id: &str, users: &[&str], created_at: i64) {
    let mut c = Conversation::new(cid(id), created_at);
    for u in users {
        c.participants
            .insert(uid(u), Participant::joined(created_at));
    }
    s.conversations.insert(&app(app_id), &c).await.unwrap();
}

async fn send(s: &Stores, id: &str, records: Vec<MessageRecord>) -> Vec<MessageId> {
    s.messages
        .insert_messages(&app("a"), &cid(id), &records, 0)
        .await
        .unwrap()
        .expect("the conversation exists")
}

async fn texts(s: &Stores, id: &str, limit: usize, after: Option<MessageId>) -> Vec<String> {
    s.messages
        .list_messages(&app("a"), &cid(id), limit, after)
        .await
        .unwrap()
        .expect("known cursor")
        .into_iter()
        .map(|m| m.text)
        .collect()
}

pub async fn messages_are_listed_newest_stored_first_and_paged(s: &Stores) {
    conversation_with(s, "a", "c", &["u"], 1).await;
    // One batch, one millisecond: the stored order still decides.
    let ids = send(
        s,
        "c",
        vec![
            record("c", Some("u"), "1", 10),
            record("c", None, "2", 10),
            record("c", Some("u"), "3", 10),
        ],
    )
    .await;
    assert_eq!(ids.len(), 3);
    send(s, "c", vec![record("c", Some("u"), "4", 5)]).await;
    assert_eq!(texts(s, "c", 10, None).await, ["4", "3", "2", "1"]);
    assert_eq!(texts(s, "c", 2, None).await, ["4", "3"]);
    assert_eq!(texts(s, "c", 10, Some(ids[2].clone())).await, ["2", "1"]);
    assert_eq!(
        texts(s, "c", 10, Some(ids[0].clone())).await,
        Vec::<String>::new()
    );
    let unknown = s
        .messages
        .list_messages(
            &app("a"),
            &cid("c"),
            10,
            Some(MessageId::new("msg_nope").unwrap()),
        )
        .await
        .unwrap();
    assert!(unknown.is_none());
    let stored = s
        .messages
        .find_message(&app("a"), &cid("c"), &ids[1])
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(stored.kind, MessageKind::System);
    assert_eq!(stored.sender, None);
    assert_eq!(stored.custom["k"], "2");
    assert_eq!(stored.created_at, 10);
    assert_eq!(stored.edited_at, None);
}

pub async fn sending_to_a_missing_conversation_stores_nothing(s: &Stores) {
    let answer = s
        .messages
        .insert_messages(
            &app("a"),
            &cid("ghost"),
            &[record("ghost", None, "x", 1)],
            0,
        )
        .await
        .unwrap();
    assert!(answer.is_none());
    // Nothing was stored under its ID: a conversation created with it now has no messages.
    conversation_with(s, "a", "ghost", &["u"], 1).await;
    let stored = s
        .messages
        .list_messages(&app("a"), &cid("ghost"), 10, None)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.is_empty(), "{stored:?}");
}

pub async fn an_idempotency_key_is_answered_with_the_first_id_for_24_hours(s: &Stores) {
    conversation_with(s, "a", "c", &["u"], 1).await;
    let first = send(
        s,
        "c",
        vec![with_key(record("c", Some("u"), "first", 100), "k1")],
    )
    .await;
    let again = s
        .messages
        .insert_messages(
            &app("a"),
            &cid("c"),
            &[with_key(record("c", Some("u"), "again", 200), "k1")],
            50,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(texts(s, "c", 10, None).await, ["first"]);
    // The same key in another conversation is another key.
    conversation_with(s, "a", "d", &["u"], 1).await;
    let other = send(
        s,
        "d",
        vec![with_key(record("d", Some("u"), "other", 200), "k1")],
    )
    .await;
    assert_ne!(other, first);
    // Once the window has passed (the key was stored before `idempotent_since`), it is new again.
    let later = s
        .messages
        .insert_messages(
            &app("a"),
            &cid("c"),
            &[with_key(record("c", Some("u"), "later", 300), "k1")],
            101,
        )
        .await
        .unwrap()
        .unwrap();
    assert_ne!(later, first);
    assert_eq!(texts(s, "c", 10, None).await, ["later", "first"]);
}

pub async fn sending_moves_the_senders_read_until_forward_only(s: &Stores) {
    conversation_with(s, "a", "c", &["u", "v"], 100).await;
    send(s, "c", vec![record("c", Some("u"), "x", 500)]).await;
    let c = found(s, "a", "c").await.value;
    assert_eq!(c.participants[&uid("u")].read_until, 500);
    assert_eq!(c.participants[&uid("v")].read_until, 100);
    send(s, "c", vec![record("c", Some("u"), "older clock", 300)]).await;
    assert_eq!(
        found(s, "a", "c").await.value.participants[&uid("u")].read_until,
        500
    );
}

pub async fn last_message_follows_sends_edits_and_deletes(s: &Stores) {
    conversation_with(s, "a", "c", &["u"], 1).await;
    assert_eq!(found(s, "a", "c").await.value.last_message, None);
    let ids = send(
        s,
        "c",
        vec![
            record("c", Some("u"), "one", 10),
            record("c", Some("u"), "two", 10),
        ],
    )
    .await;
    let last = |c: Conversation| c.last_message.map(|m| m.text);
    assert_eq!(last(found(s, "a", "c").await.value).as_deref(), Some("two"));

    let before = s
        .messages
        .find_message(&app("a"), &cid("c"), &ids[1])
        .await
        .unwrap()
        .unwrap();
    let mut edited = before.value.clone();
    edited.text = "two, edited".into();
    edited.edited_at = Some(20);
    s.messages
        .update_message(&app("a"), &before, &edited)
        .await
        .unwrap();
    let now = found(s, "a", "c").await.value.last_message.unwrap();
    assert_eq!(now.text, "two, edited");
    assert_eq!(now.edited_at, Some(20));
    // Editing an older message leaves the last one as it is.
    let older = s
        .messages
        .find_message(&app("a"), &cid("c"), &ids[0])
        .await
        .unwrap()
        .unwrap();
    let mut older_edited = older.value.clone();
    older_edited.text = "one, edited".into();
    s.messages
        .update_message(&app("a"), &older, &older_edited)
        .await
        .unwrap();
    assert_eq!(
        last(found(s, "a", "c").await.value).as_deref(),
        Some("two, edited")
    );

    assert!(s
        .messages
        .delete_message(&app("a"), &cid("c"), &ids[1])
        .await
        .unwrap());
    assert_eq!(
        last(found(s, "a", "c").await.value).as_deref(),
        Some("one, edited")
    );
    let standing = s
        .conversations
        .standing(&app("a"), &cid("c"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(standing.last_message_at, Some(10));
    assert!(s
        .messages
        .delete_message(&app("a"), &cid("c"), &ids[0])
        .await
        .unwrap());
    assert_eq!(found(s, "a", "c").await.value.last_message, None);
    let standing = s
        .conversations
        .standing(&app("a"), &cid("c"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(standing.last_message_at, None);
    assert!(!s
        .messages
        .delete_message(&app("a"), &cid("c"), &ids[0])
        .await
        .unwrap());
}

pub async fn message_edits_use_optimistic_versions(s: &Stores) {
    conversation_with(s, "a", "c", &["u"], 1).await;
    let ids = send(s, "c", vec![record("c", Some("u"), "t", 10)]).await;
    let read = s
        .messages
        .find_message(&app("a"), &cid("c"), &ids[0])
        .await
        .unwrap()
        .unwrap();
    let mut first = read.value.clone();
    first.custom.insert("a".into(), "1".into());
    s.messages
        .update_message(&app("a"), &read, &first)
        .await
        .unwrap();
    let mut stale = read.value.clone();
    stale.custom.insert("b".into(), "2".into());
    let err = s
        .messages
        .update_message(&app("a"), &read, &stale)
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict), "{err:?}");
    let now = s
        .messages
        .find_message(&app("a"), &cid("c"), &ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.value, first);
    assert_ne!(now.version, read.version);
}

pub async fn messages_are_found_only_in_their_conversation(s: &Stores) {
    conversation_with(s, "a", "c", &["u"], 1).await;
    conversation_with(s, "a", "d", &["u"], 1).await;
    let ids = send(s, "c", vec![record("c", Some("u"), "t", 10)]).await;
    let elsewhere = s
        .messages
        .find_message(&app("a"), &cid("d"), &ids[0])
        .await
        .unwrap();
    assert!(elsewhere.is_none());
    let other_app = s
        .messages
        .find_message(&app("b"), &cid("c"), &ids[0])
        .await
        .unwrap();
    assert!(other_app.is_none());
    let listed = s
        .messages
        .list_messages(&app("a"), &cid("d"), 10, Some(ids[0].clone()))
        .await
        .unwrap();
    assert!(
        listed.is_none(),
        "a message of another conversation is no cursor here"
    );
    assert!(!s
        .messages
        .delete_message(&app("a"), &cid("d"), &ids[0])
        .await
        .unwrap());
    assert_eq!(texts(s, "c", 10, None).await, ["t"]);
}

pub async fn deleting_a_conversation_deletes_its_messages_and_keys(s: &Stores) {
    conversation_with(s, "a", "c", &["u"], 1).await;
    let first = send(s, "c", vec![with_key(record("c", Some("u"), "t", 10), "k")]).await;
    assert!(s.conversations.delete(&app("a"), &cid("c")).await.unwrap());
    let gone = s
        .messages
        .find_message(&app("a"), &cid("c"), &first[0])
        .await
        .unwrap();
    assert!(gone.is_none());
    conversation_with(s, "a", "c", &["u"], 2).await;
    assert_eq!(texts(s, "c", 10, None).await, Vec::<String>::new());
    let fresh = send(
        s,
        "c",
        vec![with_key(record("c", Some("u"), "t2", 20), "k")],
    )
    .await;
    assert_ne!(
        fresh, first,
        "the old idempotency key went with the conversation"
    );
}

pub async fn concurrent_sends_are_all_stored_and_a_shared_key_only_once(s: &Stores) {
    conversation_with(s, "a", "c", &["u"], 1).await;
    let service = MessageService::new(
        s.conversations.clone(),
        s.messages.clone(),
        Arc::new(SystemClock),
        Limits::default(),
    );
    let service = Arc::new(service);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let service = service.clone();
        tasks.push(tokio::spawn(async move {
            let item = |text: String, key: Option<&str>| NewMessage {
                content: None,
                kind: MessageKind::User,
                sender: Some(uid("u")),
                text,
                custom: BTreeMap::new(),
                referenced_message_id: None,
                idempotency_key: key.map(str::to_string),
            };
            let own = service
                .send(&app("a"), &cid("c"), vec![item(format!("m{i}"), None)])
                .await
                .unwrap();
            let shared = service
                .send(
                    &app("a"),
                    &cid("c"),
                    vec![item("shared".into(), Some("same-key"))],
                )
                .await
                .unwrap();
            (own, shared)
        }));
    }
    let mut shared_ids = Vec::new();
    for t in tasks {
        shared_ids.push(t.await.unwrap().1);
    }
    assert!(
        shared_ids.windows(2).all(|w| w[0] == w[1]),
        "{shared_ids:?}"
    );
    let all = texts(s, "c", 100, None).await;
    assert_eq!(all.len(), 21, "{all:?}");
    assert_eq!(all.iter().filter(|t| *t == "shared").count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Listing

/// Conversations `c0`..: created at 1000 + i; those with `Some(t)` got a message at `t`.
async fn listing_fixture(s: &Stores, activity: &[Option<i64>]) {
    for (i, at) in activity.iter().enumerate() {
        let id = format!("c{i}");
        conversation_with(s, "a", &id, &["u"], 1000 + i as i64).await;
        if let Some(at) = at {
            send(s, &id, vec![record(&id, Some("u"), "m", *at)]).await;
        }
    }
}

async fn ids_of(s: &Stores, query: &ConversationQuery, walk: &Walk) -> Vec<(String, i64)> {
    s.conversations
        .list(&app("a"), query, walk)
        .await
        .unwrap()
        .unwrap()
        .items
        .into_iter()
        .map(|(c, k)| (c.id.into_string(), k))
        .collect()
}

async fn fresh_walk(s: &Stores) -> Walk {
    Walk {
        snapshot: Some(s.conversations.snapshot().await.unwrap()),
        after: None,
    }
}

fn names(page: &[(String, i64)]) -> Vec<&str> {
    page.iter().map(|(id, _)| id.as_str()).collect()
}

pub async fn listing_orders_by_last_activity_then_id_by_default(s: &Stores) {
    // c0: message at 5000; c1: none (activity 1001); c2: message at 5000; c3: message at 900.
    listing_fixture(s, &[Some(5000), None, Some(5000), Some(900)]).await;
    conversation_with(s, "b", "other-app", &["u"], 9999).await;
    let walk = fresh_walk(s).await;
    let page = ids_of(s, &ConversationQuery::default(), &walk).await;
    assert_eq!(names(&page), ["c2", "c0", "c1", "c3"]);
    assert_eq!(
        page.iter().map(|(_, k)| *k).collect::<Vec<_>>(),
        [5000, 5000, 1001, 900]
    );
    let asc = ConversationQuery {
        direction: Direction::Asc,
        ..Default::default()
    };
    assert_eq!(
        names(&ids_of(s, &asc, &walk).await),
        ["c3", "c1", "c0", "c2"]
    );
    let two = ConversationQuery {
        limit: 2,
        ..Default::default()
    };
    assert_eq!(names(&ids_of(s, &two, &walk).await), ["c2", "c0"]);
    // The listed conversations are whole, with their last message.
    let listed = s
        .conversations
        .list(&app("a"), &two, &walk)
        .await
        .unwrap()
        .unwrap()
        .items;
    assert_eq!(listed[0].0.last_message.as_ref().unwrap().created_at, 5000);
    assert!(listed[0].0.participants.contains_key(&uid("u")));
}

pub async fn listing_orders_by_creation_in_either_direction(s: &Stores) {
    listing_fixture(s, &[Some(5000), None, Some(100)]).await;
    let walk = fresh_walk(s).await;
    let desc = ConversationQuery {
        order_by: OrderBy::CreatedAt,
        ..Default::default()
    };
    assert_eq!(names(&ids_of(s, &desc, &walk).await), ["c2", "c1", "c0"]);
    let asc = ConversationQuery {
        direction: Direction::Asc,
        ..desc
    };
    let page = ids_of(s, &asc, &walk).await;
    assert_eq!(names(&page), ["c0", "c1", "c2"]);
    assert_eq!(page[0].1, 1000);
}

pub async fn listing_filters_on_the_last_message_strictly(s: &Stores) {
    listing_fixture(s, &[Some(100), Some(200), Some(300), None]).await;
    let walk = fresh_walk(s).await;
    let q = |before: Option<i64>, after: Option<i64>| ConversationQuery {
        last_message_before: before,
        last_message_after: after,
        ..Default::default()
    };
    assert_eq!(
        names(&ids_of(s, &q(Some(300), None), &walk).await),
        ["c1", "c0"]
    );
    assert_eq!(
        names(&ids_of(s, &q(None, Some(100)), &walk).await),
        ["c2", "c1"]
    );
    assert_eq!(
        names(&ids_of(s, &q(Some(300), Some(100)), &walk).await),
        ["c1"]
    );
    assert!(ids_of(s, &q(Some(100), Some(100)), &walk).await.is_empty());
    let by_created = ConversationQuery {
        order_by: OrderBy::CreatedAt,
        ..q(Some(250), None)
    };
    assert_eq!(names(&ids_of(s, &by_created, &walk).await), ["c1", "c0"]);
}

pub async fn listing_continues_after_a_position(s: &Stores) {
    listing_fixture(s, &[Some(500), Some(500), Some(500), Some(400)]).await;
    let snapshot = s.conversations.snapshot().await.unwrap();
    let after = |key: i64, id: &str| Walk {
        snapshot: Some(snapshot.clone()),
        after: Some(Position { key, id: cid(id) }),
    };
    let desc = ConversationQuery::default();
    assert_eq!(
        names(&ids_of(s, &desc, &after(500, "c1")).await),
        ["c0", "c3"]
    );
    assert_eq!(names(&ids_of(s, &desc, &after(500, "c0")).await), ["c3"]);
    let asc = ConversationQuery {
        direction: Direction::Asc,
        ..Default::default()
    };
    assert_eq!(names(&ids_of(s, &asc, &after(500, "c1")).await), ["c2"]);
    assert_eq!(
        names(&ids_of(s, &asc, &after(400, "c3")).await),
        ["c0", "c1", "c2"]
    );
}

/// A page of app `a` read by `list_remembering` under `list`.
async fn remembering(
    s: &Stores,
    query: &ConversationQuery,
    walk: &Walk,
    list: &str,
) -> parley_domain::Page {
    s.conversations
        .list_remembering(&app("a"), query, walk, list)
        .await
        .unwrap()
        .expect("the list's user is on record")
}

/// Checks a page read by `list_remembering` under `list`: a store that is its own cursor store
/// must have remembered the end when `required`, and whatever it says it remembered is recalled
/// as `CursorStore::remember` would have stored it (the last item's key, the page's snapshot).
async fn end_is_remembered(s: &Stores, list: &str, page: &parley_domain::Page, required: bool) {
    let joint = std::ptr::addr_eq(Arc::as_ptr(&s.conversations), Arc::as_ptr(&s.cursors));
    let (last, key) = page.items.last().expect("a page with items");
    if joint && required {
        assert!(
            page.end_remembered,
            "the page ending with {} is remembered",
            last.id
        );
    }
    if page.end_remembered {
        assert_eq!(
            s.cursors.recall(&app("a"), list, &last.id).await,
            Some(parley_domain::Cursor {
                key: *key,
                snapshot: page.snapshot.clone(),
            }),
            "the remembered end of the page ending with {}",
            last.id
        );
    }
}

/// A store that keeps the cursors itself (PostgreSQL) remembers a page's end in the page's own
/// read, as `CursorStore::remember` would: for a first page, a page continuing a walk after a
/// conversation moved (where the moved one may end it instead, and the service remembers), a
/// short last page, and a user's page. Stores that do not (memory, SQLite) leave it to the
/// service, and must not say otherwise.
pub async fn a_page_remembers_its_end_in_its_read_when_the_store_keeps_the_cursors(s: &Stores) {
    listing_fixture(s, &[Some(10_100), None, Some(10_300), Some(10_200), None]).await;
    users_on_record(s, &["u"]).await;
    let query = ConversationQuery {
        limit: 2,
        ..Default::default()
    };
    let start = Walk {
        snapshot: None,
        after: None,
    };
    let first = remembering(s, &query, &start, "all").await;
    let ids = |page: &parley_domain::Page| -> Vec<String> {
        page.items.iter().map(|(c, _)| c.id.to_string()).collect()
    };
    assert_eq!(ids(&first), ["c2", "c3"]);
    end_is_remembered(s, "all", &first, true).await;
    // c0 moves after the walk's snapshot: it is placed as of the snapshot, on the next page.
    send(s, "c0", vec![record("c0", Some("u"), "later", 10_400)]).await;
    let after = |page: &parley_domain::Page| {
        let (last, key) = page.items.last().unwrap();
        Walk {
            snapshot: Some(page.snapshot.clone()),
            after: Some(Position {
                key: *key,
                id: last.id.clone(),
            }),
        }
    };
    let second = remembering(s, &query, &after(&first), "all").await;
    assert_eq!(ids(&second), ["c0", "c4"]);
    assert_eq!(second.snapshot, first.snapshot);
    end_is_remembered(s, "all", &second, false).await;
    let third = remembering(s, &query, &after(&second), "all").await;
    assert_eq!(ids(&third), ["c1"]);
    end_is_remembered(s, "all", &third, true).await;
    // A user's list, oldest first, under its own list key.
    let theirs = ConversationQuery {
        limit: 3,
        member: Some(uid("u")),
        order_by: OrderBy::CreatedAt,
        direction: Direction::Asc,
        ..Default::default()
    };
    let page = remembering(s, &theirs, &start, "u's").await;
    assert_eq!(ids(&page), ["c0", "c1", "c2"]);
    end_is_remembered(s, "u's", &page, true).await;
    assert_eq!(
        s.cursors.recall(&app("a"), "all", &cid("c2")).await,
        None,
        "a list key is its own"
    );
}

/// A store that keeps the cursors itself (PostgreSQL) reads what continuing a walk needs at once
/// (`resume`): the same standing, member access and remembered cursor as `standing`,
/// `participation` and `CursorStore::recall` give one by one. Others answer `None`.
pub async fn resuming_reads_the_standing_access_and_cursor_at_once(s: &Stores) {
    listing_fixture(s, &[Some(10_100), None]).await;
    let joint = std::ptr::addr_eq(Arc::as_ptr(&s.conversations), Arc::as_ptr(&s.cursors));
    let cursor = parley_domain::Cursor {
        key: 10_100,
        snapshot: s.conversations.snapshot().await.unwrap(),
    };
    s.cursors
        .remember(&app("a"), "all", &cid("c0"), cursor.clone())
        .await;
    let resume = |id: &'static str, member: Option<&'static str>, list: &'static str| async move {
        let query = ConversationQuery {
            member: member.map(uid),
            ..Default::default()
        };
        s.conversations
            .resume(&app("a"), &cid(id), &query, list)
            .await
            .unwrap()
    };
    let Some(resumed) = resume("c0", Some("u"), "all").await else {
        assert!(!joint, "a store that keeps the cursors resumes in one read");
        return;
    };
    assert_eq!(
        resumed,
        parley_domain::Resume {
            standing: s
                .conversations
                .standing(&app("a"), &cid("c0"))
                .await
                .unwrap(),
            access: Some(Access::ReadWrite),
            cursor: Some(cursor),
        }
    );
    let resumed = resume("c1", None, "all").await.unwrap();
    assert_eq!(
        resumed,
        parley_domain::Resume {
            standing: Some(Standing {
                created_at: 1001,
                last_message_at: None,
            }),
            access: None,
            cursor: None,
        },
        "no member, no cursor remembered"
    );
    let other = resume("c0", Some("nobody"), "another list").await.unwrap();
    assert_eq!((other.access, other.cursor), (None, None));
    let missing = resume("c9", Some("u"), "all").await.unwrap();
    assert_eq!(missing.standing, None);
}

pub async fn listing_places_conversations_by_their_last_message_as_of_the_snapshot(s: &Stores) {
    listing_fixture(s, &[Some(300), Some(200), Some(100), None]).await;
    let walk = fresh_walk(s).await;
    // After the snapshot, c2 becomes the most recently active and c3 gets its first message.
    send(s, "c2", vec![record("c2", Some("u"), "late", 900)]).await;
    send(s, "c3", vec![record("c3", Some("u"), "first", 950)]).await;
    let page = ids_of(s, &ConversationQuery::default(), &walk).await;
    assert_eq!(
        names(&page),
        ["c3", "c0", "c1", "c2"],
        "placed as of the snapshot"
    );
    assert_eq!(page[3].1, 100);
    // c3 had no message at the snapshot, so a filter on messages does not match it.
    let filtered = ConversationQuery {
        last_message_after: Some(0),
        ..Default::default()
    };
    assert_eq!(
        names(&ids_of(s, &filtered, &walk).await),
        ["c0", "c1", "c2"]
    );
    // The conversations themselves are current.
    let listed = s
        .conversations
        .list(&app("a"), &ConversationQuery::default(), &walk)
        .await
        .unwrap()
        .unwrap()
        .items;
    let c2 = listed.iter().find(|(c, _)| c.id.as_str() == "c2").unwrap();
    assert_eq!(c2.0.last_message.as_ref().unwrap().text, "late");
    // A new walk sees the new order.
    let now = fresh_walk(s).await;
    assert_eq!(
        names(&ids_of(s, &ConversationQuery::default(), &now).await),
        ["c3", "c2", "c0", "c1"]
    );
}

pub async fn standing_reports_creation_and_last_message_time(s: &Stores) {
    listing_fixture(s, &[Some(300), None]).await;
    let c0 = s
        .conversations
        .standing(&app("a"), &cid("c0"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c0,
        Standing {
            created_at: 1000,
            last_message_at: Some(300)
        }
    );
    let c1 = s
        .conversations
        .standing(&app("a"), &cid("c1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c1,
        Standing {
            created_at: 1001,
            last_message_at: None
        }
    );
    assert!(s
        .conversations
        .standing(&app("a"), &cid("zz"))
        .await
        .unwrap()
        .is_none());
    assert!(s
        .conversations
        .standing(&app("b"), &cid("c0"))
        .await
        .unwrap()
        .is_none());
    // It sees the messages sent so far.
    assert!(s.conversations.snapshot().await.unwrap().xmin >= 1);
}

pub async fn a_walk_lists_every_conversation_once_while_others_receive_messages(s: &Stores) {
    const N: usize = 57;
    let activity: Vec<Option<i64>> = (0..N)
        .map(|i| {
            if i % 5 == 0 {
                None
            } else {
                Some(10_000 + (i as i64 % 9) * 10)
            }
        })
        .collect();
    listing_fixture(s, &activity).await;
    let service = ConversationService::new(
        s.conversations.clone(),
        s.cursors.clone(),
        Arc::new(SystemClock),
        Limits::default(),
    );
    for direction in [Direction::Desc, Direction::Asc] {
        for order_by in [OrderBy::LastActivity, OrderBy::CreatedAt] {
            let mut seen = Vec::new();
            let mut after: Option<ConversationId> = None;
            let mut round = 0_i64;
            loop {
                let query = ConversationQuery {
                    limit: 4,
                    starting_after: after.clone(),
                    order_by,
                    direction,
                    ..Default::default()
                };
                let page = service.list(&app("a"), &query).await.unwrap();
                if page.is_empty() {
                    break;
                }
                seen.extend(page.iter().map(|c| c.id.as_str().to_string()));
                after = page.last().map(|c| c.id.clone());
                // Between pages, conversations both behind and ahead of the cursor get messages,
                // and one moves to the very top (and, ascending, the very bottom).
                round += 1;
                for target in [(round * 7) % N as i64, (round * 13 + 3) % N as i64] {
                    let id = format!("c{target}");
                    let at = 20_000 + round;
                    send(s, &id, vec![record(&id, Some("u"), "between pages", at)]).await;
                }
            }
            let mut sorted = seen.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(
                sorted.len(),
                seen.len(),
                "listed twice ({order_by:?} {direction:?}): {seen:?}"
            );
            assert_eq!(
                seen.len(),
                N,
                "missing ({order_by:?} {direction:?}): {seen:?}"
            );
        }
    }
}

pub async fn a_walk_places_conversations_as_of_its_snapshot_when_messages_are_deleted(s: &Stores) {
    listing_fixture(s, &[Some(100), Some(300), Some(200)]).await;
    let newest = send(s, "c0", vec![record("c0", Some("u"), "newest", 500)]).await;
    let walk = fresh_walk(s).await;
    assert!(s
        .messages
        .delete_message(&app("a"), &cid("c0"), &newest[0])
        .await
        .unwrap());
    let page = ids_of(s, &ConversationQuery::default(), &walk).await;
    assert_eq!(
        names(&page),
        ["c0", "c1", "c2"],
        "placed as of the snapshot"
    );
    assert_eq!(page[0].1, 500);
    let listed = s
        .conversations
        .list(&app("a"), &ConversationQuery::default(), &walk)
        .await
        .unwrap()
        .unwrap()
        .items;
    assert_eq!(
        listed[0].0.last_message.as_ref().unwrap().text,
        "m",
        "but current"
    );
    let now = fresh_walk(s).await;
    assert_eq!(
        names(&ids_of(s, &ConversationQuery::default(), &now).await),
        ["c1", "c2", "c0"]
    );
    // A message deleted before the snapshot does not count, one stored after it neither.
    let only = s
        .messages
        .list_messages(&app("a"), &cid("c2"), 10, None)
        .await
        .unwrap()
        .unwrap();
    assert!(s
        .messages
        .delete_message(&app("a"), &cid("c2"), &only[0].id)
        .await
        .unwrap());
    let later = fresh_walk(s).await;
    send(s, "c2", vec![record("c2", Some("u"), "after", 900)]).await;
    let filtered = ConversationQuery {
        last_message_after: Some(0),
        ..Default::default()
    };
    assert_eq!(names(&ids_of(s, &filtered, &later).await), ["c1", "c0"]);
}

pub async fn a_walk_lists_every_conversation_once_while_messages_are_deleted(s: &Stores) {
    const N: usize = 30;
    let mut sent: Vec<Vec<MessageId>> = Vec::new();
    for i in 0..N {
        let id = format!("c{i}");
        conversation_with(s, "a", &id, &["u"], 1000 + i as i64).await;
        let ids = send(
            s,
            &id,
            vec![
                record(&id, Some("u"), "old", 2000 + i as i64),
                record(&id, Some("u"), "new", 5000 + ((i * 7) % N) as i64),
            ],
        )
        .await;
        sent.push(ids);
    }
    let service = ConversationService::new(
        s.conversations.clone(),
        s.cursors.clone(),
        Arc::new(SystemClock),
        Limits::default(),
    );
    for direction in [Direction::Desc, Direction::Asc] {
        let mut seen = Vec::new();
        let mut after: Option<ConversationId> = None;
        let mut round = 0;
        loop {
            let query = ConversationQuery {
                limit: 3,
                starting_after: after.clone(),
                direction,
                ..Default::default()
            };
            let page = service.list(&app("a"), &query).await.unwrap();
            if page.is_empty() {
                break;
            }
            seen.extend(page.iter().map(|c| c.id.as_str().to_string()));
            after = page.last().map(|c| c.id.clone());
            // Between pages, newest messages disappear ahead of and behind the cursor, and new
            // ones arrive.
            round += 1;
            for target in [(round * 5) % N, (round * 11 + 2) % N] {
                let id = format!("c{target}");
                if let Some(newest) = sent[target].pop() {
                    s.messages
                        .delete_message(&app("a"), &cid(&id), &newest)
                        .await
                        .unwrap();
                } else {
                    let ids = send(
                        s,
                        &id,
                        vec![record(&id, Some("u"), "again", 9000 + round as i64)],
                    )
                    .await;
                    sent[target].extend(ids);
                }
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            seen.len(),
            "listed twice ({direction:?}): {seen:?}"
        );
        assert_eq!(seen.len(), N, "missing ({direction:?}): {seen:?}");
    }
}

pub async fn message_times_never_decrease_in_storage_order(s: &Stores) {
    conversation_with(s, "a", "c", &["u", "v"], 1).await;
    send(s, "c", vec![record("c", Some("v"), "later clock", 500)]).await;
    // A writer whose clock is behind, or whose commit came second.
    send(s, "c", vec![record("c", Some("u"), "earlier clock", 300)]).await;
    let listed = s
        .messages
        .list_messages(&app("a"), &cid("c"), 10, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listed[0].text, "earlier clock");
    assert_eq!(
        listed[0].created_at, 500,
        "stored no earlier than the message before it"
    );
    let c = found(s, "a", "c").await.value;
    assert_eq!(c.participants[&uid("u")].read_until, 500);
    // v's message is not newer than u's readUntil, and u's own is the last: nothing unread.
    assert!(!c.is_unread(&uid("u"), &c.participants[&uid("u")]));
}

pub async fn a_send_whose_checks_no_longer_hold_is_a_conflict_and_stores_nothing(s: &Stores) {
    conversation_with(s, "a", "c", &["writer"], 1).await;
    let before = found(s, "a", "c").await;
    let mut reader = before.value.clone();
    reader.participants.insert(
        uid("reader"),
        Participant {
            access: Access::None,
            ..Participant::joined(1)
        },
    );
    s.conversations
        .update(&app("a"), &before, &reader)
        .await
        .unwrap();
    for sender in ["reader", "stranger"] {
        let err = s
            .messages
            .insert_messages(
                &app("a"),
                &cid("c"),
                &[record("c", Some(sender), "x", 10)],
                0,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, RepositoryError::Conflict),
            "{sender}: {err:?}"
        );
    }
    let mut dangling = record("c", Some("writer"), "reply", 10);
    dangling.message.referenced_message_id = Some(MessageId::new("msg_gone").unwrap());
    let err = s
        .messages
        .insert_messages(
            &app("a"),
            &cid("c"),
            &[record("c", None, "ok", 10), dangling],
            0,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict), "{err:?}");
    assert!(texts(s, "c", 10, None).await.is_empty(), "all or nothing");
}

pub async fn an_update_that_read_a_deleted_conversation_never_matches_its_successor(s: &Stores) {
    s.conversations
        .insert(&app("a"), &sample("c1"))
        .await
        .unwrap();
    let stale = found(s, "a", "c1").await;
    assert!(s.conversations.delete(&app("a"), &cid("c1")).await.unwrap());
    let successor = Conversation::new(cid("c1"), 99);
    s.conversations.insert(&app("a"), &successor).await.unwrap();
    let err = s
        .conversations
        .update(&app("a"), &stale, &stale.value)
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict), "{err:?}");
    assert_eq!(found(s, "a", "c1").await.value, successor);
}

// ---------------------------------------------------------------------------------------------
// Users and a user's conversations

fn user(id: &str, name: &str) -> User {
    User {
        id: uid(id),
        name: name.into(),
        email: Some(vec!["a@example.com".into()]),
        phone: None,
        photo_url: Some("https://example.com/a.png".into()),
        welcome_message: None,
        role: Some("buyer".into()),
        locale: Some("de-DE".into()),
        availability_text: None,
        custom: BTreeMap::from([("k".to_string(), "ü".to_string())]),
        push_tokens: ["fcm:abc".to_string()].into_iter().collect(),
        created_at: 5,
    }
}

fn new_user(u: User) -> UserWrite {
    UserWrite {
        expected_version: None,
        user: u,
    }
}

pub async fn users_are_created_found_and_replaced_at_their_version(s: &Stores) {
    assert!(s
        .users
        .find_user(&app("a"), &uid("u"))
        .await
        .unwrap()
        .is_none());
    s.users
        .save_users(&app("a"), &[new_user(user("u", "Alice"))])
        .await
        .unwrap();
    let read = s
        .users
        .find_user(&app("a"), &uid("u"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.value, user("u", "Alice"));
    let err = s
        .users
        .save_users(&app("a"), &[new_user(user("u", "Again"))])
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict), "{err:?}");
    let mut renamed = read.value.clone();
    renamed.name = "Alicia".into();
    renamed.email = None;
    let write = UserWrite {
        expected_version: Some(read.version),
        user: renamed.clone(),
    };
    s.users
        .save_users(&app("a"), std::slice::from_ref(&write))
        .await
        .unwrap();
    let err = s.users.save_users(&app("a"), &[write]).await.unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict), "stale: {err:?}");
    assert_eq!(
        s.users
            .find_user(&app("a"), &uid("u"))
            .await
            .unwrap()
            .unwrap()
            .value,
        renamed
    );
    assert!(s
        .users
        .find_user(&app("b"), &uid("u"))
        .await
        .unwrap()
        .is_none());
}

pub async fn a_user_batch_is_all_or_nothing(s: &Stores) {
    s.users
        .save_users(&app("a"), &[new_user(user("taken", "T"))])
        .await
        .unwrap();
    let err = s
        .users
        .save_users(
            &app("a"),
            &[
                new_user(user("fresh", "F")),
                new_user(user("taken", "Again")),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict), "{err:?}");
    assert!(s
        .users
        .find_user(&app("a"), &uid("fresh"))
        .await
        .unwrap()
        .is_none());
}

pub async fn users_are_listed_in_byte_order_after_a_known_user(s: &Stores) {
    for id in ["b", "a", "é", "Z", "c"] {
        s.users
            .save_users(&app("a"), &[new_user(user(id, id))])
            .await
            .unwrap();
    }
    s.users
        .save_users(&app("other"), &[new_user(user("x", "x"))])
        .await
        .unwrap();
    let ids = |page: Vec<User>| {
        page.into_iter()
            .map(|u| u.id.into_string())
            .collect::<Vec<_>>()
    };
    let all = s
        .users
        .list_users(&app("a"), 10, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(all), ["Z", "a", "b", "c", "é"]);
    let after = s
        .users
        .list_users(&app("a"), 2, Some(uid("a")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(after), ["b", "c"]);
    assert!(s
        .users
        .list_users(&app("a"), 2, Some(uid("x")))
        .await
        .unwrap()
        .is_none());
}

pub async fn participation_reports_a_users_record(s: &Stores) {
    conversation_with(s, "a", "c", &["u"], 7).await;
    let p = s
        .conversations
        .participation(&app("a"), &cid("c"), &uid("u"))
        .await
        .unwrap();
    assert_eq!(p, Some(Participant::joined(7)));
    assert!(s
        .conversations
        .participation(&app("a"), &cid("c"), &uid("v"))
        .await
        .unwrap()
        .is_none());
    assert!(s
        .conversations
        .participation(&app("a"), &cid("x"), &uid("u"))
        .await
        .unwrap()
        .is_none());
}

pub async fn unread_counts_count_only_newer_messages_of_others(s: &Stores) {
    conversation_with(s, "a", "c", &["u", "v"], 1).await;
    conversation_with(s, "a", "d", &["u", "v"], 1).await;
    send(s, "c", vec![record("c", Some("v"), "old", 10)]).await;
    let ids = send(
        s,
        "c",
        vec![
            record("c", Some("v"), "new", 20),
            record("c", Some("u"), "own", 30),
            record("c", None, "system", 40),
        ],
    )
    .await;
    s.messages
        .delete_message(&app("a"), &cid("c"), &ids[0])
        .await
        .unwrap();
    send(s, "c", vec![record("c", Some("v"), "newest", 50)]).await;
    let counts = s
        .messages
        .unread_counts(&app("a"), &uid("u"), &[(cid("c"), 10), (cid("d"), 0)])
        .await
        .unwrap();
    // After 10: "new" was deleted, "own" is u's: the system message and "newest".
    assert_eq!(counts, [2, 0]);
    let later = s
        .messages
        .unread_counts(&app("a"), &uid("u"), &[(cid("c"), 45)])
        .await
        .unwrap();
    assert_eq!(later, [1]);
}

async fn member_ids(s: &Stores, query: ConversationQuery) -> Vec<String> {
    let walk = fresh_walk(s).await;
    s.conversations
        .list(&app("a"), &query, &walk)
        .await
        .unwrap()
        .unwrap()
        .items
        .into_iter()
        .map(|(c, _)| c.id.into_string())
        .collect()
}

/// User records for these IDs in app `a` (a user's list needs one).
async fn users_on_record(s: &Stores, ids: &[&str]) {
    let writes: Vec<UserWrite> = ids.iter().map(|id| new_user(user(id, id))).collect();
    s.users.save_users(&app("a"), &writes).await.unwrap();
}

pub async fn a_users_list_holds_their_conversations_but_not_hidden_or_left_ones(s: &Stores) {
    users_on_record(s, &["u", "v", "w"]).await;
    conversation_with(s, "a", "mine", &["u", "v"], 1).await;
    conversation_with(s, "a", "theirs", &["v"], 2).await;
    conversation_with(s, "a", "hidden", &["u"], 3).await;
    conversation_with(s, "a", "left", &["u"], 4).await;
    conversation_with(s, "b", "other-app", &["u"], 5).await;
    let hidden = found(s, "a", "hidden").await;
    let mut next = hidden.value.clone();
    next.participants.get_mut(&uid("u")).unwrap().access = Access::None;
    s.conversations
        .update(&app("a"), &hidden, &next)
        .await
        .unwrap();
    let left = found(s, "a", "left").await;
    let mut next = left.value.clone();
    next.participants.remove(&uid("u"));
    s.conversations
        .update(&app("a"), &left, &next)
        .await
        .unwrap();
    let of = |user: &str| ConversationQuery {
        member: Some(uid(user)),
        ..Default::default()
    };
    assert_eq!(member_ids(s, of("u")).await, ["mine"]);
    assert_eq!(member_ids(s, of("v")).await, ["theirs", "mine"]);
    assert!(member_ids(s, of("w")).await.is_empty());
    // A user with no record has no list at all (the service answers 404).
    let walk = fresh_walk(s).await;
    let none = s.conversations.list(&app("a"), &of("nobody"), &walk).await;
    assert_eq!(none.unwrap(), None);
}

pub async fn a_walk_without_a_snapshot_is_placed_as_of_the_current_one(s: &Stores) {
    conversation_with(s, "a", "c", &["u"], 1).await;
    send(s, "c", vec![record("c", Some("u"), "m", 10)]).await;
    let now = Walk {
        snapshot: None,
        after: None,
    };
    let query = ConversationQuery::default();
    let page = s
        .conversations
        .list(&app("a"), &query, &now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].1, 10, "placed by the message sent before");
    send(s, "c", vec![record("c", Some("u"), "n", 20)]).await;
    let later = s
        .conversations
        .list(&app("a"), &query, &now)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(later.snapshot, page.snapshot);
    assert_eq!(later.items[0].1, 20, "placed by the newest message");
    // The first page's snapshot, reported with it, still places it as of then.
    let then = Walk {
        snapshot: Some(page.snapshot.clone()),
        after: None,
    };
    let again = s
        .conversations
        .list(&app("a"), &query, &then)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.snapshot, page.snapshot);
    assert_eq!(again.items[0].1, 10, "placed as of the reported snapshot");
}

pub async fn a_users_unread_list_holds_only_conversations_with_unread_messages(s: &Stores) {
    users_on_record(s, &["u", "v"]).await;
    for id in ["quiet", "answered", "waiting", "system"] {
        conversation_with(s, "a", id, &["u", "v"], 1).await;
    }
    send(s, "answered", vec![record("answered", Some("v"), "q", 10)]).await;
    send(s, "answered", vec![record("answered", Some("u"), "a", 20)]).await;
    send(s, "waiting", vec![record("waiting", Some("v"), "q", 30)]).await;
    send(s, "system", vec![record("system", None, "note", 40)]).await;
    let unread = ConversationQuery {
        member: Some(uid("u")),
        unreads_only: true,
        ..Default::default()
    };
    assert_eq!(member_ids(s, unread.clone()).await, ["system", "waiting"]);
    // Reading up to the message takes it off the list.
    let waiting = found(s, "a", "waiting").await;
    let mut next = waiting.value.clone();
    next.participants.get_mut(&uid("u")).unwrap().read_until = 30;
    s.conversations
        .update(&app("a"), &waiting, &next)
        .await
        .unwrap();
    assert_eq!(member_ids(s, unread).await, ["system"]);
}

/// A page of a user's list that comes with unread message counts (the diesel stores count them
/// in the page's own statement) has the counts the message store gives for the same items,
/// whether the walk starts with the page or continues at a snapshot.
pub async fn a_users_page_counts_unread_messages_as_the_message_store_does(s: &Stores) {
    users_on_record(s, &["u", "v"]).await;
    for id in ["none", "some", "own", "deleted"] {
        conversation_with(s, "a", id, &["u", "v"], 1).await;
    }
    send(
        s,
        "some",
        vec![
            record("some", Some("v"), "one", 10),
            record("some", Some("v"), "two", 11),
            record("some", None, "note", 12),
        ],
    )
    .await;
    send(s, "own", vec![record("own", Some("u"), "mine", 20)]).await;
    let gone = send(
        s,
        "deleted",
        vec![
            record("deleted", Some("v"), "x", 30),
            record("deleted", Some("v"), "y", 31),
        ],
    )
    .await;
    assert!(s
        .messages
        .delete_message(&app("a"), &cid("deleted"), &gone[0])
        .await
        .unwrap());
    let query = ConversationQuery {
        member: Some(uid("u")),
        ..Default::default()
    };
    let starting = Walk {
        snapshot: None,
        after: None,
    };
    for walk in [starting, fresh_walk(s).await] {
        let page = s
            .conversations
            .list(&app("a"), &query, &walk)
            .await
            .unwrap()
            .unwrap();
        let reads: Vec<(ConversationId, i64)> = page
            .items
            .iter()
            .map(|(c, _)| (c.id.clone(), c.participants[&uid("u")].read_until))
            .collect();
        let expected = s
            .messages
            .unread_counts(&app("a"), &uid("u"), &reads)
            .await
            .unwrap();
        let by_id: BTreeMap<String, i64> = reads
            .iter()
            .map(|(id, _)| id.as_str().to_owned())
            .zip(expected.iter().copied())
            .collect();
        assert_eq!(
            by_id,
            BTreeMap::from([
                ("deleted".to_owned(), 1),
                ("none".to_owned(), 0),
                ("own".to_owned(), 0),
                ("some".to_owned(), 3),
            ])
        );
        if let Some(counts) = page.unread_counts {
            assert_eq!(counts, expected, "{walk:?}");
        }
    }
}
