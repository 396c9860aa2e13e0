//! Group commit: every write of a server process goes to one writer thread, which takes all
//! the write requests waiting at that moment and commits them in one transaction (one fsync),
//! each request in a savepoint of its own, so that one that fails its checks (a rule, a
//! conflict) is rolled back alone. Replies go out only after the commit, so nothing is
//! acknowledged before it is durable. A lone write commits at once: the writer never waits for
//! company, it only takes what queued up while the previous batch committed.
//!
//! Used for SQLite, whose writes are serialised anyway (one write lock per database): there the
//! batch turns N fsyncs into one.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::{ConnectionManager, Pool, R2D2Connection};
use parley_domain::RepositoryError;

use crate::error::DbError;

/// Write requests per transaction at most (a bound on one commit's size and latency).
const MAX_BATCH: usize = 256;

/// What a job hands back after running: how to reply once the batch's fate is known.
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Rolls back every open transaction level (after a panic inside a job, diesel may still be
/// inside its savepoint and the outer transaction), and puts the connection's pragmas back.
fn reset<C>(conn: &mut C, restore: &str)
where
    C: R2D2Connection<TransactionManager = AnsiTransactionManager>,
{
    for _ in 0..16 {
        let open = AnsiTransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()
            .map(|d| d.is_some())
            .unwrap_or(false);
        if !open || AnsiTransactionManager::rollback_transaction(conn).is_err() {
            break;
        }
    }
    if let Err(e) = diesel::connection::SimpleConnection::batch_execute(conn, restore) {
        tracing::error!(error = %e, "cannot restore the writer connection's pragmas");
    }
}

struct Job<C> {
    work: Box<dyn FnOnce(&mut C) -> Reply + Send>,
    /// Runs alone, outside a batch (it sets up its own transaction, e.g. without an fsync).
    alone: bool,
}

/// The handle of the writer thread.
pub(crate) struct GroupWriter<C: 'static> {
    jobs: mpsc::Sender<Job<C>>,
    /// Writes submitted and not yet answered (queued, or in the batch being committed).
    in_flight: std::sync::atomic::AtomicU64,
}

impl<C> std::fmt::Debug for GroupWriter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter").finish_non_exhaustive()
    }
}

impl<C> GroupWriter<C>
where
    C: R2D2Connection<TransactionManager = AnsiTransactionManager> + Send + 'static,
{
    /// Starts the writer thread on a connection of `pool` (kept for the writer's life), giving
    /// it a page cache of `cache_mib`: every write of the process runs on it, and profiles show
    /// its time going to page reads when the cache is that of a reader.
    /// `restore` is SQL that puts the connection's pragmas back after a job that panicked
    /// (one that commits without an fsync changes `synchronous` for its transaction).
    pub(crate) fn start(
        pool: &Pool<ConnectionManager<C>>,
        cache_mib: u32,
        restore: String,
    ) -> Result<Self, DbError> {
        let mut conn = pool.get().map_err(DbError::Pool)?;
        diesel::connection::SimpleConnection::batch_execute(
            &mut *conn,
            &format!(
                "PRAGMA cache_size = -{}",
                u64::from(cache_mib.max(1)) * 1024
            ),
        )?;
        let (jobs, queue) = mpsc::channel::<Job<C>>();
        std::thread::Builder::new()
            .name("parley-writer".into())
            .spawn(move || run(conn, &queue, &restore))
            .map_err(|e| DbError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            jobs,
            in_flight: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Writes submitted and not yet answered.
    pub(crate) fn queued(&self) -> u64 {
        self.in_flight.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` in the next batch (or `alone`) and answers its result once committed.
    pub(crate) async fn submit<T, F>(&self, alone: bool, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut C) -> Result<T, DbError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, DbError>>();
        let work = Box::new(move |conn: &mut C| -> Reply {
            let outcome = f(conn);
            Box::new(move |committed: Result<(), String>| {
                let answer = match committed {
                    Ok(()) => outcome,
                    // The request's own error stands; a good one is lost with the batch.
                    Err(why) => outcome.and(Err(DbError::Unavailable(why))),
                };
                let _ = tx.send(answer);
            })
        });
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Counted down however this future ends (answered, failed, or dropped by its caller).
        let _counted = InFlight(&self.in_flight);
        self.jobs
            .send(Job { work, alone })
            .map_err(|_| RepositoryError::Unavailable("the writer thread is gone".into()))?;
        match rx.await {
            Ok(answer) => answer.map_err(RepositoryError::from),
            Err(_) => Err(RepositoryError::Unavailable(
                "the writer thread stopped before answering".into(),
            )),
        }
    }
}

struct InFlight<'a>(&'a std::sync::atomic::AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Runs one job, turning a panic into an error reply.
fn attempt<C>(conn: &mut C, job: Job<C>) -> Result<Reply, ()> {
    catch_unwind(AssertUnwindSafe(|| (job.work)(conn))).map_err(|_| ())
}

fn run<C>(
    mut conn: diesel::r2d2::PooledConnection<ConnectionManager<C>>,
    queue: &mpsc::Receiver<Job<C>>,
    restore: &str,
) where
    C: R2D2Connection<TransactionManager = AnsiTransactionManager> + Send + 'static,
{
    let conn: &mut C = &mut conn;
    let mut held: Option<Job<C>> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        if first.alone {
            match attempt(conn, first) {
                Ok(reply) => reply(Ok(())),
                Err(()) => reset(conn, restore),
            }
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) if job.alone => {
                    held = Some(job);
                    break;
                }
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = AnsiTransactionManager::begin_transaction_sql(conn, "BEGIN IMMEDIATE") {
            // Nothing ran: dropping the jobs answers each with "unavailable, retry".
            tracing::warn!(error = %e, "cannot begin a write transaction");
            drop(batch);
            continue;
        }
        let mut replies = Vec::with_capacity(batch.len());
        let mut broken = false;
        for job in batch {
            match attempt(conn, job) {
                Ok(reply) => replies.push(reply),
                Err(()) => broken = true,
            }
        }
        let committed = if broken {
            reset(conn, restore);
            Err("a write in the same batch failed; retry".to_string())
        } else {
            match AnsiTransactionManager::commit_transaction(conn) {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = AnsiTransactionManager::rollback_transaction(conn);
                    Err(format!("the commit failed: {e}"))
                }
            }
        };
        for reply in replies {
            reply(committed.clone());
        }
    }
}
