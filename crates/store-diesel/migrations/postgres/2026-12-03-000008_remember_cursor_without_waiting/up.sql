-- A page end that another server's request is remembering at this very moment (the row is
-- locked by its statement, which has not committed yet) is left to that request instead of
-- waiting for its lock: many clients reading the same page of the same list (a dashboard
-- polling the first page, say) all end on the same row, and queued on its lock one after the
-- other. Concurrent walks ending on the same conversation already shared that row (the walk
-- continues at one of their snapshots); now it holds the one that took the lock, not the one
-- that committed last. Returns TRUE either way: the page end is remembered.
CREATE OR REPLACE FUNCTION parley_remember_cursor(
    p_app_id TEXT,
    p_list_key TEXT,
    p_conversation_id TEXT,
    p_sort_key BIGINT,
    p_snapshot TEXT,
    p_remembered_at BIGINT
) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM list_cursors
     WHERE app_id = p_app_id AND list_key = p_list_key AND conversation_id = p_conversation_id
       FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        UPDATE list_cursors
           SET sort_key = p_sort_key, snapshot = p_snapshot, remembered_at = p_remembered_at
         WHERE app_id = p_app_id AND list_key = p_list_key AND conversation_id = p_conversation_id;
        RETURN TRUE;
    END IF;
    -- Not found unlocked: there, but being remembered by another request (leave it), or not
    -- there (insert it; a concurrent insert of the same page end is waited for and replaced).
    PERFORM 1 FROM list_cursors
     WHERE app_id = p_app_id AND list_key = p_list_key AND conversation_id = p_conversation_id;
    IF NOT FOUND THEN
        INSERT INTO list_cursors (app_id, list_key, conversation_id, sort_key, snapshot, remembered_at)
        VALUES (p_app_id, p_list_key, p_conversation_id, p_sort_key, p_snapshot, p_remembered_at)
        ON CONFLICT (app_id, list_key, conversation_id) DO UPDATE
            SET sort_key = excluded.sort_key,
                snapshot = excluded.snapshot,
                remembered_at = excluded.remembered_at;
    END IF;
    RETURN TRUE;
END
$$;
