//! Contract cases of reactions and file records.

use parley_domain::files::StoredFile;
use parley_domain::reactions::{Added, Emoji};
use parley_domain::{
    AppId, Block, Conversation, ConversationId, FileBlock, Message, MessageId, MessageKind,
    MessageRecord, Origin, Participant, UserId,
};

use crate::Stores;

fn app() -> AppId {
    AppId::new("rich-app").unwrap()
}
fn cid() -> ConversationId {
    ConversationId::new("c").unwrap()
}
fn uid(raw: &str) -> UserId {
    UserId::new(raw).unwrap()
}

async fn conversation_with_message(s: &Stores, content: Vec<Block>) -> MessageId {
    let mut c = Conversation::new(cid(), 1);
    c.participants.insert(uid("a"), Participant::joined(1));
    if s.conversations
        .find(&app(), &cid())
        .await
        .unwrap()
        .is_none()
    {
        s.conversations.insert(&app(), &c).await.unwrap();
    }
    let id = MessageId::generate();
    let record = MessageRecord {
        message: Message {
            id: id.clone(),
            conversation_id: cid(),
            kind: MessageKind::User,
            sender: Some(uid("a")),
            text: parley_domain::content::plain_text(&content),
            content,
            custom: Default::default(),
            created_at: 10,
            edited_at: None,
            referenced_message_id: None,
            origin: Origin::Rest,
            reactions: Default::default(),
        },
        idempotency_key: None,
    };
    s.messages
        .insert_messages(&app(), &cid(), &[record], 0)
        .await
        .unwrap()
        .unwrap();
    id
}

pub async fn reactions_keep_the_message_summary_in_step(s: &Stores) {
    let id = conversation_with_message(s, vec![Block::plain("hi")]).await;
    let thumbs = Emoji::parse("👍").unwrap();
    let heart = Emoji::parse("❤").unwrap();
    let r = &s.reactions;
    let add = |e: &Emoji, u: &str, at: i64| {
        let (e, u) = (e.clone(), uid(u));
        let id = id.clone();
        async move {
            r.add_reaction(&app(), &cid(), &id, &e, &u, at, 2, &[])
                .await
                .unwrap()
        }
    };
    assert_eq!(add(&thumbs, "a", 100).await, Added::Added);
    assert_eq!(add(&thumbs, "a", 101).await, Added::AlreadyThere);
    assert_eq!(add(&thumbs, "b", 102).await, Added::Added);
    assert_eq!(add(&heart, "a", 103).await, Added::Added);
    let rocket = Emoji::parse("🚀").unwrap();
    assert_eq!(add(&rocket, "a", 104).await, Added::LimitReached);
    let found = s
        .messages
        .find_message(&app(), &cid(), &id)
        .await
        .unwrap()
        .unwrap();
    let summary = &found.value.reactions;
    assert_eq!(summary["👍"].count, 2);
    assert_eq!(summary["👍"].created_at, 100);
    assert_eq!(summary[heart.as_str()].count, 1);
    // The conversation's copy of its last message follows.
    let c = s.conversations.find(&app(), &cid()).await.unwrap().unwrap();
    assert_eq!(&c.value.last_message.unwrap().reactions, summary);
    let page = r
        .list_reactions(&app(), &id, &thumbs, 10, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page, vec![(uid("a"), 100), (uid("b"), 102)]);
    let after = r
        .list_reactions(&app(), &id, &thumbs, 10, Some(uid("a")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, vec![(uid("b"), 102)]);
    assert!(r
        .list_reactions(&app(), &id, &thumbs, 10, Some(uid("z")))
        .await
        .unwrap()
        .is_none());
    // Removing the first one moves the summary's time to the next.
    assert_eq!(
        r.remove_reaction(&app(), &cid(), &id, &thumbs, &uid("a"), &[])
            .await
            .unwrap(),
        Some(true)
    );
    assert_eq!(
        r.remove_reaction(&app(), &cid(), &id, &thumbs, &uid("a"), &[])
            .await
            .unwrap(),
        Some(false)
    );
    let found = s
        .messages
        .find_message(&app(), &cid(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.value.reactions["👍"].count, 1);
    assert_eq!(found.value.reactions["👍"].created_at, 102);
    // A deleted message takes its reactions along.
    assert!(s
        .messages
        .delete_message(&app(), &cid(), &id)
        .await
        .unwrap());
    assert_eq!(
        r.add_reaction(&app(), &cid(), &id, &thumbs, &uid("a"), 200, 2, &[])
            .await
            .unwrap(),
        Added::NoMessage
    );
    assert_eq!(
        r.remove_reaction(&app(), &cid(), &id, &thumbs, &uid("b"), &[])
            .await
            .unwrap(),
        None
    );
}

pub async fn a_file_is_unused_until_a_message_refers_to_it_and_again_after(s: &Stores) {
    let file = |token: &str, at: i64| StoredFile {
        app: app(),
        token: token.into(),
        filename: "a.png".into(),
        content_type: "image/png".into(),
        size: 3,
        subtype: Some("image".into()),
        width: Some(2),
        height: None,
        duration: Some(parley_domain::Finite(1.5)),
        created_at: at,
    };
    s.files.insert_file(&file("file_used", 10)).await.unwrap();
    s.files.insert_file(&file("file_idle", 20)).await.unwrap();
    s.files.insert_file(&file("file_new", 5_000)).await.unwrap();
    assert_eq!(
        s.files.find_file("file_used").await.unwrap(),
        Some(file("file_used", 10))
    );
    assert!(s.files.find_file("file_none").await.unwrap().is_none());
    let mut block = FileBlock::token_only("file_used");
    block.filename = "a.png".into();
    let id = conversation_with_message(s, vec![Block::File(block)]).await;
    let unused: Vec<String> = s
        .files
        .unused_files(1_000, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.token)
        .collect();
    assert_eq!(unused, ["file_idle"]);
    assert!(s
        .messages
        .delete_message(&app(), &cid(), &id)
        .await
        .unwrap());
    let unused: Vec<String> = s
        .files
        .unused_files(1_000, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.token)
        .collect();
    assert_eq!(unused, ["file_used", "file_idle"]);
    assert!(s.files.delete_unused_file("file_used").await.unwrap());
    assert!(s.files.find_file("file_used").await.unwrap().is_none());
}
