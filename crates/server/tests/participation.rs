//! The Participation and Legacy sections of API.md (with the unread rules they touch), over HTTP
//! against the real server on SQLite.

mod common;

use std::collections::BTreeSet;

use common::{
    now_ms, pause, raw_status, settings, Api, Resp, TestServer, APP, KEY, OTHER_APP, OTHER_KEY,
};
use serde_json::{json, Value};

const C: &str = "/conversations/deal_1";

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// The path of `user`'s participation in the conversation at `conversation`.
fn member(conversation: &str, user: &str) -> String {
    format!("{conversation}/participants/{user}")
}

fn messages(conversation: &str) -> String {
    format!("{conversation}/messages")
}

/// The legacy path for the raw (already encoded) segment after `participants=`.
fn legacy(segment: &str) -> String {
    format!("/conversations/participants={segment}")
}

fn join(api: &Api, conversation: &str, user: &str, body: Value) {
    api.put(&member(conversation, user), &body).ok_empty();
}

fn patch(api: &Api, conversation: &str, user: &str, body: Value) {
    api.patch(&member(conversation, user), &body).ok_empty();
}

/// The visible participants of the conversation, by ID.
fn participants(api: &Api, conversation: &str) -> BTreeSet<String> {
    keys(&api.fetch(conversation)["participants"])
}

/// `{"access", "notify"}` of a visible participant (`isUnread` left out).
fn settings_of(api: &Api, conversation: &str, user: &str) -> Value {
    let got = api.fetch(conversation);
    let p = &got["participants"][user];
    assert!(p.is_object(), "{user} is not shown: {got}");
    json!({"access": p["access"], "notify": p["notify"]})
}

fn unread(api: &Api, conversation: &str, user: &str) -> bool {
    let got = api.fetch(conversation);
    got["participants"][user]["isUnread"]
        .as_bool()
        .unwrap_or_else(|| panic!("no isUnread for {user}: {got}"))
}

fn user_message(sender: &str, text: &str) -> Value {
    json!({"text": text, "type": "UserMessage", "sender": sender})
}

/// Sends one UserMessage and returns its ID.
fn say(api: &Api, conversation: &str, sender: &str, text: &str) -> String {
    let resp = api.post(
        &messages(conversation),
        &json!([user_message(sender, text)]),
    );
    assert_eq!(resp.status, 200, "{sender} sends: {}", resp.text);
    resp.json()[0]["id"].as_str().unwrap().to_string()
}

fn message(api: &Api, conversation: &str, id: &str) -> Value {
    api.fetch(&format!("{}/{id}", messages(conversation)))
}

fn read_by(api: &Api, conversation: &str, id: &str) -> BTreeSet<String> {
    let got = message(api, conversation, id);
    got["readBy"]
        .as_array()
        .unwrap_or_else(|| panic!("readBy is not an array: {got}"))
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect()
}

fn created_at(api: &Api, conversation: &str, id: &str) -> i64 {
    message(api, conversation, id)["createdAt"]
        .as_i64()
        .unwrap()
}

/// `value` without the participants' `readUntil` (a time the test does not know exactly).
fn bare(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "readUntil")
                .map(|(k, v)| (k.clone(), bare(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Asserts that `sender` may not send: 400 naming `[0].sender`, and nothing is stored.
fn may_not_send(api: &Api, conversation: &str, sender: &str) {
    let before = api.fetch(&messages(conversation));
    let body = api
        .post(
            &messages(conversation),
            &json!([user_message(sender, "hi")]),
        )
        .error(400, "INVALID_FIELD");
    assert!(body["reasons"].get("[0].sender").is_some(), "{body}");
    assert_eq!(api.fetch(&messages(conversation)), before);
}

/// Asserts a 400 for a malformed path: JSON error body with INVALID_ID or INVALID_FIELD.
fn bad_request(resp: &Resp) -> Value {
    let code = resp.json()["errorCode"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        code == "INVALID_ID" || code == "INVALID_FIELD",
        "unexpected error code: {}",
        resp.text
    );
    resp.error(400, &code)
}

fn small_limit_server(participants: usize) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("p.db"));
    s.limits.participants_per_conversation = participants;
    (TestServer::start(s), dir)
}

// ---------------------------------------------------------------------------------------------
// PUT /participants/{userId}

#[test]
fn put_joins_with_the_defaults_and_creates_a_missing_conversation() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.get(C).error(404, "NOT_FOUND");
    let before = now_ms();
    api.put(&member(C, "123456"), &json!({})).ok_empty();
    let got = api.fetch(C);
    let created = got["createdAt"].as_i64().expect("createdAt is an integer");
    assert!(created >= before && created <= now_ms() + 1, "{created}");
    assert_eq!(
        bare(&got),
        json!({
            "id": "deal_1", "subject": null, "topicId": null, "photoUrl": null,
            "welcomeMessages": null, "custom": {},
            "participants": {
                "123456": {"access": "ReadWrite", "notify": true, "isUnread": false}
            },
            "lastMessage": null, "createdAt": created
        })
    );
}

