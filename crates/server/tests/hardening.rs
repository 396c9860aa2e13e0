//! Hostile input and slow clients: each costs a clear 4xx, never a 5xx, a hang or memory.
//! Raw sockets where a client library would not send such a request.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{send, Process, TestServer, APP, KEY, OTHER_KEY};
use serde_json::{json, Value};

fn connect(base: &str) -> TcpStream {
    let stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; panics if it does not within the read timeout.
fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the server closes the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

fn json_body_of(answer: &str) -> Value {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

fn slow_body_settings(db: &std::path::Path) -> parley_server::Settings {
    let mut s = common::settings(db);
    s.server.body_idle_timeout_secs = 1;
    s.server.body_timeout_secs = 3;
    s
}

fn put_head(path: &str, content_length: usize) -> String {
    format!(
        "PUT /v1/{APP}{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    )
}

#[test]
fn a_stalled_body_gets_408_with_a_json_body_and_the_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(slow_body_settings(&dir.path().join("p.db")));
    let mut stream = connect(&server.base);
    let started = Instant::now();
    stream
        .write_all(put_head("/conversations/c", 5022).as_bytes())
        .unwrap();
    stream.write_all(&[b' '; 100]).unwrap();
    let answer = read_until_closed(&mut stream);
    let waited = started.elapsed();
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert_eq!(json_body_of(&answer)["errorCode"], "REQUEST_TIMEOUT");
    assert!(waited < Duration::from_secs(10), "took {waited:?}");
    server.api().get("/conversations/c").error(404, "NOT_FOUND");
}

#[test]
fn a_trickling_body_is_cut_at_the_overall_body_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(slow_body_settings(&dir.path().join("p.db")));
    let mut stream = connect(&server.base);
    stream
        .write_all(put_head("/conversations/c", 5022).as_bytes())
        .unwrap();
    let started = Instant::now();
    // One byte every 300 ms never trips the 1 s idle timeout, only the 3 s cap.
    while started.elapsed() < Duration::from_secs(8) {
        if stream.write_all(b" ").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        stream.set_nonblocking(true).unwrap();
        let mut probe = [0u8; 1];
        let answered = matches!(stream.peek(&mut probe), Ok(n) if n > 0);
        stream.set_nonblocking(false).unwrap();
        if answered {
            break;
        }
    }
    let answer = read_until_closed(&mut stream);
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(8));
    server.api().get("/conversations/c").error(404, "NOT_FOUND");
}

#[test]
fn stalled_bodies_do_not_hold_up_other_requests_and_are_all_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(slow_body_settings(&dir.path().join("p.db")));
    let mut stalled: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut s = connect(&server.base);
            s.write_all(put_head(&format!("/conversations/s{i}"), 5022).as_bytes())
                .unwrap();
            s.write_all(b"{").unwrap();
            s
        })
        .collect();
    let api = server.api();
    let started = Instant::now();
    api.put("/conversations/ok", &json!({"subject": "still served"}))
        .ok_empty();
    assert!(started.elapsed() < Duration::from_secs(1));
    for s in &mut stalled {
        assert_eq!(status_of(&read_until_closed(s)), 408);
    }
    assert_eq!(api.fetch("/conversations/ok")["subject"], "still served");
}

