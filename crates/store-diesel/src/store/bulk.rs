//! Bulk import of whole conversations (with their last message), for seeding and migrations:
//! many conversations per transaction, multi-row inserts, no per-row round trips.

use diesel::prelude::*;
use parley_domain::{AppId, Conversation, RepositoryError, User};

use super::users::UserRow;
use super::Store;
use crate::error::DbError;
use crate::models::{ConversationRow, MessageRow, NewMessageRow, NewParticipantRow};
use crate::schema::{conversations, messages, participants, users};

/// Rows per multi-row INSERT, well below SQLite's limit on bound variables.
const CHUNK: usize = 500;

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
        let _turn = self.writer.blocking_lock();
        let mut conn = self.pool.get().map_err(DbError::Pool)?;
        super::write_tx(&mut conn, |tx| {
            let with_message = batch.iter().filter(|c| c.last_message.is_some()).count();
            let numbers = super::number_messages(tx, with_message)?;
            let mut seqs = numbers.seqs.iter().copied();
            let mut conversation_rows = Vec::with_capacity(batch.len());
            let mut message_rows = Vec::new();
            for c in batch {
                let mut row = ConversationRow::new(app, c, crate::fresh_version());
                if let Some(m) = &c.last_message {
                    let seq = seqs.next().unwrap_or_default();
                    row.last_message_seq = Some(seq);
                    row.activity_seq = Some(numbers.stamp);
                    row.last_message_sender = m.sender.as_ref().map(|u| u.as_str().to_owned());
                    row.last_activity = m.created_at;
                    row.last_message = Some(MessageRow::new(m).to_json());
                    message_rows.push(NewMessageRow::new(app, m, seq, numbers.row_xid));
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
                .flat_map(|(c, row)| {
                    c.participants
                        .iter()
                        .map(move |(user, p)| NewParticipantRow {
                            conv_created_at: row.created_at,
                            conv_last_activity: row.last_activity,
                            conv_activity_seq: row.activity_seq,
                            conv_last_message_seq: row.last_message_seq,
                            conv_last_message_sender: row.last_message_sender.clone(),
                            ..NewParticipantRow::new(app, &c.id, user, p)
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
            Ok::<_, DbError>(())
        })
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
