//! PostgreSQL going away: start-up fails with a clear message when the database is unreachable;
//! while running, requests get 503 with the JSON error body, and the server recovers by itself
//! when the database is back. The outage test runs its own throwaway cluster
//! (`scripts/pg-throwaway.sh`), so that stopping it does not disturb other tests.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{on_postgres, send, settings, Api, TestServer, APP, KEY};
use parley_store_diesel::testing;
use serde_json::json;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-throwaway.sh")
}

/// Like [`cluster`], `None` when the script fails (its stderr is printed).
fn try_cluster(args: &[&str]) -> Option<String> {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("PG_DURABLE", "1")
        .output()
        .expect("run pg-throwaway.sh");
    if out.status.success() {
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        eprintln!(
            "pg-throwaway.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        None
    }
}

fn cluster(args: &[&str]) -> String {
    // Durable settings: the outage is an immediate shutdown, and what was acknowledged before
    // it must be there after it.
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("PG_DURABLE", "1")
        .output()
        .expect("run pg-throwaway.sh");
    assert!(
        out.status.success(),
        "pg-throwaway.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stops and deletes the cluster when the test ends, however it ends.
struct Cluster(String);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", &self.0])
            .output();
    }
}

#[test]
fn start_up_fails_with_a_clear_message_when_postgres_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1.
    let out = Command::new(env!("CARGO_BIN_EXE_parley"))
        .current_dir(dir.path())
        .env("PARLEY__SERVER__PORT", "0")
        .env(
            "PARLEY__DATABASE__URL",
            "postgres://parley:topsecret@127.0.0.1:1/parley",
        )
        .env("PARLEY__DATABASE__CONNECTION_TIMEOUT_SECS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("cannot open database postgres://parley:***@127.0.0.1:1/parley"),
        "names the database: {stderr}"
    );
    assert!(
        !stderr.contains("topsecret"),
        "never the password: {stderr}"
    );
}

/// GETs and PUTs of `c1` from four threads at once, ten each: the failures.
fn burst(api: &Api, label: &str) -> Vec<String> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                scope.spawn(move || {
                    let mut failed = Vec::new();
                    for i in 0..10 {
                        let get = api.get("/conversations/c1");
                        if get.status != 200 {
                            failed.push(format!("GET {}: {}", get.status, get.text));
                        }
                        let body = json!({"subject": format!("{label} {w} {i}")});
                        let put = api.put("/conversations/c1", &body);
                        if put.status != 200 {
                            failed.push(format!("PUT {}: {}", put.status, put.text));
                        }
                    }
                    failed
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

#[test]
fn an_outage_gives_503_and_the_server_recovers_by_itself() {
    if testing::server_url("the PostgreSQL outage test").is_none() {
        return;
    }
    if on_postgres() {
        eprintln!("(the PostgreSQL outage test runs in the first pass, not again here)");
        return;
    }
    // A free port below the ephemeral range (32768 up), where clients' own ports come from; a
    // port taken meanwhile by something else is tried again with another.
    let (dir, env) = (0..5)
        .find_map(|_| {
            let dir = format!(
                "/tmp/parley-outage-{}-{}",
                std::process::id(),
                rand::random::<u32>()
            );
            let port = 20000 + rand::random::<u16>() % 12000;
            let started = try_cluster(&["start", &dir, &port.to_string()]);
            if started.is_none() {
                let _ = try_cluster(&["stop", &dir]);
            }
            started.map(|env| (dir, env))
        })
        .expect("a throwaway cluster starts on one of five ports");
    let _cluster = Cluster(dir.clone());
    let url = env
        .lines()
        .find_map(|l| l.strip_prefix("PARLEY_PG_URL="))
        .expect("cluster URL")
        .to_string();

    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(&tmp.path().join("unused.db"));
    s.database.url = url;
    s.database.connection_timeout_secs = 1;
    let server = TestServer::start(s);
    let api = Api::new(&server.base, APP, KEY);
    api.put("/conversations/c1", &json!({"subject": "during"}))
        .ok_empty();
    // Several connections open in the pool, for the outage to kill.
    let failures = burst(&api, "before");
    assert!(failures.is_empty(), "before the outage: {failures:?}");
    api.put("/conversations/c1", &json!({"subject": "before"}))
        .ok_empty();

    let ready = format!("{}/health/ready", server.base);
    let resp = send("GET", &ready, &[], None);
    assert_eq!(resp.status, 200, "ready before the outage: {}", resp.text);
    assert_eq!(resp.json()["status"], "ok");

    cluster(&["halt", &dir]);
    let resp = send(
        "GET",
        &api.url("/conversations/c1"),
        &[
            ("Authorization", &format!("Bearer {KEY}")),
            ("X-Request-Id", "outage-probe-1"),
        ],
        None,
    );
    assert_eq!(resp.status, 503, "{}", resp.text);
    let body = resp.json();
    assert_eq!(body["errorCode"], "SERVICE_UNAVAILABLE", "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert_eq!(
        body["requestId"], "outage-probe-1",
        "a 5xx names its request: {body}"
    );
    assert_eq!(resp.headers["x-request-id"], "outage-probe-1");
    let resp = send("GET", &ready, &[], None);
    assert_eq!(
        resp.status, 503,
        "not ready while the database is down: {}",
        resp.text
    );
    assert_eq!(resp.json()["status"], "unavailable", "{}", resp.text);
    assert!(resp.json()["detail"].is_string(), "{}", resp.text);
    let live = send("GET", &format!("{}/health/live", server.base), &[], None);
    assert_eq!(live.status, 200, "the process is alive all the same");
    let resp = api.put("/conversations/c1", &json!({"subject": "during"}));
    assert_eq!(resp.status, 503, "{}", resp.text);

    cluster(&["resume", &dir]);
    // The pool heals by itself, without failing a request: the dead connections it still holds
    // are checked once (the failures above began a new outage epoch) and replaced.
    let resp = api.get("/conversations/c1");
    assert_eq!(
        resp.status, 200,
        "the first request after the outage: {}",
        resp.text
    );
    assert_eq!(
        resp.json()["subject"],
        "before",
        "the refused PUT changed nothing"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while send("GET", &ready, &[], None).status != 200 {
        assert!(Instant::now() < deadline, "readiness did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
    api.put("/conversations/c1", &json!({"subject": "after"}))
        .ok_empty();
    assert_eq!(api.fetch("/conversations/c1")["subject"], "after");
    // Healed: no connection the outage killed is handed out any more, for reads or writes
    // (more requests than the pool has connections, several at once).
    let failures = burst(&api, "after");
    assert!(failures.is_empty(), "after recovery: {failures:?}");
}
