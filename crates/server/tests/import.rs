//! Import (API.md "Import"): history with its original times, its place in every order, `readBy`,
//! idempotent re-runs (also across a kill -9), and no events.

mod common;

use common::{now_ms, pause, Api, Process, TestServer, APP, KEY};
use serde_json::{json, Value};

fn import(api: &Api, conversation: &str, items: &Value) -> common::Resp {
    api.post(
        &format!("/import/conversations/{conversation}/messages"),
        items,
    )
}

fn imported(api: &Api, conversation: &str, items: &Value) -> Vec<String> {
    let resp = import(api, conversation, items);
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

fn texts(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every message of the conversation, newest first, walked 7 at a time.
fn all_messages(api: &Api, conversation: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = api.fetch(&format!(
            "/conversations/{conversation}/messages?limit=7{after}"
        ));
        let items = page["data"].as_array().unwrap().clone();
        if items.is_empty() {
            return out;
        }
        after = format!(
            "&startingAfter={}",
            items.last().unwrap()["id"].as_str().unwrap()
        );
        out.extend(items);
    }
}

fn send(api: &Api, conversation: &str, sender: &str, text: &str) -> String {
    let resp = api.post(
        &format!("/conversations/{conversation}/messages"),
        &json!([{"text": text, "sender": sender, "type": "UserMessage"}]),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json()[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn imported_messages_keep_their_times_and_fields() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(
        "/conversations/c",
        &json!({"participants": ["1234", "5678"]}),
    )
    .ok_empty();
    let got = imported(
        &api,
        "c",
        &json!([
            {"type": "UserMessage", "sender": "1234", "timestamp": 1509132622706_i64,
             "text": "Hello!", "readBy": ["5678"], "custom": {"k": "v"},
             "idempotencyKey": "sendbird-msg-91"},
            {"sender": "5678", "createdAt": 1509132622800_i64, "text": "Hi"},
            {"type": "SystemMessage", "timestamp": 1509132622900_i64,
             "createdAt": 1509132622900_i64, "text": "Closed"}
        ]),
    );
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|id| id.starts_with("msg_") && id.len() == 26));
    let first = api.fetch(&format!("/conversations/c/messages/{}", got[0]));
    assert_eq!(first["createdAt"], 1509132622706_i64);
    assert_eq!(first["origin"], "import");
    assert_eq!(first["editedAt"], Value::Null);
    assert_eq!(first["type"], "UserMessage");
    assert_eq!(first["senderId"], "1234");
    assert_eq!(first["custom"], json!({"k": "v"}));
    assert_eq!(first["readBy"], json!(["5678"]));
    let second = api.fetch(&format!("/conversations/c/messages/{}", got[1]));
    assert_eq!(second["type"], "UserMessage");
    assert_eq!(second["createdAt"], 1509132622800_i64);
    let system = api.fetch(&format!("/conversations/c/messages/{}", got[2]));
    assert_eq!(system["type"], "SystemMessage");
    assert_eq!(system["senderId"], Value::Null);
    // In input order, newest first by time.
    assert_eq!(
        texts(&api.fetch("/conversations/c/messages")),
        ["Closed", "Hi", "Hello!"]
    );
}

#[test]
fn bad_imports_are_refused_whole_with_reasons_by_index() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/conversations/c", &json!({"participants": ["a", "gone"]}))
        .ok_empty();
    api.patch(
        "/conversations/c/participants/gone",
        &json!({"access": "None"}),
    )
    .ok_empty();
    let ok = json!({"sender": "a", "timestamp": 1000, "text": "fine"});
    let cases = [
        (json!({"sender": "a", "text": "no time"}), "[1].timestamp"),
        (
            json!({"sender": "a", "timestamp": 1, "createdAt": 2, "text": "t"}),
            "[1].createdAt",
        ),
        (
            json!({"sender": "a", "timestamp": "x", "text": "t"}),
            "[1].timestamp",
        ),
        (
            json!({"sender": "stranger", "timestamp": 1, "text": "t"}),
            "[1].sender",
        ),
        (json!({"timestamp": 1, "text": "t"}), "[1].sender"),
        (
            json!({"type": "SystemMessage", "sender": "a", "timestamp": 1, "text": "t"}),
            "[1].sender",
        ),
        (
            json!({"sender": "a", "timestamp": 1, "text": "t", "readBy": ["nobody"]}),
            "[1].readBy[0]",
        ),
        (
            json!({"sender": "a", "timestamp": 1, "text": ""}),
            "[1].text",
        ),
        (json!({"sender": "a", "timestamp": 1}), "[1].text"),
        (
            json!({"sender": "a", "timestamp": 1, "text": "t", "colour": 1}),
            "[1].colour",
        ),
        (
            json!({"sender": "a", "timestamp": 1, "text": "t", "type": "Loud"}),
            "[1].type",
        ),
        (
            json!({"sender": "a", "timestamp": 1, "text": "t", "idempotencyKey": ""}),
            "[1].idempotencyKey",
        ),
        (
            json!({"sender": "a", "timestamp": 1, "text": "t", "custom": {"n": 1}}),
            "[1].custom.n",
        ),
        (
            json!({"sender": "a", "timestamp": 1, "text": "a\u{0}b"}),
            "[1].text",
        ),
        (json!("text"), "[1]"),
        (
            json!({"sender": "a", "timestamp": 9_223_372_036_854_775_807_i64, "text": "t"}),
            "[1].timestamp",
        ),
        (
            json!({"sender": "a", "timestamp": now_ms() * 1000, "text": "microseconds"}),
            "[1].timestamp",
        ),
    ];
    for (bad, path) in cases {
        let resp = import(&api, "c", &json!([ok, bad]));
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text);
        let body = resp.json();
        assert!(body["errorCode"].is_string() && body["message"].is_string());
        assert!(
            body["reasons"].get(path).is_some(),
            "{bad}: expected a reason for {path}: {body}"
        );
    }
    // History may outlive access: a participant with access None may be a sender.
    imported(
        &api,
        "c",
        &json!([{"sender": "gone", "timestamp": 5, "text": "old"}]),
    );
    // Over the limit, an empty array, not an array.
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"sender": "a", "timestamp": i, "text": "t"}))
        .collect();
    import(&api, "c", &json!(many)).error(400, "LIMIT_EXCEEDED");
    import(&api, "c", &json!([])).error(400, "INVALID_FIELD");
    import(&api, "c", &json!({"text": "t"})).error(400, "INVALID_FIELD");
    // Nothing of the refused requests was stored.
    assert_eq!(texts(&api.fetch("/conversations/c/messages")), ["old"]);
    // A missing conversation.
    import(&api, "missing", &json!([ok])).error(404, "NOT_FOUND");
    // 100 is fine.
    let hundred: Vec<Value> = (0..100)
        .map(|i| json!({"sender": "a", "timestamp": 10 + i, "text": format!("m{i}")}))
        .collect();
    assert_eq!(imported(&api, "c", &json!(hundred)).len(), 100);
}

