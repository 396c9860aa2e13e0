//! Moving whole apps: `parley migrate` from a running Parley (the TalkJS stand-in), also
//! through a source that rate-limits and fails now and then, and after an interruption; and
//! `parley export` then `parley import` into an empty database on the other backend. Each time
//! every GET of the target equals the source's.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{enc, send, settings, Api, TestServer, APP, KEY};
use serde_json::{json, Value};

const BOUNDARY: &str = "transferboundary";

fn upload(api: &Api, name: &str, bytes: &[u8]) -> String {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(
        format!("\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"subtype\"\r\n\r\nimage\r\n--{BOUNDARY}--\r\n")
            .as_bytes(),
    );
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let resp = api.request(
        "POST",
        "/files",
        &[("Content-Type", content_type.as_str())],
        Some(&body),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json()["fileToken"].as_str().unwrap().to_owned()
}

/// An app with every kind of thing: users, conversations with mixed participants, messages that
/// were edited, system messages, custom data, a file, reactions, read state.
fn seed(api: &Api, conversations: usize) {
    for u in ["alice", "bob", "carol", "dave"] {
        api.put(
            &format!("/users/{u}"),
            &json!({"name": u.to_uppercase(), "email": [format!("{u}@example.com")], "custom": {"team": "x"}, "role": "member"}),
        )
        .ok_empty();
    }
    let token = upload(api, "pic.png", &[1, 2, 3, 250, 0, 9]);
    for i in 0..conversations {
        let id = format!("conv/{i}");
        api.put(
            &format!("/conversations/{}", enc(&id)),
            &json!({"participants": ["alice", "bob"], "subject": format!("Subject {i}"), "custom": {"n": i.to_string()}, "welcomeMessages": ["hi"]}),
        )
        .ok_empty();
        api.put(
            &format!("/conversations/{}/participants/carol", enc(&id)),
            &json!({"access": "Read", "notify": "MentionsOnly"}),
        )
        .ok_empty();
        api.put(
            &format!("/conversations/{}/participants/dave", enc(&id)),
            &json!({}),
        )
        .ok_empty();
        let mut ids = Vec::new();
        for j in 0..12 {
            let item = if j == 3 {
                json!({"type": "SystemMessage", "text": format!("system {j}")})
            } else if j == 5 && i == 0 {
                json!({"type": "UserMessage", "sender": "alice", "content": [{"type": "file", "fileToken": token}]})
            } else {
                json!({"type": "UserMessage", "sender": if j % 2 == 0 { "alice" } else { "bob" }, "text": format!("message {j}"), "custom": {"j": j.to_string()}})
            };
            let resp = api.post(
                &format!("/conversations/{}/messages", enc(&id)),
                &json!([item]),
            );
            assert_eq!(resp.status, 200, "{}", resp.text);
            ids.push(resp.json()[0]["id"].as_str().unwrap().to_owned());
        }
        api.request(
            "PUT",
            &format!("/conversations/{}/messages/{}", enc(&id), ids[1]),
            &[("Content-Type", "application/json")],
            Some(br#"{"text": "edited", "custom": {"edited": "yes"}}"#),
        );
        for (user, emoji) in [
            ("alice", "%F0%9F%91%8D"),
            ("bob", "%F0%9F%91%8D"),
            ("bob", "%3Aparty%3A"),
        ] {
            api.put(
                &format!(
                    "/conversations/{}/messages/{}/reactions/{emoji}/{user}",
                    enc(&id),
                    ids[2]
                ),
                &json!({}),
            )
            .ok_empty();
        }
        // Dave leaves the sight of the REST API but stays on record.
        api.patch(
            &format!("/conversations/{}/participants/dave", enc(&id)),
            &json!({"access": "None"}),
        )
        .ok_empty();
        api.patch(
            &format!("/conversations/{}/participants/bob", enc(&id)),
            &json!({"readUntil": 1_000}),
        )
        .ok_empty();
    }
}

/// Every GET a client could make of the app, with the source's base URL (in file URLs) replaced.
fn snapshot(api: &Api) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut files = Vec::new();
    let mut get = |path: String| {
        let resp = api.get(&path);
        assert_eq!(resp.status, 200, "{path}: {}", resp.text);
        let text = resp.text.replace(&api.base, "BASE");
        let value: Value = serde_json::from_str(&text).unwrap();
        out.push((path, value.clone()));
        value
    };
    get("/users?limit=100".into());
    let list = get("/conversations?limit=100".into());
    for u in ["alice", "bob", "carol", "dave"] {
        get(format!("/users/{u}/conversations?limit=100"));
        get(format!("/users/{u}"));
    }
    for c in list["data"].as_array().unwrap() {
        let id = enc(c["id"].as_str().unwrap());
        get(format!("/conversations/{id}"));
        let messages = get(format!("/conversations/{id}/messages?limit=100"));
        for m in messages["data"].as_array().unwrap() {
            for emoji in m["reactions"].as_object().unwrap().keys() {
                get(format!(
                    "/conversations/{id}/messages/{}/reactions/{}",
                    m["id"].as_str().unwrap(),
                    enc(emoji)
                ));
            }
            for block in m["content"].as_array().unwrap() {
                if block["type"] == "file" {
                    files.push((
                        block["fileToken"].to_string(),
                        block["url"].as_str().unwrap().replace("BASE", &api.base),
                    ));
                }
            }
        }
    }
    for (token, url) in files {
        let resp = send("GET", &url, &[], None);
        assert_eq!(resp.status, 200, "the file downloads");
        out.push((format!("file {token}"), json!(resp.text)));
    }
    out
}

fn assert_same(source: &[(String, Value)], target: &[(String, Value)]) {
    assert_eq!(source.len(), target.len(), "the same GETs");
    for ((path, a), (_, b)) in source.iter().zip(target) {
        assert_eq!(a, b, "GET {path} differs");
    }
}

/// Runs `parley <args>` on the database `url` (files in `dir`), with the test app configured.
fn parley(args: &[&str], url: &str, dir: &Path) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PARLEY__") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args(args)
        .current_dir(dir)
        .env("PARLEY__DATABASE__URL", url)
        .env("PARLEY__FILES__DIR", dir.join("files"))
        .env(
            format!("PARLEY__APPS__{}__SECRET_KEY", APP.to_uppercase()),
            KEY,
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.success(), stderr)
}

