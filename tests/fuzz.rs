//! Property-based fuzzing through HTTP: random JSON bodies on every write route and random
//! query strings on every read route give a 2xx or a 4xx on every back end, never a 5xx.
//! (The pure filter parser and query-string decoder are fuzzed harder, without I/O, in
//! `crates/persisted-model/tests/fuzz_filter.rs`.)

use actix_web::http::Method;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{Value, json};

use crate::support::{on_each_backend_with_auth, q};

const WORDS: &[&str] = &[
    "id",
    "name",
    "price",
    "inStock",
    "releasedAt",
    "categoryId",
    "secret",
    "where",
    "limit",
    "include",
    "category",
    "gt",
    "inq",
    "like",
    "regexp",
    "email",
    "password",
    "ttl",
    "scopes",
    "userId",
    "2020-01-01",
    "true",
    "12.5",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => "\\PC{0,10}",
        1 => "[\u{0}-\u{7f}]{0,6}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// `n` samples of a strategy, from a fixed seed so a failure can be replayed.
fn samples<S: Strategy>(strategy: S, n: usize, seed: u8) -> Vec<S::Value> {
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(Default::default(), &[seed; 32]));
    (0..n).map(|_| strategy.new_tree(&mut runner).expect("a sample").current()).collect()
}

#[actix_web::test]
async fn random_bodies_and_queries_are_never_a_server_error() {
    on_each_backend_with_auth(|t| async move {
        let admin = t.login("admin@example.com", "adminpass").await;
        let product = t.create("/api/Products", json!({"name": "p"})).await;
        let routes: Vec<(Method, String)> = vec![
            (Method::POST, "/api/Products".into()),
            (Method::PATCH, "/api/Products".into()),
            (Method::PUT, "/api/Products".into()),
            (Method::PATCH, format!("/api/Products/{product}")),
            (Method::PUT, format!("/api/Products/{product}")),
            (Method::POST, format!("/api/Products/update?where={}", q(json!({"id": product})))),
            (Method::POST, format!("/api/Products/upsertWithWhere?where={}", q(json!({"name": "p"})))),
            (Method::POST, "/api/Users".into()),
            (Method::POST, "/api/Users/login".into()),
            (Method::POST, "/api/accessTokens".into()),
            (Method::POST, "/api/Categories/1/products".into()),
        ];
        for (i, body) in samples(json(), 220, 7).into_iter().enumerate() {
            let (method, uri) = &routes[i % routes.len()];
            let res = t.call_as(&admin, method.clone(), uri, Some(body.clone())).await;
            assert!(res.status.as_u16() < 500, "[{}] {method} {uri} {body}: {} {:?}", t.backend, res.status, res.body);
        }
        let reads = ["/api/Products", "/api/Products/findOne", "/api/Products/count", "/api/Categories/1/products"];
        for (i, filter) in samples(json(), 220, 9).into_iter().enumerate() {
            let uri = format!("{}?filter={}&where={}", reads[i % reads.len()], q(filter.clone()), q(filter.clone()));
            let res = t.get(&uri).await;
            assert!(res.status.as_u16() < 500, "[{}] {uri}: {} {:?}", t.backend, res.status, res.body);
        }
        let raw_queries = samples("[a-z\\[\\]=&%0-9{}\":,.$-]{0,60}", 150, 11);
        for (i, query) in raw_queries.into_iter().enumerate() {
            let uri = format!("{}?{}", reads[i % reads.len()], query.replace(' ', "%20"));
            if let Ok(uri) = actix_web::http::Uri::try_from(uri.as_str()) {
                let res = t.get(&uri.to_string()).await;
                assert!(res.status.as_u16() < 500, "[{}] {uri}: {} {:?}", t.backend, res.status, res.body);
            }
        }
    })
    .await;
}
