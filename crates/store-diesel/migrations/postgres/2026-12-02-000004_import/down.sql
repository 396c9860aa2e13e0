DROP INDEX messages_by_conversation;
CREATE INDEX messages_by_conversation ON messages (app_id, conversation_id, seq);
CREATE INDEX messages_by_conversation_time
    ON messages (app_id, conversation_id, created_at, deleted_seq, sender_id);
ALTER TABLE idempotency_keys DROP COLUMN permanent;
ALTER TABLE participants DROP COLUMN read_mark;
ALTER TABLE messages DROP COLUMN origin;
