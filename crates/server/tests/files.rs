//! Files (API.md "Files"): upload, file messages, downloads with ranges, limits and the sweep,
//! on the local directory store, or on the S3-compatible server when `PARLEY_TEST_S3_ENDPOINT`
//! is set (scripts/test.sh runs this file once more that way).

mod common;

use common::{send, settings, Api, TestServer, APP, KEY, OTHER_APP, OTHER_KEY};
use parley_server::settings::Settings;
use serde_json::{json, Value};

const BOUNDARY: &str = "parley-test-boundary-7MA4YWxkTrZu0gW";

/// One part of a multipart body: name, filename?, content type?, bytes.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart body.
fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = filename {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(t) = content_type {
            body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn upload(api: &Api, body: &[u8]) -> common::Resp {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    api.request(
        "POST",
        "/files",
        &[("Content-Type", content_type.as_str())],
        Some(body),
    )
}

fn uploaded(api: &Api, parts: &[Part]) -> String {
    let resp = upload(api, &multipart(parts));
    assert_eq!(resp.status, 200, "{}", resp.text);
    let token = resp.json()["fileToken"].as_str().unwrap().to_string();
    assert!(token.len() >= 22, "{token}");
    token
}

/// Bytes that are not text, so that nothing is translated on the way.
fn picture(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn fetch_raw(
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, std::collections::BTreeMap<String, String>, Vec<u8>) {
    let mut req = ureq::get(url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            (
                n.to_ascii_lowercase(),
                resp.header(&n).unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).unwrap();
    (status, headers, bytes)
}

fn conversation(api: &Api) {
    api.put("/conversations/c", &json!({"participants": ["a", "b"]}))
        .ok_empty();
}

fn send_one(api: &Api, item: Value) -> Value {
    let resp = api.post("/conversations/c/messages", &json!([item]));
    assert_eq!(resp.status, 200, "{}", resp.text);
    let id = resp.json()[0]["id"].as_str().unwrap().to_string();
    api.fetch(&format!("/conversations/c/messages/{id}"))
}

async fn store_keys(s: &Settings) -> Vec<String> {
    let files = if s.files.url.is_empty() {
        parley_file_store::ObjectFiles::local(std::path::Path::new(&s.files.dir)).unwrap()
    } else {
        parley_file_store::ObjectFiles::s3(&parley_file_store::S3Options {
            url: s.files.url.clone(),
            endpoint: s.files.s3_endpoint.clone(),
            region: s.files.s3_region.clone(),
            access_key_id: s.files.s3_access_key_id.clone(),
            secret_access_key: s.files.s3_secret_access_key.clone(),
        })
        .unwrap()
    };
    files.keys().await.unwrap()
}

fn keys_of(s: &Settings) -> Vec<String> {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(store_keys(s))
}

#[test]
fn an_uploaded_file_is_sent_and_downloaded_exactly_with_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(&dir.path().join("parley.db"));
    let server = TestServer::start(s.clone());
    let api = server.api();
    conversation(&api);
    let bytes = picture(300_000);
    let token = uploaded(
        &api,
        &[
            ("file", Some("photo.png"), Some("image/png"), &bytes),
            ("subtype", None, None, b"image"),
            ("width", None, None, b"640"),
            ("height", None, None, b"480"),
        ],
    );
    assert_eq!(keys_of(&s), std::slice::from_ref(&token));
    let m = send_one(
        &api,
        json!({"type": "UserMessage", "sender": "a", "content": [
            {"type": "text", "children": ["look"]}, {"type": "file", "fileToken": token}
        ]}),
    );
    let block = &m["content"][1];
    assert_eq!(block["type"], "file");
    assert_eq!(block["fileToken"], token);
    assert_eq!(block["filename"], "photo.png");
    assert_eq!(block["size"], 300_000);
    assert_eq!(block["subtype"], "image");
    assert_eq!(block["width"], 640);
    assert_eq!(block["height"], 480);
    assert!(block.get("duration").is_none());
    let url = block["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&server.base), "{url}");
    assert_eq!(
        m["attachment"],
        json!({"url": url, "size": 300_000, "filename": "photo.png", "subtype": "image",
               "width": 640, "height": 480})
    );
    assert_eq!(m["text"], "look");
    // The legacy attachmentToken form makes the same block.
    let legacy = send_one(
        &api,
        json!({"type": "UserMessage", "sender": "a", "attachmentToken": token}),
    );
    assert_eq!(legacy["attachment"]["url"], url);
    assert_eq!(legacy["text"], "");
    // Download without credentials: exact bytes and headers.
    let (status, headers, got) = fetch_raw(&url, &[]);
    assert_eq!(status, 200);
    assert_eq!(got, bytes);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-length"], "300000");
    assert!(
        headers["content-disposition"].contains("photo.png"),
        "{headers:?}"
    );
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"].contains("sandbox"));
    assert!(headers["content-disposition"].starts_with("inline"));
    // Ranges.
    let (status, headers, got) = fetch_raw(&url, &[("Range", "bytes=1000-1999")]);
    assert_eq!(status, 206);
    assert_eq!(got, &bytes[1000..2000]);
    assert_eq!(headers["content-range"], "bytes 1000-1999/300000");
    assert_eq!(headers["content-length"], "1000");
    let (status, _, got) = fetch_raw(&url, &[("Range", "bytes=-10")]);
    assert_eq!((status, got.as_slice()), (206, &bytes[299_990..]));
    let (status, _, got) = fetch_raw(&url, &[("Range", "bytes=299999-")]);
    assert_eq!((status, got.as_slice()), (206, &bytes[299_999..]));
    let (status, _, got) = fetch_raw(&url, &[("Range", "bytes=0-18446744073709551615")]);
    assert_eq!((status, got.len()), (206, 300_000));
    let (status, headers, _) = fetch_raw(&url, &[("Range", "bytes=300000-")]);
    assert_eq!(status, 416);
    assert_eq!(headers["content-range"], "bytes */300000");
    // A token that is no file.
    let (status, _, _) = fetch_raw(&format!("{}/files/file_nope/x.png", server.base), &[]);
    assert_eq!(status, 404);
}

#[test]
fn uploads_are_checked_and_a_refused_one_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("parley.db"));
    s.limits.file_bytes = 100_000;
    let server = TestServer::start(s.clone());
    let api = server.api();
    conversation(&api);
    // Over the limit, with and without a Content-Length that says so.
    let big = picture(150_000);
    let resp = upload(&api, &multipart(&[("file", Some("big.bin"), None, &big)]));
    assert_eq!(resp.status, 413, "{}", resp.text);
    assert!(resp.json()["errorCode"].is_string());
    let resp = upload(
        &api,
        &multipart(&[
            ("filename", None, None, b"big.bin"),
            ("file", None, None, &picture(99_000)),
            ("subtype", None, None, b"video"),
        ]),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let resp = upload(
        &api,
        &multipart(&[
            ("file", Some("a.bin"), None, &picture(60_000)),
            ("file", Some("b.bin"), None, &picture(60_000)),
        ]),
    );
    assert_eq!(resp.status, 400, "{}", resp.text);
    // Bad fields, a missing file or filename.
    for parts in [
        vec![("file", None, None, &b"x"[..])],
        vec![("filename", None, None, &b"a.txt"[..])],
        vec![
            ("file", Some("a.txt"), None, &b"x"[..]),
            ("width", None, None, &b"wide"[..]),
        ],
        vec![
            ("file", Some("a.txt"), None, &b"x"[..]),
            ("subtype", None, None, &b"gif"[..]),
        ],
        vec![
            ("file", Some("a.txt"), None, &b"x"[..]),
            ("duration", None, None, &b"-1"[..]),
        ],
        vec![
            ("file", Some("a.txt"), None, &b"x"[..]),
            ("colour", None, None, &b"red"[..]),
        ],
    ] {
        let resp = upload(&api, &multipart(&parts));
        assert_eq!(resp.status, 400, "{}", resp.text);
        assert!(resp.json()["reasons"].is_object(), "{}", resp.text);
    }
    // Not multipart.
    let resp = api.post("/files", &json!({"file": "x"}));
    assert_eq!(resp.status, 415, "{}", resp.text);
    // Only the one good upload is in the store.
    assert_eq!(keys_of(&s).len(), 1, "{:?}", keys_of(&s));
    // Credentials are needed to upload.
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let resp = send(
        "POST",
        &api.url("/files"),
        &[("Content-Type", content_type.as_str())],
        Some(&multipart(&[("file", Some("a.txt"), None, b"x")])),
    );
    assert_eq!(resp.status, 401);
}

#[test]
fn a_file_token_is_usable_in_its_own_app_only_and_content_types_are_guessed() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    conversation(&api);
    let other = Api::new(&server.base, OTHER_APP, OTHER_KEY);
    let token = uploaded(&other, &[("file", Some("notes.txt"), None, b"hello")]);
    let resp = api.post(
        "/conversations/c/messages",
        &json!([{"type": "UserMessage", "sender": "a", "attachmentToken": token}]),
    );
    assert_eq!(resp.status, 400, "{}", resp.text);
    assert!(resp.json()["reasons"]["[0].attachmentToken"].is_string());
    let mine = uploaded(
        &api,
        &[
            (
                "file",
                Some("clip"),
                Some("application/octet-stream"),
                b"\x00\x01",
            ),
            ("filename", None, None, "voice n\u{f6}te.ogg".as_bytes()),
            ("subtype", None, None, b"voice"),
            ("duration", None, None, b"2.5"),
        ],
    );
    let m = send_one(
        &api,
        json!({"type": "UserMessage", "sender": "a", "attachmentToken": mine}),
    );
    assert_eq!(m["attachment"]["filename"], "voice n\u{f6}te.ogg");
    assert_eq!(m["attachment"]["duration"], 2.5);
    let (status, headers, got) = fetch_raw(m["attachment"]["url"].as_str().unwrap(), &[]);
    assert_eq!(status, 200);
    assert_eq!(got, b"\x00\x01");
    assert_eq!(headers["content-type"], "audio/ogg");
    // Not media: downloaded, never shown inline from the API's origin.
    let page = uploaded(
        &api,
        &[(
            "file",
            Some("x.html"),
            Some("text/html"),
            b"<script>1</script>",
        )],
    );
    let m = send_one(
        &api,
        json!({"type": "UserMessage", "sender": "a", "attachmentToken": page}),
    );
    let (_, headers, _) = fetch_raw(m["attachment"]["url"].as_str().unwrap(), &[]);
    assert!(
        headers["content-disposition"].starts_with("attachment"),
        "{headers:?}"
    );
    // A control character in a filename is refused at the upload.
    let resp = upload(
        &api,
        &multipart(&[
            ("file", None, None, b"x"),
            ("filename", None, None, b"a\nb.txt"),
        ]),
    );
    assert_eq!(resp.status, 400, "{}", resp.text);
    let _ = (APP, KEY);
}

#[test]
fn unused_files_are_swept_and_used_ones_stay_until_their_message_goes() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("parley.db"));
    s.files.unused_after_hours = 0.0;
    s.files.sweep_interval_secs = 1;
    let server = TestServer::start(s.clone());
    let api = server.api();
    conversation(&api);
    let used = uploaded(&api, &[("file", Some("keep.txt"), None, b"keep")]);
    let m = send_one(
        &api,
        json!({"type": "UserMessage", "sender": "a", "attachmentToken": used}),
    );
    let idle = uploaded(&api, &[("file", Some("idle.txt"), None, b"idle")]);
    let wait_until = |what: &str, done: &dyn Fn() -> bool| {
        for _ in 0..100 {
            if done() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{what} did not happen");
    };
    wait_until("the unused file's removal", &|| {
        keys_of(&s) == [used.clone()]
    });
    let url = m["attachment"]["url"].as_str().unwrap().to_string();
    assert_eq!(fetch_raw(&url, &[]).0, 200);
    let _ = idle;
    api.delete(&format!(
        "/conversations/c/messages/{}",
        m["id"].as_str().unwrap()
    ))
    .ok_empty();
    wait_until("the removal of the deleted message's file", &|| {
        keys_of(&s).is_empty()
    });
    assert_eq!(fetch_raw(&url, &[]).0, 404);
    // Deleting a conversation frees its files too.
    let again = uploaded(&api, &[("file", Some("c.txt"), None, b"c")]);
    send_one(
        &api,
        json!({"type": "UserMessage", "sender": "a", "attachmentToken": again}),
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(keys_of(&s), std::slice::from_ref(&again));
    api.delete("/conversations/c").ok_empty();
    wait_until("the removal of the deleted conversation's file", &|| {
        keys_of(&s).is_empty()
    });
}
