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
        assert_eq!(doc, serde_json::to_value(t.api.openapi("/api")).unwrap());
        assert_eq!(doc["openapi"], "3.1.0");
        // utoipa's typed model of OpenAPI accepts it.
        let typed: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).expect("a valid OpenAPI document");
        // ... and holds all of it: serving the typed document changes nothing.
        assert_eq!(serde_json::to_value(&typed).unwrap(), doc);
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
            if uri.ends_with("/change-stream") {
                // A stream never ends: only its answer is checked.
                assert_ne!(t.subscribe(None, &uri).await.status, StatusCode::NOT_FOUND, "{method} {path}");
                continue;
            }
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

/// The application's own route, documented with utoipa.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "The service is up")))]
#[allow(dead_code)]
async fn app_health() -> &'static str {
    "ok"
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(app_health))]
struct AppDoc;

/// An application merges its own `#[utoipa::path]` routes into the generated document, names
/// it, and the explorer shows both; without an authenticator the core documents no security.
#[actix_web::test]
async fn applications_merge_their_own_routes() {
    use actix_web::{App, test};
    use persisted_model::RestApi;
    use utoipa::OpenApi;

    let db = persisted_model::connect("sqlite::memory:").await.unwrap();
    let api = RestApi::builder(db)
        .model::<crate::support::models::product::Model>()
        .model::<crate::support::models::category::Model>()
        .handle(persisted_model::ModelHandle::of::<crate::support::models::secret::Model>())
        .handle(persisted_model::ModelHandle::of::<crate::support::models::person::Model>())
        .handle(persisted_model::ModelHandle::of::<crate::support::models::memo::Model>())
        .openapi_info("Shop", "2.1.0")
        .build()
        .await
        .unwrap();
    let doc = api.openapi("/api").merge_from(AppDoc::openapi());
    let app = test::init_service(App::new().service(api.explorer_with(doc))).await;
    let req = test::TestRequest::get().uri("/explorer/openapi.json").to_request();
    let served: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!((served["info"]["title"].as_str(), served["info"]["version"].as_str()), (Some("Shop"), Some("2.1.0")));
    assert!(served["paths"].get("/health").is_some(), "the application's route");
    assert!(served["paths"].get("/api/Products/{id}").is_some(), "the generated routes");
    assert!(served["components"].get("securitySchemes").is_none(), "no authenticator, no scheme");
}
