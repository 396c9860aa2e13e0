//! Retention of the event log: events older than `events.retention_hours` go, but never one
//! with a delivery still pending.

use std::sync::Arc;
use std::time::Duration;

use parley_domain::events::EventRepository;

const EVERY: Duration = Duration::from_secs(60);

pub async fn run(events: Arc<dyn EventRepository>, retention: Duration) {
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    loop {
        let before = super::deliverer::now_ms().saturating_sub(retention_ms);
        match events.prune_events(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "pruned events past their retention"),
            Err(e) => tracing::warn!(error = %e, "pruning the event log failed; retrying later"),
        }
        tokio::time::sleep(EVERY).await;
    }
}
