//! The Users section of API.md (PUT, batch PUT, GET, the user list) and a user's conversation
//! list with its unread state, over HTTP against the real server on SQLite.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{
    enc, now_ms, pause, seed, send, settings, Api, TestServer, APP, OTHER_APP, OTHER_KEY,
};
use parley_domain::{Conversation, ConversationId, Participant, UserId};
use serde_json::{json, Map, Value};

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// --- users ------------------------------------------------------------------------------------

fn user(id: &str) -> String {
    format!("/users/{}", enc(id))
}

fn put_user(api: &Api, id: &str, body: Value) {
    api.put(&user(id), &body).ok_empty();
}

fn make_user(api: &Api, id: &str) {
    put_user(api, id, json!({"name": format!("User {id}")}));
}

/// A user PUT that must be refused with `code`, naming exactly `fields`, and change nothing.
fn refused_put(api: &Api, id: &str, body: Value, code: &str, fields: &[&str]) {
    let before = api.get(&user(id));
    let answer = api.put(&user(id), &body).error(400, code);
    assert_eq!(
        keys(&answer["reasons"]),
        set(fields),
        "PUT {body}: {answer}"
    );
    let after = api.get(&user(id));
    assert_eq!(
        (after.status, after.text),
        (before.status, before.text),
        "a refused PUT {body} changed the user"
    );
}

/// One page of GET /users.
fn users_page(api: &Api, query: &str) -> Vec<Value> {
    let body = api.fetch(&format!("/users{query}"));
    assert_eq!(keys(&body), set(&["data"]), "{body}");
    body["data"].as_array().unwrap().clone()
}

fn user_ids(api: &Api, query: &str) -> Vec<String> {
    ids(&users_page(api, query))
}

/// Walks every page of GET /users with `limit`.
fn walk_users(api: &Api, limit: usize) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..1000 {
        let mut query = format!("?limit={limit}");
        if let Some(last) = seen.last() {
            query.push_str(&format!("&startingAfter={}", enc(last)));
        }
        let got = user_ids(api, &query);
        assert!(got.len() <= limit, "{query}: {got:?}");
        let done = got.len() < limit;
        seen.extend(got);
        if done {
            return seen;
        }
    }
    panic!("the walk does not end: {seen:?}");
}

/// The keys of the User object.
const USER_KEYS: [&str; 12] = [
    "id",
    "name",
    "email",
    "phone",
    "photoUrl",
    "welcomeMessage",
    "role",
    "locale",
    "availabilityText",
    "custom",
    "pushTokens",
    "createdAt",
];

// --- conversations ----------------------------------------------------------------------------

fn conv(id: &str) -> String {
    format!("/conversations/{}", enc(id))
}

fn create(api: &Api, id: &str, participants: &[&str]) {
    api.put(&conv(id), &json!({ "participants": participants }))
        .ok_empty();
}

fn member(conversation: &str, user_id: &str) -> String {
    format!("{}/participants/{}", conv(conversation), enc(user_id))
}

/// Sends one UserMessage from `sender` and returns its ID.
fn say(api: &Api, conversation: &str, sender: &str) -> String {
    let resp = api.post(
        &format!("{}/messages", conv(conversation)),
        &json!([{"text": "hi", "type": "UserMessage", "sender": sender}]),
    );
    assert_eq!(resp.status, 200, "{sender} sends: {}", resp.text);
    resp.json()[0]["id"].as_str().unwrap().to_string()
}

/// Sends one SystemMessage and returns its ID.
fn announce(api: &Api, conversation: &str) -> String {
    let resp = api.post(
        &format!("{}/messages", conv(conversation)),
        &json!([{"text": "system", "type": "SystemMessage"}]),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json()[0]["id"].as_str().unwrap().to_string()
}

fn message_time(api: &Api, conversation: &str, message: &str) -> i64 {
    api.fetch(&format!("{}/messages/{message}", conv(conversation)))["createdAt"]
        .as_i64()
        .unwrap()
}

fn delete_message(api: &Api, conversation: &str, message: &str) {
    api.delete(&format!("{}/messages/{message}", conv(conversation)))
        .ok_empty();
}

fn read_until(api: &Api, conversation: &str, user_id: &str, ms: i64) {
    api.patch(&member(conversation, user_id), &json!({ "readUntil": ms }))
        .ok_empty();
}

/// One page of GET /users/{user}/conversations, checked item by item: each is the Conversation
/// object plus `isUnread` and `unreadMessageCount`, and `isUnread` agrees with the user's
/// participant entry and with the count.
fn page(api: &Api, user_id: &str, query: &str) -> Vec<Value> {
    let path = format!("{}/conversations{query}", user(user_id));
    let body = api.fetch(&path);
    assert_eq!(keys(&body), set(&["data"]), "{path}: {body}");
    let items = body["data"].as_array().unwrap().clone();
    for item in &items {
        let mut expected_keys = set(&[
            "id",
            "subject",
            "topicId",
            "photoUrl",
            "welcomeMessages",
            "custom",
            "participants",
            "lastMessage",
            "createdAt",
        ]);
        expected_keys.insert("isUnread".into());
        expected_keys.insert("unreadMessageCount".into());
        assert_eq!(keys(item), expected_keys, "{path}: {item}");
        let is_unread = item["isUnread"]
            .as_bool()
            .unwrap_or_else(|| panic!("isUnread is not a bool: {item}"));
        let count = item["unreadMessageCount"]
            .as_i64()
            .unwrap_or_else(|| panic!("unreadMessageCount is not an integer: {item}"));
        assert!(count >= 0, "{item}");
        assert_eq!(
            item["participants"][user_id]["isUnread"],
            json!(is_unread),
            "{path}: isUnread disagrees with participants[{user_id}]: {item}"
        );
        assert_eq!(
            is_unread,
            count > 0,
            "{path}: isUnread disagrees with unreadMessageCount: {item}"
        );
    }
    items
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn list(api: &Api, user_id: &str, query: &str) -> Vec<String> {
    ids(&page(api, user_id, query))
}

/// `(isUnread, unreadMessageCount)` of `conversation` in `user`'s list.
fn unread(api: &Api, user_id: &str, conversation: &str) -> (bool, i64) {
    let items = page(api, user_id, "?limit=100");
    let item = items
        .iter()
        .find(|c| c["id"] == conversation)
        .unwrap_or_else(|| panic!("{conversation} is not in {user_id}'s list: {items:?}"));
    (
        item["isUnread"].as_bool().unwrap(),
        item["unreadMessageCount"].as_i64().unwrap(),
    )
}

/// Asserts that `query` on `user`'s list is a 400 naming `startingAfter`.
fn refused_after(api: &Api, user_id: &str, query: &str) {
    let body = api
        .get(&format!("{}/conversations?{query}", user(user_id)))
        .error(400, "INVALID_FIELD");
    assert!(
        body["reasons"]["startingAfter"].is_string(),
        "{query}: {body}"
    );
}

/// Walks every page of `user`'s list with `params` (without `?`) and `limit`, calling `between`
/// with what was seen so far after each full page; answers the IDs in the order served.
fn walk(
    api: &Api,
    user_id: &str,
    params: &str,
    limit: usize,
    mut between: impl FnMut(&[String]),
) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let mut query = format!("?{params}&limit={limit}");
        if let Some(last) = &after {
            query.push_str(&format!("&startingAfter={}", enc(last)));
        }
        let got = list(api, user_id, &query);
        assert!(got.len() <= limit, "{query}: {got:?}");
        seen.extend(got.iter().cloned());
        if got.len() < limit {
            return seen;
        }
        after = got.last().cloned();
        between(&seen);
    }
    panic!("the walk does not end: {seen:?}");
}

