//! The in-memory adapter passes the shared storage contract.

use std::sync::Arc;

use parley_store_memory::MemoryStore;
use parley_store_tests::Stores;

async fn stores() -> Stores {
    let store = Arc::new(MemoryStore::new());
    Stores {
        conversations: store.clone(),
        apps: store,
        guard: Box::new(()),
    }
}

parley_store_tests::contract_suite!(stores);
