//! The OpenAPI document: well-formed, snapshotted, and in step with the mounted routes.

use actix_web::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{TestApp, on_each_backend_with_auth};

fn operations(doc: &Value) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for verb in item.as_object().unwrap().keys() {
            out.push((Method::from_bytes(verb.to_uppercase().as_bytes()).unwrap(), path.clone()));
        }
    }
    out
}

async fn doc(t: &TestApp) -> Value {
    let res = t.get("/explorer/openapi.json").await;
    assert_eq!(res.status, StatusCode::OK);
    res.body
}

#[actix_web::test]
async fn the_document_is_openapi_3_1_and_stable() {
    on_each_backend_with_auth(|t| async move {
        let doc = doc(&t).await;
        assert_eq!(doc, t.api.openapi("/api"));
        assert_eq!(doc["openapi"], "3.1.0");
        // utoipa's typed model of OpenAPI accepts it.
        let typed: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).expect("a valid OpenAPI document");
        assert!(typed.paths.paths.contains_key("/api/Products/{id}"));
        let ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|i| i.as_object().unwrap().values())
            .filter_map(|o| o["operationId"].as_str())
            .collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "operationIds are unique");
        if t.backend == "sqlite" {
            insta::assert_json_snapshot!("openapi", doc);
        }
    })
    .await;
}

#[actix_web::test]
async fn schemas_follow_the_models() {
    on_each_backend_with_auth(|t| async move {
        let doc = doc(&t).await;
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["User"]["properties"].get("password").is_none(), "hidden properties are not documented");
        assert!(
            schemas["UserCreate"]["properties"].get("emailVerified").is_none(),
            "server-managed ones are not writable"
        );
        assert_eq!(schemas["ProductCreate"]["required"], serde_json::json!(["name"]));
        assert!(schemas["ProductCreate"]["properties"].get("id").is_none(), "generated ids are not writable");
        // Operations the default ACLs deny to anonymous callers ask for a token.
        assert!(doc["paths"]["/api/Users"]["get"].get("security").is_some());
        assert!(doc["paths"]["/api/Users/login"]["post"].get("security").is_none());
        assert!(doc["paths"]["/api/Products"]["get"].get("security").is_none());
        assert_eq!(doc["paths"]["/api/Products/{id}"]["get"]["operationId"], "Product.findById");
    })
    .await;
}

#[actix_web::test]
async fn every_documented_operation_is_mounted_and_every_route_documented() {
    on_each_backend_with_auth(|t| async move {
        let doc = doc(&t).await;
        let documented = operations(&doc);
        for (method, path) in &documented {
            let uri = path.replace("{id}", "1").replace("{fk}", "1");
            let res = t.call(method.clone(), &uri, None).await;
            let message = res.message();
            assert!(
                !message.contains("has no method handling") && !message.contains("There is no method"),
                "[{}] {method} {path} is documented but not mounted",
                t.backend
            );
        }
        let state = t.api.state();
        for model in state.registry.iter().filter(|m| m.definition().settings.public) {
            for m in model.remote_methods() {
                for (verb, route) in &m.routes {
                    let route = if route == "/" { "" } else { route.as_str() };
                    let path = format!("/api/{}{route}", model.definition().path);
                    assert!(
                        documented.contains(&(verb.clone(), path.clone())),
                        "{verb} {path} is mounted but not documented"
                    );
                }
            }
        }
    })
    .await;
}

#[actix_web::test]
async fn swagger_ui_is_served() {
    on_each_backend_with_auth(|t| async move {
        let res = t.get("/explorer/").await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(res.content_type.starts_with("text/html"), "{}", res.content_type);
        assert!(String::from_utf8_lossy(&res.raw).contains("swagger"));
    })
    .await;
}
