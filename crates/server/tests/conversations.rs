//! The Conversation section of API.md, over HTTP against the real server on SQLite.

mod common;

use std::collections::BTreeSet;

use common::{now_ms, settings, TestServer};
use serde_json::{json, Value};

const C: &str = "/conversations/order_fc_491731";

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn put_creates_and_get_returns_the_documented_object() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let before = now_ms();
    api.put(
        C,
        &json!({
            "participants": ["123456", "654321"],
            "subject": "Black leather boots",
            "welcomeMessages": ["Hello there!"],
            "custom": {"productId": "454545"},
            "photoUrl": "https://example.com/productpictures/454545.png"
        }),
    )
    .ok_empty();
    let got = api.fetch(C);
    let created_at = got["createdAt"].as_i64().expect("createdAt is an integer");
    assert!(
        created_at >= before && created_at <= now_ms() + 1,
        "{created_at}"
    );
    assert_eq!(
        got,
        json!({
            "id": "order_fc_491731",
            "subject": "Black leather boots",
            "topicId": null,
            "photoUrl": "https://example.com/productpictures/454545.png",
            "welcomeMessages": ["Hello there!"],
            "custom": {"productId": "454545"},
            "participants": {
                "123456": {"access": "ReadWrite", "notify": true, "isUnread": false, "readUntil": created_at},
                "654321": {"access": "ReadWrite", "notify": true, "isUnread": false, "readUntil": created_at}
            },
            "lastMessage": null,
            "createdAt": created_at
        })
    );
}

#[test]
fn every_key_is_present_and_unset_values_are_null_or_empty() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({})).ok_empty();
    let got = api.fetch(C);
    let expected: BTreeSet<String> = [
        "id",
        "subject",
        "topicId",
        "photoUrl",
        "welcomeMessages",
        "custom",
        "participants",
        "lastMessage",
        "createdAt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys(&got), expected);
    for field in [
        "subject",
        "topicId",
        "photoUrl",
        "welcomeMessages",
        "lastMessage",
    ] {
        assert!(got[field].is_null(), "{field}: {got}");
    }
    assert_eq!(got["custom"], json!({}));
    assert_eq!(got["participants"], json!({}));

    api.put(C, &json!({"participants": ["u"]})).ok_empty();
    let entry = &api.fetch(C)["participants"]["u"];
    assert_eq!(
        keys(entry),
        ["access", "isUnread", "notify", "readUntil"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

#[test]
fn absent_fields_are_kept_and_null_fields_are_cleared() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(
        C,
        &json!({"subject": "s", "photoUrl": "p", "welcomeMessages": ["w"], "custom": {"a": "1"}}),
    )
    .ok_empty();
    api.put(C, &json!({"participants": ["x"]})).ok_empty();
    let kept = api.fetch(C);
    assert_eq!(kept["subject"], "s");
    assert_eq!(kept["photoUrl"], "p");
    assert_eq!(kept["welcomeMessages"], json!(["w"]));
    assert_eq!(kept["custom"], json!({"a": "1"}));

    api.put(
        C,
        &json!({"subject": null, "photoUrl": null, "welcomeMessages": null}),
    )
    .ok_empty();
    let cleared = api.fetch(C);
    assert!(cleared["subject"].is_null());
    assert!(cleared["photoUrl"].is_null());
    assert!(cleared["welcomeMessages"].is_null());
    assert_eq!(cleared["custom"], json!({"a": "1"}));
}

#[test]
fn put_only_adds_participants_and_never_removes_any() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({"participants": ["a", "b"]})).ok_empty();
    api.put(C, &json!({"participants": ["c"]})).ok_empty();
    api.put(C, &json!({"participants": []})).ok_empty();
    api.put(C, &json!({"participants": ["a", "a"]})).ok_empty();
    let got = api.fetch(C);
    let users: Vec<&String> = got["participants"].as_object().unwrap().keys().collect();
    assert_eq!(users, ["a", "b", "c"]);
    for user in ["a", "b", "c"] {
        let mut entry = got["participants"][user].clone();
        assert!(entry["readUntil"].is_i64(), "{entry}");
        entry.as_object_mut().unwrap().remove("readUntil");
        assert_eq!(
            entry,
            json!({"access": "ReadWrite", "notify": true, "isUnread": false})
        );
    }
}

