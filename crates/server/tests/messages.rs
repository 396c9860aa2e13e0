//! The Messages section of API.md, with the unread rules that shape `readBy`, `isUnread` and a
//! conversation's `lastMessage`, over HTTP against the real server on SQLite.

mod common;

use std::collections::BTreeSet;

use common::{now_ms, pause, seed, send, settings, Api, TestServer, APP, OTHER_APP, OTHER_KEY};
use parley_domain::{Access, Conversation, ConversationId, Participant, UserId};
use serde_json::{json, Map, Value};

const C: &str = "/conversations/order_fc_491731";
const M: &str = "/conversations/order_fc_491731/messages";
const OTHER: &str = "/conversations/other";
const OTHER_M: &str = "/conversations/other/messages";

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

fn reason_keys(body: &Value) -> BTreeSet<String> {
    keys(&body["reasons"])
}

fn is_message_id(id: &str) -> bool {
    id.strip_prefix("msg_")
        .is_some_and(|tail| tail.len() == 22 && tail.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn user_message(sender: &str, text: &str) -> Value {
    json!({"text": text, "type": "UserMessage", "sender": sender})
}

fn system_message(text: &str) -> Value {
    json!({"text": text, "type": "SystemMessage"})
}

fn with(mut item: Value, field: &str, value: Value) -> Value {
    item[field] = value;
    item
}

/// PUTs a conversation with these participants.
fn create(api: &Api, path: &str, participants: &[&str]) {
    api.put(path, &json!({ "participants": participants }))
        .ok_empty();
}

/// POSTs `items`, asserts a bare array of one well-formed `{"id"}` per item, returns the IDs.
fn post_ok(api: &Api, path: &str, items: &Value) -> Vec<String> {
    let resp = api.post(path, items);
    assert_eq!(resp.status, 200, "POST {path} {items}: {}", resp.text);
    assert!(resp.headers["content-type"].starts_with("application/json"));
    let body = resp.json();
    let answered = body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"));
    assert_eq!(answered.len(), items.as_array().unwrap().len(), "{body}");
    answered
        .iter()
        .map(|item| {
            assert_eq!(keys(item), set(&["id"]), "{body}");
            let id = item["id"].as_str().unwrap().to_string();
            assert!(is_message_id(&id), "{id}");
            id
        })
        .collect()
}

fn say(api: &Api, path: &str, sender: &str, text: &str) -> String {
    post_ok(api, path, &json!([user_message(sender, text)])).remove(0)
}

fn message_path(messages: &str, id: &str) -> String {
    format!("{messages}/{id}")
}

fn message(api: &Api, messages: &str, id: &str) -> Value {
    api.fetch(&message_path(messages, id))
}

fn list(api: &Api, query: &str) -> Vec<Value> {
    let body = api.fetch(&format!("{M}{query}"));
    assert_eq!(keys(&body), set(&["data"]), "{body}");
    body["data"].as_array().unwrap().clone()
}

fn ids(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

fn unread(conversation: &Value, user: &str) -> bool {
    conversation["participants"][user]["isUnread"]
        .as_bool()
        .unwrap_or_else(|| panic!("no isUnread for {user}: {conversation}"))
}

#[test]
fn post_answers_ids_and_get_returns_the_documented_object() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["123456", "654321"]);
    pause();
    let before = now_ms();
    let sent = post_ok(
        &api,
        M,
        &json!([{
            "text": "Hey, I'm in London", "type": "UserMessage", "sender": "123456",
            "custom": {"city": "London"}
        }]),
    );
    let after = now_ms();
    let got = message(&api, M, &sent[0]);
    let created_at = got["createdAt"].as_i64().expect("createdAt is an integer");
    assert!(
        created_at >= before && created_at <= after + 1,
        "{created_at}"
    );
    assert_eq!(
        got,
        json!({
            "id": sent[0], "conversationId": "order_fc_491731",
            "type": "UserMessage", "senderId": "123456", "text": "Hey, I'm in London",
            "custom": {"city": "London"}, "createdAt": created_at, "editedAt": null,
            "readBy": [], "origin": "rest", "referencedMessageId": null,
            "attachment": null, "location": null,
            "content": [{"type": "text", "children": ["Hey, I'm in London"]}], "reactions": {}
        })
    );
    assert_eq!(list(&api, ""), vec![got]);
}

#[test]
fn a_system_message_has_no_sender() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let id = post_ok(&api, M, &json!([system_message("Order shipped")])).remove(0);
    let got = message(&api, M, &id);
    assert_eq!(got["type"], "SystemMessage");
    assert!(got["senderId"].is_null(), "{got}");
    assert_eq!(got["text"], "Order shipped");
    assert_eq!(got["custom"], json!({}));
}

