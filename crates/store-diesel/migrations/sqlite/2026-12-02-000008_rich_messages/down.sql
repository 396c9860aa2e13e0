DROP TABLE message_files;
DROP TABLE files;
DROP TABLE reactions;
ALTER TABLE messages DROP COLUMN reactions;
ALTER TABLE messages DROP COLUMN content;
