//! Relation routes for each relation kind, and `include`.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{on_each_backend, q, redact_ids};

#[actix_web::test]
async fn has_many_and_belongs_to_routes() {
    on_each_backend(|t| async move {
        let tools = t.create("/api/Categories", json!({"name": "Tools"})).await;
        let toys = t.create("/api/Categories", json!({"name": "Toys"})).await;
        let hammer = t.create("/api/Products", json!({"name": "Hammer", "price": 15, "categoryId": tools})).await;

        // POST /:id/rel sets the key to the parent, whatever the body says.
        let res = t
            .post(
                &format!("/api/Categories/{toys}/products"),
                json!({"name": "Yo-yo", "price": 3, "categoryId": tools}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body["categoryId"], toys);
        let yoyo = res.body["id"].clone();
        let res = t
            .post(
                &format!("/api/Categories/{toys}/products"),
                json!([{"name": "Kite", "price": 12}, {"name": "Ball", "price": 4}]),
            )
            .await;
        assert_eq!(res.body.as_array().map(Vec::len), Some(2));

        let res = t
            .get(&format!(
                "/api/Categories/{toys}/products?filter={}",
                q(json!({"where": {"price": {"gt": 3}}, "order": "price DESC"}))
            ))
            .await;
        assert_eq!(
            res.body.as_array().unwrap().iter().map(|p| p["name"].clone()).collect::<Vec<_>>(),
            vec!["Kite", "Ball"]
        );
        assert_eq!(t.get(&format!("/api/Categories/{toys}/products/count")).await.body, json!({"count": 3}));
        let res =
            t.get(&format!("/api/Categories/{toys}/products/count?where={}", q(json!({"price": {"lt": 10}})))).await;
        assert_eq!(res.body, json!({"count": 2}));

        let res = t.get("/api/Categories/999/products").await;
        assert_eq!((res.status, res.message()), (StatusCode::NOT_FOUND, "could not find a model with id 999"));

        assert_eq!(t.get(&format!("/api/Categories/{toys}/products/{yoyo}")).await.body["name"], "Yo-yo");
        let res = t.get(&format!("/api/Categories/{tools}/products/{yoyo}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.message(), format!("No instance with id {yoyo} found for Product"));
        let res = t.put(&format!("/api/Categories/{tools}/products/{hammer}"), json!({"price": 27})).await;
        assert_eq!((res.body["price"].clone(), res.body["name"].clone()), (json!(27), json!("Hammer")));

        assert_eq!(t.get(&format!("/api/Products/{hammer}/category")).await.body["name"], "Tools");
        let orphan = t.create("/api/Products", json!({"name": "Orphan"})).await;
        assert_eq!(t.get(&format!("/api/Products/{orphan}/category")).await.body, json!({}));
        assert_eq!(t.get("/api/Products/999/category").await.status, StatusCode::NOT_FOUND);

        let res = t.delete(&format!("/api/Categories/{toys}/products/{yoyo}")).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        assert_eq!(t.get(&format!("/api/Products/{yoyo}")).await.status, StatusCode::NOT_FOUND);
        let res = t.delete(&format!("/api/Categories/{toys}/products")).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        assert_eq!(t.get(&format!("/api/Categories/{toys}/products/count")).await.body, json!({"count": 0}));

        // Deleting the parent leaves the children; the belongsTo route then answers null.
        assert_eq!(t.delete(&format!("/api/Categories/{tools}")).await.body, json!({"count": 1}));
        assert_eq!(t.get(&format!("/api/Products/{hammer}/category")).await.body, json!(null));
    })
    .await;
}

#[actix_web::test]
async fn has_one_routes() {
    on_each_backend(|t| async move {
        let ann = t.create("/api/Authors", json!({"name": "Ann"})).await;
        let res = t.get(&format!("/api/Authors/{ann}/profile")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        let res = t.post(&format!("/api/Authors/{ann}/profile"), json!({"bio": "hi"})).await;
        assert_eq!(res.body["authorId"], ann);
        let res = t.put(&format!("/api/Authors/{ann}/profile"), json!({"bio": "hello"})).await;
        assert_eq!(res.body["bio"], "hello");
        assert_eq!(t.get(&format!("/api/Authors/{ann}/profile")).await.body["bio"], "hello");
        let res = t.get(&format!("/api/Authors?filter={}", q(json!({"include": "profile"})))).await;
        assert_eq!(res.body[0]["profile"]["bio"], "hello");
        assert_eq!(t.delete(&format!("/api/Authors/{ann}/profile")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(t.get("/api/Profiles/count").await.body, json!({"count": 0}));
    })
    .await;
}

#[actix_web::test]
async fn has_many_through_routes() {
    on_each_backend(|t| async move {
        let house = t.create("/api/Physicians", json!({"name": "House"})).await;
        let other = t.create("/api/Physicians", json!({"name": "Other"})).await;
        let res = t.post(&format!("/api/Physicians/{house}/patients"), json!({"name": "Pat"})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        let pat = res.body["id"].clone();
        let sam = t.create("/api/Patients", json!({"name": "Sam"})).await;

        let link = t.put(&format!("/api/Physicians/{house}/patients/rel/{sam}"), json!({"note": "first visit"})).await;
        assert_eq!(link.status, StatusCode::OK, "{:?}", link.body);
        assert_eq!(link.body["note"], "first visit");
        assert_eq!(
            t.call(Method::HEAD, &format!("/api/Physicians/{house}/patients/rel/{sam}"), None).await.status,
            StatusCode::OK
        );
        assert_eq!(
            t.call(Method::HEAD, &format!("/api/Physicians/{other}/patients/rel/{sam}"), None).await.status,
            StatusCode::NOT_FOUND
        );

        let res = t.get(&format!("/api/Physicians/{house}/patients?filter={}", q(json!({"order": "name ASC"})))).await;
        assert_eq!(
            res.body.as_array().unwrap().iter().map(|p| p["name"].clone()).collect::<Vec<_>>(),
            vec!["Pat", "Sam"]
        );
        assert_eq!(t.get(&format!("/api/Physicians/{house}/patients/count")).await.body, json!({"count": 2}));
        assert_eq!(t.get(&format!("/api/Physicians/{house}/patients/{pat}")).await.body["name"], "Pat");
        assert_eq!(t.get(&format!("/api/Physicians/{other}/patients/{pat}")).await.status, StatusCode::NOT_FOUND);

        let res =
            t.get(&format!("/api/Physicians?filter={}", q(json!({"include": "patients", "order": "name ASC"})))).await;
        assert_eq!(res.body[0]["patients"].as_array().map(Vec::len), Some(2));
        assert_eq!(res.body[1]["patients"], json!([]));

        assert_eq!(
            t.delete(&format!("/api/Physicians/{house}/patients/rel/{sam}")).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(t.get(&format!("/api/Physicians/{house}/patients/count")).await.body, json!({"count": 1}));
        assert_eq!(t.get("/api/Patients/count").await.body, json!({"count": 2}), "unlink keeps the patient");
    })
    .await;
}

#[actix_web::test]
async fn include_with_scope() {
    on_each_backend(|t| async move {
        let garden = t.create("/api/Categories", json!({"name": "Garden"})).await;
        let kitchen = t.create("/api/Categories", json!({"name": "Kitchen"})).await;
        t.create("/api/Categories", json!({"name": "Empty"})).await;
        for (name, price, cat) in [("Rake", 20, &garden), ("Hose", 35, &garden), ("Shovel", 5, &garden), ("Pan", 40, &kitchen)] {
            t.create("/api/Products", json!({"name": name, "price": price, "categoryId": cat})).await;
        }
        let loose = t.create("/api/Products", json!({"name": "Loose", "price": 9})).await;

        let filter = json!({"include": {"relation": "products", "scope": {"where": {"price": {"gt": 4}}, "order": "price DESC", "fields": ["name", "price"], "limit": 2}}});
        let res = t.get(&format!("/api/Categories?filter={}", q(filter))).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        insta::assert_json_snapshot!("include_scope", redact_ids(&res.body));

        let res = t.get(&format!("/api/Products/{loose}?filter={}", q(json!({"include": "category"})))).await;
        assert!(res.body.get("category").is_none(), "a missing belongsTo target is left out");
        let res = t.get(&format!("/api/Categories?filter={}", q(json!({"where": {"name": "Kitchen"}, "include": {"products": "category"}})))).await;
        assert_eq!(res.body[0]["products"][0]["category"]["name"], "Kitchen");
        let res = t.get(&format!("/api/Products?filter={}", q(json!({"include": {"relation": "category", "scope": {"fields": ["secret"]}}})))).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "hidden properties are refused in scopes too");
        let res = t.get(&format!("/api/Categories?filter={}", q(json!({"include": {"products": "nope"}})))).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    })
    .await;
}

/// A hasOne include loads every parent's target in one query and keeps each parent's first
/// (by id), as LoopBack's one-row-per-parent query did; parents without one get null.
#[actix_web::test]
async fn has_one_includes_pick_each_parents_first() {
    on_each_backend(|t| async move {
        let ann = t.create("/api/Authors", json!({"name": "Ann"})).await;
        t.create("/api/Authors", json!({"name": "Bob"})).await;
        let cid = t.create("/api/Authors", json!({"name": "Cid"})).await;
        t.create("/api/Profiles", json!({"bio": "ann's", "authorId": ann})).await;
        t.create("/api/Profiles", json!({"bio": "cid's first", "authorId": cid})).await;
        t.create("/api/Profiles", json!({"bio": "cid's second", "authorId": cid})).await;
        let res = t.get(&format!("/api/Authors?filter={}", q(json!({"include": "profile", "order": "id ASC"})))).await;
        let bios: Vec<Value> = res.body.as_array().unwrap().iter().map(|a| a["profile"]["bio"].clone()).collect();
        assert_eq!(bios, vec![json!("ann's"), Value::Null, json!("cid's first")], "[{}] {:?}", t.backend, res.body);
    })
    .await;
}
