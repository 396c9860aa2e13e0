//! GET /v1/{appId}/conversations of API.md: order, filters, limits and stable paging, over HTTP
//! against the real server on SQLite.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{enc, pause, seed, send, settings, Api, TestServer, APP, OTHER_APP, OTHER_KEY};
use parley_domain::{
    Conversation, ConversationId, Message, MessageId, MessageKind, Participant, UserId,
};
use serde_json::{json, Value};

fn conv(id: &str) -> String {
    format!("/conversations/{}", enc(id))
}

fn create(api: &Api, id: &str) {
    api.put(&conv(id), &json!({"participants": ["u", "v"]}))
        .ok_empty();
}

/// Sends one message from `u` into the conversation.
fn say(api: &Api, id: &str) {
    let resp = api.post(
        &format!("{}/messages", conv(id)),
        &json!([{"text": "hi", "type": "UserMessage", "sender": "u"}]),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
}

fn page(api: &Api, query: &str) -> Vec<Value> {
    let body = api.fetch(&format!("/conversations{query}"));
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["data"], "{body}");
    body["data"].as_array().unwrap().clone()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn list(api: &Api, query: &str) -> Vec<String> {
    ids(&page(api, query))
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Walks every page of `params` (without `?`) with `limit`, calling `between` with what was seen
/// so far after each page; answers the IDs in the order served.
fn walk(api: &Api, params: &str, limit: usize, mut between: impl FnMut(&[String])) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let mut query = format!("?{params}&limit={limit}");
        if let Some(last) = &after {
            query.push_str(&format!("&startingAfter={}", enc(last)));
        }
        let got = list(api, &query);
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

fn assert_each_once(walked: &[String], all: &[String], what: &str) {
    if let Err(problem) = each_once(walked, all, what) {
        panic!("{problem}");
    }
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
    if repeated.is_empty() && missing.is_empty() && walked.len() == all.len() {
        Ok(())
    } else {
        Err(format!(
            "{what}: repeated {repeated:?}, missing {missing:?}, walked {walked:?}"
        ))
    }
}

/// c00 .. c11, created in that order, each in its own millisecond; then a message into c03.
fn twelve_conversations(api: &Api) -> Vec<String> {
    let all: Vec<String> = (0..12).map(|i| format!("c{i:02}")).collect();
    for id in &all {
        create(api, id);
        pause();
    }
    say(api, "c03");
    all
}

#[test]
fn the_list_is_a_data_array_of_conversation_objects() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    assert!(page(&api, "").is_empty());
    api.put(
        "/conversations/plain",
        &json!({"subject": "s", "custom": {"k": "v"}, "participants": ["u"]}),
    )
    .ok_empty();
    pause();
    create(&api, "busy");
    say(&api, "busy");
    let listed = page(&api, "");
    assert_eq!(ids(&listed), ["busy", "plain"]);
    for item in &listed {
        let id = item["id"].as_str().unwrap();
        assert_eq!(item, &api.fetch(&conv(id)), "{id}");
    }
    assert_eq!(listed[0]["lastMessage"]["text"], "hi");
    assert_eq!(listed[0]["participants"]["v"]["isUnread"], true);
    assert!(listed[1]["lastMessage"].is_null());
}

#[test]
fn the_default_order_is_last_activity_descending_ten_per_page() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    twelve_conversations(&api);
    let expected = strs(&[
        "c03", "c11", "c10", "c09", "c08", "c07", "c06", "c05", "c04", "c02", "c01", "c00",
    ]);
    assert_eq!(list(&api, ""), expected[..10]);
    assert_eq!(list(&api, "?limit=100"), expected);
    assert_eq!(
        list(&api, "?limit=100&orderBy=lastActivity&orderDirection=DESC"),
        expected
    );
    let ascending: Vec<String> = expected.iter().rev().cloned().collect();
    for direction in ["ASC", "asc", "Asc"] {
        assert_eq!(
            list(&api, &format!("?limit=100&orderDirection={direction}")),
            ascending,
            "{direction}"
        );
    }
    assert_eq!(list(&api, "?orderDirection=desc&limit=3"), expected[..3]);
}

