//! Reactions (API.md "Reactions"): which emoji count as the same one, the storage port, and the
//! service the routes call (who may react, the per-message limit, the events).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::conversation::{Access, Conversation};
use crate::error::{Invalid, InvalidCode, RepositoryError, ServiceError};
use crate::events::{EventData, EventRecorder, EventType, NewEvent};
use crate::ids::{AppId, ConversationId, UserId};
use crate::limits::Limits;
use crate::message::{Message, MessageId};
use crate::ports::{ConversationRepository, MessageRepository};

/// An emoji as reactions are compared and shown: a Unicode emoji in its fully-qualified form
/// (`❤` and `❤️` are one), or a custom `:name:`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Emoji(String);

impl Emoji {
    /// Normalises what a client sent (the decoded path segment).
    ///
    /// # Errors
    /// A reason when `raw` is neither one emoji nor a custom `:name:` (1 to 50 of
    /// `a-z A-Z 0-9 _ + -`).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if let Some(name) = raw.strip_prefix(':').and_then(|r| r.strip_suffix(':')) {
            let valid = (1..=50).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'));
            return if valid {
                Ok(Self(raw.to_owned()))
            } else {
                Err("a custom emoji is :name: with 1 to 50 of a-z A-Z 0-9 _ + -")
            };
        }
        // The data crate's lookup accepts unqualified and minimally-qualified forms; a form
        // with extra variation selectors is found once they are stripped.
        let found =
            emojis::get(raw).or_else(|| emojis::get(&raw.replace(['\u{FE0F}', '\u{FE0E}'], "")));
        match found {
            Some(emoji) => Ok(Self(emoji.as_str().to_owned())),
            None => Err("must be one Unicode emoji or a custom :name:"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What adding a reaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Added,
    /// The user had reacted with that emoji already: nothing changed.
    AlreadyThere,
    /// The message has `limit` distinct emoji already and this one is new.
    LimitReached,
    /// No live message with that ID in that conversation.
    NoMessage,
}

/// Durable storage of reactions; each change updates the message's summary in the same
/// transaction.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReactionRepository: Send + Sync + 'static {
    /// Adds `user`'s `emoji` on the message at `now`, unless it is there already or the message
    /// has `max_distinct` other emoji; stores `events` with it when it is added.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    #[allow(clippy::too_many_arguments)]
    async fn add_reaction(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        message: &MessageId,
        emoji: &Emoji,
        user: &UserId,
        now: i64,
        max_distinct: usize,
        events: &[NewEvent],
    ) -> Result<Added, RepositoryError>;

    /// Removes it; `Some(true)` when it was there (then `events` are stored with the change),
    /// `Some(false)` when not, `None` when there is no such live message.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn remove_reaction(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        message: &MessageId,
        emoji: &Emoji,
        user: &UserId,
        events: &[NewEvent],
    ) -> Result<Option<bool>, RepositoryError>;

    /// Up to `limit` reactions with `emoji`, oldest first (then by user ID), after
    /// `starting_after`. `None` when `starting_after` did not react with it.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn list_reactions(
        &self,
        app: &AppId,
        message: &MessageId,
        emoji: &Emoji,
        limit: usize,
        starting_after: Option<UserId>,
    ) -> Result<Option<Vec<(UserId, i64)>>, RepositoryError>;
}

/// Adds, removes and lists reactions.
#[derive(Clone)]
pub struct ReactionService {
    conversations: Arc<dyn ConversationRepository>,
    messages: Arc<dyn MessageRepository>,
    reactions: Arc<dyn ReactionRepository>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    events: Option<EventRecorder>,
}

impl fmt::Debug for ReactionService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactionService").finish_non_exhaustive()
    }
}

