DROP INDEX participants_by_user_created;
DROP INDEX participants_by_user_activity;
CREATE INDEX participants_by_user ON participants (app_id, user_id);
ALTER TABLE participants DROP COLUMN conv_last_message_sender;
ALTER TABLE participants DROP COLUMN conv_last_message_seq;
ALTER TABLE participants DROP COLUMN conv_activity_seq;
ALTER TABLE participants DROP COLUMN conv_last_activity;
ALTER TABLE participants DROP COLUMN conv_created_at;
