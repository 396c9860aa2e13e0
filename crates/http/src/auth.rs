//! `Authorization: Bearer <token>`: the app's secret key, or an HS256 JWT signed with it.

use constant_time_eq::constant_time_eq;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parley_domain::{AppId, AppKeys};
use serde::Deserialize;

use crate::error::ApiError;

/// Leeway on `exp`, in seconds.
const JWT_LEEWAY_SECS: u64 = 60;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppClaims {
    token_type: String,
}

/// Checks bearer tokens against the configured apps' keys.
#[derive(Debug, Clone)]
pub struct Authenticator {
    keys: AppKeys,
}

impl Authenticator {
    pub fn new(keys: AppKeys) -> Self {
        Self { keys }
    }

    /// The app named by `app` if `authorization` proves access to it.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] for a missing, malformed, wrong, expired or foreign token.
    pub fn authenticate(&self, app: &str, authorization: Option<&[u8]>) -> Result<AppId, ApiError> {
        let header = authorization.ok_or(ApiError::Unauthorized(
            "missing Authorization header; send `Authorization: Bearer <secret key>`",
        ))?;
        let token = std::str::from_utf8(header)
            .ok()
            .and_then(|h| {
                // The scheme is case-insensitive (RFC 7235).
                let (scheme, token) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized(
                "the Authorization header must be `Bearer <secret key or JWT>`",
            ))?;
        let wrong = ApiError::Unauthorized("the token does not grant access to this app");
        let (app_id, key) = self.keys.key_for(app).ok_or(wrong)?;
        if constant_time_eq(token.as_bytes(), key.expose().as_bytes()) {
            return Ok(app_id.clone());
        }
        if token.matches('.').count() == 2 && jwt_grants(token, app_id, key.expose()) {
            return Ok(app_id.clone());
        }
        Err(ApiError::Unauthorized(
            "the token does not grant access to this app",
        ))
    }
}

fn jwt_grants(token: &str, app: &AppId, secret: &str) -> bool {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = JWT_LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.set_issuer(&[app.as_str()]);
    match jsonwebtoken::decode::<AppClaims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    ) {
        Ok(data) => data.claims.token_type == "app",
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use parley_domain::SecretKey;
    use serde_json::json;

    const KEY: &str = "sk_test_abc";

    fn auth() -> Authenticator {
        let mut keys = AppKeys::new();
        keys.insert(AppId::new("app1").unwrap(), SecretKey::new(KEY));
        keys.insert(AppId::new("app2").unwrap(), SecretKey::new("sk_test_other"));
        Authenticator::new(keys)
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn jwt(claims: serde_json::Value, alg: Algorithm, secret: &str) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn bearer(token: &str) -> Vec<u8> {
        format!("Bearer {token}").into_bytes()
    }

    #[test]
    fn the_secret_key_grants_its_own_app_only() {
        let a = auth();
        assert_eq!(
            a.authenticate("app1", Some(&bearer(KEY))).unwrap().as_str(),
            "app1"
        );
        assert!(a.authenticate("app2", Some(&bearer(KEY))).is_err());
        assert!(a.authenticate("nope", Some(&bearer(KEY))).is_err());
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        let a = auth();
        let lower = format!("bearer {KEY}").into_bytes();
        assert!(a.authenticate("app1", Some(&lower)).is_ok());
    }

    #[test]
    fn missing_malformed_and_wrong_tokens_are_refused() {
        let a = auth();
        assert!(a.authenticate("app1", None).is_err());
        assert!(a.authenticate("app1", Some(KEY.as_bytes())).is_err());
        assert!(a.authenticate("app1", Some(b"Basic abc")).is_err());
        assert!(a.authenticate("app1", Some(b"Bearer ")).is_err());
        assert!(a
            .authenticate("app1", Some(&bearer("sk_test_abd")))
            .is_err());
        assert!(a.authenticate("app1", Some(&bearer("sk_test_ab"))).is_err());
    }

    #[test]
    fn an_app_jwt_signed_with_the_key_grants_access() {
        let token = jwt(
            json!({"tokenType": "app", "iss": "app1", "exp": now() + 60}),
            Algorithm::HS256,
            KEY,
        );
        assert!(auth().authenticate("app1", Some(&bearer(&token))).is_ok());
    }

    #[test]
    fn jwts_that_break_a_rule_are_refused() {
        let cases = [
            (
                "expired beyond leeway",
                json!({"tokenType": "app", "iss": "app1", "exp": now() - 120}),
                Algorithm::HS256,
                KEY,
            ),
            (
                "no exp",
                json!({"tokenType": "app", "iss": "app1"}),
                Algorithm::HS256,
                KEY,
            ),
            (
                "other issuer",
                json!({"tokenType": "app", "iss": "app2", "exp": now() + 60}),
                Algorithm::HS256,
                KEY,
            ),
            (
                "wrong token type",
                json!({"tokenType": "user", "iss": "app1", "exp": now() + 60}),
                Algorithm::HS256,
                KEY,
            ),
            (
                "no token type",
                json!({"iss": "app1", "exp": now() + 60}),
                Algorithm::HS256,
                KEY,
            ),
            (
                "wrong secret",
                json!({"tokenType": "app", "iss": "app1", "exp": now() + 60}),
                Algorithm::HS256,
                "sk_test_other",
            ),
            (
                "HS512",
                json!({"tokenType": "app", "iss": "app1", "exp": now() + 60}),
                Algorithm::HS512,
                KEY,
            ),
        ];
        for (name, claims, alg, secret) in cases {
            let token = jwt(claims, alg, secret);
            assert!(
                auth().authenticate("app1", Some(&bearer(&token))).is_err(),
                "{name}"
            );
        }
    }

    #[test]
    fn jwt_expiry_has_sixty_seconds_of_leeway() {
        let token = jwt(
            json!({"tokenType": "app", "iss": "app1", "exp": now() - 30}),
            Algorithm::HS256,
            KEY,
        );
        assert!(auth().authenticate("app1", Some(&bearer(&token))).is_ok());
    }
}
