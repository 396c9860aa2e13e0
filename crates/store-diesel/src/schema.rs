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
    }
}

diesel::table! {
    participants (app_id, conversation_id, user_id) {
        app_id -> Text,
        conversation_id -> Text,
        user_id -> Text,
        access -> Text,
        notify -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(apps, conversations, participants);
