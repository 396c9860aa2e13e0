//! The in-memory storage adapter: for tests, demos and `database.url = "memory://"`.
//! Same contract as the durable adapters; nothing survives a restart.

mod archive;
mod cursors;
mod events;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use parley_domain::events::{
    AttemptOutcome, ClaimedDelivery, Delivery, DeliveryStatus, EventQuery, EventRepository,
    LogPosition, NewEvent, StoredEvent,
};
use parley_domain::reactions::{Added, Emoji, ReactionRepository};
use parley_domain::{
    Access, AppId, AppRepository, Conversation, ConversationId, ConversationQuery,
    ConversationRepository, Direction, ImportRecord, Message, MessageId, MessageRecord,
    MessageRepository, Page, Participant, RepositoryError, SecretKey, Snapshot, Standing, User,
    UserId, UserRepository, UserWrite, Versioned, Walk,
};

pub use cursors::MemoryCursorStore;

type Key = (AppId, ConversationId);

#[derive(Debug, Clone)]
struct Stored {
    seq: i64,
    version: i64,
    message: Message,
    /// Set when deleted: the message stays as a tombstone so that running listing walks can
    /// still place its conversation as of their snapshot.
    deleted_seq: Option<i64>,
}

impl Stored {
    fn live(&self) -> bool {
        self.deleted_seq.is_none()
    }

    fn existed_at(&self, snapshot: &Snapshot) -> bool {
        snapshot.sees(self.seq) && self.deleted_seq.is_none_or(|d| !snapshot.sees(d))
    }
}

#[derive(Debug, Default)]
struct Data {
    /// Conversations without their last message (that is derived from `messages`).
    conversations: HashMap<Key, Versioned<Conversation>>,
    /// Each conversation's messages in their order (`created_at`, then storage order),
    /// tombstones included.
    messages: HashMap<Key, Vec<Stored>>,
    /// Idempotency keys: the ID they answered, when, and whether kept without expiry (imports).
    idempotency: HashMap<(AppId, ConversationId, String), (MessageId, i64, bool)>,
    seq: i64,
    apps: HashMap<AppId, SecretKey>,
    users: HashMap<(AppId, UserId), Versioned<User>>,
    outbox: events::Outbox,
    /// Records of uploaded files by token.
    files: HashMap<String, parley_domain::files::StoredFile>,
    /// Reactions: (app, message, emoji, user) to when.
    reactions: std::collections::BTreeMap<(AppId, MessageId, String, UserId), i64>,
}

impl Data {
    /// Stores a message in its place by time (after every message of the same time, since its
    /// seq is the newest).
    fn place(&mut self, key: &Key, stored: Stored) {
        let all = self.messages.entry(key.clone()).or_default();
        let at = all.partition_point(|s| s.message.created_at <= stored.message.created_at);
        all.insert(at, stored);
    }

    /// Stores a new message, numbered next, in its place by time.
    fn store_new(&mut self, key: &Key, message: Message) {
        self.seq += 1;
        let stored = Stored {
            seq: self.seq,
            version: 1,
            message,
            deleted_seq: None,
        };
        self.place(key, stored);
    }

    /// The ID an idempotency key answers, if it is still remembered.
    fn remembered(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        key: &str,
        since: i64,
    ) -> Option<MessageId> {
        let ikey = (app.clone(), conversation.clone(), key.to_owned());
        self.idempotency
            .get(&ikey)
            .filter(|(_, at, permanent)| *permanent || *at >= since)
            .map(|(id, _, _)| id.clone())
    }

    fn current(&self, key: &Key) -> Option<Versioned<Conversation>> {
        let mut found = self.conversations.get(key)?.clone();
        found.value.last_message = self
            .messages
            .get(key)
            .and_then(|m| m.iter().rev().find(|s| s.live()))
            .map(|s| s.message.clone());
        Some(found)
    }

    /// The time of the newest message stored at or before `snapshot`.
    fn last_message_at(&self, key: &Key, snapshot: &Snapshot) -> Option<i64> {
        self.messages.get(key).and_then(|m| {
            m.iter()
                .rev()
                .find(|s| s.existed_at(snapshot))
                .map(|s| s.message.created_at)
        })
    }
}

