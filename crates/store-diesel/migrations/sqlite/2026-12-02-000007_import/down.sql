DROP INDEX messages_by_conversation;
CREATE INDEX messages_by_conversation ON messages (app_id, conversation_id, seq);
ALTER TABLE idempotency_keys DROP COLUMN permanent;
ALTER TABLE participants DROP COLUMN read_mark;
ALTER TABLE messages DROP COLUMN origin;
