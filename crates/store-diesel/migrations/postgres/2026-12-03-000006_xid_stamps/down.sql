DROP INDEX events_by_app;
CREATE INDEX events_by_app ON events (app_id, seq);
UPDATE counters SET value = GREATEST(value, (SELECT last_value FROM message_seq)) WHERE name = 'activity';
DROP SEQUENCE message_seq;
ALTER TABLE events DROP COLUMN xid;
ALTER TABLE messages DROP COLUMN xid;
DELETE FROM list_cursors;
ALTER TABLE list_cursors ALTER COLUMN snapshot TYPE BIGINT USING 0;