/// A server over `url` (the database a tool wrote).
fn target_server(url: &str, dir: &Path) -> TestServer {
    let mut s = settings(&dir.join("unused.db"));
    s.database.url = url.to_owned();
    s.files.dir = dir.join("files").display().to_string();
    s.files.url = String::new();
    TestServer::start(s)
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("target.db").display())
}

/// The target database of a migration: on the backend of this test pass.
fn target_url(dir: &Path) -> String {
    common::database_url(&dir.join("target.db"))
}

/// Forwards requests to `upstream`, answering some of them with a fault instead: every
/// `every`-th a 429 (Retry-After 0) or a 503, and from request `stop_after` on a 400 (an
/// interruption the migration cannot retry).
fn flaky_proxy(upstream: String, every: usize, stop_after: Option<usize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (upstream, count) = (upstream.clone(), count.clone());
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // One request per connection: the head is all a GET has.
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let auth = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("authorization: ")
                            .or_else(|| l.strip_prefix("Authorization: "))
                    })
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                let reply = |status: &str, extra: &str, body: &[u8]| {
                    let mut out = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(body);
                    out
                };
                let answer = if stop_after.is_some_and(|s| n >= s) {
                    reply(
                        "400 Bad Request",
                        "content-type: application/json\r\n",
                        b"{\"errorCode\":\"STOP\"}",
                    )
                } else if n.is_multiple_of(every) {
                    if (n / every).is_multiple_of(2) {
                        reply("429 Too Many Requests", "retry-after: 0\r\n", b"{}")
                    } else {
                        reply("503 Service Unavailable", "", b"{}")
                    }
                } else {
                    let mut req = ureq::get(&format!("{upstream}{target}"));
                    if !auth.is_empty() {
                        req = req.set("Authorization", &auth);
                    }
                    let resp = match req.call() {
                        Ok(r) => r,
                        Err(ureq::Error::Status(_, r)) => r,
                        Err(_) => return,
                    };
                    let status = format!("{} {}", resp.status(), resp.status_text());
                    let content_type = resp.content_type().to_owned();
                    let mut body = Vec::new();
                    resp.into_reader().read_to_end(&mut body).unwrap();
                    reply(&status, &format!("content-type: {content_type}\r\n"), &body)
                };
                let _ = stream.write_all(&answer);
            });
        }
    });
    base
}

fn migrate(from: &str, url: &str, dir: &Path) -> (bool, String) {
    parley(
        &[
            "migrate",
            "--from",
            from,
            "--app",
            APP,
            "--key",
            KEY,
            "--concurrency",
            "3",
        ],
        url,
        dir,
    )
}

#[test]
fn migrate_copies_an_app_exactly_and_again_duplicates_nothing() {
    let (source, _source_dir) = TestServer::fresh();
    let api = Api::new(&source.base, APP, KEY);
    seed(&api, 3);
    let before = snapshot(&api);

    let dir = tempfile::tempdir().unwrap();
    let url = target_url(dir.path());
    let (ok, log) = migrate(&source.base, &url, dir.path());
    assert!(ok, "{log}");
    assert!(
        log.contains("source: 4 users, 3 conversations, 36 messages"),
        "{log}"
    );
    let (ok, again) = migrate(&source.base, &url, dir.path());
    assert!(ok, "{again}");
    assert!(
        again.contains(" 0 records written"),
        "the second run writes nothing: {again}"
    );

    let target = target_server(&url, dir.path());
    let copy = snapshot(&Api::new(&target.base, APP, KEY));
    assert_same(&before, &copy);
}

