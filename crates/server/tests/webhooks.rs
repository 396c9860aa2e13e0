//! Webhooks, the event log and its stream, against the real server and a real HTTP receiver on
//! loopback.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::receiver::{free_port, Received, Receiver};
use common::{Api, Process, TestServer, APP, KEY};
use hmac::{Hmac, Mac};
use parley_server::settings::AppWebhookSettings;
use serde_json::{json, Value};
use sha2::Sha256;

const WAIT: Duration = Duration::from_secs(20);

fn settings_with_hooks(
    db: &Path,
    urls: &[&str],
    events: Option<&[&str]>,
) -> parley_server::Settings {
    let mut s = common::settings(db);
    s.apps.get_mut(APP).unwrap().webhooks = AppWebhookSettings {
        urls: urls.iter().map(|u| (*u).to_string()).collect(),
        events: events.map(|e| e.iter().map(|t| (*t).to_string()).collect()),
    };
    s
}

fn verify(r: &Received, secret: &str) -> bool {
    let (Some(ts), Some(sig)) = (
        r.header("X-TalkJS-Timestamp"),
        r.header("X-TalkJS-Signature"),
    ) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", r.body).as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    expected == sig
}

fn count(kind: &'static str, n: usize) -> impl Fn(&[Received]) -> bool {
    move |got| got.iter().filter(|r| r.json()["type"] == kind).count() >= n
}

#[test]
fn deliveries_are_signed_and_carry_the_objects_of_the_rest_responses() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(settings_with_hooks(
        &dir.path().join("p.db"),
        &[&receiver.url],
        None,
    ));
    let api = server.api();
    api.put(
        "/users/u1",
        &json!({"name": "Alice", "email": ["a@example.com"]}),
    )
    .ok_empty();
    api.put(
        "/conversations/c1",
        &json!({"participants": ["u1", "u2"], "subject": "Boots"}),
    )
    .ok_empty();
    let sent = api.post(
        "/conversations/c1/messages",
        &json!([{"text": "hello", "sender": "u1", "type": "UserMessage"}]),
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    let msg = sent.json()[0]["id"].as_str().unwrap().to_string();
    let got = receiver.wait_for(WAIT, count("message.sent", 1));
    let first = got
        .iter()
        .find(|r| r.json()["type"] == "message.sent")
        .unwrap()
        .json();
    assert!(first["id"].as_str().unwrap().starts_with("evt_"));
    assert!(first["createdAt"].is_i64());
    let data = &first["data"];
    assert_eq!(
        data["message"],
        api.fetch(&format!("/conversations/c1/messages/{msg}"))
    );
    assert_eq!(data["sender"], api.fetch("/users/u1"));
    assert_eq!(data["conversation"], api.fetch("/conversations/c1"));
    assert_eq!(data["conversation"]["lastMessage"], data["message"]);
    api.post(
        "/conversations/c1/messages",
        &json!([{"text": "from a stranger", "sender": "u2", "type": "UserMessage"}]),
    );
    let got = receiver.wait_for(WAIT, count("message.sent", 2));
    for r in &got {
        assert!(verify(r, KEY), "signature of {}", r.body);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let ts: i64 = r.header("X-TalkJS-Timestamp").unwrap().parse().unwrap();
        assert!((ts - common::now_ms()).abs() < 60_000);
    }
    let mut tampered = got[0].clone();
    tampered.body.push(' ');
    assert!(!verify(&tampered, KEY));
    // A sender that is no user: a stub with every User key and a null name.
    let stranger = receiver
        .of_type("message.sent")
        .into_iter()
        .map(|r| r.json())
        .find(|e| e["data"]["message"]["senderId"] == "u2")
        .unwrap();
    let stub = &stranger["data"]["sender"];
    assert_eq!(stub["id"], "u2");
    assert!(stub["name"].is_null());
    let user_keys: Vec<_> = api
        .fetch("/users/u1")
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let stub_keys: Vec<_> = stub.as_object().unwrap().keys().cloned().collect();
    assert_eq!(stub_keys, user_keys);
    // user.created carries the user as GET returns it.
    let created = &receiver.of_type("user.created")[0];
    assert_eq!(created.json()["data"]["user"], api.fetch("/users/u1"));
    // Parley's own types go only to webhooks that list them.
    assert!(receiver.of_type("conversation.created").is_empty());
    assert!(receiver.of_type("participant.joined").is_empty());
    // Every type is in the log.
    let log = api.fetch("/events?types=conversation.created,participant.joined");
    let types: Vec<_> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "conversation.created",
            "participant.joined",
            "participant.joined"
        ]
    );
    // The delivered body is the event of the log.
    let logged = api.fetch("/events?types=message.sent");
    assert_eq!(logged["data"][0], first);
}

