-- Back to waiting for the row lock of a page end being remembered concurrently (migration 7).
CREATE OR REPLACE FUNCTION parley_remember_cursor(
    p_app_id TEXT,
    p_list_key TEXT,
    p_conversation_id TEXT,
    p_sort_key BIGINT,
    p_snapshot TEXT,
    p_remembered_at BIGINT
) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO list_cursors (app_id, list_key, conversation_id, sort_key, snapshot, remembered_at)
    VALUES (p_app_id, p_list_key, p_conversation_id, p_sort_key, p_snapshot, p_remembered_at)
    ON CONFLICT (app_id, list_key, conversation_id) DO UPDATE
        SET sort_key = excluded.sort_key,
            snapshot = excluded.snapshot,
            remembered_at = excluded.remembered_at;
    RETURN TRUE;
END
$$;