#[test]
fn a_batch_is_answered_in_input_order_and_listed_newest_first() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a", "b"]);
    let items: Vec<Value> = (0..5)
        .map(|i| user_message(if i % 2 == 0 { "a" } else { "b" }, &format!("m{i}")))
        .collect();
    let sent = post_ok(&api, M, &json!(items));
    assert_eq!(sent.iter().collect::<BTreeSet<_>>().len(), 5, "{sent:?}");
    for (i, id) in sent.iter().enumerate() {
        assert_eq!(message(&api, M, id)["text"], format!("m{i}"));
    }
    let listed = list(&api, "");
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    assert_eq!(ids(&listed), newest_first);
    assert_eq!(texts(&listed), ["m4", "m3", "m2", "m1", "m0"]);
    assert_eq!(api.fetch(C)["lastMessage"]["id"], sent[4]);

    pause();
    let later = post_ok(&api, M, &json!([system_message("later")]));
    let listed = list(&api, "");
    assert_eq!(listed.len(), 6);
    assert_eq!(listed[0]["id"], later[0]);
    assert_eq!(ids(&listed[1..]), newest_first);
}

#[test]
fn a_user_message_needs_a_sender_who_participates_and_a_system_message_has_none() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let body = api
        .post(
            M,
            &json!([
                {"text": "no sender", "type": "UserMessage"},
                user_message("stranger", "not a participant"),
                with(system_message("system with sender"), "sender", json!("a")),
                user_message("a", "fine")
            ]),
        )
        .error(400, "INVALID_FIELD");
    assert_eq!(
        reason_keys(&body),
        set(&["[0].sender", "[1].sender", "[2].sender"]),
        "{body}"
    );
    assert!(list(&api, "").is_empty());
    assert!(api.fetch(C)["lastMessage"].is_null());
    post_ok(&api, M, &json!([user_message("a", "fine")]));
}

#[test]
fn a_participant_with_read_access_may_send_and_one_with_none_may_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let now = now_ms();
    let mut seeded = Conversation::new(ConversationId::new("readonly").unwrap(), now);
    seeded
        .participants
        .insert(UserId::new("writer").unwrap(), Participant::joined(now));
    seeded.participants.insert(
        UserId::new("reader").unwrap(),
        Participant {
            access: Access::Read,
            ..Participant::joined(now)
        },
    );
    seeded.participants.insert(
        UserId::new("hidden").unwrap(),
        Participant {
            access: Access::None,
            ..Participant::joined(now)
        },
    );
    seed(&db, APP, &[seeded]);
    let server = TestServer::start(settings(&db));
    let api = server.api();
    let path = "/conversations/readonly/messages";
    assert_eq!(
        api.fetch("/conversations/readonly")["participants"]["reader"]["access"],
        "Read"
    );
    let body = api
        .post(
            path,
            &json!([user_message("writer", "ok"), user_message("hidden", "no")]),
        )
        .error(400, "INVALID_FIELD");
    assert_eq!(reason_keys(&body), set(&["[1].sender"]), "{body}");
    assert!(api.fetch(path)["data"].as_array().unwrap().is_empty());
    post_ok(
        &api,
        path,
        &json!([
            user_message("writer", "ok"),
            user_message("reader", "also ok")
        ]),
    );
    assert_eq!(api.fetch(path)["data"].as_array().unwrap().len(), 2);
}

#[test]
fn one_bad_item_stores_nothing_and_reasons_are_keyed_by_index() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a", "b"]);
    let kept = say(&api, M, "a", "kept");
    let body = api
        .post(
            M,
            &json!([
                user_message("a", "0"),
                user_message("b", "1"),
                system_message("2"),
                user_message("nobody", "3"),
                user_message("a", "4")
            ]),
        )
        .error(400, "INVALID_FIELD");
    assert_eq!(reason_keys(&body), set(&["[3].sender"]), "{body}");
    assert!(body["reasons"]["[3].sender"].is_string(), "{body}");
    assert_eq!(ids(&list(&api, "")), vec![kept.clone()]);
    assert_eq!(api.fetch(C)["lastMessage"]["id"], kept);

    // Several bad items are named at once.
    let body = api
        .post(
            M,
            &json!([
                user_message("a", "fine"),
                {"text": "t", "type": "Chat", "sender": "a"},
                with(system_message("t"), "custom", json!({"k": 1})),
                {"type": "UserMessage", "sender": "b"}
            ]),
        )
        .error(400, "INVALID_FIELD");
    assert_eq!(
        reason_keys(&body),
        set(&["[1].type", "[2].custom.k", "[3].text"]),
        "{body}"
    );
    assert_eq!(ids(&list(&api, "")), [kept]);
}

#[test]
fn problems_are_reported_in_two_stages_each_naming_all_of_its_problems() {
    // docs/api.md: the shape of the body (types, unknown fields) is checked first, then the rules
    // that need stored data or limits; each answer names every problem of its stage.
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let over_limit = || {
        with(
            system_message("t"),
            "custom",
            json!({"color": "v".repeat(10_001)}),
        )
    };
    let body = api
        .post(
            M,
            &json!([user_message("a", ""), over_limit(), with(system_message("t"), "bogus", json!(1)), {"text": "t", "type": "Chat"}]),
        )
        .error(400, "UNKNOWN_FIELD");
    assert_eq!(
        reason_keys(&body),
        set(&["[2].bogus", "[3].type"]),
        "{body}"
    );
    let body = api
        .post(
            M,
            &json!([
                user_message("a", ""),
                over_limit(),
                user_message("stranger", "t")
            ]),
        )
        .error(400, "LIMIT_EXCEEDED");
    assert_eq!(
        reason_keys(&body),
        set(&["[0].text", "[1].custom.color", "[2].sender"]),
        "{body}"
    );
    assert!(list(&api, "").is_empty());
}

