//! The webhook deliverer: claims due deliveries from the outbox (a lease, so that of several
//! servers on one database one attempts each), POSTs them signed, and records the outcome with
//! the next attempt's time. Woken at once by commits of this process, and at least every
//! second for other servers' events and retries that fall due.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use hmac::{Hmac, Mac};
use parley_domain::events::{next_attempt, AttemptOutcome, ClaimedDelivery, EventRepository};
use parley_domain::AppKeys;
use sha2::Sha256;
use tokio::sync::watch;

/// The most deliveries attempted at once by one server.
const BATCH: usize = 64;
/// The longest the deliverer sleeps without looking at the outbox.
const POLL: Duration = Duration::from_secs(1);
/// After a wake-up, how long the deliverer lets more commits arrive before it claims: under
/// load one claim (one write transaction) then serves many events instead of one each, which
/// would compete with the writes themselves for the database.
const GATHER: Duration = Duration::from_millis(10);

pub(crate) fn now_ms() -> i64 {
    parley_domain::Clock::now_ms(&parley_domain::SystemClock)
}

/// `X-TalkJS-Signature`: uppercase hex HMAC-SHA256 keyed with the secret key, of
/// `timestamp + "." + body`.
pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

pub struct Deliverer {
    events: Arc<dyn EventRepository>,
    keys: AppKeys,
    client: reqwest::Client,
    lease_ms: i64,
    metrics: Arc<parley_http::Metrics>,
}

impl Deliverer {
    /// # Errors
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn new(
        events: Arc<dyn EventRepository>,
        keys: AppKeys,
        timeout: Duration,
        metrics: Arc<parley_http::Metrics>,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Parley/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            events,
            keys,
            client,
            // Long enough that an attempt always finishes inside its lease.
            lease_ms: i64::try_from(timeout.as_millis()).unwrap_or(5_000) + 10_000,
            metrics,
        })
    }

    pub async fn run(self, mut wake: watch::Receiver<u64>) {
        loop {
            let now = now_ms();
            match self
                .events
                .claim_deliveries(now, self.lease_ms, BATCH)
                .await
            {
                Ok(batch) if !batch.is_empty() => {
                    let full = batch.len() == BATCH;
                    let done = join_all(batch.into_iter().map(|d| self.attempt(d))).await;
                    if let Err(e) = self.events.finish_attempts(&done).await {
                        // The leases run out and the deliveries are attempted again: at least
                        // once.
                        tracing::warn!(error = %e, "cannot record delivery attempts");
                    }
                    if full {
                        // More are waiting: claim them at once.
                        continue;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim deliveries; retrying in a second");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            }
            let next = self.events.next_due().await.ok().flatten();
            let wait = next.map_or(POLL, |at| {
                Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)).min(POLL)
            });
            tokio::select! {
                changed = wake.changed() => {
                    if changed.is_err() {
                        // The bus is gone: the server is shutting down.
                        return;
                    }
                    tokio::time::sleep(GATHER).await;
                    wake.borrow_and_update();
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One attempt: what to record for it.
    async fn attempt(&self, d: ClaimedDelivery) -> (i64, String, AttemptOutcome) {
        let outcome = match self.keys.key_for(d.app.as_str()) {
            None => AttemptOutcome::Failed {
                status: None,
                error: Some("the app is no longer configured".into()),
                next_attempt_at: None,
            },
            Some((_, key)) => self.post(&d, key.expose()).await,
        };
        self.metrics
            .observe_delivery(matches!(outcome, AttemptOutcome::Delivered { .. }));
        if let AttemptOutcome::Failed { status, error, .. } = &outcome {
            tracing::info!(event = %d.event_id, url = %d.url, ?status, ?error, "webhook delivery failed");
        }
        (d.event_seq, d.url, outcome)
    }

    async fn post(&self, d: &ClaimedDelivery, secret: &str) -> AttemptOutcome {
        let timestamp = now_ms().to_string();
        let signature = sign(secret, &timestamp, &d.body);
        let sent = self
            .client
            .post(&d.url)
            .header("Content-Type", "application/json")
            .header("X-TalkJS-Timestamp", &timestamp)
            .header("X-TalkJS-Signature", signature)
            .body(d.body.clone())
            .send()
            .await;
        let failed = |status, error| AttemptOutcome::Failed {
            status,
            error,
            next_attempt_at: next_attempt(d.attempts + 1, now_ms(), d.retry_until),
        };
        match sent {
            Ok(resp) if resp.status().is_success() => AttemptOutcome::Delivered {
                status: i32::from(resp.status().as_u16()),
            },
            Ok(resp) => failed(Some(i32::from(resp.status().as_u16())), None),
            Err(e) => failed(None, Some(describe(&e))),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".into();
    }
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return "connection refused".into();
            }
        }
        source = err.source();
    }
    if e.is_connect() {
        return "connection failed".into();
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_uppercase_hex_hmac_sha256_of_timestamp_dot_body() {
        // Checked against: printf '%s' '1700000000000.{"a":1}' | openssl dgst -sha256 -hmac key
        let sig = sign("key", "1700000000000", "{\"a\":1}");
        assert_eq!(
            sig,
            "2C8BC12F88D77789404CE0A63CF69ACF735BA98832F7A7D36147F537BE556F3E"
        );
        assert_ne!(sig, sign("key", "1700000000001", "{\"a\":1}"));
    }
}
