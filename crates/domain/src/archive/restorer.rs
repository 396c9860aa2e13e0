//! [`Restorer`]: writes records through the repository ports, one conversation at a time, or
//! whole new conversations many at a time.

use std::sync::Arc;

use crate::error::{RepositoryError, ServiceError};
use crate::files::{FileRepository, FileStore, StoredFile};
use crate::import::ImportRecord;
use crate::message::{MessageId, MessageRecord};
use crate::ports::{ConversationRepository, MessageRepository, UserRepository, UserWrite};
use crate::reactions::{Added, Emoji, ReactionRepository};
use crate::{AppId, Conversation, ConversationId, UserId};

use super::whole::{self, set_participants, WholeConversation};
use super::{ArchiveRepository, Record, Restored};

/// The idempotency key a restored message is imported under: its ID, so that a message is
/// stored once however often it is restored.
fn restore_key(id: &MessageId) -> String {
    format!("parley-restore:{id}")
}

/// How often a write that lost a race to a concurrent writer is tried again.
const ATTEMPTS: usize = 20;

/// Writes records through the ports.
#[derive(Clone)]
pub struct Restorer {
    conversations: Arc<dyn ConversationRepository>,
    messages: Arc<dyn MessageRepository>,
    users: Arc<dyn UserRepository>,
    reactions: Arc<dyn ReactionRepository>,
    files: Arc<dyn FileRepository>,
    store: Arc<dyn FileStore>,
    archive: Arc<dyn ArchiveRepository>,
}

impl std::fmt::Debug for Restorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer").finish_non_exhaustive()
    }
}

fn missing(what: &str, id: &str) -> ServiceError {
    ServiceError::Invalid(crate::Invalid::field(
        crate::InvalidCode::InvalidField,
        what,
        format!("`{id}` does not exist here; its record must come first"),
    ))
}

impl Restorer {
    pub fn new(
        conversations: Arc<dyn ConversationRepository>,
        messages: Arc<dyn MessageRepository>,
        users: Arc<dyn UserRepository>,
        reactions: Arc<dyn ReactionRepository>,
        files: Arc<dyn FileRepository>,
        store: Arc<dyn FileStore>,
        archive: Arc<dyn ArchiveRepository>,
    ) -> Self {
        Self {
            conversations,
            messages,
            users,
            reactions,
            files,
            store,
            archive,
        }
    }

    /// Writes one conversation's records (as [`restore`](Self::restore) takes them): in one
    /// transaction when they make a whole new conversation, otherwise as `restore` does.
    ///
    /// # Errors
    /// As [`restore`](Self::restore).
    pub async fn restore_conversation(
        &self,
        app: &AppId,
        records: &[Record],
    ) -> Result<Restored, ServiceError> {
        let (done, left) = self.restore_whole(app, &[records]).await?;
        if left.is_empty() {
            Ok(done)
        } else {
            self.restore(app, records).await
        }
    }

