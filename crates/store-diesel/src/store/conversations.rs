//! `ConversationRepository` on diesel: one row per conversation, one per participant, and
//! optimistic concurrency on the conversation's `version`.

use async_trait::async_trait;
use diesel::dsl;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable};
use parley_domain::events::NewEvent;
use parley_domain::{
    Access, AppId, Clock, Conversation, ConversationId, ConversationQuery, ConversationRepository,
    Direction, OrderBy, Page, Participant, Position, RepositoryError, Resume, Snapshot, Standing,
    SystemClock, UserId, Versioned, Walk,
};

use super::{DbConnection, Store};
use crate::error::DbError;
use crate::models::{
    encode_custom, encode_participant_rows, encode_welcome, ConversationRow, NewParticipantRow,
    ParticipantRow,
};
use crate::schema::{
    conversations, idempotency_keys, message_files, messages, participants, reactions, users,
};

/// A conversation's place from its columns: with messages, its last activity is its last
/// message's time.
pub(super) fn standing_of(
    created_at: i64,
    last_message_seq: Option<i64>,
    activity: i64,
) -> Standing {
    Standing {
        created_at,
        last_message_at: last_message_seq.map(|_| activity),
    }
}

fn load_one(
    conn: &mut DbConnection,
    app: &str,
    id: &str,
) -> Result<Option<Versioned<Conversation>>, DbError> {
    let row: Option<ConversationRow> = conversations::table
        .find((app, id))
        .select(ConversationRow::as_select())
        .first(conn)
        .optional()?;
    row.map(ConversationRow::into_versioned).transpose()
}

fn insert_participants(
    conn: &mut DbConnection,
    app: &AppId,
    c: &Conversation,
    only_new_since: Option<&Conversation>,
) -> Result<(), DbError> {
    let rows: Vec<NewParticipantRow> = c
        .participants
        .iter()
        .filter(|(user, _)| only_new_since.is_none_or(|b| !b.participants.contains_key(*user)))
        .map(|(user, p)| NewParticipantRow::new(app, &c.id, user, p))
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(participants::table)
            .values(&rows)
            .execute(conn)?;
        sync_participants(conn, app.as_str(), c.id.as_str())?;
    }
    Ok(())
}

/// Rewrites the conversation's copy of its participants from the participants table. Part of
/// every write transaction that changes a participant.
pub(crate) fn copy_participants(
    conn: &mut DbConnection,
    app: &str,
    conversation: &str,
) -> Result<(), DbError> {
    let rows = participant_rows_json(conn, app, conversation)?;
    diesel::update(conversations::table.find((app, conversation)))
        .set(conversations::participant_rows.eq(rows))
        .execute(conn)?;
    Ok(())
}

/// The JSON of the conversation's copy of its participants, from the participants table, for
/// a writer that sets it with other columns in one UPDATE.
pub(crate) fn participant_rows_json(
    conn: &mut DbConnection,
    app: &str,
    conversation: &str,
) -> Result<String, DbError> {
    let rows: Vec<ParticipantRow> = participants::table
        .filter(participants::app_id.eq(app))
        .filter(participants::conversation_id.eq(conversation))
        .select(ParticipantRow::as_select())
        .load(conn)?;
    Ok(encode_participant_rows(&rows))
}

/// Copies the conversation's sort and unread columns into its participations, which a user's
/// conversation list pages from. Part of every write transaction that changes them.
pub(crate) fn sync_participants(
    conn: &mut DbConnection,
    app: &str,
    conversation: &str,
) -> Result<(), DbError> {
    let row: Option<CopiedColumns> = conversations::table
        .find((app, conversation))
        .select((
            conversations::created_at,
            conversations::last_activity,
            conversations::activity_seq,
            conversations::last_message_seq,
            conversations::last_message_sender,
        ))
        .first(conn)
        .optional()?;
    match row {
        Some(columns) => write_participant_copies(conn, app, conversation, columns),
        None => Ok(()),
    }
}

