//! The in-memory adapter passes the shared storage contract.

use std::sync::Arc;

use parley_store_memory::{MemoryCursorStore, MemoryStore};
use parley_store_tests::Stores;

async fn stores() -> Stores {
    let store = Arc::new(MemoryStore::new());
    Stores {
        conversations: store.clone(),
        messages: store.clone(),
        users: store.clone(),
        apps: store.clone(),
        events: store.clone(),
        reactions: store.clone(),
        files: store.clone(),
        probe: store.clone(),
        archive: store,
        cursors: Arc::new(MemoryCursorStore::default()),
        guard: Box::new(()),
    }
}

parley_store_tests::contract_suite!(stores);