#[test]
fn old_history_takes_its_place_and_does_not_move_the_conversation() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for c in ["a", "b"] {
        api.put(
            &format!("/conversations/{c}"),
            &json!({"participants": ["u", "v"]}),
        )
        .ok_empty();
    }
    send(&api, "a", "u", "a-live-1");
    pause();
    send(&api, "b", "u", "b-live-1");
    pause();
    send(&api, "a", "u", "a-live-2");
    pause();
    // a has the newest activity.
    let order = |api: &Api| -> Vec<String> { ids(&api.fetch("/conversations")) };
    assert_eq!(order(&api), ["a", "b"]);
    let before = api.fetch("/conversations/b");
    let now = now_ms();
    // Old history in b: placed by time, b stays where it was, its lastMessage unchanged.
    imported(
        &api,
        "b",
        &json!([
            {"sender": "v", "timestamp": now - 60_000, "text": "b-old-1"},
            {"sender": "u", "timestamp": now - 50_000, "text": "b-old-2"}
        ]),
    );
    assert_eq!(order(&api), ["a", "b"]);
    let after = api.fetch("/conversations/b");
    assert_eq!(after["lastMessage"], before["lastMessage"]);
    assert_eq!(
        texts(&api.fetch("/conversations/b/messages")),
        ["b-live-1", "b-old-2", "b-old-1"]
    );
    // A user's list too.
    api.put("/users/u", &json!({"name": "U"})).ok_empty();
    assert_eq!(ids(&api.fetch("/users/u/conversations")), ["a", "b"]);
    // Importing a message newer than b's last message moves b to the top.
    let newest = imported(
        &api,
        "b",
        &json!([{"sender": "v", "timestamp": now_ms() + 1_000, "text": "b-new"}]),
    );
    assert_eq!(order(&api), ["b", "a"]);
    assert_eq!(ids(&api.fetch("/users/u/conversations")), ["b", "a"]);
    let moved = api.fetch("/conversations/b");
    assert_eq!(moved["lastMessage"]["id"], newest[0]);
    assert_eq!(moved["lastMessage"]["origin"], "import");
    // Filters follow the last message's time.
    let t = now_ms() + 500;
    assert_eq!(
        ids(&api.fetch(&format!("/conversations?lastMessageAfter={t}"))),
        ["b"]
    );
    // Deleting the imported last message makes the newest left (by time) the last one.
    api.delete(&format!("/conversations/b/messages/{}", newest[0]))
        .ok_empty();
    assert_eq!(
        api.fetch("/conversations/b")["lastMessage"]["text"],
        "b-live-1"
    );
    assert_eq!(order(&api), ["a", "b"]);
}

