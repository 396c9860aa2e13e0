//! `/batch` (API.md "Batch") and `TalkJS-REST-Version` ("Compatibility details").

mod common;

use common::{send, settings, Api, TestServer, APP, KEY};
use serde_json::{json, Value};

/// A batch that must be answered 200: each answer as (seq, status, parsed body).
fn batch(api: &Api, ops: &Value) -> Vec<(i64, u16, Value)> {
    let resp = api.post("/batch", ops);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(resp.headers["content-type"].starts_with("application/json"));
    resp.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|answer| {
            let parts = answer.as_array().unwrap();
            assert_eq!(parts.len(), 3, "{answer}");
            let body = parts[2].as_str().expect("the body is a JSON string");
            (
                parts[0].as_i64().unwrap(),
                u16::try_from(parts[1].as_u64().unwrap()).unwrap(),
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")),
            )
        })
        .collect()
}

#[test]
fn the_spec_example_runs_each_operation_like_a_standalone_request() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/users/user_01", &json!({"name": "One"}))
        .ok_empty();
    api.put(
        "/conversations/conv_01",
        &json!({"participants": ["user_01"]}),
    )
    .ok_empty();
    let answers = batch(
        &api,
        &json!([
            [1, "GET", "/users/user_01"],
            [2, "GET", "/users/user_01/conversations", {"limit": "30", "unreadsOnly": "true"}],
            [3, "POST", "/conversations/conv_01/messages", [{"text": "Hi", "type": "SystemMessage"}]],
            [4, "PUT", "/users/user_02", {"name": "Alice"}, {"api_version": "2021-01-01"}],
            [5, "GET", "/non/existing/endpoint"]
        ]),
    );
    let seqs: Vec<i64> = answers.iter().map(|a| a.0).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(answers[0].1, 200);
    assert_eq!(answers[0].2, api.fetch("/users/user_01"));
    assert_eq!(answers[1].1, 200);
    // The system message of op 3 came after op 2 read the list.
    assert_eq!(answers[1].2, json!({"data": []}));
    assert_eq!(answers[2].1, 200);
    let sent = answers[2].2[0]["id"].as_str().unwrap().to_string();
    assert!(sent.starts_with("msg_"));
    assert_eq!(
        api.fetch(&format!("/conversations/conv_01/messages/{sent}"))["text"],
        "Hi"
    );
    assert_eq!(answers[3], (4, 200, json!({})));
    assert_eq!(api.fetch("/users/user_02")["name"], "Alice");
    assert_eq!(answers[4].0, 5);
    assert_eq!(answers[4].1, 404);
    assert!(answers[4].2["errorCode"].is_string(), "{:?}", answers[4]);
    // Same side effects as standalone requests: the send is in the event log.
    let events = api.fetch("/events?types=message.sent");
    assert_eq!(events["data"][0]["data"]["message"]["id"], sent);
}

#[test]
fn later_operations_see_earlier_ones_and_failures_do_not_stop_the_rest() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let answers = batch(
        &api,
        &json!([
            [10, "PUT", "/conversations/c/", {"subject": "s", "participants": ["a"]}],
            [20, "GET", "/conversations/c"],
            [30, "PUT", "/conversations/c", {"subject": 5}],
            [40, "POST", "/conversations/c/messages", [{"text": "one", "sender": "a", "type": "UserMessage"}]],
            [50, "POST", "/conversations/c/messages", [{"text": "x", "sender": "stranger", "type": "UserMessage"}]],
            [60, "GET", "/conversations/c/messages?limit=5"],
            [70, "DELETE", "/conversations/missing"],
            [80, "PATCH", "/conversations/c/participants/a", {"notify": false}],
            [-3, "GET", "/conversations/c%2Fnot"]
        ]),
    );
    let statuses: Vec<(i64, u16)> = answers.iter().map(|a| (a.0, a.1)).collect();
    assert_eq!(
        statuses,
        [
            (10, 200),
            (20, 200),
            (30, 400),
            (40, 200),
            (50, 400),
            (60, 200),
            (70, 404),
            (80, 200),
            (-3, 404)
        ]
    );
    assert_eq!(answers[1].2["subject"], "s");
    assert!(
        answers[2].2["reasons"]["subject"].is_string(),
        "{:?}",
        answers[2]
    );
    assert!(answers[4].2["reasons"]["[0].sender"].is_string());
    let texts: Vec<&str> = answers[5].2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["one"]);
    assert_eq!(
        api.fetch("/conversations/c")["participants"]["a"]["notify"],
        false
    );
}

