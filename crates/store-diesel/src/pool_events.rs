//! Counters of a connection pool's checkouts, fed by r2d2's event hooks: how often requests
//! took a connection, how long they waited for one, and how often they gave up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use diesel::r2d2::{event, HandleEvent};

#[derive(Debug, Default)]
pub(crate) struct PoolCounters {
    checkouts: AtomicU64,
    wait_nanos: AtomicU64,
    timeouts: AtomicU64,
}

impl PoolCounters {
    /// Checkouts, total seconds waited, timeouts.
    pub(crate) fn read(&self) -> (u64, f64, u64) {
        #[allow(clippy::cast_precision_loss)]
        let waited = self.wait_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (
            self.checkouts.load(Ordering::Relaxed),
            waited,
            self.timeouts.load(Ordering::Relaxed),
        )
    }
}

/// The pool's event handler, counting into shared [`PoolCounters`].
#[derive(Debug)]
pub(crate) struct PoolEvents(pub(crate) Arc<PoolCounters>);

impl HandleEvent for PoolEvents {
    fn handle_checkout(&self, e: event::CheckoutEvent) {
        self.0.checkouts.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(e.duration().as_nanos()).unwrap_or(u64::MAX);
        self.0.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn handle_timeout(&self, _: event::TimeoutEvent) {
        self.0.timeouts.fetch_add(1, Ordering::Relaxed);
    }
}