#[test]
fn put_always_overwrites_earlier_settings_and_absent_fields_take_the_defaults() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(
        &api,
        C,
        "u",
        json!({"access": "Read", "notify": "MentionsOnly"}),
    );
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "Read", "notify": "MentionsOnly"})
    );
    join(&api, C, "u", json!({"notify": false}));
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "ReadWrite", "notify": false})
    );
    join(&api, C, "u", json!({"access": "Read"}));
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "Read", "notify": true})
    );
    join(&api, C, "u", json!({}));
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "ReadWrite", "notify": true})
    );
}

#[test]
fn put_joins_an_existing_conversation_and_leaves_everything_else_as_it_was() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(
        C,
        &json!({"participants": ["a"], "subject": "Boots", "custom": {"k": "v"}}),
    )
    .ok_empty();
    join(&api, C, "a", json!({"access": "Read", "notify": false}));
    let before = api.fetch(C);
    pause();
    join(&api, C, "b", json!({"notify": "MentionsOnly"}));
    let after = api.fetch(C);
    assert_eq!(
        bare(&after["participants"]),
        json!({
            "a": {"access": "Read", "notify": false, "isUnread": false},
            "b": {"access": "ReadWrite", "notify": "MentionsOnly", "isUnread": false}
        })
    );
    for field in ["subject", "custom", "createdAt", "topicId", "lastMessage"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    // A conversation PUT naming an existing participant keeps their settings.
    api.put(C, &json!({"participants": ["a", "b"]})).ok_empty();
    assert_eq!(api.fetch(C), after);
}

#[test]
fn a_put_without_a_body_counts_as_an_empty_object_whatever_its_content_type() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "u", json!({"access": "Read", "notify": false}));

    // Content-Length: 0 with a content type that is not JSON.
    api.request(
        "PUT",
        &member(C, "u"),
        &[("Content-Type", "text/plain")],
        Some(b""),
    )
    .ok_empty();
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "ReadWrite", "notify": true})
    );

    // No Content-Length, no Transfer-Encoding, no Content-Type at all: creates and joins.
    let request = format!(
        "PUT /v1/{APP}/conversations/bare/participants/v HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {KEY}\r\nConnection: close\r\n\r\n"
    );
    let (status, text) = raw_status(&server.base, request.as_bytes());
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("{}"), "{text}");
    assert_eq!(
        settings_of(&api, "/conversations/bare", "v"),
        json!({"access": "ReadWrite", "notify": true})
    );
}

#[test]
fn a_put_with_a_body_must_be_json() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.request(
        "PUT",
        &member(C, "u"),
        &[("Content-Type", "text/plain")],
        Some(br#"{"access": "Read"}"#),
    )
    .error(415, "UNSUPPORTED_MEDIA_TYPE");
    api.get(C).error(404, "NOT_FOUND");

    api.put_raw(&member(C, "u"), b"{\"access\": ")
        .error(400, "INVALID_JSON");
    let body = api
        .put(&member(C, "u"), &json!(["Read"]))
        .error(400, "INVALID_FIELD");
    assert!(body["reasons"].get("(body)").is_some(), "{body}");
    api.get(C).error(404, "NOT_FOUND");
}

