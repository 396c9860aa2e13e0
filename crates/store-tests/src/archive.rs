//! Contract cases of `ArchiveRepository`: whole conversations written many at a time.

use std::collections::BTreeMap;

use parley_domain::archive::{WholeConversation, WholeReaction};
use parley_domain::files::StoredFile;
use parley_domain::reactions::Emoji;
use parley_domain::{
    Access, AppId, Block, Conversation, ConversationId, ConversationQuery, FileBlock, Message,
    MessageId, MessageKind, MessageRecord, Notify, Origin, Participant, ReactionSummary,
    RepositoryError, UserId, Walk,
};

use crate::Stores;

fn app() -> AppId {
    AppId::new("archive-app").unwrap()
}
fn cid(raw: &str) -> ConversationId {
    ConversationId::new(raw).unwrap()
}
fn uid(raw: &str) -> UserId {
    UserId::new(raw).unwrap()
}
fn mid(raw: &str) -> MessageId {
    MessageId::new(raw).unwrap()
}

fn message(conversation: &str, id: &str, sender: &str, at: i64, content: Vec<Block>) -> Message {
    Message {
        id: mid(id),
        conversation_id: cid(conversation),
        kind: MessageKind::User,
        sender: Some(uid(sender)),
        text: parley_domain::content::plain_text(&content),
        content,
        custom: BTreeMap::from([("k".to_owned(), id.to_owned())]),
        created_at: at,
        edited_at: Some(at + 1),
        referenced_message_id: None,
        origin: Origin::Import,
        reactions: BTreeMap::new(),
    }
}

fn conversation(id: &str, created_at: i64, people: &[(&str, Participant)]) -> Conversation {
    let mut c = Conversation::new(cid(id), created_at);
    c.subject = Some(format!("about {id}"));
    for (user, p) in people {
        c.participants.insert(uid(user), *p);
    }
    c
}

/// Whether conversation `id` is stored.
async fn stored(s: &Stores, id: &str) -> bool {
    s.conversations
        .find(&app(), &cid(id))
        .await
        .unwrap()
        .is_some()
}

async fn member_list(s: &Stores, user: &str) -> Vec<String> {
    let query = ConversationQuery {
        limit: 10,
        member: Some(uid(user)),
        ..Default::default()
    };
    let walk = Walk {
        snapshot: None,
        after: None,
    };
    // A member list needs the user on record.
    let page = s.conversations.list(&app(), &query, &walk).await.unwrap();
    page.map(|p| p.items.into_iter().map(|(c, _)| c.id.to_string()).collect())
        .unwrap_or_default()
}

