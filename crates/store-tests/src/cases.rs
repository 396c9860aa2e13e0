//! The contract cases. Each takes fresh, empty stores and panics when the adapter breaks the
//! port's documented contract.

use std::collections::BTreeMap;
use std::sync::Arc;

use parley_domain::{
    Access, AppId, Conversation, ConversationId, ConversationPatch, ConversationService,
    CustomPatch, Limits, Notify, Participant, RepositoryError, SecretKey, SystemClock, UserId,
    Versioned,
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
    c.participants.insert(uid("123456"), Participant::default());
    c.participants.insert(
        uid("654321"),
        Participant {
            access: Access::Read,
            notify: Notify::MentionsOnly,
        },
    );
    c.participants.insert(
        uid("silent"),
        Participant {
            access: Access::ReadWrite,
            notify: Notify::Off,
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
        .insert(uid("intruder"), Participant::default());
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
        .insert(uid("late"), Participant::default());
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
        },
    );
    after
        .participants
        .insert(uid("newcomer"), Participant::default());
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
        .insert(uid("b-user"), Participant::default());
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
        c.participants.insert(uid(id), Participant::default());
        s.conversations.insert(&app(id), &c).await.unwrap();
        assert_eq!(found(s, id, id).await.value, c, "{id}");
    }
}

pub async fn concurrent_puts_through_the_service_all_take_effect(s: &Stores) {
    const WRITERS: usize = 24;
    const CONVERSATIONS: usize = 3;
    let service = Arc::new(ConversationService::new(
        s.conversations.clone(),
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