/// Whether `walked` holds every ID of `all` exactly once, and nothing else.
fn each_once(walked: &[String], all: &[String], what: &str) -> Result<(), String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in walked {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let missing: Vec<_> = all
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    let foreign: Vec<_> = walked.iter().filter(|id| !all.contains(id)).collect();
    if repeated.is_empty() && missing.is_empty() && foreign.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what}: repeated {repeated:?}, missing {missing:?}, not the user's {foreign:?}, \
             walked {walked:?}"
        ))
    }
}

// =============================================================================================
// PUT and GET /users/{userId}

#[test]
fn a_new_user_has_every_key_with_unset_ones_null_and_empty_objects() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.get(&user("alice")).error(404, "NOT_FOUND");
    let before = now_ms();
    put_user(&api, "alice", json!({"name": "Alice"}));
    let got = api.fetch(&user("alice"));
    let created = got["createdAt"].as_i64().expect("createdAt is an integer");
    assert!(
        created >= before && created <= now_ms() + 1,
        "{created} not in [{before}, now]"
    );
    assert_eq!(
        got,
        json!({
            "id": "alice", "name": "Alice", "email": null, "phone": null, "photoUrl": null,
            "welcomeMessage": null, "role": null, "locale": null, "availabilityText": null,
            "custom": {}, "pushTokens": {}, "createdAt": created
        })
    );
    assert_eq!(keys(&got), set(&USER_KEYS));
}

#[test]
fn put_stores_every_field_of_the_user() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    put_user(
        &api,
        "bob",
        json!({
            "name": "Bob", "email": ["bob@example.com", "b@example.org"],
            "phone": ["+3161234567"], "photoUrl": "https://example.com/bob.png",
            "welcomeMessage": "Hi!", "role": "buyer", "locale": "nl-NL",
            "availabilityText": "Back on Monday", "custom": {"tier": "gold", "": "empty key"},
            "pushTokens": {"fcm:abc": true, "apns:def": true}
        }),
    );
    let got = api.fetch(&user("bob"));
    let created = got["createdAt"].as_i64().unwrap();
    assert_eq!(
        got,
        json!({
            "id": "bob", "name": "Bob", "email": ["bob@example.com", "b@example.org"],
            "phone": ["+3161234567"], "photoUrl": "https://example.com/bob.png",
            "welcomeMessage": "Hi!", "role": "buyer", "locale": "nl-NL",
            "availabilityText": "Back on Monday", "custom": {"tier": "gold", "": "empty key"},
            "pushTokens": {"fcm:abc": true, "apns:def": true}, "createdAt": created
        })
    );
}

#[test]
fn put_merges_absent_fields_stay_and_null_clears_them() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let full = json!({
        "name": "Carol", "email": ["c@example.com"], "phone": ["+1555"],
        "photoUrl": "https://example.com/c.png", "welcomeMessage": "Hello",
        "role": "seller", "locale": "en-US", "availabilityText": "Online"
    });
    put_user(&api, "carol", full.clone());
    let before = api.fetch(&user("carol"));

    // Absent fields are left as they are.
    put_user(&api, "carol", json!({}));
    assert_eq!(api.fetch(&user("carol")), before);
    put_user(
        &api,
        "carol",
        json!({"locale": "de-DE", "email": ["new@example.com"]}),
    );
    let got = api.fetch(&user("carol"));
    assert_eq!(got["locale"], "de-DE");
    assert_eq!(got["email"], json!(["new@example.com"]));
    for field in [
        "name",
        "phone",
        "photoUrl",
        "welcomeMessage",
        "role",
        "availabilityText",
        "createdAt",
    ] {
        assert_eq!(got[field], before[field], "{field}");
    }

    // null clears each nullable field; the name can be changed but not cleared.
    put_user(
        &api,
        "carol",
        json!({
            "name": "Caroline", "email": null, "phone": null, "photoUrl": null,
            "welcomeMessage": null, "role": null, "locale": null, "availabilityText": null
        }),
    );
    let got = api.fetch(&user("carol"));
    assert_eq!(
        got,
        json!({
            "id": "carol", "name": "Caroline", "email": null, "phone": null, "photoUrl": null,
            "welcomeMessage": null, "role": null, "locale": null, "availabilityText": null,
            "custom": {}, "pushTokens": {}, "createdAt": before["createdAt"]
        })
    );
    // Empty arrays are stored as such, not as null.
    put_user(&api, "carol", json!({"email": [], "phone": []}));
    let got = api.fetch(&user("carol"));
    assert_eq!((&got["email"], &got["phone"]), (&json!([]), &json!([])));
}

#[test]
fn custom_merges_key_by_key_and_null_clears_it() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    put_user(
        &api,
        "u",
        json!({"name": "U", "custom": {"a": "1", "b": "2", "c": "3"}}),
    );
    put_user(
        &api,
        "u",
        json!({"custom": {"a": "one", "b": null, "d": "4", "never": null}}),
    );
    assert_eq!(
        api.fetch(&user("u"))["custom"],
        json!({"a": "one", "c": "3", "d": "4"})
    );
    put_user(&api, "u", json!({"custom": {}}));
    assert_eq!(
        api.fetch(&user("u"))["custom"],
        json!({"a": "one", "c": "3", "d": "4"})
    );
    put_user(&api, "u", json!({"custom": null}));
    assert_eq!(api.fetch(&user("u"))["custom"], json!({}));
    put_user(&api, "u", json!({"custom": {"e": "5"}}));
    assert_eq!(api.fetch(&user("u"))["custom"], json!({"e": "5"}));
}

#[test]
fn push_tokens_are_added_with_true_removed_with_null_and_cleared_with_null() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    put_user(
        &api,
        "u",
        json!({"name": "U", "pushTokens": {"fcm:one": true, "apns:two": true}}),
    );
    assert_eq!(
        api.fetch(&user("u"))["pushTokens"],
        json!({"fcm:one": true, "apns:two": true})
    );
    put_user(
        &api,
        "u",
        json!({"pushTokens": {"fcm:one": null, "fcm:three": true, "apns:absent": null}}),
    );
    assert_eq!(
        api.fetch(&user("u"))["pushTokens"],
        json!({"apns:two": true, "fcm:three": true})
    );
    // Adding a token that is there already changes nothing.
    put_user(&api, "u", json!({"pushTokens": {"apns:two": true}}));
    assert_eq!(
        api.fetch(&user("u"))["pushTokens"],
        json!({"apns:two": true, "fcm:three": true})
    );
    put_user(&api, "u", json!({"pushTokens": null}));
    assert_eq!(api.fetch(&user("u"))["pushTokens"], json!({}));
}

#[test]
fn created_at_is_set_on_creation_and_never_changes() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    put_user(&api, "u", json!({"name": "U"}));
    let created = api.fetch(&user("u"))["createdAt"].as_i64().unwrap();
    pause();
    // `createdAt` in a body is ignored; an `id` equal to the path's is accepted.
    put_user(
        &api,
        "u",
        json!({"name": "Renamed", "createdAt": 5, "id": "u", "role": "r"}),
    );
    let got = api.fetch(&user("u"));
    assert_eq!(got["createdAt"], created);
    assert_eq!(
        (&got["name"], &got["role"]),
        (&json!("Renamed"), &json!("r"))
    );
    // Also when creating: the server's clock decides.
    put_user(&api, "v", json!({"name": "V", "createdAt": 5}));
    let v_created = api.fetch(&user("v"))["createdAt"].as_i64().unwrap();
    assert!(v_created > created, "{v_created} <= {created}");
}