#[test]
fn put_refuses_access_none_and_changes_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let body = api
        .put(&member(C, "u"), &json!({"access": "None"}))
        .error(400, "INVALID_FIELD");
    assert_eq!(keys(&body["reasons"]), set(&["access"]), "{body}");
    api.get(C).error(404, "NOT_FOUND");

    join(&api, C, "u", json!({"access": "Read", "notify": false}));
    api.put(&member(C, "u"), &json!({"access": "None"}))
        .error(400, "INVALID_FIELD");
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "Read", "notify": false})
    );
}

#[test]
fn unknown_participant_fields_are_refused_by_name() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let body = api
        .put(&member(C, "u"), &json!({"acess": "Read"}))
        .error(400, "UNKNOWN_FIELD");
    assert!(body["reasons"].get("acess").is_some(), "{body}");
    api.get(C).error(404, "NOT_FOUND");

    join(&api, C, "u", json!({}));
    let body = api
        .put(&member(C, "u"), &json!({"access": "Read", "readUntil": 5}))
        .error(400, "UNKNOWN_FIELD");
    assert!(body["reasons"].get("readUntil").is_some(), "{body}");
    let body = api
        .patch(&member(C, "u"), &json!({"notify": false, "readuntil": 5}))
        .error(400, "UNKNOWN_FIELD");
    assert!(body["reasons"].get("readuntil").is_some(), "{body}");
    // Bad input never changes stored data.
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "ReadWrite", "notify": true})
    );
}

#[test]
fn participant_fields_of_the_wrong_type_are_refused_by_name() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "u", json!({"access": "Read", "notify": false}));
    let puts = [
        json!({"access": 1}),
        json!({"access": "readwrite"}),
        json!({"access": null}),
        json!({"notify": "yes"}),
        json!({"notify": "true"}),
        json!({"notify": null}),
    ];
    for body in puts {
        let field = keys(&body).into_iter().next().unwrap();
        let answer = api.put(&member(C, "u"), &body).error(400, "INVALID_FIELD");
        assert!(
            answer["reasons"].get(&field).is_some(),
            "PUT {body}: {answer}"
        );
    }
    let patches = [
        json!({"access": "Write"}),
        json!({"notify": 1}),
        json!({"readUntil": "1700000000000"}),
        json!({"readUntil": 1.5}),
        json!({"readUntil": null}),
    ];
    for body in patches {
        let field = keys(&body).into_iter().next().unwrap();
        let answer = api
            .patch(&member(C, "u"), &body)
            .error(400, "INVALID_FIELD");
        assert!(
            answer["reasons"].get(&field).is_some(),
            "PATCH {body}: {answer}"
        );
    }
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "Read", "notify": false})
    );
}

#[test]
fn user_ids_in_the_participant_path_are_percent_decoded() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "user%2F1", json!({"access": "Read"}));
    assert_eq!(participants(&api, C), set(&["user/1"]));
    patch(&api, C, "user%2F1", json!({"notify": false}));
    assert_eq!(
        settings_of(&api, C, "user/1"),
        json!({"access": "Read", "notify": false})
    );
    api.delete(&member(C, "user%2F1")).ok_empty();
    assert_eq!(participants(&api, C), set(&[]));
}

#[test]
fn participation_is_scoped_to_the_app() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let other = Api::new(&server.base, OTHER_APP, OTHER_KEY);
    join(&other, C, "u", json!({}));
    api.get(C).error(404, "NOT_FOUND");
    api.patch(&member(C, "u"), &json!({"notify": false}))
        .error(404, "NOT_FOUND");
    api.delete(&member(C, "u")).error(404, "NOT_FOUND");
    assert_eq!(participants(&other, C), set(&["u"]));
}

// ---------------------------------------------------------------------------------------------
// PATCH /participants/{userId}

