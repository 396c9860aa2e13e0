//! Events: which change produces which event, what it carries, where it is delivered, and the
//! ports of the event log and the webhook deliveries.
//!
//! A service turns a change into [`Event`]s with the rules here, has them encoded to the JSON
//! envelope by an [`EventEncoder`] (the HTTP layer's, so that `data` has the exact shapes of the
//! REST responses), and hands the encoded [`NewEvent`]s to the repository write that makes the
//! change: they are stored in the same transaction (a transactional outbox).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::conversation::{Conversation, Participant};
use crate::error::{Invalid, InvalidCode, RepositoryError, ServiceError};
use crate::ids::{AppId, UserId};
use crate::message::{random_base62, Message};
use crate::ports::{MessageRepository, UserRepository};
use crate::user::User;

/// The kinds of event. The first seven are TalkJS's webhook events; the others are Parley's,
/// delivered only to webhooks that list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    MessageSent,
    MessageUpdated,
    MessageDeleted,
    MessageRead,
    ConversationDeleted,
    UserCreated,
    UserUpdated,
    ConversationCreated,
    ConversationUpdated,
    ParticipantJoined,
    ParticipantUpdated,
    ParticipantLeft,
    ReactionAdded,
    ReactionRemoved,
}

impl EventType {
    pub const ALL: [EventType; 14] = [
        EventType::MessageSent,
        EventType::MessageUpdated,
        EventType::MessageDeleted,
        EventType::MessageRead,
        EventType::ConversationDeleted,
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::ConversationCreated,
        EventType::ConversationUpdated,
        EventType::ParticipantJoined,
        EventType::ParticipantUpdated,
        EventType::ParticipantLeft,
        EventType::ReactionAdded,
        EventType::ReactionRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageSent => "message.sent",
            EventType::MessageUpdated => "message.updated",
            EventType::MessageDeleted => "message.deleted",
            EventType::MessageRead => "message.read",
            EventType::ConversationDeleted => "conversation.deleted",
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::ConversationCreated => "conversation.created",
            EventType::ConversationUpdated => "conversation.updated",
            EventType::ParticipantJoined => "participant.joined",
            EventType::ParticipantUpdated => "participant.updated",
            EventType::ParticipantLeft => "participant.left",
            EventType::ReactionAdded => "reaction.added",
            EventType::ReactionRemoved => "reaction.removed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// Whether TalkJS has this event, so that a webhook without an `events` list gets it.
    pub fn is_talkjs(self) -> bool {
        matches!(
            self,
            EventType::MessageSent
                | EventType::MessageUpdated
                | EventType::MessageDeleted
                | EventType::MessageRead
                | EventType::ConversationDeleted
                | EventType::UserCreated
                | EventType::UserUpdated
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sender (or the recipient) of a message event: the user, or only an ID when no such user
/// exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    User(Box<User>),
    Unknown(UserId),
}

/// What an event carries; the encoder renders each object as its REST response. Short-lived
/// (built, encoded, dropped), so the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// `conversation.created`, `.updated`, `.deleted`.
    Conversation { conversation: Conversation },
    /// `message.sent`, `.updated`, `.deleted`; `sender` is `None` for a SystemMessage.
    Message {
        conversation: Conversation,
        message: Message,
        sender: Option<Sender>,
    },
    /// `message.read`: `recipient` is the participant who read it.
    Read {
        conversation: Conversation,
        message: Message,
        recipient: Sender,
    },
    /// `user.created`, `.updated`.
    User { user: User },
    /// `participant.joined`, `.updated`, `.left`.
    Participant {
        conversation: Conversation,
        user_id: UserId,
        participant: Participant,
    },
    /// `reaction.added`, `.removed`: the message as it is after the change.
    Reaction {
        conversation: Conversation,
        message: Message,
        user_id: UserId,
        emoji: String,
    },
}

/// One event, before it is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `evt_` and 22 base62 characters.
    pub id: String,
    pub kind: EventType,
    pub created_at: i64,
    pub data: EventData,
}

/// Renders an event as its JSON envelope `{"id", "type", "createdAt", "data"}`.
pub trait EventEncoder: Send + Sync + 'static {
    fn encode(&self, event: &Event) -> String;
}