#[test]
fn participants_null_is_refused_and_changes_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({"participants": ["a"]})).ok_empty();
    let body = api
        .put(C, &json!({"participants": null, "subject": "changed"}))
        .error(400, "INVALID_FIELD");
    assert!(body["reasons"]["participants"].is_string(), "{body}");
    let got = api.fetch(C);
    assert!(got["subject"].is_null());
    assert!(got["participants"]["a"].is_object());
}

#[test]
fn custom_merges_key_by_key_and_null_clears_it() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({"custom": {"a": "1", "b": "2", "c": "3"}}))
        .ok_empty();
    api.put(C, &json!({"custom": {"a": "10", "b": null, "d": "4"}}))
        .ok_empty();
    assert_eq!(
        api.fetch(C)["custom"],
        json!({"a": "10", "c": "3", "d": "4"})
    );
    api.put(C, &json!({"custom": {}})).ok_empty();
    assert_eq!(
        api.fetch(C)["custom"],
        json!({"a": "10", "c": "3", "d": "4"})
    );
    api.put(C, &json!({"custom": null})).ok_empty();
    assert_eq!(api.fetch(C)["custom"], json!({}));
}

#[test]
fn welcome_messages_and_scalars_are_replaced_as_a_whole() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(
        C,
        &json!({"welcomeMessages": ["one", "two"], "subject": "a"}),
    )
    .ok_empty();
    api.put(C, &json!({"welcomeMessages": ["three"], "subject": "b"}))
        .ok_empty();
    let got = api.fetch(C);
    assert_eq!(got["welcomeMessages"], json!(["three"]));
    assert_eq!(got["subject"], "b");
    api.put(C, &json!({"welcomeMessages": []})).ok_empty();
    assert_eq!(api.fetch(C)["welcomeMessages"], json!([]));
}

#[test]
fn read_only_fields_are_ignored_but_a_different_id_is_refused() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({"subject": "s"})).ok_empty();
    let created_at = api.fetch(C)["createdAt"].as_i64().unwrap();
    api.put(
        C,
        &json!({
            "id": "order_fc_491731", "topicId": "t", "createdAt": 1,
            "lastMessage": {"text": "x"}, "subject": "s2"
        }),
    )
    .ok_empty();
    let got = api.fetch(C);
    assert_eq!(got["subject"], "s2");
    assert!(got["topicId"].is_null());
    assert_eq!(got["createdAt"], created_at);
    assert!(got["lastMessage"].is_null());

    let body = api
        .put(C, &json!({"id": "another", "subject": "s3"}))
        .error(400, "INVALID_FIELD");
    assert!(body["reasons"]["id"].is_string(), "{body}");
    assert_eq!(api.fetch(C)["subject"], "s2");
}

#[test]
fn an_unknown_field_is_refused_by_name_and_changes_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({"subject": "s"})).ok_empty();
    let body = api
        .put(
            C,
            &json!({"subjet": "typo", "subject": "new", "participants": ["z"]}),
        )
        .error(400, "UNKNOWN_FIELD");
    assert_eq!(body["reasons"]["subjet"], "unknown field");
    let got = api.fetch(C);
    assert_eq!(got["subject"], "s");
    assert_eq!(got["participants"], json!({}));
}

