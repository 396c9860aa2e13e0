-- Copies that make a conversation one B-tree lookup: its participants (a JSON array of
-- {user_id, access, notify, read_until}) and its last message (JSON of the message row's
-- columns). The participants and messages tables stay the source of truth for queries; every
-- write that changes a participant or the last message rewrites the copy in the same
-- transaction.
ALTER TABLE conversations ADD COLUMN participant_rows TEXT NOT NULL DEFAULT '[]';
ALTER TABLE conversations ADD COLUMN last_message TEXT;
UPDATE conversations SET
    participant_rows =
        (SELECT json_group_array(json_object('user_id', p.user_id, 'access', p.access,
                                             'notify', p.notify, 'read_until', p.read_until))
           FROM participants p
          WHERE p.app_id = conversations.app_id AND p.conversation_id = conversations.id),
    last_message =
        (SELECT json_object('conversation_id', m.conversation_id, 'id', m.id, 'kind', m.kind,
                            'sender_id', m.sender_id, 'text', m.text, 'custom', m.custom,
                            'created_at', m.created_at, 'edited_at', m.edited_at,
                            'referenced_message_id', m.referenced_message_id,
                            'version', m.version)
           FROM messages m WHERE m.seq = conversations.last_message_seq);
