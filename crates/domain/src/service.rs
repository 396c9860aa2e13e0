//! Use cases for conversations: what the HTTP layer calls.

use std::sync::Arc;

use crate::clock::Clock;
use crate::conversation::{Conversation, ConversationPatch, Join, ParticipantPatch};
use crate::error::{Invalid, InvalidCode, Problems, RepositoryError, ServiceError};
use crate::events::{
    conversation_changes, user_change, EventData, EventRecorder, EventType, NewEvent, ReadLookup,
};
use std::collections::BTreeMap;

use crate::content::Block;
use crate::files::{resolve_files, FileRepository};
use crate::ids::{AppId, ConversationId, UserId};
use crate::import::{ImportItem, ImportRecord};
use crate::legacy::LegacyKey;
use crate::limits::Limits;
use crate::listing::{ConversationQuery, Cursor, Position, Resume, Walk};
use crate::message::{
    GivenContent, Message, MessageId, MessagePatch, MessageRecord, NewMessage, Origin,
    IDEMPOTENCY_WINDOW_MS,
};
use crate::ports::{
    ConversationRepository, CursorStore, MessageRepository, UserRepository, UserWrite,
};
use crate::user::{prefixed, User, UserPatch};

/// How often a PUT re-reads and retries after losing a race to a concurrent writer. Every lost
/// race means another writer committed, so the system as a whole always makes progress.
pub const MAX_WRITE_ATTEMPTS: usize = 100;

/// Reads, merges and deletes conversations.
#[derive(Clone)]
pub struct ConversationService {
    repo: Arc<dyn ConversationRepository>,
    cursors: Arc<dyn CursorStore>,
    /// Whether `cursors` is `repo` itself (PostgreSQL): then a page's end is remembered in the
    /// page's own read ([`ConversationRepository::list_remembering`]).
    cursors_in_repo: bool,
    clock: Arc<dyn Clock>,
    limits: Limits,
    events: Option<(EventRecorder, ReadLookup)>,
}

/// The encoded events of a change, or none when events are not recorded.
fn record(
    events: Option<&EventRecorder>,
    app: &AppId,
    changes: Vec<(EventType, EventData)>,
) -> Vec<NewEvent> {
    match events {
        Some(recorder) if !changes.is_empty() => recorder.record(app, changes),
        _ => Vec::new(),
    }
}

