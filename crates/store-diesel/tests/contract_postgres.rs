//! The PostgreSQL adapter passes the shared storage contract, each case in a fresh schema of
//! the test server (`PARLEY_TEST_POSTGRES_URL`; skipped loudly without one, failing in CI).
#![cfg(feature = "postgres")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use parley_store_diesel::{testing, PgOptions, PgStore};
use parley_store_memory::MemoryCursorStore;
use parley_store_tests::Stores;

/// Drops the case's schema when the case ends.
struct Schema {
    server: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        testing::drop_schema(&self.server, &self.name);
    }
}

async fn stores() -> Option<Stores> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let server = testing::server_url("the storage contract")?;
    let name = format!(
        "contract_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    let (store, schema) = tokio::task::spawn_blocking(move || {
        let url = testing::schema_url(&server, &name);
        let mut options = PgOptions::new(url);
        options.pool_size = 4;
        let store = PgStore::open_postgres(&options).expect("open postgres");
        (store, Schema { server, name })
    })
    .await
    .expect("open task");
    let store = Arc::new(store);
    Some(Stores {
        conversations: store.clone(),
        messages: store.clone(),
        users: store.clone(),
        apps: store,
        cursors: Arc::new(MemoryCursorStore::default()),
        guard: Box::new(schema),
    })
}

parley_store_tests::contract_suite!(stores);
