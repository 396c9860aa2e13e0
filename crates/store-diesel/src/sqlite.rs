//! The SQLite backend: one file, WAL, one writer at a time.
//!
//! The queries live in `store/` and are compiled once per backend; this module gives them their
//! connection type and what differs: how a write transaction starts and how the database opens.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{DbError, OpenError};
use crate::schema::counters;
use crate::stamps::Numbers;
use diesel::prelude::*;

/// The connection type of this backend.
pub type DbConnection = diesel::SqliteConnection;
/// The pool's connection manager.
pub(crate) type Manager = ConnectionManager<DbConnection>;

/// After work on a pooled connection: nothing to note (a SQLite connection does not die).
pub(crate) fn after_work<T>(
    _: &mut diesel::r2d2::PooledConnection<Manager>,
    _: &Result<T, DbError>,
) {
}
/// SQLite has one writer at a time: writers of a process queue in the process.
pub(crate) const ONE_WRITER: bool = true;

// Both backend modules include the same query files on purpose: one code base, compiled once per
// backend with that backend's connection type.
#[allow(clippy::duplicate_mod)]
#[path = "store/apps.rs"]
mod apps;
#[allow(clippy::duplicate_mod)]
#[path = "store/base.rs"]
mod base;
#[allow(clippy::duplicate_mod)]
#[path = "store/bulk.rs"]
mod bulk;
#[allow(clippy::duplicate_mod)]
#[path = "store/conversations.rs"]
mod conversations;
#[allow(clippy::duplicate_mod)]
#[path = "store/events.rs"]
mod events;
#[allow(clippy::duplicate_mod)]
#[path = "store/files.rs"]
mod files;
#[allow(clippy::duplicate_mod)]
#[path = "store/import.rs"]
mod import;
#[allow(clippy::duplicate_mod)]
#[path = "store/messages.rs"]
mod messages;
#[allow(clippy::duplicate_mod)]
#[path = "store/probe.rs"]
mod probe;
#[allow(clippy::duplicate_mod)]
#[path = "store/reactions.rs"]
mod reactions;
#[allow(clippy::duplicate_mod)]
#[path = "store/users.rs"]
mod users;

pub use base::Store;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// A write transaction: `BEGIN IMMEDIATE`, so that it holds the write lock from its first read.
/// Inside a group commit's transaction it is a savepoint: it fails (and is rolled back) alone.
pub(crate) fn write_tx<T, F>(conn: &mut DbConnection, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, DbError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let nested = AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_some();
    if nested {
        conn.transaction(f)
    } else {
        conn.immediate_transaction(f)
    }
}

/// A write transaction committed without an fsync: for bookkeeping whose loss in a power cut is
/// harmless (delivery leases and outcomes: a lost one means one more attempt). In WAL mode this
/// cannot corrupt the database, and the next synchronous commit's fsync covers it as well.
pub(crate) fn relaxed_write_tx<T, F>(conn: &mut DbConnection, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, DbError>,
{
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Level {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }
    let level = diesel::sql_query("PRAGMA synchronous")
        .get_result::<Level>(conn)?
        .synchronous;
    conn.batch_execute("PRAGMA synchronous = OFF")?;
    let result = conn.immediate_transaction(f);
    // A pooled connection left without fsyncs would make later writes on it undurable; a panic
    // here makes r2d2 discard the connection (diesel's manager reports it broken).
    #[allow(clippy::expect_used)]
    conn.batch_execute(&format!("PRAGMA synchronous = {level}"))
        .expect("restoring PRAGMA synchronous on a pooled connection");
    result
}

/// A read transaction: SQLite's reads in one transaction see one snapshot of the database.
pub(crate) fn read_tx<T, F>(conn: &mut DbConnection, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, DbError>,
{
    conn.transaction(f)
}

/// The events' `xid`: 0, because SQLite's single writer commits in the order it assigns event
/// numbers, so the log's order is `seq` alone.
pub(crate) fn current_xid() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql("0")
}

/// The log is read in `seq` order (every `xid` is 0), by the index on (app_id, seq).
pub(crate) const LOG_BY_XID: bool = false;

/// Every event is settled: a reader sees the single writer's commits whole and in order.
pub(crate) fn log_horizon() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql("9223372036854775807")
}

/// A message's activity stamp is its seq (see [`number_messages`]).
pub(crate) use crate::schema::messages::seq as message_stamp;

