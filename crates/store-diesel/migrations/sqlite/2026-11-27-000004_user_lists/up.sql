-- A user's conversation list is keyset-paged from the participants table alone: each
-- participation carries a copy of its conversation's sort and unread columns, kept in step by
-- every write that changes them (in the same transaction).
ALTER TABLE participants ADD COLUMN conv_created_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN conv_last_activity BIGINT NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN conv_activity_seq BIGINT;
ALTER TABLE participants ADD COLUMN conv_last_message_seq BIGINT;
ALTER TABLE participants ADD COLUMN conv_last_message_sender TEXT;
UPDATE participants SET
    (conv_created_at, conv_last_activity, conv_activity_seq, conv_last_message_seq,
     conv_last_message_sender) =
    (SELECT c.created_at, c.last_activity, c.activity_seq, c.last_message_seq,
            c.last_message_sender
       FROM conversations c
      WHERE c.app_id = participants.app_id AND c.id = participants.conversation_id);
DROP INDEX participants_by_user;
-- Covering: a page of a user's list (and its unread filter) is read from the index alone.
CREATE INDEX participants_by_user_activity
    ON participants (app_id, user_id, conv_last_activity, conversation_id, access,
                     conv_activity_seq, conv_last_message_seq, conv_last_message_sender,
                     read_until, conv_created_at);
CREATE INDEX participants_by_user_created
    ON participants (app_id, user_id, conv_created_at, conversation_id, access,
                     conv_activity_seq, conv_last_message_seq, conv_last_message_sender,
                     read_until, conv_last_activity);