#[test]
fn an_empty_conversation_takes_the_time_of_its_imported_history() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/conversations/old", &json!({"participants": ["u"]}))
        .ok_empty();
    pause();
    api.put("/conversations/fresh", &json!({"participants": ["u"]}))
        .ok_empty();
    assert_eq!(ids(&api.fetch("/conversations")), ["fresh", "old"]);
    // History from 2017 puts "fresh" below "old" (whose last activity is its creation).
    imported(
        &api,
        "fresh",
        &json!([{"sender": "u", "timestamp": 1509132622706_i64, "text": "2017"}]),
    );
    assert_eq!(ids(&api.fetch("/conversations")), ["old", "fresh"]);
    assert_eq!(
        api.fetch("/conversations/fresh")["lastMessage"]["text"],
        "2017"
    );
}

#[test]
fn message_pages_walk_by_time_across_imported_and_sent_messages() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/conversations/c", &json!({"participants": ["u"]}))
        .ok_empty();
    let now = now_ms();
    // Interleaved times, several sharing a millisecond (then storage order decides).
    let items: Vec<Value> = (0..30)
        .map(|i| json!({"sender": "u", "timestamp": now - 100_000 + (i % 10) * 1000, "text": format!("i{i}")}))
        .collect();
    imported(&api, "c", &json!(items));
    send(&api, "c", "u", "live");
    let walked = all_messages(&api, "c");
    assert_eq!(walked.len(), 31);
    assert_eq!(walked[0]["text"], "live");
    let keys: Vec<(i64, usize)> = walked[1..]
        .iter()
        .map(|m| {
            let text = m["text"].as_str().unwrap();
            (m["createdAt"].as_i64().unwrap(), text[1..].parse().unwrap())
        })
        .collect();
    let mut expected = keys.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, expected, "newest first by (createdAt, storage order)");
}