#[test]
fn patch_changes_only_the_given_fields() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(
        &api,
        C,
        "u",
        json!({"access": "Read", "notify": "MentionsOnly"}),
    );
    join(&api, C, "w", json!({}));
    patch(&api, C, "u", json!({"notify": false}));
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "Read", "notify": false})
    );
    patch(&api, C, "u", json!({"access": "ReadWrite"}));
    assert_eq!(
        settings_of(&api, C, "u"),
        json!({"access": "ReadWrite", "notify": false})
    );
    let before = api.fetch(C);
    patch(&api, C, "u", json!({}));
    // A PATCH without a body is an empty one too.
    api.request("PATCH", &member(C, "u"), &[], None).ok_empty();
    assert_eq!(api.fetch(C), before);
    assert_eq!(
        settings_of(&api, C, "w"),
        json!({"access": "ReadWrite", "notify": true})
    );
}

#[test]
fn patch_is_not_found_for_a_missing_conversation_or_a_user_not_on_record() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.patch(&member(C, "u"), &json!({"notify": false}))
        .error(404, "NOT_FOUND");
    api.get(C).error(404, "NOT_FOUND");

    join(&api, C, "u", json!({}));
    let before = api.fetch(C);
    api.patch(&member(C, "stranger"), &json!({"access": "Read"}))
        .error(404, "NOT_FOUND");
    api.patch(&member(C, "stranger"), &json!({}))
        .error(404, "NOT_FOUND");
    assert_eq!(api.fetch(C), before);
}

// ---------------------------------------------------------------------------------------------
// readUntil and isUnread

#[test]
fn a_message_from_someone_else_is_unread_until_read_until_reaches_it() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "a", json!({}));
    join(&api, C, "b", json!({}));
    pause();
    let id = say(&api, C, "a", "Hello");
    let sent_at = created_at(&api, C, &id);
    assert!(unread(&api, C, "b"));
    assert!(
        !unread(&api, C, "a"),
        "the sender has read their own message"
    );
    assert_eq!(read_by(&api, C, &id), set(&[]));

    patch(&api, C, "b", json!({"readUntil": sent_at - 1}));
    assert!(unread(&api, C, "b"), "a readUntil before the message");
    assert_eq!(read_by(&api, C, &id), set(&[]));

    patch(&api, C, "b", json!({"readUntil": sent_at}));
    assert!(
        !unread(&api, C, "b"),
        "readUntil at the message's createdAt"
    );
    assert_eq!(read_by(&api, C, &id), set(&["b"]));
    assert_eq!(api.fetch(C)["lastMessage"]["readBy"], json!(["b"]));
}

#[test]
fn a_patch_sets_read_until_exactly_also_backwards() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "a", json!({}));
    join(&api, C, "b", json!({}));
    pause();
    let id = say(&api, C, "a", "Hello");
    let sent_at = created_at(&api, C, &id);
    patch(&api, C, "b", json!({"readUntil": sent_at + 1}));
    assert_eq!(read_by(&api, C, &id), set(&["b"]));
    assert!(!unread(&api, C, "b"));

    // Back: the message is unread again (a copy of an app restores read state this way).
    patch(&api, C, "b", json!({"readUntil": sent_at - 1000}));
    assert_eq!(read_by(&api, C, &id), set(&[]));
    assert!(unread(&api, C, "b"));
    let c = api.fetch(C);
    assert_eq!(c["participants"]["b"]["readUntil"], sent_at - 1000);
    patch(&api, C, "b", json!({"readUntil": 0, "notify": false}));
    assert_eq!(read_by(&api, C, &id), set(&[]));
    assert!(unread(&api, C, "b"));
    assert_eq!(
        settings_of(&api, C, "b"),
        json!({"access": "ReadWrite", "notify": false}),
        "the other fields of the PATCH still apply"
    );
    // A PATCH without readUntil leaves it alone.
    patch(&api, C, "b", json!({"notify": true}));
    let c = api.fetch(C);
    assert_eq!(c["participants"]["b"]["readUntil"], 0);
    // Sending still moves it forward only: b's own message marks everything before it read.
    pause();
    say(&api, C, "b", "Back");
    assert_eq!(read_by(&api, C, &id), set(&["b"]));
}

