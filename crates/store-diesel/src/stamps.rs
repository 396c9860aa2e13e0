//! Activity stamps: how a list walk and a reader of the event log know which writes they may
//! see (docs/ARCHITECTURE.md, "Sends that scale out on PostgreSQL"). Every write that moves a
//! conversation in the lists (a send, a deletion, an import of a newer message) stamps the rows
//! it writes; a reader takes a *horizon*, a value such that every stamp at or below it belongs
//! to a committed write and no write with such a stamp can still commit. On SQLite the stamp is
//! the activity counter (one writer: the counter is a horizon already); on PostgreSQL it is the
//! writing transaction's ID and the horizon is the reader's `pg_snapshot_xmin` minus one, so no
//! shared row serialises the commits of several servers.

/// What a write transaction stores its new messages with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Numbers {
    /// The messages' storage order, increasing; within a conversation the order of commits
    /// (its writers queue on the conversation's row).
    pub seqs: Vec<i64>,
    /// The transaction's activity stamp, for `activity_seq`, `deleted_seq` and their copies.
    pub stamp: i64,
    /// What the messages' `xid` column records: the stamp on PostgreSQL, 0 on SQLite (where a
    /// message's seq is its stamp).
    pub row_xid: i64,
}
