//! The cost of token authentication: `GET /api/Products/:id` anonymous and with a token, on
//! in-memory SQLite, in process. Target: under 10% added. Run: `cargo bench -p persisted-model-access-token`.

use actix_web::http::header;
use actix_web::{App, test, web};
use criterion::{Criterion, criterion_group, criterion_main};
use persisted_model::prelude::*;
use persisted_model_access_token::{AccessTokens, create_user};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

mod product {
    use super::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "product")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
        pub price: Option<f64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn bench(c: &mut Criterion) {
    let sys = actix_rt::System::new();
    let (app, token) = sys.block_on(async {
        let db = persisted_model::connect("sqlite::memory:").await.unwrap();
        let api = AccessTokens::new().register(RestApi::builder(db).model::<product::Model>()).build().await.unwrap();
        create_user(&api, "bench@example.com", "benchpass").await.unwrap();
        let app =
            test::init_service(App::new().service(api.scope("/api")).default_service(web::to(url_not_found))).await;
        let req = test::TestRequest::post()
            .uri("/api/Products")
            .set_json(serde_json::json!({"name": "p", "price": 1}))
            .to_request();
        assert!(test::call_service(&app, req).await.status().is_success());
        let req = test::TestRequest::post()
            .uri("/api/Users/login")
            .set_json(serde_json::json!({"email": "bench@example.com", "password": "benchpass"}))
            .to_request();
        let body: serde_json::Value = test::call_and_read_body_json(&app, req).await;
        (app, body["id"].as_str().unwrap().to_owned())
    });
    let mut group = c.benchmark_group("GET /api/Products/1");
    group.bench_function("anonymous", |b| {
        b.iter(|| {
            sys.block_on(async {
                let res = test::call_service(&app, test::TestRequest::get().uri("/api/Products/1").to_request()).await;
                assert!(res.status().is_success());
            })
        })
    });
    group.bench_function("with a token", |b| {
        b.iter(|| {
            sys.block_on(async {
                let req = test::TestRequest::get()
                    .uri("/api/Products/1")
                    .insert_header((header::AUTHORIZATION, token.as_str()))
                    .to_request();
                let res = test::call_service(&app, req).await;
                assert!(res.status().is_success());
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