#[test]
fn every_change_produces_its_events_and_a_put_that_changes_nothing_none() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/conversations/c", &json!({"participants": ["a"]}))
        .ok_empty();
    api.put("/conversations/c", &json!({"participants": ["a"]}))
        .ok_empty();
    api.put("/conversations/c", &json!({"subject": "s"}))
        .ok_empty();
    api.put("/conversations/c/participants/b", &json!({}))
        .ok_empty();
    api.patch("/conversations/c/participants/b", &json!({"notify": false}))
        .ok_empty();
    api.delete("/conversations/c/participants/b").ok_empty();
    let sent = api.post(
        "/conversations/c/messages",
        &json!([{"text": "t", "type": "SystemMessage"}]),
    );
    let msg = sent.json()[0]["id"].as_str().unwrap().to_string();
    api.put(
        &format!("/conversations/c/messages/{msg}"),
        &json!({"text": "u"}),
    )
    .ok_empty();
    api.delete(&format!("/conversations/c/messages/{msg}"))
        .ok_empty();
    api.put("/users/u", &json!({"name": "n"})).ok_empty();
    api.put("/users/u", &json!({"name": "n"})).ok_empty();
    api.put("/users/u", &json!({"name": "m"})).ok_empty();
    api.delete("/conversations/c").ok_empty();
    let log = api.fetch("/events?limit=1000");
    let types: Vec<_> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "conversation.created",
            "participant.joined",
            "conversation.updated",
            "participant.joined",
            "participant.updated",
            "participant.left",
            "message.sent",
            "message.updated",
            "message.deleted",
            "user.created",
            "user.updated",
            "conversation.deleted",
        ]
    );
    let events = log["data"].as_array().unwrap();
    // message.deleted: the message as it was, the conversation already without it.
    assert_eq!(events[8]["data"]["message"]["text"], "u");
    assert!(events[8]["data"]["conversation"]["lastMessage"].is_null());
    assert!(events[8]["data"]["sender"].is_null());
    // participant.left: the participant as it was, the conversation after.
    assert_eq!(events[5]["data"]["participant"]["notify"], false);
    assert!(events[5]["data"]["conversation"]["participants"]["b"].is_null());
    assert_eq!(events[5]["data"]["userId"], "b");
    assert!(events[5]["data"]["participant"]["readUntil"].is_i64());
    // conversation.deleted: as it was.
    assert_eq!(events[11]["data"]["conversation"]["subject"], "s");
}

