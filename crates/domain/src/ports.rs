//! Driven ports: what the domain needs from storage. Adapters implement these traits.

use async_trait::async_trait;

use crate::app::SecretKey;
use crate::conversation::{Conversation, Participant};
use crate::error::RepositoryError;
use crate::events::NewEvent;
use crate::ids::{AppId, ConversationId, UserId};
use crate::import::ImportRecord;
use crate::listing::{ConversationQuery, Cursor, Page, Resume, Snapshot, Standing, Walk};
use crate::message::{Message, MessageId, MessageRecord};
use crate::user::User;

/// A stored value and the version it was read at, for optimistic concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: i64,
}

/// Durable storage of conversations and their participants, scoped by app.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ConversationRepository: Send + Sync + 'static {
    /// The conversation with its participants, and the version it was read at.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] when storage cannot be reached; `Other` for anything else.
    async fn find(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Option<Versioned<Conversation>>, RepositoryError>;

    /// Stores a new conversation and its participants, atomically and durably.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when a conversation with this ID already exists in the app
    /// (nothing is written); `Unavailable`/`Other` as for [`find`](Self::find).
    async fn insert(
        &self,
        app: &AppId,
        conversation: &Conversation,
    ) -> Result<(), RepositoryError> {
        self.insert_recording(app, conversation, &[]).await
    }

    /// [`insert`](Self::insert), storing `events` (and their deliveries) in the same
    /// transaction.
    ///
    /// # Errors
    /// As [`insert`](Self::insert); nothing is written on an error.
    async fn insert_recording(
        &self,
        app: &AppId,
        conversation: &Conversation,
        events: &[NewEvent],
    ) -> Result<(), RepositoryError>;

    /// Replaces `before` with `after`, atomically and durably, if and only if the stored version
    /// is still `before.version`. Participants are written as the difference of the two.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when the stored version differs or the conversation is gone
    /// (nothing is written); `Unavailable`/`Other` as for [`find`](Self::find).
    async fn update(
        &self,
        app: &AppId,
        before: &Versioned<Conversation>,
        after: &Conversation,
    ) -> Result<(), RepositoryError> {
        self.update_recording(app, before, after, &[]).await
    }

    /// [`update`](Self::update), storing `events` in the same transaction.
    ///
    /// # Errors
    /// As [`update`](Self::update); nothing is written on an error.
    async fn update_recording(
        &self,
        app: &AppId,
        before: &Versioned<Conversation>,
        after: &Conversation,
        events: &[NewEvent],
    ) -> Result<(), RepositoryError>;

    /// Deletes the conversation with its participants and messages. `false` when there was none.
    ///
    /// # Errors
    /// `Unavailable`/`Other` as for [`find`](Self::find).
    async fn delete(&self, app: &AppId, id: &ConversationId) -> Result<bool, RepositoryError> {
        self.delete_recording(app, id, &[]).await
    }

    /// [`delete`](Self::delete), storing `events` in the same transaction when it deletes.
    ///
    /// # Errors
    /// As [`delete`](Self::delete).
    async fn delete_recording(
        &self,
        app: &AppId,
        id: &ConversationId,
        events: &[NewEvent],
    ) -> Result<bool, RepositoryError>;

    /// The store's current snapshot: what a new walk starts from.
    ///
    /// # Errors
    /// `Unavailable`/`Other` as for [`find`](Self::find).
    async fn snapshot(&self) -> Result<Snapshot, RepositoryError>;

    /// Creation time and last message time of a conversation, or `None` if it does not exist.
    ///
    /// # Errors
    /// `Unavailable`/`Other` as for [`find`](Self::find).
    async fn standing(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Option<Standing>, RepositoryError>;

    /// `user`'s participation in the conversation, if they are on record in it.
    ///
    /// # Errors
    /// `Unavailable`/`Other` as for [`find`](Self::find).
    async fn participation(
        &self,
        app: &AppId,
        id: &ConversationId,
        user: &UserId,
    ) -> Result<Option<Participant>, RepositoryError>;

    /// One page of the app's conversations in the query's order, each with its sort key,
    /// continuing after `walk.after`. Conversations are placed and filtered by their last message
    /// as of `walk.snapshot` (messages it does not see are ignored for placement),
    /// or as of the store's current snapshot, read with the page, when the walk has none; the
    /// returned conversations are current. Done in one read with a fixed number of queries.
    ///
    /// `None` when `query.member` names a user with no user record in the app (checked in the
    /// same read, so that a user's first page is one round trip to the store).
    ///
    /// # Errors
    /// `Unavailable`/`Other` as for [`find`](Self::find).
    async fn list(
        &self,
        app: &AppId,
        query: &ConversationQuery,
        walk: &Walk,
    ) -> Result<Option<Page>, RepositoryError>;

    /// As [`list`](Self::list), for a store that is also the [`CursorStore`] the list's walks
    /// are remembered in: it may remember the page's end under `list_key` in the same read (on
    /// PostgreSQL, in the page's one statement) as [`CursorStore::remember`] would, and then says
    /// so in [`Page::end_remembered`]. The service calls it only when its cursor store is this
    /// store; stores that do not keep cursors need not override it.
    ///
    /// # Errors
    /// As for [`list`](Self::list).
    async fn list_remembering(
        &self,
        app: &AppId,
        query: &ConversationQuery,
        walk: &Walk,
        list_key: &str,
    ) -> Result<Option<Page>, RepositoryError> {
        let _ = list_key;
        self.list(app, query, walk).await
    }

    /// For a store that is also the [`CursorStore`]: in one read, what continuing a walk of
    /// list `list_key` after conversation `id` needs (see [`Resume`]), the list's member being
    /// `query.member`, if any. `None` from a store that does not keep the cursors: the service then asks
    /// for the standing, the participation and the cursor one by one.
    ///
    /// # Errors
    /// `Unavailable`/`Other` as for [`find`](Self::find).
    async fn resume(
        &self,
        app: &AppId,
        id: &ConversationId,
        query: &ConversationQuery,
        list_key: &str,
    ) -> Result<Option<Resume>, RepositoryError> {
        let _ = (app, id, query, list_key);
        Ok(None)
    }
}

/// Durable storage of messages, scoped by app and conversation.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MessageRepository: Send + Sync + 'static {
    /// Stores the records in order, atomically: all or none. A record whose idempotency key was
    /// stored for this conversation at or after `idempotent_since` is not stored; the ID stored
    /// with the key is answered instead. Each message is stored at the later of its `created_at`
    /// and the newest stored message's, so times never decrease in storage order (the unread
    /// rule relies on it). Moves each sender's `readUntil` forward to their message (never
    /// backwards) and makes the newest stored message the conversation's last. Answers the IDs in
    /// input order, or `None` when the conversation does not exist.
    ///
    /// # Errors
    /// `Conflict`, with nothing written, when what the caller checked no longer holds: a sender
    /// is no longer a ReadWrite participant, a referenced message is gone, or a concurrent request
    /// stored the same idempotency key. Re-reading and retrying is safe. `Unavailable`/`Other`.
    async fn insert_messages(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        records: &[MessageRecord],
        idempotent_since: i64,
    ) -> Result<Option<Vec<MessageId>>, RepositoryError> {
        let none = vec![Vec::new(); records.len()];
        self.insert_messages_recording(app, conversation, records, idempotent_since, &none)
            .await
    }

    /// [`insert_messages`](Self::insert_messages), storing in the same transaction the events
    /// of each record that is stored (`events[i]` belongs to `records[i]`; a record answered
    /// from its idempotency key records nothing).
    ///
    /// # Errors
    /// As [`insert_messages`](Self::insert_messages).
    async fn insert_messages_recording(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        records: &[MessageRecord],
        idempotent_since: i64,
        events: &[Vec<NewEvent>],
    ) -> Result<Option<Vec<MessageId>>, RepositoryError>;

    /// The message with this ID in this conversation.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn find_message(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        id: &MessageId,
    ) -> Result<Option<Versioned<Message>>, RepositoryError>;

    /// Imports history, atomically: all or none, and records no events. Each message keeps its
    /// `created_at` and takes its place in the order (`created_at`, storage order). A record
    /// whose idempotency key was stored for this conversation before (by an import, or by a
    /// send at or after `idempotent_since`) is not stored; the ID stored with the key is answered instead,
    /// and import keys are kept without expiry. Moves the `readUntil` (and read mark) of each
    /// `read_by` participant forward to the message's time, never backwards. The conversation's
    /// last message is then its newest by that order: it changes (and the conversation moves in
    /// lists, as of a fresh activity sequence number) only when an imported message is newer.
    /// Answers the IDs in input order, or `None` when the conversation does not exist.
    ///
    /// # Errors
    /// `Conflict`, with nothing written, when a sender or reader is no longer on record in the
    /// conversation, or a concurrent request stored the same idempotency key. `Unavailable`/
    /// `Other`.
    async fn import_messages(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        records: &[ImportRecord],
        idempotent_since: i64,
    ) -> Result<Option<Vec<MessageId>>, RepositoryError>;

    /// Up to `limit` messages, newest first by (`created_at`, storage order), after
    /// `starting_after` (exclusive). `None` when `starting_after` is not a message of this
    /// conversation.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn list_messages(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        limit: usize,
        starting_after: Option<MessageId>,
    ) -> Result<Option<Vec<Message>>, RepositoryError>;

    /// Replaces `before` with `after` if the stored version is still `before.version`.
    ///
    /// # Errors
    /// `Conflict` when the message changed or is gone (nothing is written); `Unavailable`/`Other`.
    async fn update_message(
        &self,
        app: &AppId,
        before: &Versioned<Message>,
        after: &Message,
    ) -> Result<(), RepositoryError> {
        self.update_message_recording(app, before, after, &[]).await
    }

    /// [`update_message`](Self::update_message), storing `events` in the same transaction.
    ///
    /// # Errors
    /// As [`update_message`](Self::update_message).
    async fn update_message_recording(
        &self,
        app: &AppId,
        before: &Versioned<Message>,
        after: &Message,
        events: &[NewEvent],
    ) -> Result<(), RepositoryError>;

    /// The newest live message of the conversation created after `after` and at or before
    /// `until` that `user` did not send (system messages included): what a move of `user`'s
    /// `readUntil` from `after` to `until` newly covers.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn newest_read_by_move(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        user: &UserId,
        after: i64,
        until: i64,
    ) -> Result<Option<Message>, RepositoryError>;

    /// For each (conversation, readUntil): how many live messages of that conversation are newer
    /// than readUntil and not sent by `user`. Counts only those messages, not the history.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn unread_counts(
        &self,
        app: &AppId,
        user: &UserId,
        items: &[(ConversationId, i64)],
    ) -> Result<Vec<i64>, RepositoryError>;

    /// Deletes the message; the conversation's last message becomes the newest one left.
    /// `false` when there was no such message in this conversation.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn delete_message(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        id: &MessageId,
    ) -> Result<bool, RepositoryError> {
        self.delete_message_recording(app, conversation, id, &[])
            .await
    }

    /// [`delete_message`](Self::delete_message), storing `events` in the same transaction when
    /// it deletes.
    ///
    /// # Errors
    /// As [`delete_message`](Self::delete_message).
    async fn delete_message_recording(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        id: &MessageId,
        events: &[NewEvent],
    ) -> Result<bool, RepositoryError>;
}

