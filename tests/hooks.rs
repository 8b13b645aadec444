//! Model hooks run on every route: access narrows queries, before_save rewrites or refuses,
//! loaded reshapes what clients see.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::support::on_each_backend;

#[actix_web::test]
async fn hooks_apply_to_every_route() {
    on_each_backend(|t| async move {
        let res = t.post("/api/Memos", json!({"text": "  two words  "})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        assert_eq!(res.body["text"], "two words");
        let id = res.body["id"].clone();
        assert_eq!(t.get(&format!("/api/Memos/{id}")).await.body["words"], json!(2));

        let res = t.post("/api/Memos", json!({"text": "forbidden"})).await;
        assert_eq!((res.status, res.message()), (StatusCode::FORBIDDEN, "memo refused"));
        let res = t.patch(&format!("/api/Memos/{id}"), json!({"text": " forbidden "})).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);

        let hidden = t.create("/api/Memos", json!({"text": "old", "archived": true})).await;
        assert_eq!(t.get("/api/Memos/count").await.body, json!({"count": 1}), "access hides archived rows");
        assert_eq!(t.get("/api/Memos").await.body.as_array().map(Vec::len), Some(1));
        assert_eq!(t.get(&format!("/api/Memos/{hidden}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(t.get(&format!("/api/Memos/{hidden}/exists")).await.body, json!({"exists": false}));
        assert_eq!(t.delete(&format!("/api/Memos/{hidden}")).await.body, json!({"count": 0}));
    })
    .await;
}