/// Conversations, messages and app keys in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Data>, RepositoryError> {
        self.data
            .lock()
            .map_err(|_| RepositoryError::Other("memory store lock poisoned".into()))
    }
}

/// A fresh random version per incarnation, like the SQL adapter's.
fn fresh_version() -> i64 {
    i64::from(rand::random::<u32>()) << 20
}

fn key(app: &AppId, id: &ConversationId) -> Key {
    (app.clone(), id.clone())
}

#[async_trait]
impl ConversationRepository for MemoryStore {
    async fn find(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Option<Versioned<Conversation>>, RepositoryError> {
        Ok(self.lock()?.current(&key(app, id)))
    }

    async fn insert_recording(
        &self,
        app: &AppId,
        conversation: &Conversation,
        events: &[NewEvent],
    ) -> Result<(), RepositoryError> {
        let mut data = self.lock()?;
        let key = key(app, &conversation.id);
        if data.conversations.contains_key(&key) {
            return Err(RepositoryError::Conflict);
        }
        let mut value = conversation.clone();
        value.last_message = None;
        let version = fresh_version();
        data.conversations.insert(key, Versioned { value, version });
        data.outbox.record(app, events);
        Ok(())
    }

    async fn update_recording(
        &self,
        app: &AppId,
        before: &Versioned<Conversation>,
        after: &Conversation,
        events: &[NewEvent],
    ) -> Result<(), RepositoryError> {
        let mut data = self.lock()?;
        let Some(current) = data.conversations.get_mut(&key(app, &before.value.id)) else {
            return Err(RepositoryError::Conflict);
        };
        if current.version != before.version {
            return Err(RepositoryError::Conflict);
        }
        // Like the SQL adapters, write participants as the difference of before and after, so
        // that a readUntil moved by a send since the read is kept, and never moves backwards.
        let mut next = after.clone();
        next.last_message = None;
        for (user, p) in next.participants.iter_mut() {
            if let Some(stored) = current.value.participants.get(user) {
                match before.value.participants.get(user) {
                    Some(old) if old == p => *p = *stored,
                    Some(old) => {
                        // A PATCH sets readUntil exactly; a write that did not change it keeps
                        // what a send may have moved since the read.
                        if old.read_until == p.read_until {
                            p.read_until = stored.read_until;
                        }
                        p.read_mark = p.read_mark.max(stored.read_mark);
                    }
                    None => {}
                }
            }
        }
        current.value = next;
        current.version += 1;
        data.outbox.record(app, events);
        Ok(())
    }

    async fn delete_recording(
        &self,
        app: &AppId,
        id: &ConversationId,
        events: &[NewEvent],
    ) -> Result<bool, RepositoryError> {
        let mut data = self.lock()?;
        let key = key(app, id);
        data.messages.remove(&key);
        data.idempotency
            .retain(|(a, c, _), _| !(a == app && c == id));
        let deleted = data.conversations.remove(&key).is_some();
        if deleted {
            data.outbox.record(app, events);
        }
        Ok(deleted)
    }

    async fn participation(
        &self,
        app: &AppId,
        id: &ConversationId,
        user: &UserId,
    ) -> Result<Option<Participant>, RepositoryError> {
        let data = self.lock()?;
        Ok(data
            .conversations
            .get(&key(app, id))
            .and_then(|c| c.value.participants.get(user).copied()))
    }

    async fn snapshot(&self) -> Result<Snapshot, RepositoryError> {
        Ok(Snapshot::counter(self.lock()?.seq))
    }

    async fn standing(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Option<Standing>, RepositoryError> {
        let data = self.lock()?;
        let key = key(app, id);
        Ok(data.conversations.get(&key).map(|c| Standing {
            created_at: c.value.created_at,
            last_message_at: data.last_message_at(&key, &Snapshot::counter(i64::MAX - 1)),
        }))
    }

    async fn list(
        &self,
        app: &AppId,
        query: &ConversationQuery,
        walk: &Walk,
    ) -> Result<Option<Page>, RepositoryError> {
        let data = self.lock()?;
        if let Some(user) = &query.member {
            if !data.users.contains_key(&(app.clone(), user.clone())) {
                return Ok(None);
            }
        }
        let snapshot = walk
            .snapshot
            .clone()
            .unwrap_or_else(|| Snapshot::counter(data.seq));
        let mut ranked: Vec<(&Key, i64)> = data
            .conversations
            .iter()
            .filter(|((a, _), _)| a == app)
            .filter(|(key, c)| match &query.member {
                None => true,
                Some(user) => c.value.participants.get(user).is_some_and(|p| {
                    p.access != Access::None
                        && (!query.unreads_only
                            || data
                                .current(key)
                                .is_some_and(|cur| cur.value.is_unread(user, p)))
                }),
            })
            .filter_map(|(key, c)| {
                let last = data.last_message_at(key, &snapshot);
                if !query.matches(last) {
                    return None;
                }
                let sort_key = query.sort_key(c.value.created_at, last);
                let after = walk
                    .after
                    .as_ref()
                    .is_none_or(|p| query.is_after(sort_key, &key.1, p));
                after.then_some((key, sort_key))
            })
            .collect();
        ranked.sort_by(|(a, ak), (b, bk)| {
            let ordering = (ak, a.1.as_str().as_bytes()).cmp(&(bk, b.1.as_str().as_bytes()));
            match query.direction {
                Direction::Asc => ordering,
                Direction::Desc => ordering.reverse(),
            }
        });
        let items = ranked
            .into_iter()
            .take(query.limit)
            .filter_map(|(key, sort_key)| data.current(key).map(|c| (c.value, sort_key)))
            .collect();
        Ok(Some(Page {
            snapshot,
            items,
            unread_counts: None,
            end_remembered: false,
        }))
    }
}

#[async_trait]
impl MessageRepository for MemoryStore {
    async fn insert_messages_recording(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        records: &[MessageRecord],
        idempotent_since: i64,
        events: &[Vec<NewEvent>],
    ) -> Result<Option<Vec<MessageId>>, RepositoryError> {
        let mut data = self.lock()?;
        let key = key(app, conversation);
        let Some(stored) = data.conversations.get(&key) else {
            return Ok(None);
        };
        // Re-check what the caller checked, as the SQL adapter does in its transaction.
        for record in records {
            let message = &record.message;
            if let Some(sender) = &message.sender {
                let access = stored.value.participants.get(sender).map(|p| p.access);
                if access.is_none_or(|a| a == Access::None) {
                    return Err(RepositoryError::Conflict);
                }
            }
            if let Some(referenced) = &message.referenced_message_id {
                let live = data
                    .messages
                    .get(&key)
                    .is_some_and(|m| m.iter().any(|s| s.live() && &s.message.id == referenced));
                if !live {
                    return Err(RepositoryError::Conflict);
                }
            }
        }
        let mut floor = data
            .messages
            .get(&key)
            .and_then(|m| m.iter().rev().find(|s| s.live()))
            .map_or(i64::MIN, |s| s.message.created_at);
        let mut ids = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let mut message = record.message.clone();
            message.created_at = message.created_at.max(floor);
            floor = message.created_at;
            let message = &message;
            if let Some(k) = &record.idempotency_key {
                if let Some(first) = data.remembered(app, conversation, k, idempotent_since) {
                    ids.push(first);
                    continue;
                }
                let ikey = (app.clone(), conversation.clone(), k.clone());
                data.idempotency
                    .insert(ikey, (message.id.clone(), message.created_at, false));
            }
            data.store_new(&key, message.clone());
            if let Some(sender) = &message.sender {
                if let Some(c) = data.conversations.get_mut(&key) {
                    if let Some(p) = c.value.participants.get_mut(sender) {
                        p.read_until = p.read_until.max(message.created_at);
                        p.read_mark = p.read_mark.max(message.created_at);
                    }
                }
            }
            ids.push(message.id.clone());
            if let Some(events) = events.get(i) {
                data.outbox.record(app, events);
            }
        }
        Ok(Some(ids))
    }

    async fn import_messages(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        records: &[ImportRecord],
        idempotent_since: i64,
    ) -> Result<Option<Vec<MessageId>>, RepositoryError> {
        let mut data = self.lock()?;
        let key = key(app, conversation);
        let Some(stored) = data.conversations.get(&key) else {
            return Ok(None);
        };
        let on_record = |u: &UserId| stored.value.participants.contains_key(u);
        if records.iter().any(|r| {
            r.message().sender.as_ref().is_some_and(|s| !on_record(s))
                || r.read_by.iter().any(|u| !on_record(u))
        }) {
            return Err(RepositoryError::Conflict);
        }
        let mut ids = Vec::with_capacity(records.len());
        for import in records {
            let message = import.message();
            if let Some(k) = &import.record.idempotency_key {
                if let Some(first) = data.remembered(app, conversation, k, idempotent_since) {
                    ids.push(first);
                    continue;
                }
                let ikey = (app.clone(), conversation.clone(), k.clone());
                data.idempotency
                    .insert(ikey, (message.id.clone(), message.created_at, true));
            }
            data.store_new(&key, message.clone());
            if let Some(c) = data.conversations.get_mut(&key) {
                for reader in &import.read_by {
                    if let Some(p) = c.value.participants.get_mut(reader) {
                        p.read_until = p.read_until.max(message.created_at);
                        p.read_mark = p.read_mark.max(message.created_at);
                    }
                }
            }
            ids.push(message.id.clone());
        }
        Ok(Some(ids))
    }

    async fn find_message(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        id: &MessageId,
    ) -> Result<Option<Versioned<Message>>, RepositoryError> {
        let data = self.lock()?;
        Ok(data.messages.get(&key(app, conversation)).and_then(|m| {
            m.iter()
                .find(|s| s.live() && &s.message.id == id)
                .map(|s| Versioned {
                    value: s.message.clone(),
                    version: s.version,
                })
        }))
    }

    async fn list_messages(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        limit: usize,
        starting_after: Option<MessageId>,
    ) -> Result<Option<Vec<Message>>, RepositoryError> {
        let data = self.lock()?;
        let all: Vec<&Stored> = data
            .messages
            .get(&key(app, conversation))
            .map(|m| m.iter().filter(|s| s.live()).collect())
            .unwrap_or_default();
        let end = match &starting_after {
            None => all.len(),
            Some(after) => match all.iter().position(|s| &s.message.id == after) {
                Some(i) => i,
                None => return Ok(None),
            },
        };
        Ok(Some(
            all[..end]
                .iter()
                .rev()
                .take(limit)
                .map(|s| s.message.clone())
                .collect(),
        ))
    }

    async fn update_message_recording(
        &self,
        app: &AppId,
        before: &Versioned<Message>,
        after: &Message,
        events: &[NewEvent],
    ) -> Result<(), RepositoryError> {
        let mut data = self.lock()?;
        let data = &mut *data;
        let stored = data
            .messages
            .get_mut(&key(app, &before.value.conversation_id))
            .and_then(|m| {
                m.iter_mut()
                    .find(|s| s.live() && s.message.id == before.value.id)
            });
        match stored {
            Some(s) if s.version == before.version => {
                // Reactions are not part of an edit: keep the stored ones.
                let reactions = std::mem::take(&mut s.message.reactions);
                s.message = after.clone();
                s.message.reactions = reactions;
                s.version += 1;
                data.outbox.record(app, events);
                Ok(())
            }
            _ => Err(RepositoryError::Conflict),
        }
    }

    async fn newest_read_by_move(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        user: &UserId,
        after: i64,
        until: i64,
    ) -> Result<Option<Message>, RepositoryError> {
        let data = self.lock()?;
        Ok(data.messages.get(&key(app, conversation)).and_then(|all| {
            all.iter()
                .rev()
                .find(|s| {
                    s.live()
                        && s.message.created_at > after
                        && s.message.created_at <= until
                        && s.message.sender.as_ref() != Some(user)
                })
                .map(|s| s.message.clone())
        }))
    }

    async fn unread_counts(
        &self,
        app: &AppId,
        user: &UserId,
        items: &[(ConversationId, i64)],
    ) -> Result<Vec<i64>, RepositoryError> {
        let data = self.lock()?;
        Ok(items
            .iter()
            .map(|(conversation, read_until)| {
                data.messages.get(&key(app, conversation)).map_or(0, |all| {
                    all.iter()
                        .filter(|s| {
                            s.live()
                                && s.message.created_at > *read_until
                                && s.message.sender.as_ref() != Some(user)
                        })
                        .count() as i64
                })
            })
            .collect())
    }

    async fn delete_message_recording(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        id: &MessageId,
        events: &[NewEvent],
    ) -> Result<bool, RepositoryError> {
        let mut data = self.lock()?;
        let seq = data.seq + 1;
        let Some(found) = data
            .messages
            .get_mut(&key(app, conversation))
            .and_then(|m| m.iter_mut().find(|s| s.live() && &s.message.id == id))
        else {
            return Ok(false);
        };
        found.deleted_seq = Some(seq);
        found.message.text.clear();
        found.message.custom.clear();
        found.message.content.clear();
        found.message.reactions.clear();
        data.seq = seq;
        data.reactions
            .retain(|(a, m, _, _), _| !(a == app && m == id));
        data.outbox.record(app, events);
        Ok(true)
    }
}

#[async_trait]
impl AppRepository for MemoryStore {
    async fn get_or_create_key(
        &self,
        app: &AppId,
        new_key: &SecretKey,
    ) -> Result<SecretKey, RepositoryError> {
        let mut data = self.lock()?;
        Ok(data
            .apps
            .entry(app.clone())
            .or_insert_with(|| new_key.clone())
            .clone())
    }
}

#[async_trait]
impl UserRepository for MemoryStore {
    async fn find_user(
        &self,
        app: &AppId,
        id: &UserId,
    ) -> Result<Option<Versioned<User>>, RepositoryError> {
        Ok(self.lock()?.users.get(&(app.clone(), id.clone())).cloned())
    }

