//! Readiness and pool figures for `/health/ready` and `/metrics`.

use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use parley_domain::events::DeliveryStatus;
use parley_domain::probe::{StoreProbe, StoreStats};

use super::{Store, MIGRATIONS};
use crate::schema::deliveries;

/// How long a readiness check waits for a connection: a load balancer's check must answer
/// before its own timeout, also while the database is down.
const READY_WAIT: Duration = Duration::from_secs(2);

#[async_trait]
impl StoreProbe for Store {
    async fn ready(&self) -> Result<(), String> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool
                .get_timeout(READY_WAIT)
                .map_err(|e| format!("no database connection: {e}"))?;
            let pending = conn
                .has_pending_migration(MIGRATIONS)
                .map_err(|e| format!("the database does not answer: {e}"))?;
            if pending {
                return Err("the database schema is not migrated".to_owned());
            }
            Ok(())
        })
        .await
        .map_err(|e| format!("the readiness check failed: {e}"))?
    }

    fn stats(&self) -> StoreStats {
        let state = self.pool.state();
        let (checkouts, wait_seconds, timeouts) = self.counters.read();
        StoreStats {
            connections: state.connections,
            idle: state.idle_connections,
            checkouts,
            wait_seconds,
            timeouts,
            writer_queue: self.group.as_ref().map(|g| g.queued()),
        }
    }

    async fn outbox_backlog(&self) -> Result<u64, String> {
        self.run(|conn| {
            let n: i64 = deliveries::table
                .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                .count()
                .get_result(conn)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
        .map_err(|e| e.to_string())
    }
}