pub async fn whole_conversations_are_stored_with_their_messages_and_reactions(s: &Stores) {
    let read = Participant {
        access: Access::Read,
        notify: Notify::Off,
        read_until: 25,
        read_mark: 28,
    };
    let a = Participant::joined(5);
    s.files
        .insert_file(&StoredFile {
            app: app(),
            token: "file_whole".into(),
            filename: "a.png".into(),
            content_type: "image/png".into(),
            size: 3,
            subtype: None,
            width: None,
            height: None,
            duration: None,
            created_at: 1,
        })
        .await
        .unwrap();
    let mut block = FileBlock::token_only("file_whole");
    block.filename = "a.png".into();
    let mut m1 = message("w1", "m1", "a", 20, vec![Block::File(block)]);
    m1.reactions = BTreeMap::from([(
        "👍".to_owned(),
        ReactionSummary {
            count: 2,
            created_at: 35,
        },
    )]);
    let m2 = message("w1", "m2", "b", 30, vec![Block::plain("newest")]);
    // Older than m2 though stored after it: it takes its place by time.
    let m3 = message("w1", "m3", "a", 25, vec![Block::plain("late")]);
    let thumbs = Emoji::parse("👍").unwrap();
    let w1 = WholeConversation {
        conversation: conversation("w1", 10, &[("a", a), ("b", read)]),
        messages: vec![m1.clone(), m2.clone(), m3.clone()],
        reactions: vec![
            WholeReaction {
                message: mid("m1"),
                emoji: thumbs.clone(),
                user: uid("b"),
                created_at: 40,
            },
            WholeReaction {
                message: mid("m1"),
                emoji: thumbs.clone(),
                user: uid("a"),
                created_at: 35,
            },
        ],
    };
    let w2 = WholeConversation {
        conversation: conversation("w2", 5, &[("a", a)]),
        messages: Vec::new(),
        reactions: Vec::new(),
    };
    s.archive.insert_whole(&app(), &[w1, w2]).await.unwrap();

    let found = s
        .conversations
        .find(&app(), &cid("w1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.value.subject.as_deref(), Some("about w1"));
    assert_eq!(found.value.created_at, 10);
    assert_eq!(found.value.participants[&uid("b")], read);
    assert_eq!(found.value.participants[&uid("a")], a);
    assert_eq!(found.value.last_message.as_ref(), Some(&m2));
    let listed = s
        .messages
        .list_messages(&app(), &cid("w1"), 10, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listed, vec![m2.clone(), m3, m1.clone()]);
    let page = s
        .reactions
        .list_reactions(&app(), &mid("m1"), &thumbs, 10, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page, vec![(uid("a"), 35), (uid("b"), 40)]);
    // The file is in use by m1.
    assert!(s.files.unused_files(1_000, 10).await.unwrap().is_empty());
    let w2 = s
        .conversations
        .find(&app(), &cid("w2"))
        .await
        .unwrap()
        .unwrap();
    assert!(w2.value.last_message.is_none());

    // Lists place them by their last message (w1 at 30, w2 with none at its creation).
    s.users
        .save_users(
            &app(),
            &[parley_domain::UserWrite {
                expected_version: None,
                user: parley_domain::User::create(
                    uid("a"),
                    &parley_domain::UserPatch {
                        name: parley_domain::Field::Set("A".into()),
                        ..Default::default()
                    },
                    1,
                )
                .unwrap(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(member_list(s, "a").await, ["w1", "w2"]);

    // Later writes go on from there: a send becomes the last message and moves w2 first.
    let sent = message("w2", "m4", "a", 50, vec![Block::plain("later")]);
    s.messages
        .insert_messages(
            &app(),
            &cid("w2"),
            &[MessageRecord {
                message: sent,
                idempotency_key: None,
            }],
            0,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(member_list(s, "a").await, ["w2", "w1"]);
    let thumbs_b = s
        .reactions
        .remove_reaction(&app(), &cid("w1"), &mid("m1"), &thumbs, &uid("b"), &[])
        .await
        .unwrap();
    assert_eq!(thumbs_b, Some(true));
    let m1_now = s
        .messages
        .find_message(&app(), &cid("w1"), &mid("m1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m1_now.value.reactions["👍"].count, 1);
}

pub async fn a_whole_batch_with_a_stored_conversation_is_a_conflict_and_writes_nothing(s: &Stores) {
    let a = Participant::joined(5);
    s.conversations
        .insert(&app(), &conversation("there", 1, &[("a", a)]))
        .await
        .unwrap();
    let whole = |id: &str| WholeConversation {
        conversation: conversation(id, 2, &[("a", a)]),
        messages: vec![message(
            id,
            &format!("{id}-m"),
            "a",
            3,
            vec![Block::plain("x")],
        )],
        reactions: Vec::new(),
    };
    let outcome = s
        .archive
        .insert_whole(&app(), &[whole("fresh"), whole("there")])
        .await;
    assert!(
        matches!(outcome, Err(RepositoryError::Conflict)),
        "{outcome:?}"
    );
    assert!(!stored(s, "fresh").await);
    let there = s
        .conversations
        .find(&app(), &cid("there"))
        .await
        .unwrap()
        .unwrap();
    assert!(there.value.last_message.is_none());
    // The same conversation twice in one batch is a conflict too.
    let outcome = s
        .archive
        .insert_whole(&app(), &[whole("twice"), whole("twice")])
        .await;
    assert!(
        matches!(outcome, Err(RepositoryError::Conflict)),
        "{outcome:?}"
    );
    assert!(!stored(s, "twice").await);
    // And then it goes in.
    s.archive
        .insert_whole(&app(), &[whole("fresh")])
        .await
        .unwrap();
    assert!(stored(s, "fresh").await);
}
