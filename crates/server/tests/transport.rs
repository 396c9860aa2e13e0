//! The Transport section of API.md: auth, content types, body limits, error bodies, routes.

mod common;

use common::{raw_status, send, settings, Api, TestServer, APP, KEY, OTHER_APP, OTHER_KEY};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const C: &str = "/conversations/c1";

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn jwt(claims: Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[test]
fn requests_without_a_valid_key_get_401_and_change_nothing() {
    let (server, _dir) = TestServer::fresh();
    let url = server.api().url(C);
    let body = br#"{"subject": "x"}"#;
    let json_ct = ("Content-Type", "application/json");
    send("PUT", &url, &[json_ct], Some(body)).error(401, "UNAUTHORIZED");
    send(
        "PUT",
        &url,
        &[json_ct, ("Authorization", "Bearer sk_test_wrong")],
        Some(body),
    )
    .error(401, "UNAUTHORIZED");
    send("PUT", &url, &[json_ct, ("Authorization", KEY)], Some(body)).error(401, "UNAUTHORIZED");
    send(
        "PUT",
        &url,
        &[json_ct, ("Authorization", &format!("Basic {KEY}"))],
        Some(body),
    )
    .error(401, "UNAUTHORIZED");
    send("GET", &url, &[], None).error(401, "UNAUTHORIZED");
    send("DELETE", &url, &[], None).error(401, "UNAUTHORIZED");
    // Unauthenticated bad input is still a 401: nobody learns anything without a key.
    send("PUT", &url, &[json_ct], Some(b"{not json")).error(401, "UNAUTHORIZED");
    server.api().get(C).error(404, "NOT_FOUND");
}

#[test]
fn an_apps_key_never_reads_or_writes_another_apps_data() {
    let (server, _dir) = TestServer::fresh();
    let mine = server.api();
    let theirs = Api::new(&server.base, OTHER_APP, OTHER_KEY);
    mine.put(C, &json!({"subject": "mine"})).ok_empty();

    // Their key on my app's paths: 401.
    let cross = Api::new(&server.base, APP, OTHER_KEY);
    cross.get(C).error(401, "UNAUTHORIZED");
    cross
        .put(C, &json!({"subject": "hijack"}))
        .error(401, "UNAUTHORIZED");
    cross.delete(C).error(401, "UNAUTHORIZED");
    // Their own app does not contain my conversation.
    theirs.get(C).error(404, "NOT_FOUND");
    theirs.put(C, &json!({"subject": "theirs"})).ok_empty();
    assert_eq!(mine.fetch(C)["subject"], "mine");
    assert_eq!(theirs.fetch(C)["subject"], "theirs");
    theirs.delete(C).ok_empty();
    assert_eq!(mine.fetch(C)["subject"], "mine");
    // An app that is not configured at all.
    Api::new(&server.base, "ghost", KEY)
        .get(C)
        .error(401, "UNAUTHORIZED");
}

#[test]
fn an_app_jwt_signed_with_the_secret_key_is_accepted() {
    let (server, _dir) = TestServer::fresh();
    let token = jwt(
        json!({"tokenType": "app", "iss": APP, "exp": now_secs() + 300}),
        KEY,
    );
    let api = Api::new(&server.base, APP, &token);
    api.put(C, &json!({"subject": "via jwt"})).ok_empty();
    assert_eq!(api.fetch(C)["subject"], "via jwt");
    // Within the 60 s leeway after expiry.
    let recent = jwt(
        json!({"tokenType": "app", "iss": APP, "exp": now_secs() - 30}),
        KEY,
    );
    Api::new(&server.base, APP, &recent).get(C);
    assert_eq!(Api::new(&server.base, APP, &recent).get(C).status, 200);
}

#[test]
fn bad_jwts_get_401() {
    let (server, _dir) = TestServer::fresh();
    let tokens = [
        jwt(
            json!({"tokenType": "app", "iss": APP, "exp": now_secs() - 120}),
            KEY,
        ),
        jwt(json!({"tokenType": "app", "iss": APP}), KEY),
        jwt(
            json!({"tokenType": "app", "iss": OTHER_APP, "exp": now_secs() + 300}),
            KEY,
        ),
        jwt(
            json!({"tokenType": "app", "iss": APP, "exp": now_secs() + 300}),
            OTHER_KEY,
        ),
        jwt(
            json!({"tokenType": "user", "iss": APP, "exp": now_secs() + 300}),
            KEY,
        ),
        encode(
            &Header::new(Algorithm::HS384),
            &json!({"tokenType": "app", "iss": APP, "exp": now_secs() + 300}),
            &EncodingKey::from_secret(KEY.as_bytes()),
        )
        .unwrap(),
        "not.a.jwt".to_string(),
    ];
    for token in tokens {
        Api::new(&server.base, APP, &token)
            .get(C)
            .error(401, "UNAUTHORIZED");
    }
}

#[test]
fn bodies_must_be_application_json() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let auth = format!("Bearer {KEY}");
    let url = api.url(C);
    let body = Some(&b"{}"[..]);
    send("PUT", &url, &[("Authorization", &auth)], body).error(415, "UNSUPPORTED_MEDIA_TYPE");
    send(
        "PUT",
        &url,
        &[("Authorization", &auth), ("Content-Type", "text/plain")],
        body,
    )
    .error(415, "UNSUPPORTED_MEDIA_TYPE");
    send(
        "PUT",
        &url,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/xml"),
        ],
        body,
    )
    .error(415, "UNSUPPORTED_MEDIA_TYPE");
    api.get(C).error(404, "NOT_FOUND");
    send(
        "PUT",
        &url,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json; charset=utf-8"),
        ],
        body,
    )
    .ok_empty();
}

