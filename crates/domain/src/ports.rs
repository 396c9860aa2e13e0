//! Driven ports: what the domain needs from storage. Adapters implement these traits.

use async_trait::async_trait;

use crate::app::SecretKey;
use crate::conversation::Conversation;
use crate::error::RepositoryError;
use crate::ids::{AppId, ConversationId};

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
    async fn insert(&self, app: &AppId, conversation: &Conversation)
        -> Result<(), RepositoryError>;

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
    ) -> Result<(), RepositoryError>;

    /// Deletes the conversation and everything that belongs to it. `false` when there was none.
    ///
    /// # Errors
    /// `Unavailable`/`Other` as for [`find`](Self::find).
    async fn delete(&self, app: &AppId, id: &ConversationId) -> Result<bool, RepositoryError>;
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