#[test]
fn wrong_types_are_refused_with_a_reason_per_field_and_change_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({"subject": "s"})).ok_empty();
    let cases = [
        (json!({"participants": "a"}), "participants"),
        (json!({"participants": ["ok", 7]}), "participants[1]"),
        (json!({"participants": [""]}), "participants[0]"),
        (json!({"participants": ["a\u{0007}"]}), "participants[0]"),
        (
            json!({"participants": ["x".repeat(256)]}),
            "participants[0]",
        ),
        (json!({"subject": 5}), "subject"),
        (json!({"photoUrl": true}), "photoUrl"),
        (json!({"welcomeMessages": "hi"}), "welcomeMessages"),
        (json!({"welcomeMessages": ["hi", 1]}), "welcomeMessages[1]"),
        (json!({"custom": ["a"]}), "custom"),
        (json!({"custom": {"color": 5}}), "custom.color"),
        (json!({"custom": {"nested": {"a": "b"}}}), "custom.nested"),
        (json!(["not", "an", "object"]), "(body)"),
        (json!("string"), "(body)"),
    ];
    for (body, field) in cases {
        let answer = api.put(C, &body).error(400, "INVALID_FIELD");
        assert!(answer["reasons"][field].is_string(), "{body} -> {answer}");
    }
    let got = api.fetch(C);
    assert_eq!(got["subject"], "s");
    assert_eq!(got["participants"], json!({}));
    assert_eq!(got["custom"], json!({}));
}

#[test]
fn created_at_is_set_once() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({})).ok_empty();
    let first = api.fetch(C)["createdAt"].clone();
    std::thread::sleep(std::time::Duration::from_millis(5));
    api.put(C, &json!({"subject": "later", "participants": ["p"]}))
        .ok_empty();
    assert_eq!(api.fetch(C)["createdAt"], first);
}

#[test]
fn concurrent_puts_to_one_conversation_all_take_effect() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let api = api.clone();
            std::thread::spawn(move || {
                for round in 0..3 {
                    api.put(
                        C,
                        &json!({
                            "participants": [format!("user-{i}-{round}")],
                            "custom": {format!("key-{i}-{round}"): format!("v{i}")}
                        }),
                    )
                    .ok_empty();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let got = api.fetch(C);
    assert_eq!(got["participants"].as_object().unwrap().len(), 48);
    assert_eq!(got["custom"].as_object().unwrap().len(), 48);
    for i in 0..16 {
        for round in 0..3 {
            assert!(got["participants"][format!("user-{i}-{round}")].is_object());
            assert_eq!(got["custom"][format!("key-{i}-{round}")], format!("v{i}"));
        }
    }
}

#[test]
fn get_of_a_missing_conversation_is_404() {
    let (server, _dir) = TestServer::fresh();
    server
        .api()
        .get("/conversations/nope")
        .error(404, "NOT_FOUND");
}

#[test]
fn delete_removes_the_conversation_and_its_participations() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(
        C,
        &json!({"participants": ["a", "b"], "custom": {"k": "v"}}),
    )
    .ok_empty();
    api.delete(C).ok_empty();
    api.get(C).error(404, "NOT_FOUND");
    api.delete(C).error(404, "NOT_FOUND");
    // Re-creating the ID starts from nothing.
    api.put(C, &json!({})).ok_empty();
    let got = api.fetch(C);
    assert_eq!(got["participants"], json!({}));
    assert_eq!(got["custom"], json!({}));
}

#[test]
fn path_ids_are_percent_decoded() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for (encoded, id) in [
        ("order%2F1", "order/1"),
        ("with%20space", "with space"),
        ("%E2%9C%93%C3%BC", "✓ü"),
        ("100%25", "100%"),
        ("a+b", "a+b"),
        ("semi%3Bcolon%2Ccomma", "semi;colon,comma"),
    ] {
        let path = format!("/conversations/{encoded}");
        api.put(&path, &json!({"subject": id})).ok_empty();
        let got = api.fetch(&path);
        assert_eq!(got["id"], id, "{encoded}");
        assert_eq!(got["subject"], id);
        api.put(&path, &json!({"id": id})).ok_empty();
    }
    // order%2F1 and order/1 are different paths; the latter is no conversation route at all.
    api.get("/conversations/order/1")
        .error(404, "ROUTE_NOT_FOUND");
}