/// The conversation's sort and unread columns: created_at, last_activity, activity_seq,
/// last_message_seq, last_message_sender.
pub(crate) type CopiedColumns = (i64, i64, Option<i64>, Option<i64>, Option<String>);

/// Writes these values of the conversation's columns into its participations (see
/// [`sync_participants`]), for a writer that knows them already.
pub(crate) fn write_participant_copies(
    conn: &mut DbConnection,
    app: &str,
    conversation: &str,
    (created_at, last_activity, activity_seq, last_seq, last_sender): CopiedColumns,
) -> Result<(), DbError> {
    diesel::update(
        participants::table
            .filter(participants::app_id.eq(app))
            .filter(participants::conversation_id.eq(conversation)),
    )
    .set((
        participants::conv_created_at.eq(created_at),
        participants::conv_last_activity.eq(last_activity),
        participants::conv_activity_seq.eq(activity_seq),
        participants::conv_last_message_seq.eq(last_seq),
        participants::conv_last_message_sender.eq(last_sender),
    ))
    .execute(conn)?;
    Ok(())
}

/// Narrows a boxed query to rows whose activity stamp `$col` the snapshot `$snap` sees
/// ([`Snapshot::sees`] in SQL), also rows without a stamp when `$nullable`. With nothing
/// running (always on SQLite) that is one comparison, with `xmax` (a snapshot taken by a
/// transaction with an ID of its own may have `xmin < xmax` and nothing listed as running).
macro_rules! seen {
    ($q:expr, $col:expr, $snap:expr, $nullable:expr) => {{
        let snap: &Snapshot = $snap;
        let nullable: bool = $nullable;
        match (snap.running.is_empty(), nullable) {
            (true, false) => $q.filter($col.lt(snap.xmax)),
            (true, true) => $q.filter($col.is_null().or($col.lt(snap.xmax))),
            (false, false) => $q.filter(
                $col.lt(snap.xmin)
                    .or($col.lt(snap.xmax).and($col.ne_all(snap.running.clone()))),
            ),
            (false, true) => $q.filter(
                $col.is_null()
                    .or($col.lt(snap.xmin))
                    .or($col.lt(snap.xmax).and($col.ne_all(snap.running.clone()))),
            ),
        }
    }};
}

/// Narrows a boxed query to rows whose activity stamp `$col` the snapshot `$snap` does not see:
/// written after it (or never, when `$nullable` lets rows without a stamp through).
macro_rules! unseen {
    ($q:expr, $col:expr, $snap:expr, $nullable:expr) => {{
        let snap: &Snapshot = $snap;
        let nullable: bool = $nullable;
        match (snap.running.is_empty(), nullable) {
            (true, false) => $q.filter($col.ge(snap.xmax)),
            (true, true) => $q.filter($col.is_null().or($col.ge(snap.xmax))),
            (false, false) => $q.filter(
                $col.ge(snap.xmin)
                    .and($col.ge(snap.xmax).or($col.eq_any(snap.running.clone()))),
            ),
            (false, true) => $q.filter(
                $col.is_null().or($col
                    .ge(snap.xmin)
                    .and($col.ge(snap.xmax).or($col.eq_any(snap.running.clone())))),
            ),
        }
    }};
}

/// A page in keyset order: `$q` (a boxed query: the app's conversations, or one user's
/// participations joined to their conversations) after the walk's position, ordered by `$key`
/// and `$id`, at most `limit` rows. `$seq` and `$activity` name its last-message and
/// last-activity columns. Diesel caches the statement by its SQL text, which varies only with
/// the order and with which filters are present.
macro_rules! keyset_page {
    ($q:expr, $query:expr, $after:expr, $key:expr, $id:expr, $seq:expr, $activity:expr) => {{
        let mut q = $q;
        // With messages, the last activity is the last message's time.
        if let Some(before) = $query.last_message_before {
            q = q.filter($seq.is_not_null()).filter($activity.lt(before));
        }
        if let Some(after) = $query.last_message_after {
            q = q.filter($seq.is_not_null()).filter($activity.gt(after));
        }
        match ($query.direction, $after) {
            (Direction::Desc, Some(Position { key, id })) => {
                q = q
                    .filter($key.le(*key))
                    .filter($key.lt(*key).or($id.lt(id.as_str().to_owned())));
            }
            (Direction::Asc, Some(Position { key, id })) => {
                q = q
                    .filter($key.ge(*key))
                    .filter($key.gt(*key).or($id.gt(id.as_str().to_owned())));
            }
            (_, None) => {}
        }
        q = match $query.direction {
            Direction::Desc => q.order(($key.desc(), $id.desc())),
            Direction::Asc => q.order(($key.asc(), $id.asc())),
        };
        q.limit(i64::try_from($query.limit).unwrap_or(i64::MAX))
    }};
}