#[test]
fn the_event_log_pages_with_after_and_refuses_unknown_after_types_and_limits() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for i in 0..5 {
        api.put(&format!("/users/u{i}"), &json!({"name": "n"}))
            .ok_empty();
    }
    let page = api.fetch("/events?limit=2");
    let page = page["data"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    let after = page[1]["id"].as_str().unwrap();
    let rest = api.fetch(&format!("/events?after={after}"));
    let rest: Vec<_> = rest["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["user"]["id"].clone())
        .collect();
    assert_eq!(rest, ["u2", "u3", "u4"]);
    api.get("/events?after=evt_nope")
        .error(400, "INVALID_FIELD");
    api.get("/events?types=message.nope")
        .error(400, "INVALID_FIELD");
    api.get("/events?limit=0").error(400, "INVALID_FIELD");
    api.get("/events?limit=1001").error(400, "INVALID_FIELD");
    // Apps are apart.
    let other = Api::new(&server.base, common::OTHER_APP, common::OTHER_KEY);
    assert_eq!(other.fetch("/events")["data"], json!([]));
    other
        .get(&format!("/events?after={after}"))
        .error(400, "INVALID_FIELD");
    // The log needs the app's key.
    let anonymous = Api::new(&server.base, APP, "sk_wrong");
    anonymous.get("/events").error(401, "UNAUTHORIZED");
    anonymous
        .get("/webhooks/deliveries")
        .error(401, "UNAUTHORIZED");
}

#[test]
fn a_receiver_that_fails_three_times_gets_the_event_four_times_and_then_no_more() {
    let receiver = Receiver::start();
    receiver.answer(&[500, 500, 500]);
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(settings_with_hooks(
        &dir.path().join("p.db"),
        &[&receiver.url],
        None,
    ));
    let api = server.api();
    api.put("/users/u", &json!({"name": "n"})).ok_empty();
    // Retries after 1, 2 and 4 seconds.
    let got = receiver.wait_for(WAIT, count("user.created", 4));
    let ids: std::collections::BTreeSet<_> =
        got.iter().map(|r| r.json()["id"].to_string()).collect();
    assert_eq!(ids.len(), 1, "the same event every time");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(receiver.of_type("user.created").len(), 4);
    let deliveries = api.fetch("/webhooks/deliveries");
    let d = &deliveries["data"][0];
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 4);
    assert_eq!(d["lastStatus"], 200);
    assert!(d["lastError"].is_null());
    assert!(d["nextAttemptAt"].is_null());
    assert_eq!(d["url"], receiver.url.as_str());
    assert_eq!(d["eventId"], got[0].json()["id"]);
}

