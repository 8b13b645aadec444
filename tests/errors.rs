//! LoopBack's error bodies for bad input: never a panic, never a 500 for a client mistake.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{on_each_backend, q};

#[actix_web::test]
async fn validation_error_shape() {
    on_each_backend(|t| async move {
        let res = t.post("/api/Products", json!({"price": 5})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        insta::assert_json_snapshot!("validation_error", res.body);
        let res = t
            .post(
                "/api/Products",
                json!({"name": "", "price": "abc", "inStock": "maybe", "releasedAt": "nope", "color": "red"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        insta::assert_json_snapshot!("validation_error_many", res.body);
    })
    .await;
}

#[actix_web::test]
async fn bodies_that_are_not_objects() {
    on_each_backend(|t| async move {
        let res = t.raw(Method::POST, "/api/Products", "application/json", "{\"name\": \"x\",").await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.body["error"]["name"], "SyntaxError");
        for body in ["\"just a string\"", "42"] {
            let res = t.raw(Method::POST, "/api/Products", "application/json", body).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST);
            assert_eq!(res.message(), "Value is not an object.");
        }
        let res = t.raw(Method::POST, "/api/Products", "application/json", "null").await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "null is an empty instance");
        let res = t.raw(Method::POST, "/api/Products", "text/plain", "{\"name\":\"x\"}").await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "text bodies are ignored");
        let res = t.raw(Method::POST, "/api/Products", "application/x-www-form-urlencoded", "name=Form&price=3").await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body["price"], json!(3));
    })
    .await;
}

#[actix_web::test]
async fn oversized_bodies_are_413() {
    on_each_backend(|t| async move {
        let big = format!("{{\"name\": \"{}\"}}", "x".repeat(20 * 1024));
        let res = t.raw(Method::POST, "/api/Products", "application/json", big).await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(res.body["error"]["statusCode"], 413);
        assert_eq!(t.get("/api/Products/count").await.body, json!({"count": 0}));
    })
    .await;
}

#[actix_web::test]
async fn unknown_paths_are_loopback_404s() {
    on_each_backend(|t| async move {
        let res = t.get("/api/Nopes").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(
            res.body,
            json!({"error": {"statusCode": 404, "name": "Error", "message": "There is no method to handle GET /Nopes"}})
        );
        let res = t.get("/nothing-here").await;
        assert_eq!(res.message(), "Cannot GET /nothing-here");
        let res = t.get("/api/Products/1/nonexistent").await;
        assert_eq!(res.message(), "Shared class \"Product\" has no method handling GET /1/nonexistent");
        let res = t.post("/api/Products/1", json!({"name": "x"})).await;
        assert_eq!(res.message(), "Shared class \"Product\" has no method handling POST /1");
        let res = t.delete("/api/Products").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "destroyAll is not exposed");
        assert_eq!(res.message(), "Shared class \"Product\" has no method handling DELETE /");
    })
    .await;
}

#[actix_web::test]
async fn ids_of_the_wrong_type_are_missing_ids() {
    on_each_backend(|t| async move {
        let res = t.get("/api/Products/abc").await;
        assert_eq!((res.status, res.message()), (StatusCode::NOT_FOUND, "Unknown \"Product\" id \"abc\"."));
        assert_eq!(t.get("/api/Products/abc/exists").await.body, json!({"exists": false}));
        assert_eq!(t.delete("/api/Products/abc").await.body, json!({"count": 0}));
        let res = t.patch("/api/Products/abc", json!({"price": 1})).await;
        assert_eq!(res.message(), "could not find a model with id abc");
        assert_eq!(t.get("/api/Products/1.5").await.status, StatusCode::NOT_FOUND);
        let res = t.get("/api/Products/%7B%22neq%22%3Anull%7D").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "a JSON-looking id is never a filter");
        let res = t.get("/api/Products/99999999999999999999").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[actix_web::test]
async fn malformed_filters_are_400() {
    on_each_backend(|t| async move {
        for query in [
            "filter=%7B%22where%22:".to_owned(),
            "filter=5".to_owned(),
            format!("filter={}", q(json!({"where": {"price": {"foo": 1}}}))),
            "filter[where][price][bogus]=1".to_owned(),
            format!("filter={}", q(json!({"where": {"nosuch": 1}}))),
            format!("filter={}", q(json!({"order": "nosuch ASC"}))),
            format!("filter={}", q(json!({"fields": ["name", "nosuch"]}))),
            format!("filter={}", q(json!({"where": {"secret": "x"}}))),
            format!("filter={}", q(json!({"limit": -1}))),
            format!("filter={}", q(json!({"include": "nope"}))),
            format!("filter={}&filter[where][name]=x", q(json!({}))),
        ] {
            let res = t.get(&format!("/api/Products?{query}")).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "[{}] {query}: {:?}", t.backend, res.body);
            assert_eq!(res.body["error"]["statusCode"], 400);
        }
        let res = t.get("/api/Products/count?where=%7Boops").await;
        assert_eq!(res.message(), "Value is not an object.");
    })
    .await;
}
