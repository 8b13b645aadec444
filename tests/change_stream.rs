//! Change streams: the events of every write route compared with LoopBack 3's (recorded from
//! the reference app by `fixtures/change_stream/record.js`), the subscriber's access and row
//! rules, `options`, and a subscriber too slow to keep up.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use persisted_model::acl::{AccessType, AclEntry};
use serde_json::{Value, json};

use crate::support::{Settings, on_each_backend, on_each_backend_with};

const WAIT: Duration = Duration::from_secs(2);
const NOTHING: Duration = Duration::from_millis(300);

/// Ids as the comparison sees them: the seeded instance, a missing one, or a new one.
fn normalise(v: &Value, seed: &Value) -> Value {
    let id = |x: &Value| -> Value {
        if x.as_f64() == seed.as_f64() {
            json!("{seed}")
        } else if x.as_f64() == Some(424242.0) {
            x.clone()
        } else {
            json!("{new}")
        }
    };
    let mut out = v.clone();
    if let Some(t) = v.get("target") {
        out["target"] = id(t);
    }
    if let Some(w) = v.pointer("/where/id") {
        out["where"]["id"] = id(w);
    }
    if let Some(d) = v.pointer("/data/id") {
        out["data"]["id"] = id(d);
    }
    out
}

/// Same JSON, numbers compared by value (LoopBack writes `2` where a float column gives `2.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w)),
        _ => a == b,
    }
}

