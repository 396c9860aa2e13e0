//! `MessageRepository::import_messages` on diesel: history with its original times, in one
//! write transaction per request (one multi-row insert), with no events.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use parley_domain::{AppId, ConversationId, ImportRecord, MessageId};

use super::DbConnection;
use crate::error::DbError;
use crate::models::{MessageRow, NewMessageRow};
use crate::schema::{conversations, idempotency_keys, messages, participants};

fn corrupt(e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(e.to_string())
}

/// Rows per multi-row statement of keys, well below SQLite's limit on bound variables.
const KEY_CHUNK: usize = 200;

/// The IDs that the given idempotency keys answer, for those still remembered: import keys
/// always, send keys from `since` on. Expired send keys are deleted so that the import can take
/// them over. One query per chunk of keys rather than one per item.
fn remembered(
    tx: &mut DbConnection,
    (app, conversation): (&str, &str),
    keys: &[&str],
    since: i64,
) -> Result<HashMap<String, MessageId>, DbError> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(KEY_CHUNK) {
        let seen: Vec<(String, String, i64, bool)> = idempotency_keys::table
            .filter(idempotency_keys::app_id.eq(app))
            .filter(idempotency_keys::conversation_id.eq(conversation))
            .filter(idempotency_keys::key.eq_any(chunk))
            .select((
                idempotency_keys::key,
                idempotency_keys::message_id,
                idempotency_keys::created_at,
                idempotency_keys::permanent,
            ))
            .load(tx)?;
        for (key, first, at, permanent) in seen {
            if permanent || at >= since {
                out.insert(key, MessageId::new(first).map_err(corrupt)?);
            } else {
                diesel::delete(idempotency_keys::table.find((app, conversation, key.as_str())))
                    .execute(tx)?;
            }
        }
    }
    Ok(out)
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
    let Some((last_seq, last_activity, created_at)) =
        super::messages::locked_head(tx, app_s, conv_s)?
    else {
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
    let keys: Vec<&str> = records
        .iter()
        .filter_map(|r| r.record.idempotency_key.as_deref())
        .collect();
    let mut known = if keys.is_empty() {
        HashMap::new()
    } else {
        remembered(tx, (app_s, conv_s), &keys, idempotent_since)?
    };
    let mut ids = Vec::with_capacity(records.len());
    let mut to_store = Vec::with_capacity(records.len());
    let mut new_keys = Vec::new();
    for import in records {
        let message = import.message();
        if let Some(key) = &import.record.idempotency_key {
            if let Some(first) = known.get(key) {
                ids.push(first.clone());
                continue;
            }
            // The same key later in this request answers this message.
            known.insert(key.clone(), message.id.clone());
            new_keys.push((
                idempotency_keys::app_id.eq(app_s),
                idempotency_keys::conversation_id.eq(conv_s),
                idempotency_keys::key.eq(key.as_str()),
                idempotency_keys::message_id.eq(message.id.as_str()),
                idempotency_keys::created_at.eq(message.created_at),
                idempotency_keys::permanent.eq(true),
            ));
        }
        ids.push(message.id.clone());
        to_store.push(import);
    }
    if to_store.is_empty() {
        return Ok(Some(ids));
    }
    // A concurrent import of the same key makes this a unique violation: Conflict.
    for chunk in new_keys.chunks(KEY_CHUNK) {
        diesel::insert_into(idempotency_keys::table)
            .values(chunk)
            .execute(tx)?;
    }
    let numbers = super::number_messages(tx, to_store.len())?;
    let rows: Vec<NewMessageRow> = to_store
        .iter()
        .zip(&numbers.seqs)
        .map(|(import, seq)| NewMessageRow::new(app, import.message(), *seq, numbers.row_xid))
        .collect();
    diesel::insert_into(messages::table)
        .values(&rows)
        .execute(tx)?;
    for import in &to_store {
        super::messages::link_files(tx, app_s, import.message(), false)?;
    }

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
    // than the current last message; then the conversation moves, as of this transaction's
    // activity stamp.
    let newest = to_store
        .iter()
        .zip(numbers.seqs.iter().copied())
        .max_by_key(|(import, seq)| (import.message().created_at, *seq));
    if let Some((import, seq)) = newest {
        let message = import.message();
        let newer = last_seq.is_none_or(|_| message.created_at >= last_activity);
        if newer {
            let moved_at = numbers.stamp;
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