#[test]
fn a_receiver_that_is_down_gets_every_event_once_it_is_back() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(settings_with_hooks(&dir.path().join("p.db"), &[&url], None));
    let api = server.api();
    for i in 0..3 {
        api.put(&format!("/users/u{i}"), &json!({"name": "n"}))
            .ok_empty();
    }
    std::thread::sleep(Duration::from_millis(500));
    let pending = api.fetch("/webhooks/deliveries?status=pending");
    let pending = pending["data"].as_array().unwrap();
    assert_eq!(pending.len(), 3);
    assert!(pending
        .iter()
        .all(|d| d["lastError"] == "connection refused"));
    assert!(pending.iter().all(|d| d["lastStatus"].is_null()));
    assert!(pending.iter().all(|d| d["nextAttemptAt"].is_i64()));
    let receiver = Receiver::start_on(port);
    let got = receiver.wait_for(WAIT, count("user.created", 3));
    let users: std::collections::BTreeSet<_> = got
        .iter()
        .map(|r| r.json()["data"]["user"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(users.len(), 3);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.received().len(), 3, "each event once");
    assert_eq!(
        api.fetch("/webhooks/deliveries?status=delivered")["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn with_no_retries_a_failed_delivery_is_failed_at_once_and_can_be_retried() {
    let receiver = Receiver::start();
    receiver.answer(&[503]);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_with_hooks(&dir.path().join("p.db"), &[&receiver.url], None);
    settings.webhooks.retry_hours = 0.0;
    let server = TestServer::start(settings);
    let api = server.api();
    api.put("/users/u", &json!({"name": "n"})).ok_empty();
    receiver.wait_for(WAIT, count("user.created", 1));
    std::thread::sleep(Duration::from_millis(300));
    let failed = api.fetch("/webhooks/deliveries?status=failed");
    let d = &failed["data"][0];
    assert_eq!(d["attempts"], 1, "{failed}");
    assert_eq!(d["lastStatus"], 503);
    let event = d["eventId"].as_str().unwrap().to_string();
    api.post(&format!("/webhooks/deliveries/{event}/retry"), &json!({}))
        .ok_empty();
    receiver.wait_for(WAIT, count("user.created", 2));
    std::thread::sleep(Duration::from_millis(300));
    let delivered = api.fetch("/webhooks/deliveries?status=delivered");
    assert_eq!(delivered["data"][0]["attempts"], 2);
    api.post("/webhooks/deliveries/evt_nope/retry", &json!({}))
        .error(404, "NOT_FOUND");
    api.get("/webhooks/deliveries?status=lost")
        .error(400, "INVALID_FIELD");
    api.get("/webhooks/deliveries?limit=101")
        .error(400, "INVALID_FIELD");
}

/// Reads SSE records from a raw connection: (id, event, data).
struct Sse {
    reader: BufReader<TcpStream>,
}

impl Sse {
    fn open(base: &str, query: &str, last_event_id: Option<&str>) -> Self {
        let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let resume = last_event_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET /v1/{APP}/events/stream{query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n{resume}\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        let mut content_type = String::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
            if h.to_ascii_lowercase().starts_with("content-type:") {
                content_type = h;
            }
        }
        assert!(content_type.contains("text/event-stream"), "{content_type}");
        Self { reader }
    }

    /// The next event record (skipping comments and chunk framing).
    fn next(&mut self) -> (String, String, Value) {
        let (mut id, mut event) = (String::new(), String::new());
        loop {
            let mut line = String::new();
            assert!(
                self.reader.read_line(&mut line).unwrap() > 0,
                "stream ended"
            );
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(v) = line.strip_prefix("id: ") {
                id = v.to_string();
            } else if let Some(v) = line.strip_prefix("event: ") {
                event = v.to_string();
            } else if let Some(v) = line.strip_prefix("data: ") {
                return (id, event, serde_json::from_str(v).unwrap());
            }
        }
    }
}

#[test]
fn the_stream_replays_from_last_event_id_then_goes_live_in_order_without_skipping() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    for i in 0..3 {
        api.put(&format!("/users/u{i}"), &json!({"name": "n"}))
            .ok_empty();
    }
    // Without a resume point: only what is recorded after connecting.
    let mut live = Sse::open(&server.base, "", None);
    api.put("/users/u3", &json!({"name": "n"})).ok_empty();
    let (id3, kind, data) = live.next();
    assert_eq!(kind, "user.created");
    assert_eq!(data["id"], id3.as_str());
    assert_eq!(data["data"]["user"]["id"], "u3");
    drop(live);
    // Resume after the second event: u2, u3 replayed, then live events, in order.
    let log = api.fetch("/events");
    let second = log["data"][1]["id"].as_str().unwrap().to_string();
    let mut resumed = Sse::open(&server.base, "", Some(&second));
    let replayed: Vec<_> = (0..2)
        .map(|_| resumed.next().2["data"]["user"]["id"].clone())
        .collect();
    assert_eq!(replayed, ["u2", "u3"]);
    for i in 4..8 {
        api.put(&format!("/users/u{i}"), &json!({"name": "n"}))
            .ok_empty();
    }
    let live: Vec<_> = (0..4)
        .map(|_| resumed.next().2["data"]["user"]["id"].clone())
        .collect();
    assert_eq!(live, ["u4", "u5", "u6", "u7"]);
    // The same through `after` with a type filter.
    let mut filtered = Sse::open(
        &server.base,
        &format!("?after={second}&types=user.updated"),
        None,
    );
    api.put("/users/u0", &json!({"name": "renamed"})).ok_empty();
    let (_, kind, data) = filtered.next();
    assert_eq!(kind, "user.updated");
    assert_eq!(data["data"]["user"]["name"], "renamed");
}

fn config_file(dir: &Path, url: &str, hooks: &[&str]) -> std::path::PathBuf {
    let path = dir.join("parley.toml");
    let urls: Vec<String> = hooks.iter().map(|h| format!("{h:?}")).collect();
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = {url:?}\n[server]\nworkers = 2\n[apps.{APP}]\nsecret_key = {KEY:?}\n\
             [apps.{APP}.webhooks]\nurls = [{}]\n",
            urls.join(", ")
        ),
    )
    .unwrap();
    path
}

#[test]
fn an_event_acknowledged_before_a_kill_9_is_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let db = common::database_url(&dir.path().join("p.db"));
    let config = config_file(dir.path(), &db, &[&url]);
    let config_arg = config.display().to_string();
    let server = Process::start(&["--config", &config_arg], &[], dir.path());
    let api = Api::new(&server.base, APP, KEY);
    api.put("/users/survivor", &json!({"name": "n"})).ok_empty();
    server.kill_9();
    let receiver = Receiver::start_on(port);
    let server = Process::start(&["--config", &config_arg], &[], dir.path());
    // A delivery leased by the killed process is taken over when its lease runs out (15 s).
    let got = receiver.wait_for(Duration::from_secs(40), count("user.created", 1));
    assert_eq!(got[0].json()["data"]["user"]["id"], "survivor");
    assert!(verify(&got[0], KEY));
    drop(server);
}

