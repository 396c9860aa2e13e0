//! The SQLite adapter passes the shared storage contract, each case on a fresh temp file.

use std::sync::Arc;

use parley_store_diesel::{DieselStore, SqliteOptions};
use parley_store_memory::MemoryCursorStore;
use parley_store_tests::Stores;

async fn stores() -> Stores {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = SqliteOptions::new(dir.path().join("contract.db"));
    options.pool_size = 4;
    let store = Arc::new(DieselStore::open_sqlite(&options).expect("open sqlite"));
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
        guard: Box::new(dir),
    }
}

parley_store_tests::contract_suite!(stores);
