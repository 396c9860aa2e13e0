//! Running Parley as a service: the OpenAPI document it serves, its metrics, health checks,
//! request IDs and logs.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{send, Api, Process, TestServer, APP, KEY};
use serde_json::{json, Value};

fn committed_document() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_served_document_is_the_committed_one_and_openapi_3_1() {
    let (server, _dir) = TestServer::fresh();
    let resp = send("GET", &format!("{}/openapi.json", server.base), &[], None);
    assert_eq!(resp.status, 200, "served without credentials");
    assert!(resp.headers["content-type"].starts_with("application/json"));
    assert!(
        resp.text == committed_document(),
        "docs/openapi.json differs from what the code generates; regenerate it with \
         `cargo run -- openapi --out docs/openapi.json`"
    );
    let doc = resp.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Parley");
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    // Every operation answers with its success and the error body; every reference resolves.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = resp.text.clone();
    for piece in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(schemas.contains_key(name), "dangling $ref to {name}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("200"), "{method} {path}: no 200");
            if path.starts_with("/v1/") {
                assert_eq!(
                    responses["400"]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path}"
                );
            }
        }
    }
    // The routes the server serves are the documented ones (a documented GET answers no 405).
    let api = Api::new(&server.base, APP, KEY);
    for path in [
        "/conversations",
        "/users",
        "/events",
        "/webhooks/deliveries",
    ] {
        assert_eq!(api.get(path).status, 200, "{path}");
    }
}

/// The value of the sample of `name` whose labels include every one of `labels`, or 0.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

fn metrics(base: &str) -> String {
    let resp = send("GET", &format!("{base}/metrics"), &[], None);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(resp.headers["content-type"].starts_with("text/plain"));
    resp.text
}

#[test]
fn metrics_count_requests_by_route_template_and_carry_no_ids() {
    let (server, _dir) = TestServer::fresh();
    let api = Api::new(&server.base, APP, KEY);
    let route = [
        ("route", "/v1/{appId}/conversations/{conversationId}"),
        ("method", "GET"),
    ];
    let found = [route[0], route[1], ("status", "200")];
    let missing = [route[0], route[1], ("status", "404")];
    let before = metrics(&server.base);
    api.put(
        "/conversations/secret-conversation-4711",
        &json!({"participants": ["user-with-a-secret-name"], "subject": "private subject"}),
    )
    .ok_empty();
    for _ in 0..3 {
        assert_eq!(
            api.get("/conversations/secret-conversation-4711").status,
            200
        );
    }
    assert_eq!(
        api.get("/conversations/no-such-conversation-0815").status,
        404
    );
    let _ = send(
        "GET",
        &format!("{}/no/such/route/xyz-123", server.base),
        &[],
        None,
    );
    let after = metrics(&server.base);

    let count =
        |text: &str, labels: &[(&str, &str)]| sample(text, "parley_http_requests_total", labels);
    assert_eq!(
        count(&after, &found) - count(&before, &found),
        3.0,
        "{after}"
    );
    assert_eq!(count(&after, &missing) - count(&before, &missing), 1.0);
    let seconds = |text: &str| sample(text, "parley_http_request_duration_seconds_count", &route);
    assert_eq!(
        seconds(&after) - seconds(&before),
        4.0,
        "a latency per request"
    );
    assert!(count(&after, &[("route", "(unmatched)")]) >= 1.0);
    for id in [
        "secret-conversation-4711",
        "user-with-a-secret-name",
        "0815",
        "xyz-123",
        APP,
        KEY,
    ] {
        assert!(!after.contains(id), "metrics carry {id:?}:\n{after}");
    }
    // The storage, the outbox and the process.
    assert!(
        sample(&after, "parley_db_pool_connections", &[]) >= 1.0,
        "{after}"
    );
    assert!(after.contains("parley_db_pool_checkouts_total"), "{after}");
    assert!(after.contains("parley_webhook_outbox_backlog"), "{after}");
    assert!(after.contains("parley_sqlite_writer_queue"), "{after}");
    if cfg!(target_os = "linux") {
        assert!(
            sample(&after, "process_resident_memory_bytes", &[]) > 0.0,
            "{after}"
        );
    }
}

#[test]
fn health_checks_answer_without_credentials() {
    let (server, _dir) = TestServer::fresh();
    for path in ["/health/live", "/health/ready"] {
        let resp = send("GET", &format!("{}{path}", server.base), &[], None);
        assert_eq!(resp.status, 200, "{path}: {}", resp.text);
        assert_eq!(resp.json(), json!({"status": "ok"}), "{path}");
    }
}

#[test]
fn a_request_id_is_honoured_or_made_and_always_returned() {
    let (server, _dir) = TestServer::fresh();
    let url = format!("{}/v1/{APP}/conversations", server.base);
    let auth = format!("Bearer {KEY}");
    let given = send(
        "GET",
        &url,
        &[
            ("Authorization", &auth),
            ("X-Request-Id", "client-trace-42"),
        ],
        None,
    );
    assert_eq!(given.headers["x-request-id"], "client-trace-42");
    let mut made = Vec::new();
    for bad in [String::new(), "has space".into(), "x".repeat(129)] {
        let resp = send(
            "GET",
            &url,
            &[("Authorization", &auth), ("X-Request-Id", &bad)],
            None,
        );
        let id = resp.headers["x-request-id"].clone();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        made.push(id);
    }
    let plain = send("GET", &format!("{}/nowhere", server.base), &[], None);
    assert_eq!(plain.status, 404);
    made.push(plain.headers["x-request-id"].clone());
    made.sort();
    made.dedup();
    assert_eq!(made.len(), 4, "every request its own ID");
}

