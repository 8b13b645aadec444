//! The PersistedModel methods on one model: create, read, replace, patch, upsert, delete.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{on_each_backend, q, redact_ids};

#[actix_web::test]
async fn create_returns_200_with_defaults_and_coercion() {
    on_each_backend(|t| async move {
        let res = t.post("/api/Products", json!({"name": "Widget", "price": "9.5", "releasedAt": "2021-06-01"})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        assert_eq!(res.content_type, "application/json; charset=utf-8");
        insta::assert_json_snapshot!("create_product", redact_ids(&res.body));
        let res = t.post("/api/Products", json!({"name": "Off", "inStock": "false"})).await;
        assert_eq!(res.body["inStock"], json!(false));
    })
    .await;
}

#[actix_web::test]
async fn create_with_an_array_returns_an_array() {
    on_each_backend(|t| async move {
        let res = t.post("/api/Products", json!([{"name": "A", "price": 1}, {"name": "B", "price": 2}])).await;
        assert_eq!(res.status, StatusCode::OK);
        let items = res.body.as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1]["name"], "B");
        assert_ne!(items[0]["id"], items[1]["id"]);
    })
    .await;
}

#[actix_web::test]
async fn bulk_create_is_atomic() {
    on_each_backend(|t| async move {
        let res = t.post("/api/Products", json!([{"name": "ok"}, {"price": 1}])).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}]", t.backend);
        assert_eq!(t.get("/api/Products/count").await.body, json!({"count": 0}));
    })
    .await;
}

#[actix_web::test]
async fn generated_ids_cannot_be_chosen() {
    on_each_backend(|t| async move {
        let res = t.post("/api/Products", json!({"id": 100, "name": "x"})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.body["error"]["details"]["codes"], json!({"id": ["absence"]}));
        assert_eq!(res.message(), "The `Product` instance is not valid. Details: `id` can't be set (value: 100).");
    })
    .await;
}

#[actix_web::test]
async fn find_by_id_exists_and_head() {
    on_each_backend(|t| async move {
        let id = t.create("/api/Products", json!({"name": "Widget", "price": 3})).await;
        let res = t.get(&format!("/api/Products/{id}")).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body["name"], "Widget");
        assert!(res.body.get("secret").is_none(), "hidden properties never leave the server");

        let res = t.get(&format!("/api/Products/{id}?filter={}", q(json!({"fields": {"name": true}})))).await;
        assert_eq!(res.body, json!({"name": "Widget"}));

        let res = t.get("/api/Products/9999").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(
            res.body,
            json!({"error": {"statusCode": 404, "name": "Error", "message": "Unknown \"Product\" id \"9999\".", "code": "MODEL_NOT_FOUND"}})
        );

        assert_eq!(t.get(&format!("/api/Products/{id}/exists")).await.body, json!({"exists": true}));
        assert_eq!(t.get("/api/Products/9999/exists").await.body, json!({"exists": false}));
        let head = t.call(Method::HEAD, &format!("/api/Products/{id}"), None).await;
        assert_eq!(head.status, StatusCode::OK);
        assert!(head.raw.is_empty());
        let head = t.call(Method::HEAD, "/api/Products/9999", None).await;
        assert_eq!(head.status, StatusCode::NOT_FOUND);
        assert!(head.raw.is_empty());
    })
    .await;
}

#[actix_web::test]
async fn find_find_one_and_count() {
    on_each_backend(|t| async move {
        assert_eq!(t.get("/api/Products").await.body, json!([]));
        assert_eq!(t.get("/api/Products/count").await.body, json!({"count": 0}));
        for (name, price) in [("a", 1), ("b", 5), ("c", 10)] {
            t.create("/api/Products", json!({"name": name, "price": price})).await;
        }
        let all = t.get("/api/Products").await.body;
        assert_eq!(all.as_array().unwrap().iter().map(|p| p["name"].clone()).collect::<Vec<_>>(), vec!["a", "b", "c"]);
        let res = t.get(&format!("/api/Products/count?where={}", q(json!({"price": {"gt": 2}})))).await;
        assert_eq!(res.body, json!({"count": 2}));
        let res = t.get(&format!("/api/Products/findOne?filter={}", q(json!({"where": {"name": "b"}})))).await;
        assert_eq!(res.body["price"], json!(5));
        let res = t.get(&format!("/api/Products/findOne?filter={}", q(json!({"where": {"name": "zz"}})))).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.message(), "Unknown \"Product\" id \"undefined\".");
        assert_eq!(res.code(), Some("MODEL_NOT_FOUND"));
    })
    .await;
}

