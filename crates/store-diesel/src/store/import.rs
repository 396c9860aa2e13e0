//! `MessageRepository::import_messages` on diesel: history with its original times, in one
//! write transaction per request (one multi-row insert), with no events.

use std::collections::{BTreeMap, HashSet};

use diesel::prelude::*;
use parley_domain::{AppId, ConversationId, ImportRecord, MessageId};

use super::messages::next_seq;
use super::DbConnection;
use crate::error::DbError;
use crate::models::{MessageRow, NewMessageRow};
use crate::schema::{conversations, idempotency_keys, messages, participants};

fn corrupt(e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(e.to_string())
}

/// The ID an idempotency key answers, if it is still remembered: import keys always, send
/// keys from `since` on. An expired send key is deleted so that the import can take it over.
fn remembered(
    tx: &mut DbConnection,
    (app, conversation, key): (&str, &str, &str),
    since: i64,
) -> Result<Option<MessageId>, DbError> {
    let this_key = idempotency_keys::table.find((app, conversation, key));
    let seen: Option<(String, i64, bool)> = this_key
        .select((
            idempotency_keys::message_id,
            idempotency_keys::created_at,
            idempotency_keys::permanent,
        ))
        .first(tx)
        .optional()?;
    match seen {
        Some((first, at, permanent)) if permanent || at >= since => {
            Ok(Some(MessageId::new(first).map_err(corrupt)?))
        }
        Some(_) => {
            diesel::delete(this_key).execute(tx)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Imports `records` into the conversation; `None` when it does not exist.
pub(crate) fn import_all(
    tx: &mut DbConnection,
    app: &AppId,
    conversation: &ConversationId,
    records: &[ImportRecord],
    idempotent_since: i64,
) -> Result<Option<Vec<MessageId>>, DbError> {
    let (app_s, conv_s) = (app.as_str(), conversation.as_str());
    super::lock_conversation(tx, app_s, conv_s)?;
    let found: Option<(Option<i64>, i64, i64)> = conversations::table
        .find((app_s, conv_s))
        .select((
            conversations::last_message_seq,
            conversations::last_activity,
            conversations::created_at,
        ))
        .first(tx)
        .optional()?;
    let Some((last_seq, last_activity, created_at)) = found else {
        return Ok(None);
    };
    // Senders and readers must still be on record (the service checked a read before).
    let on_record: HashSet<String> = participants::table
        .filter(participants::app_id.eq(app_s))
        .filter(participants::conversation_id.eq(conv_s))
        .select(participants::user_id)
        .load::<String>(tx)?
        .into_iter()
        .collect();
    let known = |u: &parley_domain::UserId| on_record.contains(u.as_str());
    if records.iter().any(|r| {
        r.message().sender.as_ref().is_some_and(|s| !known(s)) || !r.read_by.iter().all(known)
    }) {
        return Err(DbError::Conflict);
    }
    let mut ids = Vec::with_capacity(records.len());
    let mut to_store = Vec::with_capacity(records.len());
    for import in records {
        let message = import.message();
        if let Some(key) = &import.record.idempotency_key {
            if let Some(first) = remembered(tx, (app_s, conv_s, key), idempotent_since)? {
                ids.push(first);
                continue;
            }
            // A concurrent import of the same key makes this a unique violation: Conflict.
            diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::app_id.eq(app_s),
                    idempotency_keys::conversation_id.eq(conv_s),
                    idempotency_keys::key.eq(key.as_str()),
                    idempotency_keys::message_id.eq(message.id.as_str()),
                    idempotency_keys::created_at.eq(message.created_at),
                    idempotency_keys::permanent.eq(true),
                ))
                .execute(tx)?;
        }
        ids.push(message.id.clone());
        to_store.push(import);
    }
    if to_store.is_empty() {
        return Ok(Some(ids));
    }
    let count = i64::try_from(to_store.len()).unwrap_or(i64::MAX);
    let first = next_seq(tx, count)?;
    let rows: Vec<NewMessageRow> = to_store
        .iter()
        .zip(first..)
        .map(|(import, seq)| NewMessageRow::new(app, import.message(), seq))
        .collect();
    diesel::insert_into(messages::table)
        .values(&rows)
        .execute(tx)?;

    // readBy: each reader's readUntil (and read mark) moves forward to their newest message.
    let mut reads: BTreeMap<&str, i64> = BTreeMap::new();
    for import in &to_store {
        for reader in &import.read_by {
            let at = reads.entry(reader.as_str()).or_insert(i64::MIN);
            *at = (*at).max(import.message().created_at);
        }
    }
    for (reader, at) in &reads {
        let this = participants::table
            .filter(participants::app_id.eq(app_s))
            .filter(participants::conversation_id.eq(conv_s))
            .filter(participants::user_id.eq(*reader));
        diesel::update(this.filter(participants::read_until.lt(*at)))
            .set(participants::read_until.eq(*at))
            .execute(tx)?;
        diesel::update(this.filter(participants::read_mark.lt(*at)))
            .set(participants::read_mark.eq(*at))
            .execute(tx)?;
    }
    if !reads.is_empty() {
        super::conversations::copy_participants(tx, app_s, conv_s)?;
    }

    // The last message is the newest by (created_at, seq): an imported one only if it is newer
    // than the current last message; then the conversation moves, as of a fresh seq.
    let newest = to_store
        .iter()
        .zip(first..)
        .max_by_key(|(import, seq)| (import.message().created_at, *seq));
    if let Some((import, seq)) = newest {
        let message = import.message();
        let newer = last_seq.is_none_or(|_| message.created_at >= last_activity);
        if newer {
            let moved_at = first + count - 1;
            let row = MessageRow::new(message);
            diesel::update(conversations::table.find((app_s, conv_s)))
                .set((
                    conversations::last_message_seq.eq(Some(seq)),
                    conversations::last_activity.eq(row.created_at),
                    conversations::activity_seq.eq(Some(moved_at)),
                    conversations::last_message_sender.eq(&row.sender_id),
                    conversations::last_message.eq(Some(row.to_json())),
                ))
                .execute(tx)?;
            super::conversations::write_participant_copies(
                tx,
                app_s,
                conv_s,
                (
                    created_at,
                    row.created_at,
                    Some(moved_at),
                    Some(seq),
                    row.sender_id.clone(),
                ),
            )?;
        }
    }
    Ok(Some(ids))
}
