//! Diesel's view of the tables (kept by hand in step with `migrations/`).

diesel::table! {
    apps (id) {
        id -> Text,
        secret_key -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    conversations (app_id, id) {
        app_id -> Text,
        id -> Text,
        subject -> Nullable<Text>,
        topic_id -> Nullable<Text>,
        photo_url -> Nullable<Text>,
        welcome_messages -> Nullable<Text>,
        custom -> Text,
        created_at -> BigInt,
        version -> BigInt,
        last_message_seq -> Nullable<BigInt>,
        last_activity -> BigInt,
        activity_seq -> Nullable<BigInt>,
        last_message_sender -> Nullable<Text>,
        participant_rows -> Text,
        last_message -> Nullable<Text>,
    }
}

diesel::table! {
    users (app_id, id) {
        app_id -> Text,
        id -> Text,
        name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        photo_url -> Nullable<Text>,
        welcome_message -> Nullable<Text>,
        role -> Nullable<Text>,
        locale -> Nullable<Text>,
        availability_text -> Nullable<Text>,
        custom -> Text,
        push_tokens -> Text,
        created_at -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    participants (app_id, conversation_id, user_id) {
        app_id -> Text,
        conversation_id -> Text,
        user_id -> Text,
        access -> Text,
        notify -> Text,
        read_until -> BigInt,
        conv_created_at -> BigInt,
        conv_last_activity -> BigInt,
        conv_activity_seq -> Nullable<BigInt>,
        conv_last_message_seq -> Nullable<BigInt>,
        conv_last_message_sender -> Nullable<Text>,
        read_mark -> BigInt,
    }
}

diesel::table! {
    messages (seq) {
        seq -> BigInt,
        app_id -> Text,
        conversation_id -> Text,
        id -> Text,
        kind -> Text,
        sender_id -> Nullable<Text>,
        text -> Text,
        custom -> Text,
        created_at -> BigInt,
        edited_at -> Nullable<BigInt>,
        referenced_message_id -> Nullable<Text>,
        version -> BigInt,
        deleted_seq -> Nullable<BigInt>,
        origin -> Text,
        content -> Nullable<Text>,
        reactions -> Text,
        /// PostgreSQL: the ID of the transaction that stored it (its activity stamp); 0 on SQLite.
        xid -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (app_id, conversation_id, key) {
        app_id -> Text,
        conversation_id -> Text,
        key -> Text,
        message_id -> Text,
        created_at -> BigInt,
        permanent -> Bool,
    }
}

diesel::table! {
    /// PostgreSQL only: remembered page ends of conversation lists.
    list_cursors (app_id, list_key, conversation_id) {
        app_id -> Text,
        list_key -> Text,
        conversation_id -> Text,
        sort_key -> BigInt,
        /// The walk's snapshot in PostgreSQL's text form (`Snapshot::parse`).
        snapshot -> Text,
        remembered_at -> BigInt,
    }
}

diesel::table! {
    /// The event log of the outbox.
    events (seq) {
        seq -> BigInt,
        app_id -> Text,
        id -> Text,
        kind -> Text,
        created_at -> BigInt,
        body -> Text,
        /// PostgreSQL: the ID of the transaction that recorded it (the log is read in
        /// (xid, seq) order); 0 on SQLite.
        xid -> BigInt,
    }
}

diesel::table! {
    /// One row per event and webhook URL.
    deliveries (event_seq, url) {
        event_seq -> BigInt,
        url -> Text,
        app_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<BigInt>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        retry_until -> BigInt,
    }
}

diesel::table! {
    /// A user's emoji on a message.
    reactions (app_id, message_id, emoji, user_id) {
        app_id -> Text,
        message_id -> Text,
        emoji -> Text,
        user_id -> Text,
        conversation_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// The record of an uploaded file.
    files (token) {
        token -> Text,
        app_id -> Text,
        filename -> Text,
        content_type -> Text,
        size -> BigInt,
        subtype -> Nullable<Text>,
        width -> Nullable<BigInt>,
        height -> Nullable<BigInt>,
        duration -> Nullable<Double>,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Which message refers to which file.
    message_files (token, app_id, message_id) {
        app_id -> Text,
        message_id -> Text,
        token -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    reactions,
    files,
    message_files,
    events,
    deliveries,
    apps,
    conversations,
    participants,
    messages,
    idempotency_keys,
    counters,
    users,
    list_cursors
);