#[test]
fn a_new_user_needs_a_name_and_a_user_never_loses_it() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for body in [
        json!({}),
        json!({"email": ["x@example.com"], "role": "r"}),
        json!({"name": null}),
    ] {
        let answer = api.put(&user("u"), &body).error(400, "INVALID_FIELD");
        assert!(answer["reasons"]["name"].is_string(), "{body}: {answer}");
        api.get(&user("u")).error(404, "NOT_FOUND");
    }
    assert!(users_page(&api, "").is_empty());

    put_user(&api, "u", json!({"name": "U", "role": "r"}));
    refused_put(&api, "u", json!({"name": null}), "INVALID_FIELD", &["name"]);
    refused_put(
        &api,
        "u",
        json!({"name": null, "role": "other"}),
        "INVALID_FIELD",
        &["name"],
    );
    // Later PUTs need no name.
    put_user(&api, "u", json!({"role": "s"}));
    let got = api.fetch(&user("u"));
    assert_eq!((&got["name"], &got["role"]), (&json!("U"), &json!("s")));
}

#[test]
fn bad_fields_of_a_user_are_refused_by_name_and_change_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    put_user(
        &api,
        "u",
        json!({"name": "U", "custom": {"k": "v"}, "pushTokens": {"fcm:a": true}}),
    );
    let cases: Vec<(Value, &str, Vec<&str>)> = vec![
        (json!({"name": 5}), "INVALID_FIELD", vec!["name"]),
        (json!({"name": ["U"]}), "INVALID_FIELD", vec!["name"]),
        (
            json!({"email": "u@example.com"}),
            "INVALID_FIELD",
            vec!["email"],
        ),
        (
            json!({"email": ["ok", 3]}),
            "INVALID_FIELD",
            vec!["email[1]"],
        ),
        (json!({"phone": {}}), "INVALID_FIELD", vec!["phone"]),
        (
            json!({"photoUrl": 1, "welcomeMessage": 2, "role": true, "locale": [],
                   "availabilityText": {}}),
            "INVALID_FIELD",
            vec![
                "photoUrl",
                "welcomeMessage",
                "role",
                "locale",
                "availabilityText",
            ],
        ),
        (json!({"custom": "x"}), "INVALID_FIELD", vec!["custom"]),
        (json!({"custom": ["x"]}), "INVALID_FIELD", vec!["custom"]),
        (
            json!({"custom": {"n": 1, "ok": "fine"}}),
            "INVALID_FIELD",
            vec!["custom.n"],
        ),
        (
            json!({"pushTokens": ["fcm:b"]}),
            "INVALID_FIELD",
            vec!["pushTokens"],
        ),
        (
            json!({"pushTokens": "fcm:b"}),
            "INVALID_FIELD",
            vec!["pushTokens"],
        ),
        (
            json!({"pushTokens": {"fcm:b": false}}),
            "INVALID_FIELD",
            vec!["pushTokens.fcm:b"],
        ),
        (
            json!({"pushTokens": {"fcm:b": "yes"}}),
            "INVALID_FIELD",
            vec!["pushTokens.fcm:b"],
        ),
        (
            json!({"pushTokens": {"gcm:b": true}}),
            "INVALID_FIELD",
            vec!["pushTokens.gcm:b"],
        ),
        (
            json!({"pushTokens": {"plain-token": true, "apns:ok": true}}),
            "INVALID_FIELD",
            vec!["pushTokens.plain-token"],
        ),
        (
            json!({"pushTokens": {"fcm:": true}}),
            "INVALID_FIELD",
            vec!["pushTokens.fcm:"],
        ),
        (json!({"id": "someone-else"}), "INVALID_FIELD", vec!["id"]),
        (json!({"id": 5}), "INVALID_FIELD", vec!["id"]),
        (json!({"bogus": 1}), "UNKNOWN_FIELD", vec!["bogus"]),
        (
            json!({"nmae": "typo", "role": 5}),
            "UNKNOWN_FIELD",
            vec!["nmae", "role"],
        ),
        (json!({"Name": "U2"}), "UNKNOWN_FIELD", vec!["Name"]),
        (json!(["name"]), "INVALID_FIELD", vec!["(body)"]),
        (json!("U"), "INVALID_FIELD", vec!["(body)"]),
        (json!(null), "INVALID_FIELD", vec!["(body)"]),
    ];
    for (body, code, fields) in cases {
        refused_put(&api, "u", body, code, &fields);
    }
    // The same bodies are refused when they would create a user, and create nothing.
    refused_put(
        &api,
        "new",
        json!({"name": "N", "bogus": 1}),
        "UNKNOWN_FIELD",
        &["bogus"],
    );
    refused_put(
        &api,
        "new",
        json!({"name": "N", "pushTokens": {"token": true}}),
        "INVALID_FIELD",
        &["pushTokens.token"],
    );
    api.get(&user("new")).error(404, "NOT_FOUND");
    api.put_raw(&user("u"), b"{\"name\": ")
        .error(400, "INVALID_JSON");
    api.request(
        "PUT",
        &user("u"),
        &[("Content-Type", "text/plain")],
        Some(br#"{"name": "Plain"}"#),
    )
    .error(415, "UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(api.fetch(&user("u"))["name"], "U");
}

#[test]
fn the_custom_limits_apply_to_users() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let many = |n: usize, prefix: &str| -> Value {
        let map: Map<String, Value> = (0..n)
            .map(|i| (format!("{prefix}{i:03}"), json!("v")))
            .collect();
        Value::Object(map)
    };
    // On creation.
    refused_put(
        &api,
        "u",
        json!({"name": "U", "custom": many(101, "k")}),
        "LIMIT_EXCEEDED",
        &["custom"],
    );
    let long_key = "k".repeat(256);
    let answer = api
        .put(
            &user("u"),
            &json!({"name": "U", "custom": {long_key.clone(): "v"}}),
        )
        .error(400, "LIMIT_EXCEEDED");
    let reasons = keys(&answer["reasons"]);
    assert!(
        reasons.len() == 1 && reasons.iter().all(|r| r.starts_with("custom.k")),
        "{answer}"
    );
    refused_put(
        &api,
        "u",
        json!({"name": "U", "custom": {"k": "x".repeat(10_001)}}),
        "LIMIT_EXCEEDED",
        &["custom.k"],
    );
    api.get(&user("u")).error(404, "NOT_FOUND");

    // Exactly at the limits.
    put_user(&api, "u", json!({"name": "U", "custom": many(99, "k")}));
    put_user(
        &api,
        "u",
        json!({"custom": {"k".repeat(255): "x".repeat(10_000)}}),
    );
    let custom = api.fetch(&user("u"))["custom"].clone();
    assert_eq!(custom.as_object().unwrap().len(), 100);
    assert_eq!(custom["k".repeat(255)], "x".repeat(10_000));

    // The merged user counts: a 101st key is refused, a swap is fine.
    refused_put(
        &api,
        "u",
        json!({"custom": {"one-more": "v"}}),
        "LIMIT_EXCEEDED",
        &["custom"],
    );
    put_user(
        &api,
        "u",
        json!({"custom": {"one-more": "v", "k000": null}}),
    );
    let custom = api.fetch(&user("u"))["custom"].clone();
    assert_eq!(custom.as_object().unwrap().len(), 100);
    assert_eq!(custom["one-more"], "v");
    assert!(custom.get("k000").is_none());
    // A value over the limit is refused on an existing user too.
    refused_put(
        &api,
        "u",
        json!({"custom": {"k001": "x".repeat(10_001)}}),
        "LIMIT_EXCEEDED",
        &["custom.k001"],
    );
}

#[test]
fn user_ids_in_the_path_are_percent_decoded_and_checked() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let longest = "x".repeat(255);
    for id in ["a/b c", "100%", "ü?#&=", "+plus", longest.as_str()] {
        put_user(&api, id, json!({"name": id}));
        let got = api.fetch(&user(id));
        assert_eq!((&got["id"], &got["name"]), (&json!(id), &json!(id)));
    }
    // `+` is not a space in a path.
    assert_eq!(api.fetch("/users/%2Bplus")["id"], "+plus");
    assert_eq!(api.fetch("/users/+plus")["id"], "+plus");
    api.get("/users/%20plus").error(404, "NOT_FOUND");

    let too_long = "x".repeat(256);
    for path in [
        user(&too_long),
        format!("{}/conversations", user(&too_long)),
    ] {
        let body = api.get(&path).error(400, "INVALID_ID");
        assert!(body["reasons"]["userId"].is_string(), "{path}: {body}");
    }
    let body = api
        .put(&user(&too_long), &json!({"name": "long"}))
        .error(400, "INVALID_ID");
    assert!(body["reasons"]["userId"].is_string(), "{body}");
    let body = api
        .put("/users/a%00b", &json!({"name": "control"}))
        .error(400, "INVALID_ID");
    assert!(body["reasons"]["userId"].is_string(), "{body}");
    assert_eq!(users_page(&api, "?limit=100").len(), 5);
}