#[test]
fn read_by_moves_read_until_forward_only_and_counts_unread() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/users/reader", &json!({"name": "R"})).ok_empty();
    api.put("/users/writer", &json!({"name": "W"})).ok_empty();
    api.put(
        "/conversations/c",
        &json!({"participants": ["reader", "writer"]}),
    )
    .ok_empty();
    // The reader joined now: history from the past is read for them; mark it unread.
    api.patch(
        "/conversations/c/participants/reader",
        &json!({"readUntil": 0}),
    )
    .ok_empty();
    let base = 1_600_000_000_000_i64;
    let got = imported(
        &api,
        "c",
        &json!([
            {"sender": "writer", "timestamp": base, "text": "one", "readBy": ["reader"]},
            {"sender": "writer", "timestamp": base + 10, "text": "two"},
            {"sender": "writer", "timestamp": base + 20, "text": "three"}
        ]),
    );
    let c = api.fetch("/conversations/c");
    assert_eq!(c["participants"]["reader"]["readUntil"], base);
    let message = |id: &str| api.fetch(&format!("/conversations/c/messages/{id}"));
    assert_eq!(message(&got[0])["readBy"], json!(["reader"]));
    assert_eq!(message(&got[1])["readBy"], json!([]));
    let mine = api.fetch("/users/reader/conversations");
    assert_eq!(mine["data"][0]["unreadMessageCount"], 2);
    assert_eq!(mine["data"][0]["isUnread"], true);
    let unread = api.fetch("/users/reader/conversations?unreadsOnly=true");
    assert_eq!(ids(&unread), ["c"]);
    // An import whose readBy covers an older message never moves readUntil back.
    imported(
        &api,
        "c",
        &json!([
            {"sender": "writer", "timestamp": base + 20, "createdAt": base + 20,
             "text": "read", "readBy": ["reader"]},
            {"sender": "writer", "timestamp": base - 5, "text": "older", "readBy": ["reader"]}
        ]),
    );
    assert_eq!(
        api.fetch("/conversations/c")["participants"]["reader"]["readUntil"],
        base + 20
    );
    let mine = api.fetch("/users/reader/conversations");
    assert_eq!(mine["data"][0]["unreadMessageCount"], 0);
    assert_eq!(mine["data"][0]["isUnread"], false);
    assert_eq!(
        ids(&api.fetch("/users/reader/conversations?unreadsOnly=true")),
        Vec::<String>::new()
    );
    // The sender's own messages are never unread for them.
    let theirs = api.fetch("/users/writer/conversations");
    assert_eq!(theirs["data"][0]["unreadMessageCount"], 0);
    // An import does not move its sender's readUntil: when the newest message is the reader's
    // own, older ones of others after their readUntil still count (isUnread looks at the newest).
    imported(
        &api,
        "c",
        &json!([
            {"sender": "writer", "timestamp": base + 30, "text": "four"},
            {"sender": "reader", "timestamp": base + 40, "text": "mine"}
        ]),
    );
    let mine = api.fetch("/users/reader/conversations");
    assert_eq!(mine["data"][0]["unreadMessageCount"], 1, "{mine}");
    assert_eq!(mine["data"][0]["isUnread"], false, "{mine}");
}

#[test]
fn an_idempotency_key_stores_an_item_once_and_answers_its_first_id() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/conversations/c", &json!({"participants": ["u"]}))
        .ok_empty();
    api.put("/conversations/d", &json!({"participants": ["u"]}))
        .ok_empty();
    let item = |key: &str, text: &str| json!({"sender": "u", "timestamp": 1000, "text": text, "idempotencyKey": key});
    let first = imported(&api, "c", &json!([item("k1", "one"), item("k2", "two")]));
    let again = imported(
        &api,
        "c",
        &json!([item("k1", "one"), item("k2", "two"), item("k3", "three")]),
    );
    assert_eq!(again[..2], first[..]);
    assert_eq!(
        texts(&api.fetch("/conversations/c/messages")),
        ["three", "two", "one"]
    );
    // Twice in one request: stored once.
    let twice = imported(&api, "c", &json!([item("k4", "four"), item("k4", "four")]));
    assert_eq!(twice[0], twice[1]);
    assert_eq!(all_messages(&api, "c").len(), 4);
    // Keys are scoped to the conversation.
    imported(&api, "d", &json!([item("k1", "one")]));
    assert_eq!(all_messages(&api, "d").len(), 1);
}

