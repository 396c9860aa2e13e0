-- Where served pages of conversation lists ended (the domain's CursorStore), shared by all
-- servers on this database, so that a client's next page continues its walk whichever server
-- answers it. Unlogged: no WAL for this short-lived data; after a database crash it is empty,
-- and walks then continue from their cursor conversation's current position.
CREATE UNLOGGED TABLE list_cursors (
    app_id TEXT COLLATE "C" NOT NULL,
    list_key TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    sort_key BIGINT NOT NULL,
    snapshot BIGINT NOT NULL,
    remembered_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, list_key, conversation_id)
);
CREATE INDEX list_cursors_by_age ON list_cursors (remembered_at);
