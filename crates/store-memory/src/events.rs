//! The in-memory outbox: the event log and the webhook deliveries, written under the same lock
//! as the change that records them.

use parley_domain::events::{
    AttemptOutcome, ClaimedDelivery, Delivery, DeliveryStatus, EventQuery, LogPosition, NewEvent,
    StoredEvent,
};
use parley_domain::AppId;

#[derive(Debug, Clone)]
struct Row {
    app: AppId,
    event: StoredEvent,
}

#[derive(Debug, Clone)]
struct DeliveryRow {
    event_seq: i64,
    delivery: Delivery,
    lease_until: Option<i64>,
    retry_until: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    seq: i64,
    events: Vec<Row>,
    deliveries: Vec<DeliveryRow>,
}

impl Outbox {
    /// Deliveries still waiting for an attempt.
    pub(crate) fn backlog(&self) -> u64 {
        self.deliveries
            .iter()
            .filter(|d| d.delivery.status == parley_domain::events::DeliveryStatus::Pending)
            .count() as u64
    }

    pub(crate) fn record(&mut self, app: &AppId, events: &[NewEvent]) {
        for e in events {
            self.seq += 1;
            self.events.push(Row {
                app: app.clone(),
                event: StoredEvent {
                    seq: self.seq,
                    xid: 0,
                    id: e.id.clone(),
                    kind: e.kind,
                    created_at: e.created_at,
                    body: e.body.clone(),
                },
            });
            for url in &e.deliver_to {
                self.deliveries.push(DeliveryRow {
                    event_seq: self.seq,
                    delivery: Delivery {
                        event_id: e.id.clone(),
                        url: url.clone(),
                        status: DeliveryStatus::Pending,
                        attempts: 0,
                        last_status: None,
                        last_error: None,
                        next_attempt_at: Some(e.created_at),
                    },
                    lease_until: None,
                    retry_until: e.retry_until,
                });
            }
        }
    }

    pub(crate) fn event_seq(&self, app: &AppId, id: &str) -> Option<i64> {
        self.events
            .iter()
            .find(|r| &r.app == app && r.event.id == id)
            .map(|r| r.event.seq)
    }

    pub(crate) fn latest(&self, app: &AppId) -> Option<LogPosition> {
        self.events
            .iter()
            .rev()
            .find(|r| &r.app == app)
            .map(|r| r.event.position())
    }

    pub(crate) fn list(&self, app: &AppId, query: &EventQuery) -> Vec<StoredEvent> {
        self.events
            .iter()
            .filter(|r| {
                &r.app == app
                    && query.after.is_none_or(|after| r.event.position() > after)
                    && (query.types.is_empty() || query.types.contains(&r.event.kind))
            })
            .take(query.limit)
            .map(|r| r.event.clone())
            .collect()
    }

    pub(crate) fn claim(&mut self, now: i64, lease_ms: i64, limit: usize) -> Vec<ClaimedDelivery> {
        let mut out = Vec::new();
        for d in &mut self.deliveries {
            if out.len() == limit {
                break;
            }
            let due = d.delivery.status == DeliveryStatus::Pending
                && d.delivery.next_attempt_at.is_some_and(|at| at <= now)
                && d.lease_until.is_none_or(|l| l <= now);
            if !due {
                continue;
            }
            let Some(row) = self.events.iter().find(|r| r.event.seq == d.event_seq) else {
                continue;
            };
            d.lease_until = Some(now + lease_ms);
            out.push(ClaimedDelivery {
                app: row.app.clone(),
                event_seq: d.event_seq,
                event_id: d.delivery.event_id.clone(),
                url: d.delivery.url.clone(),
                body: row.event.body.clone(),
                attempts: d.delivery.attempts,
                retry_until: d.retry_until,
            });
        }
        out
    }

    pub(crate) fn finish(&mut self, event_seq: i64, url: &str, outcome: &AttemptOutcome) {
        let Some(d) = self
            .deliveries
            .iter_mut()
            .find(|d| d.event_seq == event_seq && d.delivery.url == url)
        else {
            return;
        };
        d.lease_until = None;
        d.delivery.attempts += 1;
        match outcome {
            AttemptOutcome::Delivered { status } => {
                d.delivery.status = DeliveryStatus::Delivered;
                d.delivery.last_status = Some(*status);
                d.delivery.last_error = None;
                d.delivery.next_attempt_at = None;
            }
            AttemptOutcome::Failed {
                status,
                error,
                next_attempt_at,
            } => {
                d.delivery.last_status = *status;
                d.delivery.last_error.clone_from(error);
                d.delivery.next_attempt_at = *next_attempt_at;
                if next_attempt_at.is_none() {
                    d.delivery.status = DeliveryStatus::Failed;
                }
            }
        }
    }

    pub(crate) fn next_due(&self) -> Option<i64> {
        self.deliveries
            .iter()
            .filter(|d| d.delivery.status == DeliveryStatus::Pending)
            .filter_map(|d| match d.lease_until {
                Some(lease) => Some(lease.max(d.delivery.next_attempt_at.unwrap_or(lease))),
                None => d.delivery.next_attempt_at,
            })
            .min()
    }

    pub(crate) fn list_deliveries(
        &self,
        app: &AppId,
        status: Option<DeliveryStatus>,
        limit: usize,
        starting_after_seq: Option<i64>,
    ) -> Vec<Delivery> {
        let mut rows: Vec<&DeliveryRow> = self
            .deliveries
            .iter()
            .filter(|d| {
                self.events
                    .iter()
                    .any(|r| r.event.seq == d.event_seq && &r.app == app)
                    && status.is_none_or(|s| d.delivery.status == s)
                    && starting_after_seq.is_none_or(|after| d.event_seq < after)
            })
            .collect();
        rows.sort_by(|a, b| {
            b.event_seq
                .cmp(&a.event_seq)
                .then_with(|| a.delivery.url.cmp(&b.delivery.url))
        });
        rows.into_iter()
            .take(limit)
            .map(|d| d.delivery.clone())
            .collect()
    }

    pub(crate) fn retry(&mut self, app: &AppId, event_id: &str, now: i64, until: i64) -> bool {
        let Some(seq) = self.event_seq(app, event_id) else {
            return false;
        };
        for d in &mut self.deliveries {
            if d.event_seq == seq && d.delivery.status == DeliveryStatus::Failed {
                d.delivery.status = DeliveryStatus::Pending;
                d.delivery.next_attempt_at = Some(now);
                d.retry_until = until;
                d.lease_until = None;
            }
        }
        true
    }

    pub(crate) fn prune(&mut self, before: i64) -> u64 {
        let settled = |seq: i64, deliveries: &[DeliveryRow]| {
            deliveries
                .iter()
                .filter(|d| d.event_seq == seq)
                .all(|d| d.delivery.status != DeliveryStatus::Pending)
        };
        let doomed: Vec<i64> = self
            .events
            .iter()
            .filter(|r| r.event.created_at < before && settled(r.event.seq, &self.deliveries))
            .map(|r| r.event.seq)
            .collect();
        self.events.retain(|r| !doomed.contains(&r.event.seq));
        self.deliveries.retain(|d| !doomed.contains(&d.event_seq));
        doomed.len() as u64
    }
}
