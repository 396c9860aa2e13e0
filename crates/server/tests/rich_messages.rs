//! Messages with content blocks and locations (API.md "Messages with content, files and
//! locations"), through send, import and edit.

mod common;

use common::{Api, TestServer};
use serde_json::{json, Value};

fn setup() -> (TestServer, tempfile::TempDir, Api) {
    let (server, dir) = TestServer::fresh();
    let api = server.api();
    api.put("/conversations/c", &json!({"participants": ["a", "b"]}))
        .ok_empty();
    (server, dir, api)
}

fn sent(api: &Api, item: Value) -> Value {
    let resp = api.post("/conversations/c/messages", &json!([item]));
    assert_eq!(resp.status, 200, "{}", resp.text);
    let id = resp.json()[0]["id"].as_str().unwrap().to_string();
    api.fetch(&format!("/conversations/c/messages/{id}"))
}

#[test]
fn content_blocks_are_stored_and_text_is_their_plain_text() {
    let (_server, _dir, api) = setup();
    let content = json!([
        {"type": "text", "children": [
            "Hello ", {"type": "bold", "children": ["world"]},
            {"type": "mention", "id": "b", "text": "@b"},
            {"type": "link", "url": "https://example.com", "children": [" see"]}
        ]},
        {"type": "text", "children": [
            {"type": "bulletList", "children": [{"type": "bulletPoint", "children": ["one"]}]},
            {"type": "actionButton", "action": "buy", "params": {"sku": "1"}, "children": ["Buy"]}
        ]}
    ]);
    let m = sent(
        &api,
        json!({"type": "UserMessage", "sender": "a", "content": content}),
    );
    assert_eq!(m["content"], content);
    assert_eq!(m["text"], "Hello world@b see\noneBuy");
    assert_eq!(m["attachment"], Value::Null);
    assert_eq!(m["location"], Value::Null);
    assert_eq!(m["reactions"], json!({}));
    // The conversation's lastMessage and the list show the same object.
    assert_eq!(api.fetch("/conversations/c")["lastMessage"], m);
    assert_eq!(api.fetch("/conversations/c/messages")["data"][0], m);
    // text stays one text block.
    let plain = sent(
        &api,
        json!({"type": "UserMessage", "sender": "a", "text": "hi"}),
    );
    assert_eq!(
        plain["content"],
        json!([{"type": "text", "children": ["hi"]}])
    );
}

#[test]
fn locations_come_as_a_block_or_the_legacy_pair() {
    let (_server, _dir, api) = setup();
    let legacy = sent(
        &api,
        json!({"type": "UserMessage", "sender": "a", "location": [51.5074, -0.1278]}),
    );
    assert_eq!(legacy["location"], json!([51.5074, -0.1278]));
    assert_eq!(
        legacy["content"],
        json!([{"type": "location", "latitude": 51.5074, "longitude": -0.1278}])
    );
    assert_eq!(legacy["text"], "");
    let block = sent(
        &api,
        json!({"type": "UserMessage", "sender": "a", "content": [
            {"type": "text", "children": ["I am here"]},
            {"type": "location", "latitude": -33.86, "longitude": 151.2}
        ]}),
    );
    assert_eq!(block["location"], json!([-33.86, 151.2]));
    assert_eq!(block["text"], "I am here");
}

#[test]
fn bad_content_is_a_400_naming_the_path_and_stores_nothing() {
    let (_server, _dir, api) = setup();
    let ok = json!({"type": "UserMessage", "sender": "a", "text": "fine"});
    let cases = [
        (json!({"type": "UserMessage", "sender": "a"}), "[1].text"),
        (
            json!({"type": "UserMessage", "sender": "a", "text": "t", "content": [{"type": "text", "children": []}]}),
            "[1].content",
        ),
        (
            json!({"type": "UserMessage", "sender": "a", "content": [{"type": "text", "children": [{"type": "blink", "children": []}]}]}),
            "[1].content[0].children[0].type",
        ),
        (
            json!({"type": "UserMessage", "sender": "a", "content": [{"type": "sticker"}]}),
            "[1].content[0].type",
        ),
        (
            json!({"type": "UserMessage", "sender": "a", "content": [{"type": "location", "latitude": 95, "longitude": 0}]}),
            "[1].content[0].latitude",
        ),
        (
            json!({"type": "UserMessage", "sender": "a", "location": [0, 181]}),
            "[1].location",
        ),
        (
            json!({"type": "UserMessage", "sender": "a", "content": [{"type": "file", "fileToken": "file_nope"}]}),
            "[1].content[0].fileToken",
        ),
        (
            json!({"type": "UserMessage", "sender": "a", "attachmentToken": "file_nope"}),
            "[1].attachmentToken",
        ),
        (
            json!({"type": "UserMessage", "sender": "a", "content": (0..11).map(|_| json!({"type": "text", "children": ["x"]})).collect::<Vec<_>>()}),
            "[1].content",
        ),
    ];
    for (bad, path) in cases {
        let resp = api.post("/conversations/c/messages", &json!([ok, bad]));
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text);
        let body = resp.json();
        assert!(
            body["reasons"].get(path).is_some(),
            "{bad}: {path} in {body}"
        );
    }
    assert_eq!(
        api.fetch("/conversations/c/messages")["data"],
        json!([]),
        "nothing stored"
    );
}

#[test]
fn edits_and_imports_take_content_too() {
    let (_server, _dir, api) = setup();
    let m = sent(
        &api,
        json!({"type": "UserMessage", "sender": "a", "text": "old"}),
    );
    let path = format!("/conversations/c/messages/{}", m["id"].as_str().unwrap());
    let content = json!([{"type": "text", "children": [{"type": "italic", "children": ["new"]}]}]);
    api.put(&path, &json!({"content": content})).ok_empty();
    let edited = api.fetch(&path);
    assert_eq!(edited["content"], content);
    assert_eq!(edited["text"], "new");
    assert!(edited["editedAt"].is_i64());
    let resp = api.put(&path, &json!({"content": content, "text": "both"}));
    assert_eq!(resp.status, 400, "{}", resp.text);
    api.put(&path, &json!({"text": "plain again"})).ok_empty();
    assert_eq!(
        api.fetch(&path)["content"],
        json!([{"type": "text", "children": ["plain again"]}])
    );
    let resp = api.post(
        "/import/conversations/c/messages",
        &json!([
            {"sender": "b", "timestamp": 1000, "content": [{"type": "location", "latitude": 1, "longitude": 2}]},
            {"sender": "b", "timestamp": 1001, "location": [3, 4]}
        ]),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let ids: Vec<String> = resp
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let first = api.fetch(&format!("/conversations/c/messages/{}", ids[0]));
    assert_eq!(first["location"], json!([1.0, 2.0]));
    let second = api.fetch(&format!("/conversations/c/messages/{}", ids[1]));
    assert_eq!(second["location"], json!([3.0, 4.0]));
}
