//! `MessageRepository` on diesel. A send is one write transaction: the messages, their
//! idempotency keys, the senders' `readUntil` and the conversation's last message.

use async_trait::async_trait;
use diesel::prelude::*;
use parley_domain::events::NewEvent;
use parley_domain::{
    Access, AppId, ConversationId, ImportRecord, Message, MessageId, MessageRecord,
    MessageRepository, RepositoryError, UserId, Versioned,
};

use super::{DbConnection, Store};
use crate::error::DbError;
use crate::models::{encode_content, encode_custom, MessageRow, NewMessageRow};
use crate::schema::{
    conversations, idempotency_keys, message_files, messages, participants, reactions,
};

fn corrupt(e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(e.to_string())
}

/// Records which files `message` refers to (replacing what an earlier version referred to).
pub(crate) fn link_files(
    tx: &mut DbConnection,
    app: &str,
    message: &Message,
    replace: bool,
) -> Result<(), DbError> {
    if replace {
        diesel::delete(
            message_files::table
                .filter(message_files::app_id.eq(app))
                .filter(message_files::message_id.eq(message.id.as_str())),
        )
        .execute(tx)?;
    }
    let tokens = parley_domain::content::file_tokens(&message.content);
    if tokens.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = tokens
        .iter()
        .map(|token| {
            (
                message_files::app_id.eq(app),
                message_files::message_id.eq(message.id.as_str()),
                message_files::token.eq(*token),
            )
        })
        .collect();
    diesel::insert_into(message_files::table)
        .values(&rows)
        .execute(tx)?;
    Ok(())
}

