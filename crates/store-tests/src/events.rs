//! Contract cases of the outbox: events stored atomically with their change, the log's order,
//! delivery leases, attempts, retries and retention.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use parley_domain::events::{
    AttemptOutcome, DeliveryStatus, EventQuery, EventRecorder, EventType, NewEvent,
};
use parley_domain::{
    AppId, Conversation, ConversationId, ConversationService, Message, MessageId, MessageKind,
    MessageRecord, Participant, RepositoryError, SystemClock, User, UserId, UserWrite, Versioned,
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

fn event(id: &str, kind: EventType, at: i64, urls: &[&str]) -> NewEvent {
    NewEvent {
        id: id.into(),
        kind,
        created_at: at,
        body: format!("{{\"id\":\"{id}\",\"type\":\"{kind}\"}}"),
        deliver_to: urls.iter().map(|u| (*u).to_string()).collect(),
        retry_until: at + 60_000,
    }
}

fn all(limit: usize) -> EventQuery {
    EventQuery {
        after: None,
        limit,
        types: BTreeSet::new(),
    }
}

async fn ids(s: &Stores, app_id: &str) -> Vec<String> {
    s.events
        .list_events(&app(app_id), &all(1000))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

fn conversation(id: &str, users: &[&str]) -> Conversation {
    let mut c = Conversation::new(cid(id), 1);
    for u in users {
        c.participants.insert(uid(u), Participant::joined(1));
    }
    c
}

fn message(conversation: &str, text: &str, at: i64) -> MessageRecord {
    MessageRecord {
        message: Message {
            content: Vec::new(),
            reactions: Default::default(),
            id: MessageId::generate(),
            conversation_id: cid(conversation),
            kind: MessageKind::System,
            sender: None,
            text: text.into(),
            custom: BTreeMap::new(),
            created_at: at,
            edited_at: None,
            referenced_message_id: None,
            origin: parley_domain::Origin::Rest,
        },
        idempotency_key: None,
    }
}

fn user(id: &str) -> User {
    User {
        id: uid(id),
        name: "n".into(),
        email: None,
        phone: None,
        photo_url: None,
        welcome_message: None,
        role: None,
        locale: None,
        availability_text: None,
        custom: BTreeMap::new(),
        push_tokens: BTreeSet::new(),
        created_at: 1,
    }
}

pub async fn events_are_stored_with_the_write_that_commits_and_not_with_one_that_fails(s: &Stores) {
    let a = app("a");
    let c = conversation("c", &["u"]);
    s.conversations
        .insert_recording(
            &a,
            &c,
            &[event("evt_1", EventType::ConversationCreated, 1, &[])],
        )
        .await
        .unwrap();
    // A second insert of the same ID is a conflict: its event is not stored either.
    let again = s
        .conversations
        .insert_recording(
            &a,
            &c,
            &[event("evt_2", EventType::ConversationCreated, 2, &[])],
        )
        .await;
    assert!(matches!(again, Err(RepositoryError::Conflict)));
    // An update at a stale version: the same.
    let stale = Versioned {
        value: c.clone(),
        version: -1,
    };
    let mut changed = c.clone();
    changed.subject = Some("s".into());
    let lost = s
        .conversations
        .update_recording(
            &a,
            &stale,
            &changed,
            &[event(
                "evt_3",
                EventType::ConversationUpdated,
                3,
                &["http://x"],
            )],
        )
        .await;
    assert!(matches!(lost, Err(RepositoryError::Conflict)));
    assert_eq!(ids(s, "a").await, ["evt_1"]);
    assert!(s
        .events
        .claim_deliveries(i64::MAX / 2, 1000, 10)
        .await
        .unwrap()
        .is_empty());
    // Deleting a conversation that does not exist records nothing.
    let deleted = s
        .conversations
        .delete_recording(
            &a,
            &cid("nope"),
            &[event("evt_4", EventType::ConversationDeleted, 4, &[])],
        )
        .await
        .unwrap();
    assert!(!deleted);
    assert_eq!(ids(s, "a").await, ["evt_1"]);
}

pub async fn every_write_kind_records_its_events_atomically(s: &Stores) {
    let a = app("a");
    s.conversations
        .insert(&a, &conversation("c", &["u"]))
        .await
        .unwrap();
    let m = message("c", "hi", 10);
    let stored = s
        .messages
        .insert_messages_recording(
            &a,
            &cid("c"),
            std::slice::from_ref(&m),
            0,
            &[vec![event("evt_sent", EventType::MessageSent, 10, &[])]],
        )
        .await
        .unwrap();
    assert_eq!(stored, Some(vec![m.message.id.clone()]));
    // A record answered from its idempotency key records nothing.
    let mut keyed = message("c", "keyed", 11);
    keyed.idempotency_key = Some("k".into());
    let mut again = message("c", "keyed again", 12);
    again.idempotency_key = Some("k".into());
    for (record, id) in [(keyed, "evt_keyed"), (again, "evt_again")] {
        s.messages
            .insert_messages_recording(
                &a,
                &cid("c"),
                &[record],
                0,
                &[vec![event(id, EventType::MessageSent, 11, &[])]],
            )
            .await
            .unwrap();
    }
    let found = s
        .messages
        .find_message(&a, &cid("c"), &m.message.id)
        .await
        .unwrap()
        .unwrap();
    let mut edited = found.value.clone();
    edited.text = "edited".into();
    s.messages
        .update_message_recording(
            &a,
            &found,
            &edited,
            &[event("evt_edit", EventType::MessageUpdated, 13, &[])],
        )
        .await
        .unwrap();
    // A stale edit records nothing.
    assert!(matches!(
        s.messages
            .update_message_recording(
                &a,
                &found,
                &edited,
                &[event("evt_stale", EventType::MessageUpdated, 14, &[])],
            )
            .await,
        Err(RepositoryError::Conflict)
    ));
    assert!(s
        .messages
        .delete_message_recording(
            &a,
            &cid("c"),
            &m.message.id,
            &[event("evt_del", EventType::MessageDeleted, 15, &[])],
        )
        .await
        .unwrap());
    assert!(!s
        .messages
        .delete_message_recording(
            &a,
            &cid("c"),
            &m.message.id,
            &[event("evt_del_again", EventType::MessageDeleted, 16, &[])],
        )
        .await
        .unwrap());
    s.users
        .save_users_recording(
            &a,
            &[UserWrite {
                expected_version: None,
                user: user("u"),
            }],
            &[event("evt_user", EventType::UserCreated, 17, &[])],
        )
        .await
        .unwrap();
    // Creating the same user again is a conflict: nothing recorded.
    assert!(matches!(
        s.users
            .save_users_recording(
                &a,
                &[UserWrite {
                    expected_version: None,
                    user: user("u"),
                }],
                &[event("evt_user_again", EventType::UserCreated, 18, &[])],
            )
            .await,
        Err(RepositoryError::Conflict)
    ));
    assert!(s
        .conversations
        .delete_recording(
            &a,
            &cid("c"),
            &[event("evt_gone", EventType::ConversationDeleted, 19, &[])],
        )
        .await
        .unwrap());
    assert_eq!(
        ids(s, "a").await,
        [
            "evt_sent",
            "evt_keyed",
            "evt_edit",
            "evt_del",
            "evt_user",
            "evt_gone"
        ]
    );
}

pub async fn the_log_is_ordered_filtered_paged_and_per_app(s: &Stores) {
    let (a, b) = (app("a"), app("b"));
    s.conversations
        .insert_recording(
            &a,
            &conversation("c1", &[]),
            &[
                event("evt_a1", EventType::ConversationCreated, 1, &[]),
                event("evt_a2", EventType::ParticipantJoined, 1, &[]),
            ],
        )
        .await
        .unwrap();
    s.conversations
        .insert_recording(
            &b,
            &conversation("c1", &[]),
            &[event("evt_b1", EventType::ConversationCreated, 2, &[])],
        )
        .await
        .unwrap();
    s.conversations
        .insert_recording(
            &a,
            &conversation("c2", &[]),
            &[event("evt_a3", EventType::ConversationCreated, 3, &[])],
        )
        .await
        .unwrap();
    assert_eq!(ids(s, "a").await, ["evt_a1", "evt_a2", "evt_a3"]);
    assert_eq!(ids(s, "b").await, ["evt_b1"]);
    let first = s
        .events
        .event_position(&a, "evt_a1")
        .await
        .unwrap()
        .expect("known");
    assert_eq!(s.events.event_position(&b, "evt_a1").await.unwrap(), None);
    assert_eq!(
        s.events.event_seq(&a, "evt_a1").await.unwrap(),
        Some(first.seq)
    );
    let page = s
        .events
        .list_events(
            &a,
            &EventQuery {
                after: Some(first),
                limit: 1,
                types: BTreeSet::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "evt_a2");
    assert_eq!(page[0].kind, EventType::ParticipantJoined);
    assert_eq!(
        page[0].body,
        "{\"id\":\"evt_a2\",\"type\":\"participant.joined\"}"
    );
    let created = s
        .events
        .list_events(
            &a,
            &EventQuery {
                after: None,
                limit: 10,
                types: [EventType::ConversationCreated].into_iter().collect(),
            },
        )
        .await
        .unwrap();
    let created: Vec<_> = created.into_iter().map(|e| e.id).collect();
    assert_eq!(created, ["evt_a1", "evt_a3"]);
    let latest = s.events.latest_position(&a).await.unwrap();
    assert_eq!(latest, s.events.event_position(&a, "evt_a3").await.unwrap());
    assert_eq!(s.events.latest_position(&app("none")).await.unwrap(), None);
}

async fn one_pending(s: &Stores, urls: &[&str]) {
    s.conversations
        .insert_recording(
            &app("a"),
            &conversation("c", &[]),
            &[event("evt_1", EventType::ConversationCreated, 100, urls)],
        )
        .await
        .unwrap();
}

pub async fn a_delivery_is_claimed_by_one_deliverer_until_its_lease_runs_out(s: &Stores) {
    one_pending(s, &["http://one", "http://two"]).await;
    // Not due before the event's time.
    assert!(s
        .events
        .claim_deliveries(99, 1000, 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = s.events.claim_deliveries(100, 1000, 10).await.unwrap();
    let urls: Vec<_> = claimed.iter().map(|c| c.url.as_str()).collect();
    assert_eq!(urls, ["http://one", "http://two"]);
    assert_eq!(claimed[0].event_id, "evt_1");
    assert_eq!(claimed[0].app, app("a"));
    assert_eq!(claimed[0].attempts, 0);
    assert_eq!(claimed[0].retry_until, 100 + 60_000);
    assert!(claimed[0].body.contains("evt_1"));
    // Leased: nobody else gets it while the lease runs.
    assert!(s
        .events
        .claim_deliveries(500, 1000, 10)
        .await
        .unwrap()
        .is_empty());
    // A deliverer that died holding it: the lease runs out and another takes over.
    assert_eq!(
        s.events
            .claim_deliveries(1100, 1000, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    // Concurrent claims at the same moment: each delivery goes to one of them.
    let (x, y) = tokio::join!(
        s.events.claim_deliveries(5000, 1000, 10),
        s.events.claim_deliveries(5000, 1000, 10)
    );
    assert_eq!(x.unwrap().len() + y.unwrap().len(), 2);
}

pub async fn attempts_are_recorded_retried_when_due_and_failed_at_the_end(s: &Stores) {
    one_pending(s, &["http://one"]).await;
    assert_eq!(s.events.next_due().await.unwrap(), Some(100));
    let claimed = s.events.claim_deliveries(100, 1000, 10).await.unwrap();
    let seq = claimed[0].event_seq;
    s.events
        .finish_attempt(
            seq,
            "http://one",
            &AttemptOutcome::Failed {
                status: Some(500),
                error: None,
                next_attempt_at: Some(2000),
            },
        )
        .await
        .unwrap();
    assert_eq!(s.events.next_due().await.unwrap(), Some(2000));
    assert!(s
        .events
        .claim_deliveries(1999, 1000, 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.events.claim_deliveries(2000, 1000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    s.events
        .finish_attempt(
            seq,
            "http://one",
            &AttemptOutcome::Failed {
                status: None,
                error: Some("connection refused".into()),
                next_attempt_at: None,
            },
        )
        .await
        .unwrap();
    let items = s
        .events
        .list_deliveries(&app("a"), None, 10, None)
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status, DeliveryStatus::Failed);
    assert_eq!(items[0].attempts, 2);
    assert_eq!(items[0].last_status, None);
    assert_eq!(items[0].last_error.as_deref(), Some("connection refused"));
    assert_eq!(items[0].next_attempt_at, None);
    assert_eq!(s.events.next_due().await.unwrap(), None);
    assert!(s
        .events
        .claim_deliveries(i64::MAX / 2, 1000, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn retry_schedules_failed_deliveries_again(s: &Stores) {
    one_pending(s, &["http://one"]).await;
    let seq = s.events.claim_deliveries(100, 1000, 10).await.unwrap()[0].event_seq;
    s.events
        .finish_attempt(
            seq,
            "http://one",
            &AttemptOutcome::Failed {
                status: Some(404),
                error: None,
                next_attempt_at: None,
            },
        )
        .await
        .unwrap();
    assert!(!s
        .events
        .retry_deliveries(&app("a"), "evt_unknown", 5000, 9000)
        .await
        .unwrap());
    assert!(!s
        .events
        .retry_deliveries(&app("b"), "evt_1", 5000, 9000)
        .await
        .unwrap());
    assert!(s
        .events
        .retry_deliveries(&app("a"), "evt_1", 5000, 9000)
        .await
        .unwrap());
    let claimed = s.events.claim_deliveries(5000, 1000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].retry_until, 9000);
    s.events
        .finish_attempt(
            seq,
            "http://one",
            &AttemptOutcome::Delivered { status: 204 },
        )
        .await
        .unwrap();
    let items = s
        .events
        .list_deliveries(&app("a"), Some(DeliveryStatus::Delivered), 10, None)
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].attempts, 2);
    assert_eq!(items[0].last_status, Some(204));
}

pub async fn deliveries_are_listed_newest_event_first_by_status(s: &Stores) {
    let a = app("a");
    for (i, id) in ["evt_1", "evt_2", "evt_3"].into_iter().enumerate() {
        s.conversations
            .insert_recording(
                &a,
                &conversation(&format!("c{i}"), &[]),
                &[event(
                    id,
                    EventType::ConversationCreated,
                    100,
                    &["http://b", "http://a"],
                )],
            )
            .await
            .unwrap();
    }
    s.conversations
        .insert_recording(
            &app("other"),
            &conversation("c", &[]),
            &[event(
                "evt_x",
                EventType::ConversationCreated,
                100,
                &["http://a"],
            )],
        )
        .await
        .unwrap();
    let listed = s.events.list_deliveries(&a, None, 10, None).await.unwrap();
    let shown: Vec<(&str, &str)> = listed
        .iter()
        .map(|d| (d.event_id.as_str(), d.url.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("evt_3", "http://a"),
            ("evt_3", "http://b"),
            ("evt_2", "http://a"),
            ("evt_2", "http://b"),
            ("evt_1", "http://a"),
            ("evt_1", "http://b"),
        ]
    );
    assert!(listed.iter().all(|d| d.status == DeliveryStatus::Pending));
    assert!(listed.iter().all(|d| d.next_attempt_at == Some(100)));
    let after = s.events.event_seq(&a, "evt_3").await.unwrap();
    let page = s.events.list_deliveries(&a, None, 3, after).await.unwrap();
    let shown: Vec<(&str, &str)> = page
        .iter()
        .map(|d| (d.event_id.as_str(), d.url.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("evt_2", "http://a"),
            ("evt_2", "http://b"),
            ("evt_1", "http://a")
        ]
    );
    assert!(s
        .events
        .list_deliveries(&a, Some(DeliveryStatus::Failed), 10, None)
        .await
        .unwrap()
        .is_empty());
}

pub async fn pruning_drops_old_settled_events_and_keeps_pending_ones(s: &Stores) {
    let a = app("a");
    s.conversations
        .insert_recording(
            &a,
            &conversation("c1", &[]),
            &[
                event("evt_plain", EventType::ConversationCreated, 100, &[]),
                event(
                    "evt_pending",
                    EventType::ParticipantJoined,
                    100,
                    &["http://x"],
                ),
                event("evt_done", EventType::ParticipantJoined, 100, &["http://y"]),
                event("evt_new", EventType::ParticipantJoined, 5000, &[]),
            ],
        )
        .await
        .unwrap();
    let seq = s.events.event_seq(&a, "evt_done").await.unwrap().unwrap();
    s.events
        .finish_attempt(seq, "http://y", &AttemptOutcome::Delivered { status: 200 })
        .await
        .unwrap();
    let pruned = s.events.prune_events(1000).await.unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(ids(s, "a").await, ["evt_pending", "evt_new"]);
    // Its delivery is still there to be made.
    assert_eq!(
        s.events.claim_deliveries(100, 10, 10).await.unwrap().len(),
        1
    );
}

pub async fn concurrent_writes_are_logged_so_that_a_reader_never_skips_one(s: &Stores) {
    // Writers commit concurrently while a reader follows the log with `after`: whatever order
    // their commits take, the reader sees every event exactly once.
    let service = Arc::new(
        ConversationService::new(
            s.conversations.clone(),
            s.cursors.clone(),
            Arc::new(SystemClock),
            parley_domain::Limits::default(),
        )
        .with_events(
            EventRecorder::new(Arc::new(Plain), BTreeMap::new(), Arc::new(SystemClock), 0),
            parley_domain::events::ReadLookup {
                messages: s.messages.clone(),
                users: s.users.clone(),
            },
        ),
    );
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let service = service.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    let patch = parley_domain::ConversationPatch {
                        subject: parley_domain::Field::Set(format!("{i}")),
                        ..Default::default()
                    };
                    service
                        .put(&app("a"), &cid(&format!("w{w}")), &patch)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let done = writers.iter().all(tokio::task::JoinHandle::is_finished);
        let page = s
            .events
            .list_events(
                &app("a"),
                &EventQuery {
                    after,
                    limit: 7,
                    types: BTreeSet::new(),
                },
            )
            .await
            .unwrap();
        if let Some(last) = page.last() {
            after = Some(last.position());
        }
        let empty = page.is_empty();
        seen.extend(page.into_iter().map(|e| e.id));
        if done && empty {
            break;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    // 8 conversations: created once, then 9 subject changes each.
    assert_eq!(seen.len(), 8 * 10);
    assert_eq!(ids(s, "a").await.len(), 80);
}

/// An encoder for the contract: the type and ID are enough.
struct Plain;

impl parley_domain::events::EventEncoder for Plain {
    fn encode(&self, event: &parley_domain::events::Event) -> String {
        format!("{{\"id\":\"{}\",\"type\":\"{}\"}}", event.id, event.kind)
    }
}

pub async fn a_read_until_move_finds_the_newest_message_of_others_it_covers(s: &Stores) {
    let a = app("a");
    s.conversations
        .insert(&a, &conversation("c", &["me", "you"]))
        .await
        .unwrap();
    let mut records = Vec::new();
    for (sender, at) in [
        (Some("you"), 10),
        (None, 20),
        (Some("me"), 30),
        (Some("you"), 40),
    ] {
        let mut r = message("c", &format!("at {at}"), at);
        if let Some(sender) = sender {
            r.message.kind = MessageKind::User;
            r.message.sender = Some(uid(sender));
        }
        records.push(r);
    }
    s.messages
        .insert_messages(&a, &cid("c"), &records, 0)
        .await
        .unwrap();
    let found = |after, until| {
        let messages = s.messages.clone();
        async move {
            messages
                .newest_read_by_move(&app("a"), &cid("c"), &uid("me"), after, until)
                .await
                .unwrap()
                .map(|m| m.text)
        }
    };
    assert_eq!(found(0, 100).await.as_deref(), Some("at 40"));
    // Own messages do not count; system messages do.
    assert_eq!(found(0, 39).await.as_deref(), Some("at 20"));
    assert_eq!(found(20, 39).await, None);
    assert_eq!(found(0, 10).await.as_deref(), Some("at 10"));
    assert_eq!(found(10, 10).await, None);
    // Deleted messages are not read.
    s.messages
        .delete_message(&a, &cid("c"), &records[3].message.id)
        .await
        .unwrap();
    assert_eq!(found(30, 100).await, None);
    assert_eq!(
        s.messages
            .newest_read_by_move(&a, &cid("other"), &uid("me"), 0, 100)
            .await
            .unwrap(),
        None
    );
}

pub async fn the_probe_is_ready_and_counts_the_outbox_backlog(s: &Stores) {
    s.probe.ready().await.expect("a fresh store is ready");
    assert_eq!(s.probe.outbox_backlog().await.unwrap(), 0);
    one_pending(s, &["http://one", "http://two"]).await;
    assert_eq!(s.probe.outbox_backlog().await.unwrap(), 2);
    let claimed = s.events.claim_deliveries(100, 1000, 10).await.unwrap();
    s.events
        .finish_attempts(&[(
            claimed[0].event_seq,
            claimed[0].url.clone(),
            AttemptOutcome::Delivered { status: 200 },
        )])
        .await
        .unwrap();
    assert_eq!(
        s.probe.outbox_backlog().await.unwrap(),
        1,
        "delivered is no backlog"
    );
    let stats = s.probe.stats();
    assert!(stats.idle <= stats.connections, "{stats:?}");
}
