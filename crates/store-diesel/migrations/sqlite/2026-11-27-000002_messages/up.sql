-- Unread state: messages up to read_until count as read by the participant.
ALTER TABLE participants ADD COLUMN read_until BIGINT NOT NULL DEFAULT 0;

-- One counter orders every change of conversation activity: each stored message takes the next
-- value as its seq, and so does each deletion of a message (as the message's deleted_seq).
CREATE TABLE counters (
    name TEXT NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('activity', 0);

-- Messages in the order they were stored. A deleted message stays as a tombstone (no text, no
-- custom data) with the seq of its deletion, so that a listing walk can still place its
-- conversation as it was when the walk began.
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    app_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sender_id TEXT,
    text TEXT NOT NULL,
    custom TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    edited_at BIGINT,
    referenced_message_id TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    deleted_seq BIGINT,
    FOREIGN KEY (app_id, conversation_id) REFERENCES conversations (app_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX messages_by_id ON messages (app_id, id);
CREATE INDEX messages_by_conversation ON messages (app_id, conversation_id, seq);

-- Idempotency keys of message sends, per conversation, with the ID they answered.
CREATE TABLE idempotency_keys (
    app_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, conversation_id, key),
    FOREIGN KEY (app_id, conversation_id) REFERENCES conversations (app_id, id) ON DELETE CASCADE
);

-- The conversation's newest message (seq), its sort key for listing (the newest message's time,
-- or created_at when there is none), and the counter value of its last activity change.
ALTER TABLE conversations ADD COLUMN last_message_seq BIGINT;
ALTER TABLE conversations ADD COLUMN last_activity BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN activity_seq BIGINT;
UPDATE conversations SET last_activity = created_at;

-- Keyset paging indexes; they also cover the snapshot and filter columns, so a page's IDs are
-- found from the index alone.
CREATE INDEX conversations_by_activity
    ON conversations (app_id, last_activity, id, activity_seq, last_message_seq);
CREATE INDEX conversations_by_created
    ON conversations (app_id, created_at, id, activity_seq, last_message_seq, last_activity);
-- Conversations whose activity changed after a walk's snapshot.
CREATE INDEX conversations_by_activity_seq ON conversations (app_id, activity_seq);
