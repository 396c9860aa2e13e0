//! Applications and their secret keys.

use std::collections::HashMap;
use std::fmt;

use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;

use crate::ids::AppId;

/// An app's secret key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// A fresh development key: `sk_test_` and 24 base62 characters from the OS's random source.
    pub fn generate_test_key() -> Self {
        Self(format!(
            "sk_test_{}",
            Alphanumeric.sample_string(&mut OsRng, 24)
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// The apps this server serves, each with its secret key.
#[derive(Debug, Clone, Default)]
pub struct AppKeys {
    keys: HashMap<AppId, SecretKey>,
}

impl AppKeys {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, app: AppId, key: SecretKey) {
        self.keys.insert(app, key);
    }

    /// The key of the app named by the raw path segment, if such an app is configured.
    pub fn key_for(&self, app: &str) -> Option<(&AppId, &SecretKey)> {
        let id = AppId::new(app).ok()?;
        self.keys.get_key_value(&id)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_test_keys_and_differ() {
        let a = SecretKey::generate_test_key();
        let b = SecretKey::generate_test_key();
        assert!(a.expose().starts_with("sk_test_"));
        assert_eq!(a.expose().len(), "sk_test_".len() + 24);
        assert_ne!(a, b);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let key = SecretKey::new("sk_live_supersecret");
        assert!(!format!("{key:?}").contains("supersecret"));
    }

    #[test]
    fn keys_are_looked_up_by_app() {
        let mut keys = AppKeys::new();
        keys.insert(AppId::new("a").unwrap(), SecretKey::new("k1"));
        assert_eq!(keys.key_for("a").unwrap().1.expose(), "k1");
        assert!(keys.key_for("b").is_none());
        assert!(keys.key_for("").is_none());
    }
}