    async fn save_users_recording(
        &self,
        app: &AppId,
        writes: &[UserWrite],
        events: &[NewEvent],
    ) -> Result<(), RepositoryError> {
        let mut data = self.lock()?;
        for write in writes {
            let stored = data.users.get(&(app.clone(), write.user.id.clone()));
            let ok = match (write.expected_version, stored) {
                (None, None) => true,
                (Some(expected), Some(found)) => found.version == expected,
                _ => false,
            };
            if !ok {
                return Err(RepositoryError::Conflict);
            }
        }
        for write in writes {
            let key = (app.clone(), write.user.id.clone());
            let version = match write.expected_version {
                Some(v) => v + 1,
                None => fresh_version(),
            };
            data.users.insert(
                key,
                Versioned {
                    value: write.user.clone(),
                    version,
                },
            );
        }
        data.outbox.record(app, events);
        Ok(())
    }

    async fn list_users(
        &self,
        app: &AppId,
        limit: usize,
        starting_after: Option<UserId>,
    ) -> Result<Option<Vec<User>>, RepositoryError> {
        let data = self.lock()?;
        if let Some(after) = &starting_after {
            if !data.users.contains_key(&(app.clone(), after.clone())) {
                return Ok(None);
            }
        }
        let mut users: Vec<&User> = data
            .users
            .iter()
            .filter(|((a, id), _)| {
                a == app
                    && starting_after
                        .as_ref()
                        .is_none_or(|after| id.as_str().as_bytes() > after.as_str().as_bytes())
            })
            .map(|(_, u)| &u.value)
            .collect();
        users.sort_by(|a, b| a.id.as_str().as_bytes().cmp(b.id.as_str().as_bytes()));
        Ok(Some(users.into_iter().take(limit).cloned().collect()))
    }
}

#[async_trait]
impl EventRepository for MemoryStore {
    async fn event_seq(&self, app: &AppId, id: &str) -> Result<Option<i64>, RepositoryError> {
        Ok(self.lock()?.outbox.event_seq(app, id))
    }

