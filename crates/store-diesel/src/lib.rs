//! The diesel storage adapter: SQLite today (feature `sqlite`), laid out for more backends.
//!
//! Every diesel call runs on tokio's blocking pool, never on the async executor. Writes are
//! transactions that are durable when they return (`synchronous = FULL` by default).

mod apps;
mod conversations;
mod error;
mod import;
mod messages;
mod models;
mod schema;
mod users;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use parley_domain::RepositoryError;

pub use error::OpenError;

/// The connection type of the compiled-in backend.
pub type DbConnection = SqliteConnection;
type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

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
        }
    }
}

#[derive(Debug)]
struct SqlitePragmas {
    busy_timeout_ms: u128,
    synchronous: Synchronous,
    cache_kib: u64,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
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

/// Conversations, participants and app keys in a diesel database.
#[derive(Clone)]
pub struct DieselStore {
    pool: SqlitePool,
    /// SQLite has one writer at a time. Writers of this process queue here, asynchronously and
    /// for at most `busy_timeout`, instead of in SQLite's busy handler, whose sleeps (up to
    /// 100 ms each) would dominate tail latency.
    writer: Arc<tokio::sync::Mutex<()>>,
    busy_timeout: Duration,
}

impl std::fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselStore").finish_non_exhaustive()
    }
}

impl DieselStore {
    /// Opens (creating if needed) the SQLite database at `options.path`, switches it to WAL and
    /// runs the embedded migrations.
    ///
    /// # Errors
    /// [`OpenError`] when the file cannot be created or opened, or a migration fails.
    pub fn open_sqlite(options: &SqliteOptions) -> Result<Self, OpenError> {
        create_parent_dir(&options.path)?;
        let url = options.path.to_string_lossy().into_owned();
        let manager = ConnectionManager::<SqliteConnection>::new(url);
        let pool = Pool::builder()
            .max_size(options.pool_size.max(1))
            .connection_timeout(options.connection_timeout)
            // A dead SQLite connection is not a thing; checking costs a query per request.
            .test_on_check_out(false)
            .connection_customizer(Box::new(SqlitePragmas {
                busy_timeout_ms: options.busy_timeout.as_millis(),
                synchronous: options.synchronous,
                cache_kib: u64::from(options.cache_mib.max(1)) * 1024,
            }))
            .build(manager)
            .map_err(|e| OpenError::Connect(options.path.display().to_string(), e.to_string()))?;
        let mut conn = pool
            .get()
            .map_err(|e| OpenError::Connect(options.path.display().to_string(), e.to_string()))?;
        // WAL is a property of the file: set once, readers then never block the writer.
        conn.batch_execute("PRAGMA journal_mode = WAL;")
            .map_err(|e| OpenError::Connect(options.path.display().to_string(), e.to_string()))?;
        conn.run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|e| OpenError::Migrate(e.to_string()))?;
        Ok(Self {
            pool,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            busy_timeout: options.busy_timeout,
        })
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    async fn run<T, F>(&self, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, error::DbError> + Send + 'static,
    {
        self.run_inner(None, f).await
    }

    /// Like [`run`](Self::run), for a write transaction: one writer of this process at a time.
    async fn run_write<T, F>(&self, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, error::DbError> + Send + 'static,
    {
        let turn = tokio::time::timeout(self.busy_timeout, self.writer.clone().lock_owned())
            .await
            .map_err(|_| {
                RepositoryError::Unavailable("timed out waiting for the write lock".into())
            })?;
        self.run_inner(Some(turn), f).await
    }

    async fn run_inner<T, F>(
        &self,
        turn: Option<tokio::sync::OwnedMutexGuard<()>>,
        f: F,
    ) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, error::DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            // The turn came before the connection, so queued writers do not hold connections
            // that readers need; it is released when the work is done.
            let _turn = turn;
            let mut conn = pool.get().map_err(error::DbError::Pool)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| RepositoryError::Other(format!("storage task failed: {e}")))?
        .map_err(RepositoryError::from)
    }
}

/// The first version of a newly inserted record: random, so that versions of a deleted and
/// re-created record never repeat.
pub(crate) fn fresh_version() -> i64 {
    i64::from(rand::random::<u32>()) << 20
}

fn create_parent_dir(path: &Path) -> Result<(), OpenError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent)
            .map_err(|e| OpenError::Connect(path.display().to_string(), e.to_string())),
        _ => Ok(()),
    }
}