// =============================================================================================
// PUT /users (batch)

#[test]
fn a_batch_put_creates_and_merges_many_users() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(
        "/users",
        &json!({
            "u1": {"name": "One", "role": "buyer"},
            "u2": {"name": "Two", "custom": {"k": "v"}, "pushTokens": {"fcm:t": true}},
            "a/b": {"name": "Slash", "id": "a/b"}
        }),
    )
    .ok_empty();
    assert_eq!(user_ids(&api, ""), ["a/b", "u1", "u2"]);
    let u2 = api.fetch(&user("u2"));
    assert_eq!(u2["custom"], json!({"k": "v"}));
    assert_eq!(u2["pushTokens"], json!({"fcm:t": true}));

    pause();
    api.put(
        "/users",
        &json!({
            "u1": {"email": ["one@example.com"]},
            "u2": {"custom": {"k": null, "l": "w"}, "pushTokens": null, "createdAt": 1},
            "u3": {"name": "Three"}
        }),
    )
    .ok_empty();
    let u1 = api.fetch(&user("u1"));
    assert_eq!(
        (&u1["name"], &u1["role"], &u1["email"]),
        (&json!("One"), &json!("buyer"), &json!(["one@example.com"]))
    );
    let u2_after = api.fetch(&user("u2"));
    assert_eq!(u2_after["custom"], json!({"l": "w"}));
    assert_eq!(u2_after["pushTokens"], json!({}));
    assert_eq!(u2_after["createdAt"], u2["createdAt"]);
    assert_eq!(api.fetch(&user("u3"))["name"], "Three");
    assert!(
        api.fetch(&user("u3"))["createdAt"].as_i64() > u2["createdAt"].as_i64(),
        "u3 was created later"
    );

    // An empty batch changes nothing.
    api.put("/users", &json!({})).ok_empty();
    assert_eq!(user_ids(&api, ""), ["a/b", "u1", "u2", "u3"]);
}

#[test]
fn a_batch_put_is_all_or_nothing_with_reasons_keyed_by_user_id() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/users", &json!({"u1": {"name": "One"}}))
        .ok_empty();
    let before = users_page(&api, "?limit=100");
    let cases: Vec<(Value, &str, Vec<&str>)> = vec![
        // A new user without a name, next to a good change.
        (
            json!({"u1": {"name": "Changed"}, "u2": {"email": ["two@example.com"]}}),
            "INVALID_FIELD",
            vec!["u2.name"],
        ),
        (
            json!({"u1": {"name": null}, "u2": {"name": "Two"}}),
            "INVALID_FIELD",
            vec!["u1.name"],
        ),
        (
            json!({"u1": {"role": "r"}, "u3": {"name": "Three", "custom": {"k": "x".repeat(10_001)}}}),
            "LIMIT_EXCEEDED",
            vec!["u3.custom.k"],
        ),
        (
            json!({"u1": {"role": "r"}, "u4": {"name": "Four", "bogus": 1}}),
            "UNKNOWN_FIELD",
            vec!["u4.bogus"],
        ),
        (
            json!({"u2": {"name": 5}, "u3": {"name": "Three", "pushTokens": {"fcm:a": false}}}),
            "INVALID_FIELD",
            vec!["u2.name", "u3.pushTokens.fcm:a"],
        ),
        (
            json!({"u2": {"name": "Two"}, "u5": {"name": "Five", "pushTokens": {"gcm:a": true}}}),
            "INVALID_FIELD",
            vec!["u5.pushTokens.gcm:a"],
        ),
        (
            json!({"u2": {"name": "Two"}, "u6": {"name": "Six", "id": "other"}}),
            "INVALID_FIELD",
            vec!["u6.id"],
        ),
        (
            json!({"u2": {"name": "Two"}, "u7": "not a user"}),
            "INVALID_FIELD",
            vec!["u7"],
        ),
        (
            json!({"u2": {"name": "Two"}, "u8": null}),
            "INVALID_FIELD",
            vec!["u8"],
        ),
    ];
    for (body, code, fields) in cases {
        let answer = api.put("/users", &body).error(400, code);
        assert_eq!(keys(&answer["reasons"]), set(&fields), "{body}: {answer}");
        assert_eq!(
            users_page(&api, "?limit=100"),
            before,
            "a refused batch {body} changed the users"
        );
    }
    // The custom key limit counts the merged user of each item.
    let hundred: Map<String, Value> = (0..100).map(|i| (format!("k{i:03}"), json!("v"))).collect();
    api.put("/users", &json!({"u1": {"custom": hundred}}))
        .ok_empty();
    let before = users_page(&api, "?limit=100");
    let answer = api
        .put(
            "/users",
            &json!({"u2": {"name": "Two"}, "u1": {"custom": {"extra": "v"}}}),
        )
        .error(400, "LIMIT_EXCEEDED");
    assert_eq!(keys(&answer["reasons"]), set(&["u1.custom"]), "{answer}");
    assert_eq!(users_page(&api, "?limit=100"), before);
}

#[test]
fn a_batch_put_refuses_bad_user_ids_and_bodies_that_are_not_objects() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let too_long = "x".repeat(256);
    for (body, field) in [
        (
            json!({too_long.clone(): {"name": "Long"}, "ok": {"name": "Ok"}}),
            too_long.as_str(),
        ),
        (json!({"": {"name": "Empty"}, "ok": {"name": "Ok"}}), ""),
        (
            json!({"a\u{0007}b": {"name": "Bell"}, "ok": {"name": "Ok"}}),
            "a\u{0007}b",
        ),
    ] {
        let answer = api.put("/users", &body).error(400, "INVALID_FIELD");
        assert_eq!(keys(&answer["reasons"]), set(&[field]), "{answer}");
    }
    for body in [
        json!([{"name": "x"}]),
        json!("users"),
        json!(null),
        json!(5),
    ] {
        let answer = api.put("/users", &body).error(400, "INVALID_FIELD");
        assert_eq!(
            keys(&answer["reasons"]),
            set(&["(body)"]),
            "{body}: {answer}"
        );
    }
    api.put_raw("/users", b"{\"u\": {")
        .error(400, "INVALID_JSON");
    assert!(users_page(&api, "?limit=100").is_empty());
}

#[test]
fn a_batch_put_takes_up_to_100_users_and_refuses_101() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let batch = |range: std::ops::Range<usize>| -> Value {
        let map: Map<String, Value> = range
            .map(|i| (format!("user-{i:03}"), json!({"name": format!("User {i}")})))
            .collect();
        Value::Object(map)
    };
    api.put("/users", &batch(0..100)).ok_empty();
    let all: Vec<String> = (0..100).map(|i| format!("user-{i:03}")).collect();
    assert_eq!(user_ids(&api, "?limit=100"), all);

    let answer = api
        .put("/users", &batch(100..201))
        .error(400, "LIMIT_EXCEEDED");
    assert!(
        answer["reasons"].as_object().is_some_and(|r| r
            .values()
            .any(|why| why.as_str().is_some_and(|w| w.contains("100")))),
        "the reason names the limit: {answer}"
    );
    assert!(user_ids(&api, "?startingAfter=user-099").is_empty());
    api.get(&user("user-100")).error(404, "NOT_FOUND");
}

