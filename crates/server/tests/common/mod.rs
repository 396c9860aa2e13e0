//! Test harness: the real server on port 0 with a temp SQLite file (in-process, like
//! zero2prod's `spawn_app`), or the real `parley` binary as a child process, and a small
//! blocking HTTP client.
#![allow(dead_code)]

pub mod receiver;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use parley_server::settings::AppSettings;
use parley_server::Settings;
use serde_json::Value;

pub const APP: &str = "testapp";
pub const KEY: &str = "sk_test_integration_key_1";
pub const OTHER_APP: &str = "otherapp";
pub const OTHER_KEY: &str = "sk_test_integration_key_2";

/// Whether this run tests the PostgreSQL backend (`PARLEY_TEST_BACKEND=postgres`, set by
/// `scripts/test.sh` for its second pass) instead of SQLite.
pub fn on_postgres() -> bool {
    std::env::var("PARLEY_TEST_BACKEND").as_deref() == Ok("postgres")
}

/// The bucket of the S3-compatible test server (`scripts/test.sh` creates it).
pub const S3_BUCKET: &str = "parley-test";

/// The S3-compatible server the file tests use (`PARLEY_TEST_S3_ENDPOINT`, set by
/// `scripts/test.sh` for its pass on the S3 store); `None`: the local directory store.
pub fn s3_endpoint() -> Option<String> {
    std::env::var("PARLEY_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
}

/// The database of a test server whose SQLite file would be `db`: that file, or on PostgreSQL a
/// schema of the test server named after the path, so that a restarted server finds its data.
pub fn database_url(db: &Path) -> String {
    if !on_postgres() {
        return format!("sqlite://{}", db.display());
    }
    let server = parley_store_diesel::testing::server_url("the HTTP tests")
        .expect("PARLEY_TEST_BACKEND=postgres needs PARLEY_TEST_POSTGRES_URL");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&db, &mut hasher);
    let schema = format!("http_{:016x}", std::hash::Hasher::finish(&hasher));
    parley_store_diesel::testing::schema_url(&server, &schema)
}

/// Settings for a test server on a free port over the database of `db` (see
/// [`database_url`]), with two apps.
pub fn settings(db: &Path) -> Settings {
    let mut s = Settings::load(None).expect("default settings");
    s.server.port = 0;
    s.server.workers = 2;
    s.server.shutdown_timeout_secs = 5;
    s.database.url = database_url(db);
    s.files.dir = db
        .parent()
        .expect("the database file is in a directory")
        .join("files")
        .display()
        .to_string();
    if let Some(endpoint) = s3_endpoint() {
        // Every test server its own prefix of the test bucket.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&db, &mut hasher);
        s.files.url = format!(
            "s3://{}/t{:016x}",
            S3_BUCKET,
            std::hash::Hasher::finish(&hasher)
        );
        s.files.s3_endpoint = endpoint;
        s.files.s3_region = "us-east-1".into();
        s.files.s3_access_key_id = "testing".into();
        s.files.s3_secret_access_key = "testing".into();
    }
    s.apps = BTreeMap::from([
        (
            APP.to_string(),
            AppSettings {
                secret_key: KEY.into(),
                ..Default::default()
            },
        ),
        (
            OTHER_APP.to_string(),
            AppSettings {
                secret_key: OTHER_KEY.into(),
                ..Default::default()
            },
        ),
    ]);
    s
}

/// The server running in this process, on its own actix system thread.
pub struct TestServer {
    pub base: String,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(settings: Settings) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let running = parley_server::start(settings).await.expect("server starts");
                tx.send((running.addr, running.server.handle())).unwrap();
                running.server.await.expect("server runs");
            });
        });
        let (addr, handle) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server started");
        Self {
            base: format!("http://{addr}"),
            handle,
            thread: Some(thread),
        }
    }

    /// A server over a fresh temp file; the returned dir keeps the file alive.
    pub fn fresh() -> (Self, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let server = Self::start(settings(&dir.path().join("parley.db")));
        (server, dir)
    }

    pub fn api(&self) -> Api {
        Api::new(&self.base, APP, KEY)
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            actix_web::rt::System::new().block_on(self.handle.stop(true));
            thread.join().expect("server thread");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An HTTP answer: status, headers (lower-case names) and the body parsed as JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text))
    }

    /// Asserts an error answer of the contract's shape and returns its body.
    pub fn error(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert!(
            self.headers
                .get("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "error bodies are JSON: {:?}",
            self.headers
        );
        let body = self.json();
        assert_eq!(body["errorCode"], code, "body: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        if let Some(reasons) = body.get("reasons") {
            assert!(reasons.is_object(), "{body}");
        }
        body
    }

    /// Asserts a `200 {}` answer.
    pub fn ok_empty(&self) {
        assert_eq!(self.status, 200, "body: {}", self.text);
        assert_eq!(self.json(), serde_json::json!({}));
        assert!(self.headers["content-type"].starts_with("application/json"));
    }
}