/// Every free-text field of every write, each with a U+0000 in it.
fn nul_writes() -> Vec<(&'static str, &'static str, String, Value, &'static str)> {
    let nul = "a\u{0}b";
    vec![
        (
            "PUT",
            "/conversations/c",
            String::new(),
            json!({"subject": nul}),
            "subject",
        ),
        (
            "PUT",
            "/conversations/c",
            String::new(),
            json!({"photoUrl": nul}),
            "photoUrl",
        ),
        (
            "PUT",
            "/conversations/c",
            String::new(),
            json!({"welcomeMessages": ["hi", nul]}),
            "welcomeMessages[1]",
        ),
        (
            "PUT",
            "/conversations/c",
            String::new(),
            json!({"custom": {"k": nul}}),
            "custom.k",
        ),
        (
            "PUT",
            "/conversations/c",
            String::new(),
            json!({"custom": {nul: "v"}}),
            "custom.a\\u0000b",
        ),
        (
            "PUT",
            "/conversations/c",
            String::new(),
            json!({"participants": [nul]}),
            "participants[0]",
        ),
        (
            "PUT",
            "/users/u1",
            String::new(),
            json!({"name": nul}),
            "name",
        ),
        (
            "PUT",
            "/users/u1",
            String::new(),
            json!({"name": "n", "photoUrl": nul}),
            "photoUrl",
        ),
        (
            "PUT",
            "/users/u1",
            String::new(),
            json!({"name": "n", "welcomeMessage": nul}),
            "welcomeMessage",
        ),
        (
            "PUT",
            "/users/u1",
            String::new(),
            json!({"name": "n", "role": nul}),
            "role",
        ),
        (
            "PUT",
            "/users/u1",
            String::new(),
            json!({"name": "n", "locale": nul}),
            "locale",
        ),
        (
            "PUT",
            "/users/u1",
            String::new(),
            json!({"name": "n", "availabilityText": nul}),
            "availabilityText",
        ),
        (
            "PUT",
            "/users/u1",
            String::new(),
            json!({"name": "n", "email": [nul]}),
            "email[0]",
        ),
        (
            "PUT",
            "/users/u1",
            String::new(),
            json!({"name": "n", "phone": [nul]}),
            "phone[0]",
        ),
        (
            "PUT",
            "/users/u1",
            String::new(),
            json!({"name": "n", "custom": {"k": nul}}),
            "custom.k",
        ),
        (
            "PUT",
            "/users",
            String::new(),
            json!({"u2": {"name": nul}}),
            "u2.name",
        ),
        (
            "POST",
            "/conversations/existing/messages",
            String::new(),
            json!([{"text": nul, "type": "SystemMessage"}]),
            "[0].text",
        ),
        (
            "POST",
            "/conversations/existing/messages",
            String::new(),
            json!([{"text": "t", "type": "SystemMessage", "custom": {"k": nul}}]),
            "[0].custom.k",
        ),
        (
            "POST",
            "/conversations/existing/messages",
            String::new(),
            json!([{"text": "t", "type": "SystemMessage", "idempotencyKey": nul}]),
            "[0].idempotencyKey",
        ),
        (
            "PUT",
            "/conversations/existing/messages/",
            "MSG".into(),
            json!({"text": nul}),
            "text",
        ),
        (
            "PUT",
            "/conversations/existing/messages/",
            "MSG".into(),
            json!({"custom": {"k": nul}}),
            "custom.k",
        ),
    ]
}

fn nul_characters_are_refused_on(server: &TestServer) {
    let api = server.api();
    api.put("/conversations/existing", &json!({"subject": "before"}))
        .ok_empty();
    let sent = api.post(
        "/conversations/existing/messages",
        &json!([{"text": "first", "type": "SystemMessage"}]),
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    let msg = sent.json()[0]["id"].as_str().unwrap().to_string();
    for (method, path, suffix, body, field) in nul_writes() {
        let path = format!("{path}{}", if suffix.is_empty() { "" } else { &msg });
        let resp = api.request(
            method,
            &path,
            &[("Content-Type", "application/json")],
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(resp.status, 400, "{method} {path} {body}: {}", resp.text);
        let err = resp.json();
        assert!(
            err["reasons"].get(field).is_some(),
            "{method} {path} {body}: reasons name {field}: {err}"
        );
    }
    // A topic of the legacy endpoint.
    let legacy = api.put(
        &format!(
            "/conversations/participants=a,b;topic={}",
            common::enc("a\u{0}b")
        ),
        &json!({}),
    );
    assert_eq!(legacy.status, 400, "{}", legacy.text);
    // Nothing was stored.
    api.get("/conversations/c").error(404, "NOT_FOUND");
    api.get("/users/u1").error(404, "NOT_FOUND");
    api.get("/users/u2").error(404, "NOT_FOUND");
    let messages = api.fetch("/conversations/existing/messages");
    assert_eq!(messages["data"].as_array().unwrap().len(), 1);
    assert_eq!(messages["data"][0]["text"], "first");
    assert_eq!(api.fetch("/conversations/existing")["subject"], "before");
}

#[test]
fn nul_characters_are_refused_in_every_stored_string_with_the_field_named() {
    let (server, _dir) = TestServer::fresh();
    nul_characters_are_refused_on(&server);
}

#[test]
fn nul_characters_are_refused_in_memory_storage_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings(&dir.path().join("unused.db"));
    settings.database.url = "memory://".into();
    let server = TestServer::start(settings);
    nul_characters_are_refused_on(&server);
}

#[test]
fn a_repeated_json_key_is_400_invalid_json_naming_the_key_on_every_write() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put(
        "/conversations/c",
        &json!({"participants": ["u"], "subject": "kept"}),
    )
    .ok_empty();
    api.put("/users/u", &json!({"name": "kept"})).ok_empty();
    let sent = api.post(
        "/conversations/c/messages",
        &json!([{"text": "kept", "type": "SystemMessage"}]),
    );
    let msg = sent.json()[0]["id"].as_str().unwrap().to_string();
    let writes: Vec<(&str, String, &str, &str)> = vec![
        (
            "PUT",
            "/conversations/c".into(),
            r#"{"subject": "a", "subject": "b"}"#,
            "subject",
        ),
        (
            "PUT",
            "/conversations/c".into(),
            r#"{"custom": {"k": "1", "k": "2"}}"#,
            "custom.k",
        ),
        (
            "PUT",
            "/conversations/participants=u,v".into(),
            r#"{"subject": "a", "subject": "b"}"#,
            "subject",
        ),
        (
            "PUT",
            "/users/u".into(),
            r#"{"name": "a", "name": "b"}"#,
            "name",
        ),
        (
            "PUT",
            "/users".into(),
            r#"{"u": {"name": "a"}, "u": {"name": "b"}}"#,
            "u",
        ),
        (
            "POST",
            "/conversations/c/messages".into(),
            r#"[{"text": "a", "text": "b", "type": "SystemMessage"}]"#,
            "[0].text",
        ),
        (
            "PUT",
            format!("/conversations/c/messages/{msg}"),
            r#"{"text": "a", "text": "b"}"#,
            "text",
        ),
        (
            "PUT",
            "/conversations/c/participants/v".into(),
            r#"{"access": "Read", "access": "ReadWrite"}"#,
            "access",
        ),
        (
            "PATCH",
            "/conversations/c/participants/u".into(),
            r#"{"notify": false, "notify": true}"#,
            "notify",
        ),
    ];
    for (method, path, body, key) in writes {
        let resp = api.request(
            method,
            &path,
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        );
        let err = resp.error(400, "INVALID_JSON");
        assert_eq!(
            err["reasons"][key], "duplicate key",
            "{method} {path}: {err}"
        );
        assert!(err["message"].as_str().unwrap().contains(key), "{err}");
    }
    let conversation = api.fetch("/conversations/c");
    assert_eq!(conversation["subject"], "kept");
    assert_eq!(conversation["custom"], json!({}));
    assert_eq!(
        conversation["participants"].as_object().unwrap().len(),
        1,
        "{conversation}"
    );
    assert_eq!(conversation["participants"]["u"]["notify"], true);
    assert_eq!(api.fetch("/users/u")["name"], "kept");
    let messages = api.fetch("/conversations/c/messages");
    assert_eq!(messages["data"].as_array().unwrap().len(), 1);
    assert_eq!(messages["data"][0]["text"], "kept");
    api.get("/conversations/participants=u,v")
        .error(404, "NOT_FOUND");
}