#[actix_web::test]
async fn replace_by_id_drops_omitted_properties() {
    on_each_backend(|t| async move {
        let id = t.create("/api/Products", json!({"name": "W", "price": 9, "inStock": false})).await;
        let res = t.put(&format!("/api/Products/{id}"), json!({"name": "W2", "price": 11})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        assert_eq!(res.body, json!({"id": id, "name": "W2", "price": 11, "inStock": true, "releasedAt": null, "categoryId": null}));
        let res = t.post(&format!("/api/Products/{id}/replace"), json!({"name": "W3"})).await;
        assert_eq!(res.body["price"], json!(null));
        assert_eq!(t.get(&format!("/api/Products/{id}")).await.body["name"], "W3");

        let res = t.put("/api/Products/9999", json!({"name": "ghost"})).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.body["error"], json!({"statusCode": 404, "name": "Error", "message": "Could not replace. Object with id 9999 does not exist!"}));

        let res = t.put(&format!("/api/Products/{id}"), json!({"id": 12345, "name": "x"})).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.message(), format!("id property (id) cannot be updated from {id} to 12345"));

        let res = t.put(&format!("/api/Products/{id}"), json!({"price": 1})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

#[actix_web::test]
async fn patch_attributes_merges() {
    on_each_backend(|t| async move {
        let id = t.create("/api/Products", json!({"name": "W", "price": 9, "inStock": false})).await;
        let res = t.patch(&format!("/api/Products/{id}"), json!({"price": 12.25})).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body["price"], json!(12.25));
        assert_eq!(res.body["inStock"], json!(false));
        assert_eq!(res.body["name"], "W");

        let res = t.patch(&format!("/api/Products/{id}"), json!({"name": null})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(t.get(&format!("/api/Products/{id}")).await.body["name"], "W", "nothing was written");

        let res = t.patch("/api/Products/9999", json!({"price": 1})).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.message(), "could not find a model with id 9999");
        assert_eq!(res.code(), Some("MODEL_NOT_FOUND"));

        let res = t.patch(&format!("/api/Products/{id}"), json!({"id": 777})).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.message(), format!("id cannot be updated from {id} to 777 when forceId is set to true"));
    })
    .await;
}

#[actix_web::test]
async fn replace_or_create_and_patch_or_create() {
    on_each_backend(|t| async move {
        let id = t.create("/api/Products", json!({"name": "G", "price": 3})).await;
        let res = t.put("/api/Products", json!({"id": id, "name": "G2"})).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body["price"], json!(null));
        let res = t.put("/api/Products", json!({"name": "new by PUT"})).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_ne!(res.body["id"], id);
        let res = t.post("/api/Products/replaceOrCreate", json!({"id": id, "name": "G3", "price": 30})).await;
        assert_eq!(res.body["price"], json!(30));
        let res = t.put("/api/Products", json!({"id": 777, "name": "x"})).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.message(), "Could not replace. Object with id 777 does not exist!");

        let res = t.patch("/api/Products", json!({"id": id, "price": 42})).await;
        assert_eq!(res.body["name"], "G3");
        assert_eq!(res.body["price"], json!(42));
        let res = t.patch("/api/Products", json!({"name": "new by PATCH"})).await;
        assert_eq!(res.status, StatusCode::OK);
        let res = t.patch("/api/Products", json!({"id": 500, "name": "x"})).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.message(), "Could not update attributes. Object with id 500 does not exist!");
    })
    .await;
}

#[actix_web::test]
async fn upsert_with_where() {
    on_each_backend(|t| async move {
        t.create("/api/Products", json!({"name": "A", "price": 1})).await;
        t.create("/api/Products", json!({"name": "B", "price": 1})).await;
        let url = |w: serde_json::Value| format!("/api/Products/upsertWithWhere?where={}", q(w));

        let res = t.post(&url(json!({"name": "A"})), json!({"price": 100})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "the data is validated alone");
        let res = t.post(&url(json!({"name": "A"})), json!({"name": "A", "price": 100})).await;
        assert_eq!(res.body["price"], json!(100));
        let res = t.post(&url(json!({"name": "C"})), json!({"name": "C", "price": 7})).await;
        assert_eq!(res.body["name"], "C");
        assert_eq!(t.get("/api/Products/count").await.body, json!({"count": 3}));
        let res = t.post(&url(json!({"price": {"gt": 0}})), json!({"name": "Many"})).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.message(), "There are multiple instances found.Upsert Operation will not be performed!");
        let res = t.post(&url(json!({"name": "A"})), json!({})).await;
        assert_eq!(res.message(), "data object cannot be empty!");
        let res = t.post("/api/Products/upsertWithWhere", json!({"name": "x"})).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "a where is required");
    })
    .await;
}