/// One row of a page's statement: the conversation, its sort key (for one that moved after the
/// walk's snapshot, its current one: its place is worked out from its messages), the statement's
/// own snapshot, whether the list's user has a user record, and (for a user's list) how many
/// live messages newer than their readUntil others sent (their unread message count), and
/// whether the statement remembered the row as the page's end (`super::page_end`).
type PageRow = (
    ConversationRow,
    i64,
    super::StatementSnapshot,
    bool,
    Option<i64>,
    Option<bool>,
);

/// The page end column of the part of a page's statement that holds no moved conversation.
macro_rules! no_page_end {
    () => {
        None::<bool>.into_sql::<Nullable<Bool>>()
    };
}

/// The app's conversations as rows of a page's statement (see [`PageRow`]), `$key` being the
/// sort key's column and `$end` the page end column.
macro_rules! app_rows {
    ($app:expr, $key:expr, $end:expr) => {
        conversations::table
            .select((
                ConversationRow::as_select(),
                $key,
                super::statement_snapshot!(),
                true.into_sql::<Bool>(),
                None::<i64>.into_sql::<Nullable<BigInt>>(),
                $end,
            ))
            .filter(conversations::app_id.eq($app))
            .into_boxed()
    };
}

/// The app's conversations for a page, in one statement: with the walk's snapshot, those
/// untouched since it (by the order's covering index) and those that moved after it; without
/// one, the page as of the statement's own snapshot, which sees every row it reads (nothing has
/// moved).
macro_rules! app_page {
    ($conn:expr, $app:expr, $query:expr, $walk:expr, $key:expr, $remember:expr) => {{
        macro_rules! page {
            ($q:expr) => {
                keyset_page!(
                    $q,
                    $query,
                    $walk.after.as_ref(),
                    $key,
                    conversations::id,
                    conversations::last_message_seq,
                    conversations::last_activity
                )
            };
        }
        let end = super::page_end($key, conversations::id, $app, $query, $walk, $remember);
        let out: Vec<PageRow> = match &$walk.snapshot {
            None => page!(app_rows!($app, $key, end)).load($conn)?,
            Some(snap) => page!(seen!(
                app_rows!($app, $key, end),
                conversations::activity_seq,
                snap,
                true
            ))
            .union_all(unseen!(
                app_rows!($app, $key, no_page_end!()),
                conversations::activity_seq.assume_not_null(),
                snap,
                false
            ))
            .load($conn)?,
        };
        out
    }};
}

/// Narrows a boxed query of `$user`'s participations to the conversations unread for them: the
/// last message is someone else's (or a system message) and newer than their readUntil, which is
/// `Conversation::is_unread` in terms of the participation's copy of the conversation columns.
macro_rules! only_unread {
    ($q:expr, $user:expr) => {
        $q.filter(participants::conv_last_message_seq.is_not_null())
            .filter(participants::conv_last_activity.gt(participants::read_until))
            .filter(
                participants::conv_last_message_sender
                    .is_null()
                    .or(participants::conv_last_message_sender.ne($user.as_str().to_owned())),
            )
    };
}

