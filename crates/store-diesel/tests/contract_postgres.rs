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
        apps: store.clone(),
        events: store.clone(),
        reactions: store.clone(),
        files: store,
        cursors: Arc::new(MemoryCursorStore::default()),
        guard: Box::new(schema),
    })
}

parley_store_tests::contract_suite!(stores);

/// Page ends remembered through one server are recalled through another on the same database,
/// per app and list, and a later page end of the same conversation replaces the earlier one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_ends_are_shared_by_every_server_on_the_database() {
    use parley_domain::{AppId, ConversationId, Cursor, CursorStore, Snapshot};

    let Some(server) = testing::server_url("the PostgreSQL cursor store") else {
        return;
    };
    let name = format!("cursors_{}_{}", std::process::id(), rand::random::<u32>());
    let (one, other, _schema) = tokio::task::spawn_blocking(move || {
        let url = testing::schema_url(&server, &name);
        let open = || PgStore::open_postgres(&PgOptions::new(url.as_str())).expect("open postgres");
        (open(), open(), Schema { server, name })
    })
    .await
    .expect("open task");
    let (app, c1) = (AppId::new("a").unwrap(), ConversationId::new("c1").unwrap());
    let first = Cursor {
        key: 500,
        snapshot: Snapshot {
            xmin: 7,
            xmax: 11,
            running: vec![8, 10],
        },
    };
    one.remember(&app, "list", &c1, first.clone()).await;
    assert_eq!(other.recall(&app, "list", &c1).await, Some(first));
    assert_eq!(other.recall(&app, "another list", &c1).await, None);
    assert_eq!(
        other.recall(&AppId::new("b").unwrap(), "list", &c1).await,
        None
    );
    let later = Cursor {
        key: 900,
        snapshot: Snapshot::counter(12),
    };
    other.remember(&app, "list", &c1, later.clone()).await;
    assert_eq!(one.recall(&app, "list", &c1).await, Some(later));
}
