//! Property-based fuzzing.
//!
//! * The pure filter language: any query string and any JSON filter is either refused with a
//!   `FilterError` or turned into SQL for every back end; nothing panics (2,000 cases each).
//! * Through HTTP: random JSON bodies on every write route and random query strings on every
//!   read route give a 2xx or a 4xx on every back end, never a 5xx.

use actix_web::http::Method;
use persisted_model::filter::{
    FilterLimits, FilterUse, ModelLookup, QueryParams, object_argument, parse_filter, parse_where,
};
use persisted_model::testing::{category_definition, product_definition};
use persisted_model::{ModelDefinition, store_select_sql};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use sea_orm::DbBackend;
use serde_json::{Value, json};

use crate::support::{on_each_backend_with_auth, q};

/// Filter keys, property names, operators and values that make a fuzz case get far.
const WORDS: &[&str] = &[
    "where",
    "fields",
    "order",
    "limit",
    "skip",
    "offset",
    "include",
    "relation",
    "rel",
    "scope",
    "and",
    "or",
    "name",
    "price",
    "inStock",
    "releasedAt",
    "categoryId",
    "id",
    "secret",
    "category",
    "products",
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "inq",
    "nin",
    "like",
    "nlike",
    "ilike",
    "nilike",
    "regexp",
    "$where",
    "0",
    "1",
    "ASC",
    "price DESC",
    "name asc",
    "true",
    "false",
    "null",
    "/a/i",
    "2020-01-01",
    "12.5",
    "email",
    "password",
    "ttl",
    "scopes",
    "userId",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
        1 => "[()\\[\\]*+?{}|^$\\\\.a-z0-9%_\u{0}-]{0,12}",
    ]
}

/// Any JSON value up to `depth` levels, its keys and strings drawn mostly from [`WORDS`].
fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

struct Models(Vec<ModelDefinition>);

impl ModelLookup for Models {
    fn model(&self, name: &str) -> Option<&ModelDefinition> {
        self.0.iter().find(|m| m.name == name)
    }
}

fn query_string() -> impl Strategy<Value = String> {
    let pair = (
        prop_oneof![Just("filter".to_owned()), Just("where".to_owned()), word()],
        prop::collection::vec(word(), 0..4),
        word(),
    )
        .prop_map(|(root, path, value)| {
            let mut key = root;
            for p in path {
                key.push_str(&format!("[{p}]"));
            }
            let enc =
                |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
            format!("{}={}", enc(&key), enc(&value))
        });
    prop_oneof![
        prop::collection::vec(pair, 0..6).prop_map(|pairs| pairs.join("&")),
        "\\PC{0,40}",
        json_value(6).prop_map(|v| format!(
            "filter={}",
            percent_encoding::utf8_percent_encode(&v.to_string(), percent_encoding::NON_ALPHANUMERIC)
        )),
    ]
}

fn check(value: &Value, limits: &FilterLimits) {
    let product = product_definition();
    let models = Models(vec![product.clone(), category_definition()]);
    for usage in [FilterUse::Full, FilterUse::FieldsAndInclude] {
        if let Ok(filter) = parse_filter(value, &product, &models, limits, usage) {
            for backend in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql] {
                store_select_sql(&product, &filter, backend).expect("an accepted filter becomes SQL");
            }
        }
    }
    let _ = parse_where(value, &product, limits);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_json_filter_is_refused_or_becomes_sql(value in json_value(6)) {
        check(&value, &FilterLimits::default());
        check(&value, &FilterLimits::loopback());
        check(&serde_json::json!({"where": value.clone()}), &FilterLimits::default());
        check(&serde_json::json!({"include": {"relation": "category", "scope": value}}), &FilterLimits::default());
    }

    #[test]
    fn any_query_string_is_refused_or_becomes_sql(raw in query_string()) {
        let params = QueryParams::parse(&raw);
        let limits = FilterLimits::default();
        let _ = params.to_object();
        for name in ["filter", "where"] {
            if let Ok(Some(value)) = object_argument(&params, name, &limits) {
                check(&value, &limits);
            }
        }
    }
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
        for (i, body) in samples(json_value(4), 220, 7).into_iter().enumerate() {
            let (method, uri) = &routes[i % routes.len()];
            let res = t.call_as(&admin, method.clone(), uri, Some(body.clone())).await;
            assert!(res.status.as_u16() < 500, "[{}] {method} {uri} {body}: {} {:?}", t.backend, res.status, res.body);
        }
        let reads = ["/api/Products", "/api/Products/findOne", "/api/Products/count", "/api/Categories/1/products"];
        for (i, filter) in samples(json_value(4), 220, 9).into_iter().enumerate() {
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
