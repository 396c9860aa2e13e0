//! `ConversationRepository` on diesel: one row per conversation, one per participant, and
//! optimistic concurrency on the conversation's `version`.

use async_trait::async_trait;
use diesel::prelude::*;
use parley_domain::{
    AppId, Conversation, ConversationId, ConversationRepository, RepositoryError, Versioned,
};

use crate::error::DbError;
use crate::models::{encode_custom, encode_welcome, ConversationRow, ParticipantRow};
use crate::schema::{conversations, participants};
use crate::{DbConnection, DieselStore};

fn load(
    conn: &mut DbConnection,
    app: &str,
    id: &str,
) -> Result<Option<Versioned<Conversation>>, DbError> {
    let Some(row) = conversations::table
        .find((app, id))
        .select(ConversationRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let parts = participants::table
        .filter(participants::app_id.eq(app))
        .filter(participants::conversation_id.eq(id))
        .select(ParticipantRow::as_select())
        .load(conn)?;
    let version = row.version;
    Ok(Some(Versioned {
        value: row.into_domain(parts)?,
        version,
    }))
}

fn insert_participants(
    conn: &mut DbConnection,
    app: &AppId,
    c: &Conversation,
    only_new_since: Option<&Conversation>,
) -> Result<(), DbError> {
    let rows: Vec<ParticipantRow> = c
        .participants
        .iter()
        .filter(|(user, _)| only_new_since.is_none_or(|b| !b.participants.contains_key(*user)))
        .map(|(user, p)| ParticipantRow::new(app, &c.id, user, p))
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(participants::table)
            .values(&rows)
            .execute(conn)?;
    }
    Ok(())
}

#[async_trait]
impl ConversationRepository for DieselStore {
    async fn find(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Option<Versioned<Conversation>>, RepositoryError> {
        let (app, id) = (app.as_str().to_owned(), id.as_str().to_owned());
        // One read transaction: the row and its participants come from one snapshot.
        self.run(move |conn| conn.transaction(|c| load(c, &app, &id)))
            .await
    }

    async fn insert(
        &self,
        app: &AppId,
        conversation: &Conversation,
    ) -> Result<(), RepositoryError> {
        let (app, c) = (app.clone(), conversation.clone());
        self.run_write(move |conn| {
            conn.immediate_transaction(|tx| {
                diesel::insert_into(conversations::table)
                    .values(ConversationRow::new(&app, &c, 1))
                    .execute(tx)?;
                insert_participants(tx, &app, &c, None)
            })
        })
        .await
    }

    async fn update(
        &self,
        app: &AppId,
        before: &Versioned<Conversation>,
        after: &Conversation,
    ) -> Result<(), RepositoryError> {
        let (app, before, after) = (app.clone(), before.clone(), after.clone());
        self.run_write(move |conn| {
            conn.immediate_transaction(|tx| {
                let target = conversations::table
                    .find((app.as_str(), before.value.id.as_str()))
                    .filter(conversations::version.eq(before.version));
                let updated = diesel::update(target)
                    .set((
                        conversations::subject.eq(&after.subject),
                        conversations::topic_id.eq(&after.topic_id),
                        conversations::photo_url.eq(&after.photo_url),
                        conversations::welcome_messages.eq(encode_welcome(&after.welcome_messages)),
                        conversations::custom.eq(encode_custom(&after.custom)),
                        conversations::version.eq(conversations::version + 1),
                    ))
                    .execute(tx)?;
                if updated == 0 {
                    return Err(DbError::Conflict);
                }
                let of_this = participants::app_id
                    .eq(app.as_str())
                    .and(participants::conversation_id.eq(after.id.as_str()));
                for user in before.value.participants.keys() {
                    if !after.participants.contains_key(user) {
                        diesel::delete(
                            participants::table
                                .filter(of_this)
                                .filter(participants::user_id.eq(user.as_str())),
                        )
                        .execute(tx)?;
                    }
                }
                for (user, p) in &after.participants {
                    match before.value.participants.get(user) {
                        Some(old) if old != p => {
                            diesel::update(
                                participants::table
                                    .filter(of_this)
                                    .filter(participants::user_id.eq(user.as_str())),
                            )
                            .set((
                                participants::access.eq(p.access.as_str()),
                                participants::notify.eq(p.notify.as_str()),
                            ))
                            .execute(tx)?;
                        }
                        _ => {}
                    }
                }
                insert_participants(tx, &app, &after, Some(&before.value))
            })
        })
        .await
    }

    async fn delete(&self, app: &AppId, id: &ConversationId) -> Result<bool, RepositoryError> {
        let (app, id) = (app.as_str().to_owned(), id.as_str().to_owned());
        self.run_write(move |conn| {
            conn.immediate_transaction(|tx| {
                // Explicit, so that correctness does not hinge on the foreign-key pragma.
                diesel::delete(
                    participants::table
                        .filter(participants::app_id.eq(&app))
                        .filter(participants::conversation_id.eq(&id)),
                )
                .execute(tx)?;
                let deleted =
                    diesel::delete(conversations::table.find((app.as_str(), id.as_str())))
                        .execute(tx)?;
                Ok(deleted > 0)
            })
        })
        .await
    }
}