    async fn event_position(
        &self,
        app: &AppId,
        id: &str,
    ) -> Result<Option<LogPosition>, RepositoryError> {
        let store = self.lock()?;
        Ok(store
            .outbox
            .event_seq(app, id)
            .map(|seq| LogPosition { xid: 0, seq }))
    }

    async fn latest_position(&self, app: &AppId) -> Result<Option<LogPosition>, RepositoryError> {
        Ok(self.lock()?.outbox.latest(app))
    }

    async fn list_events(
        &self,
        app: &AppId,
        query: &EventQuery,
    ) -> Result<Vec<StoredEvent>, RepositoryError> {
        Ok(self.lock()?.outbox.list(app, query))
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, RepositoryError> {
        Ok(self.lock()?.outbox.claim(now, lease_ms, limit))
    }

    async fn finish_attempts(
        &self,
        attempts: &[(i64, String, AttemptOutcome)],
    ) -> Result<(), RepositoryError> {
        let mut data = self.lock()?;
        for (seq, url, outcome) in attempts {
            data.outbox.finish(*seq, url, outcome);
        }
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<i64>, RepositoryError> {
        Ok(self.lock()?.outbox.next_due())
    }

    async fn list_deliveries(
        &self,
        app: &AppId,
        status: Option<DeliveryStatus>,
        limit: usize,
        starting_after_seq: Option<i64>,
    ) -> Result<Vec<Delivery>, RepositoryError> {
        Ok(self
            .lock()?
            .outbox
            .list_deliveries(app, status, limit, starting_after_seq))
    }

    async fn retry_deliveries(
        &self,
        app: &AppId,
        event_id: &str,
        now: i64,
        retry_until: i64,
    ) -> Result<bool, RepositoryError> {
        Ok(self.lock()?.outbox.retry(app, event_id, now, retry_until))
    }

    async fn prune_events(&self, before: i64) -> Result<u64, RepositoryError> {
        Ok(self.lock()?.outbox.prune(before))
    }
}

impl Data {
    /// The live message with this ID in this conversation.
    fn live_mut(
        &mut self,
        app: &AppId,
        conversation: &ConversationId,
        id: &MessageId,
    ) -> Option<&mut Stored> {
        self.messages
            .get_mut(&key(app, conversation))
            .and_then(|m| m.iter_mut().find(|s| s.live() && &s.message.id == id))
    }

    /// Rewrites `emoji`'s entry of the message's summary from the reactions.
    fn summarise(
        &mut self,
        app: &AppId,
        conversation: &ConversationId,
        id: &MessageId,
        emoji: &str,
    ) {
        let mine: Vec<i64> = self
            .reactions
            .iter()
            .filter(|((a, m, e, _), _)| a == app && m == id && e == emoji)
            .map(|(_, at)| *at)
            .collect();
        if let Some(stored) = self.live_mut(app, conversation, id) {
            match mine.iter().min() {
                Some(first) => {
                    stored.message.reactions.insert(
                        emoji.to_owned(),
                        parley_domain::ReactionSummary {
                            count: mine.len() as u64,
                            created_at: *first,
                        },
                    );
                }
                None => {
                    stored.message.reactions.remove(emoji);
                }
            }
        }
    }
}

#[async_trait]
impl ReactionRepository for MemoryStore {
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
    ) -> Result<Added, RepositoryError> {
        let mut data = self.lock()?;
        let Some(stored) = data.live_mut(app, conversation, message) else {
            return Ok(Added::NoMessage);
        };
        let summary = stored.message.reactions.clone();
        let k = (
            app.clone(),
            message.clone(),
            emoji.as_str().to_owned(),
            user.clone(),
        );
        if data.reactions.contains_key(&k) {
            return Ok(Added::AlreadyThere);
        }
        if !summary.contains_key(emoji.as_str()) && summary.len() >= max_distinct {
            return Ok(Added::LimitReached);
        }
        data.reactions.insert(k, now);
        data.summarise(app, conversation, message, emoji.as_str());
        data.outbox.record(app, events);
        Ok(Added::Added)
    }

    async fn remove_reaction(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        message: &MessageId,
        emoji: &Emoji,
        user: &UserId,
        events: &[NewEvent],
    ) -> Result<Option<bool>, RepositoryError> {
        let mut data = self.lock()?;
        if data.live_mut(app, conversation, message).is_none() {
            return Ok(None);
        }
        let k = (
            app.clone(),
            message.clone(),
            emoji.as_str().to_owned(),
            user.clone(),
        );
        if data.reactions.remove(&k).is_none() {
            return Ok(Some(false));
        }
        data.summarise(app, conversation, message, emoji.as_str());
        data.outbox.record(app, events);
        Ok(Some(true))
    }

    async fn list_reactions(
        &self,
        app: &AppId,
        message: &MessageId,
        emoji: &Emoji,
        limit: usize,
        starting_after: Option<UserId>,
    ) -> Result<Option<Vec<(UserId, i64)>>, RepositoryError> {
        let data = self.lock()?;
        let mut all: Vec<(i64, UserId)> = data
            .reactions
            .iter()
            .filter(|((a, m, e, _), _)| a == app && m == message && e == emoji.as_str())
            .map(|((_, _, _, u), at)| (*at, u.clone()))
            .collect();
        all.sort_by(|a, b| (a.0, a.1.as_str().as_bytes()).cmp(&(b.0, b.1.as_str().as_bytes())));
        let start = match &starting_after {
            None => 0,
            Some(after) => match all.iter().position(|(_, u)| u == after) {
                Some(i) => i + 1,
                None => return Ok(None),
            },
        };
        Ok(Some(
            all.into_iter()
                .skip(start)
                .take(limit)
                .map(|(at, u)| (u, at))
                .collect(),
        ))
    }
}

#[async_trait]
impl parley_domain::files::FileRepository for MemoryStore {
    async fn insert_file(
        &self,
        file: &parley_domain::files::StoredFile,
    ) -> Result<(), RepositoryError> {
        self.lock()?.files.insert(file.token.clone(), file.clone());
        Ok(())
    }

