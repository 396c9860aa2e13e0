//! PostgreSQL connections for the pool, checked only when they may have broken.
//!
//! r2d2 can check a connection each time it hands one out (`SELECT 1`), which costs every
//! request a round trip. Instead, a connection that fails because the server went away (the
//! socket closed, a command could not be sent) is dropped when it goes back to the pool, and
//! the failure starts a new *outage epoch*: from then on, each connection that was last known
//! good in an earlier epoch is checked once at its next checkout (and dropped if it fails, so
//! the pool opens a fresh one). In steady state no checkout costs a round trip; after an
//! outage the pool heals by itself, the first request that meets a dead connection failing
//! with `Unavailable` (a 503) and none after it for the same reason.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use diesel::r2d2::{ConnectionManager, ManageConnection, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::PgConnection;

use crate::error::DbError;

/// A pooled PostgreSQL connection and what the pool knows of it.
pub struct PgConn {
    conn: PgConnection,
    /// The outage epoch in which it last worked (or was opened).
    good_in: u64,
    /// It failed as a dead connection does: drop it instead of pooling it again.
    broken: bool,
    epochs: Arc<AtomicU64>,
}

impl Deref for PgConn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// The pool's connection manager (see the module).
pub struct PgManager {
    inner: ConnectionManager<PgConnection>,
    epochs: Arc<AtomicU64>,
}

impl std::fmt::Debug for PgManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgManager").finish_non_exhaustive()
    }
}

impl PgManager {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            inner: ConnectionManager::new(url),
            epochs: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgConn, Self::Error> {
        Ok(PgConn {
            conn: self.inner.connect()?,
            good_in: self.epochs.load(Ordering::Acquire),
            broken: false,
            epochs: self.epochs.clone(),
        })
    }

    /// Free unless an outage began since the connection last worked; then one `SELECT 1`.
    fn is_valid(&self, conn: &mut PgConn) -> Result<(), Self::Error> {
        let now = self.epochs.load(Ordering::Acquire);
        if conn.good_in == now {
            return Ok(());
        }
        self.inner.is_valid(&mut conn.conn)?;
        conn.good_in = now;
        Ok(())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.broken || self.inner.has_broken(&mut conn.conn)
    }
}

/// Whether `e` is what a dead connection answers.
fn is_dead_connection(e: &DbError) -> bool {
    matches!(
        e,
        DbError::Diesel(DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        ))
    )
}

/// Notes the outcome of work done on `conn`: a dead-connection failure drops it and starts a
/// new outage epoch.
pub(crate) fn after<T>(conn: &mut PooledConnection<PgManager>, outcome: &Result<T, DbError>) {
    if let Err(e) = outcome {
        if is_dead_connection(e) {
            conn.broken = true;
            conn.epochs.fetch_add(1, Ordering::AcqRel);
        }
    }
}