#[test]
fn a_malformed_batch_is_refused_whole_and_runs_nothing() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let put = json!([1, "PUT", "/users/ran", {"name": "Ran"}]);
    let eleven: Vec<Value> = (0..11).map(|i| json!([i, "GET", "/users"])).collect();
    for bad in [
        json!({"ops": []}),
        json!([]),
        json!(eleven),
        json!([put, [1, "GET", "/users"]]),
        json!([put, [2, "POST", "/batch", []]]),
        json!([put, [2, "POST", "/batch/?x=1", []]]),
        json!([put, [2, "FETCH", "/users"]]),
        json!([put, [2, "GET"]]),
        json!([put, [2, "GET", "users"]]),
        json!([put, ["2", "GET", "/users"]]),
        json!([put, [2.5, "GET", "/users"]]),
        json!([put, [2, "GET", "/users", {}, {}, 1]]),
        json!([put, [2, "GET", "/users", "limit=1"]]),
        json!([put, [2, "GET", "/users", null, "2021-01-01"]]),
        json!([put, "GET /users"]),
        json!([put, [2, "GET", "/events/stream"]]),
    ] {
        let resp = api.post("/batch", &bad);
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text);
        assert!(resp.json()["errorCode"].is_string());
    }
    assert_eq!(api.get("/users/ran").status, 404, "nothing ran");
    // However a nested batch or the stream is spelled, it answers 400 in its place and
    // nothing of it runs.
    let answers = batch(
        &api,
        &json!([
            [1, "POST", "//batch", [[1, "PUT", "/users/nested", {"name": "N"}]]],
            [2, "POST", "/%62atch", [[1, "PUT", "/users/nested", {"name": "N"}]]],
            [3, "GET", "//events/stream"]
        ]),
    );
    assert!(answers.iter().all(|a| a.1 == 400), "{answers:?}");
    assert_eq!(api.get("/users/nested").status, 404);
    // Credentials and content type as for any request.
    let url = api.url("/batch");
    let body = serde_json::to_vec(&json!([put])).unwrap();
    assert_eq!(
        send(
            "POST",
            &url,
            &[("Content-Type", "application/json")],
            Some(&body)
        )
        .status,
        401
    );
    assert_eq!(api.get("/users/ran").status, 404);
    assert_eq!(api.get("/batch").status, 405);
}

