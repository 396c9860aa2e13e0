//! Listing conversations: the query, its order, and the cursor that keeps paging stable.
//!
//! Paging is keyset paging on (sort key, ID). Sorting by last activity has a key that moves while
//! a client walks the pages, so every walk is evaluated against a *snapshot* ([`Snapshot`]):
//! which writes had committed when its first page was served. A conversation that received
//! messages after the snapshot is placed by its last message as of the snapshot, so it is listed exactly once,
//! in its old position. The snapshot and the position of each page's last item are remembered by
//! a [`CursorStore`](crate::ports::CursorStore), keyed by that item's ID, because a TalkJS cursor
//! (`startingAfter`) is nothing but a conversation ID.

use crate::conversation::Conversation;
use crate::ids::{ConversationId, UserId};

/// The default and the bounds of `limit`.
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderBy {
    /// The last message's time, or the creation time when there is none.
    #[default]
    LastActivity,
    CreatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Desc,
    Asc,
}

/// `GET /conversations` with its query parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationQuery {
    pub limit: usize,
    pub starting_after: Option<ConversationId>,
    /// Keep conversations whose last message is strictly older than this (Unix ms).
    pub last_message_before: Option<i64>,
    /// Keep conversations whose last message is strictly newer than this (Unix ms).
    pub last_message_after: Option<i64>,
    pub order_by: OrderBy,
    pub direction: Direction,
    /// Only the conversations this user is on record in (with access other than `None`).
    pub member: Option<UserId>,
    /// With `member`: only the conversations with a message unread for them.
    pub unreads_only: bool,
}

impl Default for ConversationQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            starting_after: None,
            last_message_before: None,
            last_message_after: None,
            order_by: OrderBy::default(),
            direction: Direction::default(),
            member: None,
            unreads_only: false,
        }
    }
}

impl ConversationQuery {
    /// Identifies the list a cursor belongs to: everything but `limit` and `startingAfter`.
    pub fn list_key(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{}",
            self.order_by,
            self.direction,
            self.last_message_before,
            self.last_message_after,
            self.member.as_ref().map(UserId::as_str),
            self.unreads_only
        )
    }

    /// Whether a conversation whose last message was at `last_message_at` passes the filters.
    /// A conversation without messages never passes a filter on them.
    pub fn matches(&self, last_message_at: Option<i64>) -> bool {
        let before = self
            .last_message_before
            .is_none_or(|b| last_message_at.is_some_and(|t| t < b));
        let after = self
            .last_message_after
            .is_none_or(|a| last_message_at.is_some_and(|t| t > a));
        before && after
    }

    /// The sort key of a conversation in this order.
    pub fn sort_key(&self, created_at: i64, last_message_at: Option<i64>) -> i64 {
        match self.order_by {
            OrderBy::CreatedAt => created_at,
            OrderBy::LastActivity => last_message_at.unwrap_or(created_at),
        }
    }

    /// Whether (key, id) comes strictly after `position` in this order.
    pub fn is_after(&self, key: i64, id: &ConversationId, position: &Position) -> bool {
        let ordering =
            (key, id.as_str().as_bytes()).cmp(&(position.key, position.id.as_str().as_bytes()));
        match self.direction {
            Direction::Asc => ordering.is_gt(),
            Direction::Desc => ordering.is_lt(),
        }
    }
}

/// Where a conversation stands in a list: its sort key and ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: i64,
    pub id: ConversationId,
}

/// Which writes a walk sees. Every write that moves a conversation (a send, a deletion, an
/// import of a newer message) stamps what it writes with a number; a snapshot sees the stamps
/// below `xmin`, and those below `xmax` that are not `running`. On a store with one writer the
/// stamp is a counter and a snapshot sees everything up to its value ([`Snapshot::counter`]); on
/// PostgreSQL the stamp is the writing transaction's ID and the snapshot is the database's own
/// (`pg_current_snapshot`), so a walk sees exactly what its first page's transaction saw, and
/// so does every later page, on any server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub xmin: i64,
    pub xmax: i64,
    /// Stamps in `xmin..xmax` of writes that had not committed, ascending.
    pub running: Vec<i64>,
}

impl Snapshot {
    /// Everything stamped up to `value` of a counter.
    #[must_use]
    pub fn counter(value: i64) -> Self {
        Self {
            xmin: value.saturating_add(1),
            xmax: value.saturating_add(1),
            running: Vec::new(),
        }
    }

    /// Whether a write with this stamp had committed as of the snapshot.
    #[must_use]
    pub fn sees(&self, stamp: i64) -> bool {
        stamp < self.xmin || (stamp < self.xmax && self.running.binary_search(&stamp).is_err())
    }

    /// PostgreSQL's text form of a snapshot, `xmin:xmax:xip,...`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().splitn(3, ':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let mut running = parts
            .next()?
            .split(',')
            .filter(|x| !x.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<i64>, _>>()
            .ok()?;
        running.sort_unstable();
        (xmin <= xmax).then_some(Self {
            xmin,
            xmax,
            running,
        })
    }
}

impl std::fmt::Display for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let running: Vec<String> = self.running.iter().map(i64::to_string).collect();
        write!(f, "{}:{}:{}", self.xmin, self.xmax, running.join(","))
    }
}