/// An event to store with the change that caused it, and the webhook URLs to deliver it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: String,
    pub kind: EventType,
    pub created_at: i64,
    /// The whole envelope as JSON.
    pub body: String,
    pub deliver_to: Vec<String>,
    /// Until when (Unix ms) failed deliveries are retried.
    pub retry_until: i64,
}

/// A place in the event log. The log's order is (`xid`, `seq`): `seq` numbers events as they
/// are recorded; `xid` is 0 where one writer commits in that order (memory, SQLite), and the
/// recording transaction's ID on PostgreSQL, where concurrent writers commit in any order and a
/// reader only sees events below its snapshot's horizon (docs/ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition {
    pub xid: i64,
    pub seq: i64,
}

/// A stored event of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event's number, unique in the store (deliveries refer to it).
    pub seq: i64,
    /// With `seq`, the event's place in the log (see [`LogPosition`]).
    pub xid: i64,
    pub id: String,
    pub kind: EventType,
    pub created_at: i64,
    pub body: String,
}

impl StoredEvent {
    /// The event's place in the log: where a reader continues after it.
    #[must_use]
    pub fn position(&self) -> LogPosition {
        LogPosition {
            xid: self.xid,
            seq: self.seq,
        }
    }
}

/// A webhook of an app: where to POST, and which event types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub events: BTreeSet<EventType>,
}

impl Webhook {
    /// A webhook for `events`, or TalkJS's event types when `None`.
    pub fn new(url: impl Into<String>, events: Option<BTreeSet<EventType>>) -> Self {
        Self {
            url: url.into(),
            events: events.unwrap_or_else(|| {
                EventType::ALL
                    .into_iter()
                    .filter(|t| t.is_talkjs())
                    .collect()
            }),
        }
    }
}

/// Told after a write with events committed, so that the deliverer and the event streams of
/// this process wake at once instead of at their next poll.
pub trait EventSignal: Send + Sync + 'static {
    fn committed(&self);
}

/// How events are recorded: encoded, routed to the app's webhooks, and for how long retried.
#[derive(Clone)]
pub struct EventRecorder {
    encoder: Arc<dyn EventEncoder>,
    webhooks: Arc<BTreeMap<AppId, Vec<Webhook>>>,
    clock: Arc<dyn Clock>,
    retry_ms: i64,
    signal: Option<Arc<dyn EventSignal>>,
}

impl fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRecorder")
            .field("webhooks", &self.webhooks)
            .field("retry_ms", &self.retry_ms)
            .finish_non_exhaustive()
    }
}

impl EventRecorder {
    pub fn new(
        encoder: Arc<dyn EventEncoder>,
        webhooks: BTreeMap<AppId, Vec<Webhook>>,
        clock: Arc<dyn Clock>,
        retry_ms: i64,
    ) -> Self {
        Self {
            encoder,
            webhooks: Arc::new(webhooks),
            clock,
            retry_ms,
            signal: None,
        }
    }

    /// Tells `signal` after every write with events.
    #[must_use]
    pub fn with_signal(mut self, signal: Arc<dyn EventSignal>) -> Self {
        self.signal = Some(signal);
        self
    }

    /// How long failed deliveries are retried, in ms.
    pub fn retry_ms(&self) -> i64 {
        self.retry_ms
    }

    /// Called by the services once a write that recorded `events` committed.
    pub fn committed<T>(&self, events: &[T]) {
        if let (Some(signal), false) = (&self.signal, events.is_empty()) {
            signal.committed();
        }
    }

