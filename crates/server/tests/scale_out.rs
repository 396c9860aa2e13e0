//! Several Parley servers over one PostgreSQL database: concurrent PUTs (distinct participants
//! and custom keys to the same conversations) and message sends through two server processes
//! lose nothing and duplicate nothing, and both servers list the same data.

mod common;

use std::collections::BTreeSet;

use common::{on_postgres, Api, Process, APP, KEY};
use parley_store_diesel::testing;
use serde_json::{json, Value};

const CONVERSATIONS: usize = 4;
const WRITERS_PER_SERVER: usize = 4;
const ROUNDS: usize = 15;

fn messages_of(api: &Api, conversation: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => format!("/conversations/{conversation}/messages?limit=100"),
            Some(id) => {
                format!("/conversations/{conversation}/messages?limit=100&startingAfter={id}")
            }
        };
        let page = api.fetch(&path)["data"].as_array().unwrap().clone();
        if page.is_empty() {
            return all;
        }
        after = Some(page.last().unwrap()["id"].as_str().unwrap().to_string());
        all.extend(page);
    }
}

#[test]
fn two_servers_over_one_postgres_lose_and_duplicate_nothing() {
    let Some(server) = testing::server_url("the two-server scale-out test") else {
        return;
    };
    if on_postgres() {
        eprintln!("(the two-server scale-out test runs in the first pass, not again here)");
        return;
    }
    let schema = format!("scale_{}_{}", std::process::id(), rand::random::<u32>());
    let url = testing::schema_url(&server, &schema);
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("PARLEY__DATABASE__URL", url),
        ("PARLEY__APPS__TESTAPP__SECRET_KEY", KEY.to_string()),
    ];
    // Both start together: migrations run once, under the advisory lock.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Process::start(&[], &env, dir.path()));
        let b = s.spawn(|| Process::start(&[], &env, dir.path()));
        (a.join().unwrap(), b.join().unwrap())
    });
    let servers = [Api::new(&a.base, APP, KEY), Api::new(&b.base, APP, KEY)];

    let writers: Vec<_> = (0..2 * WRITERS_PER_SERVER)
        .map(|w| {
            let api = servers[w % 2].clone();
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    let conversation = format!("shared-{}", (w + round) % CONVERSATIONS);
                    let user = format!("w{w}-r{round}");
                    let resp = api.put(
                        &format!("/conversations/{conversation}"),
                        &json!({"participants": [user], "custom": {user.clone(): "1"}}),
                    );
                    assert_eq!(resp.status, 200, "PUT: {}", resp.text);
                    let resp = api.post(
                        &format!("/conversations/{conversation}/messages"),
                        &json!([{"text": user, "type": "UserMessage", "sender": user}]),
                    );
                    assert_eq!(resp.status, 200, "POST: {}", resp.text);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }

    for c in 0..CONVERSATIONS {
        let conversation = format!("shared-{c}");
        let expected: BTreeSet<String> = (0..2 * WRITERS_PER_SERVER)
            .flat_map(|w| (0..ROUNDS).map(move |round| (w, round)))
            .filter(|(w, round)| (w + round) % CONVERSATIONS == c)
            .map(|(w, round)| format!("w{w}-r{round}"))
            .collect();
        let seen: Vec<Value> = servers
            .iter()
            .map(|api| api.fetch(&format!("/conversations/{conversation}")))
            .collect();
        assert_eq!(seen[0], seen[1], "both servers show the same conversation");
        let participants: BTreeSet<String> = seen[0]["participants"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(participants, expected, "no participant is lost");
        let custom: BTreeSet<String> = seen[0]["custom"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(custom, expected, "no custom key is lost");

        let lists: Vec<Vec<Value>> = servers
            .iter()
            .map(|api| messages_of(api, &conversation))
            .collect();
        assert_eq!(lists[0], lists[1], "both servers list the same messages");
        let texts: Vec<String> = lists[0]
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_string())
            .collect();
        let distinct: BTreeSet<String> = texts.iter().cloned().collect();
        assert_eq!(texts.len(), distinct.len(), "no message is stored twice");
        assert_eq!(distinct, expected, "no message is lost");
        // Newest stored first, and times never go backwards in storage order.
        let times: Vec<i64> = lists[0]
            .iter()
            .map(|m| m["createdAt"].as_i64().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    }
    let pages: Vec<Value> = servers
        .iter()
        .map(|api| api.fetch("/conversations?limit=100"))
        .collect();
    assert_eq!(
        pages[0], pages[1],
        "both servers list the same conversations"
    );
    assert_eq!(pages[0]["data"].as_array().unwrap().len(), CONVERSATIONS);
    a.kill_9();
    b.kill_9();
    testing::drop_schema(&server, &schema);
}

/// A client pages through the conversation list, each page from the other server, while the
/// conversation its cursor names receives a message: every conversation still comes exactly
/// once, because page ends are remembered in the database, not in the server that served them.
#[test]
fn a_list_walk_continues_across_servers() {
    let Some((a, b, server, schema, _dir)) = two_servers("the cross-server list walk") else {
        return;
    };
    let servers = [Api::new(&a.base, APP, KEY), Api::new(&b.base, APP, KEY)];
    let send = |api: &Api, conversation: &str| {
        let resp = api.post(
            &format!("/conversations/{conversation}/messages"),
            &json!([{"text": "hi", "type": "UserMessage", "sender": "u"}]),
        );
        assert_eq!(resp.status, 200, "POST: {}", resp.text);
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    for i in 0..6 {
        let conversation = format!("walk-{i}");
        servers[0]
            .put(
                &format!("/conversations/{conversation}"),
                &json!({"participants": ["u"]}),
            )
            .ok_empty();
        send(&servers[0], &conversation);
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for page in 0..10 {
        let api = &servers[page % 2];
        let path = match &after {
            None => "/conversations?limit=2".to_string(),
            Some(id) => format!("/conversations?limit=2&startingAfter={id}"),
        };
        let ids: Vec<String> = api.fetch(&path)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        if ids.is_empty() {
            break;
        }
        let last = ids.last().unwrap().clone();
        seen.extend(ids);
        // The cursor conversation moves to the top of the list before the next page.
        send(&servers[(page + 1) % 2], &last);
        after = Some(last);
    }
    assert_eq!(
        seen,
        ["walk-5", "walk-4", "walk-3", "walk-2", "walk-1", "walk-0"],
        "each conversation once, in the order of the walk's snapshot"
    );
    a.kill_9();
    b.kill_9();
    testing::drop_schema(&server, &schema);
}

/// Starts two servers on a fresh schema of the test cluster (`None`, with a message, when there
/// is none or this is the PostgreSQL pass, where the first pass already ran it).
fn two_servers(what: &str) -> Option<(Process, Process, String, String, tempfile::TempDir)> {
    let server = testing::server_url(what)?;
    if on_postgres() {
        eprintln!("({what} runs in the first pass, not again here)");
        return None;
    }
    let schema = format!("two_{}_{}", std::process::id(), rand::random::<u32>());
    let url = testing::schema_url(&server, &schema);
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("PARLEY__DATABASE__URL", url),
        ("PARLEY__APPS__TESTAPP__SECRET_KEY", KEY.to_string()),
    ];
    let a = Process::start(&[], &env, dir.path());
    let b = Process::start(&[], &env, dir.path());
    Some((a, b, server, schema, dir))
}

/// Writers on both servers send (and now and then delete) messages without pause while a
/// client walks the list three pages at a time, each page from the other server: every walk
/// lists every conversation exactly once. The walk's snapshot is PostgreSQL's own, kept in the
/// database, so it holds whichever server serves the next page and however the writers'
/// commits interleave.
#[test]
fn sends_from_two_servers_while_a_walk_alternates_between_them() {
    const N: usize = 20;
    let Some((a, b, server, schema, _dir)) = two_servers("the walk during sends from two servers")
    else {
        return;
    };
    let servers = [Api::new(&a.base, APP, KEY), Api::new(&b.base, APP, KEY)];
    let send = |api: &Api, conversation: &str, text: &str| {
        let resp = api.post(
            &format!("/conversations/{conversation}/messages"),
            &json!([{"text": text, "type": "UserMessage", "sender": "u"}]),
        );
        assert_eq!(resp.status, 200, "POST: {}", resp.text);
    };
    let all: BTreeSet<String> = (0..N).map(|i| format!("busy-{i:02}")).collect();
    for conversation in &all {
        servers[0]
            .put(
                &format!("/conversations/{conversation}"),
                &json!({"participants": ["u"]}),
            )
            .ok_empty();
        send(&servers[0], conversation, "first");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    let sent = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for w in 0..4usize {
            let (api, stop, sent) = (servers[w % 2].clone(), &stop, &sent);
            scope.spawn(move || {
                let mut i = w;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i = (i * 7 + 3) % N;
                    let conversation = format!("busy-{i:02}");
                    send(&api, &conversation, "more");
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i % 3 == 0 {
                        // Delete the newest message: the conversation moves back.
                        let newest =
                            api.fetch(&format!("/conversations/{conversation}/messages?limit=1"));
                        if let Some(id) = newest["data"][0]["id"].as_str() {
                            let path = format!("/conversations/{conversation}/messages/{id}");
                            let status = api.delete(&path).status;
                            assert!(status == 200 || status == 404, "DELETE: {status}");
                        }
                    }
                }
            });
        }
        for walk in 0..3 {
            let mut seen = Vec::new();
            let mut after: Option<String> = None;
            for page in 0..=N {
                let api = &servers[(walk + page) % 2];
                let path = match &after {
                    None => "/conversations?limit=3".to_string(),
                    Some(id) => format!("/conversations?limit=3&startingAfter={id}"),
                };
                let ids: Vec<String> = api.fetch(&path)["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["id"].as_str().unwrap().to_string())
                    .collect();
                let Some(last) = ids.last().cloned() else {
                    break;
                };
                seen.extend(ids);
                after = Some(last);
            }
            let distinct: BTreeSet<String> = seen.iter().cloned().collect();
            assert_eq!(
                seen.len(),
                distinct.len(),
                "walk {walk}: repeated: {seen:?}"
            );
            assert_eq!(distinct, all, "walk {walk}: each conversation once");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert!(
        sent.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the writers sent during the walks"
    );
    a.kill_9();
    b.kill_9();
    testing::drop_schema(&server, &schema);
}

/// Writers on both servers commit concurrently (so their transactions end in any order) while
/// a reader follows the event log with `after`, each read from the other server: the reader
/// sees every event exactly once, the same set a reader from the start sees at the end.
#[test]
fn a_reader_resuming_between_two_servers_skips_no_event() {
    const WRITERS: usize = 6;
    const ROUNDS: usize = 25;
    let Some((a, b, server, schema, _dir)) = two_servers("the two-server event log test") else {
        return;
    };
    let servers = [Api::new(&a.base, APP, KEY), Api::new(&b.base, APP, KEY)];
    let ids_of = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    let followed = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let api = servers[w % 2].clone();
                scope.spawn(move || {
                    for round in 0..ROUNDS {
                        let conversation = format!("log-{w}");
                        let resp = api.put(
                            &format!("/conversations/{conversation}"),
                            &json!({"participants": ["u"], "subject": format!("{round}")}),
                        );
                        assert_eq!(resp.status, 200, "PUT: {}", resp.text);
                        let resp = api.post(
                            &format!("/conversations/{conversation}/messages"),
                            &json!([{"text": "x", "type": "UserMessage", "sender": "u"}]),
                        );
                        assert_eq!(resp.status, 200, "POST: {}", resp.text);
                    }
                })
            })
            .collect();
        let reader = scope.spawn(|| {
            let mut seen: Vec<String> = Vec::new();
            let mut empty_after_done = 0;
            for read in 0usize.. {
                let finished = done.load(std::sync::atomic::Ordering::Relaxed);
                let path = match seen.last() {
                    None => "/events?limit=7".to_string(),
                    Some(id) => format!("/events?limit=7&after={id}"),
                };
                let page = ids_of(&servers[read % 2].fetch(&path));
                if page.is_empty() && finished {
                    empty_after_done += 1;
                    if empty_after_done == 2 {
                        break;
                    }
                }
                seen.extend(page);
            }
            seen
        });
        for writer in writers {
            writer.join().expect("writer");
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().expect("reader")
    });
    let mut everything = Vec::new();
    loop {
        let path = match everything.last() {
            None => "/events?limit=1000".to_string(),
            Some(id) => format!("/events?limit=1000&after={id}"),
        };
        let page = ids_of(&servers[1].fetch(&path));
        if page.is_empty() {
            break;
        }
        everything.extend(page);
    }
    let distinct: BTreeSet<&String> = followed.iter().collect();
    assert_eq!(distinct.len(), followed.len(), "no event twice");
    let all: BTreeSet<&String> = everything.iter().collect();
    assert_eq!(distinct, all, "the follower saw every event");
    // Each round: the conversation is created or updated, and a message is sent.
    assert!(
        everything.len() >= WRITERS * ROUNDS * 2,
        "{}",
        everything.len()
    );
    a.kill_9();
    b.kill_9();
    testing::drop_schema(&server, &schema);
}