/// A user's conversations as rows of a page's statement, as [`app_rows`] gives the app's: their
/// participations (access other than None, and with `unreads_only` only those whose last
/// message is someone else's and newer than their readUntil) joined to the conversations' rows,
/// and whether the user is on record.
macro_rules! member_rows {
    ($app:expr, $query:expr, $user:expr, $key:expr, $end:expr) => {{
        let user: &UserId = $user;
        let mut q = participants::table
            .inner_join(
                conversations::table.on(conversations::app_id
                    .eq(participants::app_id)
                    .and(conversations::id.eq(participants::conversation_id))),
            )
            .select((
                ConversationRow::as_select(),
                $key,
                super::statement_snapshot!(),
                dsl::exists(
                    users::table
                        .filter(users::app_id.eq($app))
                        .filter(users::id.eq(user.as_str())),
                ),
                // As the message store's `unread_counts` counts, from the (conversation,
                // created_at) index.
                messages::table
                    .filter(messages::app_id.eq(participants::app_id))
                    .filter(messages::conversation_id.eq(participants::conversation_id))
                    .filter(messages::created_at.gt(participants::read_until))
                    .filter(messages::deleted_seq.is_null())
                    .filter(
                        messages::sender_id
                            .is_null()
                            .or(messages::sender_id.ne(user.as_str())),
                    )
                    .select(dsl::count_star())
                    .single_value(),
                $end,
            ))
            .filter(participants::app_id.eq($app))
            .filter(participants::user_id.eq(user.as_str()))
            .filter(participants::access.ne(Access::None.as_str()))
            .into_boxed();
        if $query.unreads_only {
            q = only_unread!(q, user);
        }
        q
    }};
}

/// A user's conversations for a page, as [`app_page`] reads the app's, paged by the
/// participations' covering index.
macro_rules! member_page {
    ($conn:expr, $app:expr, $query:expr, $walk:expr, $user:expr, $key:expr, $remember:expr) => {{
        macro_rules! page {
            ($q:expr) => {
                keyset_page!(
                    $q,
                    $query,
                    $walk.after.as_ref(),
                    $key,
                    participants::conversation_id,
                    participants::conv_last_message_seq,
                    participants::conv_last_activity
                )
            };
        }
        let end = super::page_end(
            $key,
            participants::conversation_id,
            $app,
            $query,
            $walk,
            $remember,
        );
        let out: Vec<PageRow> = match &$walk.snapshot {
            None => page!(member_rows!($app, $query, $user, $key, end)).load($conn)?,
            Some(snap) => page!(seen!(
                member_rows!($app, $query, $user, $key, end),
                participants::conv_activity_seq,
                snap,
                true
            ))
            .union_all(unseen!(
                member_rows!($app, $query, $user, $key, no_page_end!()),
                participants::conv_activity_seq.assume_not_null(),
                snap,
                false
            ))
            .load($conn)?,
        };
        out
    }};
}

/// A page as read by its one statement, before the moved conversations are placed.
struct Read {
    /// The walk's snapshot, or the statement's own for a walk that starts here (None when the
    /// statement returned no row).
    snapshot: Option<Snapshot>,
    /// Whether the list's user is on record (None when the statement returned no row).
    known: Option<bool>,
    /// Conversations untouched since the snapshot, with their sort keys and (a user's list)
    /// unread message counts.
    page: Vec<(Versioned<Conversation>, i64, Option<i64>)>,
    /// Conversations that moved after the snapshot, with their unread message counts.
    moved: Vec<(Versioned<Conversation>, Option<i64>)>,
    /// The conversation the statement remembered as the page's end, if any (the row numbered
    /// `limit` or, with fewer, the last: rows past the limit are never evaluated).
    remembered: Option<ConversationId>,
}