#[test]
fn api_versions_apply_per_operation_and_per_request() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    let answers = batch(
        &api,
        &json!([
            [1, "GET", "/users/nobody/conversations"],
            [2, "GET", "/users/nobody/conversations", null, {"api_version": "2021-02-09"}],
            [3, "GET", "/users/nobody/conversations", {}, {"api_version": "2021-07-30"}],
            [4, "GET", "/users/nobody/conversations", {}, {"api_version": "yesterday"}]
        ]),
    );
    assert_eq!(answers[0].1, 404);
    assert_eq!(answers[1], (2, 200, json!({"data": []})));
    assert_eq!(answers[2], (3, 200, json!({"data": []})));
    assert_eq!(answers[3].1, 400);
    assert!(answers[3].2["reasons"]["TalkJS-REST-Version"].is_string());
    // The batch's own header is the default of its operations.
    let resp = api.request(
        "POST",
        "/batch",
        &[
            ("Content-Type", "application/json"),
            ("TalkJS-REST-Version", "2021-02-09"),
        ],
        Some(br#"[[1, "GET", "/users/nobody/conversations"]]"#),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json()[0][1], 200);
}

fn versioned(api: &Api, path: &str, version: &str) -> common::Resp {
    api.request("GET", path, &[("TalkJS-REST-Version", version)], None)
}

fn ids(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_rest_version_has_its_list_behaviour() {
    let (server, _dir) = TestServer::fresh();
    let api = server.api();
    api.put("/users/u", &json!({"name": "U"})).ok_empty();
    // "old" is created first but gets the newest message.
    for id in ["old", "new"] {
        api.put(
            &format!("/conversations/{id}"),
            &json!({"participants": ["u"]}),
        )
        .ok_empty();
        common::pause();
    }
    api.post(
        "/conversations/old/messages",
        &json!([{"text": "hi", "type": "SystemMessage"}]),
    );
    for list in ["/conversations", "/users/u/conversations"] {
        // Newest: by last activity, orderBy honoured.
        assert_eq!(ids(&api.fetch(list)), ["old", "new"]);
        assert_eq!(
            ids(&api.fetch(&format!("{list}?orderBy=createdAt&orderDirection=ASC"))),
            ["old", "new"]
        );
        // 2021-01-01 (and any date before 2021-02-09, or before 2021): createdAt DESC, fixed.
        for v in ["2021-01-01", "2021-02-08", "2019-06-01"] {
            let path = format!("{list}?orderBy=lastMessageAt&orderDirection=ASC");
            let resp = versioned(&api, &path, v);
            assert_eq!(resp.status, 200, "{v}: {}", resp.text);
            assert_eq!(ids(&resp.json()), ["new", "old"], "{v}");
            // Ignored, not checked.
            let resp = versioned(&api, &format!("{list}?orderBy=nonsense"), v);
            assert_eq!(ids(&resp.json()), ["new", "old"], "{v}");
        }
        // 2021-02-09 and 2021-07-30: last activity by default, orderBy honoured.
        for v in ["2021-02-09", "2021-07-30", "2022-03-04"] {
            assert_eq!(ids(&versioned(&api, list, v).json()), ["old", "new"], "{v}");
            let path = format!("{list}?orderBy=createdAt");
            assert_eq!(
                ids(&versioned(&api, &path, v).json()),
                ["new", "old"],
                "{v}"
            );
        }
    }
    // An unknown user's list: 404 on 2024-01-01 (and later), empty before.
    for (v, status) in [
        ("2024-01-01", 404),
        ("2030-01-01", 404),
        ("2023-12-31", 200),
        ("2021-02-09", 200),
        ("2021-01-01", 200),
    ] {
        let resp = versioned(&api, "/users/nobody/conversations", v);
        assert_eq!(resp.status, status, "{v}: {}", resp.text);
        if status == 200 {
            assert_eq!(resp.json(), json!({"data": []}));
        }
    }
    // Not a date: a 400 naming the header, on any route.
    for bad in ["latest", "2021-02-30", "2021/01/01", ""] {
        for path in ["/conversations", "/users/u"] {
            let body = versioned(&api, path, bad).error(400, "INVALID_FIELD");
            assert!(body["reasons"]["TalkJS-REST-Version"].is_string(), "{body}");
        }
    }
}

#[test]
fn an_apps_rest_version_is_its_default_and_the_header_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("parley.db"));
    s.apps.get_mut(APP).unwrap().rest_version = Some("2021-02-09".into());
    let server = TestServer::start(s);
    let api = server.api();
    assert_eq!(
        api.fetch("/users/nobody/conversations"),
        json!({"data": []})
    );
    assert_eq!(
        versioned(&api, "/users/nobody/conversations", "2024-01-01").status,
        404
    );
    // The other app keeps the newest.
    let other = Api::new(&server.base, common::OTHER_APP, common::OTHER_KEY);
    assert_eq!(other.get("/users/nobody/conversations").status, 404);
    drop(server);
    // A setting that is not a date stops the server from starting.
    let mut s = settings(&dir.path().join("parley.db"));
    s.apps.get_mut(APP).unwrap().rest_version = Some("soon".into());
    let started = actix_web::rt::System::new().block_on(parley_server::start(s));
    let err = started.err().expect("refused").to_string();
    assert!(err.contains("rest_version"), "{err}");
}

#[test]
fn a_batch_counts_as_its_operations_for_the_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir.path().join("parley.db"));
    s.rate_limit.requests_per_second = 1;
    s.rate_limit.burst = 5;
    let server = TestServer::start(s);
    let api = Api::new(&server.base, APP, KEY);
    let ops = |n: i64| -> Value {
        json!((0..n)
            .map(|i| json!([i, "GET", "/users"]))
            .collect::<Vec<_>>())
    };
    // More than the whole burst can never pass: a 400 (not a 429 to retry forever), nothing
    // taken.
    api.post("/batch", &ops(6)).error(400, "LIMIT_EXCEEDED");
    // Five operations take the five requests of the burst; the operations are not refused.
    let answers = batch(&api, &ops(5));
    assert!(answers.iter().all(|a| a.1 == 200), "{answers:?}");
    let resp = api.get("/users");
    assert_eq!(resp.status, 429, "{}", resp.text);
    assert!(resp.headers.contains_key("retry-after"));
}
