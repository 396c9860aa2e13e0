//! Whole apps in and out: the records an export holds, and how they are written back.
//!
//! A [`Record`] is one thing of an app as it is stored: a user, a conversation's own fields,
//! one participant (also one with access `None`, whom the REST API does not show), a message
//! (with its ID, times, origin and content), a reaction, or a file with its bytes. [`Restorer`]
//! writes records through the repository ports, so it works on every backend and while servers
//! run on the same database. Every write is idempotent: restoring the same records again
//! changes nothing, so an interrupted import or migration is simply run again.
//!
//! Conversations that are new to the store are written faster, whole: many of them with all
//! their participants, messages and reactions in one transaction of the [`ArchiveRepository`]
//! port ([`Restorer::restore_whole`], see [`whole`] for which records qualify).

mod restorer;
pub mod whole;

use async_trait::async_trait;

pub use restorer::Restorer;
pub use whole::{WholeConversation, WholeReaction};

use crate::error::RepositoryError;
use crate::files::StoredFile;
use crate::message::{Message, MessageId};
use crate::reactions::Emoji;
use crate::{AppId, Conversation, ConversationId, Participant, User, UserId};

/// One record of an app.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    User(User),
    /// The conversation's own fields; its participants are records of their own.
    Conversation(Conversation),
    Participant {
        conversation: ConversationId,
        user: UserId,
        participant: Participant,
    },
    Message(Message),
    Reaction {
        conversation: ConversationId,
        message: MessageId,
        emoji: Emoji,
        user: UserId,
        created_at: i64,
    },
    /// A file and its bytes (before the messages that use it).
    File {
        file: StoredFile,
        bytes: Vec<u8>,
    },
}

impl Record {
    /// `user`, `conversation`, `participant`, `message`, `reaction` or `file`.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::User(_) => "user",
            Record::Conversation(_) => "conversation",
            Record::Participant { .. } => "participant",
            Record::Message(_) => "message",
            Record::Reaction { .. } => "reaction",
            Record::File { .. } => "file",
        }
    }
}

/// How many records a restore wrote, and how many were there already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    pub written: u64,
    pub unchanged: u64,
}

impl Restored {
    /// `n` records written.
    pub fn written(n: u64) -> Self {
        Self {
            written: n,
            unchanged: 0,
        }
    }

    /// `n` records that were there already.
    pub fn unchanged(n: u64) -> Self {
        Self {
            written: 0,
            unchanged: n,
        }
    }
}

impl std::ops::AddAssign for Restored {
    fn add_assign(&mut self, other: Self) {
        self.written += other.written;
        self.unchanged += other.unchanged;
    }
}

/// Bulk storage of whole conversations, for imports: many per transaction.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ArchiveRepository: Send + Sync + 'static {
    /// Stores new conversations, each with its participants, messages and reactions, in one
    /// transaction: all or none, and no events. Messages keep their IDs, times and reactions
    /// summaries and are stored in the order given (their storage order); a conversation's
    /// last message is its newest by (`created_at`, storage order).
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when one of the conversations or messages exists already
    /// (nothing is written); `Unavailable`/`Other` when storage fails.
    async fn insert_whole(
        &self,
        app: &AppId,
        batch: &[WholeConversation],
    ) -> Result<(), RepositoryError>;
}
