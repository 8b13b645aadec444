//! The route table: literal paths beat `/:id`, and every remote method is mounted.

use actix_web::http::StatusCode;
use persisted_model::{ModelHandle, Operation, remote_methods};
use serde_json::json;

use crate::support::models::product;
use crate::support::on_each_backend;

#[actix_web::test]
async fn literal_segments_win_over_ids() {
    on_each_backend(|t| async move {
        t.create("/api/Products", json!({"name": "x"})).await;
        assert_eq!(t.get("/api/Products/count").await.body, json!({"count": 1}));
        assert_eq!(t.get("/api/Products/findOne").await.status, StatusCode::OK);
        assert_eq!(t.get("/api/Products/").await.body.as_array().map(Vec::len), Some(1));
    })
    .await;
}

#[actix_web::test]
async fn every_route_of_the_table_answers() {
    let handle = ModelHandle::of::<product::Model>();
    let methods = remote_methods(handle.definition());
    let names: Vec<&str> = methods.iter().map(|m| m.name.as_str()).collect();
    for expected in [
        "create",
        "patchOrCreate",
        "replaceOrCreate",
        "upsertWithWhere",
        "exists",
        "findById",
        "replaceById",
        "find",
        "findOne",
        "updateAll",
        "deleteById",
        "count",
        "patchAttributes",
        "createChangeStream",
        "__get__category",
    ] {
        assert!(names.contains(&expected), "{expected} is missing");
    }
    on_each_backend(|t| {
        let methods = methods.clone();
        async move {
            let id = t.create("/api/Products", json!({"name": "x"})).await;
            for m in &methods {
                for (verb, path) in &m.routes {
                    let uri = format!("/api/Products{}", path.replace("{id}", &id.to_string()).replace("{fk}", "1"));
                    if m.operation == Operation::ChangeStream {
                        // A stream never ends: only its answer is checked.
                        assert_eq!(t.subscribe(None, &uri).await.status, StatusCode::OK, "[{}] {uri}", t.backend);
                        continue;
                    }
                    let body = matches!(m.operation, Operation::Create | Operation::PatchOrCreate)
                        .then(|| json!({"name": "y"}));
                    let res = t.call(verb.clone(), &uri, body).await;
                    assert!(
                        !res.message().contains("has no method handling"),
                        "[{}] {verb} {uri} ({}) is not mounted",
                        t.backend,
                        m.name
                    );
                    assert!(res.status.as_u16() < 500, "{verb} {uri}: {:?}", res.body);
                }
            }
        }
    })
    .await;
}

/// A registry that does not fit together is refused by `build()`, with every problem listed,
/// instead of answering 500 on the first request that meets it.
#[actix_web::test]
async fn build_reports_every_configuration_problem() {
    use persisted_model::acl::AclEntry;
    use persisted_model::{Error, ModelHandle, RestApi};
    let db = persisted_model::connect("sqlite::memory:").await.unwrap();
    let result = RestApi::builder(db)
        .handle(ModelHandle::of::<crate::support::models::product::Model>())
        .acl(AclEntry::role("Product", "fnd", None, "$everyone"))
        .acl(AclEntry::role("Prodcut", "*", None, "$everyone"))
        .build()
        .await;
    let Err(Error::Configuration(problems)) = result else { panic!("build accepted an inconsistent registry") };
    assert_eq!(
        problems,
        vec![
            "Product.category (BelongsTo): the target model \"Category\" is not registered",
            "An application ACL names the method \"fnd\" of Product, which has no such remote method",
            "An application ACL names the model \"Prodcut\", which is not registered",
        ]
    );
}