impl std::fmt::Debug for ConversationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationService")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ConversationService {
    pub fn new(
        repo: Arc<dyn ConversationRepository>,
        cursors: Arc<dyn CursorStore>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            cursors_in_repo: std::ptr::addr_eq(Arc::as_ptr(&repo), Arc::as_ptr(&cursors)),
            repo,
            cursors,
            clock,
            limits,
            events: None,
        }
    }

    /// Records the events of every write with `recorder`; `message.read` looks up with
    /// `lookup`.
    #[must_use]
    pub fn with_events(mut self, recorder: EventRecorder, lookup: ReadLookup) -> Self {
        self.events = Some((recorder, lookup));
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn committed(&self, events: &[NewEvent]) {
        if let Some((recorder, _)) = &self.events {
            recorder.committed(events);
        }
    }

    /// The encoded events of a conversation write.
    async fn changes(
        &self,
        app: &AppId,
        before: Option<&Conversation>,
        after: &Conversation,
    ) -> Result<Vec<NewEvent>, ServiceError> {
        let Some((recorder, lookup)) = &self.events else {
            return Ok(Vec::new());
        };
        let mut changes = conversation_changes(before, after);
        if let Some(before) = before {
            changes.extend(lookup.read_changes(app, before, after).await?);
        }
        Ok(record(Some(recorder), app, changes))
    }

    /// The conversation, or `NotFound`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or the repository's error.
    pub async fn get(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Conversation, ServiceError> {
        match self.repo.find(app, id).await? {
            Some(found) => Ok(found.value),
            None => Err(ServiceError::NotFound("conversation")),
        }
    }

    /// Creates the conversation or merges `patch` into it. Concurrent PUTs to one conversation
    /// all take effect: a write that lost a race re-reads and merges again.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a patch over the limits (nothing is written);
    /// [`ServiceError::Busy`] when every attempt lost a race; the repository's error otherwise.
    pub async fn put(
        &self,
        app: &AppId,
        id: &ConversationId,
        patch: &ConversationPatch,
    ) -> Result<(), ServiceError> {
        self.limits.check_patch(patch)?;
        self.modify(app, id, |current, now| {
            let mut next = current.unwrap_or_else(|| Conversation::new(id.clone(), now));
            next.apply(patch, now);
            Ok(Some(next))
        })
        .await
    }

    /// Reads, changes and writes back one conversation, re-reading after a lost race.
    /// `change` answers `Ok(None)` to write nothing.
    async fn modify<F>(
        &self,
        app: &AppId,
        id: &ConversationId,
        change: F,
    ) -> Result<(), ServiceError>
    where
        F: Fn(Option<Conversation>, i64) -> Result<Option<Conversation>, ServiceError>
            + Send
            + Sync,
    {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let now = self.clock.now_ms();
            let current = self.repo.find(app, id).await?;
            let next = change(current.as_ref().map(|c| c.value.clone()), now)?;
            let Some(next) = next else {
                return Ok(());
            };
            self.limits.check_conversation(&next)?;
            if current.as_ref().is_some_and(|c| c.value == next) {
                return Ok(());
            }
            let before = current.as_ref().map(|c| &c.value);
            let events = self.changes(app, before, &next).await?;
            let outcome = match &current {
                None => self.repo.insert_recording(app, &next, &events).await,
                Some(current) => {
                    self.repo
                        .update_recording(app, current, &next, &events)
                        .await
                }
            };
            match outcome {
                Ok(()) => {
                    self.committed(&events);
                    return Ok(());
                }
                Err(RepositoryError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    /// PUT on a legacy `participants=...` conversation: creates it with exactly the key's
    /// participants and topic when missing, then merges `patch` like a normal PUT.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub async fn put_legacy(
        &self,
        app: &AppId,
        key: &LegacyKey,
        patch: &ConversationPatch,
    ) -> Result<(), ServiceError> {
        self.limits.check_patch(patch)?;
        let id = key.conversation_id();
        self.modify(app, &id, |current, now| {
            let mut next = current.unwrap_or_else(|| {
                let mut created = Conversation::new(id.clone(), now);
                created.topic_id = key.topic.clone();
                for user in &key.participants {
                    created.join(user, &Join::default(), now);
                }
                created
            });
            next.apply(patch, now);
            Ok(Some(next))
        })
        .await
    }

    /// Joins `user` to the conversation, creating it when missing; always overwrites the
    /// participant's access and notify settings (absent ones take the defaults).
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] when the participant limit would be exceeded; `Busy`; storage.
    pub async fn join(
        &self,
        app: &AppId,
        id: &ConversationId,
        user: &UserId,
        join: &Join,
    ) -> Result<(), ServiceError> {
        self.modify(app, id, |current, now| {
            let mut next = current.unwrap_or_else(|| Conversation::new(id.clone(), now));
            next.join(user, join, now);
            Ok(Some(next))
        })
        .await
    }

    /// Changes only the given settings of a participant (access `None` included).
    ///
    /// # Errors
    /// `NotFound` when the conversation does not exist or `user` is not on record in it.
    pub async fn patch_participant(
        &self,
        app: &AppId,
        id: &ConversationId,
        user: &UserId,
        patch: &ParticipantPatch,
    ) -> Result<(), ServiceError> {
        self.modify(app, id, |current, _| {
            let mut next = current.ok_or(ServiceError::NotFound("conversation"))?;
            next.participants
                .get_mut(user)
                .ok_or(ServiceError::NotFound("participant"))?
                .apply(patch);
            Ok(Some(next))
        })
        .await
    }

    /// Removes `user` from the conversation.
    ///
    /// # Errors
    /// `NotFound` when the conversation does not exist or `user` is not on record in it.
    pub async fn leave(
        &self,
        app: &AppId,
        id: &ConversationId,
        user: &UserId,
    ) -> Result<(), ServiceError> {
        self.modify(app, id, |current, _| {
            let mut next = current.ok_or(ServiceError::NotFound("conversation"))?;
            next.participants
                .remove(user)
                .ok_or(ServiceError::NotFound("participant"))?;
            Ok(Some(next))
        })
        .await
    }

    /// Deletes the conversation with its participants (and, later, messages).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no such conversation; the repository's error.
    pub async fn delete(&self, app: &AppId, id: &ConversationId) -> Result<(), ServiceError> {
        let events = match &self.events {
            None => Vec::new(),
            Some((recorder, _)) => {
                let Some(found) = self.repo.find(app, id).await? else {
                    return Err(ServiceError::NotFound("conversation"));
                };
                recorder.record(
                    app,
                    vec![(
                        EventType::ConversationDeleted,
                        EventData::Conversation {
                            conversation: found.value,
                        },
                    )],
                )
            }
        };
        if self.repo.delete_recording(app, id, &events).await? {
            self.committed(&events);
            Ok(())
        } else {
            Err(ServiceError::NotFound("conversation"))
        }
    }

    /// What continuing a walk of list `list` after `id` needs: in one read from a store that
    /// keeps the cursors, otherwise asked port by port, stopping at the first thing that makes
    /// `id` no conversation of the list.
    async fn resume(
        &self,
        app: &AppId,
        id: &ConversationId,
        query: &ConversationQuery,
        list: &str,
    ) -> Result<Resume, ServiceError> {
        if self.cursors_in_repo {
            if let Some(resumed) = self.repo.resume(app, id, query, list).await? {
                return Ok(resumed);
            }
        }
        let mut resumed = Resume {
            standing: self.repo.standing(app, id).await?,
            access: None,
            cursor: None,
        };
        if let (Some(member), Some(_)) = (&query.member, &resumed.standing) {
            resumed.access = self
                .repo
                .participation(app, id, member)
                .await?
                .map(|p| p.access);
        }
        if resumed.is_of_list(query.member.is_some()) {
            resumed.cursor = self.cursors.recall(app, list, id).await;
        }
        Ok(resumed)
    }

    /// One page of the app's conversations. A walk with `startingAfter` continues from the
    /// snapshot and position where the page ending with that conversation was served, so
    /// conversations receiving messages meanwhile are neither repeated nor skipped.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming `startingAfter` when it is no conversation of this list;
    /// the repository's error.
    pub async fn list(
        &self,
        app: &AppId,
        query: &ConversationQuery,
    ) -> Result<Vec<Conversation>, ServiceError> {
        Ok(self.list_page(app, query).await?.0)
    }

    /// [`ConversationService::list`], with the unread message counts the store read with the
    /// page, if it did (see [`Page::unread_counts`]).
    async fn list_page(
        &self,
        app: &AppId,
        query: &ConversationQuery,
    ) -> Result<(Vec<Conversation>, Option<Vec<i64>>), ServiceError> {
        let list = query.list_key();
        let walk = match &query.starting_after {
            None => Walk {
                snapshot: None,
                after: None,
            },
            Some(id) => {
                let unknown = || {
                    Invalid::field(
                        InvalidCode::InvalidField,
                        "startingAfter",
                        format!("`{id}` is not a conversation of this list"),
                    )
                };
                let resumed = self.resume(app, id, query, &list).await?;
                let (Some(standing), true) =
                    (resumed.standing, resumed.is_of_list(query.member.is_some()))
                else {
                    return Err(unknown().into());
                };
                match resumed.cursor {
                    Some(cursor) => Walk {
                        snapshot: Some(cursor.snapshot),
                        after: Some(Position {
                            key: cursor.key,
                            id: id.clone(),
                        }),
                    },
                    None => {
                        if !query.matches(standing.last_message_at) {
                            return Err(unknown().into());
                        }
                        if let (Some(member), true) = (&query.member, query.unreads_only) {
                            let unread = self.repo.find(app, id).await?.is_some_and(|c| {
                                c.value
                                    .participants
                                    .get(member)
                                    .is_some_and(|p| c.value.is_unread(member, p))
                            });
                            if !unread {
                                return Err(unknown().into());
                            }
                        }
                        Walk {
                            snapshot: None,
                            after: Some(Position {
                                key: query.sort_key(standing.created_at, standing.last_message_at),
                                id: id.clone(),
                            }),
                        }
                    }
                }
            }
        };
        let page = if self.cursors_in_repo {
            self.repo.list_remembering(app, query, &walk, &list).await?
        } else {
            self.repo.list(app, query, &walk).await?
        }
        .ok_or(ServiceError::NotFound("user"))?;
        if let (Some((last, key)), false) = (page.items.last(), page.end_remembered) {
            let cursor = Cursor {
                key: *key,
                snapshot: page.snapshot,
            };
            self.cursors.remember(app, &list, &last.id, cursor).await;
        }
        Ok((
            page.items.into_iter().map(|(c, _)| c).collect(),
            page.unread_counts,
        ))
    }
}

/// Sends, reads, edits and deletes messages.
#[derive(Clone)]
pub struct MessageService {
    conversations: Arc<dyn ConversationRepository>,
    messages: Arc<dyn MessageRepository>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    /// The recorder, and where the senders of message events are looked up.
    events: Option<(EventRecorder, ReadLookup)>,
    /// Where file tokens are looked up; without it no file block resolves.
    files: Option<Arc<dyn FileRepository>>,
}

impl std::fmt::Debug for MessageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageService").finish_non_exhaustive()
    }
}