#[test]
fn wrong_types_are_refused_with_a_reason_per_item_field_and_store_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let ok = user_message("a", "fine");
    let cases = [
        (json!([{"type": "UserMessage", "sender": "a"}]), "[0].text"),
        (json!([with(ok.clone(), "text", json!(5))]), "[0].text"),
        (json!([with(ok.clone(), "text", json!(""))]), "[0].text"),
        (
            json!([ok.clone(), {"text": "t", "sender": "a"}]),
            "[1].type",
        ),
        (
            json!([with(ok.clone(), "type", json!("userMessage"))]),
            "[0].type",
        ),
        (json!([with(ok.clone(), "type", json!(1))]), "[0].type"),
        (
            json!([ok.clone(), with(ok.clone(), "sender", json!(5))]),
            "[1].sender",
        ),
        (json!([with(ok.clone(), "sender", json!(""))]), "[0].sender"),
        (
            json!([with(ok.clone(), "custom", json!("x"))]),
            "[0].custom",
        ),
        (
            json!([with(ok.clone(), "custom", json!(["x"]))]),
            "[0].custom",
        ),
        (
            json!([with(ok.clone(), "custom", json!({"k": 1}))]),
            "[0].custom.k",
        ),
        (
            json!([with(ok.clone(), "custom", json!({"k": {"a": "b"}}))]),
            "[0].custom.k",
        ),
        (
            json!([with(ok.clone(), "referencedMessageId", json!(5))]),
            "[0].referencedMessageId",
        ),
        (
            json!([with(ok.clone(), "idempotencyKey", json!(5))]),
            "[0].idempotencyKey",
        ),
        (json!([ok.clone(), "just text"]), "[1]"),
        (json!([ok.clone(), 7]), "[1]"),
        (ok.clone(), "(body)"),
        (json!("text"), "(body)"),
        (json!(null), "(body)"),
    ];
    for (body, field) in cases {
        let answer = api.post(M, &body).error(400, "INVALID_FIELD");
        assert!(answer["reasons"][field].is_string(), "{body} -> {answer}");
    }
    assert!(list(&api, "").is_empty());
    assert!(api.fetch(C)["lastMessage"].is_null());
}

#[test]
fn unknown_item_fields_are_refused_by_index_and_store_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let body = api
        .post(
            M,
            &json!([
                user_message("a", "fine"),
                with(user_message("a", "typo"), "txt", json!("x"))
            ]),
        )
        .error(400, "UNKNOWN_FIELD");
    assert_eq!(reason_keys(&body), set(&["[1].txt"]), "{body}");
    // An unknown field decides the code even when other fields are bad too.
    let body = api
        .post(
            M,
            &json!([
                with(user_message("a", "x"), "senderId", json!("a")),
                with(user_message("a", "x"), "type", json!("Nope"))
            ]),
        )
        .error(400, "UNKNOWN_FIELD");
    assert!(body["reasons"]["[0].senderId"].is_string(), "{body}");
    assert!(body["reasons"]["[1].type"].is_string(), "{body}");
    assert!(list(&api, "").is_empty());
}

#[test]
fn a_send_has_one_to_ten_messages() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    api.post(M, &json!([])).error(400, "INVALID_FIELD");
    let eleven: Vec<Value> = (0..11).map(|i| system_message(&format!("{i}"))).collect();
    let body = api.post(M, &json!(eleven)).error(400, "LIMIT_EXCEEDED");
    assert!(!reason_keys(&body).is_empty(), "{body}");
    assert!(list(&api, "").is_empty());
    let sent = post_ok(&api, M, &json!(&eleven[..10]));
    assert_eq!(list(&api, "?limit=100").len(), 10);
    assert_eq!(sent.iter().collect::<BTreeSet<_>>().len(), 10);
}

#[test]
fn the_number_of_messages_per_request_comes_from_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("p.db"));
    s.limits.messages_per_request = 2;
    let server = TestServer::start(s);
    let api = server.api();
    create(&api, C, &["a"]);
    let three = json!([
        system_message("1"),
        system_message("2"),
        system_message("3")
    ]);
    api.post(M, &three).error(400, "LIMIT_EXCEEDED");
    assert!(list(&api, "").is_empty());
    post_ok(&api, M, &json!([system_message("1"), system_message("2")]));
}

