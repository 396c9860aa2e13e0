-- The columns PostgreSQL stamps with transaction IDs (issue 13). SQLite has one writer, so its
-- activity counter is a horizon already: these stay 0 here (the log is read in (xid, seq)
-- order, which is seq order).
ALTER TABLE messages ADD COLUMN xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN xid BIGINT NOT NULL DEFAULT 0;
