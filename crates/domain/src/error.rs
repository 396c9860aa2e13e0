//! Errors of the domain: bad input, missing things, and storage trouble. None of them carries an
//! adapter's or a framework's type; the HTTP layer maps them to statuses in one place.

use std::collections::BTreeMap;

/// What kind of bad input a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidCode {
    /// A field has the wrong type or an unacceptable value.
    InvalidField,
    /// A field that the resource does not have.
    UnknownField,
    /// A configured limit was exceeded.
    LimitExceeded,
    /// An ID in the path is not a valid ID.
    InvalidId,
}

/// Bad input, with a reason per field path (`custom.color`, `participants[2]`, `[3].sender`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: InvalidCode,
    pub message: String,
    pub reasons: BTreeMap<String, String>,
}

impl Invalid {
    pub fn new(code: InvalidCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reasons: BTreeMap::new(),
        }
    }

    /// One problem with one field.
    pub fn field(code: InvalidCode, path: impl Into<String>, reason: impl Into<String>) -> Self {
        let path = path.into();
        let reason = reason.into();
        let mut reasons = BTreeMap::new();
        let message = format!("{path}: {reason}");
        reasons.insert(path, reason);
        Self {
            code,
            message,
            reasons,
        }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Collects field problems so that one answer names all of them.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    limit: bool,
    unknown: bool,
    reasons: BTreeMap<String, String>,
}

impl Problems {
    pub fn invalid(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.reasons.entry(path.into()).or_insert(reason.into());
    }

    pub fn over_limit(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.limit = true;
        self.invalid(path, reason);
    }

    pub fn unknown(&mut self, path: impl Into<String>) {
        self.unknown = true;
        self.invalid(path, "unknown field");
    }

    pub fn is_empty(&self) -> bool {
        self.reasons.is_empty()
    }

    /// Takes over the reasons of an earlier check, so that one answer names them all.
    pub fn absorb(&mut self, invalid: Invalid) {
        match invalid.code {
            InvalidCode::LimitExceeded => self.limit = true,
            InvalidCode::UnknownField => self.unknown = true,
            InvalidCode::InvalidField | InvalidCode::InvalidId => {}
        }
        for (path, reason) in invalid.reasons {
            self.invalid(path, reason);
        }
    }

    /// `Ok(())` when nothing was wrong, otherwise one [`Invalid`] naming every problem.
    ///
    /// # Errors
    /// The collected problems.
    pub fn finish(self) -> Result<(), Invalid> {
        if self.reasons.is_empty() {
            return Ok(());
        }
        // The most specific kind wins: a typo'd field is reported as such even when other
        // fields are bad too.
        let code = if self.unknown {
            InvalidCode::UnknownField
        } else if self.limit {
            InvalidCode::LimitExceeded
        } else {
            InvalidCode::InvalidField
        };
        let message = self
            .reasons
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ");
        Err(Invalid {
            code,
            message,
            reasons: self.reasons,
        })
    }
}

/// What a storage adapter reports when it cannot do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// Someone else changed or created the record first; reading again and retrying is safe.
    #[error("the record was changed concurrently")]
    Conflict,
    /// The storage cannot be reached right now (pool exhausted, database down or locked).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or corrupt data. Details are for the log.
    #[error("storage failure: {0}")]
    Other(String),
}

/// What a service call can end in, besides success.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Too many concurrent writers to one record; the client may retry.
    #[error("too much contention on one record; retry")]
    Busy,
    #[error(transparent)]
    Repository(RepositoryError),
}

impl From<Invalid> for ServiceError {
    fn from(value: Invalid) -> Self {
        Self::Invalid(value)
    }
}

impl From<RepositoryError> for ServiceError {
    fn from(value: RepositoryError) -> Self {
        Self::Repository(value)
    }
}