    /// The encoded events of one change, stamped with the clock's time.
    pub fn record(&self, app: &AppId, changes: Vec<(EventType, EventData)>) -> Vec<NewEvent> {
        let now = self.clock.now_ms();
        let hooks = self.webhooks.get(app).map(Vec::as_slice).unwrap_or(&[]);
        changes
            .into_iter()
            .map(|(kind, data)| {
                let event = Event {
                    id: format!("evt_{}", random_base62(22)),
                    kind,
                    created_at: now,
                    data,
                };
                NewEvent {
                    body: self.encoder.encode(&event),
                    id: event.id,
                    kind,
                    created_at: now,
                    deliver_to: hooks
                        .iter()
                        .filter(|h| h.events.contains(&kind))
                        .map(|h| h.url.clone())
                        .collect(),
                    retry_until: now + self.retry_ms,
                }
            })
            .collect()
    }
}

/// The events of a conversation write: `before` is `None` for a new conversation.
/// Participants that joined, changed or left each get their own event; a change of the
/// conversation's own fields is `conversation.updated`. An unchanged conversation has none.
pub fn conversation_changes(
    before: Option<&Conversation>,
    after: &Conversation,
) -> Vec<(EventType, EventData)> {
    let mut out = Vec::new();
    let whole = |kind| {
        (
            kind,
            EventData::Conversation {
                conversation: after.clone(),
            },
        )
    };
    let empty = BTreeMap::new();
    let before_participants = match before {
        None => {
            out.push(whole(EventType::ConversationCreated));
            &empty
        }
        Some(b) => {
            let own_fields_changed = b.subject != after.subject
                || b.topic_id != after.topic_id
                || b.photo_url != after.photo_url
                || b.welcome_messages != after.welcome_messages
                || b.custom != after.custom;
            if own_fields_changed {
                out.push(whole(EventType::ConversationUpdated));
            }
            &b.participants
        }
    };
    let participant = |kind, user: &UserId, p: &Participant| {
        (
            kind,
            EventData::Participant {
                conversation: after.clone(),
                user_id: user.clone(),
                participant: *p,
            },
        )
    };
    for (user, p) in &after.participants {
        match before_participants.get(user) {
            None => out.push(participant(EventType::ParticipantJoined, user, p)),
            Some(old) if old != p => out.push(participant(EventType::ParticipantUpdated, user, p)),
            Some(_) => {}
        }
    }
    for (user, p) in before_participants {
        if !after.participants.contains_key(user) {
            out.push(participant(EventType::ParticipantLeft, user, p));
        }
    }
    out
}

/// What `message.*` events look up: the sender or recipient as a user, and what a move of a
/// participant's `readUntil` newly covered.
#[derive(Clone)]
pub struct ReadLookup {
    pub messages: Arc<dyn MessageRepository>,
    pub users: Arc<dyn UserRepository>,
}

impl fmt::Debug for ReadLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadLookup").finish_non_exhaustive()
    }
}

impl ReadLookup {
    /// The user `id`, or a stub when no such user exists.
    ///
    /// # Errors
    /// Storage.
    pub async fn person(&self, app: &AppId, id: &UserId) -> Result<Sender, RepositoryError> {
        Ok(match self.users.find_user(app, id).await? {
            Some(found) => Sender::User(Box::new(found.value)),
            None => Sender::Unknown(id.clone()),
        })
    }