#[test]
fn sending_to_a_missing_conversation_is_404() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.post(M, &json!([system_message("hello")]))
        .error(404, "NOT_FOUND");
    api.get(M).error(404, "NOT_FOUND");
    api.get(C).error(404, "NOT_FOUND");
    // A deleted conversation is missing too.
    create(&api, C, &["a"]);
    api.delete(C).ok_empty();
    api.post(M, &json!([system_message("hello")]))
        .error(404, "NOT_FOUND");
}

#[test]
fn repeating_an_idempotency_key_answers_the_first_ids_and_stores_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a", "b"]);
    let first = post_ok(
        &api,
        M,
        &json!([with(
            user_message("a", "first"),
            "idempotencyKey",
            json!("k1")
        )]),
    );
    pause();
    let again = post_ok(
        &api,
        M,
        &json!([with(
            user_message("b", "retry"),
            "idempotencyKey",
            json!("k1")
        )]),
    );
    assert_eq!(again, first);
    assert_eq!(texts(&list(&api, "")), ["first"]);
    assert_eq!(api.fetch(C)["lastMessage"]["text"], "first");

    let batch = json!([
        with(system_message("one"), "idempotencyKey", json!("k2")),
        with(system_message("two"), "idempotencyKey", json!("k3"))
    ]);
    let stored = post_ok(&api, M, &batch);
    assert_eq!(post_ok(&api, M, &batch), stored);
    assert_eq!(texts(&list(&api, "")), ["two", "one", "first"]);

    // Without a key, the same body is stored again.
    post_ok(&api, M, &json!([system_message("no key")]));
    post_ok(&api, M, &json!([system_message("no key")]));
    assert_eq!(list(&api, "").len(), 5);

    // Keys are per conversation.
    create(&api, OTHER, &["a"]);
    let elsewhere = post_ok(
        &api,
        OTHER_M,
        &json!([with(
            user_message("a", "elsewhere"),
            "idempotencyKey",
            json!("k1")
        )]),
    );
    assert_ne!(elsewhere, first);
    assert_eq!(message(&api, OTHER_M, &elsewhere[0])["text"], "elsewhere");
    assert_eq!(list(&api, "").len(), 5);
}

#[test]
fn a_referenced_message_must_belong_to_the_same_conversation() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    create(&api, OTHER, &["a"]);
    let original = say(&api, M, "a", "original");
    let elsewhere = say(&api, OTHER_M, "a", "elsewhere");
    let reply = post_ok(
        &api,
        M,
        &json!([with(
            user_message("a", "reply"),
            "referencedMessageId",
            json!(original)
        )]),
    );
    assert_eq!(message(&api, M, &reply[0])["referencedMessageId"], original);
    assert!(message(&api, M, &original)["referencedMessageId"].is_null());
    for bad in [elsewhere.as_str(), "msg_0000000000000000000000"] {
        let body = api
            .post(
                M,
                &json!([
                    user_message("a", "fine"),
                    with(user_message("a", "bad"), "referencedMessageId", json!(bad))
                ]),
            )
            .error(400, "INVALID_FIELD");
        assert_eq!(
            reason_keys(&body),
            set(&["[1].referencedMessageId"]),
            "{bad}: {body}"
        );
    }
    assert_eq!(texts(&list(&api, "")), ["reply", "original"]);
}

#[test]
fn message_custom_has_the_conversation_limits() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let custom = |n: usize| -> Map<String, Value> {
        (0..n).map(|i| (format!("k{i}"), json!("v"))).collect()
    };
    let long_key = "k".repeat(256);
    let cases = [
        (json!(custom(101)), "[0].custom".to_string()),
        (
            json!({ long_key.as_str(): "v" }),
            format!("[0].custom.{}", "k".repeat(32)),
        ),
        (
            json!({"color": "v".repeat(10_001)}),
            "[0].custom.color".to_string(),
        ),
    ];
    for (value, field) in cases {
        let body = api
            .post(M, &json!([with(system_message("t"), "custom", value)]))
            .error(400, "LIMIT_EXCEEDED");
        assert!(body["reasons"][&field].is_string(), "{field}: {body}");
    }
    assert!(list(&api, "").is_empty());

    // Exactly at the limits is fine.
    let full = post_ok(
        &api,
        M,
        &json!([
            with(system_message("keys"), "custom", json!(custom(100))),
            with(
                system_message("sizes"),
                "custom",
                json!({"k".repeat(255): "v".repeat(10_000)})
            )
        ]),
    );
    assert_eq!(
        message(&api, M, &full[0])["custom"]
            .as_object()
            .unwrap()
            .len(),
        100
    );
    assert_eq!(
        message(&api, M, &full[1])["custom"]["k".repeat(255)],
        "v".repeat(10_000)
    );

    // An edit may not take a message over the limits either, and changes nothing then.
    let path = message_path(M, &full[0]);
    let body = api
        .put(
            &path,
            &json!({"custom": {"one-more": "v"}, "text": "changed"}),
        )
        .error(400, "LIMIT_EXCEEDED");
    assert!(body["reasons"]["custom"].is_string(), "{body}");
    let body = api
        .put(&path, &json!({"custom": {"k0": "v".repeat(10_001)}}))
        .error(400, "LIMIT_EXCEEDED");
    assert!(body["reasons"]["custom.k0"].is_string(), "{body}");
    let unchanged = api.fetch(&path);
    assert_eq!(unchanged["text"], "keys");
    assert!(unchanged["editedAt"].is_null());
    // Replacing a key's value does not add a key.
    api.put(&path, &json!({"custom": {"k0": "new"}})).ok_empty();
    assert_eq!(api.fetch(&path)["custom"]["k0"], "new");
}

