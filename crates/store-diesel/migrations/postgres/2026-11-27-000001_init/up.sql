-- Parley's schema on PostgreSQL: the same tables and columns as on SQLite (see
-- migrations/sqlite for what each column means), created in their final form. IDs use the "C"
-- collation so that they compare bytewise, as the API's orders and keyset paging require.

CREATE TABLE apps (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    secret_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE conversations (
    app_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    subject TEXT,
    topic_id TEXT,
    photo_url TEXT,
    welcome_messages TEXT,
    custom TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    last_message_seq BIGINT,
    last_activity BIGINT NOT NULL DEFAULT 0,
    activity_seq BIGINT,
    last_message_sender TEXT COLLATE "C",
    participant_rows TEXT NOT NULL DEFAULT '[]',
    last_message TEXT,
    PRIMARY KEY (app_id, id)
);
CREATE INDEX conversations_by_activity
    ON conversations (app_id, last_activity, id, activity_seq, last_message_seq);
CREATE INDEX conversations_by_created
    ON conversations (app_id, created_at, id, activity_seq, last_message_seq, last_activity);
CREATE INDEX conversations_by_activity_seq ON conversations (app_id, activity_seq);

CREATE TABLE participants (
    app_id TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    access TEXT NOT NULL,
    notify TEXT NOT NULL,
    read_until BIGINT NOT NULL DEFAULT 0,
    conv_created_at BIGINT NOT NULL DEFAULT 0,
    conv_last_activity BIGINT NOT NULL DEFAULT 0,
    conv_activity_seq BIGINT,
    conv_last_message_seq BIGINT,
    conv_last_message_sender TEXT COLLATE "C",
    PRIMARY KEY (app_id, conversation_id, user_id),
    FOREIGN KEY (app_id, conversation_id) REFERENCES conversations (app_id, id) ON DELETE CASCADE
);
CREATE INDEX participants_by_user_activity
    ON participants (app_id, user_id, conv_last_activity, conversation_id, access,
                     conv_activity_seq, conv_last_message_seq, conv_last_message_sender,
                     read_until, conv_created_at);
CREATE INDEX participants_by_user_created
    ON participants (app_id, user_id, conv_created_at, conversation_id, access,
                     conv_activity_seq, conv_last_message_seq, conv_last_message_sender,
                     read_until, conv_last_activity);

CREATE TABLE counters (
    name TEXT NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('activity', 0);

CREATE TABLE messages (
    seq BIGINT NOT NULL PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    sender_id TEXT COLLATE "C",
    text TEXT NOT NULL,
    custom TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    edited_at BIGINT,
    referenced_message_id TEXT COLLATE "C",
    version BIGINT NOT NULL DEFAULT 1,
    deleted_seq BIGINT,
    FOREIGN KEY (app_id, conversation_id) REFERENCES conversations (app_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX messages_by_id ON messages (app_id, id);
CREATE INDEX messages_by_conversation ON messages (app_id, conversation_id, seq);
CREATE INDEX messages_by_conversation_time
    ON messages (app_id, conversation_id, created_at, deleted_seq, sender_id);

CREATE TABLE idempotency_keys (
    app_id TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, conversation_id, key),
    FOREIGN KEY (app_id, conversation_id) REFERENCES conversations (app_id, id) ON DELETE CASCADE
);

CREATE TABLE users (
    app_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
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