#[test]
fn order_by_created_at_ignores_messages() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let all = twelve_conversations(&api);
    let newest_first: Vec<String> = all.iter().rev().cloned().collect();
    assert_eq!(list(&api, "?orderBy=createdAt&limit=100"), newest_first);
    assert_eq!(
        list(&api, "?orderBy=createdAt&orderDirection=DESC&limit=4"),
        newest_first[..4]
    );
    assert_eq!(
        list(&api, "?orderBy=createdAt&orderDirection=ASC&limit=100"),
        all
    );
    assert_eq!(
        list(
            &api,
            "?orderBy=createdAt&orderDirection=ASC&startingAfter=c02&limit=2"
        ),
        ["c03", "c04"]
    );
}

#[test]
fn ties_break_on_id_bytewise_in_the_direction_of_the_order() {
    // Same createdAt and same last message time for all of them, so only the IDs order them.
    // Bytewise UTF-8 differs from case-insensitive order ("a" < "B") and from UTF-16 code unit
    // order (U+FF01 sorts after U+1F600 there).
    let tied = [
        "a", "B", "Z", "a b", "a/b", "ab", "é", "\u{FF01}", "😀", "A", "0",
    ];
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let created = 1_700_000_000_000;
    let sent = created + 60_000;
    let make = |id: &str, created_at: i64, message_at: Option<i64>| {
        let cid = ConversationId::new(id).unwrap();
        let mut c = Conversation::new(cid.clone(), created_at);
        let user = UserId::new("u").unwrap();
        c.participants
            .insert(user.clone(), Participant::joined(created_at));
        if let Some(at) = message_at {
            let p = c.participants.get_mut(&user).unwrap();
            p.read_until = at;
            p.read_mark = at;
            c.last_message = Some(Message {
                reactions: Default::default(),
                id: MessageId::generate(),
                conversation_id: cid,
                kind: MessageKind::User,
                sender: Some(user),
                text: format!("in {id}"),
                content: vec![parley_domain::Block::plain(format!("in {id}"))],
                custom: BTreeMap::new(),
                created_at: at,
                edited_at: None,
                referenced_message_id: None,
                origin: parley_domain::Origin::Rest,
            });
        }
        c
    };
    let mut seeded: Vec<Conversation> = tied
        .iter()
        .map(|id| make(id, created, Some(sent)))
        .collect();
    // Tied on createdAt only, with lastActivity equal to the others' last message time, and
    // one before and after everything.
    seeded.push(make("m-no-message", sent, None));
    seeded.push(make("early", created - 1, None));
    seeded.push(make("late", sent + 1, Some(sent + 1)));
    seed(&db, APP, &seeded);
    let server = TestServer::start(settings(&db));
    let api = server.api();

    let mut bytewise = strs(&tied);
    bytewise.sort(); // `str` orders by bytes
    let mut by_activity_asc = vec!["early".to_string()];
    let mut tied_activity = bytewise.clone();
    tied_activity.push("m-no-message".into());
    tied_activity.sort();
    by_activity_asc.extend(tied_activity);
    by_activity_asc.push("late".into());

    let mut by_created_asc = vec!["early".to_string()];
    by_created_asc.extend(bytewise.iter().cloned());
    by_created_asc.push("m-no-message".into());
    by_created_asc.push("late".into());

    for (order_by, asc) in [
        ("lastActivity", by_activity_asc),
        ("createdAt", by_created_asc),
    ] {
        let desc: Vec<String> = asc.iter().rev().cloned().collect();
        for (direction, expected) in [("ASC", &asc), ("DESC", &desc)] {
            let params = format!("orderBy={order_by}&orderDirection={direction}");
            assert_eq!(
                list(&api, &format!("?{params}&limit=100")),
                *expected,
                "{params}"
            );
            for limit in [1, 2, 5] {
                assert_eq!(
                    walk(&api, &params, limit, |_| {}),
                    *expected,
                    "{params} limit {limit}"
                );
            }
            // Continuing after an ID that ended no page served so far.
            for (i, after) in expected.iter().enumerate() {
                assert_eq!(
                    list(
                        &api,
                        &format!("?{params}&limit=100&startingAfter={}", enc(after))
                    ),
                    expected[i + 1..],
                    "{params} after {after}"
                );
            }
        }
    }
}