#[test]
fn nesting_deeper_than_64_levels_is_a_400_naming_the_place() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let deep = format!(
        r#"{{"custom": {{"k": {}{}}}}}"#,
        "[".repeat(70),
        "]".repeat(70)
    );
    let err = api
        .put_raw("/conversations/c", deep.as_bytes())
        .error(400, "INVALID_JSON");
    let (path, reason) = err["reasons"].as_object().unwrap().iter().next().unwrap();
    assert!(path.starts_with("custom.k[0]"), "{err}");
    assert!(reason.as_str().unwrap().contains("64"), "{err}");
    // 64 levels are fine as JSON (and then refused by the field rules, not the parser).
    let ok = format!("{{\"custom\": {}{}}}", "[".repeat(63), "]".repeat(63));
    api.put_raw("/conversations/c", ok.as_bytes())
        .error(400, "INVALID_FIELD");
}

fn raw_with_auth(base: &str, authorizations: &[&str]) -> (u16, String) {
    let mut request = format!("GET /v1/{APP}/conversations HTTP/1.1\r\nHost: x\r\n");
    for a in authorizations {
        request.push_str(&format!("Authorization: {a}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    common::raw_status(base, request.as_bytes())
}

#[test]
fn more_than_one_authorization_header_is_401() {
    let (server, _dir) = TestServer::fresh();
    let valid = format!("Bearer {KEY}");
    let other = format!("Bearer {OTHER_KEY}");
    assert_eq!(raw_with_auth(&server.base, &[&valid]).0, 200);
    for pair in [
        [valid.as_str(), "garbage"],
        [valid.as_str(), other.as_str()],
        [other.as_str(), valid.as_str()],
        [valid.as_str(), valid.as_str()],
    ] {
        let (status, answer) = raw_with_auth(&server.base, &pair);
        assert_eq!(status, 401, "{pair:?}: {answer}");
        let body = json_body_of(&answer);
        assert_eq!(body["errorCode"], "UNAUTHORIZED");
        assert!(body["message"].as_str().unwrap().contains("more than one"));
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// The bound of docs/operations.md: twenty 1 MiB bodies at once add at most this much to the
/// server's peak memory (they would add ~100 MiB if parsed into values unchecked).
const PARALLEL_BODIES_PEAK_GROWTH_MIB: u64 = 64;

#[test]
fn parallel_bodies_of_nested_arrays_keep_the_peak_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(&dir.path().join("p.db"));
    let server = Process::start(
        &[],
        &[
            ("PARLEY__DATABASE__URL", url),
            (&format!("PARLEY__APPS__{APP}__SECRET_KEY"), KEY.to_string()),
            ("PARLEY__SERVER__WORKERS", "2".into()),
        ],
        dir.path(),
    );
    let api = common::Api::new(&server.base, APP, KEY);
    api.put("/conversations/warm", &json!({"subject": "x"}))
        .ok_empty();
    let before = peak_rss_kib(server.child.id());
    let limit = 1024 * 1024;
    // `[[1],[1],...]`: four bytes of body, two values and an allocation each.
    let mut wide = String::from("{\"custom\": [");
    while wide.len() < limit - 16 {
        wide.push_str("[1],");
    }
    wide.push_str("[1]]}");
    // `[[[[...]]]]`: as deep as the body allows.
    let deep = format!("{}{}", "[".repeat(limit / 2 - 1), "]".repeat(limit / 2 - 1));
    let threads: Vec<_> = (0..20)
        .map(|i| {
            let body = if i % 2 == 0 {
                wide.clone()
            } else {
                deep.clone()
            };
            let url = api.url(&format!("/conversations/n{i}"));
            std::thread::spawn(move || {
                send(
                    "PUT",
                    &url,
                    &[
                        ("Authorization", &format!("Bearer {KEY}")),
                        ("Content-Type", "application/json"),
                    ],
                    Some(body.as_bytes()),
                )
            })
        })
        .collect();
    for t in threads {
        let resp = t.join().unwrap();
        assert_eq!(resp.status, 400, "{}", resp.text);
    }
    let grown_mib = peak_rss_kib(server.child.id()).saturating_sub(before) / 1024;
    println!(
        "peak RSS grew by {grown_mib} MiB (from {} MiB)",
        before / 1024
    );
    assert!(
        grown_mib <= PARALLEL_BODIES_PEAK_GROWTH_MIB,
        "peak RSS grew by {grown_mib} MiB"
    );
    api.fetch("/conversations/warm");
}

/// Requests that actix-web's HTTP/1 parser refuses before any handler runs are answered with a
/// status and no body (docs/operations.md lists them); the server stays healthy.
#[test]
fn malformed_requests_refused_by_the_http_parser_get_their_status_and_a_close() {
    let (server, _dir) = TestServer::fresh();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("malformed request line", b"GET\r\n\r\n".to_vec(), 400),
        (
            "control byte in the path",
            b"GET /v1/a\x01b HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "Content-Length with Transfer-Encoding",
            format!(
                "PUT /v1/{APP}/conversations/c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\
                 Transfer-Encoding: chunked\r\n\r\n{{}}"
            )
            .into_bytes(),
            400,
        ),
        (
            "two different Content-Lengths",
            format!(
                "PUT /v1/{APP}/conversations/c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\
                 Content-Length: 3\r\n\r\n{{}}"
            )
            .into_bytes(),
            400,
        ),
        (
            "too many headers",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
                (0..200)
                    .map(|i| format!("X-H{i}: v\r\n"))
                    .collect::<String>()
            )
            .into_bytes(),
            431,
        ),
        (
            "too large headers",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(200_000)
            )
            .into_bytes(),
            431,
        ),
    ];
    for (what, request, status) in cases {
        let (got, answer) = common::raw_status(&server.base, &request);
        assert_eq!(got, status, "{what}: {answer}");
    }
    // A request head that never ends is cut by the head timeout.
    let mut stream = connect(&server.base);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let answer = read_until_closed(&mut stream);
    assert_eq!(status_of(&answer), 408, "{answer}");
    server.api().fetch("/conversations");
}

#[test]
fn an_unusable_database_path_fails_at_once_with_one_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let is_dir = dir.path().join("a-directory.db");
    std::fs::create_dir(&is_dir).unwrap();
    let mut cases = vec![
        (is_dir.display().to_string(), "is a directory"),
        // Not writable even by root: nothing can be created in /proc/self.
        ("/proc/self/parley.db".to_string(), "not writable"),
    ];
    let read_only = dir.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    let mut perms = std::fs::metadata(&read_only).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&read_only, perms).unwrap();
    let probe = read_only.join("probe");
    if std::fs::File::create(&probe).is_ok() {
        let _ = std::fs::remove_file(&probe);
        eprintln!("*** running as root: the chmod 555 case is covered by /proc/self instead ***");
    } else {
        cases.push((read_only.join("p.db").display().to_string(), "not writable"));
    }
    for (path, cause) in cases {
        let started = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
            .env("PARLEY__DATABASE__URL", format!("sqlite://{path}"))
            .env("PARLEY__SERVER__PORT", "0")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{path}");
        assert!(started.elapsed() < Duration::from_secs(3), "{path}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one message: {stderr}");
        assert!(lines[0].contains(&path), "{stderr}");
        assert!(lines[0].contains(cause), "{stderr}");
        assert!(!stderr.contains("r2d2"), "{stderr}");
    }
}