/// Takes values of the activity counter for `n` new messages (one for a stamp alone when `n` is
/// 0): inside the one writer's transaction they are both storage order and activity stamps
/// (the newest is the transaction's stamp), and the counter's value is a horizon.
pub(crate) fn number_messages(conn: &mut DbConnection, n: usize) -> Result<Numbers, DbError> {
    let count = i64::try_from(n.max(1)).unwrap_or(i64::MAX);
    let last: i64 = diesel::update(counters::table.find("activity"))
        .set(counters::value.eq(counters::value + count))
        .returning(counters::value)
        .get_result(conn)?;
    let first = last - count + 1;
    Ok(Numbers {
        seqs: if n == 0 {
            Vec::new()
        } else {
            (first..=last).collect()
        },
        stamp: last,
        row_xid: 0,
    })
}

/// What a walk starting in this read transaction sees: every stamp up to the activity
/// counter's value.
pub(crate) fn snapshot(conn: &mut DbConnection) -> Result<parley_domain::Snapshot, DbError> {
    let value: i64 = counters::table
        .find("activity")
        .select(counters::value)
        .first(conn)?;
    Ok(parley_domain::Snapshot::counter(value))
}

/// The snapshot of the statement it is part of: the activity counter's value, everything up to
/// which a SQLite statement (a read transaction of its own) sees. PostgreSQL's twin is
/// `pg_current_snapshot()`.
macro_rules! sqlite_statement_snapshot {
    () => {
        $crate::schema::counters::table
            .filter($crate::schema::counters::name.eq("activity"))
            .select($crate::schema::counters::value)
            .single_value()
    };
}
pub(crate) use sqlite_statement_snapshot as statement_snapshot;

/// What [`statement_snapshot`] reads.
pub(crate) type StatementSnapshot = Option<i64>;

/// The page end column of a list page's statement: always NULL, since on SQLite the cursors
/// live in the server's memory (its PostgreSQL twin remembers the page's end in the database,
/// in the page's own statement).
pub(crate) fn page_end<K, I>(
    _key: K,
    _id: I,
    _app: &str,
    _query: &parley_domain::ConversationQuery,
    _walk: &parley_domain::Walk,
    _remember: Option<(&str, i64)>,
) -> diesel::dsl::AsExprOf<Option<bool>, diesel::sql_types::Nullable<diesel::sql_types::Bool>> {
    None::<bool>.into_sql::<diesel::sql_types::Nullable<diesel::sql_types::Bool>>()
}

/// No resuming in one read: the cursors live in the server's memory, and the service asks for
/// what it needs one by one (each a function call on SQLite). Never called while the cursor
/// store is not the repository.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn resume(
    _conn: &mut DbConnection,
    _app: &str,
    _id: &str,
    _member: Option<&str>,
    _list: &str,
) -> Result<Option<parley_domain::Resume>, DbError> {
    Ok(None)
}

/// Nothing to sweep: the cursors live in the server's memory.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn sweep_cursors(_conn: &mut DbConnection, _now: i64) -> Result<(), DbError> {
    Ok(())
}

/// The snapshot [`statement_snapshot`] read.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn read_statement_snapshot(
    value: Option<i64>,
) -> Result<parley_domain::Snapshot, DbError> {
    Ok(parley_domain::Snapshot::counter(value.unwrap_or(0)))
}

/// The current snapshot and whether `user` has a user record in `app`: two queries, which on
/// SQLite are function calls (PostgreSQL's twin reads both in one statement, one round trip).
pub(crate) fn snapshot_knowing(
    conn: &mut DbConnection,
    app: &str,
    user: &str,
) -> Result<(parley_domain::Snapshot, bool), DbError> {
    let snapshot = snapshot(conn)?;
    let known: Option<String> = crate::schema::users::table
        .find((app, user))
        .select(crate::schema::users::id)
        .first(conn)
        .optional()?;
    Ok((snapshot, known.is_some()))
}

/// Nothing to do: a SQLite write transaction holds the database's write lock from its start.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn lock_conversation(
    _conn: &mut DbConnection,
    _app: &str,
    _conversation: &str,
) -> Result<(), DbError> {
    Ok(())
}

