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
    let Some(server) = testing::server_url("the cross-server list walk") else {
        return;
    };
    if on_postgres() {
        eprintln!("(the cross-server list walk runs in the first pass, not again here)");
        return;
    }
    let schema = format!("walk_{}_{}", std::process::id(), rand::random::<u32>());
    let url = testing::schema_url(&server, &schema);
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("PARLEY__DATABASE__URL", url),
        ("PARLEY__APPS__TESTAPP__SECRET_KEY", KEY.to_string()),
    ];
    let a = Process::start(&[], &env, dir.path());
    let b = Process::start(&[], &env, dir.path());
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
