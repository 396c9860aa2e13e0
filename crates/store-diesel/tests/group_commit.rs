//! SQLite's group commit: writes that wait together commit together, a write that fails its
//! checks fails alone, and every acknowledged write is stored.

use std::sync::Arc;

use parley_domain::{
    AppId, Block, Conversation, ConversationId, ConversationRepository, Message, MessageId,
    MessageKind, MessageRecord, MessageRepository, Origin, Participant, RepositoryError, UserId,
};
use parley_store_diesel::{DieselStore, SqliteOptions};

fn record(sender: &str, text: &str) -> MessageRecord {
    MessageRecord {
        message: Message {
            id: MessageId::generate(),
            conversation_id: ConversationId::new("c").unwrap(),
            kind: MessageKind::User,
            sender: Some(UserId::new(sender).unwrap()),
            text: text.into(),
            content: vec![Block::plain(text)],
            custom: Default::default(),
            created_at: 1,
            edited_at: None,
            referenced_message_id: None,
            origin: Origin::Rest,
            reactions: Default::default(),
        },
        idempotency_key: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_commit_together_and_a_failing_one_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = SqliteOptions::new(dir.path().join("group.db"));
    options.pool_size = 4;
    assert!(options.group_commit, "group commit is the default");
    let store = Arc::new(DieselStore::open_sqlite(&options).unwrap());
    let app = AppId::new("app").unwrap();
    let cid = ConversationId::new("c").unwrap();
    let mut c = Conversation::new(cid.clone(), 1);
    c.participants
        .insert(UserId::new("member").unwrap(), Participant::joined(1));
    store.insert(&app, &c).await.unwrap();
    // 200 sends at once: every third from someone who is no participant, which the adapter's
    // in-transaction check turns into a conflict.
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (store, app, cid) = (store.clone(), app.clone(), cid.clone());
            tokio::spawn(async move {
                let sender = if i % 3 == 0 { "stranger" } else { "member" };
                let r = record(sender, &format!("m{i}"));
                let id = r.message.id.clone();
                (i, id, store.insert_messages(&app, &cid, &[r], 0).await)
            })
        })
        .collect();
    let mut stored = Vec::new();
    for task in tasks {
        let (i, id, outcome) = task.await.unwrap();
        if i % 3 == 0 {
            assert!(
                matches!(outcome, Err(RepositoryError::Conflict)),
                "{i}: {outcome:?}"
            );
        } else {
            assert_eq!(outcome.unwrap(), Some(vec![id.clone()]), "{i}");
            stored.push(id);
        }
    }
    let listed = store
        .list_messages(&app, &cid, 100, None)
        .await
        .unwrap()
        .unwrap();
    let mut all = listed.clone();
    let mut after = listed.last().map(|m| m.id.clone());
    while let Some(cursor) = after {
        let page = store
            .list_messages(&app, &cid, 100, Some(cursor))
            .await
            .unwrap()
            .unwrap();
        after = page.last().map(|m| m.id.clone());
        all.extend(page);
    }
    assert_eq!(all.len(), stored.len());
    for id in &stored {
        assert!(all.iter().any(|m| &m.id == id), "{id} is lost");
    }
    assert!(all
        .iter()
        .all(|m| m.sender.as_ref().unwrap().as_str() == "member"));
}