#[test]
fn sending_moves_the_senders_read_until() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "a", json!({}));
    join(&api, C, "b", json!({}));
    pause();
    let first = say(&api, C, "a", "Hello");
    assert!(unread(&api, C, "b"));
    pause();
    let answer = say(&api, C, "b", "Hi");
    assert!(!unread(&api, C, "b"), "b sent the newest message");
    assert!(unread(&api, C, "a"), "b's answer is new to a");
    assert_eq!(
        read_by(&api, C, &first),
        set(&["b"]),
        "b's readUntil moved to their own message"
    );
    assert_eq!(read_by(&api, C, &answer), set(&[]));
}

#[test]
fn a_new_participant_has_read_everything_sent_before_they_joined() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "a", json!({}));
    join(&api, C, "b", json!({}));
    pause();
    let id = say(&api, C, "a", "Hello");
    pause();
    join(&api, C, "late", json!({}));
    assert!(unread(&api, C, "b"));
    assert!(!unread(&api, C, "late"));
    assert_eq!(read_by(&api, C, &id), set(&["late"]));
}

// ---------------------------------------------------------------------------------------------
// Access

#[test]
fn access_none_hides_a_participant_who_stays_on_record() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "a", json!({}));
    join(&api, C, "b", json!({"notify": "MentionsOnly"}));
    pause();
    let id = say(&api, C, "a", "Hello");
    let sent_at = created_at(&api, C, &id);
    patch(&api, C, "b", json!({"readUntil": sent_at}));
    assert_eq!(read_by(&api, C, &id), set(&["b"]));

    patch(&api, C, "b", json!({"access": "None"}));
    let got = api.fetch(C);
    assert_eq!(keys(&got["participants"]), set(&["a"]), "{got}");
    assert_eq!(
        read_by(&api, C, &id),
        set(&[]),
        "a hidden participant reads nothing"
    );
    assert_eq!(got["lastMessage"]["readBy"], json!([]));
    may_not_send(&api, C, "b");

    // Still on record: PATCH finds them, and access comes back with the rest kept.
    patch(&api, C, "b", json!({"access": "Read"}));
    assert_eq!(
        settings_of(&api, C, "b"),
        json!({"access": "Read", "notify": "MentionsOnly"})
    );
    assert_eq!(read_by(&api, C, &id), set(&["b"]));
}

#[test]
fn re_joining_with_put_gives_a_hidden_participant_their_record_back() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "a", json!({}));
    join(&api, C, "b", json!({"notify": false}));
    pause();
    let id = say(&api, C, "a", "Hello");
    patch(&api, C, "b", json!({"access": "None"}));
    assert_eq!(participants(&api, C), set(&["a"]));
    pause();

    join(&api, C, "b", json!({"access": "Read"}));
    let got = api.fetch(C);
    assert_eq!(
        bare(&got["participants"]["b"]),
        json!({"access": "Read", "notify": true, "isUnread": true}),
        "b keeps the readUntil from before the message: {got}"
    );
    assert_eq!(read_by(&api, C, &id), set(&[]));

    // Someone joining for the first time now has read the message.
    join(&api, C, "c", json!({}));
    assert!(!unread(&api, C, "c"));
    assert_eq!(read_by(&api, C, &id), set(&["c"]));
}

#[test]
fn read_and_read_write_participants_may_send_but_not_none_or_outsiders() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "writer", json!({}));
    join(&api, C, "reader", json!({"access": "Read"}));
    join(&api, C, "hidden", json!({}));
    patch(&api, C, "hidden", json!({"access": "None"}));
    // TalkJS lets a Read participant send with the app's credentials.
    say(&api, C, "reader", "I may");
    may_not_send(&api, C, "hidden");
    may_not_send(&api, C, "outsider");
    say(&api, C, "writer", "Hello");

    patch(&api, C, "writer", json!({"access": "None"}));
    may_not_send(&api, C, "writer");
    patch(&api, C, "hidden", json!({"access": "ReadWrite"}));
    say(&api, C, "hidden", "Now I can");
    let listed = api.fetch(&messages(C));
    assert_eq!(listed["data"].as_array().unwrap().len(), 3, "{listed}");
}