#[test]
fn the_list_pages_with_limit_and_starting_after() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let mut sent = Vec::new();
    for batch in 0..3 {
        let items: Vec<Value> = (0..8)
            .map(|i| user_message("a", &format!("m{batch}{i}")))
            .collect();
        sent.extend(post_ok(&api, M, &json!(items)));
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    assert_eq!(ids(&list(&api, "")), newest_first[..10]);
    assert_eq!(ids(&list(&api, "?limit=100")), newest_first);
    assert_eq!(ids(&list(&api, "?limit=1")), newest_first[..1]);

    let mut walked = Vec::new();
    let mut query = "?limit=7".to_string();
    loop {
        let page = ids(&list(&api, &query));
        assert!(page.len() <= 7);
        walked.extend(page.iter().cloned());
        match page.last() {
            Some(last) if page.len() == 7 => query = format!("?limit=7&startingAfter={last}"),
            _ => break,
        }
        assert!(walked.len() <= 24, "{walked:?}");
    }
    assert_eq!(walked, newest_first);
    assert!(list(&api, &format!("?startingAfter={}", sent[0])).is_empty());
    assert_eq!(
        ids(&list(&api, &format!("?startingAfter={}&limit=2", sent[10]))),
        [sent[9].clone(), sent[8].clone()]
    );

    for bad in ["0", "101", "-1", "ten", "2.5"] {
        let body = api
            .get(&format!("{M}?limit={bad}"))
            .error(400, "INVALID_FIELD");
        assert!(body["reasons"]["limit"].is_string(), "{bad}: {body}");
    }
}

#[test]
fn starting_after_must_be_a_message_of_this_conversation() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    create(&api, OTHER, &["a"]);
    let mine = post_ok(
        &api,
        M,
        &json!([
            system_message("0"),
            system_message("1"),
            system_message("2")
        ]),
    );
    let theirs = say(&api, OTHER_M, "a", "elsewhere");
    let deleted = say(&api, M, "a", "deleted");
    api.delete(&message_path(M, &deleted)).ok_empty();
    for bad in [
        theirs.as_str(),
        deleted.as_str(),
        "msg_0000000000000000000000",
        "nope",
    ] {
        let body = api
            .get(&format!("{M}?startingAfter={bad}"))
            .error(400, "INVALID_FIELD");
        assert!(
            body["reasons"]["startingAfter"].is_string(),
            "{bad}: {body}"
        );
    }
    assert_eq!(
        ids(&list(&api, &format!("?startingAfter={}", mine[2]))),
        [mine[1].clone(), mine[0].clone()]
    );
}

#[test]
fn a_message_of_another_conversation_or_a_missing_one_is_404() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    create(&api, OTHER, &["a"]);
    let id = say(&api, M, "a", "mine");
    let foreign = message_path(OTHER_M, &id);
    api.get(&foreign).error(404, "NOT_FOUND");
    api.put(&foreign, &json!({"text": "hijack"}))
        .error(404, "NOT_FOUND");
    api.delete(&foreign).error(404, "NOT_FOUND");
    let missing = message_path(M, "msg_0000000000000000000000");
    api.get(&missing).error(404, "NOT_FOUND");
    api.put(&missing, &json!({"text": "x"}))
        .error(404, "NOT_FOUND");
    api.delete(&missing).error(404, "NOT_FOUND");
    // A message path under a conversation that does not exist.
    let nowhere = message_path("/conversations/nowhere/messages", &id);
    api.get(&nowhere).error(404, "NOT_FOUND");
    api.put(&nowhere, &json!({"text": "x"}))
        .error(404, "NOT_FOUND");
    api.delete(&nowhere).error(404, "NOT_FOUND");
    api.get("/conversations/nowhere/messages")
        .error(404, "NOT_FOUND");

    let got = message(&api, M, &id);
    assert_eq!(got["text"], "mine");
    assert!(got["editedAt"].is_null());
    assert!(api.fetch(OTHER)["lastMessage"].is_null());
}

