//! Where served pages ended, in this process's memory, bounded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parley_domain::{AppId, ConversationId, Cursor, CursorStore};

type Key = (AppId, String, ConversationId);

/// A bounded map of page ends that forgets them after `max_age`. When full it starts over. A
/// walk whose cursor was dropped or expired still continues, from the cursor conversation's
/// current position; expiry keeps old snapshots (whose pages cost more the more happened since)
/// from living on.
#[derive(Debug)]
pub struct MemoryCursorStore {
    capacity: usize,
    max_age: Duration,
    map: Mutex<HashMap<Key, (Cursor, Instant)>>,
}

impl MemoryCursorStore {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            max_age,
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl Default for MemoryCursorStore {
    /// 50,000 page ends, each kept for 15 minutes.
    fn default() -> Self {
        Self::new(50_000, Duration::from_secs(15 * 60))
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
            let max_age = self.max_age;
            map.retain(|_, (_, at)| at.elapsed() < max_age);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(
            (app.clone(), list.to_owned(), last.clone()),
            (cursor, Instant::now()),
        );
    }

    async fn recall(&self, app: &AppId, list: &str, last: &ConversationId) -> Option<Cursor> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(app.clone(), list.to_owned(), last.clone()))
            .filter(|(_, at)| at.elapsed() < self.max_age)
            .map(|(cursor, _)| cursor.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_domain::Snapshot;

    #[tokio::test]
    async fn remembers_per_app_list_and_conversation_and_stays_bounded() {
        let store = MemoryCursorStore::new(2, Duration::from_secs(60));
        let app = AppId::new("a").unwrap();
        let c = |s: &str| ConversationId::new(s).unwrap();
        let cursor = Cursor {
            key: 1,
            snapshot: Snapshot::counter(2),
        };
        store.remember(&app, "l", &c("x"), cursor.clone()).await;
        assert_eq!(store.recall(&app, "l", &c("x")).await, Some(cursor.clone()));
        assert_eq!(store.recall(&app, "other", &c("x")).await, None);
        store.remember(&app, "l", &c("y"), cursor.clone()).await;
        store.remember(&app, "l", &c("z"), cursor).await;
        assert!(store.map.lock().unwrap().len() <= 2);
    }

    #[tokio::test]
    async fn cursors_expire() {
        let store = MemoryCursorStore::new(10, Duration::ZERO);
        let app = AppId::new("a").unwrap();
        let c = ConversationId::new("x").unwrap();
        store
            .remember(
                &app,
                "l",
                &c,
                Cursor {
                    key: 1,
                    snapshot: Snapshot::counter(2),
                },
            )
            .await;
        assert_eq!(store.recall(&app, "l", &c).await, None);
    }
}