/// The page's statement (see [`app_page`] and [`member_page`]), which also remembers the page's
/// end under `remember` (list key and time) where the backend keeps cursors in the database.
fn read_page(
    conn: &mut DbConnection,
    app: &str,
    query: &ConversationQuery,
    walk: &Walk,
    remember: Option<(&str, i64)>,
) -> Result<Read, DbError> {
    let rows = match (query.order_by, &query.member) {
        (OrderBy::LastActivity, None) => {
            app_page!(
                conn,
                app,
                query,
                walk,
                conversations::last_activity,
                remember
            )
        }
        (OrderBy::CreatedAt, None) => {
            app_page!(conn, app, query, walk, conversations::created_at, remember)
        }
        (OrderBy::LastActivity, Some(user)) => member_page!(
            conn,
            app,
            query,
            walk,
            user,
            participants::conv_last_activity,
            remember
        ),
        (OrderBy::CreatedAt, Some(user)) => member_page!(
            conn,
            app,
            query,
            walk,
            user,
            participants::conv_created_at,
            remember
        ),
    };
    let mut read = Read {
        snapshot: walk.snapshot.clone(),
        known: None,
        page: Vec::with_capacity(rows.len()),
        moved: Vec::new(),
        remembered: None,
    };
    for (row, key, snapshot, known, unread, end) in rows {
        if read.snapshot.is_none() {
            read.snapshot = Some(super::read_statement_snapshot(snapshot)?);
        }
        read.known = Some(known);
        // A row with a stamp the walk's snapshot does not see came from the statement's second
        // part: it moved after the snapshot (a participation carries its conversation's stamp).
        let moved = match (&walk.snapshot, row.activity_seq) {
            (Some(walk), Some(stamp)) => !walk.sees(stamp),
            _ => false,
        };
        let conversation = row.into_versioned()?;
        if end == Some(true) {
            read.remembered = Some(conversation.value.id.clone());
        }
        if moved {
            read.moved.push((conversation, unread));
        } else {
            read.page.push((conversation, key, unread));
        }
    }
    Ok(read)
}

/// One page of a list, placed as of the walk's snapshot (or, for a walk that starts here, the
/// snapshot of the page's statement); None when the list's user is not on record.
///
/// One statement reads it all when nothing moved since the snapshot (on PostgreSQL, one round
/// trip and no transaction: a statement sees one snapshot). Conversations untouched since the
/// snapshot come straight from the order's covering index; the few whose messages changed after
/// it are placed by their newest message as of the snapshot, which later statements still see
/// as it was (what they read of the messages is narrowed to the snapshot too).
///
/// With `remember` (list key and time), the backend may remember the page's end in the same
/// statement (`super::page_end`); the page then says so.
fn list_page(
    conn: &mut DbConnection,
    app: &str,
    query: &ConversationQuery,
    walk: &Walk,
    remember: Option<(&str, i64)>,
) -> Result<Option<Page>, DbError> {
    let read = read_page(conn, app, query, walk, remember)?;
    let (snapshot, known) = match (read.snapshot, read.known, &query.member) {
        (Some(snapshot), Some(known), _) => (snapshot, known),
        // No row: whether the user is on record, and a snapshot to report, on their own.
        (snapshot, _, Some(user)) => {
            let (current, known) = super::snapshot_knowing(conn, app, user.as_str())?;
            (snapshot.unwrap_or(current), known)
        }
        (Some(snapshot), None, None) => (snapshot, true),
        (None, _, None) => (super::snapshot(conn)?, true),
    };
    if !known {
        return Ok(None);
    }
    let mut items = read.page;
    if !read.moved.is_empty() {
        for (conversation, unread) in read.moved {
            let created_at = conversation.value.created_at;
            // A message existed at the snapshot when it was stored at or before it and not
            // deleted by then (deleted messages stay as tombstones with the stamp of their
            // deletion).
            let q = messages::table
                .filter(messages::app_id.eq(app))
                .filter(messages::conversation_id.eq(conversation.value.id.as_str()))
                .order((messages::created_at.desc(), messages::seq.desc()))
                .select(messages::created_at)
                .into_boxed();
            let q = seen!(q, super::message_stamp, &snapshot, false);
            let q = unseen!(q, messages::deleted_seq, &snapshot, true);
            let as_of: Option<i64> = q.first(conn).optional()?;
            if !query.matches(as_of) {
                continue;
            }
            let sort_key = query.sort_key(created_at, as_of);
            if walk
                .after
                .as_ref()
                .is_none_or(|p| query.is_after(sort_key, &conversation.value.id, p))
            {
                items.push((conversation, sort_key, unread));
            }
        }
    }
    // The statement's rows come in page order, but a UNION does not promise to keep it.
    items.sort_by(|(a, a_key, _), (b, b_key, _)| {
        let ordering =
            (a_key, a.value.id.as_str().as_bytes()).cmp(&(b_key, b.value.id.as_str().as_bytes()));
        match query.direction {
            Direction::Asc => ordering,
            Direction::Desc => ordering.reverse(),
        }
    });
    items.truncate(query.limit);
    // Any row the statement remembered is a right cursor for this walk (its key and the walk's
    // snapshot), but only the last one served ends the page.
    let end_remembered = items
        .last()
        .is_some_and(|(last, _, _)| read.remembered.as_ref() == Some(&last.value.id));
    let unread_counts = query.member.as_ref().map(|_| {
        items
            .iter()
            .map(|(_, _, unread)| unread.unwrap_or(0))
            .collect()
    });
    Ok(Some(Page {
        snapshot,
        items: items
            .into_iter()
            .map(|(c, key, _)| (c.value, key))
            .collect(),
        unread_counts,
        end_remembered,
    }))
}

