//! Diesel's and r2d2's errors, mapped into the domain's `RepositoryError` here and only here.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use parley_domain::RepositoryError;

/// Why a database could not be opened at start-up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open database {0}: {1}")]
    Connect(String, String),
    #[error("database migration failed: {0}")]
    Migrate(String),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Diesel(#[from] DieselError),
    #[error("no database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("version conflict")]
    Conflict,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The write was not committed (its batch's commit failed); safe to retry.
    #[error("{0}")]
    Unavailable(String),
}

impl From<DbError> for RepositoryError {
    fn from(value: DbError) -> Self {
        match value {
            DbError::Conflict => RepositoryError::Conflict,
            DbError::Diesel(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                RepositoryError::Conflict
            }
            // PostgreSQL chose this transaction as a deadlock victim or could not serialize it:
            // nothing was written, and the services retry a conflict from a fresh read.
            DbError::Diesel(DieselError::DatabaseError(kind, info))
                if matches!(kind, DatabaseErrorKind::SerializationFailure)
                    || info.message().contains("deadlock detected") =>
            {
                RepositoryError::Conflict
            }
            DbError::Diesel(DieselError::DatabaseError(kind, info))
                if matches!(
                    kind,
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
                ) || is_busy(info.message()) =>
            {
                RepositoryError::Unavailable(info.message().to_string())
            }
            DbError::Pool(e) => RepositoryError::Unavailable(e.to_string()),
            DbError::Unavailable(why) => RepositoryError::Unavailable(why),
            // A connection that broke inside a transaction (the database went away).
            DbError::Diesel(DieselError::BrokenTransactionManager) => {
                RepositoryError::Unavailable("the database connection broke".into())
            }
            other => RepositoryError::Other(other.to_string()),
        }
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}
