ALTER TABLE conversations DROP COLUMN last_message;
ALTER TABLE conversations DROP COLUMN participant_rows;