#[async_trait]
impl ConversationRepository for Store {
    async fn find(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Option<Versioned<Conversation>>, RepositoryError> {
        let (app, id) = (app.as_str().to_owned(), id.as_str().to_owned());
        // One statement (the row carries its participants and last message): no transaction
        // needed, which on PostgreSQL saves two round trips.
        self.run(move |conn| load_one(conn, &app, &id)).await
    }

    async fn insert_recording(
        &self,
        app: &AppId,
        conversation: &Conversation,
        events: &[NewEvent],
    ) -> Result<(), RepositoryError> {
        let (app, c, events) = (app.clone(), conversation.clone(), events.to_vec());
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                // A fresh random version per incarnation: an update that read a deleted
                // conversation can never match a new one with the same ID.
                diesel::insert_into(conversations::table)
                    .values(ConversationRow::new(&app, &c, crate::fresh_version()))
                    .execute(tx)?;
                insert_participants(tx, &app, &c, None)?;
                super::events::record(tx, app.as_str(), &events)
            })
        })
        .await
    }

    async fn update_recording(
        &self,
        app: &AppId,
        before: &Versioned<Conversation>,
        after: &Conversation,
        events: &[NewEvent],
    ) -> Result<(), RepositoryError> {
        let (app, before, after) = (app.clone(), before.clone(), after.clone());
        let events = events.to_vec();
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
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
                            let this = participants::table
                                .filter(of_this)
                                .filter(participants::user_id.eq(user.as_str()));
                            diesel::update(this)
                                .set((
                                    participants::access.eq(p.access.as_str()),
                                    participants::notify.eq(p.notify.as_str()),
                                ))
                                .execute(tx)?;
                            // A PATCH sets readUntil exactly; a write that did not change it
                            // leaves what a send may have moved since the read.
                            if old.read_until != p.read_until {
                                diesel::update(this)
                                    .set(participants::read_until.eq(p.read_until))
                                    .execute(tx)?;
                            }
                            diesel::update(this.filter(participants::read_mark.lt(p.read_mark)))
                                .set(participants::read_mark.eq(p.read_mark))
                                .execute(tx)?;
                        }
                        _ => {}
                    }
                }
                insert_participants(tx, &app, &after, Some(&before.value))?;
                if before.value.participants != after.participants {
                    copy_participants(tx, app.as_str(), after.id.as_str())?;
                }
                super::events::record(tx, app.as_str(), &events)
            })
        })
        .await
    }

    async fn delete_recording(
        &self,
        app: &AppId,
        id: &ConversationId,
        events: &[NewEvent],
    ) -> Result<bool, RepositoryError> {
        let (app, id) = (app.as_str().to_owned(), id.as_str().to_owned());
        let events = events.to_vec();
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                super::lock_conversation(tx, &app, &id)?;
                // Explicit, so that correctness does not hinge on the foreign-key pragma.
                diesel::delete(
                    idempotency_keys::table
                        .filter(idempotency_keys::app_id.eq(&app))
                        .filter(idempotency_keys::conversation_id.eq(&id)),
                )
                .execute(tx)?;
                // The files of its messages become unused; its reactions go with it.
                diesel::delete(
                    message_files::table
                        .filter(message_files::app_id.eq(&app))
                        .filter(
                            message_files::message_id.eq_any(
                                messages::table
                                    .filter(messages::app_id.eq(&app))
                                    .filter(messages::conversation_id.eq(&id))
                                    .select(messages::id),
                            ),
                        ),
                )
                .execute(tx)?;
                diesel::delete(
                    reactions::table
                        .filter(reactions::app_id.eq(&app))
                        .filter(reactions::conversation_id.eq(&id)),
                )
                .execute(tx)?;
                diesel::delete(
                    messages::table
                        .filter(messages::app_id.eq(&app))
                        .filter(messages::conversation_id.eq(&id)),
                )
                .execute(tx)?;
                diesel::delete(
                    participants::table
                        .filter(participants::app_id.eq(&app))
                        .filter(participants::conversation_id.eq(&id)),
                )
                .execute(tx)?;
                let deleted =
                    diesel::delete(conversations::table.find((app.as_str(), id.as_str())))
                        .execute(tx)?;
                if deleted > 0 {
                    super::events::record(tx, &app, &events)?;
                }
                Ok(deleted > 0)
            })
        })
        .await
    }

    async fn participation(
        &self,
        app: &AppId,
        id: &ConversationId,
        user: &UserId,
    ) -> Result<Option<Participant>, RepositoryError> {
        let (app, id, user) = (
            app.as_str().to_owned(),
            id.as_str().to_owned(),
            user.as_str().to_owned(),
        );
        self.run(move |conn| {
            let row: Option<ParticipantRow> = participants::table
                .find((app.as_str(), id.as_str(), user.as_str()))
                .select(ParticipantRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(|r| r.into_domain()).transpose()?.map(|(_, p)| p))
        })
        .await
    }

    async fn snapshot(&self) -> Result<Snapshot, RepositoryError> {
        self.run(super::snapshot).await
    }

    async fn standing(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Option<Standing>, RepositoryError> {
        let (app, id) = (app.as_str().to_owned(), id.as_str().to_owned());
        self.run(move |conn| {
            let row: Option<(i64, Option<i64>, i64)> = conversations::table
                .find((app.as_str(), id.as_str()))
                .select((
                    conversations::created_at,
                    conversations::last_message_seq,
                    conversations::last_activity,
                ))
                .first(conn)
                .optional()?;
            Ok(row.map(|(created_at, seq, activity)| standing_of(created_at, seq, activity)))
        })
        .await
    }

    async fn list(
        &self,
        app: &AppId,
        query: &ConversationQuery,
        walk: &Walk,
    ) -> Result<Option<Page>, RepositoryError> {
        let (app, query, walk) = (app.as_str().to_owned(), query.clone(), walk.clone());
        self.run(move |conn| list_page(conn, &app, &query, &walk, None))
            .await
    }

    async fn resume(
        &self,
        app: &AppId,
        id: &ConversationId,
        query: &ConversationQuery,
        list_key: &str,
    ) -> Result<Option<Resume>, RepositoryError> {
        let (app, id, list) = (
            app.as_str().to_owned(),
            id.as_str().to_owned(),
            list_key.to_owned(),
        );
        let member = query.member.as_ref().map(|m| m.as_str().to_owned());
        self.run(move |conn| super::resume(conn, &app, &id, member.as_deref(), &list))
            .await
    }

    async fn list_remembering(
        &self,
        app: &AppId,
        query: &ConversationQuery,
        walk: &Walk,
        list_key: &str,
    ) -> Result<Option<Page>, RepositoryError> {
        let (app, query, walk) = (app.as_str().to_owned(), query.clone(), walk.clone());
        let list = list_key.to_owned();
        let now = SystemClock.now_ms();
        self.run(move |conn| {
            let page = list_page(conn, &app, &query, &walk, Some((&list, now)))?;
            super::sweep_cursors(conn, now)?;
            Ok(page)
        })
        .await
    }
}