    /// `message.read` for `user` whose `readUntil` moves from `from` to `to` in `conversation`
    /// (as it is after the move): one event for the newest message of others it newly covers.
    /// Callers pass the read mark as `from`, so a message is covered for a participant once, ever.
    ///
    /// # Errors
    /// Storage.
    pub async fn read_change(
        &self,
        app: &AppId,
        conversation: &Conversation,
        user: &UserId,
        from: i64,
        to: i64,
    ) -> Result<Option<(EventType, EventData)>, RepositoryError> {
        if to <= from {
            return Ok(None);
        }
        let Some(message) = self
            .messages
            .newest_read_by_move(app, &conversation.id, user, from, to)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((
            EventType::MessageRead,
            EventData::Read {
                conversation: conversation.clone(),
                message,
                recipient: self.person(app, user).await?,
            },
        )))
    }

    /// The `message.read` events of a conversation write: one per participant whose
    /// `readUntil` moved forward onto messages of others.
    ///
    /// # Errors
    /// Storage.
    pub async fn read_changes(
        &self,
        app: &AppId,
        before: &Conversation,
        after: &Conversation,
    ) -> Result<Vec<(EventType, EventData)>, RepositoryError> {
        let mut out = Vec::new();
        for (user, p) in &after.participants {
            if let Some(old) = before.participants.get(user) {
                out.extend(
                    self.read_change(app, after, user, old.read_mark, p.read_until)
                        .await?,
                );
            }
        }
        Ok(out)
    }
}

/// The event of a user write: `user.created` for a new user, `user.updated` for a change.
pub fn user_change(before: Option<&User>, after: &User) -> Option<(EventType, EventData)> {
    let kind = match before {
        None => EventType::UserCreated,
        Some(b) if b == after => return None,
        Some(_) => EventType::UserUpdated,
    };
    Some((
        kind,
        EventData::User {
            user: after.clone(),
        },
    ))
}

/// Where a reader of the log continues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// After this place (exclusive); from the oldest kept when `None`.
    pub after: Option<LogPosition>,
    pub limit: usize,
    /// Only these types; every type when empty.
    pub types: BTreeSet<EventType>,
}

/// The state of one event's delivery to one URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event's delivery to one URL, as the deliveries listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub url: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
}

/// A delivery claimed by one deliverer: nobody else attempts it until `lease_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub app: AppId,
    pub event_seq: i64,
    pub event_id: String,
    pub url: String,
    pub body: String,
    pub attempts: i32,
    pub retry_until: i64,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered {
        status: i32,
    },
    /// Retry at `next_attempt_at`, or mark failed when `None`.
    Failed {
        status: Option<i32>,
        error: Option<String>,
        next_attempt_at: Option<i64>,
    },
}

/// The backoff of TalkJS-style retries: 1 s after the first failure, doubling, at most 10
/// minutes apart; `None` once the next attempt would fall after `retry_until`.
pub fn next_attempt(attempts: i32, now: i64, retry_until: i64) -> Option<i64> {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let delay = (1000_i64 << exponent).min(10 * 60 * 1000);
    let at = now + delay;
    (at <= retry_until).then_some(at)
}

/// Durable storage of the event log and the webhook deliveries (the outbox's reading side).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventRepository: Send + Sync + 'static {
    /// The sequence number of the app's event with this ID, if it is kept.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn event_seq(&self, app: &AppId, id: &str) -> Result<Option<i64>, RepositoryError>;

    /// The place in the log of the app's event with this ID, if it is kept.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn event_position(
        &self,
        app: &AppId,
        id: &str,
    ) -> Result<Option<LogPosition>, RepositoryError>;

    /// The place of the app's newest event that [`list_events`](Self::list_events) would show.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn latest_position(&self, app: &AppId) -> Result<Option<LogPosition>, RepositoryError>;

    /// Up to `query.limit` events of the app after `query.after`, oldest first. Never shows an
    /// event before every event ahead of it in the log's order is visible: an event that is yet
    /// to commit always comes after every event shown.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn list_events(
        &self,
        app: &AppId,
        query: &EventQuery,
    ) -> Result<Vec<StoredEvent>, RepositoryError>;

    /// Claims up to `limit` pending deliveries due at `now` whose lease (if any) has run out,
    /// for `lease_ms`; oldest event first.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn claim_deliveries(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, RepositoryError>;

    /// Records the outcome of an attempt of a claimed delivery and releases its lease.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn finish_attempt(
        &self,
        event_seq: i64,
        url: &str,
        outcome: &AttemptOutcome,
    ) -> Result<(), RepositoryError> {
        self.finish_attempts(&[(event_seq, url.to_owned(), outcome.clone())])
            .await
    }

    /// [`finish_attempt`](Self::finish_attempt) for several attempts (event seq, URL, outcome),
    /// in one write.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn finish_attempts(
        &self,
        attempts: &[(i64, String, AttemptOutcome)],
    ) -> Result<(), RepositoryError>;

    /// The earliest `next_attempt_at` of a pending delivery, for the deliverer's sleep.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn next_due(&self) -> Result<Option<i64>, RepositoryError>;

    /// The app's deliveries, newest event first and an event's by URL, after all items of the
    /// event `starting_after_seq`.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn list_deliveries(
        &self,
        app: &AppId,
        status: Option<DeliveryStatus>,
        limit: usize,
        starting_after_seq: Option<i64>,
    ) -> Result<Vec<Delivery>, RepositoryError>;

    /// Schedules the failed deliveries of an event again, due at `now`, with a new retry window
    /// until `retry_until`. `false` when the app has no such event.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn retry_deliveries(
        &self,
        app: &AppId,
        event_id: &str,
        now: i64,
        retry_until: i64,
    ) -> Result<bool, RepositoryError>;

    /// Deletes events created before `before` whose deliveries are all delivered or failed.
    /// Answers how many were deleted.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn prune_events(&self, before: i64) -> Result<u64, RepositoryError>;
}