fn lb3_events(frames: &str) -> Vec<Value> {
    frames
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("event: data\ndata: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[actix_web::test]
async fn every_write_route_sends_loopback_3s_event() {
    let recorded: Value =
        serde_json::from_str(include_str!("fixtures/change_stream/lb3.events.json")).expect("the recorded events");
    on_each_backend(|t| {
        let recorded = recorded.clone();
        async move {
            let mut stream = t.subscribe(None, "/api/Products/change-stream").await;
            assert_eq!(stream.status, StatusCode::OK);
            assert_eq!(stream.content_type, recorded["headers"]["contentType"]);
            let seed = t.create("/api/Products", json!({"name": "Seed", "price": 1})).await;
            let lb3_seed = recorded["seedId"].clone();
            assert_eq!(stream.events(WAIT).await.len(), 1, "[{}] the seed's create", t.backend);
            for step in recorded["steps"].as_array().unwrap() {
                let name = step["name"].as_str().unwrap();
                let path = format!("/api{}", step["path"].as_str().unwrap().replace("{id}", &seed.to_string()));
                let method = Method::from_bytes(step["method"].as_str().unwrap().as_bytes()).unwrap();
                let res = t.call(method, &path, step.get("body").cloned()).await;
                assert_eq!(
                    res.status.as_u16(),
                    step["status"].as_u64().unwrap() as u16,
                    "[{}] {name}: {:?}",
                    t.backend,
                    res.body
                );
                let expected: Vec<Value> =
                    lb3_events(step["frames"].as_str().unwrap()).iter().map(|e| normalise(e, &lb3_seed)).collect();
                let got: Vec<Value> = stream
                    .events(if expected.is_empty() { NOTHING } else { WAIT })
                    .await
                    .iter()
                    .map(|e| normalise(e, &seed))
                    .collect();
                assert_eq!(got.len(), expected.len(), "[{}] {name}: {got:?} vs LoopBack's {expected:?}", t.backend);
                for (ours, theirs) in got.iter().zip(&expected) {
                    for key in ["type", "target", "where"] {
                        assert!(
                            same(&ours[key], &theirs[key]),
                            "[{}] {name}: {key} {ours} vs LoopBack's {theirs}",
                            t.backend
                        );
                    }
                    // The instance: every property LoopBack sent, with its value. Properties
                    // LoopBack left undefined are null here (SQL connectors send null too),
                    // and upsertWithWhere's create applies the inStock default that LoopBack
                    // skipped there.
                    let (Some(ours_data), theirs_data) = (ours["data"].as_object(), &theirs["data"]) else {
                        assert!(theirs["data"].is_null(), "[{}] {name}: no data, LoopBack sent {theirs}", t.backend);
                        continue;
                    };
                    for (k, v) in ours_data {
                        match theirs_data.get(k) {
                            Some(w) => assert!(same(v, w), "[{}] {name}: data.{k} {v} vs LoopBack's {w}", t.backend),
                            None => assert!(
                                v.is_null() || (name == "upsertWithWhere new" && k == "inStock"),
                                "[{}] {name}: data.{k} = {v}, which LoopBack did not send",
                                t.backend
                            ),
                        }
                    }
                    for k in theirs_data.as_object().into_iter().flat_map(|o| o.keys()) {
                        assert!(ours_data.contains_key(k), "[{}] {name}: data.{k} missing", t.backend);
                    }
                }
            }
        }
    })
    .await;
}

#[actix_web::test]
async fn options_narrow_the_events_and_the_fields() {
    on_each_backend(|t| async move {
        let options = r#"{"where":{"price":{"gt":5}},"fields":["name"]}"#;
        let uri = format!("/api/Products/change-stream?options={}", urlencode(options));
        let mut stream = t.subscribe(None, &uri).await;
        assert_eq!(stream.status, StatusCode::OK);
        t.create("/api/Products", json!({"name": "Cheap", "price": 1})).await;
        t.create("/api/Products", json!({"name": "Dear", "price": 50})).await;
        let events = stream.events(WAIT).await;
        assert_eq!(events.len(), 1, "[{}] {events:?}", t.backend);
        assert_eq!(events[0]["data"], json!({"name": "Dear"}), "[{}]", t.backend);
        let bad = t
            .get(&format!("/api/Products/change-stream?options={}", urlencode(r#"{"where":{"nope":{"gt":1}}}"#)))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "[{}] {:?}", t.backend, bad.body);
    })
    .await;
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[actix_web::test]
async fn subscribers_see_only_rows_a_read_would_show_them() {
    let settings = Settings {
        auth: true,
        acls: vec![
            AclEntry::role("Secret", "createChangeStream", None, "$authenticated").allow(),
            AclEntry::role("Secret", "*", Some(AccessType::Write), "admin").allow(),
            AclEntry::role("User", "*", Some(AccessType::Read), "admin").allow(),
        ],
        ..Settings::default()
    };
    on_each_backend_with(settings, |t| async move {
        let login = |email: &'static str, password: &'static str| {
            let t = t.clone();
            async move {
                let res = t.post("/api/Users/login", json!({"email": email, "password": password})).await;
                (res.body["id"].as_str().unwrap().to_owned(), res.body["userId"].clone())
            }
        };
        let (admin, admin_id) = login("admin@example.com", "adminpass").await;
        let (alice, alice_id) = login("alice@example.com", "alicepass").await;

        // Anonymous callers may not subscribe to secrets at all.
        let anonymous = t.subscribe(None, "/api/Secrets/change-stream").await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "[{}]", t.backend);

        // alice hears of her own secrets only ($owner decides findById).
        let mut stream = t.subscribe(Some(&alice), "/api/Secrets/change-stream").await;
        assert_eq!(stream.status, StatusCode::OK, "[{}]", t.backend);
        let post = |body: Value| t.call_as(&admin, Method::POST, "/api/Secrets", Some(body));
        assert_eq!(post(json!({"text": "the admin's", "userId": admin_id})).await.status, StatusCode::OK);
        assert_eq!(post(json!({"text": "alice's", "userId": alice_id})).await.status, StatusCode::OK);
        let events = stream.events(WAIT).await;
        assert_eq!(events.len(), 1, "[{}] {events:?}", t.backend);
        assert_eq!(events[0]["data"]["text"], "alice's", "[{}]", t.backend);

        // Hidden properties never travel: the admin's stream of users has no password.
        let mut users = t.subscribe(Some(&admin), "/api/Users/change-stream").await;
        assert_eq!(users.status, StatusCode::OK, "[{}]", t.backend);
        let created = t.post("/api/Users", json!({"email": "bob@example.com", "password": "bobpass1"})).await;
        assert_eq!(created.status, StatusCode::OK, "[{}] {:?}", t.backend, created.body);
        let events = users.events(WAIT).await;
        assert_eq!(events.len(), 1, "[{}] {events:?}", t.backend);
        assert_eq!(events[0]["data"]["email"], "bob@example.com");
        assert!(events[0]["data"].get("password").is_none(), "[{}] {events:?}", t.backend);
    })
    .await;
}

#[actix_web::test]
async fn the_access_hook_filters_events_as_it_filters_reads() {
    on_each_backend(|t| async move {
        // Memos hide archived rows from every read.
        let mut stream = t.subscribe(None, "/api/Memos/change-stream").await;
        assert_eq!(stream.status, StatusCode::OK);
        t.create("/api/Memos", json!({"text": "kept"})).await;
        let archived = t.create("/api/Memos", json!({"text": "hidden", "archived": true})).await;
        let events = stream.events(WAIT).await;
        assert_eq!(events.len(), 1, "[{}] {events:?}", t.backend);
        assert_eq!(events[0]["data"]["text"], "kept");
        // Its removal names a row the subscriber could not read: not sent either.
        t.delete(&format!("/api/Memos/{archived}")).await;
        // A bulk update's rows are not known: subscribers with row rules do not get it.
        let uri = format!("/api/Memos/update?where={}", urlencode(r#"{"text":"kept"}"#));
        assert_eq!(t.post(&uri, json!({"text": "kept 2"})).await.status, StatusCode::OK);
        assert_eq!(stream.events(NOTHING).await, Vec::<Value>::new(), "[{}]", t.backend);
    })
    .await;
}

#[actix_web::test]
async fn a_slow_subscriber_is_dropped_not_buffered() {
    on_each_backend(|t| async move {
        let mut stream = t.subscribe(None, "/api/Categories/change-stream").await;
        assert_eq!(stream.status, StatusCode::OK);
        // More changes than the feed keeps for a subscriber, while it reads nothing.
        let batch: Vec<Value> = (0..100).map(|i| json!({"name": format!("c{i}")})).collect();
        for _ in 0..=(persisted_model::changes::SUBSCRIBER_BUFFER / 100) {
            assert_eq!(t.post("/api/Categories", Value::Array(batch.clone())).await.status, StatusCode::OK);
        }
        let frames = stream.frames(Duration::from_secs(10), Duration::from_millis(300)).await;
        let last = frames.last().expect("frames");
        assert!(last.starts_with("event: error\n") && last.contains("SUBSCRIBER_TOO_SLOW"), "[{}] {last}", t.backend);
        // What it was sent before is bounded by the buffer, and the stream is over.
        assert!(frames.len() <= persisted_model::changes::SUBSCRIBER_BUFFER + 1, "[{}] {}", t.backend, frames.len());
        assert!(stream.ended(), "[{}]", t.backend);
    })
    .await;
}

#[actix_web::test]
async fn a_closed_feed_ends_the_streams() {
    on_each_backend(|t| async move {
        let mut stream = t.subscribe(None, "/api/Products/change-stream").await;
        t.api.changes().close();
        let frames = stream.frames(WAIT, Duration::from_millis(300)).await;
        assert_eq!(frames, vec!["event: end\ndata: null".to_owned()], "[{}]", t.backend);
        assert!(stream.ended());
    })
    .await;
}

/// The last frame of a stream that is expected to end on an error with `status`.
async fn ends_with_error(stream: &mut crate::support::EventStream, status: u16, backend: &str, what: &str) {
    let frames = stream.frames(Duration::from_secs(6), Duration::from_millis(300)).await;
    let last = frames.last().map(String::as_str).unwrap_or_default();
    let data: Value =
        last.strip_prefix("event: error\ndata: ").map(|d| serde_json::from_str(d).unwrap()).unwrap_or_default();
    assert_eq!(data["status"], json!(status), "[{backend}] {what}: the stream said {frames:?}");
    assert!(stream.ended(), "[{backend}] {what}: the stream goes on after {last}");
}

#[actix_web::test]
async fn a_stream_lives_no_longer_than_its_token_and_its_rights() {
    let settings = Settings {
        auth: true,
        acls: vec![AclEntry::role("Secret", "createChangeStream", None, "$authenticated").allow()],
        ..Settings::default()
    };
    on_each_backend_with(settings, |t| async move {
        let b = t.backend;
        let login = |ttl: Option<u32>| {
            let t = t.clone();
            async move {
                let mut body = json!({"email": "alice@example.com", "password": "alicepass"});
                if let Some(ttl) = ttl {
                    body["ttl"] = json!(ttl);
                }
                let res = t.post("/api/Users/login", body).await;
                assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
                res.body["id"].as_str().unwrap().to_owned()
            }
        };
        // A logout ends the stream opened with the token.
        let token = login(None).await;
        let mut stream = t.subscribe(Some(&token), "/api/Secrets/change-stream").await;
        assert_eq!(stream.status, StatusCode::OK, "[{b}]");
        assert_eq!(t.call_as(&token, Method::POST, "/api/Users/logout", None).await.status, StatusCode::NO_CONTENT);
        ends_with_error(&mut stream, 401, b, "logout").await;

        // So does deleting the token (an admin revoking a session).
        let token = login(None).await;
        let admin = t.login("admin@example.com", "adminpass").await;
        let mut stream = t.subscribe(Some(&token), "/api/Secrets/change-stream").await;
        assert_eq!(stream.status, StatusCode::OK, "[{b}]");
        let deleted = t.call_as(&admin, Method::DELETE, &format!("/api/accessTokens/{token}"), None).await;
        assert_eq!(deleted.status, StatusCode::OK, "[{b}] {:?}", deleted.body);
        ends_with_error(&mut stream, 401, b, "token deleted").await;

        // And the token's expiry.
        let token = login(Some(2)).await;
        let mut stream = t.subscribe(Some(&token), "/api/Secrets/change-stream").await;
        assert_eq!(stream.status, StatusCode::OK, "[{b}]");
        ends_with_error(&mut stream, 401, b, "expiry").await;

        // A caller who loses the role the subscription needed is told so (403), and hears no
        // more: the admin's stream of tokens ends when the admin role is taken away.
        let mut tokens = t.subscribe(Some(&admin), "/api/accessTokens/change-stream").await;
        assert_eq!(tokens.status, StatusCode::OK, "[{b}]");
        let state = t.api.state();
        let mappings = state.store("RoleMapping", "test", None).unwrap();
        let removed =
            mappings.delete_where(persisted_model::filter::Where::eq("principalId", json!("1"))).await.unwrap();
        assert_eq!(removed, 1, "[{b}]");
        ends_with_error(&mut tokens, 403, b, "role removed").await;
    })
    .await;
}

#[actix_web::test]
async fn token_events_never_carry_a_usable_token() {
    // LoopBack 3's layout keeps raw token ids in the table; the admin may read tokens.
    let settings = Settings { auth: true, raw_tokens: true, ..Settings::default() };
    on_each_backend_with(settings, |t| async move {
        let b = t.backend;
        let admin = t.login("admin@example.com", "adminpass").await;
        let mut stream = t.subscribe(Some(&admin), "/api/accessTokens/change-stream").await;
        assert_eq!(stream.status, StatusCode::OK, "[{b}]");
        let alice = t.login("alice@example.com", "alicepass").await;
        assert_eq!(t.call_as(&alice, Method::POST, "/api/Users/logout", None).await.status, StatusCode::NO_CONTENT);
        let frames = stream.frames(WAIT, Duration::from_millis(300)).await;
        let events: Vec<&String> = frames.iter().filter(|f| f.starts_with("event: data")).collect();
        assert_eq!(events.len(), 2, "[{b}] the login and the logout: {frames:?}");
        let fingerprint = persisted_model::fingerprint(&alice);
        for frame in events {
            assert!(!frame.contains(&alice), "[{b}] a change event carried alice's token: {frame}");
            assert!(frame.contains(&fingerprint), "[{b}] the event names the token by its fingerprint: {frame}");
        }
    })
    .await;
}