// ---------------------------------------------------------------------------------------------
// DELETE /participants/{userId}

#[test]
fn delete_leaves_and_a_second_delete_is_not_found() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "a", json!({}));
    join(&api, C, "b", json!({"access": "Read"}));
    api.delete(&member(C, "a")).ok_empty();
    assert_eq!(participants(&api, C), set(&["b"]));
    may_not_send(&api, C, "a");
    api.patch(&member(C, "a"), &json!({"notify": false}))
        .error(404, "NOT_FOUND");
    api.delete(&member(C, "a")).error(404, "NOT_FOUND");
    assert_eq!(
        settings_of(&api, C, "b"),
        json!({"access": "Read", "notify": true})
    );
}

#[test]
fn delete_is_not_found_for_a_user_who_never_joined_or_a_missing_conversation() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.delete(&member(C, "a")).error(404, "NOT_FOUND");
    api.get(C).error(404, "NOT_FOUND");
    join(&api, C, "a", json!({}));
    api.delete(&member(C, "never")).error(404, "NOT_FOUND");
    assert_eq!(participants(&api, C), set(&["a"]));
}

#[test]
fn a_user_who_left_can_join_again() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    join(&api, C, "a", json!({}));
    join(&api, C, "b", json!({"access": "Read", "notify": false}));
    pause();
    say(&api, C, "a", "Hello");
    api.delete(&member(C, "b")).ok_empty();
    pause();
    join(&api, C, "b", json!({}));
    assert_eq!(
        bare(&api.fetch(C)["participants"]["b"]),
        json!({"access": "ReadWrite", "notify": true, "isUnread": false})
    );
}

#[test]
fn concurrent_joins_all_take_effect() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let users: Vec<String> = (0..12).map(|i| format!("u{i}")).collect();
    std::thread::scope(|s| {
        for user in &users {
            let api = api.clone();
            s.spawn(move || join(&api, C, user, json!({"notify": false})));
        }
    });
    let got = api.fetch(C);
    let expected: BTreeSet<String> = users.iter().cloned().collect();
    assert_eq!(keys(&got["participants"]), expected, "{got}");
    for user in &users {
        assert_eq!(got["participants"][user]["notify"], false, "{got}");
    }
}

// ---------------------------------------------------------------------------------------------
// The participant limit

#[test]
fn the_participant_limit_applies_to_joining() {
    let (server, _dir) = small_limit_server(2);
    let api = server.api();
    join(&api, C, "a", json!({}));
    join(&api, C, "b", json!({}));
    let before = api.fetch(C);
    let body = api
        .put(&member(C, "c"), &json!({}))
        .error(400, "LIMIT_EXCEEDED");
    assert!(body["reasons"].get("participants").is_some(), "{body}");
    assert_eq!(api.fetch(C), before);

    // Re-joining someone already there adds nobody.
    join(&api, C, "a", json!({"access": "Read"}));
    assert_eq!(participants(&api, C), set(&["a", "b"]));
    // A conversation PUT cannot go over it either.
    api.put(C, &json!({"participants": ["d"]}))
        .error(400, "LIMIT_EXCEEDED");
    // After someone leaves there is room again.
    api.delete(&member(C, "b")).ok_empty();
    join(&api, C, "c", json!({}));
    assert_eq!(participants(&api, C), set(&["a", "c"]));
}

