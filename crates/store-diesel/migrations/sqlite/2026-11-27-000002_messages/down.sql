DROP INDEX conversations_by_last_message_seq;
DROP INDEX conversations_by_created;
DROP INDEX conversations_by_activity;
ALTER TABLE conversations DROP COLUMN last_activity;
ALTER TABLE conversations DROP COLUMN last_message_seq;
DROP TABLE idempotency_keys;
DROP TABLE messages;
ALTER TABLE participants DROP COLUMN read_until;
