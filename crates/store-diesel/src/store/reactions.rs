//! `ReactionRepository` on diesel: one row per reaction, and the message's summary (its
//! `reactions` JSON, also in the conversation's copy of its last message) rewritten by the same
//! transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use diesel::prelude::*;
use parley_domain::events::NewEvent;
use parley_domain::reactions::{Added, Emoji, ReactionRepository};
use parley_domain::{AppId, ConversationId, MessageId, ReactionSummary, RepositoryError, UserId};

use super::{DbConnection, Store};
use crate::error::DbError;
use crate::models::MessageRow;
use crate::schema::{conversations, messages, reactions};

fn corrupt(e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(e.to_string())
}

/// A message's reactions summary.
type Summary = BTreeMap<String, ReactionSummary>;

/// The live message's seq and reactions summary.
fn live_message(
    tx: &mut DbConnection,
    app: &str,
    conversation: &str,
    message: &str,
) -> Result<Option<(i64, Summary)>, DbError> {
    let found: Option<(i64, String)> = messages::table
        .filter(messages::app_id.eq(app))
        .filter(messages::id.eq(message))
        .filter(messages::conversation_id.eq(conversation))
        .filter(messages::deleted_seq.is_null())
        .select((messages::seq, messages::reactions))
        .first(tx)
        .optional()?;
    found
        .map(|(seq, json)| Ok((seq, serde_json::from_str(&json).map_err(corrupt)?)))
        .transpose()
}

/// Recomputes `emoji`'s entry of the summary from the rows and writes the summary back, into the
/// message and, when it is the conversation's last message, into the conversation's copy.
fn write_summary(
    tx: &mut DbConnection,
    (app, conversation, message): (&str, &str, &str),
    seq: i64,
    mut summary: Summary,
    emoji: &str,
) -> Result<(), DbError> {
    let (count, first): (i64, Option<i64>) = reactions::table
        .filter(reactions::app_id.eq(app))
        .filter(reactions::message_id.eq(message))
        .filter(reactions::emoji.eq(emoji))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(reactions::created_at),
        ))
        .first(tx)?;
    match first {
        Some(created_at) if count > 0 => {
            summary.insert(
                emoji.to_owned(),
                ReactionSummary {
                    count: u64::try_from(count).unwrap_or(0),
                    created_at,
                },
            );
        }
        _ => {
            summary.remove(emoji);
        }
    }
    let json = serde_json::to_string(&summary).map_err(corrupt)?;
    diesel::update(messages::table.find(seq))
        .set(messages::reactions.eq(&json))
        .execute(tx)?;
    let row: MessageRow = messages::table
        .find(seq)
        .select(MessageRow::as_select())
        .first(tx)?;
    diesel::update(
        conversations::table
            .find((app, conversation))
            .filter(conversations::last_message_seq.eq(seq)),
    )
    .set(conversations::last_message.eq(row.to_json()))
    .execute(tx)?;
    Ok(())
}

#[async_trait]
impl ReactionRepository for Store {
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
        let (app, conversation, message) = (
            app.as_str().to_owned(),
            conversation.as_str().to_owned(),
            message.as_str().to_owned(),
        );
        let (emoji, user, events) = (
            emoji.as_str().to_owned(),
            user.as_str().to_owned(),
            events.to_vec(),
        );
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                super::lock_conversation(tx, &app, &conversation)?;
                let Some((seq, summary)) = live_message(tx, &app, &conversation, &message)? else {
                    return Ok(Added::NoMessage);
                };
                let this = reactions::table.find((&app, &message, &emoji, &user));
                if this
                    .select(reactions::created_at)
                    .first::<i64>(tx)
                    .optional()?
                    .is_some()
                {
                    return Ok(Added::AlreadyThere);
                }
                if !summary.contains_key(&emoji) && summary.len() >= max_distinct {
                    return Ok(Added::LimitReached);
                }
                diesel::insert_into(reactions::table)
                    .values((
                        reactions::app_id.eq(&app),
                        reactions::message_id.eq(&message),
                        reactions::emoji.eq(&emoji),
                        reactions::user_id.eq(&user),
                        reactions::conversation_id.eq(&conversation),
                        reactions::created_at.eq(now),
                    ))
                    .execute(tx)?;
                write_summary(tx, (&app, &conversation, &message), seq, summary, &emoji)?;
                super::events::record(tx, &app, &events)?;
                Ok(Added::Added)
            })
        })
        .await
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
        let (app, conversation, message) = (
            app.as_str().to_owned(),
            conversation.as_str().to_owned(),
            message.as_str().to_owned(),
        );
        let (emoji, user, events) = (
            emoji.as_str().to_owned(),
            user.as_str().to_owned(),
            events.to_vec(),
        );
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                super::lock_conversation(tx, &app, &conversation)?;
                let Some((seq, summary)) = live_message(tx, &app, &conversation, &message)? else {
                    return Ok(None);
                };
                let removed =
                    diesel::delete(reactions::table.find((&app, &message, &emoji, &user)))
                        .execute(tx)?;
                if removed == 0 {
                    return Ok(Some(false));
                }
                write_summary(tx, (&app, &conversation, &message), seq, summary, &emoji)?;
                super::events::record(tx, &app, &events)?;
                Ok(Some(true))
            })
        })
        .await
    }

    async fn list_reactions(
        &self,
        app: &AppId,
        message: &MessageId,
        emoji: &Emoji,
        limit: usize,
        starting_after: Option<UserId>,
    ) -> Result<Option<Vec<(UserId, i64)>>, RepositoryError> {
        let (app, message, emoji) = (
            app.as_str().to_owned(),
            message.as_str().to_owned(),
            emoji.as_str().to_owned(),
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            super::read_tx(&mut *conn, |tx| {
                let mut q = reactions::table
                    .filter(reactions::app_id.eq(&app))
                    .filter(reactions::message_id.eq(&message))
                    .filter(reactions::emoji.eq(&emoji))
                    .into_boxed();
                if let Some(after) = &starting_after {
                    let at: Option<i64> = reactions::table
                        .find((&app, &message, &emoji, after.as_str()))
                        .select(reactions::created_at)
                        .first(tx)
                        .optional()?;
                    let Some(at) = at else {
                        return Ok(None);
                    };
                    q = q.filter(reactions::created_at.ge(at)).filter(
                        reactions::created_at
                            .gt(at)
                            .or(reactions::user_id.gt(after.as_str().to_owned())),
                    );
                }
                let rows: Vec<(String, i64)> = q
                    .order((reactions::created_at.asc(), reactions::user_id.asc()))
                    .limit(limit)
                    .select((reactions::user_id, reactions::created_at))
                    .load(tx)?;
                rows.into_iter()
                    .map(|(u, at)| Ok((UserId::new(u).map_err(corrupt)?, at)))
                    .collect::<Result<Vec<_>, DbError>>()
                    .map(Some)
            })
        })
        .await
    }
}
