//! The outbox on diesel: events and their deliveries are written by [`record`] inside the
//! transaction of the change; `EventRepository` reads the log and drives deliveries.

use async_trait::async_trait;
use diesel::prelude::*;
use parley_domain::events::{
    AttemptOutcome, ClaimedDelivery, Delivery, DeliveryStatus, EventQuery, EventRepository,
    EventType, LogPosition, NewEvent, StoredEvent,
};
use parley_domain::{AppId, RepositoryError};

use super::{DbConnection, Store};
use crate::error::DbError;
use crate::schema::{deliveries, events};

/// Stores `new` for `app` in the caller's transaction. Nothing when `new` is empty.
pub(crate) fn record(tx: &mut DbConnection, app: &str, new: &[NewEvent]) -> Result<(), DbError> {
    if new.is_empty() {
        return Ok(());
    }
    for e in new {
        let seq: i64 = diesel::insert_into(events::table)
            .values((
                events::xid.eq(super::current_xid()),
                events::app_id.eq(app),
                events::id.eq(&e.id),
                events::kind.eq(e.kind.as_str()),
                events::created_at.eq(e.created_at),
                events::body.eq(&e.body),
            ))
            .returning(events::seq)
            .get_result(tx)?;
        for url in &e.deliver_to {
            diesel::insert_into(deliveries::table)
                .values((
                    deliveries::event_seq.eq(seq),
                    deliveries::url.eq(url),
                    deliveries::app_id.eq(app),
                    deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                    deliveries::attempts.eq(0),
                    deliveries::next_attempt_at.eq(Some(e.created_at)),
                    deliveries::retry_until.eq(e.retry_until),
                ))
                .execute(tx)?;
        }
    }
    Ok(())
}

type EventRow = (i64, i64, String, String, i64, String);

/// How long a read of the log waits for events held back behind a transaction still running.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Up to `query.limit` events after `query.after` in the log's order, and whether it stopped
/// short at an event that is visible but not settled (see `super::log_horizon`).
fn settled_page(
    conn: &mut DbConnection,
    app: &str,
    query: &EventQuery,
) -> Result<(Vec<StoredEvent>, bool), DbError> {
    let after = query.after.unwrap_or_default();
    let mut q = events::table
        .filter(events::app_id.eq(app))
        .select((
            (
                events::seq,
                events::xid,
                events::id,
                events::kind,
                events::created_at,
                events::body,
            ),
            super::log_horizon(),
        ))
        .limit(i64::try_from(query.limit).unwrap_or(i64::MAX))
        .into_boxed();
    q = if super::LOG_BY_XID {
        // (xid, seq) > after, with the first column bounded for the index.
        q.filter(events::xid.ge(after.xid))
            .filter(events::xid.gt(after.xid).or(events::seq.gt(after.seq)))
            .order((events::xid.asc(), events::seq.asc()))
    } else {
        q.filter(events::seq.gt(after.seq)).order(events::seq.asc())
    };
    if !query.types.is_empty() {
        let types: Vec<&str> = query.types.iter().map(|t| t.as_str()).collect();
        q = q.filter(events::kind.eq_any(types));
    }
    let rows: Vec<(EventRow, i64)> = q.load(conn)?;
    let mut page = Vec::with_capacity(rows.len());
    for (row, horizon) in rows {
        // In (xid, seq) order every unsettled event comes after every settled one.
        if row.1 >= horizon {
            return Ok((page, true));
        }
        page.push(stored(row)?);
    }
    Ok((page, false))
}

fn stored((seq, xid, id, kind, created_at, body): EventRow) -> Result<StoredEvent, DbError> {
    let kind = EventType::parse(&kind)
        .ok_or_else(|| DbError::Corrupt(format!("unknown event type {kind:?}")))?;
    Ok(StoredEvent {
        seq,
        xid,
        id,
        kind,
        created_at,
        body,
    })
}

type DeliveryRow = (
    String,
    String,
    i32,
    Option<i32>,
    Option<String>,
    Option<i64>,
    String,
);

fn delivery(
    (url, status, attempts, last_status, last_error, next_attempt_at, event_id): DeliveryRow,
) -> Result<Delivery, DbError> {
    Ok(Delivery {
        event_id,
        url,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| DbError::Corrupt(format!("unknown delivery status {status:?}")))?,
        attempts,
        last_status,
        last_error,
        next_attempt_at,
    })
}

fn finish(
    tx: &mut DbConnection,
    event_seq: i64,
    url: &str,
    outcome: &AttemptOutcome,
) -> Result<(), DbError> {
    let (status, last_status, last_error, next) = match outcome {
        AttemptOutcome::Delivered { status } => {
            (DeliveryStatus::Delivered, Some(*status), None, None)
        }
        AttemptOutcome::Failed {
            status,
            error,
            next_attempt_at,
        } => (
            if next_attempt_at.is_some() {
                DeliveryStatus::Pending
            } else {
                DeliveryStatus::Failed
            },
            *status,
            error.clone(),
            *next_attempt_at,
        ),
    };
    diesel::update(deliveries::table.find((event_seq, url)))
        .set((
            deliveries::status.eq(status.as_str()),
            deliveries::attempts.eq(deliveries::attempts + 1),
            deliveries::last_status.eq(last_status),
            deliveries::last_error.eq(last_error),
            deliveries::next_attempt_at.eq(next),
            deliveries::lease_until.eq(None::<i64>),
        ))
        .execute(tx)?;
    Ok(())
}