#[test]
fn a_webhook_url_that_is_not_http_is_a_start_up_error_naming_the_app() {
    let dir = tempfile::tempdir().unwrap();
    for (url, why) in [
        ("ftp://example.com/hook", "not an http(s) URL"),
        ("not a url", "is not a URL"),
    ] {
        let config = config_file(dir.path(), "memory://", &[url]);
        let err = parley_server::Settings::load(Some(&config))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("apps.{APP}.webhooks")), "{err}");
        assert!(err.contains(why), "{err}");
    }
    // A URL listed twice is one webhook: each event is delivered to it once.
    let twice = config_file(dir.path(), "memory://", &["http://x/h", "http://x/h"]);
    let hooks = parley_server::Settings::load(Some(&twice))
        .unwrap()
        .webhooks()
        .unwrap();
    assert_eq!(hooks.values().next().unwrap().len(), 1);
    let path = dir.path().join("types.toml");
    std::fs::write(
        &path,
        format!(
            "[apps.{APP}]\nsecret_key = \"k\"\n[apps.{APP}.webhooks]\nurls = [\"http://x/h\"]\n\
             events = [\"message.sent\", \"message.nope\"]\n"
        ),
    )
    .unwrap();
    let err = parley_server::Settings::load(Some(&path))
        .unwrap_err()
        .to_string();
    assert!(err.contains("message.nope"), "{err}");
}