#[test]
fn limit_is_from_1_to_100_and_defaults_to_10() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let seeded: Vec<Conversation> = (0..105)
        .map(|i| {
            Conversation::new(
                ConversationId::new(format!("c{i:03}")).unwrap(),
                1_700_000_000_000 + i,
            )
        })
        .collect();
    seed(&db, APP, &seeded);
    let server = TestServer::start(settings(&db));
    let api = server.api();
    let newest_first: Vec<String> = (0..105).rev().map(|i| format!("c{i:03}")).collect();
    assert_eq!(list(&api, ""), newest_first[..10]);
    assert_eq!(list(&api, "?limit=1"), newest_first[..1]);
    assert_eq!(list(&api, "?limit=100"), newest_first[..100]);
    assert_eq!(
        list(&api, "?limit=100&startingAfter=c005"),
        newest_first[100..]
    );
    for bad in ["0", "101", "-1", "ten", "2.5", "1e2"] {
        let body = api
            .get(&format!("/conversations?limit={bad}"))
            .error(400, "INVALID_FIELD");
        assert!(body["reasons"]["limit"].is_string(), "{bad}: {body}");
    }
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, "c");
    let cases = [
        ("orderBy=name", vec!["orderBy"]),
        ("orderDirection=up", vec!["orderDirection"]),
        (
            "orderBy=name&orderDirection=up&limit=0",
            vec!["orderBy", "orderDirection", "limit"],
        ),
        ("lastMessageBefore=yesterday", vec!["lastMessageBefore"]),
        ("lastMessageAfter=1.5", vec!["lastMessageAfter"]),
        (
            "lastMessageAfter=&lastMessageBefore=12abc",
            vec!["lastMessageAfter", "lastMessageBefore"],
        ),
    ];
    for (query, fields) in cases {
        let body = api
            .get(&format!("/conversations?{query}"))
            .error(400, "INVALID_FIELD");
        for field in fields {
            assert!(body["reasons"][field].is_string(), "{query}: {body}");
        }
    }
    api.post("/conversations", &json!({}))
        .error(405, "METHOD_NOT_ALLOWED");
    send("GET", &api.url("/conversations"), &[], None).error(401, "UNAUTHORIZED");
}