#[async_trait]
impl EventRepository for Store {
    async fn event_seq(&self, app: &AppId, id: &str) -> Result<Option<i64>, RepositoryError> {
        let (app, id) = (app.as_str().to_owned(), id.to_owned());
        self.run(move |conn| {
            Ok(events::table
                .filter(events::app_id.eq(&app))
                .filter(events::id.eq(&id))
                .select(events::seq)
                .first(conn)
                .optional()?)
        })
        .await
    }

    async fn event_position(
        &self,
        app: &AppId,
        id: &str,
    ) -> Result<Option<LogPosition>, RepositoryError> {
        let (app, id) = (app.as_str().to_owned(), id.to_owned());
        self.run(move |conn| {
            let found: Option<(i64, i64, i64)> = events::table
                .filter(events::app_id.eq(&app))
                .filter(events::id.eq(&id))
                .select((events::xid, events::seq, super::log_horizon()))
                .first(conn)
                .optional()?;
            // An event not settled yet (its ID can reach a client through a webhook before the
            // log shows it): resuming after it must not pass events of older transactions
            // still running, so resume from just below the horizon instead (a few events may
            // come again; none is skipped).
            Ok(found.map(|(xid, seq, horizon)| {
                if xid >= horizon {
                    LogPosition {
                        xid: horizon - 1,
                        seq: i64::MAX,
                    }
                } else {
                    LogPosition { xid, seq }
                }
            }))
        })
        .await
    }

    async fn latest_position(&self, app: &AppId) -> Result<Option<LogPosition>, RepositoryError> {
        let app = app.as_str().to_owned();
        self.run(move |conn| {
            let mut q = events::table
                .filter(events::app_id.eq(&app))
                .select((events::xid, events::seq))
                .into_boxed();
            q = q.filter(events::xid.lt(super::log_horizon()));
            q = if super::LOG_BY_XID {
                q.order((events::xid.desc(), events::seq.desc()))
            } else {
                q.order(events::seq.desc())
            };
            Ok(q.first::<(i64, i64)>(conn)
                .optional()?
                .map(|(xid, seq)| LogPosition { xid, seq }))
        })
        .await
    }

