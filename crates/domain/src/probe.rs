//! What operators ask of storage: is it ready, and how busy is it. The port behind
//! `/health/ready` and the storage gauges of `/metrics`.

use async_trait::async_trait;

/// Figures of a store's connection pool and writer, read without touching the database.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StoreStats {
    /// Connections open in the pool.
    pub connections: u32,
    /// Of those, idle.
    pub idle: u32,
    /// Connections handed out since start.
    pub checkouts: u64,
    /// Total seconds requests waited for a connection.
    pub wait_seconds: f64,
    /// Requests that gave up waiting for a connection.
    pub timeouts: u64,
    /// Writes waiting for the SQLite group writer (`None` without one).
    pub writer_queue: Option<u64>,
}

/// Readiness and load of a store.
#[async_trait]
pub trait StoreProbe: Send + Sync + std::fmt::Debug {
    /// `Ok` when the database answers and its schema is fully migrated; else why not.
    async fn ready(&self) -> Result<(), String>;

    /// The pool and writer figures.
    fn stats(&self) -> StoreStats;

    /// Webhook deliveries waiting for a (next) attempt.
    async fn outbox_backlog(&self) -> Result<u64, String>;
}
