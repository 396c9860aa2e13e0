//! Everything the process does besides serving requests: each a small task, started in one
//! place ([`spawn`]) and stopped with the server.

mod deliverer;
pub mod files;
mod pruner;

use std::sync::Arc;
use std::time::Duration;

use parley_domain::events::EventRepository;
use parley_domain::AppKeys;
use tokio::sync::watch;

pub use deliverer::{sign, Deliverer};

/// Starts the webhook deliverer and the event-log pruner on the current runtime.
pub fn spawn(
    events: Arc<dyn EventRepository>,
    keys: AppKeys,
    wake: watch::Receiver<u64>,
    timeout: Duration,
    retention: Duration,
    metrics: Arc<parley_http::Metrics>,
) -> anyhow::Result<()> {
    let deliverer = Deliverer::new(events.clone(), keys, timeout, metrics)?;
    actix_web::rt::spawn(deliverer.run(wake));
    actix_web::rt::spawn(pruner::run(events, retention));
    Ok(())
}
