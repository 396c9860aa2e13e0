//! Users: the entity, what a PUT asks for, and the rules of both.

use std::collections::{BTreeMap, BTreeSet};

use crate::conversation::{CustomPatch, Field};
use crate::error::{Invalid, Problems};
use crate::ids::UserId;
use crate::limits::Limits;
use crate::text::{check_text, check_texts};

/// A user of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: Option<Vec<String>>,
    pub phone: Option<Vec<String>>,
    pub photo_url: Option<String>,
    pub welcome_message: Option<String>,
    pub role: Option<String>,
    pub locale: Option<String>,
    pub availability_text: Option<String>,
    pub custom: BTreeMap<String, String>,
    /// `fcm:...` and `apns:...` tokens.
    pub push_tokens: BTreeSet<String>,
    pub created_at: i64,
}

/// How a PUT changes `pushTokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushTokensPatch {
    /// `pushTokens: null`: remove every token.
    Clear,
    /// `true` adds a token, `null` (here `false`) removes it.
    Merge(BTreeMap<String, bool>),
}

/// The changes of one PUT `/users/{userId}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserPatch {
    pub name: Field<String>,
    pub email: Field<Vec<String>>,
    pub phone: Field<Vec<String>>,
    pub photo_url: Field<String>,
    pub welcome_message: Field<String>,
    pub role: Field<String>,
    pub locale: Field<String>,
    pub availability_text: Field<String>,
    pub custom: Option<CustomPatch>,
    pub push_tokens: Option<PushTokensPatch>,
}

fn set<T: Clone>(field: &Field<T>, target: &mut Option<T>) {
    match field {
        Field::Absent => {}
        Field::Null => *target = None,
        Field::Set(value) => *target = Some(value.clone()),
    }
}

impl User {
    /// Creates a user from its first PUT.
    ///
    /// # Errors
    /// [`Invalid`] naming `name` when the PUT has none: a new user needs a name.
    pub fn create(id: UserId, patch: &UserPatch, now: i64) -> Result<Self, Invalid> {
        let Field::Set(name) = &patch.name else {
            let mut problems = Problems::default();
            problems.invalid("name", "is required when creating a user");
            return Err(problems.finish().unwrap_err());
        };
        let mut user = Self {
            id,
            name: name.clone(),
            email: None,
            phone: None,
            photo_url: None,
            welcome_message: None,
            role: None,
            locale: None,
            availability_text: None,
            custom: BTreeMap::new(),
            push_tokens: BTreeSet::new(),
            created_at: now,
        };
        user.apply(patch)?;
        Ok(user)
    }

    /// Merges a PUT: absent fields stay, `null` clears, `custom` and `pushTokens` merge per key.
    ///
    /// # Errors
    /// [`Invalid`] naming `name` when the PUT sets it to `null`: a user always has a name.
    pub fn apply(&mut self, patch: &UserPatch) -> Result<(), Invalid> {
        match &patch.name {
            Field::Absent => {}
            Field::Null => {
                let mut problems = Problems::default();
                problems.invalid("name", "cannot be removed; a user always has a name");
                return Err(problems.finish().unwrap_err());
            }
            Field::Set(name) => self.name = name.clone(),
        }
        set(&patch.email, &mut self.email);
        set(&patch.phone, &mut self.phone);
        set(&patch.photo_url, &mut self.photo_url);
        set(&patch.welcome_message, &mut self.welcome_message);
        set(&patch.role, &mut self.role);
        set(&patch.locale, &mut self.locale);
        set(&patch.availability_text, &mut self.availability_text);
        if let Some(custom) = &patch.custom {
            custom.apply_to(&mut self.custom);
        }
        match &patch.push_tokens {
            None => {}
            Some(PushTokensPatch::Clear) => self.push_tokens.clear(),
            Some(PushTokensPatch::Merge(changes)) => {
                for (token, keep) in changes {
                    if *keep {
                        self.push_tokens.insert(token.clone());
                    } else {
                        self.push_tokens.remove(token);
                    }
                }
            }
        }
        Ok(())
    }
}