/// A user to store: new (`expected_version` is `None`) or replacing the version that was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserWrite {
    pub expected_version: Option<i64>,
    pub user: User,
}

/// Durable storage of users, scoped by app.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// The user and the version it was read at.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn find_user(
        &self,
        app: &AppId,
        id: &UserId,
    ) -> Result<Option<Versioned<User>>, RepositoryError>;

    /// Stores all the writes atomically, or none of them.
    ///
    /// # Errors
    /// `Conflict` when a new user exists already or a replaced one changed since it was read
    /// (nothing is written); `Unavailable`/`Other`.
    async fn save_users(&self, app: &AppId, writes: &[UserWrite]) -> Result<(), RepositoryError> {
        self.save_users_recording(app, writes, &[]).await
    }

    /// [`save_users`](Self::save_users), storing `events` in the same transaction.
    ///
    /// # Errors
    /// As [`save_users`](Self::save_users).
    async fn save_users_recording(
        &self,
        app: &AppId,
        writes: &[UserWrite],
        events: &[NewEvent],
    ) -> Result<(), RepositoryError>;

    /// Up to `limit` users in ID order (bytewise), after `starting_after` (exclusive). `None`
    /// when `starting_after` is no user of this app.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn list_users(
        &self,
        app: &AppId,
        limit: usize,
        starting_after: Option<UserId>,
    ) -> Result<Option<Vec<User>>, RepositoryError>;
}

/// Remembers where served pages ended, so that the next page of the same walk continues from
/// the same snapshot and position.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CursorStore: Send + Sync + 'static {
    /// Remembers that a page of list `list` of `app` ended with `last` at `cursor`.
    async fn remember(&self, app: &AppId, list: &str, last: &ConversationId, cursor: Cursor);

    /// What was remembered for a page of that list ending with `last`, if anything.
    async fn recall(&self, app: &AppId, list: &str, last: &ConversationId) -> Option<Cursor>;
}

/// Apps whose keys live in the database (the generated development app).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AppRepository: Send + Sync + 'static {
    /// The stored key of `app`; when the app is not stored yet, stores `new_key` and returns it.
    ///
    /// # Errors
    /// `Unavailable` when storage cannot be reached; `Other` for anything else.
    async fn get_or_create_key(
        &self,
        app: &AppId,
        new_key: &SecretKey,
    ) -> Result<SecretKey, RepositoryError>;
}
