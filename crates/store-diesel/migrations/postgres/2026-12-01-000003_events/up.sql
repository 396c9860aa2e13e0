-- The outbox: every change's events, written in the change's transaction, and one delivery row
-- per event and webhook URL. `seq` is the log's order: writers that record events take one
-- transaction-level advisory lock first, so sequence numbers are assigned in commit order and
-- a reader continuing after an event never skips one that commits later with a smaller number.
CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX events_by_id ON events (app_id, id);
CREATE INDEX events_by_app ON events (app_id, seq);
CREATE INDEX events_by_age ON events (created_at);

CREATE TABLE deliveries (
    event_seq BIGINT NOT NULL,
    url TEXT COLLATE "C" NOT NULL,
    app_id TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_status INTEGER,
    last_error TEXT,
    lease_until BIGINT,
    retry_until BIGINT NOT NULL,
    PRIMARY KEY (event_seq, url)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_app ON deliveries (app_id, event_seq);