impl Limits {
    /// Checks a user PUT on its own: custom limits and the form of push tokens.
    ///
    /// # Errors
    /// [`Invalid`] naming every bad field.
    pub fn check_user_patch(&self, patch: &UserPatch) -> Result<(), Invalid> {
        let mut problems = Problems::default();
        let texts = [
            ("name", &patch.name),
            ("photoUrl", &patch.photo_url),
            ("welcomeMessage", &patch.welcome_message),
            ("role", &patch.role),
            ("locale", &patch.locale),
            ("availabilityText", &patch.availability_text),
        ];
        for (name, field) in texts {
            if let Field::Set(value) = field {
                check_text(&mut problems, || name.into(), value);
            }
        }
        for (name, field) in [("email", &patch.email), ("phone", &patch.phone)] {
            if let Field::Set(values) = field {
                check_texts(&mut problems, name, values);
            }
        }
        if let Some(CustomPatch::Merge(changes)) = &patch.custom {
            self.check_custom_changes(&mut problems, "custom", changes);
        }
        if let Some(PushTokensPatch::Merge(tokens)) = &patch.push_tokens {
            for token in tokens.keys() {
                check_text(&mut problems, || "pushTokens".into(), token);
                let provider_ok = ["fcm:", "apns:"]
                    .iter()
                    .any(|p| token.len() > p.len() && token.starts_with(p));
                if !provider_ok || token.len() > 4096 {
                    problems.invalid(
                        format!("pushTokens.{token}"),
                        "must be \"fcm:<token>\" or \"apns:<token>\" (up to 4096 bytes)",
                    );
                }
            }
        }
        problems.finish()
    }

    /// Checks a user after a merge: the number of custom keys.
    ///
    /// # Errors
    /// [`Invalid`] when the merged custom object has too many keys.
    pub fn check_user(&self, user: &User) -> Result<(), Invalid> {
        let mut problems = Problems::default();
        if user.custom.len() > self.custom_keys {
            problems.over_limit("custom", format!("at most {} keys", self.custom_keys));
        }
        problems.finish()
    }
}

/// The same problems with every field path prefixed by `prefix` (a user ID in batch answers).
pub fn prefixed(invalid: Invalid, prefix: &str) -> Invalid {
    let mut problems = Problems::default();
    let renamed = Invalid {
        reasons: invalid
            .reasons
            .into_iter()
            .map(|(path, reason)| (format!("{prefix}.{path}"), reason))
            .collect(),
        ..invalid
    };
    problems.absorb(renamed);
    problems.finish().unwrap_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid() -> UserId {
        UserId::new("u1").unwrap()
    }

    fn named(name: &str) -> UserPatch {
        UserPatch {
            name: Field::Set(name.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_user_needs_a_name() {
        assert!(User::create(uid(), &UserPatch::default(), 1).is_err());
        assert!(User::create(
            uid(),
            &UserPatch {
                name: Field::Null,
                ..Default::default()
            },
            1
        )
        .is_err());
        let user = User::create(uid(), &named("Alice"), 7).unwrap();
        assert_eq!(user.name, "Alice");
        assert_eq!(user.created_at, 7);
    }

    #[test]
    fn puts_merge_like_conversations() {
        let mut user = User::create(
            uid(),
            &UserPatch {
                email: Field::Set(vec!["a@example.com".into()]),
                role: Field::Set("buyer".into()),
                custom: Some(CustomPatch::Merge(BTreeMap::from([
                    ("a".into(), Some("1".into())),
                    ("b".into(), Some("2".into())),
                ]))),
                push_tokens: Some(PushTokensPatch::Merge(BTreeMap::from([
                    ("fcm:one".into(), true),
                    ("apns:two".into(), true),
                ]))),
                ..named("Alice")
            },
            1,
        )
        .unwrap();
        user.apply(&UserPatch {
            role: Field::Null,
            custom: Some(CustomPatch::Merge(BTreeMap::from([("a".into(), None)]))),
            push_tokens: Some(PushTokensPatch::Merge(BTreeMap::from([(
                "fcm:one".into(),
                false,
            )]))),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(user.name, "Alice");
        assert_eq!(user.email, Some(vec!["a@example.com".to_string()]));
        assert_eq!(user.role, None);
        assert_eq!(user.custom, BTreeMap::from([("b".into(), "2".into())]));
        assert_eq!(user.push_tokens, BTreeSet::from(["apns:two".to_string()]));
        assert!(user
            .apply(&UserPatch {
                name: Field::Null,
                ..Default::default()
            })
            .is_err());
    }

    #[test]
    fn push_tokens_name_their_provider() {
        let limits = Limits::default();
        let patch = |token: &str| UserPatch {
            push_tokens: Some(PushTokensPatch::Merge(BTreeMap::from([(
                token.into(),
                true,
            )]))),
            ..Default::default()
        };
        assert!(limits.check_user_patch(&patch("fcm:abc")).is_ok());
        assert!(limits.check_user_patch(&patch("apns:abc")).is_ok());
        for bad in ["abc", "fcm:", "gcm:abc"] {
            let err = limits.check_user_patch(&patch(bad)).unwrap_err();
            assert!(
                err.reasons.contains_key(&format!("pushTokens.{bad}")),
                "{bad}"
            );
        }
    }

    #[test]
    fn batch_reasons_are_prefixed_with_the_user_id() {
        let err = User::create(uid(), &UserPatch::default(), 1).unwrap_err();
        let err = prefixed(err, "u1");
        assert!(err.reasons.contains_key("u1.name"), "{err:?}");
    }
}