#[test]
fn the_batch_size_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("p.db"));
    s.limits.users_per_batch = 3;
    let server = TestServer::start(s);
    let api = server.api();
    api.put(
        "/users",
        &json!({"a": {"name": "A"}, "b": {"name": "B"}, "c": {"name": "C"}, "d": {"name": "D"}}),
    )
    .error(400, "LIMIT_EXCEEDED");
    assert!(users_page(&api, "").is_empty());
    api.put(
        "/users",
        &json!({"a": {"name": "A"}, "b": {"name": "B"}, "c": {"name": "C"}}),
    )
    .ok_empty();
    assert_eq!(user_ids(&api, ""), ["a", "b", "c"]);
}

// =============================================================================================
// GET /users

#[test]
fn users_are_listed_in_bytewise_id_order() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    // Bytewise UTF-8: "Z" < "a" < "é", and U+FF01 < U+1F600 (unlike UTF-16 code units).
    let all = strs(&[
        "a", "B", "Z", "a b", "a/b", "ab", "é", "\u{FF01}", "😀", "A", "0", "_",
    ]);
    let mut body = Map::new();
    for id in &all {
        body.insert(id.clone(), json!({"name": id}));
    }
    api.put("/users", &Value::Object(body)).ok_empty();
    let mut bytewise = all.clone();
    bytewise.sort();
    assert_eq!(
        bytewise[..4],
        strs(&["0", "A", "B", "Z"]),
        "sanity: str orders by bytes"
    );

    let listed = users_page(&api, "?limit=100");
    assert_eq!(ids(&listed), bytewise);
    for item in &listed {
        let id = item["id"].as_str().unwrap();
        assert_eq!(item, &api.fetch(&user(id)), "{id}");
        assert_eq!(keys(item), set(&USER_KEYS));
    }
    for limit in [1, 2, 5] {
        assert_eq!(walk_users(&api, limit), bytewise, "limit {limit}");
    }
    for (i, after) in bytewise.iter().enumerate() {
        assert_eq!(
            user_ids(&api, &format!("?limit=100&startingAfter={}", enc(after))),
            bytewise[i + 1..],
            "after {after}"
        );
    }
}

#[test]
fn the_user_list_pages_ten_by_default_and_up_to_100() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let all: Vec<String> = (0..105).map(|i| format!("u{i:03}")).collect();
    for chunk in all.chunks(50) {
        let map: Map<String, Value> = chunk
            .iter()
            .map(|id| (id.clone(), json!({"name": id})))
            .collect();
        api.put("/users", &Value::Object(map)).ok_empty();
    }
    assert_eq!(user_ids(&api, ""), all[..10]);
    assert_eq!(user_ids(&api, "?limit=1"), all[..1]);
    assert_eq!(user_ids(&api, "?limit=100"), all[..100]);
    assert_eq!(user_ids(&api, "?limit=100&startingAfter=u099"), all[100..]);
    assert_eq!(user_ids(&api, "?startingAfter=u009"), all[10..20]);
    assert_eq!(user_ids(&api, "?limit=3&startingAfter=u050"), all[51..54]);
    assert!(user_ids(&api, "?startingAfter=u104").is_empty());
    assert_eq!(walk_users(&api, 7), all);
    for bad in ["0", "101", "-1", "ten", "2.5", ""] {
        let body = api
            .get(&format!("/users?limit={bad}"))
            .error(400, "INVALID_FIELD");
        assert!(body["reasons"]["limit"].is_string(), "{bad}: {body}");
    }
}

#[test]
fn starting_after_in_the_user_list_must_name_a_user_of_this_app() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let theirs = Api::new(&server.base, OTHER_APP, OTHER_KEY);
    api.put("/users", &json!({"a": {"name": "A"}, "c": {"name": "C"}}))
        .ok_empty();
    theirs
        .put("/users", &json!({"b": {"name": "B"}, "z": {"name": "Z"}}))
        .ok_empty();
    for after in ["nope", "b", "z", "bb"] {
        let body = api
            .get(&format!("/users?startingAfter={after}"))
            .error(400, "INVALID_FIELD");
        assert!(
            body["reasons"]["startingAfter"].is_string(),
            "{after}: {body}"
        );
    }
    assert_eq!(user_ids(&api, "?startingAfter=a"), ["c"]);
    assert_eq!(user_ids(&theirs, ""), ["b", "z"]);
    assert_eq!(user_ids(&theirs, "?startingAfter=b"), ["z"]);
    let body = theirs
        .get("/users?startingAfter=a")
        .error(400, "INVALID_FIELD");
    assert!(body["reasons"]["startingAfter"].is_string(), "{body}");
}

// =============================================================================================
// GET /users/{userId}/conversations

#[test]
fn a_users_conversations_are_conversation_objects_with_their_unread_state() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    api.put(
        &conv("plain"),
        &json!({"participants": ["u", "v"], "subject": "s", "custom": {"k": "v"},
                "welcomeMessages": ["hello"], "photoUrl": "https://example.com/p.png"}),
    )
    .ok_empty();
    pause();
    create(&api, "busy", &["u", "v"]);
    pause();
    say(&api, "busy", "v");
    create(&api, "not-mine", &["v", "w"]);

    let items = page(&api, "u", "");
    assert_eq!(ids(&items), ["busy", "plain"]);
    for item in &items {
        let id = item["id"].as_str().unwrap();
        let mut expected = api.fetch(&conv(id));
        let unread = id == "busy";
        expected["isUnread"] = json!(unread);
        expected["unreadMessageCount"] = json!(if unread { 1 } else { 0 });
        assert_eq!(item, &expected, "{id}");
    }
    assert_eq!(items[0]["lastMessage"]["text"], "hi");
    assert_eq!(items[0]["participants"]["u"]["isUnread"], true);
    assert_eq!(items[0]["participants"]["v"]["isUnread"], false);
}

#[test]
fn the_conversation_list_of_an_unknown_user_is_not_found_even_for_a_participant() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, "c", &["ghost", "v"]);
    say(&api, "c", "v");
    api.get("/users/ghost/conversations")
        .error(404, "NOT_FOUND");
    api.get("/users/nobody/conversations?unreadsOnly=true")
        .error(404, "NOT_FOUND");
    // Whatever the cursor: one of their conversations, or none at all.
    api.get("/users/ghost/conversations?startingAfter=c")
        .error(404, "NOT_FOUND");
    api.get("/users/ghost/conversations?startingAfter=nothing")
        .error(404, "NOT_FOUND");

    // A user without conversations has an empty list.
    make_user(&api, "loner");
    assert_eq!(api.fetch("/users/loner/conversations"), json!({"data": []}));
    assert_eq!(
        api.fetch("/users/loner/conversations?unreadsOnly=true"),
        json!({"data": []})
    );

    // Once the participant is a user, their conversations are listed.
    make_user(&api, "ghost");
    assert_eq!(list(&api, "ghost", ""), ["c"]);
    assert_eq!(unread(&api, "ghost", "c"), (true, 1));
}

#[test]
fn unread_messages_are_the_other_participants_and_system_messages_newer_than_read_until() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    make_user(&api, "v");
    create(&api, "c", &["u", "v"]);
    assert_eq!(unread(&api, "u", "c"), (false, 0));
    pause();
    say(&api, "c", "v");
    pause();
    say(&api, "c", "v");
    pause();
    announce(&api, "c");
    assert_eq!(unread(&api, "u", "c"), (true, 3));
    // v's own messages are not unread for v; the system message after them is.
    assert_eq!(unread(&api, "v", "c"), (true, 1));

    pause();
    say(&api, "c", "u");
    // Sending moves the sender's readUntil to their message.
    assert_eq!(unread(&api, "u", "c"), (false, 0));
    assert_eq!(unread(&api, "v", "c"), (true, 2));

    // Every item of one request counts.
    pause();
    let resp = api.post(
        &format!("{}/messages", conv("c")),
        &json!([
            {"text": "1", "type": "UserMessage", "sender": "v"},
            {"text": "2", "type": "UserMessage", "sender": "v"},
            {"text": "3", "type": "SystemMessage"}
        ]),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(unread(&api, "u", "c"), (true, 3));
    // v's readUntil moved to their messages of this request; the system message shares their
    // millisecond, so it is not newer than v's readUntil (and its readBy names v).
    assert_eq!(unread(&api, "v", "c"), (false, 0));
    assert_eq!(api.fetch(&conv("c"))["lastMessage"]["readBy"], json!(["v"]));
}