#[test]
fn an_interrupted_migration_through_a_flaky_source_completes_when_run_again() {
    let (source, _source_dir) = TestServer::fresh();
    let api = Api::new(&source.base, APP, KEY);
    seed(&api, 4);
    let before = snapshot(&api);

    let dir = tempfile::tempdir().unwrap();
    let url = target_url(dir.path());
    // Interrupted part of the way through the messages.
    let interrupted = flaky_proxy(source.base.clone(), 5, Some(12));
    let (ok, log) = migrate(&interrupted, &url, dir.path());
    assert!(!ok, "the interruption is an error: {log}");
    // Part of it is there: a server on the target (running from here on) shows it.
    let target = target_server(&url, dir.path());
    let copy = Api::new(&target.base, APP, KEY);
    let stored: usize = copy.fetch("/conversations?limit=100")["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = enc(c["id"].as_str().unwrap());
            copy.fetch(&format!("/conversations/{id}/messages?limit=100"))["data"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert!(
        stored > 0 && stored < 48,
        "interrupted part of the way: {stored} of 48"
    );
    // Then again, while the target server runs, through a source that answers 429 and 503
    // every fourth request.
    let flaky = flaky_proxy(source.base.clone(), 4, None);
    let (ok, log) = migrate(&flaky, &url, dir.path());
    assert!(ok, "{log}");

    let copy = snapshot(&copy);
    assert_same(&before, &copy);
}

#[test]
fn export_then_import_on_the_other_backend_gives_the_same_app_and_twice_changes_nothing() {
    let (source, source_dir) = TestServer::fresh();
    let api = Api::new(&source.base, APP, KEY);
    seed(&api, 3);
    let before = snapshot(&api);

    // Exported while the source server runs, through the storage layer.
    let file = source_dir.path().join("app.jsonl");
    let (ok, log) = parley(
        &["export", "--app", APP, "--out", file.to_str().unwrap()],
        &common::database_url(&source_dir.path().join("parley.db")),
        source_dir.path(),
    );
    assert!(ok, "{log}");
    let lines = std::fs::read_to_string(&file).unwrap();
    let kinds: std::collections::BTreeSet<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "conversation",
            "file",
            "message",
            "participant",
            "reaction",
            "user"
        ]
    );

    // Into the other backend: PostgreSQL when the source is SQLite (and PostgreSQL is there).
    let dir = tempfile::tempdir().unwrap();
    let url = match (
        common::on_postgres(),
        parley_store_diesel::testing::server_url("import into PostgreSQL"),
    ) {
        (false, Some(server)) => parley_store_diesel::testing::schema_url(
            &server,
            &format!("import_{}", rand::random::<u32>()),
        ),
        _ => sqlite_url(dir.path()),
    };
    let (ok, log) = parley(&["import", file.to_str().unwrap()], &url, dir.path());
    assert!(ok, "{log}");
    // Every line is one record written (whole conversations and one by one alike).
    let written = format!("{} records written, 0 there already", lines.lines().count());
    assert!(log.lines().any(|l| l == written), "{written}: {log}");
    let (ok, again) = parley(&["import", file.to_str().unwrap()], &url, dir.path());
    assert!(ok, "{again}");
    assert!(
        again.lines().any(|l| l.starts_with("0 records written")),
        "importing again writes nothing: {again}"
    );

    let target = target_server(&url, dir.path());
    let copy = snapshot(&Api::new(&target.base, APP, KEY));
    assert_same(&before, &copy);
}

#[test]
fn bad_lines_are_named_and_nothing_of_their_batch_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    let user = |id: &str| {
        json!({"kind": "user", "appId": APP, "user": {"id": id, "name": id, "email": null, "phone": null,
            "photoUrl": null, "welcomeMessage": null, "role": null, "locale": null,
            "availabilityText": null, "custom": {}, "pushTokens": {}, "createdAt": 5}})
        .to_string()
    };
    let text = [
        user("u1"),
        "{not json".to_owned(),
        user("u2"),
        json!({"kind": "spaceship", "appId": APP}).to_string(),
    ]
    .join("\n");
    std::fs::write(&file, text).unwrap();
    let url = sqlite_url(dir.path());
    let (ok, log) = parley(&["import", file.to_str().unwrap()], &url, dir.path());
    assert!(!ok, "{log}");
    assert!(log.contains("line 2: not JSON"), "{log}");
    assert!(
        log.contains("line 4: kind: unknown kind \"spaceship\""),
        "{log}"
    );
    let target = target_server(&url, dir.path());
    let api = Api::new(&target.base, APP, KEY);
    assert_eq!(
        api.get("/users/u1").status,
        404,
        "nothing of the failed batch is written"
    );
    assert_eq!(api.get("/users/u2").status, 404);
}
