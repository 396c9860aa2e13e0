//! One contract suite that every storage adapter must pass.
//!
//! An adapter's test file provides an async factory returning fresh, empty [`Stores`] and calls
//! [`contract_suite!`], which expands to one `#[tokio::test]` per case in [`cases`].

use std::any::Any;
use std::sync::Arc;

use parley_domain::events::EventRepository;
use parley_domain::{
    AppRepository, ConversationRepository, CursorStore, MessageRepository, UserRepository,
};

pub mod archive;
pub mod cases;
pub mod events;
pub mod import;
pub mod rich;

/// The ports of one fresh, empty store. `guard` keeps whatever backs it (a temp dir) alive.
pub struct Stores {
    pub conversations: Arc<dyn ConversationRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub users: Arc<dyn UserRepository>,
    pub apps: Arc<dyn AppRepository>,
    pub events: Arc<dyn EventRepository>,
    pub reactions: Arc<dyn parley_domain::reactions::ReactionRepository>,
    pub files: Arc<dyn parley_domain::files::FileRepository>,
    /// Readiness and figures (`/health/ready`, `/metrics`).
    pub probe: Arc<dyn parley_domain::probe::StoreProbe>,
    /// Whole conversations many at a time (`parley import`).
    pub archive: Arc<dyn parley_domain::archive::ArchiveRepository>,
    /// Not part of the contract: the walk test needs one to drive the listing service.
    pub cursors: Arc<dyn CursorStore>,
    pub guard: Box<dyn Any + Send>,
}

/// What a test factory answers: fresh stores, or `None` when the backend is not available
/// here (the factory has said so, loudly).
pub trait Fresh {
    fn fresh(self) -> Option<Stores>;
}

impl Fresh for Stores {
    fn fresh(self) -> Option<Stores> {
        Some(self)
    }
}

impl Fresh for Option<Stores> {
    fn fresh(self) -> Option<Stores> {
        self
    }
}

/// Expands to one test per contract case, each given fresh stores from `$factory().await`.
#[macro_export]
macro_rules! contract_suite {
    ($factory:path) => {
        $crate::contract_cases!(
            $factory;
            find_returns_none_for_a_missing_conversation,
            insert_then_find_returns_every_field,
            insert_of_an_existing_id_is_a_conflict_and_changes_nothing,
            update_with_the_read_version_replaces_and_bumps_the_version,
            update_with_a_stale_version_is_a_conflict_and_changes_nothing,
            update_of_a_deleted_conversation_is_a_conflict,
            update_writes_participant_additions_changes_and_removals,
            null_and_empty_values_are_told_apart,
            delete_removes_the_conversation_and_its_participants,
            delete_of_a_missing_conversation_returns_false,
            apps_do_not_see_each_others_conversations,
            unusual_ids_round_trip,
            concurrent_puts_through_the_service_all_take_effect,
            app_key_is_created_once_and_then_kept,
            messages_are_listed_newest_stored_first_and_paged,
            sending_to_a_missing_conversation_stores_nothing,
            an_idempotency_key_is_answered_with_the_first_id_for_24_hours,
            sending_moves_the_senders_read_until_forward_only,
            last_message_follows_sends_edits_and_deletes,
            message_edits_use_optimistic_versions,
            messages_are_found_only_in_their_conversation,
            deleting_a_conversation_deletes_its_messages_and_keys,
            concurrent_sends_are_all_stored_and_a_shared_key_only_once,
            listing_orders_by_last_activity_then_id_by_default,
            listing_orders_by_creation_in_either_direction,
            listing_filters_on_the_last_message_strictly,
            listing_continues_after_a_position,
            listing_places_conversations_by_their_last_message_as_of_the_snapshot,
            standing_reports_creation_and_last_message_time,
            a_walk_lists_every_conversation_once_while_others_receive_messages,
            a_walk_places_conversations_as_of_its_snapshot_when_messages_are_deleted,
            a_walk_lists_every_conversation_once_while_messages_are_deleted,
            message_times_never_decrease_in_storage_order,
            a_send_whose_checks_no_longer_hold_is_a_conflict_and_stores_nothing,
            an_update_that_read_a_deleted_conversation_never_matches_its_successor,
            users_are_created_found_and_replaced_at_their_version,
            a_user_batch_is_all_or_nothing,
            users_are_listed_in_byte_order_after_a_known_user,
            participation_reports_a_users_record,
            unread_counts_count_only_newer_messages_of_others,
            a_users_list_holds_their_conversations_but_not_hidden_or_left_ones,
            a_walk_without_a_snapshot_is_placed_as_of_the_current_one,
            a_users_unread_list_holds_only_conversations_with_unread_messages,
            a_users_page_counts_unread_messages_as_the_message_store_does,
            a_page_remembers_its_end_in_its_read_when_the_store_keeps_the_cursors,
            resuming_reads_the_standing_access_and_cursor_at_once,
        );
        $crate::event_cases!(
            $factory;
            events_are_stored_with_the_write_that_commits_and_not_with_one_that_fails,
            the_probe_is_ready_and_counts_the_outbox_backlog,
            every_write_kind_records_its_events_atomically,
            the_log_is_ordered_filtered_paged_and_per_app,
            a_delivery_is_claimed_by_one_deliverer_until_its_lease_runs_out,
            attempts_are_recorded_retried_when_due_and_failed_at_the_end,
            retry_schedules_failed_deliveries_again,
            deliveries_are_listed_newest_event_first_by_status,
            pruning_drops_old_settled_events_and_keeps_pending_ones,
            concurrent_writes_are_logged_so_that_a_reader_never_skips_one,
            a_read_until_move_finds_the_newest_message_of_others_it_covers,
        );
        $crate::import_cases!(
            $factory;
            imported_history_takes_its_place_by_time_and_keeps_its_origin,
            import_keys_are_kept_without_expiry_and_read_by_moves_read_until_forward,
            a_walk_keeps_its_snapshot_when_an_import_moves_a_conversation,
        );
        $crate::archive_cases!(
            $factory;
            whole_conversations_are_stored_with_their_messages_and_reactions,
            a_whole_batch_with_a_stored_conversation_is_a_conflict_and_writes_nothing,
        );
        $crate::rich_cases!(
            $factory;
            reactions_keep_the_message_summary_in_step,
            a_file_is_unused_until_a_message_refers_to_it_and_again_after,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! rich_cases {
    ($factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(stores) = $crate::Fresh::fresh($factory().await) else {
                    return;
                };
                $crate::rich::$case(&stores).await;
            }
        )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! archive_cases {
    ($factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(stores) = $crate::Fresh::fresh($factory().await) else {
                    return;
                };
                $crate::archive::$case(&stores).await;
            }
        )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! import_cases {
    ($factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(stores) = $crate::Fresh::fresh($factory().await) else {
                    return;
                };
                $crate::import::$case(&stores).await;
            }
        )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! event_cases {
    ($factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(stores) = $crate::Fresh::fresh($factory().await) else {
                    return;
                };
                $crate::events::$case(&stores).await;
            }
        )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! contract_cases {
    ($factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                // A factory may answer `None` to skip (it says why, loudly).
                let Some(stores) = $crate::Fresh::fresh($factory().await) else {
                    return;
                };
                $crate::cases::$case(&stores).await;
            }
        )+
    };
}