/// How durable a SQLite commit is before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is fsynced: survives power loss and OS crashes.
    Full,
    /// Survives a crash of the process, but a power loss may drop the last commits.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// How to open a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    pub pool_size: u32,
    pub connection_timeout: Duration,
    pub busy_timeout: Duration,
    pub synchronous: Synchronous,
    /// SQLite's page cache per connection, in MiB.
    pub cache_mib: u32,
    /// Commit the writes waiting at the same moment together (one writer thread, one
    /// transaction and fsync per batch, a savepoint per write); off: one transaction each.
    pub group_commit: bool,
    /// The page cache of the group writer's connection, in MiB.
    pub writer_cache_mib: u32,
}

impl SqliteOptions {
    /// Defaults for `path`: a pool of 8, 5 s timeouts, fully synchronous commits.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            pool_size: 8,
            connection_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            synchronous: Synchronous::Full,
            cache_mib: 8,
            group_commit: true,
            writer_cache_mib: 64,
        }
    }
}

#[derive(Debug)]
struct SqlitePragmas {
    busy_timeout_ms: u128,
    synchronous: Synchronous,
    cache_kib: u64,
}

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = {}; \
             PRAGMA cache_size = -{};",
            self.busy_timeout_ms,
            self.synchronous.pragma(),
            self.cache_kib
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `options.path`, switches it to WAL and
    /// runs the embedded migrations.
    ///
    /// # Errors
    /// [`OpenError`] when the file cannot be created or opened, or a migration fails.
    pub fn open_sqlite(options: &SqliteOptions) -> Result<Self, OpenError> {
        let name = options.path.display().to_string();
        let connect = |e: &dyn std::fmt::Display| OpenError::Connect(name.clone(), e.to_string());
        create_parent_dir(&options.path).map_err(|e| connect(&e))?;
        let url = options.path.to_string_lossy().into_owned();
        // One connection by hand first: r2d2 would retry a file that cannot be opened until the
        // connection timeout, logging every try, where the cause is known at the first.
        let unusable = |e: &dyn std::fmt::Display| {
            OpenError::Connect(name.clone(), format!("{e}{}", cause(&options.path)))
        };
        let mut first = DbConnection::establish(&url).map_err(|e| unusable(&e))?;
        // WAL is a property of the file: set once, readers then never block the writer. It is
        // also the first write, so a read-only file or directory shows here.
        first
            .batch_execute(&format!(
                "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL;",
                options.busy_timeout.as_millis()
            ))
            .map_err(|e| unusable(&e))?;
        first
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| OpenError::Migrate(e.to_string()))?;
        drop(first);
        let manager = ConnectionManager::<DbConnection>::new(url);
        // The group writer keeps one connection for itself: at least one more for readers.
        let min_size = if options.group_commit { 2 } else { 1 };
        let counters = std::sync::Arc::new(crate::pool_events::PoolCounters::default());
        let pool = Pool::builder()
            .event_handler(Box::new(crate::pool_events::PoolEvents(counters.clone())))
            .max_size(options.pool_size.max(min_size))
            .connection_timeout(options.connection_timeout)
            // A dead SQLite connection is not a thing; checking costs a query per request.
            .test_on_check_out(false)
            .connection_customizer(Box::new(SqlitePragmas {
                busy_timeout_ms: options.busy_timeout.as_millis(),
                synchronous: options.synchronous,
                cache_kib: u64::from(options.cache_mib.max(1)) * 1024,
            }))
            .build(manager)
            .map_err(|e| connect(&e))?;
        let group = if options.group_commit {
            Some(std::sync::Arc::new(
                crate::group_commit::GroupWriter::start(
                    &pool,
                    options.writer_cache_mib,
                    format!("PRAGMA synchronous = {};", options.synchronous.pragma()),
                )
                .map_err(|e| connect(&e))?,
            ))
        } else {
            None
        };
        Ok(Self::from_pool(pool, options.busy_timeout, group, counters))
    }
}

/// What is wrong with `path`'s place, as far as the file system tells, for an open that failed.
fn cause(path: &Path) -> String {
    if path.is_dir() {
        return " (the path is a directory, not a database file)".into();
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // SQLite needs to create its -wal and -shm files beside the database.
    let probe = dir.join(format!(".parley-write-check-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            if path.exists() && std::fs::OpenOptions::new().write(true).open(path).is_err() {
                " (the database file is not writable)".into()
            } else {
                String::new()
            }
        }
        Err(e) => format!(" (the directory {} is not writable: {e})", dir.display()),
    }
}

fn create_parent_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent),
        _ => Ok(()),
    }
}