#[test]
fn put_edits_text_merges_custom_and_sets_edited_at() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a", "b"]);
    let id = post_ok(
        &api,
        M,
        &json!([with(
            user_message("a", "old"),
            "custom",
            json!({"a": "1", "b": "2"})
        )]),
    )
    .remove(0);
    let path = message_path(M, &id);
    let original = api.fetch(&path);
    assert!(original["editedAt"].is_null());
    pause();
    let before = now_ms();
    api.put(&path, &json!({"text": "new"})).ok_empty();
    let edited = api.fetch(&path);
    assert_eq!(edited["text"], "new");
    assert_eq!(edited["custom"], json!({"a": "1", "b": "2"}));
    let edited_at = edited["editedAt"].as_i64().expect("editedAt is an integer");
    assert!(edited_at >= before && edited_at <= now_ms() + 1, "{edited}");
    for same in ["id", "conversationId", "type", "senderId", "createdAt"] {
        assert_eq!(edited[same], original[same], "{same}");
    }
    assert_eq!(api.fetch(C)["lastMessage"], edited);

    api.put(&path, &json!({"custom": {"a": null, "c": "3"}}))
        .ok_empty();
    let merged = api.fetch(&path);
    assert_eq!(merged["custom"], json!({"b": "2", "c": "3"}));
    assert_eq!(merged["text"], "new");
    api.put(&path, &json!({"custom": {}})).ok_empty();
    assert_eq!(api.fetch(&path)["custom"], json!({"b": "2", "c": "3"}));
    api.put(&path, &json!({"custom": null, "text": "newest"}))
        .ok_empty();
    let cleared = api.fetch(&path);
    assert_eq!(cleared["custom"], json!({}));
    assert_eq!(cleared["text"], "newest");
    assert_eq!(api.fetch(C)["lastMessage"], cleared);
    assert_eq!(list(&api, ""), vec![cleared]);
}

#[test]
fn put_refuses_bad_or_unknown_fields_and_changes_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let id = post_ok(
        &api,
        M,
        &json!([with(user_message("a", "text"), "custom", json!({"k": "v"}))]),
    )
    .remove(0);
    let path = message_path(M, &id);
    let cases = [
        (
            json!({"txt": "typo", "text": "new"}),
            "UNKNOWN_FIELD",
            "txt",
        ),
        (json!({"sender": "b"}), "UNKNOWN_FIELD", "sender"),
        (json!({"text": 5}), "INVALID_FIELD", "text"),
        (json!({"text": null}), "INVALID_FIELD", "text"),
        (json!({"text": ""}), "INVALID_FIELD", "text"),
        (json!({"custom": "x"}), "INVALID_FIELD", "custom"),
        (json!({"custom": {"k": 5}}), "INVALID_FIELD", "custom.k"),
        (json!(["text"]), "INVALID_FIELD", "(body)"),
        (
            json!({"custom": {"k": "v".repeat(10_001)}}),
            "LIMIT_EXCEEDED",
            "custom.k",
        ),
    ];
    for (body, code, field) in cases {
        let answer = api.put(&path, &body).error(400, code);
        assert!(answer["reasons"][field].is_string(), "{body} -> {answer}");
    }
    let got = api.fetch(&path);
    assert_eq!(got["text"], "text");
    assert_eq!(got["custom"], json!({"k": "v"}));
    assert!(got["editedAt"].is_null());
}

#[test]
fn delete_removes_the_message_and_last_message_becomes_the_newest_left() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a", "b"]);
    let first = say(&api, M, "a", "first");
    pause();
    let second = say(&api, M, "b", "second");
    assert_eq!(api.fetch(C)["lastMessage"], message(&api, M, &second));

    api.delete(&message_path(M, &second)).ok_empty();
    api.get(&message_path(M, &second)).error(404, "NOT_FOUND");
    api.delete(&message_path(M, &second))
        .error(404, "NOT_FOUND");
    api.put(&message_path(M, &second), &json!({"text": "x"}))
        .error(404, "NOT_FOUND");
    let conversation = api.fetch(C);
    assert_eq!(conversation["lastMessage"], message(&api, M, &first));
    assert_eq!(ids(&list(&api, "")), vec![first.clone()]);

    api.delete(&message_path(M, &first)).ok_empty();
    let conversation = api.fetch(C);
    assert!(conversation["lastMessage"].is_null(), "{conversation}");
    assert!(!unread(&conversation, "a") && !unread(&conversation, "b"));
    assert!(list(&api, "").is_empty());
}

#[test]
fn is_unread_marks_participants_who_have_not_read_the_newest_message_of_someone_else() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a", "b"]);
    let c = api.fetch(C);
    assert!(!unread(&c, "a") && !unread(&c, "b"));

    pause();
    say(&api, M, "a", "from a");
    let c = api.fetch(C);
    assert!(!unread(&c, "a"), "{c}");
    assert!(unread(&c, "b"), "{c}");

    pause();
    say(&api, M, "b", "from b");
    let c = api.fetch(C);
    assert!(unread(&c, "a"), "{c}");
    assert!(!unread(&c, "b"), "{c}");

    // Someone who joins after the newest message has nothing unread.
    pause();
    create(&api, C, &["late"]);
    let c = api.fetch(C);
    assert!(!unread(&c, "late"), "{c}");
    assert!(unread(&c, "a"), "{c}");
    let late = &c["participants"]["late"];
    assert_eq!(late["access"], "ReadWrite");
    assert_eq!(late["notify"], true);
    assert_eq!(late["isUnread"], false);
    assert!(late["readUntil"].is_i64(), "{late}");

    // A system message is sent by nobody: unread for everyone.
    pause();
    post_ok(&api, M, &json!([system_message("closing soon")]));
    let c = api.fetch(C);
    for user in ["a", "b", "late"] {
        assert!(unread(&c, user), "{user}: {c}");
    }
}

