//! The diesel storage adapter: SQLite (feature `sqlite`) and PostgreSQL (feature `postgres`).
//!
//! The queries are written once, in `store/`, and compiled for each backend as its own module
//! ([`sqlite`], [`postgres`]) with that backend's connection type; each backend module adds what
//! differs (opening, migrations, how a write transaction starts). Every diesel call runs on
//! tokio's blocking pool, never on the async executor. Writes are transactions that are durable
//! when they return.

mod error;
mod group_commit;
mod models;
#[cfg(feature = "postgres")]
mod pg_pool;
mod pool_events;
mod schema;
mod stamps;

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "postgres")]
pub mod testing;

pub use error::OpenError;
#[cfg(feature = "postgres")]
pub use postgres::{PgOptions, Store as PgStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, Store as DieselStore, Synchronous};

/// A database URL without its password, for messages and logs.
#[must_use]
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The first version of a newly inserted record: random, so that versions of a deleted and
/// re-created record never repeat.
pub(crate) fn fresh_version() -> i64 {
    i64::from(rand::random::<u32>()) << 20
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_left_out_of_messages() {
        assert_eq!(
            redacted("postgres://parley:s3cret@db:5432/parley"),
            "postgres://parley:***@db:5432/parley"
        );
        assert_eq!(redacted("postgres://db/parley"), "postgres://db/parley");
        assert_eq!(
            redacted("postgres://me@db/parley"),
            "postgres://me@db/parley"
        );
    }
}
