//! What real TalkJS clients send ("Compatibility details" of API.md).

mod common;

use common::{send, TestServer, APP, KEY};
use serde_json::json;

fn put_with(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> common::Resp {
    let auth = format!("Bearer {KEY}");
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    send(
        "PUT",
        &format!("{}/v1/{APP}{path}", server.base),
        &all,
        body,
    )
}

#[test]
fn a_put_with_an_empty_body_is_the_same_as_an_empty_object() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    // No body at all, and zero bytes with or without a content type.
    put_with(&server, "/conversations/none", &[], None).ok_empty();
    put_with(
        &server,
        "/conversations/zero",
        &[("Content-Length", "0")],
        Some(b""),
    )
    .ok_empty();
    put_with(
        &server,
        "/conversations/typed",
        &[("Content-Type", "text/plain")],
        Some(b""),
    )
    .ok_empty();
    for id in ["none", "zero", "typed"] {
        let c = api.fetch(&format!("/conversations/{id}"));
        assert_eq!(c["participants"], json!({}), "{c}");
        assert!(c["subject"].is_null());
    }
    // An existing conversation is left as it was.
    api.put(
        "/conversations/kept",
        &json!({"subject": "s", "participants": ["a"]}),
    )
    .ok_empty();
    put_with(&server, "/conversations/kept", &[], None).ok_empty();
    let kept = api.fetch("/conversations/kept");
    assert_eq!(kept["subject"], "s");
    assert!(kept["participants"]["a"].is_object());
    // The legacy endpoint too.
    put_with(&server, "/conversations/participants=a,b", &[], None).ok_empty();
    assert_eq!(
        api.fetch("/conversations/participants=a,b")["participants"]
            .as_object()
            .unwrap()
            .len(),
        2
    );
    // A user: `{}` needs a name to create one, and changes nothing on an existing one.
    put_with(&server, "/users/new", &[], None).error(400, "INVALID_FIELD");
    api.put("/users/old", &json!({"name": "Old"})).ok_empty();
    put_with(&server, "/users/old", &[], None).ok_empty();
    assert_eq!(api.fetch("/users/old")["name"], "Old");
    // A participant (this already held).
    put_with(&server, "/conversations/kept/participants/b", &[], None).ok_empty();
    // A body that is there must still be JSON.
    put_with(
        &server,
        "/conversations/kept",
        &[("Content-Type", "text/plain")],
        Some(b"{}"),
    )
    .error(415, "UNSUPPORTED_MEDIA_TYPE");
}