#[test]
fn malformed_json_is_a_400_naming_the_problem() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for raw in [&b"{not json"[..], b"{\"subject\": \"a\",}", b"\xff\xfe"] {
        let body = api.put_raw(C, raw).error(400, "INVALID_JSON");
        assert!(body["message"].as_str().unwrap().contains("JSON"), "{body}");
    }
    api.get(C).error(404, "NOT_FOUND");
}

#[test]
fn bodies_over_the_limit_get_413_and_change_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let padding = "x".repeat(1024 * 1024);
    let big = json!({"subject": "big", "custom": {"pad": padding}}).to_string();
    assert!(big.len() > 1024 * 1024);
    api.put_raw(C, big.as_bytes())
        .error(413, "PAYLOAD_TOO_LARGE");
    api.get(C).error(404, "NOT_FOUND");

    // Chunked, so the size is not declared up front.
    let mut request = format!(
        "PUT /v1/{APP}{C} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in big.as_bytes().chunks(64 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = raw_status(&server.base, &request);
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("PAYLOAD_TOO_LARGE"), "{text}");
    api.get(C).error(404, "NOT_FOUND");

    // Just under the limit is accepted.
    let fits = json!({"subject": "s"}).to_string();
    api.put_raw(C, fits.as_bytes()).ok_empty();
}

#[test]
fn the_body_limit_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("p.db"));
    s.limits.body_bytes = 64;
    let server = TestServer::start(s);
    let api = server.api();
    api.put(C, &json!({"subject": "s".repeat(100)}))
        .error(413, "PAYLOAD_TOO_LARGE");
    api.put(C, &json!({"subject": "short"})).ok_empty();
}

#[test]
fn success_is_200_with_a_json_body() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let put = api.put(C, &json!({}));
    put.ok_empty();
    let get = api.get(C);
    assert_eq!(get.status, 200);
    assert!(get.headers["content-type"].starts_with("application/json"));
    api.delete(C).ok_empty();
}

#[test]
fn the_talkjs_rest_version_header_is_accepted() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let auth = format!("Bearer {KEY}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("TalkJS-REST-Version", "2021-02-09"),
    ];
    send("PUT", &api.url(C), &headers, Some(br#"{"subject": "v"}"#)).ok_empty();
    let got = send("GET", &api.url(C), &headers[..1], None);
    assert_eq!(got.status, 200);
    let headers = [
        ("Authorization", auth.as_str()),
        ("TalkJS-REST-Version", "2024-01-01"),
    ];
    assert_eq!(
        send("GET", &api.url(C), &headers, None).json()["subject"],
        "v"
    );
}

#[test]
fn unknown_routes_and_methods_get_json_errors() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    send("GET", &format!("{}/", server.base), &[], None).error(404, "ROUTE_NOT_FOUND");
    send("GET", &format!("{}/v2/{APP}{C}", server.base), &[], None).error(404, "ROUTE_NOT_FOUND");
    api.get("/nothing/here").error(404, "ROUTE_NOT_FOUND");
    let auth = format!("Bearer {KEY}");
    send(
        "POST",
        &api.url(C),
        &[("Authorization", &auth)],
        Some(b"{}"),
    )
    .error(405, "METHOD_NOT_ALLOWED");
    send(
        "PATCH",
        &api.url(C),
        &[("Authorization", &auth)],
        Some(b"{}"),
    )
    .error(405, "METHOD_NOT_ALLOWED");
}

#[test]
fn rate_limits_are_per_app_and_answer_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("p.db"));
    s.rate_limit.requests_per_second = 1;
    s.rate_limit.burst = 3;
    let server = TestServer::start(s);
    let api = server.api();
    let answers: Vec<_> = (0..6).map(|_| api.get(C)).collect();
    let limited = answers
        .iter()
        .find(|r| r.status == 429)
        .expect("some request is rate limited");
    limited.error(429, "RATE_LIMITED");
    let retry: u64 = limited.headers["retry-after"].parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(answers.iter().filter(|r| r.status == 404).count() >= 3);
    // Another app has its own budget.
    Api::new(&server.base, OTHER_APP, OTHER_KEY)
        .get(C)
        .error(404, "NOT_FOUND");
}

#[test]
fn rate_limiting_is_off_by_default() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for _ in 0..200 {
        assert_eq!(api.get(C).status, 404);
    }
}
