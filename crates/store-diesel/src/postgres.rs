//! The PostgreSQL backend: several Parley servers over one database.
//!
//! The queries live in `store/` and are compiled once per backend; this module gives them their
//! connection type and what differs. Writers run concurrently: each write transaction first
//! locks the conversation row it changes (see `lock_conversation`); nothing else is shared:
//! readers tell finished writes from running ones by transaction IDs (`crate::stamps`).

use std::time::Duration;

use diesel::prelude::*;
use diesel::r2d2::Pool;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{DbError, OpenError};
use crate::schema::conversations as conversation_rows;
use crate::schema::list_cursors;
use crate::stamps::Numbers;
use async_trait::async_trait;
use parley_domain::{AppId, Clock, ConversationId, Cursor, CursorStore, Snapshot, SystemClock};

/// The connection type of this backend.
pub type DbConnection = diesel::PgConnection;
/// The pool's connection manager: checks a connection only after an outage may have broken it.
pub(crate) type Manager = crate::pg_pool::PgManager;
pub(crate) use crate::pg_pool::after as after_work;
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
#[path = "store/probe.rs"]
mod probe;
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

/// A read transaction that sees one snapshot (REPEATABLE READ, read only): the walk's snapshot,
/// a page and its conversations agree, as on SQLite.
pub(crate) fn read_tx<T, F>(conn: &mut DbConnection, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, DbError>,
{
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(f)
}

/// The events' `xid`: this transaction's ID. The log is read in (xid, seq) order and only
/// below the reader's horizon, so events that commit out of order are never skipped (see
/// [`log_horizon`]), and writers take no lock to number them.
pub(crate) fn current_xid() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql("pg_current_xact_id()::text::bigint")
}

fn transaction_id(conn: &mut DbConnection) -> Result<i64, DbError> {
    Ok(diesel::select(current_xid()).get_result(conn)?)
}

/// The log is read in (xid, seq) order, by the index on (app_id, xid, seq).
pub(crate) const LOG_BY_XID: bool = true;

/// The `xid` below which every event is settled, as of the statement's snapshot: the oldest
/// transaction still running. Every event with a lower `xid` has committed (and is visible) or
/// never will; every event still to commit has this `xid` or a higher one.
pub(crate) fn log_horizon() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
}

/// A message's activity stamp is the ID of the transaction that stored it.
pub(crate) use crate::schema::messages::xid as message_stamp;

#[derive(QueryableByName)]
struct Numbered {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    xid: i64,
}

/// Storage order for `n` new messages (from a sequence: no lock; a conversation's writers
/// already queue on its row, so within it the order is the order of commits) and this
/// transaction's ID as the activity stamp, in one round trip.
pub(crate) fn number_messages(conn: &mut DbConnection, n: usize) -> Result<Numbers, DbError> {
    if n == 0 {
        let stamp = transaction_id(conn)?;
        return Ok(Numbers {
            seqs: Vec::new(),
            stamp,
            row_xid: stamp,
        });
    }
    let rows: Vec<Numbered> = diesel::sql_query(
        "SELECT nextval('message_seq') AS seq, pg_current_xact_id()::text::bigint AS xid \
         FROM generate_series(1, $1)",
    )
    .bind::<diesel::sql_types::BigInt, _>(i64::try_from(n).unwrap_or(i64::MAX))
    .load(conn)?;
    let stamp = rows.first().map_or(0, |r| r.xid);
    let mut seqs: Vec<i64> = rows.into_iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    Ok(Numbers {
        seqs,
        stamp,
        row_xid: stamp,
    })
}

/// What a walk starting in this read transaction sees: the transaction's own snapshot (a stamp
/// is the writer's transaction ID, so [`Snapshot::sees`](parley_domain::Snapshot::sees) is
/// PostgreSQL's visibility of that transaction). Later pages, in later transactions on any
/// server, see the same writes: those that had committed at this one.
pub(crate) fn snapshot(conn: &mut DbConnection) -> Result<parley_domain::Snapshot, DbError> {
    #[derive(QueryableByName)]
    struct Current {
        #[diesel(sql_type = diesel::sql_types::Text)]
        snapshot: String,
    }
    let current: Current =
        diesel::sql_query("SELECT pg_current_snapshot()::text AS snapshot").get_result(conn)?;
    parley_domain::Snapshot::parse(&current.snapshot)
        .ok_or_else(|| DbError::Corrupt(format!("snapshot {:?}", current.snapshot)))
}