/// The receiver example of docs/webhooks.md, in Node when the machine has it, else in Python,
/// verifies the signature of a real delivery.
#[test]
fn the_documented_receiver_example_verifies_a_real_delivery() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let node = std::process::Command::new("node").arg("--version").output();
    let (program, script) = if node.is_ok_and(|o| o.status.success()) {
        ("node", root.join("examples/webhook-receiver.js"))
    } else {
        eprintln!("*** node is not installed: checking the Python receiver example instead ***");
        ("python3", root.join("examples/webhook-receiver.py"))
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("received.txt");
    /// Stops the receiver however the test ends.
    struct Stopped(std::process::Child);
    impl Drop for Stopped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Stopped(
        std::process::Command::new(program)
            .arg(&script)
            .env("PORT", "0")
            .env("SECRET", KEY)
            .env("OUT", &out)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the example receiver"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let url = format!("http://127.0.0.1:{port}/hook");
    let server = TestServer::start(settings_with_hooks(&dir.path().join("p.db"), &[&url], None));
    server
        .api()
        .put("/users/u", &json!({"name": "n"}))
        .ok_empty();
    let started = std::time::Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if !text.is_empty() || started.elapsed() > WAIT {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("ok evt_"), "{program}: {text:?}");
    assert!(first.ends_with(" user.created"), "{text:?}");
    // The outcome is recorded right after the receiver answered.
    let started = std::time::Instant::now();
    loop {
        let delivered = server.api().fetch("/webhooks/deliveries?status=delivered");
        let n = delivered["data"].as_array().unwrap().len();
        if n == 1 || started.elapsed() > WAIT {
            assert_eq!(n, 1, "{delivered}");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Only now (on drop): the receiver writes its line before it answers, and a receiver
    // stopped in between would leave the delivery to be retried.
    drop(child);
}

#[test]
fn two_servers_on_postgresql_deliver_each_event_once_and_stream_each_others_events() {
    if !common::on_postgres() {
        eprintln!("*** not on PostgreSQL (PARLEY_TEST_BACKEND=postgres): skipped here ***");
        return;
    }
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(&dir.path().join("shared.db"));
    let config = config_file(dir.path(), &db, &[&receiver.url]);
    let config_arg = config.display().to_string();
    let a = Process::start(&["--config", &config_arg], &[], dir.path());
    let b = Process::start(&["--config", &config_arg], &[], dir.path());
    let (api_a, api_b) = (Api::new(&a.base, APP, KEY), Api::new(&b.base, APP, KEY));
    let mut stream_on_a = Sse::open(&a.base, "", None);
    let writers: Vec<_> = [api_a.clone(), api_b.clone()]
        .into_iter()
        .enumerate()
        .map(|(w, api)| {
            std::thread::spawn(move || {
                for i in 0..20 {
                    api.put(&format!("/users/w{w}-{i}"), &json!({"name": "n"}))
                        .ok_empty();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let got = receiver.wait_for(WAIT, count("user.created", 40));
    std::thread::sleep(Duration::from_secs(3));
    let got_now = receiver.received();
    assert_eq!(got_now.len(), 40, "each event once, not {}", got_now.len());
    let ids: std::collections::BTreeSet<_> =
        got.iter().map(|r| r.json()["id"].to_string()).collect();
    assert_eq!(ids.len(), 40);
    // The stream on A sees B's events too, in the log's order.
    let log = api_b.fetch("/events?limit=1000");
    let expected: Vec<_> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let streamed: Vec<_> = (0..40).map(|_| stream_on_a.next().0).collect();
    assert_eq!(streamed, expected);
    drop((a, b));
}

#[test]
fn moving_read_until_over_messages_of_others_is_one_message_read_per_message_and_reader() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/users/me", &json!({"name": "Me"})).ok_empty();
    api.put("/conversations/c", &json!({"participants": ["me", "you"]}))
        .ok_empty();
    common::pause();
    let sent = |sender: &str, text: &str| {
        let resp = api.post(
            "/conversations/c/messages",
            &json!([{"text": text, "sender": sender, "type": "UserMessage"}]),
        );
        assert_eq!(resp.status, 200, "{}", resp.text);
        common::pause();
        resp.json()[0]["id"].as_str().unwrap().to_string()
    };
    let first = sent("you", "one");
    let second = sent("you", "two");
    // A PATCH moving readUntil over both: one event, for the newest.
    api.patch(
        "/conversations/c/participants/me",
        &json!({"readUntil": common::now_ms()}),
    )
    .ok_empty();
    // Moving it again over nothing new: none.
    common::pause();
    api.patch(
        "/conversations/c/participants/me",
        &json!({"readUntil": common::now_ms()}),
    )
    .ok_empty();
    let third = sent("you", "three");
    // Sending moves the sender's readUntil over what came before: one event for "three".
    sent("me", "reply");
    let log = api.fetch("/events?types=message.read");
    let reads = log["data"].as_array().unwrap();
    let shown: Vec<_> = reads
        .iter()
        .map(|e| {
            (
                e["data"]["message"]["id"].as_str().unwrap().to_string(),
                e["data"]["recipient"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (second.clone(), "me".to_string()),
            (third.clone(), "me".to_string())
        ],
        "{log}"
    );
    assert_ne!(first, second);
    // The recipient is the user as GET returns it; the message shows it read by them.
    assert_eq!(reads[0]["data"]["recipient"], api.fetch("/users/me"));
    assert_eq!(reads[0]["data"]["message"]["readBy"], json!(["me"]));
    assert_eq!(reads[0]["data"]["conversation"]["id"], "c");
    // Nobody reads their own messages.
    assert!(reads.iter().all(|e| e["data"]["recipient"]["id"] != "you"));
    // A PATCH back (marking them unread) and forward again reads nothing newly.
    let read_until = |t: i64| {
        api.patch("/conversations/c/participants/me", &json!({"readUntil": t}))
            .ok_empty()
    };
    read_until(0);
    common::pause();
    read_until(common::now_ms());
    let count = || {
        api.fetch("/events?types=message.read")["data"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(), 2);
    // A message beyond the highest readUntil ever is newly read ("you" reads "reply" by
    // sending "four", "me" reads "four" by the PATCH).
    let fourth = sent("you", "four");
    read_until(0);
    read_until(common::now_ms());
    let log = api.fetch("/events?types=message.read");
    assert_eq!(count(), 4, "{log}");
    assert_eq!(log["data"][3]["data"]["message"]["id"], fourth, "{log}");
    assert_eq!(log["data"][3]["data"]["recipient"]["id"], "me", "{log}");
}