    async fn list_events(
        &self,
        app: &AppId,
        query: &EventQuery,
    ) -> Result<Vec<StoredEvent>, RepositoryError> {
        // Events that committed while an older transaction still runs are held back (they come
        // after it in the log's order); that transaction is a write of milliseconds, so a
        // short page waits for it a little rather than answering without the reader's own
        // latest writes.
        let deadline = std::time::Instant::now() + SETTLE_WAIT;
        loop {
            let (app, query) = (app.as_str().to_owned(), query.clone());
            let (page, held_back) = self
                .run(move |conn| settled_page(conn, &app, &query))
                .await?;
            if !held_back || std::time::Instant::now() >= deadline {
                return Ok(page);
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, RepositoryError> {
        // One write transaction: one commit for the whole batch of leases.
        self.run_write_alone(move |conn| {
            super::relaxed_write_tx(&mut *conn, |conn| claim(conn, now, lease_ms, limit))
        })
        .await
    }

    async fn finish_attempts(
        &self,
        attempts: &[(i64, String, AttemptOutcome)],
    ) -> Result<(), RepositoryError> {
        let attempts = attempts.to_vec();
        // One transaction for the batch: one commit (one fsync on SQLite) for many attempts.
        self.run_write_alone(move |conn| {
            super::relaxed_write_tx(&mut *conn, |tx| {
                for (event_seq, url, outcome) in &attempts {
                    finish(tx, *event_seq, url, outcome)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn next_due(&self) -> Result<Option<i64>, RepositoryError> {
        self.run(move |conn| {
            let rows: Vec<(Option<i64>, Option<i64>)> = deliveries::table
                .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                .select((deliveries::next_attempt_at, deliveries::lease_until))
                .order(deliveries::next_attempt_at.asc())
                .limit(100)
                .load(conn)?;
            Ok(rows
                .into_iter()
                .filter_map(|(next, lease)| match (next, lease) {
                    (Some(n), Some(l)) => Some(n.max(l)),
                    (n, None) => n,
                    (None, l) => l,
                })
                .min())
        })
        .await
    }

    async fn list_deliveries(
        &self,
        app: &AppId,
        status: Option<DeliveryStatus>,
        limit: usize,
        starting_after_seq: Option<i64>,
    ) -> Result<Vec<Delivery>, RepositoryError> {
        let app = app.as_str().to_owned();
        self.run(move |conn| {
            let mut q = deliveries::table
                .inner_join(events::table.on(events::seq.eq(deliveries::event_seq)))
                .filter(deliveries::app_id.eq(&app))
                .select((
                    deliveries::url,
                    deliveries::status,
                    deliveries::attempts,
                    deliveries::last_status,
                    deliveries::last_error,
                    deliveries::next_attempt_at,
                    events::id,
                ))
                .order((deliveries::event_seq.desc(), deliveries::url.asc()))
                .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                .into_boxed();
            if let Some(s) = status {
                q = q.filter(deliveries::status.eq(s.as_str()));
            }
            if let Some(after) = starting_after_seq {
                q = q.filter(deliveries::event_seq.lt(after));
            }
            q.load::<DeliveryRow>(conn)?
                .into_iter()
                .map(delivery)
                .collect()
        })
        .await
    }

    async fn retry_deliveries(
        &self,
        app: &AppId,
        event_id: &str,
        now: i64,
        retry_until: i64,
    ) -> Result<bool, RepositoryError> {
        let (app, id) = (app.as_str().to_owned(), event_id.to_owned());
        self.run(move |conn| {
            let Some(seq) = events::table
                .filter(events::app_id.eq(&app))
                .filter(events::id.eq(&id))
                .select(events::seq)
                .first::<i64>(conn)
                .optional()?
            else {
                return Ok(false);
            };
            diesel::update(
                deliveries::table
                    .filter(deliveries::event_seq.eq(seq))
                    .filter(deliveries::status.eq(DeliveryStatus::Failed.as_str())),
            )
            .set((
                deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                deliveries::next_attempt_at.eq(Some(now)),
                deliveries::retry_until.eq(retry_until),
                deliveries::lease_until.eq(None::<i64>),
            ))
            .execute(conn)?;
            Ok(true)
        })
        .await
    }

    async fn prune_events(&self, before: i64) -> Result<u64, RepositoryError> {
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                let doomed: Vec<i64> = events::table
                    .filter(events::created_at.lt(before))
                    .select(events::seq)
                    .order(events::seq.asc())
                    .limit(10_000)
                    .load(tx)?;
                if doomed.is_empty() {
                    return Ok(0);
                }
                // Row by row conditions, so that a delivery made pending again meanwhile (a
                // retry) keeps itself and its event.
                diesel::delete(
                    deliveries::table
                        .filter(deliveries::event_seq.eq_any(&doomed))
                        .filter(deliveries::status.ne(DeliveryStatus::Pending.as_str())),
                )
                .execute(tx)?;
                let pending = deliveries::table
                    .filter(deliveries::event_seq.eq(events::seq))
                    .select(deliveries::event_seq);
                let n = diesel::delete(
                    events::table
                        .filter(events::seq.eq_any(&doomed))
                        .filter(diesel::dsl::not(diesel::dsl::exists(pending))),
                )
                .execute(tx)?;
                Ok(n as u64)
            })
        })
        .await
    }
}

fn claim(
    conn: &mut DbConnection,
    now: i64,
    lease_ms: i64,
    limit: usize,
) -> Result<Vec<ClaimedDelivery>, DbError> {
    {
        {
            let candidates: Vec<(i64, String, String, i32, i64, String, String)> =
                deliveries::table
                    .inner_join(events::table.on(events::seq.eq(deliveries::event_seq)))
                    .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                    .filter(deliveries::next_attempt_at.le(now))
                    .filter(
                        deliveries::lease_until
                            .is_null()
                            .or(deliveries::lease_until.le(now)),
                    )
                    .select((
                        deliveries::event_seq,
                        deliveries::url,
                        deliveries::app_id,
                        deliveries::attempts,
                        deliveries::retry_until,
                        events::id,
                        events::body,
                    ))
                    .order((deliveries::event_seq.asc(), deliveries::url.asc()))
                    .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                    .load(conn)?;
            let mut claimed = Vec::with_capacity(candidates.len());
            for (seq, url, app, attempts, retry_until, event_id, body) in candidates {
                // The lease is taken by a conditional update: of several servers that saw the
                // same row due, exactly one changes it.
                // Re-checked: still due, and no attempt finished since the candidates were read.
                let taken = diesel::update(
                    deliveries::table
                        .find((seq, &url))
                        .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                        .filter(deliveries::next_attempt_at.le(now))
                        .filter(deliveries::attempts.eq(attempts))
                        .filter(
                            deliveries::lease_until
                                .is_null()
                                .or(deliveries::lease_until.le(now)),
                        ),
                )
                .set(deliveries::lease_until.eq(Some(now + lease_ms)))
                .execute(conn)?;
                if taken == 1 {
                    let app = AppId::new(app)
                        .map_err(|e| DbError::Corrupt(format!("stored app ID: {e}")))?;
                    claimed.push(ClaimedDelivery {
                        app,
                        event_seq: seq,
                        event_id,
                        url,
                        body,
                        attempts,
                        retry_until,
                    });
                }
            }
            Ok(claimed)
        }
    }
}
