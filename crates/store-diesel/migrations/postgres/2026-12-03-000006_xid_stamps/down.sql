-- Transaction IDs are no counter values: every stamp becomes 0 ("before every snapshot").
UPDATE conversations SET activity_seq = 0 WHERE activity_seq IS NOT NULL AND activity_seq <> 0;
UPDATE participants SET conv_activity_seq = 0
    WHERE conv_activity_seq IS NOT NULL AND conv_activity_seq <> 0;
UPDATE messages SET deleted_seq = 0 WHERE deleted_seq IS NOT NULL AND deleted_seq <> 0;
DROP INDEX events_by_app;
CREATE INDEX events_by_app ON events (app_id, seq);
UPDATE counters SET value = GREATEST(value, (SELECT last_value FROM message_seq)) WHERE name = 'activity';
DROP SEQUENCE message_seq;
ALTER TABLE events DROP COLUMN xid;
ALTER TABLE messages DROP COLUMN xid;
DELETE FROM list_cursors;
ALTER TABLE list_cursors ALTER COLUMN snapshot TYPE BIGINT USING 0;
