//! Identifier newtypes that validate themselves: an invalid ID cannot exist past the edge.

use std::fmt;

/// Why a raw string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 255 bytes of UTF-8, got {0}")]
    TooLong(usize),
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error("must not begin with `participants=` (reserved for the legacy endpoint)")]
    ReservedPrefix,
}

/// The longest ID, in bytes of UTF-8.
pub const MAX_ID_BYTES: usize = 255;

pub(crate) fn check_id(raw: &str) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty);
    }
    if raw.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong(raw.len()));
    }
    if raw.chars().any(char::is_control) {
        return Err(IdError::ControlCharacter);
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $extra:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates `raw` and wraps it.
            ///
            /// # Errors
            /// [`IdError`] when `raw` breaks the ID rules.
            pub fn new(raw: impl Into<String>) -> Result<Self, IdError> {
                let raw = raw.into();
                check_id(&raw)?;
                let extra: fn(&str) -> Result<(), IdError> = $extra;
                extra(&raw)?;
                Ok(Self(raw))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An application's ID: every piece of data belongs to exactly one app.
    AppId,
    |_| Ok(())
);
id_type!(
    /// A user's ID, chosen by the integrating application.
    UserId,
    |_| Ok(())
);
id_type!(
    /// A conversation's ID, chosen by the integrating application.
    ConversationId,
    |raw| {
        if raw.starts_with(LEGACY_PREFIX) {
            Err(IdError::ReservedPrefix)
        } else {
            Ok(())
        }
    }
);

/// Path prefix of the legacy participants endpoint; no conversation ID may start with it.
pub const LEGACY_PREFIX: &str = "participants=";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_one_to_255_bytes() {
        assert!(UserId::new("a").is_ok());
        assert!(UserId::new("x".repeat(255)).is_ok());
        assert_eq!(UserId::new(""), Err(IdError::Empty));
        assert_eq!(UserId::new("x".repeat(256)), Err(IdError::TooLong(256)));
    }

    #[test]
    fn id_length_is_counted_in_utf8_bytes_not_chars() {
        // "é" is two bytes: 128 of them are 256 bytes.
        assert_eq!(
            ConversationId::new("é".repeat(128)),
            Err(IdError::TooLong(256))
        );
        assert!(ConversationId::new("é".repeat(127)).is_ok());
    }

    #[test]
    fn ids_reject_control_characters() {
        for raw in ["a\nb", "\u{0}", "tab\there", "del\u{7f}", "c1\u{85}"] {
            assert_eq!(AppId::new(raw), Err(IdError::ControlCharacter), "{raw:?}");
        }
    }

    #[test]
    fn ids_allow_slashes_spaces_and_unicode() {
        for raw in ["order/1", "with space", "✓ü日本", "a%2Fb", "participants"] {
            assert!(ConversationId::new(raw).is_ok(), "{raw:?}");
        }
    }

    #[test]
    fn conversation_ids_may_not_start_with_the_legacy_prefix() {
        assert_eq!(
            ConversationId::new("participants=a,b"),
            Err(IdError::ReservedPrefix)
        );
        assert!(UserId::new("participants=a").is_ok());
    }
}