#[test]
fn imports_record_no_events() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/conversations/c", &json!({"participants": ["u", "v"]}))
        .ok_empty();
    let before = api.fetch("/events?limit=100")["data"]
        .as_array()
        .unwrap()
        .len();
    imported(
        &api,
        "c",
        &json!([{"sender": "u", "timestamp": 5, "text": "old", "readBy": ["v"]}]),
    );
    let events = api.fetch("/events?limit=100");
    assert_eq!(events["data"].as_array().unwrap().len(), before, "{events}");
}

#[test]
fn a_list_walk_stays_exact_when_an_import_moves_a_conversation_during_it() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let all: Vec<String> = (0..12).map(|i| format!("c{i:02}")).collect();
    for id in &all {
        api.put(
            &format!("/conversations/{id}"),
            &json!({"participants": ["u"]}),
        )
        .ok_empty();
        send(&api, id, "u", id);
        pause();
    }
    api.put("/users/u", &json!({"name": "U"})).ok_empty();
    for list in ["/conversations", "/users/u/conversations"] {
        let page = api.fetch(&format!("{list}?limit=4"));
        let mut seen = ids(&page);
        // During the walk: a conversation already listed moves to the top, one not yet listed
        // moves to the top, and one gets old history (which moves nothing).
        let listed = seen[1].clone();
        let unlisted = all[2].clone();
        for id in [&listed, &unlisted] {
            imported(
                &api,
                id,
                &json!([{"sender": "u", "timestamp": now_ms() + 10_000, "text": "new"}]),
            );
        }
        imported(
            &api,
            &all[5],
            &json!([{"sender": "u", "timestamp": 1, "text": "ancient"}]),
        );
        loop {
            let after = seen.last().unwrap().clone();
            let page = api.fetch(&format!("{list}?limit=4&startingAfter={after}"));
            let got = ids(&page);
            if got.is_empty() {
                break;
            }
            seen.extend(got);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "{list}: listed twice: {seen:?}");
        assert_eq!(sorted, all, "{list}: every conversation exactly once");
        // A new walk sees the moves.
        let fresh = ids(&api.fetch(&format!("{list}?limit=2")));
        assert!(
            fresh.contains(&listed) && fresh.contains(&unlisted),
            "{fresh:?}"
        );
    }
}

#[test]
fn an_import_interrupted_by_kill_9_runs_again_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let env = vec![
        ("PARLEY__DATABASE__URL", common::database_url(&db)),
        ("PARLEY__APPS__TESTAPP__SECRET_KEY", KEY.to_string()),
    ];
    let batches: Vec<Value> = (0..3)
        .map(|b| {
            let items: Vec<Value> = (0..100)
                .map(|i| {
                    let n = b * 100 + i;
                    json!({"sender": "u", "timestamp": 1_500_000_000_000_i64 + n,
                           "text": format!("m{n}"), "idempotencyKey": format!("src-{n}")})
                })
                .collect();
            json!(items)
        })
        .collect();
    let process = Process::start(&[], &env, dir.path());
    let api = Api::new(&process.base, APP, KEY);
    api.put("/conversations/c", &json!({"participants": ["u"]}))
        .ok_empty();
    imported(&api, "c", &batches[0]);
    imported(&api, "c", &batches[1]);
    process.kill_9();

    let restarted = Process::start(&[], &env, dir.path());
    let api = Api::new(&restarted.base, APP, KEY);
    assert_eq!(all_messages(&api, "c").len(), 200);
    for batch in &batches {
        imported(&api, "c", batch);
    }
    let stored = all_messages(&api, "c");
    assert_eq!(stored.len(), 300);
    let mut texts: Vec<&str> = stored.iter().map(|m| m["text"].as_str().unwrap()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 300);
}
