//! Filters through HTTP: both encodings on every method that takes one.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, on_each_backend, q};

async fn seed(t: &TestApp) {
    for (name, price, in_stock, released) in [
        ("Alpha Widget", 10.0, true, "2020-01-01"),
        ("beta widget", 20.5, false, "2020-06-15T12:30:00Z"),
        ("Gamma Gadget", 5.0, true, "2021-03-10T08:00:00Z"),
        ("Delta", 100.0, true, "2019-12-31"),
        ("Zeta_Tool", 0.0, false, "2022-01-01"),
    ] {
        t.create("/api/Products", json!({"name": name, "price": price, "inStock": in_stock, "releasedAt": released}))
            .await;
    }
}

fn names(body: &Value) -> Vec<String> {
    body.as_array()
        .map(|a| a.iter().filter_map(|p| p["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[actix_web::test]
async fn where_operators_agree_on_every_backend() {
    on_each_backend(|t| async move {
        seed(&t).await;
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!({"price": {"gt": 10}}), vec!["beta widget", "Delta"]),
            (json!({"price": {"between": [5, 20.5]}}), vec!["Alpha Widget", "beta widget", "Gamma Gadget"]),
            (json!({"name": {"like": "%Widget%"}}), vec!["Alpha Widget"]),
            (json!({"name": {"nlike": "%idget%"}}), vec!["Gamma Gadget", "Delta", "Zeta_Tool"]),
            (json!({"name": {"ilike": "%WIDGET%"}}), vec!["Alpha Widget", "beta widget"]),
            (json!({"name": {"like": "Delt_"}}), vec!["Delta"]),
            (json!({"name": {"regexp": "^[A-G]"}}), vec!["Alpha Widget", "Gamma Gadget", "Delta"]),
            (json!({"name": {"regexp": "/widget$/i"}}), vec!["Alpha Widget", "beta widget"]),
            (json!({"releasedAt": {"lt": "2020-01-02"}}), vec!["Alpha Widget", "Delta"]),
            (json!({"or": [{"price": 0}, {"name": "Delta"}]}), vec!["Delta", "Zeta_Tool"]),
            (json!({"price": {"gt": 1, "lt": 15}}), vec!["Alpha Widget", "Gamma Gadget"]),
            (json!({"id": {"inq": []}}), vec![]),
            (json!({"releasedAt": {"neq": null}, "inStock": false}), vec!["beta widget", "Zeta_Tool"]),
        ];
        for (where_, expected) in cases {
            let res = t.get(&format!("/api/Products?filter={}", q(json!({"where": where_})))).await;
            assert_eq!(res.status, StatusCode::OK, "[{}] {where_}: {:?}", t.backend, res.body);
            assert_eq!(names(&res.body), expected, "[{}] {where_}", t.backend);
        }
    })
    .await;
}

#[actix_web::test]
async fn bracket_syntax() {
    on_each_backend(|t| async move {
        seed(&t).await;
        let res = t.get("/api/Products?filter[where][price][gt]=10&filter[order]=price%20DESC").await;
        assert_eq!(names(&res.body), vec!["Delta", "beta widget"]);
        let res = t.get("/api/Products?filter[where][price][inq]=5&filter[where][price][inq]=100").await;
        assert_eq!(names(&res.body), vec!["Gamma Gadget", "Delta"]);
        let res = t.get("/api/Products?filter[where][inStock]=false&filter[fields]=name").await;
        assert_eq!(res.body, json!([{"name": "beta widget"}, {"name": "Zeta_Tool"}]));
        let res = t.get("/api/Products/count?where[price][gt]=5").await;
        assert_eq!(res.body, json!({"count": 3}));
    })
    .await;
}

#[actix_web::test]
async fn order_paging_and_fields() {
    on_each_backend(|t| async move {
        seed(&t).await;
        let res =
            t.get(&format!("/api/Products?filter={}", q(json!({"order": "name ASC", "limit": 2, "skip": 1})))).await;
        assert_eq!(names(&res.body), vec!["Delta", "Gamma Gadget"]);
        let res = t.get(&format!("/api/Products?filter={}", q(json!({"skip": 3})))).await;
        assert_eq!(names(&res.body), vec!["Delta", "Zeta_Tool"]);
        let res = t
            .get(&format!(
                "/api/Products?filter={}",
                q(json!({"fields": {"price": false, "releasedAt": false, "categoryId": false}, "limit": 1}))
            ))
            .await;
        let keys: Vec<&String> = res.body[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, vec!["id", "name", "inStock"]);
        let res = t.get(&format!("/api/Products?filter={}", q(json!({"order": "price SIDEWAYS"})))).await;
        assert_eq!(res.message(), "The order \"price SIDEWAYS\" has invalid direction");
    })
    .await;
}