#[test]
fn read_until_marks_messages_read_and_a_patch_may_move_it_back() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    create(&api, "c", &["u", "v"]);
    pause();
    let m1 = say(&api, "c", "v");
    pause();
    let m2 = say(&api, "c", "v");
    pause();
    let m3 = say(&api, "c", "v");
    let (t1, t2, t3) = (
        message_time(&api, "c", &m1),
        message_time(&api, "c", &m2),
        message_time(&api, "c", &m3),
    );
    assert!(t1 < t2 && t2 < t3, "{t1} {t2} {t3}");
    assert_eq!(unread(&api, "u", "c"), (true, 3));
    read_until(&api, "c", "u", t2);
    assert_eq!(unread(&api, "u", "c"), (true, 1));
    read_until(&api, "c", "u", t1);
    assert_eq!(unread(&api, "u", "c"), (true, 2));
    read_until(&api, "c", "u", t3 - 1);
    assert_eq!(unread(&api, "u", "c"), (true, 1));
    read_until(&api, "c", "u", t3);
    assert_eq!(unread(&api, "u", "c"), (false, 0));
    read_until(&api, "c", "u", 0);
    assert_eq!(unread(&api, "u", "c"), (true, 3));
}

#[test]
fn a_participant_who_joins_later_has_read_everything_sent_before() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for id in ["u", "w"] {
        make_user(&api, id);
    }
    create(&api, "c", &["u", "v"]);
    pause();
    say(&api, "c", "v");
    say(&api, "c", "v");
    pause();
    api.put(&member("c", "w"), &json!({})).ok_empty();
    assert_eq!(unread(&api, "w", "c"), (false, 0));
    pause();
    api.put(&conv("c"), &json!({"participants": ["late"]}))
        .ok_empty();
    make_user(&api, "late");
    assert_eq!(unread(&api, "late", "c"), (false, 0));
    pause();
    say(&api, "c", "v");
    assert_eq!(unread(&api, "w", "c"), (true, 1));
    assert_eq!(unread(&api, "late", "c"), (true, 1));
    assert_eq!(unread(&api, "u", "c"), (true, 3));

    // Leaving and joining again starts afresh.
    api.delete(&member("c", "u")).ok_empty();
    assert!(list(&api, "u", "").is_empty());
    pause();
    api.put(&member("c", "u"), &json!({})).ok_empty();
    assert_eq!(unread(&api, "u", "c"), (false, 0));
}

#[test]
fn deleted_messages_do_not_count_as_unread() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    create(&api, "c", &["u", "v"]);
    pause();
    let m1 = say(&api, "c", "v");
    pause();
    let m2 = say(&api, "c", "v");
    assert_eq!(unread(&api, "u", "c"), (true, 2));
    delete_message(&api, "c", &m1);
    assert_eq!(unread(&api, "u", "c"), (true, 1));
    delete_message(&api, "c", &m2);
    assert_eq!(unread(&api, "u", "c"), (false, 0));
    assert!(page(&api, "u", "")[0]["lastMessage"].is_null());
    assert!(list(&api, "u", "?unreadsOnly=true").is_empty());

    // When the newest message is deleted and the one before is the user's own, nothing is unread.
    create(&api, "d", &["u", "v"]);
    pause();
    say(&api, "d", "u");
    pause();
    let theirs = say(&api, "d", "v");
    assert_eq!(unread(&api, "u", "d"), (true, 1));
    assert_eq!(list(&api, "u", "?unreadsOnly=true"), ["d"]);
    delete_message(&api, "d", &theirs);
    assert_eq!(unread(&api, "u", "d"), (false, 0));
    assert!(list(&api, "u", "?unreadsOnly=true").is_empty());
}

#[test]
fn conversations_left_or_with_access_none_are_not_listed() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    make_user(&api, "v");
    for id in ["shown", "hidden", "left"] {
        create(&api, id, &["u", "v"]);
        pause();
    }
    api.patch(&member("hidden", "u"), &json!({"access": "None"}))
        .ok_empty();
    api.delete(&member("left", "u")).ok_empty();
    assert_eq!(list(&api, "u", "?limit=100"), ["shown"]);
    assert_eq!(list(&api, "v", "?limit=100"), ["left", "hidden", "shown"]);
    for after in ["hidden", "left"] {
        refused_after(&api, "u", &format!("startingAfter={after}"));
    }
    // Messages into them do not bring them back.
    pause();
    say(&api, "hidden", "v");
    pause();
    say(&api, "left", "v");
    assert_eq!(list(&api, "u", "?limit=100"), ["shown"]);
    assert!(list(&api, "u", "?unreadsOnly=true").is_empty());

    // Access back: listed again, with the readUntil kept on record.
    api.patch(&member("hidden", "u"), &json!({"access": "Read"}))
        .ok_empty();
    assert_eq!(list(&api, "u", "?limit=100"), ["hidden", "shown"]);
    assert_eq!(unread(&api, "u", "hidden"), (true, 1));
    // Joining again: listed again, as a new participant.
    pause();
    api.put(&member("left", "u"), &json!({})).ok_empty();
    assert_eq!(list(&api, "u", "?limit=100"), ["left", "hidden", "shown"]);
    assert_eq!(unread(&api, "u", "left"), (false, 0));
    // A deleted conversation is gone from the list.
    api.delete(&conv("shown")).ok_empty();
    assert_eq!(list(&api, "u", "?limit=100"), ["left", "hidden"]);
}

#[test]
fn unreads_only_keeps_conversations_whose_newest_message_is_someone_elses_and_unread() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    for id in ["a", "b", "c", "d", "e"] {
        create(&api, id, &["u", "v"]);
    }
    create(&api, "g", &["v", "w"]);
    pause();
    say(&api, "a", "v"); // unread
    pause();
    say(&api, "b", "v");
    pause();
    say(&api, "b", "u"); // read: u's own message is the newest
    pause();
    let d = say(&api, "d", "v");
    read_until(&api, "d", "u", message_time(&api, "d", &d)); // read by PATCH
    pause();
    announce(&api, "e"); // unread: a system message
    pause();
    say(&api, "g", "w"); // not u's
                         // c has no messages.

    assert_eq!(list(&api, "u", "?limit=100"), ["e", "d", "b", "a", "c"]);
    assert_eq!(
        list(&api, "u", "?limit=100&unreadsOnly=false"),
        ["e", "d", "b", "a", "c"]
    );
    assert_eq!(list(&api, "u", "?unreadsOnly=true"), ["e", "a"]);
    assert_eq!(
        list(&api, "u", "?unreadsOnly=true&orderDirection=ASC"),
        ["a", "e"]
    );
    assert_eq!(
        list(
            &api,
            "u",
            "?unreadsOnly=true&orderBy=createdAt&orderDirection=ASC"
        ),
        ["a", "e"]
    );
    assert_eq!(walk(&api, "u", "unreadsOnly=true", 1, |_| {}), ["e", "a"]);
    assert_eq!(
        list(&api, "u", "?unreadsOnly=true&limit=1&startingAfter=e"),
        ["a"]
    );
    for item in page(&api, "u", "?unreadsOnly=true") {
        assert_eq!(item["isUnread"], true, "{item}");
        assert_eq!(item["unreadMessageCount"], 1, "{item}");
    }

    // Someone else writes into b: unread again; u reads a: gone.
    pause();
    say(&api, "b", "v");
    assert_eq!(list(&api, "u", "?unreadsOnly=true"), ["b", "e", "a"]);
    let a_time = api.fetch(&conv("a"))["lastMessage"]["createdAt"]
        .as_i64()
        .unwrap();
    read_until(&api, "a", "u", a_time);
    assert_eq!(list(&api, "u", "?unreadsOnly=true"), ["b", "e"]);
    // Combined with the last-message filters.
    let e_time = api.fetch(&conv("e"))["lastMessage"]["createdAt"]
        .as_i64()
        .unwrap();
    assert_eq!(
        list(
            &api,
            "u",
            &format!("?unreadsOnly=true&lastMessageBefore={}", e_time + 1)
        ),
        ["e"]
    );
    assert_eq!(
        list(
            &api,
            "u",
            &format!("?unreadsOnly=true&lastMessageAfter={e_time}")
        ),
        ["b"]
    );

    for bad in ["yes", "1", "0", "", "truee"] {
        let body = api
            .get(&format!("/users/u/conversations?unreadsOnly={bad}"))
            .error(400, "INVALID_FIELD");
        assert!(body["reasons"]["unreadsOnly"].is_string(), "{bad}: {body}");
    }
}