/// Sends one request; `body` is sent as is with the given headers.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(60));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(bytes) => req.send_bytes(bytes),
        None => req.call(),
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|h| {
            let v = resp.header(&h).unwrap_or_default().to_string();
            (h.to_ascii_lowercase(), v)
        })
        .collect();
    let text = resp.into_string().unwrap_or_default();
    Resp {
        status,
        headers,
        text,
    }
}

/// A client for one app: paths are relative to `/v1/{app}`.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub app: String,
    pub key: String,
}

impl Api {
    pub fn new(base: &str, app: &str, key: &str) -> Self {
        Self {
            base: base.into(),
            app: app.into(),
            key: key.into(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/{}{}", self.base, self.app, path)
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.key)
    }

    pub fn get(&self, path: &str) -> Resp {
        send(
            "GET",
            &self.url(path),
            &[("Authorization", &self.auth())],
            None,
        )
    }

    pub fn delete(&self, path: &str) -> Resp {
        send(
            "DELETE",
            &self.url(path),
            &[("Authorization", &self.auth())],
            None,
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.put_raw(path, body.to_string().as_bytes())
    }

    pub fn put_raw(&self, path: &str, body: &[u8]) -> Resp {
        send(
            "PUT",
            &self.url(path),
            &[
                ("Authorization", &self.auth()),
                ("Content-Type", "application/json"),
            ],
            Some(body),
        )
    }

    /// PATCH with a JSON body.
    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        self.request(
            "PATCH",
            path,
            &[("Content-Type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.post_raw(path, body.to_string().as_bytes())
    }

    pub fn post_raw(&self, path: &str, body: &[u8]) -> Resp {
        send(
            "POST",
            &self.url(path),
            &[
                ("Authorization", &self.auth()),
                ("Content-Type", "application/json"),
            ],
            Some(body),
        )
    }

    /// Any method with this client's key and the given extra headers.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let auth = self.auth();
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend_from_slice(headers);
        send(method, &self.url(path), &all, body)
    }

    /// GET that must succeed; the parsed body.
    pub fn fetch(&self, path: &str) -> Value {
        let resp = self.get(path);
        assert_eq!(resp.status, 200, "GET {path}: {}", resp.text);
        resp.json()
    }
}

/// Stores whole conversations (with their last message) straight into the database of `db`
/// (see [`database_url`]) through the storage layer's bulk import, e.g. to set exact timestamps
/// before a server starts.
pub fn seed(db: &Path, app: &str, conversations: &[parley_domain::Conversation]) {
    let app = parley_domain::AppId::new(app).expect("app ID");
    if on_postgres() {
        let url = database_url(db);
        let store =
            parley_store_diesel::PgStore::open_postgres(&parley_store_diesel::PgOptions::new(url))
                .expect("open the database to seed");
        store
            .import_blocking(&app, conversations)
            .expect("seed conversations");
        return;
    }
    let store =
        parley_store_diesel::DieselStore::open_sqlite(&parley_store_diesel::SqliteOptions::new(db))
            .expect("open the database to seed");
    store
        .import_blocking(&app, conversations)
        .expect("seed conversations");
}

/// Writes a raw HTTP/1.1 request and returns the status code of the answer.
pub fn raw_status(base: &str, request: &[u8]) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The server may answer and close before the whole request is written.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

/// The `parley` binary running as a child process.
pub struct Process {
    pub child: Child,
    pub base: String,
    pub stdout: String,
    /// Every line the process wrote to stderr (its log) so far.
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Process {
    /// Starts `parley` with `envs` (on top of a clean `PARLEY__*` environment) and waits until it
    /// logs its address.
    pub fn start(args: &[&str], envs: &[(&str, String)], cwd: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
        for (k, _) in std::env::vars() {
            if k.starts_with("PARLEY__") {
                cmd.env_remove(k);
            }
        }
        cmd.args(args)
            .current_dir(cwd)
            .env("PARLEY__SERVER__PORT", "0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn parley");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = lines.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line.clone());
                if !sent {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        // Up to the end of the URL (a JSON log line goes on after it).
                        let url = rest.split(['"', ' ']).next().unwrap_or(rest);
                        let _ = tx.send(url.trim().to_string());
                        sent = true;
                    }
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "parley did not start: {}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
        };
        // The welcome text is printed right after the address is logged.
        std::thread::sleep(Duration::from_millis(200));
        Self {
            child,
            base,
            stdout: String::new(),
            stderr: lines,
        }
    }

    /// SIGKILL: no chance to flush or clean up anything.
    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Reads what the process printed to stdout so far (stops it first with SIGTERM).
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            stdout.read_to_string(&mut out).unwrap();
        }
        (status, out)
    }
}

impl Drop for Process {
    /// A test that fails before stopping its server does not leave it running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Timestamps are milliseconds: a pause keeps two steps out of the same millisecond.
pub fn pause() {
    std::thread::sleep(Duration::from_millis(5));
}

/// `encodeURIComponent`, and more: every byte but ASCII letters and digits.
pub fn enc(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