/// PostgreSQL's `pg_snapshot` type, so that `pg_current_snapshot()` can be part of a statement
/// diesel caches (a literal SQL fragment would make it prepare the statement anew every time).
#[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(name = "pg_snapshot"))]
pub struct PgSnapshot;
impl diesel::expression::FallibleCastsTo<diesel::sql_types::Text> for PgSnapshot {}
impl diesel::expression::CastsTo<diesel::sql_types::Text> for PgSnapshot {}

diesel::define_sql_function! {
    /// The snapshot of the statement (outside a transaction) or of the transaction.
    fn pg_current_snapshot() -> PgSnapshot;
}

/// The snapshot of the statement it is part of, in PostgreSQL's text form: a list page reads it
/// with its rows, in one statement (one round trip). Outside a transaction, a statement runs on a
/// snapshot of its own (READ COMMITTED), and `pg_current_snapshot()` is that snapshot, so every
/// row the statement reads carries a stamp the snapshot sees. (SQLite's twin reads the activity
/// counter.)
macro_rules! pg_statement_snapshot {
    () => {
        diesel::ExpressionMethods::cast::<diesel::sql_types::Text>(
            $crate::postgres::pg_current_snapshot(),
        )
    };
}
pub(crate) use pg_statement_snapshot as statement_snapshot;

/// What [`statement_snapshot`] reads.
pub(crate) type StatementSnapshot = String;

/// The snapshot [`statement_snapshot`] read.
pub(crate) fn read_statement_snapshot(text: String) -> Result<parley_domain::Snapshot, DbError> {
    parley_domain::Snapshot::parse(&text)
        .ok_or_else(|| DbError::Corrupt(format!("snapshot {text:?}")))
}