#[test]
fn a_users_list_orders_and_filters_like_the_conversation_list() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    let all: Vec<String> = (0..12).map(|i| format!("c{i:02}")).collect();
    for (i, id) in all.iter().enumerate() {
        create(&api, id, &["u", "v"]);
        if i == 5 {
            create(&api, "x-not-mine", &["v"]);
        }
        pause();
    }
    let t03 = message_time(&api, "c03", &say(&api, "c03", "v"));
    pause();
    let t07 = message_time(&api, "c07", &say(&api, "c07", "u"));
    pause();
    say(&api, "x-not-mine", "v");

    let by_activity = strs(&[
        "c07", "c03", "c11", "c10", "c09", "c08", "c06", "c05", "c04", "c02", "c01", "c00",
    ]);
    assert_eq!(list(&api, "u", ""), by_activity[..10]);
    assert_eq!(list(&api, "u", "?limit=100"), by_activity);
    assert_eq!(
        list(
            &api,
            "u",
            "?limit=100&orderBy=lastActivity&orderDirection=desc"
        ),
        by_activity
    );
    let ascending: Vec<String> = by_activity.iter().rev().cloned().collect();
    assert_eq!(list(&api, "u", "?limit=100&orderDirection=ASC"), ascending);
    assert_eq!(
        list(&api, "u", "?limit=2&startingAfter=c11"),
        ["c10", "c09"]
    );
    assert_eq!(
        list(&api, "u", "?limit=2&orderDirection=ASC&startingAfter=c11"),
        ["c03", "c07"]
    );

    let newest_first: Vec<String> = all.iter().rev().cloned().collect();
    assert_eq!(
        list(&api, "u", "?orderBy=createdAt&limit=100"),
        newest_first
    );
    assert_eq!(
        list(&api, "u", "?orderBy=createdAt&orderDirection=ASC&limit=100"),
        all
    );
    assert_eq!(
        list(
            &api,
            "u",
            "?orderBy=createdAt&orderDirection=ASC&startingAfter=c02&limit=2"
        ),
        ["c03", "c04"]
    );

    let filters = [
        ("lastMessageAfter=0".to_string(), vec!["c07", "c03"]),
        (format!("lastMessageBefore={t07}"), vec!["c03"]),
        (format!("lastMessageBefore={t03}"), vec![]),
        (format!("lastMessageAfter={t03}"), vec!["c07"]),
        (format!("lastMessageAfter={}", t03 - 1), vec!["c07", "c03"]),
        (
            format!("lastMessageAfter={}&lastMessageBefore={t07}", t03 - 1),
            vec!["c03"],
        ),
        (
            "lastMessageAfter=0&orderDirection=ASC".to_string(),
            vec!["c03", "c07"],
        ),
        (
            "lastMessageAfter=0&orderBy=createdAt".to_string(),
            vec!["c07", "c03"],
        ),
    ];
    for (query, expected) in filters {
        assert_eq!(
            list(&api, "u", &format!("?{query}")),
            strs(&expected),
            "{query}"
        );
    }
    assert_eq!(walk(&api, "u", "", 5, |_| {}), by_activity);
    assert_eq!(
        walk(&api, "u", "orderBy=createdAt&orderDirection=ASC", 5, |_| {}),
        all
    );
}

#[test]
fn ties_in_a_users_list_break_on_conversation_id_bytewise() {
    let tied = ["a", "B", "Z", "é", "\u{FF01}", "😀", "0", "a b"];
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let at = 1_700_000_000_000;
    let make = |id: &str, members: &[&str]| {
        let mut c = Conversation::new(ConversationId::new(id).unwrap(), at);
        for m in members {
            c.participants
                .insert(UserId::new(*m).unwrap(), Participant::joined(at));
        }
        c
    };
    let mut seeded: Vec<Conversation> = tied.iter().map(|id| make(id, &["u", "v"])).collect();
    seeded.push(make("m-not-mine", &["v"]));
    seed(&db, APP, &seeded);
    let server = TestServer::start(settings(&db));
    let api = server.api();
    make_user(&api, "u");

    let mut ascending = strs(&tied);
    ascending.sort();
    let descending: Vec<String> = ascending.iter().rev().cloned().collect();
    for order_by in ["lastActivity", "createdAt"] {
        for (direction, expected) in [("ASC", &ascending), ("DESC", &descending)] {
            let params = format!("orderBy={order_by}&orderDirection={direction}");
            assert_eq!(
                list(&api, "u", &format!("?{params}&limit=100")),
                *expected,
                "{params}"
            );
            for limit in [1, 3] {
                assert_eq!(
                    walk(&api, "u", &params, limit, |_| {}),
                    *expected,
                    "{params} limit {limit}"
                );
            }
        }
    }
}

#[test]
fn the_limit_of_a_users_list_is_from_1_to_100() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    for i in 0..3 {
        create(&api, &format!("c{i}"), &["u"]);
        pause();
    }
    assert_eq!(list(&api, "u", "?limit=1"), ["c2"]);
    assert_eq!(list(&api, "u", "?limit=100"), ["c2", "c1", "c0"]);
    for bad in ["0", "101", "-1", "ten", "2.5", ""] {
        let body = api
            .get(&format!("/users/u/conversations?limit={bad}"))
            .error(400, "INVALID_FIELD");
        assert!(body["reasons"]["limit"].is_string(), "{bad}: {body}");
    }
}

#[test]
fn bad_parameters_of_a_users_list_are_refused_by_name() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    create(&api, "c", &["u"]);
    let cases = [
        ("orderBy=name", vec!["orderBy"]),
        ("orderDirection=up", vec!["orderDirection"]),
        ("lastMessageBefore=yesterday", vec!["lastMessageBefore"]),
        ("lastMessageAfter=1.5", vec!["lastMessageAfter"]),
        (
            "orderBy=name&unreadsOnly=maybe&limit=0",
            vec!["orderBy", "unreadsOnly", "limit"],
        ),
    ];
    for (query, fields) in cases {
        let body = api
            .get(&format!("/users/u/conversations?{query}"))
            .error(400, "INVALID_FIELD");
        for field in fields {
            assert!(body["reasons"][field].is_string(), "{query}: {body}");
        }
    }
    // Parameters that are not part of the API are ignored.
    assert_eq!(list(&api, "u", "?color=blue"), ["c"]);
    api.post("/users/u/conversations", &json!({}))
        .error(405, "METHOD_NOT_ALLOWED");
}

