//! The in-memory storage adapter: for tests, demos and `database.url = "memory://"`.
//! Same contract as the durable adapters, nothing survives a restart.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use parley_domain::{
    AppId, AppRepository, Conversation, ConversationId, ConversationRepository, RepositoryError,
    SecretKey, Versioned,
};

type Key = (AppId, ConversationId);

/// Conversations and app keys in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    conversations: Mutex<HashMap<Key, Versioned<Conversation>>>,
    apps: Mutex<HashMap<AppId, SecretKey>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned<T>(_: T) -> RepositoryError {
    RepositoryError::Other("memory store lock poisoned".into())
}

#[async_trait]
impl ConversationRepository for MemoryStore {
    async fn find(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Option<Versioned<Conversation>>, RepositoryError> {
        let map = self.conversations.lock().map_err(poisoned)?;
        Ok(map.get(&(app.clone(), id.clone())).cloned())
    }

    async fn insert(
        &self,
        app: &AppId,
        conversation: &Conversation,
    ) -> Result<(), RepositoryError> {
        let mut map = self.conversations.lock().map_err(poisoned)?;
        let key = (app.clone(), conversation.id.clone());
        if map.contains_key(&key) {
            return Err(RepositoryError::Conflict);
        }
        map.insert(
            key,
            Versioned {
                value: conversation.clone(),
                version: 1,
            },
        );
        Ok(())
    }

    async fn update(
        &self,
        app: &AppId,
        before: &Versioned<Conversation>,
        after: &Conversation,
    ) -> Result<(), RepositoryError> {
        let mut map = self.conversations.lock().map_err(poisoned)?;
        match map.get_mut(&(app.clone(), before.value.id.clone())) {
            Some(current) if current.version == before.version => {
                current.value = after.clone();
                current.version += 1;
                Ok(())
            }
            _ => Err(RepositoryError::Conflict),
        }
    }

    async fn delete(&self, app: &AppId, id: &ConversationId) -> Result<bool, RepositoryError> {
        let mut map = self.conversations.lock().map_err(poisoned)?;
        Ok(map.remove(&(app.clone(), id.clone())).is_some())
    }
}

#[async_trait]
impl AppRepository for MemoryStore {
    async fn get_or_create_key(
        &self,
        app: &AppId,
        new_key: &SecretKey,
    ) -> Result<SecretKey, RepositoryError> {
        let mut apps = self.apps.lock().map_err(poisoned)?;
        Ok(apps
            .entry(app.clone())
            .or_insert_with(|| new_key.clone())
            .clone())
    }
}
