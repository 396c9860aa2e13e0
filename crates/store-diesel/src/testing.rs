//! Support for tests that run against a real PostgreSQL server: where it is, and a fresh schema
//! per test so that tests share one database without seeing each other.
//!
//! The server is named by `PARLEY_TEST_POSTGRES_URL` (`scripts/test.sh` starts a throwaway
//! cluster and sets it). Without it the PostgreSQL tests skip with a loud message, except when
//! `CI=true`, where a missing server is a failure.

use diesel::{Connection, PgConnection, RunQueryDsl};

/// The environment variable that names the test server.
pub const URL_VAR: &str = "PARLEY_TEST_POSTGRES_URL";

/// The test server's URL, or `None` (after a loud message on stderr) when there is none.
///
/// # Panics
/// When `CI=true` and no server is configured: in CI the PostgreSQL tests must run.
#[must_use]
pub fn server_url(what: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {URL_VAR} is not set: the PostgreSQL tests ({what}) must run in CI"
            );
            eprintln!(
                "\n*** SKIPPED: {what} on PostgreSQL: {URL_VAR} is not set \
                 (scripts/test.sh starts a throwaway server and sets it) ***\n"
            );
            None
        }
    }
}

/// Creates `schema` on the server (if it is not there yet) and answers a URL whose connections
/// use it as their search path.
///
/// # Panics
/// When the server cannot be reached or the schema cannot be created.
#[must_use]
pub fn schema_url(server: &str, schema: &str) -> String {
    assert!(
        schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "schema names are [a-z0-9_]"
    );
    let mut conn = PgConnection::establish(server)
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", crate::redacted(server)));
    // Servers of a test run create schemas concurrently; IF NOT EXISTS can still race on the
    // catalog, so a unique violation here means someone else made it.
    if let Err(e) =
        diesel::sql_query(format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&mut conn)
    {
        let duplicate = matches!(
            e,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            )
        );
        assert!(duplicate, "cannot create schema {schema}: {e}");
    }
    let separator = if server.contains('?') { '&' } else { '?' };
    format!("{server}{separator}options=-csearch_path%3D{schema}")
}

/// Drops `schema` and everything in it, ignoring errors (cleanup after a test).
pub fn drop_schema(server: &str, schema: &str) {
    if let Ok(mut conn) = PgConnection::establish(server) {
        let _ =
            diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&mut conn);
    }
}
