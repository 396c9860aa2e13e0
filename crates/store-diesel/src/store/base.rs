//! The store of one backend: its connection pool and how work reaches it.

use std::sync::Arc;
use std::time::Duration;

use diesel::r2d2::Pool;
use parley_domain::RepositoryError;

use super::DbConnection;
use crate::error::DbError;

/// Conversations, participants, messages, users and app keys in one database.
#[derive(Clone)]
pub struct Store {
    pub(super) pool: Pool<super::Manager>,
    /// With [`ONE_WRITER`](super::ONE_WRITER) (SQLite), writers of this process queue here,
    /// asynchronously and for at most `busy_timeout`, instead of in the database's busy handler,
    /// whose sleeps (up to 100 ms each) would dominate tail latency.
    pub(super) writer: Arc<tokio::sync::Mutex<()>>,
    pub(super) busy_timeout: Duration,
    /// SQLite with group commit: every write goes to the writer thread.
    pub(super) group: Option<Arc<crate::group_commit::GroupWriter<DbConnection>>>,
    /// Checkouts and waits of `pool`, counted by its event handler.
    pub(super) counters: Arc<crate::pool_events::PoolCounters>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    pub(super) fn from_pool(
        pool: Pool<super::Manager>,
        busy: Duration,
        group: Option<Arc<crate::group_commit::GroupWriter<DbConnection>>>,
        counters: Arc<crate::pool_events::PoolCounters>,
    ) -> Self {
        Self {
            pool,
            counters,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            busy_timeout: busy,
            group,
        }
    }

    /// A write that sets up its own transaction (one without an fsync): with group commit it
    /// runs alone between two batches.
    pub(super) async fn run_write_alone<T, F>(&self, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        match &self.group {
            Some(group) => group.submit(true, f).await,
            None => self.run_write(f).await,
        }
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        self.run_inner(None, f).await
    }

    /// Like [`run`](Self::run), for a write transaction (one writer of this process at a time
    /// where the backend has one writer).
    pub(super) async fn run_write<T, F>(&self, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        if let Some(group) = &self.group {
            return group.submit(false, f).await;
        }
        if !super::ONE_WRITER {
            return self.run_inner(None, f).await;
        }
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
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            // The turn came before the connection, so queued writers do not hold connections
            // that readers need; it is released when the work is done.
            let _turn = turn;
            let mut conn = pool.get().map_err(DbError::Pool)?;
            let outcome = f(&mut conn);
            super::after_work(&mut conn, &outcome);
            outcome
        })
        .await
        .map_err(|e| RepositoryError::Other(format!("storage task failed: {e}")))?
        .map_err(RepositoryError::from)
    }
}
