-- Sends that scale out (issue 13, docs/ARCHITECTURE.md): activity stamps are the writing
-- transaction's ID (pg_current_xact_id), and readers take pg_snapshot_xmin as their horizon,
-- in place of the activity counter whose row every send locked until commit.
ALTER TABLE messages ADD COLUMN xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN xid BIGINT NOT NULL DEFAULT 0;
-- Storage order of messages, without a lock (a conversation's writers queue on its row).
CREATE SEQUENCE message_seq;
SELECT setval('message_seq', (SELECT value FROM counters WHERE name = 'activity') + 1, false);
-- The counter's values are no transaction IDs: everything written so far is older than any
-- horizon from now on, which the stamp 0 says. Walks remembered with a counter snapshot end.
UPDATE conversations SET activity_seq = 0 WHERE activity_seq IS NOT NULL AND activity_seq <> 0;
UPDATE participants SET conv_activity_seq = 0
    WHERE conv_activity_seq IS NOT NULL AND conv_activity_seq <> 0;
UPDATE messages SET deleted_seq = 0 WHERE deleted_seq IS NOT NULL AND deleted_seq <> 0;
DELETE FROM list_cursors;
ALTER TABLE list_cursors ALTER COLUMN snapshot TYPE TEXT USING snapshot::text;
-- The log is read in (xid, seq) order.
DROP INDEX events_by_app;
CREATE INDEX events_by_app ON events (app_id, xid, seq);
