//! parse + check + translate of LoopBack filters taken from the conformance scenarios.
//! Target: well under 20 µs for a typical filter. Run: `cargo bench -p persisted-model`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use persisted_model::filter::{FilterLimits, FilterUse, ModelLookup, QueryParams, object_argument, parse_filter};
use persisted_model::testing::{category_definition, product_definition};
use persisted_model::{ModelDefinition, store_select_sql};
use sea_orm::DbBackend;

struct Models(Vec<ModelDefinition>);

impl ModelLookup for Models {
    fn model(&self, name: &str) -> Option<&ModelDefinition> {
        self.0.iter().find(|m| m.name == name)
    }
}

const FILTERS: &[(&str, &str)] = &[
    ("where eq", r#"{"where":{"name":"Gadget"}}"#),
    ("between + order + limit", r#"{"where":{"price":{"between":[5,20.5]}},"order":"price DESC","limit":3}"#),
    ("and/or nested", r#"{"where":{"or":[{"and":[{"inStock":true},{"price":{"lt":10}}]},{"name":{"like":"beta%"}}]}}"#),
    ("inq + fields", r#"{"where":{"id":{"inq":[1,3,5]}},"fields":["id","name"]}"#),
    (
        "include with scope",
        r#"{"include":{"relation":"category","scope":{"fields":["name"]}},"where":{"price":{"gt":10}}}"#,
    ),
];

fn bench(c: &mut Criterion) {
    let product = product_definition();
    let models = Models(vec![product.clone(), category_definition()]);
    let limits = FilterLimits::default();
    let mut group = c.benchmark_group("filter: parse + check + SQL");
    for (name, json) in FILTERS {
        let query = format!("filter={}", percent(json));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let params = QueryParams::parse(black_box(&query));
                let value = object_argument(&params, "filter", &limits).unwrap().unwrap();
                let filter = parse_filter(&value, &product, &models, &limits, FilterUse::Full).unwrap();
                black_box(store_select_sql(&product, &filter, DbBackend::Postgres))
            })
        });
    }
    group.bench_function("bracket syntax", |b| {
        let query = "filter[where][price][gt]=10&filter[order]=price%20DESC&filter[limit]=5";
        b.iter(|| {
            let params = QueryParams::parse(black_box(query));
            let value = object_argument(&params, "filter", &limits).unwrap().unwrap();
            let filter = parse_filter(&value, &product, &models, &limits, FilterUse::Full).unwrap();
            black_box(store_select_sql(&product, &filter, DbBackend::Sqlite))
        })
    });
    group.finish();
}

fn percent(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

criterion_group!(benches, bench);
criterion_main!(benches);
