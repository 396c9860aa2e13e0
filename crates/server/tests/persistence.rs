//! Durability, start-up and configuration, with the server restarted in-process or run as the
//! real `parley` binary.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{send, settings, Api, Process, TestServer, APP, KEY};
use serde_json::json;

#[test]
fn data_survives_a_restart_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let server = TestServer::start(settings(&db));
    server
        .api()
        .put(
            "/conversations/keep",
            &json!({"participants": ["a"], "subject": "s", "custom": {"k": "v"}}),
        )
        .ok_empty();
    let before = server.api().fetch("/conversations/keep");
    server.stop();

    let again = TestServer::start(settings(&db));
    assert_eq!(again.api().fetch("/conversations/keep"), before);
}

fn db_env(db: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("PARLEY__DATABASE__URL", common::database_url(db)),
        ("PARLEY__APPS__TESTAPP__SECRET_KEY", KEY.to_string()),
    ]
}

#[test]
fn every_acknowledged_put_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let process = Process::start(&[], &db_env(&db), dir.path());
    let api = Api::new(&process.base, APP, KEY);

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (api, acknowledged, stop) = (api.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let path = format!("/conversations/conv-{}", i % 5);
                    let user = format!("w{w}-{i}");
                    let body = json!({"participants": [user], "custom": {user.clone(): "1"}});
                    let url = api.url(&path);
                    let auth = format!("Bearer {}", api.key);
                    // The server dies mid-flight: transport errors are expected then.
                    let result = ureq::put(&url)
                        .set("Authorization", &auth)
                        .set("Content-Type", "application/json")
                        .timeout(Duration::from_secs(10))
                        .send_string(&body.to_string());
                    if matches!(result, Ok(ref r) if r.status() == 200) {
                        acknowledged.lock().unwrap().push((path, user));
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    process.kill_9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "only {} writes acknowledged",
        acknowledged.len()
    );

    let restarted = Process::start(&[], &db_env(&db), dir.path());
    let api = Api::new(&restarted.base, APP, KEY);
    for c in 0..5 {
        let path = format!("/conversations/conv-{c}");
        let got = api.fetch(&path);
        for (p, user) in acknowledged.iter().filter(|(p, _)| *p == path) {
            assert!(
                got["participants"][user].is_object(),
                "acknowledged participant {user} of {p} is lost"
            );
            assert_eq!(
                got["custom"][user], "1",
                "acknowledged key {user} of {p} is lost"
            );
        }
    }
    restarted.terminate();
}

/// Message sends from 16 writers at once (so that SQLite's group commit puts many of them in one
/// transaction), killed mid-flight: every acknowledged message is there after the restart.
#[test]
fn every_acknowledged_message_of_concurrent_writers_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let process = Process::start(&[], &db_env(&db), dir.path());
    let api = Api::new(&process.base, APP, KEY);
    for c in 0..4 {
        api.put(
            &format!("/conversations/send-{c}"),
            &json!({"participants": ["a"]}),
        )
        .ok_empty();
    }
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (api, acknowledged, stop) = (api.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let conversation = format!("send-{}", (w + i) % 4);
                    let url = api.url(&format!("/conversations/{conversation}/messages"));
                    let body = json!([{"text": format!("w{w}-{i}"), "sender": "a", "type": "UserMessage"}]);
                    let result = ureq::post(&url)
                        .set("Authorization", &format!("Bearer {}", api.key))
                        .set("Content-Type", "application/json")
                        .timeout(Duration::from_secs(10))
                        .send_string(&body.to_string());
                    if let Ok(resp) = result {
                        if resp.status() == 200 {
                            let ids: serde_json::Value = resp.into_json().unwrap();
                            let id = ids[0]["id"].as_str().unwrap().to_string();
                            acknowledged.lock().unwrap().push((conversation, id));
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    process.kill_9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "only {} sends acknowledged",
        acknowledged.len()
    );
    let restarted = Process::start(&[], &db_env(&db), dir.path());
    let api = Api::new(&restarted.base, APP, KEY);
    for (conversation, id) in &acknowledged {
        let resp = api.get(&format!("/conversations/{conversation}/messages/{id}"));
        assert_eq!(resp.status, 200, "acknowledged message {id} is lost");
    }
    restarted.terminate();
}

#[test]
fn without_configured_apps_a_demo_app_is_created_once_and_its_curl_works() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("PARLEY__DATABASE__URL", "sqlite://data/dev.db".to_string())];
    let first = Process::start(&["serve"], &env, dir.path());
    let base = first.base.clone();
    let (status, out) = first.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        dir.path().join("data/dev.db").exists(),
        "relative sqlite path is under the cwd"
    );
    let key = out
        .split_whitespace()
        .find(|w| w.starts_with("sk_test_"))
        .unwrap_or_else(|| panic!("no key printed: {out}"))
        .to_string();
    assert!(out.contains("curl -X PUT"), "{out}");
    assert!(out.contains(&base), "{out}");

    let second = Process::start(&[], &env, dir.path());
    let api = Api::new(&second.base, "demo", &key);
    api.put(
        "/conversations/hello",
        &json!({"participants": ["alice", "bob"]}),
    )
    .ok_empty();
    assert!(api.fetch("/conversations/hello")["participants"]["bob"].is_object());
    let (_, out) = second.terminate();
    assert!(
        out.contains(&key),
        "the same key is kept across restarts: {out}"
    );
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start(&[], &db_env(&dir.path().join("p.db")), dir.path());
    let api = Api::new(&process.base, APP, KEY);
    api.put("/conversations/x", &json!({})).ok_empty();
    let (status, _) = process.terminate();
    assert!(status.success(), "{status:?}");
}

fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.args(args)
        .current_dir(dir.path())
        .env("PARLEY__SERVER__PORT", "0");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.success(), stderr)
}

#[test]
fn configuration_errors_stop_start_up_with_a_clear_message() {
    let (ok, err) = run_to_exit(&["--config", "/nonexistent/parley.toml"], &[]);
    assert!(!ok);
    assert!(
        err.contains("cannot read config file /nonexistent/parley.toml"),
        "{err}"
    );

    let (ok, err) = run_to_exit(&[], &[("PARLEY__DATABASE__URL", "mysql://localhost/x")]);
    assert!(!ok);
    assert!(err.contains("unsupported scheme `mysql`"), "{err}");

    let (ok, err) = run_to_exit(&[], &[("PARLEY__SERVER__PORT", "not-a-port")]);
    assert!(!ok);
    assert!(err.contains("invalid configuration"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nprot = 1\n").unwrap();
    let (ok, err) = run_to_exit(&["--config", bad.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(err.contains("prot"), "a typo'd key is named: {err}");
}

#[test]
fn config_file_overrides_defaults_and_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parley.toml");
    std::fs::write(
        &file,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n[apps.fileapp]\nsecret_key = \"sk_test_from_file\"\n\n[limits]\nsubject_bytes = 3\n",
            dir.path().join("from-file.db").display()
        ),
    )
    .unwrap();
    let args = ["--config", file.to_str().unwrap()];

    let from_file = Process::start(&args, &[], dir.path());
    let api = Api::new(&from_file.base, "fileapp", "sk_test_from_file");
    api.put("/conversations/c", &json!({"subject": "abcd"}))
        .error(400, "LIMIT_EXCEEDED");
    api.put("/conversations/c", &json!({"subject": "abc"}))
        .ok_empty();
    from_file.terminate();
    assert!(dir.path().join("from-file.db").exists());

    let env = [
        (
            "PARLEY__DATABASE__URL",
            format!("sqlite://{}", dir.path().join("from-env.db").display()),
        ),
        ("PARLEY__LIMITS__SUBJECT_BYTES", "5".to_string()),
    ];
    let from_env = Process::start(&args, &env, dir.path());
    let api = Api::new(&from_env.base, "fileapp", "sk_test_from_file");
    api.put("/conversations/c", &json!({"subject": "abcde"}))
        .ok_empty();
    let status = send("GET", &api.url("/conversations/c"), &[], None).status;
    assert_eq!(status, 401);
    from_env.terminate();
    assert!(dir.path().join("from-env.db").exists());
}

#[test]
fn memory_storage_is_selected_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PARLEY__DATABASE__URL", "memory://".to_string()),
        ("PARLEY__APPS__TESTAPP__SECRET_KEY", KEY.to_string()),
    ];
    let process = Process::start(&[], &env, dir.path());
    let api = Api::new(&process.base, APP, KEY);
    api.put("/conversations/m", &json!({"subject": "in memory"}))
        .ok_empty();
    assert_eq!(api.fetch("/conversations/m")["subject"], "in memory");
    process.terminate();
    assert!(
        !dir.path().join("data").exists(),
        "memory:// writes no files"
    );
}
