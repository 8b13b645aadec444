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

/// Typed hook data: a hook reads and writes the data as the entity's sea-orm `ActiveModel`.
#[actix_web::test]
async fn hooks_can_work_on_the_active_model() {
    use crate::support::models::gadget;
    use actix_web::{App, test};
    use persisted_model::prelude::*;
    use sea_orm::ActiveValue::{NotSet, Set};

    struct Shout;

    impl ModelHooks for Shout {
        async fn before_save(&self, _ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
            let mut gadget: gadget::ActiveModel = event.active_model()?;
            if let Set(Some(label)) = &gadget.label {
                gadget.label = Set(Some(label.to_uppercase()));
            }
            if event.is_new && matches!(gadget.code, NotSet) {
                gadget.code = Set(Some("AUTO".into()));
            }
            event.set_active_model(&gadget);
            Ok(())
        }
    }

    let db = persisted_model::connect("sqlite::memory:").await.unwrap();
    let api = RestApi::builder(db).model_with::<gadget::Model>(Shout).build().await.unwrap();
    let app = test::init_service(App::new().service(api.scope("/api"))).await;
    let req = test::TestRequest::post().uri("/api/Gadgets").set_json(json!({"label": "quiet"})).to_request();
    let made: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!((made["label"].clone(), made["code"].clone()), (json!("QUIET"), json!("AUTO")));
    let req = test::TestRequest::patch()
        .uri(&format!("/api/Gadgets/{}", made["id"]))
        .set_json(json!({"label": "again"}))
        .to_request();
    let patched: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(
        (patched["label"].clone(), patched["code"].clone()),
        (json!("AGAIN"), json!("AUTO")),
        "a patch writes only what it sets"
    );
}

/// Typed hooks: the write is the entity's `ActiveModel`, the stored instance its `Model`, and
/// hooks written for another model are refused at `build()`.
#[actix_web::test]
async fn typed_hooks_see_the_models_types() {
    use std::sync::{Arc, Mutex};

    use crate::support::models::{category, gadget};
    use actix_web::{App, test};
    use persisted_model::prelude::*;
    use sea_orm::ActiveValue::{NotSet, Set};

    /// Each saved gadget's label, and whether it was new.
    type Saved = Arc<Mutex<Vec<(Option<String>, bool)>>>;

    #[derive(Default)]
    struct Shout {
        saved: Saved,
    }

    impl TypedHooks for Shout {
        type Model = gadget::Model;

        async fn normalize(&self, _ctx: &CallContext<'_>, data: &mut gadget::ActiveModel) -> Result<(), Error> {
            if let Set(Some(label)) = &data.label {
                data.label = Set(Some(label.trim().to_owned()));
            }
            Ok(())
        }

        async fn before_save(&self, _ctx: &CallContext<'_>, change: &mut Change<gadget::Model>) -> Result<(), Error> {
            if let Set(Some(label)) = &change.data.label {
                change.data.label = Set(Some(label.to_uppercase()));
            }
            match &change.current {
                // An update keeps the stored code, whatever the client sent.
                Some(current) => change.data.code = Set(current.code.clone()),
                None if matches!(change.data.code, NotSet) => change.data.code = Set(Some("AUTO".into())),
                None => {}
            }
            change.show("label", "shown once")?;
            Ok(())
        }

        async fn after_save(&self, _ctx: &CallContext<'_>, gadget: &gadget::Model, is_new: bool) -> Result<(), Error> {
            self.saved.lock().unwrap().push((gadget.label.clone(), is_new));
            Ok(())
        }
    }

    let hooks = Shout::default();
    let saved = hooks.saved.clone();
    let db = persisted_model::connect("sqlite::memory:").await.unwrap();
    let api = RestApi::builder(db).model_with_typed(hooks).build().await.unwrap();
    let app = test::init_service(App::new().service(api.scope("/api"))).await;
    let req = test::TestRequest::post().uri("/api/Gadgets").set_json(json!({"label": "  quiet "})).to_request();
    let made: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!((made["label"].clone(), made["code"].clone()), (json!("shown once"), json!("AUTO")));
    let id = made["id"].clone();
    let req = test::TestRequest::patch()
        .uri(&format!("/api/Gadgets/{id}"))
        .set_json(json!({"label": "again", "code": "MINE"}))
        .to_request();
    let patched: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(patched["code"], json!("AUTO"), "the hook kept the stored code");
    let req = test::TestRequest::get().uri(&format!("/api/Gadgets/{id}")).to_request();
    let read: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(read["label"], json!("AGAIN"), "what is stored; the shown value was for the write's answer only");
    assert_eq!(*saved.lock().unwrap(), vec![(Some("QUIET".into()), true), (Some("AGAIN".into()), false)]);

    // Hooks written for gadgets, registered on categories.
    let db = persisted_model::connect("sqlite::memory:").await.unwrap();
    let wrong = persisted_model::ModelHandle::of::<category::Model>().with_typed_hooks(Shout::default());
    let result = RestApi::builder(db).handle(wrong).build().await;
    let Err(Error::Configuration(problems)) = result else { panic!("typed hooks of another model were accepted") };
    assert!(
        problems[0].contains("its typed hooks are written for") && problems[0].contains("gadget::Model"),
        "{problems:?}"
    );
}
