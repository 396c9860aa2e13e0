-- Apps whose keys live in the database (the generated development app).
CREATE TABLE apps (
    id TEXT NOT NULL PRIMARY KEY,
    secret_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One row per conversation. `custom` is a JSON object, `welcome_messages` a JSON array or NULL.
-- `version` increases with every update: writers update only the version they read.
-- Conversations and participants are clustered by their keys (WITHOUT ROWID): a conversation is
-- one B-tree lookup, and its participants sit together.
CREATE TABLE conversations (
    app_id TEXT NOT NULL,
    id TEXT NOT NULL,
    subject TEXT,
    topic_id TEXT,
    photo_url TEXT,
    welcome_messages TEXT,
    custom TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (app_id, id)
) WITHOUT ROWID;

CREATE TABLE participants (
    app_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    access TEXT NOT NULL,
    notify TEXT NOT NULL,
    PRIMARY KEY (app_id, conversation_id, user_id),
    FOREIGN KEY (app_id, conversation_id) REFERENCES conversations (app_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