#[actix_web::test]
async fn update_all_needs_a_where_and_valid_data() {
    on_each_backend(|t| async move {
        for price in [1, 2, 10] {
            t.create("/api/Products", json!({"name": "p", "price": price})).await;
        }
        let res = t
            .post(&format!("/api/Products/update?where={}", q(json!({"price": {"lt": 5}}))), json!({"inStock": false}))
            .await;
        assert_eq!(res.body, json!({"count": 2}));
        let res = t.post("/api/Products/update?where[name]=nothing", json!({"price": 0})).await;
        assert_eq!(res.body, json!({"count": 0}));
        let res = t.post("/api/Products/update", json!({"inStock": true})).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        let res = t.post(&format!("/api/Products/update?where={}", q(json!({}))), json!({"price": 1})).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "an empty where would change every row");
        let res =
            t.post(&format!("/api/Products/update?where={}", q(json!({"price": 1}))), json!({"name": null})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        let res = t.post(&format!("/api/Products/update?where={}", q(json!({"price": 1}))), json!({"id": 5})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        let res = t.get(&format!("/api/Products/count?where={}", q(json!({"inStock": false})))).await;
        assert_eq!(res.body, json!({"count": 2}));
    })
    .await;
}

#[actix_web::test]
async fn delete_by_id_counts() {
    on_each_backend(|t| async move {
        let id = t.create("/api/Products", json!({"name": "x"})).await;
        assert_eq!(t.delete(&format!("/api/Products/{id}")).await.body, json!({"count": 1}));
        let again = t.delete(&format!("/api/Products/{id}")).await;
        assert_eq!((again.status, again.body), (StatusCode::OK, json!({"count": 0})));
        assert_eq!(t.get(&format!("/api/Products/{id}")).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[actix_web::test]
async fn client_chosen_string_ids() {
    on_each_backend(|t| async move {
        let res = t.post("/api/Tags", json!({"id": "rust", "label": "Rust"})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        assert_eq!(t.get("/api/Tags/rust").await.body, json!({"id": "rust", "label": "Rust"}));
        // Not forceId: PATCH / and PUT / create with the given id.
        let res = t.patch("/api/Tags", json!({"id": "go", "label": "Go"})).await;
        assert_eq!(res.body, json!({"id": "go", "label": "Go"}));
        let res = t.put("/api/Tags", json!({"id": "zig"})).await;
        assert_eq!(res.body, json!({"id": "zig", "label": null}));
        // Ids that look like JSON are plain strings, never filters.
        let res = t.get("/api/Tags/%7B%22neq%22%3Anull%7D").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(t.delete("/api/Tags/%7B%22neq%22%3Anull%7D").await.body, json!({"count": 0}));
        assert_eq!(t.get("/api/Tags/count").await.body, json!({"count": 3}));
    })
    .await;
}

#[actix_web::test]
async fn replace_on_put_false_makes_put_patch() {
    on_each_backend(|t| async move {
        let id = t.create("/api/Notes", json!({"title": "t", "body": "b"})).await;
        let res = t.put(&format!("/api/Notes/{id}"), json!({"title": "t2"})).await;
        assert_eq!(res.body["body"], "b", "PUT /:id is patchAttributes");
        let res = t.put("/api/Notes", json!({"id": id, "body": "c"})).await;
        assert_eq!(res.body["title"], "t2", "PUT / is patchOrCreate");
        let res = t.post(&format!("/api/Notes/{id}/replace"), json!({"title": "r"})).await;
        assert_eq!(res.body["body"], json!(null), "POST /:id/replace still replaces");
    })
    .await;
}

#[actix_web::test]
async fn strict_delete_answers_404() {
    on_each_backend(|t| async move {
        let res = t.delete("/api/Notes/4242").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.code(), Some("NOT_FOUND"));
    })
    .await;
}

/// `omit_null_properties`: properties never set are left out, as LoopBack's memory connector
/// does; by default they are `null`, as its SQL connectors send them.
#[actix_web::test]
async fn null_properties_can_be_left_out() {
    use crate::support::models::product;
    use actix_web::{App, test};
    for omit in [false, true] {
        let db = persisted_model::connect("sqlite::memory:").await.unwrap();
        // Products alone: their relation to categories is left out.
        let products = persisted_model::ModelHandle::of::<product::Model>().map_definition(|d| d.relations.clear());
        let api =
            persisted_model::RestApi::builder(db).handle(products).omit_null_properties(omit).build().await.unwrap();
        let app = test::init_service(App::new().service(api.scope("/api"))).await;
        let req = test::TestRequest::post().uri("/api/Products").set_json(json!({"name": "Glue"})).to_request();
        let made: serde_json::Value = test::call_and_read_body_json(&app, req).await;
        let req = test::TestRequest::get().uri(&format!("/api/Products/{}", made["id"])).to_request();
        let read: serde_json::Value = test::call_and_read_body_json(&app, req).await;
        for body in [&made, &read] {
            assert_eq!(body.get("price").cloned(), (!omit).then_some(serde_json::Value::Null), "omit {omit}: {body}");
            assert_eq!(body["name"], "Glue");
        }
    }
}
