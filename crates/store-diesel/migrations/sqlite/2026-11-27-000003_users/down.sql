ALTER TABLE conversations DROP COLUMN last_message_sender;
DROP INDEX messages_by_conversation_time;
DROP INDEX participants_by_user;
DROP TABLE users;