#[test]
fn read_by_excludes_the_sender_and_includes_participants_who_joined_later() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a", "b"]);
    pause();
    let m1 = say(&api, M, "a", "one");
    // b joined before and has not sent since: not read by b.
    assert_eq!(message(&api, M, &m1)["readBy"], json!([]));

    pause();
    let m2 = say(&api, M, "b", "two");
    // Sending moved b's readUntil past m1; a has not read m2.
    assert_eq!(message(&api, M, &m1)["readBy"], json!(["b"]));
    assert_eq!(message(&api, M, &m2)["readBy"], json!([]));

    pause();
    create(&api, C, &["c"]);
    assert_eq!(message(&api, M, &m1)["readBy"], json!(["b", "c"]));
    assert_eq!(message(&api, M, &m2)["readBy"], json!(["c"]));

    pause();
    let m3 = post_ok(&api, M, &json!([system_message("three")])).remove(0);
    assert_eq!(message(&api, M, &m3)["readBy"], json!([]));

    // The list and lastMessage say the same.
    let listed = list(&api, "");
    assert_eq!(ids(&listed), [m3.clone(), m2, m1]);
    assert_eq!(listed[0]["readBy"], json!([]));
    assert_eq!(listed[1]["readBy"], json!(["c"]));
    assert_eq!(listed[2]["readBy"], json!(["b", "c"]));
    assert_eq!(api.fetch(C)["lastMessage"], message(&api, M, &m3));
}

#[test]
fn deleting_a_conversation_deletes_its_messages() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let sent = post_ok(
        &api,
        M,
        &json!([
            with(user_message("a", "before"), "idempotencyKey", json!("once")),
            user_message("a", "also before")
        ]),
    );
    api.delete(C).ok_empty();
    api.get(M).error(404, "NOT_FOUND");
    api.get(&message_path(M, &sent[0])).error(404, "NOT_FOUND");

    // The same ID again starts from nothing.
    create(&api, C, &["a"]);
    assert!(list(&api, "").is_empty());
    assert!(api.fetch(C)["lastMessage"].is_null());
    for id in &sent {
        api.get(&message_path(M, id)).error(404, "NOT_FOUND");
    }
    let body = api
        .get(&format!("{M}?startingAfter={}", sent[1]))
        .error(400, "INVALID_FIELD");
    assert!(body["reasons"]["startingAfter"].is_string(), "{body}");
    // The old idempotency key answers no deleted message.
    let again = post_ok(
        &api,
        M,
        &json!([with(
            user_message("a", "after"),
            "idempotencyKey",
            json!("once")
        )]),
    );
    assert_eq!(message(&api, M, &again[0])["text"], "after");
    assert_eq!(texts(&list(&api, "")), ["after"]);
}

#[test]
fn message_requests_need_a_key_and_json_bodies() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let id = say(&api, M, "a", "kept");
    let path = message_path(M, &id);
    let body = br#"[{"text": "t", "type": "SystemMessage"}]"#;
    let edit = br#"{"text": "changed"}"#;

    api.request("POST", M, &[], Some(body))
        .error(415, "UNSUPPORTED_MEDIA_TYPE");
    api.request("POST", M, &[("Content-Type", "text/plain")], Some(body))
        .error(415, "UNSUPPORTED_MEDIA_TYPE");
    api.request("PUT", &path, &[("Content-Type", "text/plain")], Some(edit))
        .error(415, "UNSUPPORTED_MEDIA_TYPE");
    for raw in [&b"[{not json"[..], b"", b"[{\"text\": \"t\",}]"] {
        api.post_raw(M, raw).error(400, "INVALID_JSON");
        api.put_raw(&path, raw).error(400, "INVALID_JSON");
    }

    let json_ct = ("Content-Type", "application/json");
    let wrong_key = ("Authorization", "Bearer sk_test_wrong");
    send("POST", &api.url(M), &[json_ct], Some(body)).error(401, "UNAUTHORIZED");
    send("POST", &api.url(M), &[json_ct, wrong_key], Some(body)).error(401, "UNAUTHORIZED");
    send("GET", &api.url(M), &[], None).error(401, "UNAUTHORIZED");
    send("GET", &api.url(&path), &[], None).error(401, "UNAUTHORIZED");
    send("PUT", &api.url(&path), &[json_ct], Some(edit)).error(401, "UNAUTHORIZED");
    send("DELETE", &api.url(&path), &[wrong_key], None).error(401, "UNAUTHORIZED");

    assert_eq!(ids(&list(&api, "")), vec![id.clone()]);
    let got = api.fetch(&path);
    assert_eq!(got["text"], "kept");
    assert!(got["editedAt"].is_null());

    let charset = ("Content-Type", "application/json; charset=utf-8");
    let resp = api.request("POST", M, &[charset], Some(body));
    assert_eq!(resp.status, 200, "{}", resp.text);
    api.request("PUT", &path, &[charset], Some(edit)).ok_empty();
    assert_eq!(api.fetch(&path)["text"], "changed");
}