#[test]
fn concurrent_joins_never_exceed_the_participant_limit() {
    let (server, _dir) = small_limit_server(3);
    let api = server.api();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let api = api.clone();
                s.spawn(move || api.put(&member(C, &format!("u{i}")), &json!({})).status)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let joined = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(joined, 3, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(participants(&api, C).len(), 3);
}

#[test]
fn the_participant_limit_applies_to_the_legacy_put() {
    let (server, _dir) = small_limit_server(2);
    let api = server.api();
    let body = api
        .put(&legacy("a,b,c"), &json!({}))
        .error(400, "LIMIT_EXCEEDED");
    assert!(body["reasons"].get("participants").is_some(), "{body}");
    api.get(&legacy("a,b,c")).error(404, "NOT_FOUND");
    api.get("/conversations/e13460afb1e68af030bb")
        .error(404, "NOT_FOUND");

    // Duplicates count once.
    api.put(&legacy("a,b,a"), &json!({})).ok_empty();
    assert_eq!(participants(&api, &legacy("a,b")), set(&["a", "b"]));
}

// ---------------------------------------------------------------------------------------------
// Legacy: /conversations/participants={userIds}[;topic={topicId}]

#[test]
fn legacy_ids_are_derived_like_talkjs() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let cases = [
        ("a,b", "d12e223825a919e00efd", &["a", "b"][..], None),
        ("a", "6b38d42036dacdcf081b", &["a"][..], None),
        (
            "123456,654321",
            "7fcfae37bf41727cd5d6",
            &["123456", "654321"][..],
            None,
        ),
        (
            "42,98;topic=612",
            "8cdc9d5b04bd970dd0e0",
            &["42", "98"][..],
            Some("612"),
        ),
        (
            "%F0%9F%98%80,%EF%BF%BF,a",
            "7c25f8ed210870cec512",
            &["\u{1F600}", "\u{FFFF}", "a"][..],
            None,
        ),
    ];
    for (segment, id, users, topic) in cases {
        api.put(&legacy(segment), &json!({})).ok_empty();
        let got = api.fetch(&format!("/conversations/{id}"));
        assert_eq!(got["id"], id, "{segment}: {got}");
        assert_eq!(keys(&got["participants"]), set(users), "{segment}");
        assert_eq!(got["topicId"], json!(topic), "{segment}");
        assert_eq!(api.fetch(&legacy(segment)), got, "{segment}");
    }
}

#[test]
fn the_order_and_duplicates_of_legacy_ids_do_not_matter() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(&legacy("b,a,a"), &json!({"subject": "Deal"}))
        .ok_empty();
    let got = api.fetch("/conversations/d12e223825a919e00efd");
    assert_eq!(got["subject"], "Deal");
    assert_eq!(keys(&got["participants"]), set(&["a", "b"]));
    for segment in ["a,b", "b,a", "a,b,b,a"] {
        assert_eq!(api.fetch(&legacy(segment)), got, "{segment}");
    }
    // A topic makes it another conversation.
    api.get(&legacy("a,b;topic=x")).error(404, "NOT_FOUND");
}

#[test]
fn legacy_get_returns_the_conversation_at_the_derived_id_or_not_found() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.get(&legacy("a,b")).error(404, "NOT_FOUND");

    // Any conversation stored at that ID is found, however it was made.
    api.put(
        "/conversations/d12e223825a919e00efd",
        &json!({"participants": ["x"], "subject": "Made directly"}),
    )
    .ok_empty();
    let got = api.fetch(&legacy("a,b"));
    assert_eq!(got, api.fetch("/conversations/d12e223825a919e00efd"));
    assert_eq!(got["subject"], "Made directly");
    api.get(&legacy("a,c")).error(404, "NOT_FOUND");
}

#[test]
fn legacy_put_creates_exactly_those_participants_and_merges_the_body() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let before = now_ms();
    api.put(
        &legacy("654321,123456"),
        &json!({
            "subject": "Black leather boots",
            "welcomeMessages": ["Hello there!"],
            "custom": {"productId": "454545"},
            "photoUrl": "https://example.com/p.png"
        }),
    )
    .ok_empty();
    let got = api.fetch(&legacy("123456,654321"));
    let created = got["createdAt"].as_i64().expect("createdAt is an integer");
    assert!(created >= before && created <= now_ms() + 1, "{created}");
    assert_eq!(
        bare(&got),
        json!({
            "id": "7fcfae37bf41727cd5d6",
            "subject": "Black leather boots",
            "topicId": null,
            "photoUrl": "https://example.com/p.png",
            "welcomeMessages": ["Hello there!"],
            "custom": {"productId": "454545"},
            "participants": {
                "123456": {"access": "ReadWrite", "notify": true, "isUnread": false},
                "654321": {"access": "ReadWrite", "notify": true, "isUnread": false}
            },
            "lastMessage": null,
            "createdAt": created
        })
    );

    api.put(&legacy("42,98;topic=612"), &json!({})).ok_empty();
    let with_topic = api.fetch("/conversations/8cdc9d5b04bd970dd0e0");
    assert_eq!(with_topic["topicId"], "612");
    assert_eq!(with_topic["subject"], Value::Null);
}