/// One model's routes answer wherever they are mounted (they carry the API's state), and
/// changing a clone of a handle leaves the original as it was.
#[actix_web::test]
async fn model_routes_mount_on_their_own_and_handles_are_values() {
    use actix_web::{App, test, web};
    use persisted_model::RestApi;
    let original = ModelHandle::of::<crate::support::models::category::Model>()
        .map_definition(|d| d.relations.retain(|r| r.name == "products"));
    let renamed = original.clone().map_definition(|d| d.path = "Kinds".into());
    assert_eq!((original.definition().path.as_str(), renamed.definition().path.as_str()), ("Categories", "Kinds"));

    let db = persisted_model::connect("sqlite::memory:").await.unwrap();
    let api = RestApi::builder(db).handle(renamed).model::<product::Model>().build().await.unwrap();
    let routes = api.model_routes("Category").expect("a public model");
    assert!(api.model_routes("Nope").is_none());
    let app = test::init_service(App::new().service(web::scope("/v2").service(routes))).await;
    let req = test::TestRequest::post().uri("/v2/Kinds").set_json(json!({"name": "c"})).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let req = test::TestRequest::get().uri("/v2/Kinds/count").to_request();
    let body: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(body, json!({"count": 1}));
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
struct Discount {
    /// Percent off the current price.
    percent: u8,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Priced {
    id: i64,
    price: f64,
}

/// `POST /Products/{id}/discount`: a remote method declared as a Rust function of typed
/// arguments, documented from its types.
async fn discount(call: persisted_model::Call, args: Discount) -> Result<Priced, persisted_model::Error> {
    let id = call.path_id().ok_or_else(|| persisted_model::Error::not_found("no such product"))?;
    let store = call.store();
    let current = store
        .find_by_id(&id, persisted_model::filter::Filter::default())
        .await?
        .ok_or_else(|| persisted_model::Error::not_found("no such product"))?;
    let price = current["price"].as_f64().unwrap_or_default() * (100.0 - f64::from(args.percent)) / 100.0;
    store.patch_attributes(&id, &json!({ "price": price })).await?;
    Ok(Priced { id: id.as_i64().unwrap_or_default(), price })
}

/// What a method returns when it copies a stored row, hidden `secret` included.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Stored {
    id: i64,
    secret: Option<String>,
    copies: Vec<Copy>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Copy {
    secret: Option<String>,
    name: String,
}

async fn stored(call: persisted_model::Call, _: serde_json::Value) -> Result<Stored, persisted_model::Error> {
    let id = call.path_id().and_then(|v| v.as_i64()).unwrap_or_default();
    let secret = Some("s3cret".to_owned());
    Ok(Stored { id, secret: secret.clone(), copies: vec![Copy { secret, name: "copy".into() }] })
}

#[actix_web::test]
async fn typed_remote_methods_never_show_hidden_properties_unless_asked() {
    use actix_web::http::Method;
    use actix_web::{App, test};
    use persisted_model::{AccessType, RemoteMethod, RestApi};

    let db = persisted_model::connect("sqlite::memory:").await.unwrap();
    let products = ModelHandle::of::<product::Model>()
        .map_definition(|d| d.relations.clear())
        .with_method(RemoteMethod::typed("stored", Method::POST, "/{id}/stored", AccessType::Read, stored))
        .with_method(RemoteMethod::typed("shown", Method::POST, "/{id}/shown", AccessType::Read, stored).show_hidden());
    let api = RestApi::builder(db).handle(products).build().await.unwrap();
    let app = test::init_service(App::new().service(api.scope("/api"))).await;
    let call = |uri: &str| test::TestRequest::post().uri(uri).set_json(json!({})).to_request();
    let body: serde_json::Value = test::call_and_read_body_json(&app, call("/api/Products/1/stored")).await;
    assert_eq!(body, json!({"id": 1, "copies": [{"name": "copy"}]}), "the product's hidden `secret`, at any depth");
    let body: serde_json::Value = test::call_and_read_body_json(&app, call("/api/Products/1/shown")).await;
    assert_eq!(body["secret"], "s3cret", "a method that asks shows it");
}

#[actix_web::test]
async fn typed_remote_methods() {
    use actix_web::http::Method;
    use actix_web::{App, test};
    use persisted_model::{AccessType, RemoteMethod, RestApi};

    let db = persisted_model::connect("sqlite::memory:").await.unwrap();
    let products = ModelHandle::of::<product::Model>()
        .map_definition(|d| d.relations.clear())
        .with_method(RemoteMethod::typed("discount", Method::POST, "/{id}/discount", AccessType::Write, discount));
    let api = RestApi::builder(db).handle(products).build().await.unwrap();
    let app = test::init_service(App::new().service(api.scope("/api")).service(api.explorer("/api"))).await;
    let call = |uri: &str, body: serde_json::Value| test::TestRequest::post().uri(uri).set_json(body).to_request();
    let res = test::call_service(&app, call("/api/Products", json!({"name": "p", "price": 80}))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value =
        test::call_and_read_body_json(&app, call("/api/Products/1/discount", json!({"percent": 25}))).await;
    assert_eq!(body, json!({"id": 1, "price": 60.0}));
    let res = test::call_service(&app, call("/api/Products/1/discount", json!({"percent": "lots"}))).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(err["error"]["code"], "INVALID_BODY");
    let doc: serde_json::Value =
        test::call_and_read_body_json(&app, test::TestRequest::get().uri("/explorer/openapi.json").to_request()).await;
    let op = &doc["paths"]["/api/Products/{id}/discount"]["post"];
    let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body_schema["properties"]["percent"]["description"], "Percent off the current price.", "{op}");
    assert!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["properties"].get("price").is_some(),
        "{op}"
    );
}