/// What a page request is evaluated against: the walk's snapshot, and the position to continue
/// after (none for the first page). A walk that starts now has no snapshot yet: the store takes
/// its current one, in the same read as the page, and reports it with the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    pub snapshot: Option<Snapshot>,
    pub after: Option<Position>,
}

/// One page of a list: the conversations with their sort keys, and the snapshot they were
/// placed as of (the walk's, or the store's current one for a walk that starts with this page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub snapshot: Snapshot,
    pub items: Vec<(Conversation, i64)>,
    /// For a user's list, each item's unread message count, when the store counted them in the
    /// page's own read (one round trip less on PostgreSQL); otherwise the message store is asked.
    pub unread_counts: Option<Vec<i64>>,
    /// Whether the store already remembered the page's end, with its sort key and `snapshot`,
    /// for the list key it was given (see `ConversationRepository::list_remembering`).
    pub end_remembered: bool,
}

/// What is remembered about the last item of a served page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub snapshot: Snapshot,
}

/// A conversation's current place, as needed to continue after it without a remembered cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub created_at: i64,
    pub last_message_at: Option<i64>,
}

/// What continuing a walk after a conversation needs, read at once by a store that is also the
/// cursor store (`ConversationRepository::resume`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The conversation's current place; `None` when it does not exist.
    pub standing: Option<Standing>,
    /// The list's member's access in it, when they are on record in it.
    pub access: Option<crate::Access>,
    /// The remembered end of the page that ended with it, if any.
    pub cursor: Option<Cursor>,
}

impl Resume {
    /// Whether the conversation is one of the list's, as a `startingAfter`: it exists and, in a
    /// member's list (`member`), they are on record in it with access other than `None`.
    #[must_use]
    pub fn is_of_list(&self, member: bool) -> bool {
        self.standing.is_some()
            && (!member || self.access.is_some_and(|a| a != crate::Access::None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_what_had_committed_and_keeps_its_text_form() {
        let pg = Snapshot::parse("100:105:100,103").expect("PostgreSQL's form");
        let seen: Vec<i64> = (98..107).filter(|x| pg.sees(*x)).collect();
        assert_eq!(seen, [98, 99, 101, 102, 104]);
        assert_eq!(pg.to_string(), "100:105:100,103");
        assert_eq!(Snapshot::parse(&pg.to_string()), Some(pg));
        let idle = Snapshot::parse("7:7:").expect("nothing running");
        assert!(idle.sees(6) && !idle.sees(7));
        let counter = Snapshot::counter(41);
        assert!(counter.sees(41) && !counter.sees(42));
        assert_eq!(Snapshot::parse(&counter.to_string()), Some(counter));
        for bad in ["", "1:2", "5:3:", "a:b:", "1:9:x"] {
            assert_eq!(Snapshot::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_cursor_conversation_is_of_the_list_when_it_exists_and_the_member_may_see_it() {
        let resume = |standing: bool, access: Option<crate::Access>| Resume {
            standing: standing.then_some(Standing {
                created_at: 1,
                last_message_at: None,
            }),
            access,
            cursor: None,
        };
        assert!(resume(true, None).is_of_list(false));
        assert!(!resume(false, None).is_of_list(false));
        assert!(resume(true, Some(crate::Access::Read)).is_of_list(true));
        assert!(!resume(true, Some(crate::Access::None)).is_of_list(true));
        assert!(!resume(true, None).is_of_list(true));
        assert!(!resume(false, Some(crate::Access::ReadWrite)).is_of_list(true));
    }

    fn cid(raw: &str) -> ConversationId {
        ConversationId::new(raw).unwrap()
    }

    #[test]
    fn filters_are_strict_and_skip_conversations_without_messages() {
        let q = ConversationQuery {
            last_message_before: Some(100),
            last_message_after: Some(10),
            ..Default::default()
        };
        assert!(q.matches(Some(50)));
        assert!(!q.matches(Some(100)));
        assert!(!q.matches(Some(10)));
        assert!(!q.matches(None));
        assert!(ConversationQuery::default().matches(None));
    }

    #[test]
    fn last_activity_falls_back_to_creation() {
        let q = ConversationQuery::default();
        assert_eq!(q.sort_key(5, None), 5);
        assert_eq!(q.sort_key(5, Some(9)), 9);
        let by_created = ConversationQuery {
            order_by: OrderBy::CreatedAt,
            ..Default::default()
        };
        assert_eq!(by_created.sort_key(5, Some(9)), 5);
    }

    #[test]
    fn ties_break_on_id_bytes_in_the_direction_of_the_order() {
        let p = Position {
            key: 10,
            id: cid("m"),
        };
        let desc = ConversationQuery::default();
        assert!(desc.is_after(9, &cid("z"), &p));
        assert!(desc.is_after(10, &cid("a"), &p));
        assert!(!desc.is_after(10, &cid("m"), &p));
        assert!(!desc.is_after(10, &cid("z"), &p));
        let asc = ConversationQuery {
            direction: Direction::Asc,
            ..Default::default()
        };
        assert!(asc.is_after(10, &cid("z"), &p));
        assert!(!asc.is_after(10, &cid("a"), &p));
        // Bytewise, not by Unicode scalar order of UTF-16: "é" (0xC3..) sorts after "z".
        assert!(asc.is_after(10, &cid("é"), &p));
    }
}