#[test]
fn last_message_filters_are_strict_and_skip_conversations_without_messages() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for id in ["first", "second", "silent"] {
        create(&api, id);
    }
    pause();
    say(&api, "first");
    pause();
    say(&api, "second");
    let at = |id: &str| -> i64 {
        api.fetch(&conv(id))["lastMessage"]["createdAt"]
            .as_i64()
            .unwrap()
    };
    let (t1, t2) = (at("first"), at("second"));
    assert!(t1 < t2);
    let cases = [
        (format!("lastMessageBefore={t1}"), vec![]),
        (format!("lastMessageBefore={}", t1 + 1), vec!["first"]),
        (format!("lastMessageBefore={t2}"), vec!["first"]),
        (format!("lastMessageAfter={t2}"), vec![]),
        (format!("lastMessageAfter={}", t2 - 1), vec!["second"]),
        (format!("lastMessageAfter={t1}"), vec!["second"]),
        (
            format!("lastMessageAfter={}", t1 - 1),
            vec!["second", "first"],
        ),
        ("lastMessageAfter=0".to_string(), vec!["second", "first"]),
        (
            "lastMessageBefore=99999999999999".to_string(),
            vec!["second", "first"],
        ),
        (
            format!("lastMessageAfter={}&lastMessageBefore={t2}", t1 - 1),
            vec!["first"],
        ),
        (
            "lastMessageAfter=0&orderDirection=ASC".to_string(),
            vec!["first", "second"],
        ),
        (
            "lastMessageAfter=0&orderBy=createdAt&orderDirection=ASC".to_string(),
            vec!["first", "second"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(list(&api, &format!("?{query}")), strs(&expected), "{query}");
    }
    // Paging through a filtered list.
    assert_eq!(
        walk(&api, "lastMessageAfter=0", 1, |_| {}),
        ["second", "first"]
    );
    let everything = list(&api, "");
    assert_eq!(everything.len(), 3);
    assert!(everything.contains(&"silent".to_string()));
}

#[test]
fn starting_after_must_name_a_conversation_of_the_list() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for id in ["a", "b", "c"] {
        create(&api, id);
        pause();
    }
    let refused = |query: &str| {
        let body = api
            .get(&format!("/conversations?{query}"))
            .error(400, "INVALID_FIELD");
        assert!(
            body["reasons"]["startingAfter"].is_string(),
            "{query}: {body}"
        );
    };
    refused("startingAfter=nope");

    let theirs = Api::new(&server.base, OTHER_APP, OTHER_KEY);
    theirs.put("/conversations/theirs", &json!({})).ok_empty();
    refused("startingAfter=theirs");

    assert_eq!(list(&api, "?limit=2"), ["c", "b"]);
    assert_eq!(list(&api, "?limit=2&startingAfter=b"), ["a"]);
    api.delete(&conv("b")).ok_empty();
    refused("limit=2&startingAfter=b");
    refused("startingAfter=b");
    assert_eq!(list(&api, "?startingAfter=c"), ["a"]);

    // A conversation that the filters leave out is no item of that list.
    pause();
    say(&api, "a");
    refused("lastMessageAfter=0&startingAfter=c");
    refused("lastMessageBefore=99999999999999&startingAfter=c");
    assert_eq!(list(&api, "?lastMessageAfter=0"), ["a"]);
    assert!(list(&api, "?lastMessageAfter=0&startingAfter=a").is_empty());
    // And theirs still is no item of mine.
    assert!(!list(&api, "?limit=100").contains(&"theirs".to_string()));
    assert_eq!(list(&theirs, ""), ["theirs"]);
}

#[test]
fn deleted_and_other_apps_conversations_are_not_listed() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let theirs = Api::new(&server.base, OTHER_APP, OTHER_KEY);
    for id in ["keep", "drop"] {
        create(&api, id);
    }
    theirs.put("/conversations/keep", &json!({})).ok_empty();
    theirs.put("/conversations/foreign", &json!({})).ok_empty();
    api.delete(&conv("drop")).ok_empty();
    assert_eq!(list(&api, "?limit=100"), ["keep"]);
    let mut foreign = list(&theirs, "?limit=100");
    foreign.sort();
    assert_eq!(foreign, ["foreign", "keep"]);
    Api::new(&server.base, APP, OTHER_KEY)
        .get("/conversations")
        .error(401, "UNAUTHORIZED");
}

#[test]
fn last_activity_falls_back_to_created_at_when_messages_are_deleted() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    create(&api, "older");
    pause();
    create(&api, "newer");
    pause();
    say(&api, "older");
    assert_eq!(list(&api, ""), ["older", "newer"]);
    let message = api.fetch(&conv("older"))["lastMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.delete(&format!("{}/messages/{message}", conv("older")))
        .ok_empty();
    assert_eq!(list(&api, ""), ["newer", "older"]);
    assert!(list(&api, "?lastMessageAfter=0").is_empty());
    assert!(page(&api, "")[1]["lastMessage"].is_null());
}

