//! `ArchiveRepository` in memory: whole new conversations written under one lock.

use async_trait::async_trait;
use parley_domain::archive::{ArchiveRepository, WholeConversation};
use parley_domain::{AppId, RepositoryError, Versioned};

use super::{fresh_version, key, MemoryStore};

#[async_trait]
impl ArchiveRepository for MemoryStore {
    async fn insert_whole(
        &self,
        app: &AppId,
        batch: &[WholeConversation],
    ) -> Result<(), RepositoryError> {
        let mut data = self.lock()?;
        // All or none: every check before the first write.
        let mut ids = std::collections::HashSet::new();
        for w in batch {
            let k = key(app, &w.conversation.id);
            if data.conversations.contains_key(&k) || !ids.insert(k) {
                return Err(RepositoryError::Conflict);
            }
        }
        for w in batch {
            let k = key(app, &w.conversation.id);
            let mut value = w.conversation.clone();
            value.last_message = None;
            let version = fresh_version();
            data.conversations
                .insert(k.clone(), Versioned { value, version });
            for m in &w.messages {
                data.store_new(&k, m.clone());
            }
            for r in &w.reactions {
                data.reactions.insert(
                    (
                        app.clone(),
                        r.message.clone(),
                        r.emoji.as_str().to_owned(),
                        r.user.clone(),
                    ),
                    r.created_at,
                );
            }
        }
        Ok(())
    }
}
