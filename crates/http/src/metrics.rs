//! Prometheus metrics: requests by route template, method and status, latency by route, the
//! storage pool and writer, the webhook outbox, and the process itself.
//!
//! Label values are route templates (`/v1/{appId}/users/{userId}`), method names and status
//! codes only: never an ID, a path or anything a client chose, so the series stay few.

use std::sync::{Arc, Mutex};

use parley_domain::probe::StoreProbe;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "(unmatched)";

/// Latency buckets in seconds: from a cached read to a slow fsync under load.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric of one server process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    pool_in_use: IntGauge,
    pool_checkouts: IntCounter,
    pool_wait_seconds: Gauge,
    pool_timeouts: IntCounter,
    writer_queue: IntGauge,
    outbox_backlog: IntGauge,
    deliveries: IntCounterVec,
    /// The store's counters at the last scrape, to advance ours by the difference.
    last: Mutex<(u64, u64)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn registered<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, m: M) -> M {
    registry
        .register(Box::new(m.clone()))
        .expect("each metric is registered once, under its own name");
    m
}

impl Metrics {
    /// A registry with every metric at zero, and the process collector on Linux.
    ///
    /// # Panics
    /// Never: the names are fixed and distinct.
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("the process collector is registered once");
        let requests = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "parley_http_requests_total",
                    "HTTP requests answered, by route template, method and status",
                ),
                &["route", "method", "status"],
            )
            .expect("valid metric"),
        );
        let latency = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "parley_http_request_duration_seconds",
                    "Time from a request's arrival to its response head, by route template and method",
                )
                .buckets(BUCKETS.to_vec()),
                &["route", "method"],
            )
            .expect("valid metric"),
        );
        let gauge = |name: &str, help: &str| {
            registered(&registry, IntGauge::new(name, help).expect("valid metric"))
        };
        let counter = |name: &str, help: &str| {
            registered(
                &registry,
                IntCounter::new(name, help).expect("valid metric"),
            )
        };
        Self {
            pool_connections: gauge(
                "parley_db_pool_connections",
                "Database connections open in the pool",
            ),
            pool_idle: gauge(
                "parley_db_pool_idle",
                "Open database connections not in use",
            ),
            pool_in_use: gauge("parley_db_pool_in_use", "Database connections in use"),
            pool_checkouts: counter(
                "parley_db_pool_checkouts_total",
                "Database connections handed out by the pool",
            ),
            pool_wait_seconds: registered(
                &registry,
                Gauge::new(
                    "parley_db_pool_wait_seconds_total",
                    "Seconds requests spent waiting for a database connection (a counter)",
                )
                .expect("valid metric"),
            ),
            pool_timeouts: counter(
                "parley_db_pool_timeouts_total",
                "Requests that gave up waiting for a database connection",
            ),
            writer_queue: gauge(
                "parley_sqlite_writer_queue",
                "Writes queued for the SQLite group writer or in the batch it is committing",
            ),
            outbox_backlog: gauge(
                "parley_webhook_outbox_backlog",
                "Webhook deliveries waiting for their (next) attempt",
            ),
            deliveries: registered(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "parley_webhook_attempts_total",
                        "Webhook delivery attempts by outcome (delivered, failed)",
                    ),
                    &["outcome"],
                )
                .expect("valid metric"),
            ),
            requests,
            latency,
            registry,
            last: Mutex::new((0, 0)),
        }
    }

    /// Counts one answered request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.requests
            .with_label_values(&[route, method, &status])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// Counts one webhook delivery attempt: `delivered` or `failed`.
    pub fn observe_delivery(&self, delivered: bool) {
        let outcome = if delivered { "delivered" } else { "failed" };
        self.deliveries.with_label_values(&[outcome]).inc();
    }

    /// The text exposition, with the storage figures read now.
    pub async fn render(&self, probe: Option<&Arc<dyn StoreProbe>>) -> String {
        if let Some(probe) = probe {
            let stats = probe.stats();
            self.pool_connections.set(i64::from(stats.connections));
            self.pool_idle.set(i64::from(stats.idle));
            self.pool_in_use
                .set(i64::from(stats.connections.saturating_sub(stats.idle)));
            {
                let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
                self.pool_checkouts
                    .inc_by(stats.checkouts.saturating_sub(last.0));
                self.pool_timeouts
                    .inc_by(stats.timeouts.saturating_sub(last.1));
                *last = (stats.checkouts.max(last.0), stats.timeouts.max(last.1));
            }
            self.pool_wait_seconds.set(stats.wait_seconds);
            self.writer_queue.set(
                stats
                    .writer_queue
                    .map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            );
            match probe.outbox_backlog().await {
                Ok(n) => self
                    .outbox_backlog
                    .set(i64::try_from(n).unwrap_or(i64::MAX)),
                Err(why) => tracing::warn!(%why, "cannot count the webhook outbox"),
            }
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