#[test]
fn a_second_legacy_put_merges_and_keeps_created_at() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(
        &legacy("a,b;topic=x"),
        &json!({"subject": "First", "custom": {"one": "1"}}),
    )
    .ok_empty();
    let first = api.fetch(&legacy("a,b;topic=x"));
    pause();
    api.put(&legacy("b,a;topic=x"), &json!({"custom": {"two": "2"}}))
        .ok_empty();
    let second = api.fetch("/conversations/42f46237d541d2d9d7c7");
    assert_eq!(second["custom"], json!({"one": "1", "two": "2"}));
    assert_eq!(second["subject"], "First");
    assert_eq!(second["createdAt"], first["createdAt"]);
    assert_eq!(second["topicId"], "x");
    assert_eq!(second["participants"], first["participants"]);
}

#[test]
fn a_legacy_put_may_not_name_participants() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for participants in [json!(["a", "b"]), json!(["c"]), json!(null)] {
        let body = api
            .put(&legacy("a,b"), &json!({"participants": participants}))
            .error(400, "INVALID_FIELD");
        assert!(body["reasons"].get("participants").is_some(), "{body}");
    }
    api.get(&legacy("a,b")).error(404, "NOT_FOUND");

    api.put(&legacy("a,b"), &json!({"subject": "s"})).ok_empty();
    api.put(&legacy("a,b"), &json!({"participants": ["c"]}))
        .error(400, "INVALID_FIELD");
    assert_eq!(participants(&api, &legacy("a,b")), set(&["a", "b"]));
}

#[test]
fn a_legacy_put_body_is_checked_like_a_conversation_put() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let body = api
        .put(&legacy("a,b"), &json!({"subjct": "typo"}))
        .error(400, "UNKNOWN_FIELD");
    assert!(body["reasons"].get("subjct").is_some(), "{body}");
    let body = api
        .put(&legacy("a,b"), &json!({"custom": {"n": 1}}))
        .error(400, "INVALID_FIELD");
    assert!(body["reasons"].get("custom.n").is_some(), "{body}");
    api.request(
        "PUT",
        &legacy("a,b"),
        &[("Content-Type", "text/plain")],
        Some(b"{}"),
    )
    .error(415, "UNSUPPORTED_MEDIA_TYPE");
    api.get(&legacy("a,b")).error(404, "NOT_FOUND");
}

#[test]
fn legacy_ids_containing_separators_are_sent_percent_encoded() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    // ["a,b","c"]
    api.put(&legacy("a%2Cb,c"), &json!({})).ok_empty();
    let got = api.fetch("/conversations/af685bb3d5fe6f23b993");
    assert_eq!(keys(&got["participants"]), set(&["a,b", "c"]));
    api.get(&legacy("a,b,c")).error(404, "NOT_FOUND");

    // [["a"],"t;1"]
    api.put(&legacy("a;topic=t%3B1"), &json!({})).ok_empty();
    let got = api.fetch("/conversations/0cacb3d84413a1dda2e4");
    assert_eq!(got["topicId"], "t;1");
    assert_eq!(keys(&got["participants"]), set(&["a"]));
}

#[test]
fn malformed_legacy_segments_are_bad_requests() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for segment in [
        "",
        "a,,b",
        ",a",
        "a;color=red",
        "a;topic=x;topic=y",
        "a;topic=",
        "%FF",
    ] {
        let path = legacy(segment);
        bad_request(&api.get(&path));
        bad_request(&api.put(&path, &json!({"subject": "s"})));
    }
    // Nothing was created by any of them.
    assert_eq!(api.fetch("/conversations")["data"], json!([]));
}