#[test]
fn conversation_id_rules_are_enforced() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let max = "é".repeat(127); // 254 bytes
    let ok = format!("{max}x"); // 255 bytes
    let encoded = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    api.put(&format!("/conversations/{}", encoded(&ok)), &json!({}))
        .ok_empty();
    assert_eq!(
        api.fetch(&format!("/conversations/{}", encoded(&ok)))["id"],
        ok
    );

    let too_long = format!("{max}xy"); // 256 bytes
    for path in [
        format!("/conversations/{}", encoded(&too_long)),
        "/conversations/new%0Aline".to_string(),
        "/conversations/nul%00".to_string(),
        "/conversations/bad%FFutf8".to_string(),
        "/conversations/participants%3Da%2Cb".to_string(),
    ] {
        let body = api.put(&path, &json!({})).error(400, "INVALID_ID");
        assert!(
            body["reasons"]["conversationId"].is_string(),
            "{path}: {body}"
        );
        api.get(&path).error(400, "INVALID_ID");
    }
}

#[test]
fn participants_are_not_required_to_be_known_users() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({"participants": ["never-created-user"]}))
        .ok_empty();
    assert!(api.fetch(C)["participants"]["never-created-user"].is_object());
}

#[test]
fn limits_are_enforced_with_400_naming_the_limit_and_change_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(C, &json!({"subject": "kept"})).ok_empty();
    let users = |from: usize, n: usize| -> Vec<String> {
        (from..from + n).map(|i| format!("u{i}")).collect()
    };
    let many_keys: serde_json::Map<String, Value> =
        (0..101).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = [
        (json!({"participants": users(0, 301)}), "participants"),
        (json!({"custom": many_keys}), "custom"),
        (
            json!({"custom": {"k".repeat(256): "v"}}),
            &*format!("custom.{}", "k".repeat(32)),
        ),
        (
            json!({"custom": {"color": "v".repeat(10_001)}}),
            "custom.color",
        ),
        (json!({"subject": "s".repeat(10_001)}), "subject"),
        (json!({"welcomeMessages": vec!["w"; 21]}), "welcomeMessages"),
    ];
    for (body, field) in cases {
        let answer = api.put(C, &body).error(400, "LIMIT_EXCEEDED");
        assert!(answer["reasons"][field].is_string(), "{field}: {answer}");
    }
    // Exactly at the limits is fine.
    api.put(
        C,
        &json!({"participants": users(0, 300), "welcomeMessages": vec!["w"; 20],
        "subject": "s".repeat(10_000), "custom": {"k".repeat(255): "v".repeat(10_000)}}),
    )
    .ok_empty();
    // One more participant across two PUTs is still over the limit, and nothing changes.
    let answer = api
        .put(
            C,
            &json!({"participants": ["one-more"], "subject": "changed"}),
        )
        .error(400, "LIMIT_EXCEEDED");
    assert!(answer["reasons"]["participants"].is_string(), "{answer}");
    let got = api.fetch(C);
    assert_eq!(got["participants"].as_object().unwrap().len(), 300);
    assert_eq!(got["subject"], "s".repeat(10_000));
}

#[test]
fn limits_come_from_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("p.db"));
    s.limits.participants_per_conversation = 2;
    s.limits.custom_keys = 1;
    let server = TestServer::start(s);
    let api = server.api();
    api.put(
        C,
        &json!({"participants": ["a", "b"], "custom": {"x": "1"}}),
    )
    .ok_empty();
    api.put(C, &json!({"participants": ["c"]}))
        .error(400, "LIMIT_EXCEEDED");
    api.put(C, &json!({"custom": {"y": "2"}}))
        .error(400, "LIMIT_EXCEEDED");
    // Replacing a key's value does not add a key.
    api.put(C, &json!({"custom": {"x": "2"}})).ok_empty();
}
