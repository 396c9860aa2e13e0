-- Users. `email` and `phone` are JSON arrays or NULL, `custom` a JSON object, `push_tokens` a
-- JSON array of "fcm:..." / "apns:..." tokens.
CREATE TABLE users (
    app_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    photo_url TEXT,
    welcome_message TEXT,
    role TEXT,
    locale TEXT,
    availability_text TEXT,
    custom TEXT NOT NULL DEFAULT '{}',
    push_tokens TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (app_id, id)
);

-- A user's conversations.
CREATE INDEX participants_by_user ON participants (app_id, user_id);

-- Unread counts scan only the messages newer than a participant's readUntil, in the index alone.
CREATE INDEX messages_by_conversation_time
    ON messages (app_id, conversation_id, created_at, deleted_seq, sender_id);

-- Who sent the conversation's last message: a conversation is unread for a participant when
-- its last message is someone else's and newer than their readUntil.
ALTER TABLE conversations ADD COLUMN last_message_sender TEXT;
UPDATE conversations SET last_message_sender =
    (SELECT m.sender_id FROM messages m WHERE m.seq = conversations.last_message_seq);