/// The JSON object of each log line that is one.
fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

const LOG_KEY: &str = "sk_test_log_app_key_never_in_logs";

fn start_process(format: &str) -> (Process, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let process = Process::start(
        &[],
        &[
            (
                "PARLEY__DATABASE__URL",
                format!("sqlite://{}", db.display()),
            ),
            ("PARLEY__LOG__FORMAT", format.to_string()),
            ("PARLEY__APPS__LOGAPP__SECRET_KEY", LOG_KEY.to_string()),
        ],
        dir.path(),
    );
    (process, dir)
}

#[test]
fn json_logs_are_one_object_per_line_with_the_request_id_and_an_access_line() {
    let (process, _dir) = start_process("json");
    let base = process.base.clone();
    let secret = "sk_test_not_the_key_but_never_logged";
    let resp = send(
        "GET",
        &format!("{base}/v1/logapp/conversations/some-conversation"),
        &[
            ("Authorization", &format!("Bearer {secret}")),
            ("X-Request-Id", "json-log-probe-7"),
        ],
        None,
    );
    assert_eq!(resp.status, 401);
    let resp = send(
        "GET",
        &format!("{base}/v1/logapp/users/some-user"),
        &[
            ("Authorization", &format!("Bearer {LOG_KEY}")),
            ("X-Request-Id", "json-log-probe-9"),
        ],
        None,
    );
    assert_eq!(resp.status, 404);
    let resp = send(
        "GET",
        &format!("{base}/health/ready"),
        &[("X-Request-Id", "json-log-probe-8")],
        None,
    );
    assert_eq!(resp.status, 200);
    std::thread::sleep(Duration::from_millis(300));
    let lines = process.stderr.lock().unwrap().clone();
    let objects = json_lines(&lines);
    let access: Vec<&Value> = objects
        .iter()
        .filter(|o| o["target"] == "parley::access")
        .collect();
    let probe = access
        .iter()
        .find(|o| o["fields"]["request_id"] == "json-log-probe-7")
        .unwrap_or_else(|| panic!("no access line for the request: {lines:#?}"));
    let fields = &probe["fields"];
    assert_eq!(fields["method"], "GET");
    assert_eq!(
        fields["route"],
        "/v1/{appId}/conversations/{conversationId}"
    );
    assert_eq!(fields["status"], 401);
    assert!(fields["duration_ms"].as_f64().is_some(), "{probe}");
    assert_eq!(fields["app_id"], "", "not admitted: no app");
    assert_eq!(probe["span"]["request_id"], "json-log-probe-7", "{probe}");
    let ready = access
        .iter()
        .find(|o| o["fields"]["request_id"] == "json-log-probe-8")
        .expect("an access line per request");
    assert_eq!(ready["fields"]["route"], "/health/ready");
    let admitted = access
        .iter()
        .find(|o| o["fields"]["request_id"] == "json-log-probe-9")
        .expect("an access line per request");
    assert_eq!(admitted["fields"]["app_id"], "logapp", "{admitted}");
    assert_eq!(admitted["fields"]["route"], "/v1/{appId}/users/{userId}");
    let all = lines.join("\n");
    assert!(!all.contains(secret), "credentials are never logged");
    assert!(!all.contains(LOG_KEY), "credentials are never logged");
    assert!(
        !all.contains("some-user"),
        "paths are not logged, only routes"
    );
    assert!(
        !all.contains("some-conversation"),
        "paths are not logged, only routes"
    );
    let (status, _) = process.terminate();
    assert!(status.success());
}

#[test]
fn text_logs_name_the_request_id_in_the_lines_of_the_request() {
    let (process, _dir) = start_process("text");
    let base = process.base.clone();
    let resp = send(
        "GET",
        &format!("{base}/v1/logapp/users"),
        &[("X-Request-Id", "text-log-probe-9")],
        None,
    );
    assert_eq!(resp.status, 401);
    std::thread::sleep(Duration::from_millis(300));
    let lines = process.stderr.lock().unwrap().clone();
    let line = lines
        .iter()
        .find(|l| l.contains("parley::access") && l.contains("text-log-probe-9"))
        .unwrap_or_else(|| panic!("no access line: {lines:#?}"));
    assert!(
        line.contains("request{request_id=text-log-probe-9}"),
        "{line}"
    );
    assert!(line.contains("status=401"), "{line}");
}

#[test]
fn a_bad_log_format_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .current_dir(dir.path())
        .env("PARLEY__LOG__FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("log.format"), "{stderr}");
}

#[test]
fn metrics_port_serves_metrics_there_and_not_on_the_api_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = common::settings(&dir.path().join("parley.db"));
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    s.server.host = "127.0.0.1".into();
    s.metrics.port = port;
    let server = TestServer::start(s);
    let on_api = send("GET", &format!("{}/metrics", server.base), &[], None);
    assert_eq!(on_api.status, 404);
    let there = metrics(&format!("http://127.0.0.1:{port}"));
    assert!(there.contains("parley_http_requests_total"), "{there}");
}