/// Reads the event log and manages deliveries: what the HTTP layer calls.
#[derive(Clone)]
pub struct EventService {
    repo: Arc<dyn EventRepository>,
    clock: Arc<dyn Clock>,
    retry_ms: i64,
}

impl fmt::Debug for EventService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventService").finish_non_exhaustive()
    }
}

/// The most events a page of the log holds.
pub const MAX_EVENTS_LIMIT: usize = 1000;
/// The most deliveries a page of the deliveries listing holds.
pub const MAX_DELIVERIES_LIMIT: usize = 100;

impl EventService {
    pub fn new(repo: Arc<dyn EventRepository>, clock: Arc<dyn Clock>, retry_ms: i64) -> Self {
        Self {
            repo,
            clock,
            retry_ms,
        }
    }

    /// The log's position just after the event `id`.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming `param` for an event the app does not have (or no longer
    /// keeps); storage.
    pub async fn position(
        &self,
        app: &AppId,
        id: &str,
        param: &str,
    ) -> Result<LogPosition, ServiceError> {
        // No stored ID has control characters (and PostgreSQL cannot even compare U+0000).
        let known = if id.chars().any(char::is_control) {
            None
        } else {
            self.repo.event_position(app, id).await?
        };
        known.ok_or_else(|| {
            Invalid::field(
                InvalidCode::InvalidField,
                param,
                format!("`{id}` is no event of this app (or no longer kept)"),
            )
            .into()
        })
    }

    /// The app's newest event in the log's order, where a stream without a resume point starts.
    ///
    /// # Errors
    /// Storage.
    pub async fn latest(&self, app: &AppId) -> Result<Option<LogPosition>, ServiceError> {
        Ok(self.repo.latest_position(app).await?)
    }

    /// A page of the log, oldest first.
    ///
    /// # Errors
    /// Storage.
    pub async fn list(
        &self,
        app: &AppId,
        query: &EventQuery,
    ) -> Result<Vec<StoredEvent>, ServiceError> {
        Ok(self.repo.list_events(app, query).await?)
    }

    /// A page of the deliveries, newest event first.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming `startingAfter` for an unknown event; storage.
    pub async fn deliveries(
        &self,
        app: &AppId,
        status: Option<DeliveryStatus>,
        limit: usize,
        starting_after: Option<&str>,
    ) -> Result<Vec<Delivery>, ServiceError> {
        let after = match starting_after {
            Some(id) => Some(self.position(app, id, "startingAfter").await?.seq),
            None => None,
        };
        Ok(self.repo.list_deliveries(app, status, limit, after).await?)
    }