#[test]
fn a_trailing_slash_names_the_same_resource() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/conversations/x/", &json!({"subject": "s"}))
        .ok_empty();
    assert_eq!(api.fetch("/conversations/x")["subject"], "s");
    assert_eq!(api.fetch("/conversations/x/")["subject"], "s");
    assert_eq!(
        api.fetch("/conversations/")["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    api.put("/users/u/", &json!({"name": "n"})).ok_empty();
    assert_eq!(api.fetch("/users/u/")["name"], "n");
    let sent = api.post(
        "/conversations/x/messages/",
        &json!([{"text": "t", "type": "SystemMessage"}]),
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(
        api.fetch("/conversations/x/messages/")["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A percent-encoded slash in an ID stays part of the ID.
    api.put("/conversations/order%2F1/", &json!({})).ok_empty();
    assert_eq!(api.fetch("/conversations/order%2F1")["id"], "order/1");
    // Unknown routes are still JSON 404s, with or without the slash.
    api.get("/nope/").error(404, "ROUTE_NOT_FOUND");
}

#[test]
fn configuration_is_the_old_name_of_role() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/users/u", &json!({"name": "n", "configuration": "buyer"}))
        .ok_empty();
    let user = api.fetch("/users/u");
    assert_eq!(user["role"], "buyer");
    assert!(user.get("configuration").is_none(), "{user}");
    api.put(
        "/users/u",
        &json!({"role": "seller", "configuration": "seller"}),
    )
    .ok_empty();
    assert_eq!(api.fetch("/users/u")["role"], "seller");
    let err = api
        .put("/users/u", &json!({"role": "a", "configuration": "b"}))
        .error(400, "INVALID_FIELD");
    assert!(err["reasons"]["configuration"].is_string(), "{err}");
    assert_eq!(api.fetch("/users/u")["role"], "seller");
    api.put("/users/u", &json!({"configuration": null}))
        .ok_empty();
    assert!(api.fetch("/users/u")["role"].is_null());
    // In a batch, reasons are keyed by user ID.
    let err = api
        .put(
            "/users",
            &json!({"v": {"name": "v", "role": "a", "configuration": "b"}}),
        )
        .error(400, "INVALID_FIELD");
    assert!(err["reasons"]["v.configuration"].is_string(), "{err}");
}

#[test]
fn presences_and_sessions_answer_that_nobody_is_online() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let resp = api.post("/presences", &json!({"users": ["u"]}));
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json(), json!({"data": {}}));
    assert!(resp.headers["content-type"].starts_with("application/json"));
    api.get("/users/u/sessions").error(404, "NOT_FOUND");
    api.put("/users/u", &json!({"name": "n"})).ok_empty();
    let sessions = api.get("/users/u/sessions");
    assert_eq!(sessions.status, 200);
    assert_eq!(sessions.json(), json!([]));
    assert!(sessions.headers["content-type"].starts_with("application/json"));
    common::Api::new(&server.base, APP, "sk_wrong")
        .post("/presences", &json!({}))
        .error(401, "UNAUTHORIZED");
}

#[test]
fn every_response_is_json_errors_and_empty_objects_included() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/users/u", &json!({"name": "U"})).ok_empty();
    let big = vec![b' '; 2 * 1024 * 1024];
    let answers = [
        api.get("/users/u"),
        api.get("/users"),
        api.put("/conversations/c", &json!({})),
        api.get("/conversations/c/"),
        api.put("/conversations/c", &json!({"subject": 1})),
        api.get("/users/missing"),
        api.get("/no/such/route"),
        api.request("HEAD", "/users/u", &[], None),
        api.request("OPTIONS", "/users", &[], None),
        api.delete("/users/u"),
        api.put_raw("/conversations/c", b"{not json"),
        api.request(
            "PUT",
            "/conversations/c",
            &[("Content-Type", "text/plain")],
            Some(b"{}"),
        ),
        api.request(
            "POST",
            "/conversations/c/messages",
            &[("Content-Type", "application/json")],
            Some(&big),
        ),
        send("GET", &format!("{}/v1/{APP}/users", server.base), &[], None),
        send("GET", &format!("{}/", server.base), &[], None),
        api.post("/presences", &json!({})),
        api.get("/users/u/sessions"),
        api.post("/batch", &json!([[1, "GET", "/users/u"]])),
        api.request("GET", "/users", &[("TalkJS-REST-Version", "x")], None),
    ];
    let mut statuses = std::collections::BTreeSet::new();
    for resp in &answers {
        statuses.insert(resp.status);
        assert!(
            resp.headers
                .get("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{} without a JSON content type: {:?} {}",
            resp.status,
            resp.headers,
            resp.text
        );
        if resp.status != 200 || !resp.text.is_empty() {
            if resp.text.is_empty() {
                // HEAD has no body; its headers still say JSON.
                continue;
            }
            let body: serde_json::Value = serde_json::from_str(&resp.text)
                .unwrap_or_else(|e| panic!("{}: {e}: {}", resp.status, resp.text));
            if resp.status >= 400 {
                assert!(body["errorCode"].is_string(), "{body}");
            }
        }
    }
    for status in [200, 400, 401, 404, 405, 413, 415] {
        assert!(
            statuses.contains(&status),
            "{status} not covered: {statuses:?}"
        );
    }
}
