//! The PostgreSQL adapter passes the shared storage contract, each case in a fresh schema of
//! the test server (`PARLEY_TEST_POSTGRES_URL`; skipped loudly without one, failing in CI).
#![cfg(feature = "postgres")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use parley_store_diesel::{testing, PgOptions, PgStore};
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
        files: store.clone(),
        probe: store.clone(),
        archive: store.clone(),
        // As the server wires it: the database keeps the page ends, and a page remembers its
        // own end in its statement.
        cursors: store,
        guard: Box::new(schema),
    })
}

parley_store_tests::contract_suite!(stores);

/// A store on a fresh schema named after `prefix`, its URL, and the guard that drops it; `None`
/// (said loudly) without a test server.
async fn store_in_fresh_schema(what: &str, prefix: &str) -> Option<(PgStore, String, Schema)> {
    let server = testing::server_url(what)?;
    let name = format!("{prefix}_{}_{}", std::process::id(), rand::random::<u32>());
    let url = testing::schema_url(&server, &name);
    let schema = Schema { server, name };
    let store = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            PgStore::open_postgres(&PgOptions::new(url)).expect("open postgres")
        })
        .await
        .expect("open task")
    };
    Some((store, url, schema))
}

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

/// A page end that another request is remembering at this moment (its row locked, not yet
/// committed) is left to that request, not waited for: many clients reading the same page all
/// end on one row. A page end that nobody holds is replaced as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_end_being_remembered_elsewhere_is_not_waited_for() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    use parley_domain::{AppId, ConversationId, Cursor, CursorStore, Snapshot};

    let Some((store, url, _schema)) =
        store_in_fresh_schema("the unlocked page-end case", "locked").await
    else {
        return;
    };
    let (app, c1) = (AppId::new("a").unwrap(), ConversationId::new("c1").unwrap());
    let cursor = |key: i64| Cursor {
        key,
        snapshot: Snapshot::counter(key),
    };
    store.remember(&app, "list", &c1, cursor(1)).await;
    let mut other = PgConnection::establish(&url).expect("connect");
    diesel::sql_query("BEGIN").execute(&mut other).unwrap();
    diesel::sql_query("SELECT 1 FROM list_cursors WHERE conversation_id = 'c1' FOR UPDATE")
        .execute(&mut other)
        .unwrap();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.remember(&app, "list", &c1, cursor(2)),
    )
    .await
    .expect("remembering does not wait for the row another request holds");
    assert_eq!(store.recall(&app, "list", &c1).await, Some(cursor(1)));
    diesel::sql_query("COMMIT").execute(&mut other).unwrap();
    store.remember(&app, "list", &c1, cursor(3)).await;
    assert_eq!(store.recall(&app, "list", &c1).await, Some(cursor(3)));
    let c2 = ConversationId::new("c2").unwrap();
    store.remember(&app, "list", &c2, cursor(4)).await;
    assert_eq!(store.recall(&app, "list", &c2).await, Some(cursor(4)));
}

/// An event that commits while an older transaction is still running is held back from the log
/// until that one ends; and resuming after it (its ID can reach a client through a webhook
/// first) does not pass the older transaction's events, which commit later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_never_lets_a_reader_pass_an_event_that_commits_late() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    use parley_domain::events::{EventQuery, EventRepository};
    use parley_domain::AppId;

    let Some((store, url, _schema)) =
        store_in_fresh_schema("the late-commit event log case", "late").await
    else {
        return;
    };
    let insert = |id: &str| {
        format!(
            "INSERT INTO events (app_id, id, kind, created_at, body, xid) VALUES \
             ('a', '{id}', 'user.created', 1, '{{}}', pg_current_xact_id()::text::bigint)"
        )
    };
    // The older transaction takes its ID first and records its event last.
    let mut older = PgConnection::establish(&url).expect("connect");
    diesel::sql_query("BEGIN").execute(&mut older).unwrap();
    diesel::sql_query("SELECT pg_current_xact_id()")
        .execute(&mut older)
        .unwrap();
    let mut newer = PgConnection::establish(&url).expect("connect");
    diesel::sql_query(insert("evt_new"))
        .execute(&mut newer)
        .unwrap();
    diesel::sql_query(insert("evt_old"))
        .execute(&mut older)
        .unwrap();

    let app = AppId::new("a").unwrap();
    let all = EventQuery {
        after: None,
        limit: 10,
        types: Default::default(),
    };
    let shown = store.list_events(&app, &all).await.unwrap();
    assert!(shown.is_empty(), "held back behind the older transaction");
    let resume = store
        .event_position(&app, "evt_new")
        .await
        .unwrap()
        .expect("known");

    diesel::sql_query("COMMIT").execute(&mut older).unwrap();
    let after_new = EventQuery {
        after: Some(resume),
        ..all.clone()
    };
    let ids = |events: Vec<parley_domain::events::StoredEvent>| -> Vec<String> {
        events.into_iter().map(|e| e.id).collect()
    };
    assert_eq!(
        ids(store.list_events(&app, &after_new).await.unwrap()),
        ["evt_old", "evt_new"],
        "resuming after the newer event still finds the older transaction's"
    );
    assert_eq!(
        ids(store.list_events(&app, &all).await.unwrap()),
        ["evt_old", "evt_new"],
        "in the order of the transactions"
    );
    let settled = store
        .event_position(&app, "evt_new")
        .await
        .unwrap()
        .unwrap();
    assert!(settled > resume);
    assert_eq!(
        store.latest_position(&app).await.unwrap(),
        Some(settled),
        "the newest settled event"
    );
}