    /// Writes those of `groups` that are whole new conversations ([`whole::assemble`]) in one
    /// transaction, and then their files. Answers what it wrote, and the indices of the groups
    /// it left for [`restore`](Self::restore): those that are not whole, or all of them when one
    /// of the conversations (or messages) is stored already, as when a file is imported again.
    ///
    /// # Errors
    /// `Repository` for storage failures (the conversations are then either all written or
    /// none; restoring again continues).
    pub async fn restore_whole(
        &self,
        app: &AppId,
        groups: &[&[Record]],
    ) -> Result<(Restored, Vec<usize>), ServiceError> {
        let mut left = Vec::new();
        let mut taken = Vec::new();
        let mut batch: Vec<WholeConversation> = Vec::new();
        let mut rest = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            match whole::assemble(group) {
                Some(a) => {
                    taken.push(i);
                    batch.push(a.whole);
                    rest.push((a.records, a.files));
                }
                None => left.push(i),
            }
        }
        if batch.is_empty() {
            return Ok((Restored::default(), left));
        }
        match self.archive.insert_whole(app, &batch).await {
            Ok(()) => {}
            Err(RepositoryError::Conflict) => {
                left.extend(taken);
                left.sort_unstable();
                return Ok((Restored::default(), left));
            }
            Err(e) => return Err(e.into()),
        }
        // After the messages that use them: a file no message refers to yet may be swept as
        // unused. Interrupted here, the next restore finds the conversation and writes the
        // files one by one.
        let mut done = Restored::default();
        for (records, files) in rest {
            done += records;
            for (file, bytes) in files {
                done += self.file(app, file, bytes).await?;
            }
        }
        Ok((done, left))
    }

    /// Writes `records` of `app` in order, consecutive users in one write and consecutive
    /// messages of one conversation in one transaction.
    ///
    /// # Errors
    /// A record that cannot be written (its conversation or message is missing, a message's
    /// sender is not a participant): `Invalid` naming it; what came before it stays written,
    /// and restoring again continues where it stopped. `Repository` for storage failures.
    pub async fn restore(&self, app: &AppId, records: &[Record]) -> Result<Restored, ServiceError> {
        let mut done = Restored::default();
        let mut i = 0;
        while i < records.len() {
            let run_end = |same: &dyn Fn(&Record) -> bool| {
                records[i..]
                    .iter()
                    .position(|r| !same(r))
                    .map_or(records.len(), |n| i + n)
            };
            match &records[i] {
                Record::User(_) => {
                    let end = run_end(&|r| matches!(r, Record::User(_)));
                    done += self.users(app, &records[i..end]).await?;
                    i = end;
                }
                Record::Message(first) => {
                    let conversation = first.conversation_id.clone();
                    let end = run_end(
                        &|r| matches!(r, Record::Message(m) if m.conversation_id == conversation),
                    );
                    done += self.messages(app, &conversation, &records[i..end]).await?;
                    i = end;
                }
                Record::Participant {
                    conversation: first,
                    ..
                } => {
                    let first = first.clone();
                    let end = run_end(
                        &|r| matches!(r, Record::Participant { conversation, .. } if *conversation == first),
                    );
                    done += self.participants(app, &first, &records[i..end]).await?;
                    i = end;
                }
                Record::Conversation(c) => {
                    // With the participants that follow it: one write for both.
                    let end = records[i + 1..]
                        .iter()
                        .position(|r| !matches!(r, Record::Participant { conversation, .. } if *conversation == c.id))
                        .map_or(records.len(), |n| i + 1 + n);
                    done += self.conversation(app, c, &records[i + 1..end]).await?;
                    i = end;
                }
                Record::Reaction {
                    conversation,
                    message,
                    emoji,
                    user,
                    created_at,
                } => {
                    done += self
                        .reaction(app, conversation, message, emoji, user, *created_at)
                        .await?;
                    i += 1;
                }
                Record::File { file, bytes } => {
                    done += self.file(app, file, bytes).await?;
                    i += 1;
                }
            }
        }
        Ok(done)
    }

    async fn users(&self, app: &AppId, records: &[Record]) -> Result<Restored, ServiceError> {
        for _ in 0..ATTEMPTS {
            let mut writes = Vec::new();
            let mut unchanged = 0;
            for record in records {
                let Record::User(user) = record else { continue };
                match self.users.find_user(app, &user.id).await? {
                    Some(found) if found.value == *user => unchanged += 1,
                    found => writes.push(UserWrite {
                        expected_version: found.map(|f| f.version),
                        user: user.clone(),
                    }),
                }
            }
            let written = writes.len() as u64;
            if writes.is_empty() {
                return Ok(Restored { written, unchanged });
            }
            match self.users.save_users(app, &writes).await {
                Ok(()) => return Ok(Restored { written, unchanged }),
                Err(RepositoryError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    /// The conversation's own fields, and `participants` (records of it) set exactly.
    async fn conversation(
        &self,
        app: &AppId,
        c: &Conversation,
        participants: &[Record],
    ) -> Result<Restored, ServiceError> {
        for _ in 0..ATTEMPTS {
            let found = self.conversations.find(app, &c.id).await?;
            let mut after = match &found {
                None => {
                    let mut new = c.clone();
                    new.participants.clear();
                    new.last_message = None;
                    new
                }
                Some(found) => {
                    let mut after = found.value.clone();
                    after.subject.clone_from(&c.subject);
                    after.topic_id.clone_from(&c.topic_id);
                    after.photo_url.clone_from(&c.photo_url);
                    after.welcome_messages.clone_from(&c.welcome_messages);
                    after.custom.clone_from(&c.custom);
                    after.created_at = c.created_at;
                    after
                }
            };
            let mut done = Restored::default();
            // Compared before the participants are set: the conversation's own fields.
            let fields_changed = found.as_ref().is_none_or(|f| f.value != after);
            if fields_changed {
                done.written += 1;
            } else {
                done.unchanged += 1;
            }
            done += set_participants(&mut after, participants);
            let outcome = match &found {
                None => self.conversations.insert(app, &after).await,
                Some(_) if done.written == 0 => return Ok(done),
                Some(found) => self.conversations.update(app, found, &after).await,
            };
            match outcome {
                Ok(()) => return Ok(done),
                Err(RepositoryError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    async fn participants(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        records: &[Record],
    ) -> Result<Restored, ServiceError> {
        for _ in 0..ATTEMPTS {
            let Some(found) = self.conversations.find(app, conversation).await? else {
                return Err(missing("conversationId", conversation.as_str()));
            };
            let mut after = found.value.clone();
            let done = set_participants(&mut after, records);
            if done.written == 0 {
                return Ok(done);
            }
            match self.conversations.update(app, &found, &after).await {
                Ok(()) => return Ok(done),
                Err(RepositoryError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    async fn messages(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        records: &[Record],
    ) -> Result<Restored, ServiceError> {
        let imports: Vec<ImportRecord> = records
            .iter()
            .filter_map(|r| match r {
                Record::Message(m) => Some(ImportRecord {
                    record: MessageRecord {
                        message: m.clone(),
                        idempotency_key: Some(restore_key(&m.id)),
                    },
                    read_by: Vec::new(),
                }),
                _ => None,
            })
            .collect();
        // Those stored already (restored before, or there from the start) are left as they are.
        let mut fresh = Vec::with_capacity(imports.len());
        for import in imports {
            if self
                .messages
                .find_message(app, conversation, &import.message().id)
                .await?
                .is_none()
            {
                fresh.push(import);
            }
        }
        let before = (records.len() - fresh.len()) as u64;
        let imports = fresh;
        if imports.is_empty() {
            return Ok(Restored::unchanged(before));
        }
        for _ in 0..ATTEMPTS {
            match self
                .messages
                .import_messages(app, conversation, &imports, 0)
                .await
            {
                Ok(Some(_)) => {
                    return Ok(Restored {
                        written: imports.len() as u64,
                        unchanged: before,
                    });
                }
                Ok(None) => return Err(missing("conversationId", conversation.as_str())),
                Err(RepositoryError::Conflict) => {
                    // A sender not on record is a conflict too: tell it apart from a race.
                    let Some(found) = self.conversations.find(app, conversation).await? else {
                        return Err(missing("conversationId", conversation.as_str()));
                    };
                    if let Some(m) = imports.iter().map(ImportRecord::message).find(|m| {
                        m.sender
                            .as_ref()
                            .is_some_and(|s| !found.value.participants.contains_key(s))
                    }) {
                        return Err(ServiceError::Invalid(crate::Invalid::field(
                            crate::InvalidCode::InvalidField,
                            "senderId",
                            format!(
                                "message {}: its sender is no participant of {conversation} \
                                 (its participant record must come first)",
                                m.id
                            ),
                        )));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    async fn reaction(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        message: &MessageId,
        emoji: &Emoji,
        user: &UserId,
        at: i64,
    ) -> Result<Restored, ServiceError> {
        match self
            .reactions
            .add_reaction(app, conversation, message, emoji, user, at, usize::MAX, &[])
            .await?
        {
            Added::Added => Ok(Restored::written(1)),
            Added::AlreadyThere => Ok(Restored::unchanged(1)),
            Added::LimitReached => Err(ServiceError::Busy),
            Added::NoMessage => Err(missing("messageId", message.as_str())),
        }
    }

    async fn file(
        &self,
        app: &AppId,
        file: &StoredFile,
        bytes: &[u8],
    ) -> Result<Restored, ServiceError> {
        if let Some(found) = self.files.find_file(&file.token).await? {
            if found.app != *app {
                return Err(ServiceError::Invalid(crate::Invalid::field(
                    crate::InvalidCode::InvalidField,
                    "fileToken",
                    "belongs to another app here",
                )));
            }
            return Ok(Restored::unchanged(1));
        }
        let body: crate::files::ByteStream =
            Box::pin(Once(Some(bytes::Bytes::copy_from_slice(bytes))));
        self.store
            .put(&file.token, body, u64::MAX)
            .await
            .map_err(|e| ServiceError::Repository(RepositoryError::Unavailable(e.to_string())))?;
        let mut record = file.clone();
        record.app = app.clone();
        record.size = bytes.len() as u64;
        self.files.insert_file(&record).await?;
        Ok(Restored::written(1))
    }
}

/// A stream of one chunk.
struct Once(Option<bytes::Bytes>);

impl futures_core::Stream for Once {
    type Item = Result<bytes::Bytes, crate::files::FileStoreError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.take().map(Ok))
    }
}
