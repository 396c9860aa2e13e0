//! The PostgreSQL backend: several Parley servers over one database.
//!
//! The queries live in `store/` and are compiled once per backend; this module gives them their
//! connection type and what differs. Writers run concurrently: each write transaction first
//! locks the conversation row it changes (see `lock_conversation`), and message sends take the
//! activity counter's row lock, which orders them by commit.

use std::time::Duration;

use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{DbError, OpenError};
use crate::schema::conversations as conversation_rows;
use crate::schema::list_cursors;
use async_trait::async_trait;
use diesel::upsert::excluded;
use parley_domain::{AppId, Clock, ConversationId, Cursor, CursorStore, SystemClock};

/// The connection type of this backend.
pub type DbConnection = diesel::PgConnection;
pub(crate) type Db = diesel::pg::Pg;
/// PostgreSQL takes concurrent writers; row locks order them.
pub(crate) const ONE_WRITER: bool = false;

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
#[path = "store/reactions.rs"]
mod reactions;
#[allow(clippy::duplicate_mod)]
#[path = "store/users.rs"]
mod users;

pub use base::Store;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the session advisory lock held while migrating, so that servers starting together
/// migrate one after the other (the others then find nothing pending).
const MIGRATION_LOCK: i64 = 0x7061_726c_6579; // "parley"

/// A write transaction (READ COMMITTED; the statements lock what they change).
pub(crate) fn write_tx<T, F>(conn: &mut DbConnection, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, DbError>,
{
    conn.transaction(f)
}

/// A write transaction whose commit does not wait for the WAL flush: for bookkeeping whose loss
/// in a crash is harmless (delivery leases and outcomes: a lost one means one more attempt).
/// Later synchronous commits flush it with theirs.
pub(crate) fn relaxed_write_tx<T, F>(conn: &mut DbConnection, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, DbError>,
{
    conn.transaction(|tx| {
        diesel::sql_query("SET LOCAL synchronous_commit = off").execute(tx)?;
        f(tx)
    })
}

/// A read transaction that sees one snapshot (REPEATABLE READ, read only): the activity
/// counter, a page and its conversations agree, as on SQLite.
pub(crate) fn read_tx<T, F>(conn: &mut DbConnection, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, DbError>,
{
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(f)
}

/// Writers that record events take this transaction-level lock before numbering them, so that
/// event numbers are assigned in commit order and a reader continuing after an event never
/// skips one that commits later with a smaller number.
pub(crate) fn order_events(conn: &mut DbConnection) -> Result<(), DbError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(7353117010)").execute(conn)?;
    Ok(())
}

/// Locks the conversation's row for the rest of the write transaction. Every write transaction
/// that touches a conversation, its participants or its messages takes this lock first, so
/// that concurrent writers of one conversation queue instead of deadlocking, and so that what
/// the transaction reads of the conversation stays current.
pub(crate) fn lock_conversation(
    conn: &mut DbConnection,
    app: &str,
    conversation: &str,
) -> Result<(), DbError> {
    conversation_rows::table
        .find((app, conversation))
        .select(conversation_rows::version)
        .for_update()
        .first::<i64>(conn)
        .optional()?;
    Ok(())
}

/// How long a remembered page end is used, as in the in-memory cursor store.
const CURSOR_MAX_AGE_MS: i64 = 15 * 60 * 1000;

/// Page ends in the database, shared by every server on it, so that a walk continues from its
/// snapshot whichever server answers its next page. Failures only cost that guarantee (the walk
/// then continues from its cursor conversation's current position), so they are logged, not
/// returned.
#[async_trait]
impl CursorStore for Store {
    async fn remember(&self, app: &AppId, list: &str, last: &ConversationId, cursor: Cursor) {
        let (app, list, last) = (
            app.as_str().to_owned(),
            list.to_owned(),
            last.as_str().to_owned(),
        );
        let now = SystemClock.now_ms();
        let result = self
            .run(move |conn| {
                diesel::insert_into(list_cursors::table)
                    .values((
                        list_cursors::app_id.eq(&app),
                        list_cursors::list_key.eq(&list),
                        list_cursors::conversation_id.eq(&last),
                        list_cursors::sort_key.eq(cursor.key),
                        list_cursors::snapshot.eq(cursor.snapshot),
                        list_cursors::remembered_at.eq(now),
                    ))
                    .on_conflict((
                        list_cursors::app_id,
                        list_cursors::list_key,
                        list_cursors::conversation_id,
                    ))
                    .do_update()
                    .set((
                        list_cursors::sort_key.eq(excluded(list_cursors::sort_key)),
                        list_cursors::snapshot.eq(excluded(list_cursors::snapshot)),
                        list_cursors::remembered_at.eq(excluded(list_cursors::remembered_at)),
                    ))
                    .execute(conn)?;
                // Now and then, forget the expired ones.
                if rand::random::<u8>() == 0 {
                    diesel::delete(
                        list_cursors::table
                            .filter(list_cursors::remembered_at.lt(now - CURSOR_MAX_AGE_MS)),
                    )
                    .execute(conn)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not remember a page end");
        }
    }

    async fn recall(&self, app: &AppId, list: &str, last: &ConversationId) -> Option<Cursor> {
        let (app, list, last) = (
            app.as_str().to_owned(),
            list.to_owned(),
            last.as_str().to_owned(),
        );
        let since = SystemClock.now_ms() - CURSOR_MAX_AGE_MS;
        let found = self
            .run(move |conn| {
                Ok(list_cursors::table
                    .find((&app, &list, &last))
                    .filter(list_cursors::remembered_at.ge(since))
                    .select((list_cursors::sort_key, list_cursors::snapshot))
                    .first::<(i64, i64)>(conn)
                    .optional()?)
            })
            .await;
        match found {
            Ok(found) => found.map(|(key, snapshot)| Cursor { key, snapshot }),
            Err(e) => {
                tracing::warn!(error = %e, "could not recall a page end");
                None
            }
        }
    }
}

/// How to connect to a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database?...` (libpq's URL form).
    pub url: String,
    pub pool_size: u32,
    /// How long to wait for a connection (at start-up, and for each request) before giving up.
    pub connection_timeout: Duration,
}

impl PgOptions {
    /// Defaults for `url`: a pool of 8, 5 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 8,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

impl Store {
    /// Connects to the PostgreSQL database at `options.url` and runs the embedded migrations
    /// under an advisory lock.
    ///
    /// # Errors
    /// [`OpenError`] when the database cannot be reached within the connection timeout, or a
    /// migration fails.
    pub fn open_postgres(options: &PgOptions) -> Result<Self, OpenError> {
        let name = crate::redacted(&options.url);
        let connect = |e: &dyn std::fmt::Display| OpenError::Connect(name.clone(), e.to_string());
        let manager = ConnectionManager::<DbConnection>::new(options.url.clone());
        let pool = Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            // A connection may have died with the server; check before handing it out, so that
            // the pool recovers by itself when the database is back.
            .test_on_check_out(true)
            .build(manager)
            .map_err(|e| connect(&e))?;
        let mut conn = pool.get().map_err(|e| connect(&e))?;
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .execute(&mut conn)
            .map_err(|e| connect(&e))?;
        let migrated = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|_| ())
            .map_err(|e| OpenError::Migrate(e.to_string()));
        let unlocked = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            .execute(&mut conn)
            .map_err(|e| connect(&e));
        migrated?;
        unlocked?;
        Ok(Self::from_pool(pool, options.connection_timeout, None))
    }
}