/// Makes the newest remaining message (by time, then storage order) the conversation's last one (or none), with the copy of
/// it that conversation reads carry.
pub(crate) fn refresh_last_message(
    conn: &mut DbConnection,
    app: &str,
    conversation: &str,
) -> Result<(), DbError> {
    let newest: Option<(i64, MessageRow)> = messages::table
        .filter(messages::app_id.eq(app))
        .filter(messages::conversation_id.eq(conversation))
        .filter(messages::deleted_seq.is_null())
        .order((messages::created_at.desc(), messages::seq.desc()))
        .select((messages::seq, MessageRow::as_select()))
        .first(conn)
        .optional()?;
    let target = conversations::table.find((app, conversation));
    match newest {
        Some((seq, row)) => diesel::update(target)
            .set((
                conversations::last_message_seq.eq(Some(seq)),
                conversations::last_activity.eq(row.created_at),
                conversations::last_message_sender.eq(&row.sender_id),
                conversations::last_message.eq(Some(row.to_json())),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                conversations::last_message_seq.eq(None::<i64>),
                conversations::last_activity.eq(conversations::created_at),
                conversations::last_message_sender.eq(None::<String>),
                conversations::last_message.eq(None::<String>),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Locks the conversation for the rest of the write and reads what a write of messages needs
/// of it: the last message's seq, the last activity and the creation time. `None` when it does
/// not exist.
pub(crate) fn locked_head(
    tx: &mut DbConnection,
    app: &str,
    conversation: &str,
) -> Result<Option<(Option<i64>, i64, i64)>, DbError> {
    super::lock_conversation(tx, app, conversation)?;
    Ok(conversations::table
        .find((app, conversation))
        .select((
            conversations::last_message_seq,
            conversations::last_activity,
            conversations::created_at,
        ))
        .first(tx)
        .optional()?)
}

fn insert_all(
    tx: &mut DbConnection,
    app: &AppId,
    conversation: &ConversationId,
    records: &[MessageRecord],
    idempotent_since: i64,
    events: &[Vec<NewEvent>],
) -> Result<Option<Vec<MessageId>>, DbError> {
    let (app_s, conv_s) = (app.as_str(), conversation.as_str());
    let Some((last_seq, last_activity, created_at)) = locked_head(tx, app_s, conv_s)? else {
        return Ok(None);
    };
    // Times never decrease in storage order, also when writers' clocks or commits interleave.
    let mut floor = if last_seq.is_some() {
        last_activity
    } else {
        i64::MIN
    };
    let mut ids = Vec::with_capacity(records.len());
    let mut to_store: Vec<Message> = Vec::with_capacity(records.len());
    let mut to_record: Vec<NewEvent> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let mut message = record.message.clone();
        message.created_at = message.created_at.max(floor);
        floor = message.created_at;
        let message = &message;
        if let Some(sender) = &message.sender {
            let access: Option<String> = participants::table
                .find((app_s, conv_s, sender.as_str()))
                .select(participants::access)
                .first(tx)
                .optional()?;
            if access.is_none_or(|a| a == Access::None.as_str()) {
                return Err(DbError::Conflict);
            }
        }
        if let Some(referenced) = &message.referenced_message_id {
            let live: Option<i64> = messages::table
                .filter(messages::app_id.eq(app_s))
                .filter(messages::id.eq(referenced.as_str()))
                .filter(messages::conversation_id.eq(conv_s))
                .filter(messages::deleted_seq.is_null())
                .select(messages::seq)
                .first(tx)
                .optional()?;
            if live.is_none() {
                return Err(DbError::Conflict);
            }
        }
        if let Some(key) = &record.idempotency_key {
            let this_key = idempotency_keys::table.find((app_s, conv_s, key.as_str()));
            let seen: Option<(String, i64, bool)> = this_key
                .select((
                    idempotency_keys::message_id,
                    idempotency_keys::created_at,
                    idempotency_keys::permanent,
                ))
                .first(tx)
                .optional()?;
            match seen {
                Some((first_id, at, permanent)) if permanent || at >= idempotent_since => {
                    ids.push(MessageId::new(first_id).map_err(corrupt)?);
                    continue;
                }
                Some(_) => {
                    diesel::delete(this_key).execute(tx)?;
                }
                None => {}
            }
            // A concurrent send of the same key makes this a unique violation: Conflict.
            diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::app_id.eq(app_s),
                    idempotency_keys::conversation_id.eq(conv_s),
                    idempotency_keys::key.eq(key.as_str()),
                    idempotency_keys::message_id.eq(message.id.as_str()),
                    idempotency_keys::created_at.eq(message.created_at),
                ))
                .execute(tx)?;
        }
        ids.push(message.id.clone());
        to_store.push(message.clone());
        to_record.extend(events.get(i).into_iter().flatten().cloned());
        if let Some(sender) = &message.sender {
            // One statement for both: the read mark is never below readUntil, so only a
            // readUntil below the message can move either.
            let at = message.created_at;
            diesel::update(
                participants::table
                    .filter(participants::app_id.eq(app_s))
                    .filter(participants::conversation_id.eq(conv_s))
                    .filter(participants::user_id.eq(sender.as_str()))
                    .filter(participants::read_until.lt(at)),
            )
            .set((
                participants::read_until.eq(at),
                participants::read_mark.eq(
                    diesel::dsl::case_when::<_, _, diesel::sql_types::BigInt>(
                        participants::read_mark.lt(at),
                        at,
                    )
                    .otherwise(participants::read_mark),
                ),
            ))
            .execute(tx)?;
        }
    }
    let Some(newest) = to_store.last() else {
        // Nothing stored: no readUntil moved either.
        return Ok(Some(ids));
    };
    // The senders' readUntil moved: the conversation's copy of its participants is rewritten
    // with its last message below, in the same UPDATE.
    let participant_rows = super::conversations::participant_rows_json(tx, app_s, conv_s)?;
    // On SQLite the counter is taken here, late in the transaction; on PostgreSQL nothing
    // shared is locked (crate::stamps).
    let numbers = super::number_messages(tx, to_store.len())?;
    let rows: Vec<NewMessageRow> = to_store
        .iter()
        .zip(&numbers.seqs)
        .map(|(message, seq)| NewMessageRow::new(app, message, *seq, numbers.row_xid))
        .collect();
    diesel::insert_into(messages::table)
        .values(&rows)
        .execute(tx)?;
    for message in &to_store {
        link_files(tx, app_s, message, false)?;
    }
    let seq = numbers.seqs.last().copied().unwrap_or_default();
    let stamp = numbers.stamp;
    let row = MessageRow::new(newest);
    diesel::update(conversations::table.find((app_s, conv_s)))
        .set((
            conversations::last_message_seq.eq(Some(seq)),
            conversations::last_activity.eq(row.created_at),
            conversations::activity_seq.eq(Some(stamp)),
            conversations::last_message_sender.eq(&row.sender_id),
            conversations::last_message.eq(Some(row.to_json())),
            conversations::participant_rows.eq(participant_rows),
        ))
        .execute(tx)?;
    super::conversations::write_participant_copies(
        tx,
        app_s,
        conv_s,
        (
            created_at,
            row.created_at,
            Some(stamp),
            Some(seq),
            row.sender_id.clone(),
        ),
    )?;
    super::events::record(tx, app_s, &to_record)?;
    Ok(Some(ids))
}

#[async_trait]
impl MessageRepository for Store {
    async fn insert_messages_recording(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        records: &[MessageRecord],
        idempotent_since: i64,
        events: &[Vec<NewEvent>],
    ) -> Result<Option<Vec<MessageId>>, RepositoryError> {
        let (app, conversation, records) = (app.clone(), conversation.clone(), records.to_vec());
        let events = events.to_vec();
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                insert_all(tx, &app, &conversation, &records, idempotent_since, &events)
            })
        })
        .await
    }

    async fn import_messages(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        records: &[ImportRecord],
        idempotent_since: i64,
    ) -> Result<Option<Vec<MessageId>>, RepositoryError> {
        let (app, conversation, records) = (app.clone(), conversation.clone(), records.to_vec());
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                super::import::import_all(tx, &app, &conversation, &records, idempotent_since)
            })
        })
        .await
    }

    async fn find_message(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        id: &MessageId,
    ) -> Result<Option<Versioned<Message>>, RepositoryError> {
        let (app, conversation, id) = (
            app.as_str().to_owned(),
            conversation.as_str().to_owned(),
            id.as_str().to_owned(),
        );
        self.run(move |conn| {
            let row: Option<MessageRow> = messages::table
                .filter(messages::app_id.eq(&app))
                .filter(messages::id.eq(&id))
                .filter(messages::conversation_id.eq(&conversation))
                .filter(messages::deleted_seq.is_null())
                .select(MessageRow::as_select())
                .first(conn)
                .optional()?;
            row.map(|r| {
                let version = r.version;
                r.into_domain().map(|value| Versioned { value, version })
            })
            .transpose()
        })
        .await
    }

    async fn list_messages(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        limit: usize,
        starting_after: Option<MessageId>,
    ) -> Result<Option<Vec<Message>>, RepositoryError> {
        let (app, conversation) = (app.as_str().to_owned(), conversation.as_str().to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            super::read_tx(&mut *conn, |tx| {
                let mut q = messages::table
                    .filter(messages::app_id.eq(&app))
                    .filter(messages::conversation_id.eq(&conversation))
                    .filter(messages::deleted_seq.is_null())
                    .into_boxed();
                if let Some(after) = &starting_after {
                    let place: Option<(i64, i64)> = messages::table
                        .filter(messages::app_id.eq(&app))
                        .filter(messages::id.eq(after.as_str()))
                        .filter(messages::conversation_id.eq(&conversation))
                        .filter(messages::deleted_seq.is_null())
                        .select((messages::created_at, messages::seq))
                        .first(tx)
                        .optional()?;
                    let Some((at, seq)) = place else {
                        return Ok(None);
                    };
                    // Keyset on (created_at, seq), newest first.
                    q = q
                        .filter(messages::created_at.le(at))
                        .filter(messages::created_at.lt(at).or(messages::seq.lt(seq)));
                }
                let rows: Vec<MessageRow> = q
                    .order((messages::created_at.desc(), messages::seq.desc()))
                    .limit(limit)
                    .select(MessageRow::as_select())
                    .load(tx)?;
                rows.into_iter()
                    .map(MessageRow::into_domain)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            })
        })
        .await
    }

    async fn update_message_recording(
        &self,
        app: &AppId,
        before: &Versioned<Message>,
        after: &Message,
        events: &[NewEvent],
    ) -> Result<(), RepositoryError> {
        let (app, version, after) = (app.as_str().to_owned(), before.version, after.clone());
        let events = events.to_vec();
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                super::lock_conversation(tx, &app, after.conversation_id.as_str())?;
                let updated: Option<i64> = diesel::update(
                    messages::table
                        .filter(messages::app_id.eq(&app))
                        .filter(messages::id.eq(after.id.as_str()))
                        .filter(messages::version.eq(version))
                        .filter(messages::deleted_seq.is_null()),
                )
                .set((
                    messages::text.eq(&after.text),
                    messages::content.eq(Some(encode_content(&after.content))),
                    messages::custom.eq(encode_custom(&after.custom)),
                    messages::edited_at.eq(after.edited_at),
                    messages::version.eq(messages::version + 1),
                ))
                .returning(messages::seq)
                .get_result(tx)
                .optional()?;
                let Some(seq) = updated else {
                    return Err(DbError::Conflict);
                };
                link_files(tx, &app, &after, true)?;
                // The conversation's copy of its last message follows the edit, when the edited
                // message is the last one.
                // From the stored row: its reactions may have changed since the edit's read.
                let row: MessageRow = messages::table
                    .find(seq)
                    .select(MessageRow::as_select())
                    .first(tx)?;
                diesel::update(
                    conversations::table
                        .find((app.as_str(), after.conversation_id.as_str()))
                        .filter(conversations::last_message_seq.eq(seq)),
                )
                .set(conversations::last_message.eq(row.to_json()))
                .execute(tx)?;
                super::events::record(tx, &app, &events)
            })
        })
        .await
    }

    async fn newest_read_by_move(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        user: &UserId,
        after: i64,
        until: i64,
    ) -> Result<Option<Message>, RepositoryError> {
        let (app, conversation, user) = (
            app.as_str().to_owned(),
            conversation.as_str().to_owned(),
            user.as_str().to_owned(),
        );
        self.run(move |conn| {
            let row: Option<MessageRow> = messages::table
                .filter(messages::app_id.eq(&app))
                .filter(messages::conversation_id.eq(&conversation))
                .filter(messages::deleted_seq.is_null())
                .filter(messages::created_at.gt(after))
                .filter(messages::created_at.le(until))
                .filter(
                    messages::sender_id
                        .is_null()
                        .or(messages::sender_id.ne(&user)),
                )
                .order((messages::created_at.desc(), messages::seq.desc()))
                .select(MessageRow::as_select())
                .first(conn)
                .optional()?;
            row.map(MessageRow::into_domain).transpose()
        })
        .await
    }

    async fn unread_counts(
        &self,
        app: &AppId,
        user: &UserId,
        items: &[(ConversationId, i64)],
    ) -> Result<Vec<i64>, RepositoryError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let (app, user) = (app.as_str().to_owned(), user.as_str().to_owned());
        let items: Vec<(String, i64)> = items
            .iter()
            .map(|(c, r)| (c.as_str().to_owned(), *r))
            .collect();
        self.run(move |conn| {
            // One read transaction; per conversation one count from the covering
            // (conversation, created_at) index, with the same cached statement. (A single query
            // with an OR per conversation becomes a multi-index OR, which visits every matching
            // message row in the table as well.)
            super::read_tx(&mut *conn, |c| {
                items
                    .iter()
                    .map(|(conversation, read_until)| {
                        messages::table
                            .filter(messages::app_id.eq(&app))
                            .filter(messages::conversation_id.eq(conversation))
                            .filter(messages::created_at.gt(*read_until))
                            .filter(messages::deleted_seq.is_null())
                            .filter(
                                messages::sender_id
                                    .is_null()
                                    .or(messages::sender_id.ne(&user)),
                            )
                            .count()
                            .get_result::<i64>(c)
                            .map_err(DbError::from)
                    })
                    .collect::<Result<Vec<i64>, DbError>>()
            })
        })
        .await
    }

    async fn delete_message_recording(
        &self,
        app: &AppId,
        conversation: &ConversationId,
        id: &MessageId,
        events: &[NewEvent],
    ) -> Result<bool, RepositoryError> {
        let events = events.to_vec();
        let (app, conversation, id) = (
            app.as_str().to_owned(),
            conversation.as_str().to_owned(),
            id.as_str().to_owned(),
        );
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                super::lock_conversation(tx, &app, &conversation)?;
                // A tombstone keeps the conversation's place in running listing walks; the
                // content is gone.
                let this = messages::table
                    .filter(messages::app_id.eq(&app))
                    .filter(messages::id.eq(&id))
                    .filter(messages::conversation_id.eq(&conversation))
                    .filter(messages::deleted_seq.is_null());
                if this
                    .select(messages::seq)
                    .first::<i64>(tx)
                    .optional()?
                    .is_none()
                {
                    return Ok(false);
                }
                let stamp = super::number_messages(tx, 0)?.stamp;
                let deleted = diesel::update(this)
                    .set((
                        messages::deleted_seq.eq(Some(stamp)),
                        messages::text.eq(""),
                        messages::custom.eq("{}"),
                        messages::content.eq(Some("[]")),
                        messages::reactions.eq("{}"),
                    ))
                    .execute(tx)?;
                if deleted == 0 {
                    return Ok(false);
                }
                // Its files are unused now (unless another message has them), its reactions gone.
                diesel::delete(
                    message_files::table
                        .filter(message_files::app_id.eq(&app))
                        .filter(message_files::message_id.eq(&id)),
                )
                .execute(tx)?;
                diesel::delete(
                    reactions::table
                        .filter(reactions::app_id.eq(&app))
                        .filter(reactions::message_id.eq(&id)),
                )
                .execute(tx)?;
                diesel::update(conversations::table.find((app.as_str(), conversation.as_str())))
                    .set(conversations::activity_seq.eq(Some(stamp)))
                    .execute(tx)?;
                refresh_last_message(tx, &app, &conversation)?;
                super::conversations::sync_participants(tx, &app, &conversation)?;
                super::events::record(tx, &app, &events)?;
                Ok(true)
            })
        })
        .await
    }
}