#[test]
fn message_bodies_over_the_body_limit_get_413_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("p.db"));
    s.limits.body_bytes = 256;
    let server = TestServer::start(s);
    let api = server.api();
    create(&api, C, &["a"]);
    let id = say(&api, M, "a", "small");
    let big = "x".repeat(300);
    api.post(M, &json!([system_message(&big)]))
        .error(413, "PAYLOAD_TOO_LARGE");
    api.put(&message_path(M, &id), &json!({ "text": big }))
        .error(413, "PAYLOAD_TOO_LARGE");
    assert_eq!(texts(&list(&api, "")), ["small"]);
}

#[test]
fn message_routes_refuse_other_methods() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, C, &["a"]);
    let id = say(&api, M, "a", "kept");
    let path = message_path(M, &id);
    let json_ct = [("Content-Type", "application/json")];
    api.request("PUT", M, &json_ct, Some(b"[]"))
        .error(405, "METHOD_NOT_ALLOWED");
    api.request("DELETE", M, &[], None)
        .error(405, "METHOD_NOT_ALLOWED");
    api.request("PATCH", M, &json_ct, Some(b"[]"))
        .error(405, "METHOD_NOT_ALLOWED");
    api.request("POST", &path, &json_ct, Some(b"{}"))
        .error(405, "METHOD_NOT_ALLOWED");
    api.request("PATCH", &path, &json_ct, Some(b"{}"))
        .error(405, "METHOD_NOT_ALLOWED");
    api.get(&format!("{path}/more"))
        .error(404, "ROUTE_NOT_FOUND");
    assert_eq!(texts(&list(&api, "")), ["kept"]);
}

#[test]
fn an_apps_key_never_reads_or_writes_another_apps_messages() {
    let (server, _dir) = TestServer::fresh();
    let mine = server.api();
    let theirs = Api::new(&server.base, OTHER_APP, OTHER_KEY);
    create(&mine, C, &["a"]);
    let id = say(&mine, M, "a", "mine");
    let path = message_path(M, &id);

    theirs.get(M).error(404, "NOT_FOUND");
    theirs
        .post(M, &json!([system_message("theirs")]))
        .error(404, "NOT_FOUND");
    theirs.get(&path).error(404, "NOT_FOUND");
    theirs
        .put(&path, &json!({"text": "hijack"}))
        .error(404, "NOT_FOUND");
    theirs.delete(&path).error(404, "NOT_FOUND");

    // The same conversation ID in their app is another conversation.
    create(&theirs, C, &["a"]);
    assert!(theirs.fetch(M)["data"].as_array().unwrap().is_empty());
    theirs.get(&path).error(404, "NOT_FOUND");
    let body = theirs
        .get(&format!("{M}?startingAfter={id}"))
        .error(400, "INVALID_FIELD");
    assert!(body["reasons"]["startingAfter"].is_string(), "{body}");
    say(&theirs, M, "a", "theirs");
    assert_eq!(texts(&list(&mine, "")), ["mine"]);
    assert_eq!(mine.fetch(&path)["text"], "mine");

    // Their key on my app's paths.
    let cross = Api::new(&server.base, APP, OTHER_KEY);
    cross.get(M).error(401, "UNAUTHORIZED");
    cross
        .post(M, &json!([system_message("x")]))
        .error(401, "UNAUTHORIZED");
    cross.delete(&path).error(401, "UNAUTHORIZED");
    assert_eq!(texts(&list(&mine, "")), ["mine"]);
}

#[test]
fn ids_in_message_paths_are_percent_decoded_and_checked() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let conv = "/conversations/order%2F1";
    let messages = "/conversations/order%2F1/messages";
    create(&api, conv, &["a b"]);
    let id = say(&api, messages, "a b", "slash");
    let got = message(&api, messages, &id);
    assert_eq!(got["conversationId"], "order/1");
    assert_eq!(got["senderId"], "a b");
    // Every byte of the message ID percent-encoded is the same ID.
    let encoded: String = id.bytes().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(message(&api, messages, &encoded), got);

    let body = api
        .get(&format!("{messages}/bad%0Aid"))
        .error(400, "INVALID_ID");
    assert!(body["reasons"]["messageId"].is_string(), "{body}");
    let body = api
        .get("/conversations/bad%0Aid/messages")
        .error(400, "INVALID_ID");
    assert!(body["reasons"]["conversationId"].is_string(), "{body}");
    api.post(
        "/conversations/bad%0Aid/messages",
        &json!([system_message("x")]),
    )
    .error(400, "INVALID_ID");
}