    async fn find_file(
        &self,
        token: &str,
    ) -> Result<Option<parley_domain::files::StoredFile>, RepositoryError> {
        Ok(self.lock()?.files.get(token).cloned())
    }

    async fn unused_files(
        &self,
        uploaded_before: i64,
        limit: usize,
    ) -> Result<Vec<parley_domain::files::StoredFile>, RepositoryError> {
        let data = self.lock()?;
        let used: std::collections::HashSet<&str> = data
            .messages
            .values()
            .flatten()
            .filter(|s| s.live())
            .flat_map(|s| parley_domain::content::file_tokens(&s.message.content))
            .collect();
        let mut unused: Vec<_> = data
            .files
            .values()
            .filter(|f| f.created_at < uploaded_before && !used.contains(f.token.as_str()))
            .cloned()
            .collect();
        unused.sort_by_key(|f| f.created_at);
        unused.truncate(limit);
        Ok(unused)
    }

    async fn delete_unused_file(&self, token: &str) -> Result<bool, RepositoryError> {
        let mut data = self.lock()?;
        let used = data
            .messages
            .values()
            .flatten()
            .filter(|s| s.live())
            .any(|s| parley_domain::content::file_tokens(&s.message.content).contains(&token));
        Ok(!used && data.files.remove(token).is_some())
    }
}

#[async_trait::async_trait]
impl parley_domain::probe::StoreProbe for MemoryStore {
    async fn ready(&self) -> Result<(), String> {
        self.lock().map(|_| ()).map_err(|e| e.to_string())
    }

    fn stats(&self) -> parley_domain::probe::StoreStats {
        parley_domain::probe::StoreStats::default()
    }

    async fn outbox_backlog(&self) -> Result<u64, String> {
        Ok(self.lock().map_err(|e| e.to_string())?.outbox.backlog())
    }
}