#[test]
fn starting_after_in_a_users_list_must_name_one_of_their_listed_conversations() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let theirs = Api::new(&server.base, OTHER_APP, OTHER_KEY);
    make_user(&api, "u");
    for id in ["a", "b", "c"] {
        create(&api, id, &["u", "v"]);
        pause();
    }
    create(&api, "vs", &["v", "w"]);
    create(&api, "gone", &["u"]);
    api.delete(&conv("gone")).ok_empty();
    theirs
        .put(&conv("foreign"), &json!({"participants": ["u"]}))
        .ok_empty();

    for after in ["nope", "vs", "foreign", "gone"] {
        refused_after(&api, "u", &format!("startingAfter={after}"));
    }
    assert_eq!(list(&api, "u", "?limit=2"), ["c", "b"]);
    assert_eq!(list(&api, "u", "?limit=2&startingAfter=b"), ["a"]);

    // A conversation that the user left after it was served is no item of the list any more.
    api.delete(&member("b", "u")).ok_empty();
    refused_after(&api, "u", "limit=2&startingAfter=b");
    assert_eq!(list(&api, "u", "?startingAfter=c"), ["a"]);

    // One that the filters leave out is no item of that list either.
    pause();
    say(&api, "a", "v");
    refused_after(&api, "u", "lastMessageAfter=0&startingAfter=c");
    assert!(list(&api, "u", "?lastMessageAfter=0&startingAfter=a").is_empty());
}

#[test]
fn starting_after_with_unreads_only_must_name_an_unread_conversation() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    for id in ["a", "b", "c"] {
        create(&api, id, &["u", "v"]);
        pause();
    }
    say(&api, "a", "v");
    pause();
    say(&api, "b", "u");
    pause();
    say(&api, "c", "v");
    assert_eq!(list(&api, "u", "?limit=100"), ["c", "b", "a"]);
    assert_eq!(list(&api, "u", "?unreadsOnly=true"), ["c", "a"]);
    // b is read by u: it is no item of the unreadsOnly list, so it cannot be its cursor.
    refused_after(&api, "u", "unreadsOnly=true&startingAfter=b");
    assert_eq!(list(&api, "u", "?unreadsOnly=true&startingAfter=c"), ["a"]);
}

#[test]
fn walking_a_users_conversations_returns_each_once_while_conversations_receive_messages() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    let mine: Vec<String> = (0..25).map(|i| format!("mine-{i:02}")).collect();
    let others: Vec<String> = (0..10).map(|i| format!("other-{i:02}")).collect();
    for (i, id) in mine.iter().enumerate() {
        create(&api, id, &["u", "v"]);
        // Some start with messages, so that last activity and creation orders differ.
        if i % 5 == 2 {
            say(&api, id, "v");
        }
        if let Some(other) = others.get(i) {
            create(&api, other, &["v", "w"]);
            if i % 3 == 0 {
                say(&api, other, "w");
            }
        }
    }
    let combos = [
        ("orderBy=lastActivity&orderDirection=DESC", 3),
        ("orderBy=lastActivity&orderDirection=ASC", 4),
        ("orderBy=createdAt&orderDirection=DESC", 4),
        ("orderBy=createdAt&orderDirection=ASC", 3),
        ("unreadsOnly=false", 3),
    ];
    let mut problems = Vec::new();
    for (params, limit) in combos {
        let mut round = 0;
        let walked = walk(&api, "u", params, limit, |seen| {
            // Between pages: messages into conversations already served (behind the cursor),
            // into some not served yet (ahead of it), into others' conversations, and an edit
            // that moves nothing.
            round += 1;
            let behind = &seen[(round * 7) % seen.len()];
            let ahead: Vec<&String> = mine.iter().filter(|id| !seen.contains(id)).collect();
            say(&api, behind, "v");
            say(&api, &seen[0], "u");
            if !ahead.is_empty() {
                say(&api, ahead[round % ahead.len()], "v");
                say(&api, ahead[ahead.len() - 1], "u");
            }
            say(&api, &others[round % others.len()], "w");
            api.put(&conv(behind), &json!({"subject": format!("round {round}")}))
                .ok_empty();
        });
        assert!(round >= 6, "{params}: only {round} pages");
        problems.extend(each_once(&walked, &mine, params).err());
    }

    // The unread list: everything is made unread first, and stays unread while others write.
    pause();
    for id in &mine {
        say(&api, id, "v");
    }
    assert_eq!(list(&api, "u", "?unreadsOnly=true&limit=100").len(), 25);
    for params in [
        "unreadsOnly=true",
        "unreadsOnly=true&orderDirection=ASC",
        "unreadsOnly=true&orderBy=createdAt",
    ] {
        let mut round = 0;
        let walked = walk(&api, "u", params, 3, |seen| {
            round += 1;
            let behind = &seen[(round * 5) % seen.len()];
            let ahead: Vec<&String> = mine.iter().filter(|id| !seen.contains(id)).collect();
            say(&api, behind, "v");
            if !ahead.is_empty() {
                say(&api, ahead[round % ahead.len()], "v");
                say(&api, ahead[0], "v");
            }
            say(&api, &others[round % others.len()], "w");
        });
        assert!(round >= 8, "{params}: only {round} pages");
        problems.extend(each_once(&walked, &mine, params).err());
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// =============================================================================================
// Auth and apps

#[test]
fn the_users_api_needs_the_apps_key() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    make_user(&api, "u");
    let wrong = Api::new(&server.base, APP, OTHER_KEY);
    for path in ["/users", "/users/u", "/users/u/conversations"] {
        send("GET", &api.url(path), &[], None).error(401, "UNAUTHORIZED");
        wrong.get(path).error(401, "UNAUTHORIZED");
    }
    send(
        "PUT",
        &api.url("/users/u"),
        &[("Content-Type", "application/json")],
        Some(br#"{"name": "Anonymous"}"#),
    )
    .error(401, "UNAUTHORIZED");
    wrong
        .put("/users/u", &json!({"name": "Wrong"}))
        .error(401, "UNAUTHORIZED");
    wrong
        .put("/users", &json!({"x": {"name": "Wrong"}}))
        .error(401, "UNAUTHORIZED");
    assert_eq!(api.fetch("/users/u")["name"], "User u");
    assert_eq!(user_ids(&api, ""), ["u"]);
}

#[test]
fn users_and_their_conversations_belong_to_their_app() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let theirs = Api::new(&server.base, OTHER_APP, OTHER_KEY);
    put_user(&api, "u", json!({"name": "Mine", "custom": {"k": "v"}}));
    create(&api, "c", &["u", "v"]);
    say(&api, "c", "v");

    theirs.get("/users/u").error(404, "NOT_FOUND");
    theirs.get("/users/u/conversations").error(404, "NOT_FOUND");
    assert!(users_page(&theirs, "").is_empty());

    // The same ID in the other app is another user, with other conversations.
    put_user(&theirs, "u", json!({"name": "Theirs"}));
    assert_eq!(theirs.fetch("/users/u")["name"], "Theirs");
    assert_eq!(theirs.fetch("/users/u")["custom"], json!({}));
    assert!(list(&theirs, "u", "").is_empty());
    theirs
        .put(&conv("c"), &json!({"participants": ["u"]}))
        .ok_empty();
    assert_eq!(unread(&theirs, "u", "c"), (false, 0));
    theirs
        .put("/users", &json!({"u": {"role": "r"}, "w": {"name": "W"}}))
        .ok_empty();

    let mine = api.fetch("/users/u");
    assert_eq!(
        (&mine["name"], &mine["role"]),
        (&json!("Mine"), &Value::Null)
    );
    assert_eq!(user_ids(&api, ""), ["u"]);
    assert_eq!(list(&api, "u", ""), ["c"]);
    assert_eq!(unread(&api, "u", "c"), (true, 1));
    api.get("/users/w").error(404, "NOT_FOUND");
}
