//! Reactions (API.md "Reactions").

mod common;

use common::{enc, settings, Api, TestServer};
use serde_json::{json, Value};

fn setup(server: &TestServer) -> (Api, String) {
    let api = server.api();
    api.put(
        "/conversations/c",
        &json!({"participants": ["a", "b", "c", "gone"]}),
    )
    .ok_empty();
    api.patch(
        "/conversations/c/participants/gone",
        &json!({"access": "None"}),
    )
    .ok_empty();
    let resp = api.post(
        "/conversations/c/messages",
        &json!([{"text": "react to me", "sender": "a", "type": "UserMessage"}]),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let id = resp.json()[0]["id"].as_str().unwrap().to_string();
    (api, id)
}

fn path(id: &str, emoji: &str, user: Option<&str>) -> String {
    match user {
        Some(u) => format!(
            "/conversations/c/messages/{id}/reactions/{}/{u}",
            enc(emoji)
        ),
        None => format!("/conversations/c/messages/{id}/reactions/{}", enc(emoji)),
    }
}

fn message(api: &Api, id: &str) -> Value {
    api.fetch(&format!("/conversations/c/messages/{id}"))
}

#[test]
fn reacting_is_idempotent_and_the_summary_follows() {
    let (server, _dir) = TestServer::fresh();
    let (api, id) = setup(&server);
    assert_eq!(message(&api, &id)["reactions"], json!({}));
    api.put(&path(&id, "👍", Some("a")), &json!({})).ok_empty();
    // Empty body too; twice changes nothing.
    api.request("PUT", &path(&id, "👍", Some("b")), &[], None)
        .ok_empty();
    api.put(&path(&id, "👍", Some("b")), &json!({})).ok_empty();
    let m = message(&api, &id);
    assert_eq!(m["reactions"]["👍"]["count"], 2, "{m}");
    let first = m["reactions"]["👍"]["createdAt"].as_i64().unwrap();
    assert!(first > 0);
    // The conversation's lastMessage shows it too.
    assert_eq!(
        api.fetch("/conversations/c")["lastMessage"]["reactions"],
        m["reactions"]
    );
    // Listed oldest first.
    let list = api.fetch(&path(&id, "👍", None));
    let users: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userId"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["a", "b"]);
    assert_eq!(list["data"][0]["createdAt"], first);
    // DELETE, also of one that is not there.
    api.delete(&path(&id, "👍", Some("a"))).ok_empty();
    api.delete(&path(&id, "👍", Some("a"))).ok_empty();
    api.delete(&path(&id, "🎉", Some("c"))).ok_empty();
    let m = message(&api, &id);
    assert_eq!(m["reactions"]["👍"]["count"], 1);
    api.delete(&path(&id, "👍", Some("b"))).ok_empty();
    assert_eq!(message(&api, &id)["reactions"], json!({}));
}

#[test]
fn emoji_are_one_reaction_whatever_their_variation_selectors() {
    let (server, _dir) = TestServer::fresh();
    let (api, id) = setup(&server);
    api.put(&path(&id, "❤", Some("a")), &json!({})).ok_empty();
    api.put(&path(&id, "❤\u{FE0F}", Some("b")), &json!({}))
        .ok_empty();
    api.put(&path(&id, "👍\u{FE0F}", Some("c")), &json!({}))
        .ok_empty();
    api.put(&path(&id, ":party_parrot:", Some("a")), &json!({}))
        .ok_empty();
    let m = message(&api, &id);
    let keys: Vec<&String> = m["reactions"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{m}");
    assert_eq!(m["reactions"]["❤\u{FE0F}"]["count"], 2);
    assert_eq!(m["reactions"]["👍"]["count"], 1);
    assert_eq!(m["reactions"][":party_parrot:"]["count"], 1);
    // Listing by either form.
    assert_eq!(
        api.fetch(&path(&id, "❤", None))["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for bad in ["a", "👍👍", ":no spaces:", "::"] {
        let body = api
            .put(&path(&id, bad, Some("a")), &json!({}))
            .error(400, "INVALID_FIELD");
        assert!(body["reasons"]["emoji"].is_string(), "{bad}: {body}");
    }
}

#[test]
fn who_may_react_and_on_what() {
    let (server, _dir) = TestServer::fresh();
    let (api, id) = setup(&server);
    for user in ["stranger", "gone"] {
        let body = api
            .put(&path(&id, "👍", Some(user)), &json!({}))
            .error(400, "INVALID_FIELD");
        assert!(body["reasons"]["userId"].is_string(), "{body}");
    }
    api.put(
        "/conversations/c/messages/msg_nope/reactions/%F0%9F%91%8D/a",
        &json!({}),
    )
    .error(404, "NOT_FOUND");
    api.put(
        &path(&id, "👍", Some("a")).replace("/c/", "/other/"),
        &json!({}),
    )
    .error(404, "NOT_FOUND");
    let resp = api.put(&path(&id, "👍", Some("a")), &json!({"x": 1}));
    assert_eq!(resp.status, 400);
    assert_eq!(message(&api, &id)["reactions"], json!({}));
    // A deleted message has no reactions any more.
    api.put(&path(&id, "👍", Some("a")), &json!({})).ok_empty();
    api.delete(&format!("/conversations/c/messages/{id}"))
        .ok_empty();
    api.put(&path(&id, "👍", Some("b")), &json!({}))
        .error(404, "NOT_FOUND");
}

#[test]
fn lists_page_and_the_distinct_emoji_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("parley.db"));
    s.limits.reactions_per_message = 3;
    let server = TestServer::start(s);
    let (api, id) = setup(&server);
    for user in ["a", "b", "c"] {
        api.put(&path(&id, "🎉", Some(user)), &json!({})).ok_empty();
        common::pause();
    }
    let page = api.fetch(&format!("{}?limit=2", path(&id, "🎉", None)));
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let next = api.fetch(&format!(
        "{}?limit=2&startingAfter=b",
        path(&id, "🎉", None)
    ));
    assert_eq!(next["data"][0]["userId"], "c");
    assert_eq!(next["data"].as_array().unwrap().len(), 1);
    api.get(&format!("{}?startingAfter=zed", path(&id, "🎉", None)))
        .error(400, "INVALID_FIELD");
    api.get(&format!("{}?limit=0", path(&id, "🎉", None)))
        .error(400, "INVALID_FIELD");
    api.put(&path(&id, "👍", Some("a")), &json!({})).ok_empty();
    api.put(&path(&id, "🔥", Some("a")), &json!({})).ok_empty();
    let body = api
        .put(&path(&id, "🚀", Some("a")), &json!({}))
        .error(400, "LIMIT_EXCEEDED");
    assert!(body["reasons"]["emoji"].is_string());
    // An emoji that is there already is fine.
    api.put(&path(&id, "👍", Some("b")), &json!({})).ok_empty();
}

#[test]
fn reactions_are_events() {
    let (server, _dir) = TestServer::fresh();
    let (api, id) = setup(&server);
    api.put(&path(&id, "👍", Some("b")), &json!({})).ok_empty();
    api.put(&path(&id, "👍", Some("b")), &json!({})).ok_empty();
    api.delete(&path(&id, "👍", Some("b"))).ok_empty();
    api.delete(&path(&id, "👍", Some("b"))).ok_empty();
    let log = api.fetch("/events?types=reaction.added,reaction.removed");
    let events = log["data"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reaction.added", "reaction.removed"], "{log}");
    let added = &events[0]["data"];
    assert_eq!(added["userId"], "b");
    assert_eq!(added["emoji"], "👍");
    assert_eq!(added["message"]["id"], id);
    assert_eq!(added["message"]["reactions"]["👍"]["count"], 1);
    assert_eq!(added["conversation"]["id"], "c");
    assert_eq!(events[1]["data"]["message"]["reactions"], json!({}));
}
