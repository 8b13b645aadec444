//! Property test of the filter language: random where clauses over a fixed data set must select
//! the same rows from the database as the in-memory evaluation of the same AST
//! (`filter::matches`, which change streams use), on SQLite (and PostgreSQL and MySQL when their
//! URLs are set). Two independent implementations, SQL and Rust, must agree.

use persisted_model::filter::{Filter, Op, Regex, Where, matches};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::support::{TestApp, backends};

const NAMES: &[&str] = &["Alpha Widget", "beta widget", "Gamma_Gadget", "delta", "Delta", "50% off", "ZETA", "eta"];

fn dataset() -> Vec<Value> {
    let prices = [json!(10), json!(20.5), json!(5), Value::Null, json!(0), json!(100), json!(-3.25), json!(10)];
    let stock =
        [json!(true), json!(false), Value::Null, json!(true), json!(false), json!(true), Value::Null, json!(false)];
    let dates = [
        json!("2020-01-01T00:00:00.000Z"),
        json!("2020-06-15T12:30:00.000Z"),
        Value::Null,
        json!("2019-12-31T23:59:59.000Z"),
        json!("2021-03-10T08:00:00.000Z"),
        json!("2020-01-01T00:00:00.000Z"),
        Value::Null,
        json!("2022-02-02T02:02:02.000Z"),
    ];
    let cats = [json!(1), json!(2), Value::Null, json!(1), json!(3), json!(2), json!(1), Value::Null];
    (0..NAMES.len())
        .map(|i| json!({"name": NAMES[i], "price": prices[i], "inStock": stock[i], "releasedAt": dates[i], "categoryId": cats[i]}))
        .collect()
}

// ---- random where clauses ----

fn value_for(property: &'static str) -> BoxedStrategy<Value> {
    match property {
        "name" => prop::sample::select(vec!["Alpha Widget", "delta", "Delta", "eta", "ZETA", "m", "beta widget"])
            .prop_map(Value::from)
            .boxed(),
        "price" => prop::sample::select(vec![-3.25, 0.0, 5.0, 10.0, 20.5, 50.0, 100.0]).prop_map(Value::from).boxed(),
        "inStock" => any::<bool>().prop_map(Value::from).boxed(),
        "releasedAt" => prop::sample::select(vec![
            "2019-12-31T23:59:59.000Z",
            "2020-01-01T00:00:00.000Z",
            "2020-06-15T12:30:00.000Z",
            "2021-01-01T00:00:00.000Z",
        ])
        .prop_map(Value::from)
        .boxed(),
        _ => (0i64..4).prop_map(Value::from).boxed(),
    }
}

fn condition() -> BoxedStrategy<Where> {
    let property = prop::sample::select(vec!["name", "price", "inStock", "releasedAt", "categoryId"]);
    property
        .prop_flat_map(|p| {
            let v = value_for(p);
            let list = prop::collection::vec(value_for(p), 0..4);
            let mut ops: Vec<BoxedStrategy<Op>> = vec![
                v.clone().prop_map(Op::Eq).boxed(),
                v.clone().prop_map(Op::Neq).boxed(),
                Just(Op::Eq(Value::Null)).boxed(),
                Just(Op::Neq(Value::Null)).boxed(),
                v.clone().prop_map(Op::Gt).boxed(),
                v.clone().prop_map(Op::Gte).boxed(),
                v.clone().prop_map(Op::Lt).boxed(),
                v.clone().prop_map(Op::Lte).boxed(),
                (v.clone(), v.clone()).prop_map(|(a, b)| Op::Between(a, b)).boxed(),
                list.clone().prop_map(Op::Inq).boxed(),
                list.prop_map(Op::Nin).boxed(),
            ];
            if p == "name" {
                let patterns =
                    prop::sample::select(vec!["%idget%", "Delt_", "delta", "%a", "_e%", "50\\% off", "%WIDGET%", "%"]);
                ops.push(patterns.clone().prop_map(|s| Op::Like(s.into())).boxed());
                ops.push(patterns.clone().prop_map(|s| Op::NLike(s.into())).boxed());
                ops.push(patterns.clone().prop_map(|s| Op::ILike(s.into())).boxed());
                ops.push(patterns.prop_map(|s| Op::NILike(s.into())).boxed());
                let res = prop::sample::select(vec!["^[A-G]", "widget$", "a", "^d", "_"]);
                ops.push(
                    (res, any::<bool>())
                        .prop_map(|(r, i)| Op::Regexp(Regex { pattern: r.into(), case_insensitive: i }))
                        .boxed(),
                );
            }
            prop::strategy::Union::new(ops).prop_map(move |op| Where::Cond { property: p.to_owned(), op })
        })
        .boxed()
}

fn where_clause() -> impl Strategy<Value = Where> {
    condition().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Where::And),
            prop::collection::vec(inner, 1..4).prop_map(Where::Or),
        ]
    })
}

#[actix_web::test]
async fn database_agrees_with_the_reference_evaluator() {
    for backend in backends() {
        let t = TestApp::new(&backend).await;
        for row in dataset() {
            t.create("/api/Products", row).await;
        }
        let state = t.api.state();
        let store = state.store("Product", "find", None).unwrap();
        let all = store.find_raw(Filter::default()).await.unwrap();
        let def = store.model.definition();
        // Generate the cases first (proptest is synchronous), then run them against the database.
        let mut runner = TestRunner::new(Config { cases: 200, ..Config::default() });
        let strategy = where_clause();
        let mut cases = Vec::new();
        for _ in 0..200 {
            cases.push(strategy.new_tree(&mut runner).unwrap().current());
        }
        let mut discriminating = 0;
        let total = cases.len();
        for w in cases {
            let expected: Vec<Value> = all.iter().filter(|r| matches(&w, def, r)).map(|r| r["id"].clone()).collect();
            if !expected.is_empty() && expected.len() < all.len() {
                discriminating += 1;
            }
            let found = store.find_raw(Filter { where_: Some(w.clone()), ..Filter::default() }).await.unwrap();
            let got: Vec<Value> = found.iter().map(|r| r["id"].clone()).collect();
            assert_eq!(got, expected, "[{}] {w:?}", t.backend);
        }
        // The generated clauses must select some rows and not others, or the test proves little.
        assert!(discriminating * 4 >= total, "only {discriminating} of {total} clauses split the data set");
        t.drop_tables().await;
    }
}
