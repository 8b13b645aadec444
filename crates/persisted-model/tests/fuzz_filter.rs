//! Property-based fuzzing of the pure filter language: any query string and any JSON filter
//! is either refused with a `FilterError` or turned into SQL for every back end; nothing
//! panics.

use persisted_model::filter::{
    FilterLimits, FilterUse, ModelLookup, QueryParams, object_argument, parse_filter, parse_where,
};
use persisted_model::testing::{category_definition, product_definition};
use persisted_model::{ModelDefinition, store_select_sql};
use proptest::prelude::*;
use sea_orm::DbBackend;
use serde_json::Value;

struct Models(Vec<ModelDefinition>);

impl ModelLookup for Models {
    fn model(&self, name: &str) -> Option<&ModelDefinition> {
        self.0.iter().find(|m| m.name == name)
    }
}

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
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
        1 => "[()\\[\\]*+?{}|^$\\\\.a-z0-9%_\u{0}-]{0,12}",
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
    leaf.prop_recursive(6, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
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
        json().prop_map(|v| format!(
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
                let _ = store_select_sql(&product, &filter, backend);
            }
        }
    }
    let _ = parse_where(value, &product, limits);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_json_filter_is_refused_or_becomes_sql(value in json()) {
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
