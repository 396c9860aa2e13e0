//! Where served pages ended, in this process's memory, bounded.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use parley_domain::{AppId, ConversationId, Cursor, CursorStore};

type Key = (AppId, String, ConversationId);

/// A bounded map of page ends. When full it starts over: a walk whose cursor was dropped still
/// continues, from the cursor conversation's current position.
#[derive(Debug)]
pub struct MemoryCursorStore {
    capacity: usize,
    map: Mutex<HashMap<Key, Cursor>>,
}

impl MemoryCursorStore {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl Default for MemoryCursorStore {
    fn default() -> Self {
        Self::new(50_000)
    }
}

#[async_trait]
impl CursorStore for MemoryCursorStore {
    async fn remember(&self, app: &AppId, list: &str, last: &ConversationId, cursor: Cursor) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert((app.clone(), list.to_owned(), last.clone()), cursor);
    }

    async fn recall(&self, app: &AppId, list: &str, last: &ConversationId) -> Option<Cursor> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(app.clone(), list.to_owned(), last.clone()))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembers_per_app_list_and_conversation_and_stays_bounded() {
        let store = MemoryCursorStore::new(2);
        let app = AppId::new("a").unwrap();
        let c = |s: &str| ConversationId::new(s).unwrap();
        let cursor = Cursor {
            key: 1,
            snapshot: 2,
        };
        store.remember(&app, "l", &c("x"), cursor).await;
        assert_eq!(store.recall(&app, "l", &c("x")).await, Some(cursor));
        assert_eq!(store.recall(&app, "other", &c("x")).await, None);
        store.remember(&app, "l", &c("y"), cursor).await;
        store.remember(&app, "l", &c("z"), cursor).await;
        assert!(store.map.lock().unwrap().len() <= 2);
    }
}