impl ReactionService {
    pub fn new(
        conversations: Arc<dyn ConversationRepository>,
        messages: Arc<dyn MessageRepository>,
        reactions: Arc<dyn ReactionRepository>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            conversations,
            messages,
            reactions,
            clock,
            limits,
            events: None,
        }
    }

    #[must_use]
    pub fn with_events(mut self, recorder: EventRecorder) -> Self {
        self.events = Some(recorder);
        self
    }

    /// The conversation and message, or `NotFound`.
    async fn target(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        message: &MessageId,
    ) -> Result<(Conversation, Message), ServiceError> {
        let found = self
            .conversations
            .find(app, conversation)
            .await?
            .ok_or(ServiceError::NotFound("conversation"))?;
        let message = self
            .messages
            .find_message(app, conversation, message)
            .await?
            .ok_or(ServiceError::NotFound("message"))?;
        Ok((found.value, message.value))
    }

    fn event(
        &self,
        app: &AppId,
        kind: EventType,
        conversation: Conversation,
        message: Message,
        user: &UserId,
        emoji: &Emoji,
    ) -> Vec<NewEvent> {
        match &self.events {
            None => Vec::new(),
            Some(recorder) => recorder.record(
                app,
                vec![(
                    kind,
                    EventData::Reaction {
                        conversation,
                        message,
                        user_id: user.clone(),
                        emoji: emoji.as_str().to_owned(),
                    },
                )],
            ),
        }
    }

    /// `user` reacts with `emoji`; idempotent.
    ///
    /// # Errors
    /// `NotFound` for a missing conversation or message; `Invalid` naming `userId` when the
    /// user is no participant (or has access `None`), naming `emoji` over the limit.
    pub async fn add(
        &self,
        app: &AppId,
        conversation_id: &ConversationId,
        message_id: &MessageId,
        emoji: &Emoji,
        user: &UserId,
    ) -> Result<(), ServiceError> {
        let (conversation, mut message) = self.target(app, conversation_id, message_id).await?;
        if conversation
            .participants
            .get(user)
            .is_none_or(|p| p.access == Access::None)
        {
            return Err(Invalid::field(
                InvalidCode::InvalidField,
                "userId",
                format!("{user} is not a participant of this conversation (with access)"),
            )
            .into());
        }
        let now = self.clock.now_ms();
        // The event shows the message with the reaction counted.
        let entry = message
            .reactions
            .entry(emoji.as_str().to_owned())
            .or_insert(crate::message::ReactionSummary {
                count: 0,
                created_at: now,
            });
        entry.count += 1;
        let events = self.event(
            app,
            EventType::ReactionAdded,
            conversation,
            message,
            user,
            emoji,
        );
        match self
            .reactions
            .add_reaction(
                app,
                conversation_id,
                message_id,
                emoji,
                user,
                now,
                self.limits.reactions_per_message,
                &events,
            )
            .await?
        {
            Added::Added => {
                if let Some(recorder) = &self.events {
                    recorder.committed(&events);
                }
                Ok(())
            }
            Added::AlreadyThere => Ok(()),
            Added::NoMessage => Err(ServiceError::NotFound("message")),
            Added::LimitReached => Err(Invalid::field(
                InvalidCode::LimitExceeded,
                "emoji",
                format!(
                    "at most {} distinct emoji per message",
                    self.limits.reactions_per_message
                ),
            )
            .into()),
        }
    }

    /// Removes `user`'s `emoji`; fine when there was none.
    ///
    /// # Errors
    /// `NotFound` for a missing conversation or message.
    pub async fn remove(
        &self,
        app: &AppId,
        conversation_id: &ConversationId,
        message_id: &MessageId,
        emoji: &Emoji,
        user: &UserId,
    ) -> Result<(), ServiceError> {
        let (conversation, mut message) = self.target(app, conversation_id, message_id).await?;
        if let Some(summary) = message.reactions.get_mut(emoji.as_str()) {
            summary.count = summary.count.saturating_sub(1);
            if summary.count == 0 {
                message.reactions.remove(emoji.as_str());
            }
        }
        let events = self.event(
            app,
            EventType::ReactionRemoved,
            conversation,
            message,
            user,
            emoji,
        );
        match self
            .reactions
            .remove_reaction(app, conversation_id, message_id, emoji, user, &events)
            .await?
        {
            Some(true) => {
                if let Some(recorder) = &self.events {
                    recorder.committed(&events);
                }
                Ok(())
            }
            Some(false) => Ok(()),
            None => Err(ServiceError::NotFound("message")),
        }
    }

    /// A page of who reacted with `emoji`, oldest first.
    ///
    /// # Errors
    /// `NotFound`; `Invalid` naming `startingAfter` when that user did not react with it.
    pub async fn list(
        &self,
        app: &AppId,
        conversation_id: &ConversationId,
        message_id: &MessageId,
        emoji: &Emoji,
        limit: usize,
        starting_after: Option<UserId>,
    ) -> Result<Vec<(UserId, i64)>, ServiceError> {
        self.target(app, conversation_id, message_id).await?;
        let shown = starting_after.as_ref().map(ToString::to_string);
        self.reactions
            .list_reactions(app, message_id, emoji, limit, starting_after)
            .await?
            .ok_or_else(|| {
                Invalid::field(
                    InvalidCode::InvalidField,
                    "startingAfter",
                    format!("`{}` did not react with {emoji}", shown.unwrap_or_default()),
                )
                .into()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_are_normalised_to_their_fully_qualified_form() {
        let norm = |s: &str| Emoji::parse(s).map(|e| e.as_str().to_owned());
        assert_eq!(norm("❤").unwrap(), "❤\u{FE0F}");
        assert_eq!(norm("❤\u{FE0F}").unwrap(), "❤\u{FE0F}");
        assert_eq!(norm("👍").unwrap(), "👍");
        assert_eq!(norm("👍\u{FE0F}").unwrap(), "👍");
        assert_eq!(norm("😀\u{FE0F}").unwrap(), "😀");
        assert_eq!(norm("👍🏽").unwrap(), "👍🏽");
        assert_eq!(norm("❤\u{200D}🔥").unwrap(), "❤\u{FE0F}\u{200D}🔥");
        assert_eq!(norm(":party_parrot:").unwrap(), ":party_parrot:");
        assert_eq!(norm(":a+b-c_1:").unwrap(), ":a+b-c_1:");
        for bad in [
            "",
            "a",
            "👍👍",
            "::",
            ":has space:",
            ":é:",
            "1",
            ":x",
            &format!(":{}:", "a".repeat(51)),
        ] {
            assert!(Emoji::parse(bad).is_err(), "{bad:?}");
        }
    }
}
