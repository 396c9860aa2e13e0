-- Rich messages (API.md "Messages with content, files and locations", "Reactions").
-- A message's content blocks as JSON (NULL for messages stored before: one text block of
-- `text`), and its reactions summary ({"👍": {"count": 2, "createdAt": ...}}).
ALTER TABLE messages ADD COLUMN content TEXT;
ALTER TABLE messages ADD COLUMN reactions TEXT NOT NULL DEFAULT '{}';

-- One row per reaction: a user's emoji on a message.
CREATE TABLE reactions (
    app_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    emoji TEXT NOT NULL,
    user_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, message_id, emoji, user_id)
);
CREATE INDEX reactions_by_time ON reactions (app_id, message_id, emoji, created_at, user_id);
CREATE INDEX reactions_by_conversation ON reactions (app_id, conversation_id);

-- Uploaded files: the record of each upload (the bytes are in the file store under `token`).
CREATE TABLE files (
    token TEXT NOT NULL PRIMARY KEY,
    app_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    subtype TEXT,
    width BIGINT,
    height BIGINT,
    duration DOUBLE PRECISION,
    created_at BIGINT NOT NULL
);
CREATE INDEX files_by_age ON files (created_at);

-- Which message refers to which file (kept with the message: its tombstone and its
-- conversation's deletion make the file unused).
CREATE TABLE message_files (
    app_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    token TEXT NOT NULL,
    PRIMARY KEY (token, app_id, message_id)
);
CREATE INDEX message_files_by_message ON message_files (app_id, message_id);