#[test]
fn walking_all_pages_returns_every_conversation_once_while_others_receive_messages() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let all: Vec<String> = (0..40).map(|i| format!("conv-{i:02}")).collect();
    for (i, id) in all.iter().enumerate() {
        create(&api, id);
        // Some start with messages, so that last activity and creation orders differ.
        if i % 5 == 2 {
            say(&api, id);
        }
    }
    let combos = [
        ("lastActivity", "DESC", 3),
        ("lastActivity", "ASC", 4),
        ("createdAt", "DESC", 4),
        ("createdAt", "ASC", 3),
    ];
    for (order_by, direction, limit) in combos {
        let params = format!("orderBy={order_by}&orderDirection={direction}");
        let mut round = 0;
        let walked = walk(&api, &params, limit, |seen| {
            // Between pages: messages into conversations already served (behind the cursor)
            // and into some not served yet (ahead of it), and an edit that moves nothing.
            round += 1;
            let behind = &seen[(round * 7) % seen.len()];
            let first = &seen[0];
            let ahead: Vec<&String> = all.iter().filter(|id| !seen.contains(id)).collect();
            say(&api, behind);
            say(&api, first);
            if !ahead.is_empty() {
                say(&api, ahead[round % ahead.len()]);
                say(&api, ahead[ahead.len() - 1]);
            }
            api.put(&conv(behind), &json!({"subject": format!("round {round}")}))
                .ok_empty();
        });
        assert!(round >= 9, "{params}: {round} pages");
        assert_each_once(&walked, &all, &params);
    }
}

#[test]
fn walking_all_pages_returns_every_conversation_once_while_messages_are_deleted() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let all: Vec<String> = (0..12).map(|i| format!("conv-{i:02}")).collect();
    // Two rounds of messages: every conversation's newest message is newer than every
    // conversation's older one.
    for id in &all {
        create(&api, id);
    }
    for _ in 0..2 {
        pause();
        for id in &all {
            say(&api, id);
        }
    }
    let newest = |id: &str| -> Option<String> {
        api.fetch(&conv(id))["lastMessage"]["id"]
            .as_str()
            .map(str::to_string)
    };
    let mut problems = Vec::new();
    for direction in ["DESC", "ASC"] {
        let params = format!("orderBy=lastActivity&orderDirection={direction}");
        let walked = walk(&api, &params, 3, |seen| {
            // Deleting a conversation's newest message moves it back in time: one served
            // already must not be served again, one not served yet must not be skipped.
            // Here: the first and the last item of the page just served, and one not served.
            let ahead = all.iter().find(|id| !seen.contains(id));
            for id in [&seen[seen.len() - 3], &seen[seen.len() - 1]]
                .into_iter()
                .chain(ahead)
            {
                // (A conversation served twice may have run out of messages.)
                if let Some(message) = newest(id) {
                    api.delete(&format!("{}/messages/{message}", conv(id)))
                        .ok_empty();
                }
            }
        });
        problems.extend(each_once(&walked, &all, &params).err());
        // Top the conversations up again for the next walk.
        for id in &all {
            say(&api, id);
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn starting_after_ids_are_percent_decoded_from_the_query() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let all = strs(&["a&b", "c=d", "e+f", "g h", "100%", "x/y", "ü?#", "plain"]);
    for id in &all {
        create(&api, id);
        pause();
    }
    let newest_first: Vec<String> = all.iter().rev().cloned().collect();
    assert_eq!(list(&api, "?limit=100"), newest_first);
    assert_eq!(walk(&api, "orderBy=lastActivity", 1, |_| {}), newest_first);
    assert_eq!(
        walk(&api, "orderBy=createdAt&orderDirection=ASC", 3, |_| {}),
        all
    );
    let fetched: BTreeSet<String> = page(&api, "?limit=100")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fetched, all.iter().cloned().collect());
}