/// The current snapshot and whether `user` has a user record in `app`, in one statement: a
/// user's first list page reads both, and on PostgreSQL each statement is a round trip.
/// (SQLite's twin runs the two queries: there they are function calls.)
pub(crate) fn snapshot_knowing(
    conn: &mut DbConnection,
    app: &str,
    user: &str,
) -> Result<(parley_domain::Snapshot, bool), DbError> {
    use diesel::sql_types::{Bool, Text};
    #[derive(QueryableByName)]
    struct Current {
        #[diesel(sql_type = Text)]
        snapshot: String,
        #[diesel(sql_type = Bool)]
        known: bool,
    }
    let current: Current = diesel::sql_query(
        "SELECT pg_current_snapshot()::text AS snapshot, \
         EXISTS (SELECT 1 FROM users WHERE app_id = $1 AND id = $2) AS known",
    )
    .bind::<Text, _>(app)
    .bind::<Text, _>(user)
    .get_result(conn)?;
    let snapshot = parley_domain::Snapshot::parse(&current.snapshot)
        .ok_or_else(|| DbError::Corrupt(format!("snapshot {:?}", current.snapshot)))?;
    Ok((snapshot, current.known))
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

diesel::define_sql_function! {
    /// The upsert of a page end into `list_cursors` (a migration's function: a statement diesel
    /// keeps prepared, where its own upsert would be prepared and planned anew every time).
    fn parley_remember_cursor(
        app_id: diesel::sql_types::Text,
        list_key: diesel::sql_types::Text,
        conversation_id: diesel::sql_types::Text,
        sort_key: diesel::sql_types::BigInt,
        snapshot: diesel::sql_types::Text,
        remembered_at: diesel::sql_types::BigInt,
    ) -> diesel::sql_types::Bool;
}

/// How long a remembered page end is used, as in the in-memory cursor store.
const CURSOR_MAX_AGE_MS: i64 = 15 * 60 * 1000;

/// The oldest time of a page end still used.
fn remembered_since() -> i64 {
    SystemClock.now_ms() - CURSOR_MAX_AGE_MS
}

/// A remembered page end from its row. One whose snapshot does not parse (from before an
/// upgrade) is no remembered walk.
fn remembered_cursor((key, snapshot): (i64, String)) -> Option<Cursor> {
    Snapshot::parse(&snapshot).map(|snapshot| Cursor { key, snapshot })
}

/// How often each server forgets the expired page ends.
const CURSOR_SWEEP_EVERY_MS: i64 = 60 * 1000;

/// Once a minute in this process (the first call due), forgets the page ends remembered longer
/// ago than they are used. (Once in 256 calls, as before, swept a large table many times a
/// second under load, and that request waited for it.)
pub(crate) fn sweep_cursors(conn: &mut DbConnection, now: i64) -> Result<(), DbError> {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT_SWEEP: AtomicI64 = AtomicI64::new(0);
    let due = NEXT_SWEEP.load(Ordering::Relaxed);
    if now >= due
        && NEXT_SWEEP
            .compare_exchange(
                due,
                now + CURSOR_SWEEP_EVERY_MS,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    {
        diesel::delete(
            list_cursors::table.filter(list_cursors::remembered_at.lt(now - CURSOR_MAX_AGE_MS)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// What continuing a walk of list `list` after conversation `id` needs
/// (`ConversationRepository::resume`), in one statement: the conversation's place, `member`'s
/// access in it and the remembered end of the page that ended with it, three lookups by primary
/// key. SQLite's twin answers `None` (its cursors live in the server's memory).
pub(crate) fn resume(
    conn: &mut DbConnection,
    app: &str,
    id: &str,
    member: Option<&str>,
    list: &str,
) -> Result<Option<parley_domain::Resume>, DbError> {
    use crate::schema::participants;
    let since = remembered_since();
    let cursor = || {
        list_cursors::table
            .find((app, list, id))
            .filter(list_cursors::remembered_at.ge(since))
    };
    type Row = (
        i64,
        Option<i64>,
        i64,
        Option<String>,
        Option<i64>,
        Option<String>,
    );
    let row: Option<Row> = conversation_rows::table
        .find((app, id))
        .select((
            conversation_rows::created_at,
            conversation_rows::last_message_seq,
            conversation_rows::last_activity,
            // Without a member, `user_id = NULL` matches no participation.
            participants::table
                .filter(participants::app_id.eq(app))
                .filter(participants::conversation_id.eq(id))
                .filter(participants::user_id.nullable().eq(member))
                .select(participants::access)
                .single_value(),
            cursor().select(list_cursors::sort_key).single_value(),
            cursor().select(list_cursors::snapshot).single_value(),
        ))
        .first(conn)
        .optional()?;
    let Some((created_at, seq, activity, access, key, snapshot)) = row else {
        return Ok(Some(parley_domain::Resume {
            standing: None,
            access: None,
            cursor: None,
        }));
    };
    let access = access
        .map(|raw| {
            parley_domain::Access::parse(&raw)
                .ok_or_else(|| DbError::Corrupt(format!("access {raw:?}")))
        })
        .transpose()?;
    Ok(Some(parley_domain::Resume {
        standing: Some(conversations::standing_of(created_at, seq, activity)),
        access,
        cursor: key.zip(snapshot).and_then(remembered_cursor),
    }))
}

/// A column of a list page's statement that remembers the page's end in `list_cursors` as
/// [`CursorStore::remember`] does, so that a page and its remembered end are one round trip
/// instead of two:
///
/// ```sql
/// CASE WHEN row_number() OVER (ORDER BY key, id) = $limit OR lead(1) OVER (...) IS NULL
///      THEN parley_remember_cursor($app, $list, id, key, COALESCE($snapshot, <statement's>), $now)
/// END
/// ```
///
/// The window is the page's own order, so PostgreSQL numbers the rows as it reads them from the
/// order's index; the row numbered `limit`, or the last when fewer follow the walk's position,
/// ends the page. Only rows the page returns are evaluated (the `LIMIT` above the window stops
/// the read), and `CASE` calls the function for the one ending row: it is true there and NULL
/// elsewhere. The walk's snapshot is the page's; a walk that starts here gets the statement's
/// own, which is the snapshot the page reports. Without a list key it is `NULL`.
///
/// SQLite's twin is always `NULL`: there the cursors live in the server's memory.
#[derive(Debug, Clone)]
pub(crate) struct PageEnd<K, I> {
    key: K,
    id: I,
    descending: bool,
    limit: i64,
    remember: Option<RememberArgs>,
}

#[derive(Debug, Clone)]
struct RememberArgs {
    app: String,
    list: String,
    snapshot: Option<String>,
    now: i64,
}

/// The page end column for a page of `query` after `walk`'s position, remembered under
/// `remember` (list key and time) when given. See [`PageEnd`].
pub(crate) fn page_end<K, I>(
    key: K,
    id: I,
    app: &str,
    query: &parley_domain::ConversationQuery,
    walk: &parley_domain::Walk,
    remember: Option<(&str, i64)>,
) -> PageEnd<K, I> {
    PageEnd {
        key,
        id,
        descending: query.direction == parley_domain::Direction::Desc,
        limit: i64::try_from(query.limit).unwrap_or(i64::MAX),
        remember: remember.map(|(list, now)| RememberArgs {
            app: app.to_owned(),
            list: list.to_owned(),
            snapshot: walk.snapshot.as_ref().map(ToString::to_string),
            now,
        }),
    }
}

impl<K, I> diesel::expression::Expression for PageEnd<K, I> {
    type SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>;
}

impl<K, I, QS> diesel::expression::AppearsOnTable<QS> for PageEnd<K, I>
where
    K: diesel::expression::AppearsOnTable<QS>,
    I: diesel::expression::AppearsOnTable<QS>,
{
}

impl<K, I, QS> diesel::expression::SelectableExpression<QS> for PageEnd<K, I>
where
    K: diesel::expression::SelectableExpression<QS>,
    I: diesel::expression::SelectableExpression<QS>,
{
}

// A window function: it is computed per row, so it mixes with plain columns (no GROUP BY).
impl<K, I, GB> diesel::expression::ValidGrouping<GB> for PageEnd<K, I> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

// Its SQL text varies (direction, list key or not), so diesel caches its statements by text.
impl<K, I> diesel::query_builder::QueryId for PageEnd<K, I> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<K, I> diesel::query_builder::QueryFragment<diesel::pg::Pg> for PageEnd<K, I>
where
    K: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    I: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text};
        let Some(args) = &self.remember else {
            out.push_sql("NULL::boolean");
            return Ok(());
        };
        let direction = if self.descending { " DESC" } else { " ASC" };
        let window = |mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>| {
            out.push_sql(" OVER (ORDER BY ");
            self.key.walk_ast(out.reborrow())?;
            out.push_sql(direction);
            out.push_sql(", ");
            self.id.walk_ast(out.reborrow())?;
            out.push_sql(direction);
            out.push_sql(")");
            QueryResult::Ok(())
        };
        out.push_sql("CASE WHEN row_number()");
        window(out.reborrow())?;
        out.push_sql(" = ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(" OR lead(1)");
        window(out.reborrow())?;
        out.push_sql(" IS NULL THEN parley_remember_cursor(");
        out.push_bind_param::<Text, _>(&args.app)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&args.list)?;
        out.push_sql(", ");
        self.id.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.key.walk_ast(out.reborrow())?;
        out.push_sql(", COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&args.snapshot)?;
        out.push_sql(", pg_current_snapshot()::text), ");
        out.push_bind_param::<BigInt, _>(&args.now)?;
        out.push_sql(") END");
        Ok(())
    }
}

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
                diesel::select(parley_remember_cursor(
                    &app,
                    &list,
                    &last,
                    cursor.key,
                    cursor.snapshot.to_string(),
                    now,
                ))
                .execute(conn)?;
                sweep_cursors(conn, now)
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
        let since = remembered_since();
        let found = self
            .run(move |conn| {
                Ok(list_cursors::table
                    .find((&app, &list, &last))
                    .filter(list_cursors::remembered_at.ge(since))
                    .select((list_cursors::sort_key, list_cursors::snapshot))
                    .first::<(i64, String)>(conn)
                    .optional()?)
            })
            .await;
        match found {
            Ok(found) => found.and_then(remembered_cursor),
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
        let manager = Manager::new(options.url.clone());
        let counters = std::sync::Arc::new(crate::pool_events::PoolCounters::default());
        let pool = Pool::builder()
            .event_handler(Box::new(crate::pool_events::PoolEvents(counters.clone())))
            .max_size(options.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            // A connection may have died with the server. The manager's check is free unless a
            // dead connection has been met since the connection last worked (see `pg_pool`), so
            // the pool recovers by itself when the database is back, and a checkout costs no
            // `SELECT 1` round trip otherwise.
            .test_on_check_out(true)
            .build(manager)
            .map_err(|e| connect(&e))?;
        let mut pooled = pool.get().map_err(|e| connect(&e))?;
        let conn: &mut DbConnection = &mut pooled;
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .execute(conn)
            .map_err(|e| connect(&e))?;
        let migrated = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|_| ())
            .map_err(|e| OpenError::Migrate(e.to_string()));
        let unlocked = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            .execute(conn)
            .map_err(|e| connect(&e));
        migrated?;
        unlocked?;
        Ok(Self::from_pool(
            pool,
            options.connection_timeout,
            None,
            counters,
        ))
    }
}
