-- Import (API.md "Import"): where a message came from, read marks, keys kept without expiry,
-- and messages ordered by (created_at, storage order).
ALTER TABLE messages ADD COLUMN origin TEXT NOT NULL DEFAULT 'rest';
-- The highest readUntil a participant ever had: a PATCH may move readUntil back, but a message
-- is newly read (message.read) only when readUntil first passes it.
ALTER TABLE participants ADD COLUMN read_mark BIGINT NOT NULL DEFAULT 0;
UPDATE participants SET read_mark = read_until;
-- Import keys are kept without expiry; send keys for 24 hours.
ALTER TABLE idempotency_keys ADD COLUMN permanent BOOLEAN NOT NULL DEFAULT FALSE;
-- Every message list is ordered by time, then storage order. One index serves the lists, the
-- last message, unread counts and read moves (it covers deleted_seq and sender_id), in place of
-- the two before (by seq, and by time): a message insert updates one index fewer.
DROP INDEX messages_by_conversation;
DROP INDEX messages_by_conversation_time;
CREATE INDEX messages_by_conversation
    ON messages (app_id, conversation_id, created_at, seq, deleted_seq, sender_id);