impl MessageService {
    pub fn new(
        conversations: Arc<dyn ConversationRepository>,
        messages: Arc<dyn MessageRepository>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            conversations,
            messages,
            clock,
            limits,
            events: None,
            files: None,
        }
    }

    /// Resolves the file tokens of messages with `files`.
    #[must_use]
    pub fn with_files(mut self, files: Arc<dyn FileRepository>) -> Self {
        self.files = Some(files);
        self
    }

    /// Fills in the file blocks of each item's content, naming unknown tokens.
    async fn resolve_contents<'a>(
        &self,
        app: &AppId,
        contents: impl Iterator<Item = (usize, &'a mut GivenContent)>,
        problems: &mut Problems,
    ) -> Result<(), ServiceError> {
        for (i, given) in contents {
            resolve_files(
                self.files.as_ref(),
                app,
                &format!("[{i}]."),
                given,
                problems,
            )
            .await?;
        }
        Ok(())
    }

    /// Records the events of every write with `recorder`; senders and what a send marks as
    /// read are looked up with `lookup`.
    #[must_use]
    pub fn with_events(mut self, recorder: EventRecorder, lookup: ReadLookup) -> Self {
        self.events = Some((recorder, lookup));
        self
    }

    fn committed<T>(&self, events: &[T]) {
        if let Some((recorder, _)) = &self.events {
            recorder.committed(events);
        }
    }

    /// `message.read` for each sender whose `readUntil` the send moves onto messages of others:
    /// stored ones, or ones earlier in the same request. Added to the events of the sender's
    /// last message, so they are stored only if that message is.
    async fn read_by_sending(
        &self,
        app: &AppId,
        before: &Conversation,
        after: &Conversation,
        records: &[MessageRecord],
        events: &mut [Vec<NewEvent>],
    ) -> Result<(), ServiceError> {
        let Some((recorder, lookup)) = &self.events else {
            return Ok(());
        };
        let mut senders: Vec<&UserId> = records
            .iter()
            .filter_map(|r| r.message.sender.as_ref())
            .collect();
        senders.sort();
        senders.dedup();
        for sender in senders {
            let (Some(old), Some(new)) = (
                before.participants.get(sender),
                after.participants.get(sender),
            ) else {
                continue;
            };
            let Some(last) = records
                .iter()
                .rposition(|r| r.message.sender.as_ref() == Some(sender))
            else {
                continue;
            };
            let earlier = records[..last].iter().rev().find(|r| {
                r.message.sender.as_ref() != Some(sender)
                    && r.message.created_at > old.read_mark
                    && r.message.created_at <= new.read_until
            });
            let change = match earlier {
                Some(r) => Some((
                    EventType::MessageRead,
                    EventData::Read {
                        conversation: after.clone(),
                        message: r.message.clone(),
                        recipient: lookup.person(app, sender).await?,
                    },
                )),
                None => {
                    lookup
                        .read_change(app, after, sender, old.read_mark, new.read_until)
                        .await?
                }
            };
            if let Some(change) = change {
                events[last].extend(recorder.record(app, vec![change]));
            }
        }
        Ok(())
    }

    /// A `message.*` event of `message` in `conversation`.
    async fn message_event(
        &self,
        app: &AppId,
        kind: EventType,
        conversation: Conversation,
        message: Message,
    ) -> Result<Vec<NewEvent>, ServiceError> {
        let Some((recorder, lookup)) = &self.events else {
            return Ok(Vec::new());
        };
        let sender = match &message.sender {
            None => None,
            Some(id) => Some(lookup.person(app, id).await?),
        };
        Ok(recorder.record(
            app,
            vec![(
                kind,
                EventData::Message {
                    conversation,
                    message,
                    sender,
                },
            )],
        ))
    }

    async fn conversation(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Conversation, ServiceError> {
        match self.conversations.find(app, id).await? {
            Some(found) => Ok(found.value),
            None => Err(ServiceError::NotFound("conversation")),
        }
    }

    /// Sends 1 to `messages_per_request` messages, all or nothing, and answers their IDs in
    /// input order. An item whose idempotency key was used in this conversation within 24 hours
    /// answers the first call's ID and stores nothing.
    ///
    /// # Errors
    /// `NotFound("conversation")`; [`ServiceError::Invalid`] with reasons keyed by item index;
    /// `Busy`; the repository's error.
    pub async fn send(
        &self,
        app: &AppId,
        conversation_id: &ConversationId,
        mut items: Vec<NewMessage>,
    ) -> Result<Vec<MessageId>, ServiceError> {
        let mut file_problems = Problems::default();
        let given = items
            .iter_mut()
            .enumerate()
            .filter_map(|(i, item)| item.content.as_mut().map(|c| (i, c)));
        self.resolve_contents(app, given, &mut file_problems)
            .await?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            // Checked against a fresh read on every attempt: the adapter re-checks senders and
            // references inside its transaction and reports a conflict when they changed.
            let conversation = self.conversation(app, conversation_id).await?;
            let mut problems = Problems::default();
            if !file_problems.is_empty() {
                problems.absorb(file_problems.clone().finish().unwrap_err());
            }
            if let Err(invalid) = self.limits.check_send(&conversation, &items) {
                problems.absorb(invalid);
            }
            for (i, item) in items.iter().enumerate() {
                if let Some(referenced) = &item.referenced_message_id {
                    if self
                        .messages
                        .find_message(app, conversation_id, referenced)
                        .await?
                        .is_none()
                    {
                        problems.invalid(
                            format!("[{i}].referencedMessageId"),
                            format!("`{referenced}` is no message of this conversation"),
                        );
                    }
                }
            }
            problems.finish()?;
            let now = self.clock.now_ms();
            let records: Vec<MessageRecord> = items
                .iter()
                .cloned()
                .map(|item| MessageRecord {
                    message: Message {
                        id: MessageId::generate(),
                        conversation_id: conversation_id.clone(),
                        kind: item.kind,
                        sender: item.sender.clone(),
                        content: item.blocks(),
                        text: item.text,
                        custom: item.custom,
                        created_at: now,
                        edited_at: None,
                        referenced_message_id: item.referenced_message_id,
                        origin: Origin::Rest,
                        reactions: BTreeMap::new(),
                    },
                    idempotency_key: item.idempotency_key,
                })
                .collect();
            let mut events = Vec::with_capacity(records.len());
            let mut after = conversation.clone();
            for record in &records {
                let message = &record.message;
                after.last_message = Some(message.clone());
                if let Some(p) = message
                    .sender
                    .as_ref()
                    .and_then(|s| after.participants.get_mut(s))
                {
                    p.read_until = p.read_until.max(message.created_at);
                    p.read_mark = p.read_mark.max(message.created_at);
                }
                events.push(
                    self.message_event(app, EventType::MessageSent, after.clone(), message.clone())
                        .await?,
                );
            }
            self.read_by_sending(app, &conversation, &after, &records, &mut events)
                .await?;
            match self
                .messages
                .insert_messages_recording(
                    app,
                    conversation_id,
                    &records,
                    now - IDEMPOTENCY_WINDOW_MS,
                    &events,
                )
                .await
            {
                Ok(Some(ids)) => {
                    self.committed(&events);
                    return Ok(ids);
                }
                Ok(None) => return Err(ServiceError::NotFound("conversation")),
                Err(RepositoryError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    /// Imports 1 to `messages_per_import` messages with their original times, all or nothing,
    /// and answers their IDs in input order. An item whose idempotency key was imported into
    /// this conversation before (or sent within 24 hours) answers that ID and stores nothing.
    /// Imports produce no events.
    ///
    /// # Errors
    /// `NotFound("conversation")`; [`ServiceError::Invalid`] with reasons keyed by item index;
    /// `Busy`; the repository's error.
    pub async fn import(
        &self,
        app: &AppId,
        conversation_id: &ConversationId,
        mut items: Vec<ImportItem>,
    ) -> Result<Vec<MessageId>, ServiceError> {
        let mut file_problems = Problems::default();
        let given = items
            .iter_mut()
            .enumerate()
            .filter_map(|(i, item)| item.content.as_mut().map(|c| (i, c)));
        self.resolve_contents(app, given, &mut file_problems)
            .await?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let conversation = self.conversation(app, conversation_id).await?;
            let mut problems = file_problems.clone();
            if let Err(invalid) =
                self.limits
                    .check_import(&conversation, &items, self.clock.now_ms())
            {
                problems.absorb(invalid);
            }
            problems.finish()?;
            let records: Vec<ImportRecord> = items
                .iter()
                .cloned()
                .map(|item| ImportRecord {
                    record: MessageRecord {
                        message: Message {
                            id: MessageId::generate(),
                            conversation_id: conversation_id.clone(),
                            kind: item.kind,
                            sender: item.sender,
                            content: match item.content {
                                Some(given) => given.blocks,
                                None => vec![Block::plain(item.text.clone())],
                            },
                            text: item.text,
                            custom: item.custom,
                            created_at: item.created_at,
                            edited_at: None,
                            referenced_message_id: None,
                            origin: Origin::Import,
                            reactions: BTreeMap::new(),
                        },
                        idempotency_key: item.idempotency_key,
                    },
                    read_by: item.read_by,
                })
                .collect();
            let since = self.clock.now_ms() - IDEMPOTENCY_WINDOW_MS;
            match self
                .messages
                .import_messages(app, conversation_id, &records, since)
                .await
            {
                Ok(Some(ids)) => return Ok(ids),
                Ok(None) => return Err(ServiceError::NotFound("conversation")),
                Err(RepositoryError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    /// A page of messages, newest first, with the conversation they belong to (for `readBy`).
    ///
    /// # Errors
    /// `NotFound("conversation")`; [`ServiceError::Invalid`] naming `startingAfter` when it is
    /// no message of this conversation; the repository's error.
    pub async fn list(
        &self,
        app: &AppId,
        conversation_id: &ConversationId,
        limit: usize,
        starting_after: Option<MessageId>,
    ) -> Result<(Conversation, Vec<Message>), ServiceError> {
        let conversation = self.conversation(app, conversation_id).await?;
        let shown = starting_after.as_ref().map(ToString::to_string);
        match self
            .messages
            .list_messages(app, conversation_id, limit, starting_after)
            .await?
        {
            Some(messages) => Ok((conversation, messages)),
            None => Err(Invalid::field(
                InvalidCode::InvalidField,
                "startingAfter",
                format!(
                    "`{}` is no message of this conversation",
                    shown.unwrap_or_default()
                ),
            )
            .into()),
        }
    }

    /// One message with its conversation.
    ///
    /// # Errors
    /// `NotFound("conversation")` or `NotFound("message")`; the repository's error.
    pub async fn get(
        &self,
        app: &AppId,
        conversation_id: &ConversationId,
        id: &MessageId,
    ) -> Result<(Conversation, Message), ServiceError> {
        let conversation = self.conversation(app, conversation_id).await?;
        match self.messages.find_message(app, conversation_id, id).await? {
            Some(found) => Ok((conversation, found.value)),
            None => Err(ServiceError::NotFound("message")),
        }
    }

    /// Edits a message: `text` replaces, `custom` merges, `editedAt` is set. Concurrent edits
    /// all take effect.
    ///
    /// # Errors
    /// `NotFound`; [`ServiceError::Invalid`]; `Busy`; the repository's error.
    pub async fn edit(
        &self,
        app: &AppId,
        conversation_id: &ConversationId,
        id: &MessageId,
        patch: &MessagePatch,
    ) -> Result<(), ServiceError> {
        self.limits.check_message_patch(patch)?;
        let mut patch = patch.clone();
        if let Some(given) = patch.content.as_mut() {
            let mut problems = Problems::default();
            resolve_files(self.files.as_ref(), app, "", given, &mut problems).await?;
            problems.finish()?;
        }
        let patch = &patch;
        let conversation = self.conversation(app, conversation_id).await?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self
                .messages
                .find_message(app, conversation_id, id)
                .await?
                .ok_or(ServiceError::NotFound("message"))?;
            let mut next = current.value.clone();
            next.apply(patch, self.clock.now_ms());
            self.limits.check_message(&next)?;
            let mut shown = conversation.clone();
            if shown.last_message.as_ref().is_some_and(|m| m.id == next.id) {
                shown.last_message = Some(next.clone());
            }
            let events = self
                .message_event(app, EventType::MessageUpdated, shown, next.clone())
                .await?;
            match self
                .messages
                .update_message_recording(app, &current, &next, &events)
                .await
            {
                Ok(()) => {
                    self.committed(&events);
                    return Ok(());
                }
                Err(RepositoryError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    /// Deletes a message.
    ///
    /// # Errors
    /// `NotFound`; the repository's error.
    pub async fn delete(
        &self,
        app: &AppId,
        conversation_id: &ConversationId,
        id: &MessageId,
    ) -> Result<(), ServiceError> {
        let conversation = self.conversation(app, conversation_id).await?;
        let events = if self.events.is_some() {
            let Some(found) = self.messages.find_message(app, conversation_id, id).await? else {
                return Err(ServiceError::NotFound("message"));
            };
            let mut after = conversation;
            if after.last_message.as_ref().is_some_and(|m| &m.id == id) {
                let newest = self
                    .messages
                    .list_messages(app, conversation_id, 2, None)
                    .await?
                    .unwrap_or_default();
                after.last_message = newest.into_iter().find(|m| &m.id != id);
            }
            self.message_event(app, EventType::MessageDeleted, after, found.value)
                .await?
        } else {
            Vec::new()
        };
        if self
            .messages
            .delete_message_recording(app, conversation_id, id, &events)
            .await?
        {
            self.committed(&events);
            Ok(())
        } else {
            Err(ServiceError::NotFound("message"))
        }
    }
}

/// One of a user's conversations, with that user's unread state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConversation {
    pub conversation: Conversation,
    pub is_unread: bool,
    pub unread_message_count: i64,
}

/// Creates, merges, reads and lists users, and lists a user's conversations.
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
    messages: Arc<dyn MessageRepository>,
    conversations: ConversationService,
    clock: Arc<dyn Clock>,
    limits: Limits,
    events: Option<EventRecorder>,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

impl UserService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        messages: Arc<dyn MessageRepository>,
        conversations: ConversationService,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            users,
            messages,
            conversations,
            clock,
            limits,
            events: None,
        }
    }

    /// Records the events of every write with `recorder`.
    #[must_use]
    pub fn with_events(mut self, recorder: EventRecorder) -> Self {
        self.events = Some(recorder);
        self
    }

    /// Creates or merges one user.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming the bad fields; `Busy`; storage.
    pub async fn put(
        &self,
        app: &AppId,
        id: &UserId,
        patch: &UserPatch,
    ) -> Result<(), ServiceError> {
        self.write(app, &[(id.clone(), patch.clone())], false).await
    }

    /// Creates or merges up to `users_per_batch` users, all or nothing.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with reasons keyed by user ID (`u1.name`); `Busy`; storage.
    pub async fn put_batch(
        &self,
        app: &AppId,
        items: &[(UserId, UserPatch)],
    ) -> Result<(), ServiceError> {
        if items.len() > self.limits.users_per_batch {
            let mut problems = Problems::default();
            problems.over_limit(
                "(body)",
                format!("at most {} users per request", self.limits.users_per_batch),
            );
            problems.finish()?;
        }
        self.write(app, items, true).await
    }

    async fn write(
        &self,
        app: &AppId,
        items: &[(UserId, UserPatch)],
        batch: bool,
    ) -> Result<(), ServiceError> {
        let name = |invalid, id: &UserId| {
            if batch {
                prefixed(invalid, id.as_str())
            } else {
                invalid
            }
        };
        let mut problems = Problems::default();
        for (id, patch) in items {
            if let Err(invalid) = self.limits.check_user_patch(patch) {
                problems.absorb(name(invalid, id));
            }
        }
        problems.finish()?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let now = self.clock.now_ms();
            let mut problems = Problems::default();
            let mut writes = Vec::with_capacity(items.len());
            let mut changes = Vec::new();
            for (id, patch) in items {
                let current = self.users.find_user(app, id).await?;
                let merged = match &current {
                    None => User::create(id.clone(), patch, now),
                    Some(found) => {
                        let mut next = found.value.clone();
                        next.apply(patch).map(|()| next)
                    }
                };
                let checked = merged.and_then(|user| self.limits.check_user(&user).map(|()| user));
                match checked {
                    Ok(user) if current.as_ref().is_some_and(|c| c.value == user) => {}
                    Ok(user) => {
                        changes.extend(user_change(current.as_ref().map(|c| &c.value), &user));
                        writes.push(UserWrite {
                            expected_version: current.map(|c| c.version),
                            user,
                        });
                    }
                    Err(invalid) => problems.absorb(name(invalid, id)),
                }
            }
            problems.finish()?;
            if writes.is_empty() {
                return Ok(());
            }
            let events = record(self.events.as_ref(), app, changes);
            match self.users.save_users_recording(app, &writes, &events).await {
                Ok(()) => {
                    if let Some(recorder) = &self.events {
                        recorder.committed(&events);
                    }
                    return Ok(());
                }
                Err(RepositoryError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    /// The user, or `NotFound("user")`.
    ///
    /// # Errors
    /// `NotFound`; storage.
    pub async fn get(&self, app: &AppId, id: &UserId) -> Result<User, ServiceError> {
        match self.users.find_user(app, id).await? {
            Some(found) => Ok(found.value),
            None => Err(ServiceError::NotFound("user")),
        }
    }

    /// A page of the app's users in ID order.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming `startingAfter` when it is no user of the app; storage.
    pub async fn list(
        &self,
        app: &AppId,
        limit: usize,
        starting_after: Option<UserId>,
    ) -> Result<Vec<User>, ServiceError> {
        let shown = starting_after.as_ref().map(ToString::to_string);
        match self.users.list_users(app, limit, starting_after).await? {
            Some(users) => Ok(users),
            None => Err(Invalid::field(
                InvalidCode::InvalidField,
                "startingAfter",
                format!("`{}` is no user of this app", shown.unwrap_or_default()),
            )
            .into()),
        }
    }

    /// A page of `user`'s conversations (not those they left, nor those where their access is
    /// `None`), each with their unread state; the listing rules are those of the app-wide list.
    ///
    /// # Errors
    /// `NotFound("user")` for an unknown user; as [`ConversationService::list`].
    pub async fn conversations(
        &self,
        app: &AppId,
        user: &UserId,
        query: &ConversationQuery,
    ) -> Result<Vec<UserConversation>, ServiceError> {
        let query = ConversationQuery {
            member: Some(user.clone()),
            ..query.clone()
        };
        // The page's read checks that the user exists. A cursor that is none of theirs is
        // refused before that read, so an unknown user is told apart then: a 404 whatever the
        // cursor, without a lookup for every page.
        let (page, counted_with_page) = match self.conversations.list_page(app, &query).await {
            Err(ServiceError::Invalid(_))
                if query.starting_after.is_some()
                    && self.users.find_user(app, user).await?.is_none() =>
            {
                return Err(ServiceError::NotFound("user"));
            }
            page => page?,
        };
        let unread: Vec<bool> = page
            .iter()
            .map(|c| {
                c.participants
                    .get(user)
                    .is_some_and(|p| c.is_unread(user, p))
            })
            .collect();
        if let Some(counts) = counted_with_page.filter(|counts| counts.len() == page.len()) {
            return Ok(page
                .into_iter()
                .zip(unread)
                .zip(counts)
                .map(|((conversation, is_unread), count)| UserConversation {
                    conversation,
                    is_unread,
                    unread_message_count: count,
                })
                .collect());
        }
        // Only conversations whose newest message (by time) is newer than readUntil have
        // anything to count. That is the unread ones, and, after an import, those whose newest
        // message is the user's own (an import does not move its sender's readUntil).
        let read_until =
            |c: &Conversation| c.participants.get(user).map_or(i64::MAX, |p| p.read_until);
        let counted: Vec<bool> = page
            .iter()
            .map(|c| {
                c.last_message
                    .as_ref()
                    .is_some_and(|m| m.created_at > read_until(c))
            })
            .collect();
        let reads: Vec<(ConversationId, i64)> = page
            .iter()
            .zip(&counted)
            .filter(|(_, counted)| **counted)
            .map(|(c, _)| (c.id.clone(), read_until(c)))
            .collect();
        let mut counts = self
            .messages
            .unread_counts(app, user, &reads)
            .await?
            .into_iter();
        Ok(page
            .into_iter()
            .zip(unread)
            .zip(counted)
            .map(|((conversation, is_unread), counted)| UserConversation {
                conversation,
                is_unread,
                unread_message_count: if counted {
                    counts.next().unwrap_or(0)
                } else {
                    0
                },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{CustomPatch, Field, Participant};
    use crate::error::InvalidCode;
    use crate::ids::UserId;
    use crate::listing::Page;
    use crate::ports::{MockConversationRepository, MockCursorStore, Versioned};
    use mockall::predicate::always;
    use mockall::Sequence;
    use std::collections::BTreeMap;

    struct FixedClock(i64);
    impl Clock for FixedClock {
        fn now_ms(&self) -> i64 {
            self.0
        }
    }

    fn app() -> AppId {
        AppId::new("app").unwrap()
    }
    fn cid() -> ConversationId {
        ConversationId::new("c1").unwrap()
    }
    fn uid(raw: &str) -> UserId {
        UserId::new(raw).unwrap()
    }

    fn service(repo: MockConversationRepository) -> ConversationService {
        ConversationService::new(
            Arc::new(repo),
            Arc::new(MockCursorStore::new()),
            Arc::new(FixedClock(42)),
            Limits::default(),
        )
    }

    fn stored(version: i64, users: &[&str]) -> Versioned<Conversation> {
        let mut c = Conversation::new(cid(), 7);
        for u in users {
            c.participants.insert(uid(u), Participant::joined(0));
        }
        Versioned { value: c, version }
    }

    fn add(user: &str) -> ConversationPatch {
        ConversationPatch {
            participants: vec![uid(user)],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn put_creates_a_missing_conversation_with_the_clock_time() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().times(1).returning(|_, _| Ok(None));
        repo.expect_insert_recording()
            .withf(|app, c, _| {
                app.as_str() == "app"
                    && c.created_at == 42
                    && c.participants.contains_key(&uid("u1"))
                    && c.subject.as_deref() == Some("hi")
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let patch = ConversationPatch {
            subject: Field::Set("hi".into()),
            ..add("u1")
        };
        service(repo).put(&app(), &cid(), &patch).await.unwrap();
    }

    #[tokio::test]
    async fn put_merges_into_the_version_it_read() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find()
            .returning(|_, _| Ok(Some(stored(3, &["u1"]))));
        repo.expect_update_recording()
            .withf(|_, before, after, _| {
                before.version == 3
                    && after.created_at == 7
                    && after.participants.len() == 2
                    && after.participants.contains_key(&uid("u1"))
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        service(repo).put(&app(), &cid(), &add("u2")).await.unwrap();
    }

    #[tokio::test]
    async fn put_rereads_and_merges_again_after_a_conflict() {
        let mut repo = MockConversationRepository::new();
        let mut seq = Sequence::new();
        repo.expect_find()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(Some(stored(1, &["u1"]))));
        repo.expect_update_recording()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Err(RepositoryError::Conflict));
        // Meanwhile someone else added u9: the retry must keep it.
        repo.expect_find()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(Some(stored(2, &["u1", "u9"]))));
        repo.expect_update_recording()
            .withf(|_, before, after, _| {
                before.version == 2
                    && after.participants.contains_key(&uid("u9"))
                    && after.participants.contains_key(&uid("u2"))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        service(repo).put(&app(), &cid(), &add("u2")).await.unwrap();
    }

    #[tokio::test]
    async fn a_lost_create_race_becomes_a_merge() {
        let mut repo = MockConversationRepository::new();
        let mut seq = Sequence::new();
        repo.expect_find()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(None));
        repo.expect_insert_recording()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Err(RepositoryError::Conflict));
        repo.expect_find()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(Some(stored(1, &["other"]))));
        repo.expect_update_recording()
            .withf(|_, _, after, _| after.participants.len() == 2)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        service(repo).put(&app(), &cid(), &add("u2")).await.unwrap();
    }

    #[tokio::test]
    async fn put_gives_up_with_busy_after_bounded_attempts() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find()
            .times(MAX_WRITE_ATTEMPTS)
            .returning(|_, _| Ok(Some(stored(1, &[]))));
        repo.expect_update_recording()
            .times(MAX_WRITE_ATTEMPTS)
            .returning(|_, _, _, _| Err(RepositoryError::Conflict));
        let err = service(repo)
            .put(&app(), &cid(), &add("u"))
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Busy), "{err:?}");
    }

    #[tokio::test]
    async fn put_does_not_retry_when_storage_is_unavailable() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().times(1).returning(|_, _| Ok(None));
        repo.expect_insert_recording()
            .times(1)
            .returning(|_, _, _| Err(RepositoryError::Unavailable("down".into())));
        let err = service(repo)
            .put(&app(), &cid(), &add("u"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::Repository(RepositoryError::Unavailable(_))
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn put_over_a_limit_writes_nothing() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().times(0);
        repo.expect_insert_recording().times(0);
        let patch = ConversationPatch {
            subject: Field::Set("s".repeat(10_001)),
            ..Default::default()
        };
        let err = service(repo).put(&app(), &cid(), &patch).await.unwrap_err();
        match err {
            ServiceError::Invalid(invalid) => {
                assert_eq!(invalid.code, InvalidCode::LimitExceeded);
                assert!(invalid.reasons.contains_key("subject"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn put_that_would_exceed_the_participant_limit_writes_nothing() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().returning(|_, _| {
            let names: Vec<String> = (0..300).map(|i| format!("u{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            Ok(Some(stored(1, &refs)))
        });
        repo.expect_update_recording().times(0);
        let err = service(repo)
            .put(&app(), &cid(), &add("one-too-many"))
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
    }

    #[tokio::test]
    async fn put_that_changes_nothing_does_not_write() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find()
            .returning(|_, _| Ok(Some(stored(1, &["u1"]))));
        repo.expect_update_recording().times(0);
        let patch = ConversationPatch {
            custom: Some(CustomPatch::Merge(BTreeMap::new())),
            ..add("u1")
        };
        service(repo).put(&app(), &cid(), &patch).await.unwrap();
    }

    #[tokio::test]
    async fn get_and_delete_report_missing_conversations() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().returning(|_, _| Ok(None));
        repo.expect_delete_recording()
            .with(always(), always(), always())
            .returning(|_, _, _| Ok(false));
        let svc = service(repo);
        assert!(matches!(
            svc.get(&app(), &cid()).await,
            Err(ServiceError::NotFound("conversation"))
        ));
        assert!(matches!(
            svc.delete(&app(), &cid()).await,
            Err(ServiceError::NotFound("conversation"))
        ));
    }

    mod listing {
        use super::*;
        use crate::listing::Standing;
        use crate::ports::MockCursorStore;

        fn listing_service(
            repo: MockConversationRepository,
            cursors: MockCursorStore,
        ) -> ConversationService {
            ConversationService::new(
                Arc::new(repo),
                Arc::new(cursors),
                Arc::new(FixedClock(42)),
                Limits::default(),
            )
        }

        fn query_after(id: &str) -> ConversationQuery {
            ConversationQuery {
                starting_after: Some(ConversationId::new(id).unwrap()),
                ..Default::default()
            }
        }

        #[tokio::test]
        async fn a_first_page_starts_a_walk_at_the_current_snapshot_and_remembers_its_end() {
            let mut repo = MockConversationRepository::new();
            repo.expect_snapshot().times(0);
            repo.expect_list()
                .withf(|_, _, walk| walk.snapshot.is_none() && walk.after.is_none())
                .returning(|_, _, _| {
                    Ok(Some(Page {
                        snapshot: crate::Snapshot::counter(77),
                        items: vec![(stored(1, &[]).value, 500)],
                        unread_counts: None,
                        end_remembered: false,
                    }))
                });
            let mut cursors = MockCursorStore::new();
            cursors
                .expect_remember()
                .withf(|_, _, last, cursor| {
                    last.as_str() == "c1"
                        && *cursor
                            == Cursor {
                                key: 500,
                                snapshot: crate::Snapshot::counter(77),
                            }
                })
                .times(1)
                .return_const(());
            let page = listing_service(repo, cursors)
                .list(&app(), &ConversationQuery::default())
                .await
                .unwrap();
            assert_eq!(page.len(), 1);
        }

        #[tokio::test]
        async fn a_remembered_cursor_continues_its_walk_at_its_snapshot_and_position() {
            let mut repo = MockConversationRepository::new();
            repo.expect_standing().returning(|_, _| {
                Ok(Some(Standing {
                    created_at: 1,
                    last_message_at: Some(999),
                }))
            });
            repo.expect_snapshot().times(0);
            repo.expect_list()
                .withf(|_, _, walk| {
                    walk.snapshot == Some(crate::Snapshot::counter(5))
                        && walk.after.as_ref().is_some_and(|p| p.key == 300)
                })
                .times(1)
                .returning(|_, _, _| {
                    Ok(Some(Page {
                        snapshot: crate::Snapshot::counter(5),
                        items: vec![],
                        unread_counts: None,
                        end_remembered: false,
                    }))
                });
            let mut cursors = MockCursorStore::new();
            cursors.expect_recall().returning(|_, _, _| {
                Some(Cursor {
                    key: 300,
                    snapshot: crate::Snapshot::counter(5),
                })
            });
            listing_service(repo, cursors)
                .list(&app(), &query_after("c1"))
                .await
                .unwrap();
        }

        #[tokio::test]
        async fn an_unknown_starting_after_is_refused_by_name() {
            let mut repo = MockConversationRepository::new();
            repo.expect_standing().returning(|_, _| Ok(None));
            repo.expect_list().times(0);
            let err = listing_service(repo, MockCursorStore::new())
                .list(&app(), &query_after("gone"))
                .await
                .unwrap_err();
            match err {
                ServiceError::Invalid(i) => assert!(i.reasons.contains_key("startingAfter")),
                other => panic!("{other:?}"),
            }
        }

        #[tokio::test]
        async fn a_starting_after_outside_the_filtered_list_is_refused() {
            let mut repo = MockConversationRepository::new();
            repo.expect_standing().returning(|_, _| {
                Ok(Some(Standing {
                    created_at: 1,
                    last_message_at: None,
                }))
            });
            repo.expect_list().times(0);
            let mut cursors = MockCursorStore::new();
            cursors.expect_recall().returning(|_, _, _| None);
            let query = ConversationQuery {
                last_message_after: Some(0),
                ..query_after("c1")
            };
            let err = listing_service(repo, cursors)
                .list(&app(), &query)
                .await
                .unwrap_err();
            assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
        }
    }

    mod messages {
        use super::*;
        use crate::message::{MessageKind, NewMessage};
        use crate::ports::MockMessageRepository;

        fn message_service(
            repo: MockConversationRepository,
            messages: MockMessageRepository,
        ) -> MessageService {
            MessageService::new(
                Arc::new(repo),
                Arc::new(messages),
                Arc::new(FixedClock(1_000)),
                Limits::default(),
            )
        }

        fn from(sender: &str) -> NewMessage {
            NewMessage {
                content: None,
                kind: MessageKind::User,
                sender: Some(uid(sender)),
                text: "hello".into(),
                custom: BTreeMap::new(),
                referenced_message_id: None,
                idempotency_key: Some("k".into()),
            }
        }

        #[tokio::test]
        async fn sending_to_a_missing_conversation_is_not_found_and_stores_nothing() {
            let mut repo = MockConversationRepository::new();
            repo.expect_find().returning(|_, _| Ok(None));
            let mut messages = MockMessageRepository::new();
            messages.expect_insert_messages_recording().times(0);
            let err = message_service(repo, messages)
                .send(&app(), &cid(), vec![from("u1")])
                .await
                .unwrap_err();
            assert!(
                matches!(err, ServiceError::NotFound("conversation")),
                "{err:?}"
            );
        }

        #[tokio::test]
        async fn a_send_stores_records_with_the_clock_time_and_a_24_hour_idempotency_window() {
            let mut repo = MockConversationRepository::new();
            repo.expect_find()
                .returning(|_, _| Ok(Some(stored(1, &["u1"]))));
            let mut messages = MockMessageRepository::new();
            messages
                .expect_insert_messages_recording()
                .withf(|_, _, records, since, _| {
                    records.len() == 1
                        && records[0].message.created_at == 1_000
                        && records[0].message.id.as_str().starts_with("msg_")
                        && records[0].idempotency_key.as_deref() == Some("k")
                        && *since == 1_000 - 24 * 60 * 60 * 1000
                })
                .times(1)
                .returning(|_, _, records, _, _| Ok(Some(vec![records[0].message.id.clone()])));
            let ids = message_service(repo, messages)
                .send(&app(), &cid(), vec![from("u1")])
                .await
                .unwrap();
            assert_eq!(ids.len(), 1);
        }

        #[tokio::test]
        async fn a_send_that_loses_a_race_is_retried() {
            let mut repo = MockConversationRepository::new();
            repo.expect_find()
                .returning(|_, _| Ok(Some(stored(1, &["u1"]))));
            let mut messages = MockMessageRepository::new();
            let mut seq = Sequence::new();
            messages
                .expect_insert_messages_recording()
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _, _, _, _| Err(RepositoryError::Conflict));
            messages
                .expect_insert_messages_recording()
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _, records, _, _| Ok(Some(vec![records[0].message.id.clone()])));
            message_service(repo, messages)
                .send(&app(), &cid(), vec![from("u1")])
                .await
                .unwrap();
        }

        #[tokio::test]
        async fn a_reference_to_a_message_elsewhere_is_refused_by_index() {
            let mut repo = MockConversationRepository::new();
            repo.expect_find()
                .returning(|_, _| Ok(Some(stored(1, &["u1"]))));
            let mut messages = MockMessageRepository::new();
            messages.expect_find_message().returning(|_, _, _| Ok(None));
            messages.expect_insert_messages_recording().times(0);
            let mut item = from("u1");
            item.referenced_message_id = Some(MessageId::new("msg_elsewhere").unwrap());
            let err = message_service(repo, messages)
                .send(&app(), &cid(), vec![from("u1"), item])
                .await
                .unwrap_err();
            match err {
                ServiceError::Invalid(i) => {
                    assert!(i.reasons.contains_key("[1].referencedMessageId"), "{i:?}")
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
