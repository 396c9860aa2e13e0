//! Bulk writes of whole conversations (with their participants, messages and reactions), for
//! imports, seeding and migrations: many conversations per transaction, multi-row inserts, no
//! per-row round trips. `ArchiveRepository::insert_whole` and the blocking seeding helpers
//! share [`insert_whole`].

use async_trait::async_trait;
use diesel::prelude::*;
use parley_domain::archive::{ArchiveRepository, WholeConversation};
use parley_domain::{AppId, Conversation, RepositoryError, User};

use super::users::UserRow;
use super::{DbConnection, Store};
use crate::error::DbError;
use crate::models::{ConversationRow, MessageRow, NewMessageRow, NewParticipantRow};
use crate::schema::{conversations, message_files, messages, participants, reactions, users};

/// Rows per multi-row INSERT, well below SQLite's limit on bound variables.
const CHUNK: usize = 500;

/// Stores `batch` (new conversations) in the open transaction `tx`; see
/// [`ArchiveRepository::insert_whole`].
fn insert_whole(
    tx: &mut DbConnection,
    app: &AppId,
    batch: &[WholeConversation],
) -> Result<(), DbError> {
    let count = batch.iter().map(|w| w.messages.len()).sum();
    let numbers = super::number_messages(tx, count)?;
    let mut seqs = numbers.seqs.iter().copied();
    let mut conversation_rows = Vec::with_capacity(batch.len());
    let mut message_rows = Vec::with_capacity(count);
    let mut file_rows = Vec::new();
    let mut reaction_rows = Vec::new();
    for w in batch {
        let mut row = ConversationRow::new(app, &w.conversation, crate::fresh_version());
        let first = message_rows.len();
        for m in &w.messages {
            let seq = seqs.next().unwrap_or_default();
            message_rows.push(NewMessageRow::new(app, m, seq, numbers.row_xid));
            for token in parley_domain::content::file_tokens(&m.content) {
                file_rows.push((
                    message_files::app_id.eq(app.as_str()),
                    message_files::message_id.eq(m.id.as_str()),
                    message_files::token.eq(token),
                ));
            }
        }
        // The last message: the newest by (created_at, storage order).
        let newest = w
            .messages
            .iter()
            .zip(&message_rows[first..])
            .max_by_key(|(m, r)| (m.created_at, r.seq));
        if let Some((m, r)) = newest {
            row.last_message_seq = Some(r.seq);
            row.activity_seq = Some(numbers.stamp);
            row.last_message_sender = m.sender.as_ref().map(|u| u.as_str().to_owned());
            row.last_activity = m.created_at;
            row.last_message = Some(MessageRow::new(m).to_json());
        }
        for r in &w.reactions {
            reaction_rows.push((
                reactions::app_id.eq(app.as_str()),
                reactions::message_id.eq(r.message.as_str()),
                reactions::emoji.eq(r.emoji.as_str()),
                reactions::user_id.eq(r.user.as_str()),
                reactions::conversation_id.eq(w.conversation.id.as_str()),
                reactions::created_at.eq(r.created_at),
            ));
        }
        conversation_rows.push(row);
    }
    for chunk in conversation_rows.chunks(CHUNK) {
        diesel::insert_into(conversations::table)
            .values(chunk)
            .execute(tx)?;
    }
    let participant_rows: Vec<NewParticipantRow> = batch
        .iter()
        .zip(&conversation_rows)
        .flat_map(|(w, row)| {
            w.conversation
                .participants
                .iter()
                .map(move |(user, p)| NewParticipantRow {
                    conv_created_at: row.created_at,
                    conv_last_activity: row.last_activity,
                    conv_activity_seq: row.activity_seq,
                    conv_last_message_seq: row.last_message_seq,
                    conv_last_message_sender: row.last_message_sender.clone(),
                    ..NewParticipantRow::new(app, &w.conversation.id, user, p)
                })
        })
        .collect();
    for chunk in participant_rows.chunks(CHUNK) {
        diesel::insert_into(participants::table)
            .values(chunk)
            .execute(tx)?;
    }
    for chunk in message_rows.chunks(CHUNK) {
        diesel::insert_into(messages::table)
            .values(chunk)
            .execute(tx)?;
    }
    for chunk in file_rows.chunks(CHUNK) {
        diesel::insert_into(message_files::table)
            .values(chunk)
            .execute(tx)?;
    }
    for chunk in reaction_rows.chunks(CHUNK) {
        diesel::insert_into(reactions::table)
            .values(chunk)
            .execute(tx)?;
    }
    Ok(())
}

#[async_trait]
impl ArchiveRepository for Store {
    async fn insert_whole(
        &self,
        app: &AppId,
        batch: &[WholeConversation],
    ) -> Result<(), RepositoryError> {
        let (app, batch) = (app.clone(), batch.to_vec());
        self.run_write(move |conn| super::write_tx(&mut *conn, |tx| insert_whole(tx, &app, &batch)))
            .await
    }
}

impl Store {
    /// Stores new conversations with their participants and, where set, their last message, in
    /// one transaction. Blocking: call it from a plain thread or `spawn_blocking`.
    ///
    /// # Errors
    /// `Conflict` when a conversation already exists (nothing is written); `Unavailable`/`Other`.
    pub fn import_blocking(
        &self,
        app: &AppId,
        batch: &[Conversation],
    ) -> Result<(), RepositoryError> {
        let batch: Vec<WholeConversation> = batch
            .iter()
            .map(|c| WholeConversation {
                conversation: c.clone(),
                messages: c.last_message.iter().cloned().collect(),
                reactions: Vec::new(),
            })
            .collect();
        let _turn = self.writer.blocking_lock();
        let mut conn = self.pool.get().map_err(DbError::Pool)?;
        super::write_tx(&mut conn, |tx| insert_whole(tx, app, &batch))
            .map_err(RepositoryError::from)
    }

    /// Stores new users in one transaction. Blocking, like
    /// [`import_blocking`](Self::import_blocking).
    ///
    /// # Errors
    /// `Conflict` when a user already exists (nothing is written); `Unavailable`/`Other`.
    pub fn import_users_blocking(
        &self,
        app: &AppId,
        batch: &[User],
    ) -> Result<(), RepositoryError> {
        let _turn = self.writer.blocking_lock();
        let mut conn = self.pool.get().map_err(DbError::Pool)?;
        super::write_tx(&mut conn, |tx| {
            let rows: Vec<UserRow> = batch
                .iter()
                .map(|u| UserRow::new(app, u, crate::fresh_version()))
                .collect();
            for chunk in rows.chunks(CHUNK) {
                diesel::insert_into(users::table)
                    .values(chunk)
                    .execute(tx)?;
            }
            Ok::<_, DbError>(())
        })
        .map_err(RepositoryError::from)
    }
}
