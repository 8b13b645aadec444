//! The blog example (`examples/blog`), driven over HTTP on every back end: the extension API
//! as an application uses it (hooks with state, an owner-only rule, a typed remote method,
//! links through a join model, the application's own documented route).

#[path = "../examples/blog/app/mod.rs"]
#[allow(dead_code)]
mod app;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{App, test};
use persisted_model_access_token::{add_user_to_role, create_user};
use serde_json::{Value, json};

use crate::support::{backends, q};

struct Blog {
    api: persisted_model::RestApi,
    backend: &'static str,
}

impl Blog {
    async fn call(&self, token: Option<&str>, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let app = test::init_service(App::new().configure(app::configure(&self.api))).await;
        let mut req = test::TestRequest::default().method(method).uri(uri);
        if let Some(token) = token {
            req = req.insert_header((header::AUTHORIZATION, token));
        }
        if let Some(body) = body {
            req = req.set_json(body);
        }
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let body = serde_json::from_slice(&test::read_body(res).await).unwrap_or(Value::Null);
        (status, body)
    }

    async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .call(None, Method::POST, "/api/Users/login", Some(json!({"email": email, "password": password})))
            .await;
        assert_eq!(status, StatusCode::OK, "[{}] {body}", self.backend);
        body["id"].as_str().unwrap().to_owned()
    }

    async fn drop_tables(&self) {
        use sea_orm::ConnectionTrait;
        let state = self.api.state();
        if self.backend == "sqlite" {
            return;
        }
        for model in state.registry.iter() {
            let t = &model.definition().table;
            let quoted = if self.backend == "mysql" { format!("`{t}`") } else { format!("\"{t}\"") };
            state.db.execute_unprepared(&format!("DROP TABLE IF EXISTS {quoted}")).await.unwrap();
        }
    }
}

#[actix_web::test]
async fn the_blog_example_works_end_to_end() {
    for backend in backends() {
        let db = persisted_model::connect(&backend.url).await.unwrap();
        let settings = app::Settings {
            spam_words: vec!["cheap pills".into()],
            table_prefix: format!("blog{}_", std::process::id()),
        };
        let api = app::build(db, settings).await.unwrap();
        let ann_id = create_user(&api, "ann@example.com", "annpass1").await.unwrap();
        create_user(&api, "bob@example.com", "bobpass1").await.unwrap();
        add_user_to_role(&api, &ann_id, "editor").await.unwrap();
        let blog = Blog { api, backend: backend.name };
        let b = backend.name;
        let ann = blog.login("ann@example.com", "annpass1").await;
        let bob = blog.login("bob@example.com", "bobpass1").await;

        // A post belongs to its caller, and the hooks stamp it.
        let (status, post) =
            blog.call(Some(&ann), Method::POST, "/api/Posts", Some(json!({"title": "Hello", "body": "First"}))).await;
        assert_eq!(status, StatusCode::OK, "[{b}] {post}");
        assert_eq!((post["authorId"].clone(), post["published"].clone()), (ann_id.clone(), json!(false)));
        assert!(post["updatedAt"].is_string(), "[{b}] stamped: {post}");
        let id = post["id"].clone();
        assert_eq!(
            blog.call(None, Method::POST, "/api/Posts", Some(json!({"title": "x"}))).await.0,
            StatusCode::UNAUTHORIZED
        );

        // Only the author edits it.
        let uri = format!("/api/Posts/{id}");
        assert_eq!(
            blog.call(Some(&bob), Method::PATCH, &uri, Some(json!({"title": "Mine"}))).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, edited) = blog.call(Some(&ann), Method::PATCH, &uri, Some(json!({"title": "Hello again"}))).await;
        assert_eq!((status, edited["title"].clone()), (StatusCode::OK, json!("Hello again")), "[{b}]");
        assert!(edited["updatedAt"].as_str() >= post["updatedAt"].as_str());

        // Spam is a 422 naming the property.
        let (status, err) =
            blog.call(Some(&ann), Method::POST, "/api/Posts", Some(json!({"title": "Cheap pills here"}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "[{b}] {err}");
        assert_eq!(err["error"]["details"]["codes"]["title"], json!(["spam"]));

        // Comments belong to their callers.
        let (status, comment) =
            blog.call(Some(&bob), Method::POST, "/api/Comments", Some(json!({"body": "Nice", "postId": id}))).await;
        assert_eq!(status, StatusCode::OK, "[{b}] {comment}");
        assert_ne!(comment["authorId"], ann_id);

        // Editors make tags; the post's author links them through PostTag.
        let (status, tag) = blog.call(Some(&ann), Method::POST, "/api/Tags", Some(json!({"name": "rust"}))).await;
        assert_eq!(status, StatusCode::OK, "[{b}] {tag}");
        assert_eq!(
            blog.call(Some(&bob), Method::POST, "/api/Tags", Some(json!({"name": "x"}))).await.0,
            StatusCode::FORBIDDEN
        );
        let link = format!("/api/Posts/{id}/tags/rel/{}", tag["id"]);
        assert_eq!(blog.call(Some(&bob), Method::PUT, &link, Some(json!({}))).await.0, StatusCode::FORBIDDEN);
        assert_eq!(blog.call(Some(&ann), Method::PUT, &link, Some(json!({}))).await.0, StatusCode::OK, "[{b}]");

        // Everybody reads posts with their tags and comments.
        let filter = q(json!({"include": ["tags", "comments"]}));
        let (status, read) = blog.call(None, Method::GET, &format!("/api/Posts/{id}?filter={filter}"), None).await;
        assert_eq!(status, StatusCode::OK, "[{b}] {read}");
        assert_eq!(
            (read["tags"][0]["name"].clone(), read["comments"][0]["body"].clone()),
            (json!("rust"), json!("Nice"))
        );

        // The typed remote method: only the author publishes.
        let publish = format!("/api/Posts/{id}/publish");
        let at = json!({"at": "2030-01-02T03:04:05.678Z"});
        assert_eq!(blog.call(Some(&bob), Method::POST, &publish, Some(at.clone())).await.0, StatusCode::FORBIDDEN);
        let (status, published) = blog.call(Some(&ann), Method::POST, &publish, Some(at)).await;
        assert_eq!(status, StatusCode::OK, "[{b}] {published}");
        assert_eq!(published, json!({"id": id, "publishedAt": "2030-01-02T03:04:05.678Z"}));
        let (_, read) = blog.call(None, Method::GET, &uri, None).await;
        assert_eq!(
            (read["published"].clone(), read["publishedAt"].clone()),
            (json!(true), json!("2030-01-02T03:04:05.678Z"))
        );
        let (status, _) = blog.call(Some(&ann), Method::POST, &publish, Some(json!({"at": "soon"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a body that does not fit its type");

        // The application's own route, in the same document as the generated ones.
        assert_eq!(blog.call(None, Method::GET, "/health", None).await.0, StatusCode::OK);
        let (_, doc) = blog.call(None, Method::GET, "/explorer/openapi.json", None).await;
        assert_eq!(doc["info"]["title"], "Blog");
        assert!(doc["paths"].get("/health").is_some());
        let body = &doc["paths"]["/api/Posts/{id}/publish"]["post"]["requestBody"]["content"]["application/json"];
        assert!(body["schema"]["properties"].get("at").is_some(), "{body}");
        blog.drop_tables().await;
    }
}