    /// Schedules the event's failed deliveries again, now, with a fresh retry window.
    ///
    /// # Errors
    /// `NotFound("event")`; storage.
    pub async fn retry(&self, app: &AppId, id: &str) -> Result<(), ServiceError> {
        let now = self.clock.now_ms();
        if !id.chars().any(char::is_control)
            && self
                .repo
                .retry_deliveries(app, id, now, now + self.retry_ms)
                .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound("event"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Access, Notify};
    use crate::ids::ConversationId;

    fn conv() -> Conversation {
        Conversation::new(ConversationId::new("c").unwrap(), 1)
    }

    fn uid(raw: &str) -> UserId {
        UserId::new(raw).unwrap()
    }

    fn kinds(changes: &[(EventType, EventData)]) -> Vec<&'static str> {
        changes.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn event_types_round_trip_and_talkjs_ones_are_the_default_subscription() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("message.nope"), None);
        let hook = Webhook::new("http://x", None);
        assert_eq!(hook.events.len(), 7);
        assert!(!hook.events.contains(&EventType::ConversationCreated));
    }

    #[test]
    fn which_conversation_change_produces_which_events() {
        let mut created = conv();
        created.join(&uid("a"), &Default::default(), 1);
        assert_eq!(
            kinds(&conversation_changes(None, &created)),
            ["conversation.created", "participant.joined"]
        );

        assert!(conversation_changes(Some(&created), &created).is_empty());

        let mut subject = created.clone();
        subject.subject = Some("s".into());
        assert_eq!(
            kinds(&conversation_changes(Some(&created), &subject)),
            ["conversation.updated"]
        );

        let mut changed = created.clone();
        changed.participants.get_mut(&uid("a")).unwrap().notify = Notify::Off;
        changed.join(&uid("b"), &Default::default(), 2);
        assert_eq!(
            kinds(&conversation_changes(Some(&created), &changed)),
            ["participant.updated", "participant.joined"]
        );

        let mut left = changed.clone();
        left.participants.remove(&uid("a"));
        let events = conversation_changes(Some(&changed), &left);
        assert_eq!(kinds(&events), ["participant.left"]);
        // The participant who left is shown as it was, the conversation after the change.
        match &events[0].1 {
            EventData::Participant {
                conversation,
                user_id,
                participant,
            } => {
                assert_eq!(user_id, &uid("a"));
                assert_eq!(participant.notify, Notify::Off);
                assert_eq!(participant.access, Access::ReadWrite);
                assert!(!conversation.participants.contains_key(&uid("a")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_user_write_is_created_then_updated_and_an_unchanged_one_is_nothing() {
        let user = User {
            id: uid("u"),
            name: "n".into(),
            email: None,
            phone: None,
            photo_url: None,
            welcome_message: None,
            role: None,
            locale: None,
            availability_text: None,
            custom: BTreeMap::new(),
            push_tokens: BTreeSet::new(),
            created_at: 1,
        };
        assert_eq!(
            user_change(None, &user).map(|c| c.0),
            Some(EventType::UserCreated)
        );
        assert_eq!(user_change(Some(&user), &user), None);
        let mut renamed = user.clone();
        renamed.name = "m".into();
        assert_eq!(
            user_change(Some(&user), &renamed).map(|c| c.0),
            Some(EventType::UserUpdated)
        );
    }

    #[test]
    fn retries_back_off_from_one_second_doubling_to_at_most_ten_minutes() {
        let until = 1_000_000_000;
        assert_eq!(next_attempt(1, 0, until), Some(1000));
        assert_eq!(next_attempt(2, 0, until), Some(2000));
        assert_eq!(next_attempt(5, 0, until), Some(16_000));
        assert_eq!(next_attempt(30, 0, until), Some(600_000));
        assert_eq!(next_attempt(1, 0, 999), None);
    }
}
