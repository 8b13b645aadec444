//! The typed repository: server code reads and writes models as their Rust types, with the
//! routes' hooks, validation and row rules, as the system or as a given caller.

use actix_web::http::StatusCode;
use persisted_model::acl::Caller;
use persisted_model::filter::{Filter, Where};
use persisted_model::{Error, Rule};
use persisted_model_access_token::{access_token, user};
use serde_json::json;

use crate::support::models::{category, memo, product};
use crate::support::{on_each_backend, on_each_backend_with_auth};

#[actix_web::test]
async fn typed_reads_and_writes_with_validation() {
    on_each_backend(|t| async move {
        let products = t.api.repository::<product::Model>().unwrap();
        let made: product::Model = products.create(&json!({"name": "Widget", "price": "12.5"})).await.unwrap();
        assert_eq!((made.name.as_str(), made.price, made.in_stock), ("Widget", Some(12.5), Some(true)));
        let found = products.find_by_id(made.id).await.unwrap().expect("found");
        assert_eq!(found, made);
        let patched = products.patch(made.id, &json!({"price": 3})).await.unwrap();
        assert_eq!(patched.price, Some(3.0));
        let replaced = products.replace(made.id, &json!({"name": "Gadget"})).await.unwrap();
        assert_eq!((replaced.name.as_str(), replaced.price), ("Gadget", None));
        products.create(&json!({"name": "Other"})).await.unwrap();
        let filter = Filter { where_: Some(Where::eq("name", json!("Other"))), ..Filter::default() };
        assert_eq!(products.find(filter).await.unwrap().len(), 1);
        assert_eq!(products.count(None).await.unwrap(), 2);
        assert_eq!(products.update_all(Where::eq("name", json!("Other")), &json!({"price": 1})).await.unwrap(), 1);
        // Validation is the routes': a missing required property is a 422.
        match products.create(&json!({"price": 1})).await {
            Err(Error::Validation(v)) => assert_eq!(v.violations[0].code, Rule::Presence.code()),
            other => panic!("[{}] expected a validation error, got {other:?}", t.backend),
        }
        assert!(products.delete_by_id(made.id).await.unwrap());
        assert!(products.find_by_id(made.id).await.unwrap().is_none());
    })
    .await;
}

#[actix_web::test]
async fn hooks_and_row_rules_apply() {
    on_each_backend(|t| async move {
        let memos = t.api.repository::<memo::Model>().unwrap();
        let memo = memos.create(&json!({"text": "  two words  "})).await.unwrap();
        assert_eq!(memo.text, "two words", "before_save trimmed it");
        let archived = memos.create(&json!({"text": "old", "archived": true})).await.unwrap();
        assert!(memos.find_by_id(archived.id).await.unwrap().is_none(), "the access hook hides it");
        let err = memos.patch(archived.id, &json!({"text": "x"})).await.unwrap_err();
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        let err = memos.create(&json!({"text": "forbidden"})).await.unwrap_err();
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
    })
    .await;
}

#[actix_web::test]
async fn as_the_system_or_as_a_caller() {
    on_each_backend_with_auth(|t| async move {
        let users = t.api.repository::<user::Model>().unwrap();
        // Server code sees whole rows: the password hash too.
        let alice = users.find_by_id(2).await.unwrap().expect("alice");
        assert!(alice.password.starts_with("$2"), "[{}] a bcrypt hash", t.backend);
        // Acting for alice, the User ACLs apply: her own record, not the admin's.
        let as_alice = users.clone().as_caller(Caller::user("2", "User"));
        assert_eq!(as_alice.find_by_id(2).await.unwrap().map(|u| u.email), Some("alice@example.com".into()));
        assert_eq!(as_alice.find_by_id(1).await.unwrap_err().status(), StatusCode::FORBIDDEN);
        let anonymous = users.clone().as_caller(Caller::anonymous());
        assert_eq!(anonymous.count(None).await.unwrap_err().status(), StatusCode::UNAUTHORIZED);
        // The token hooks trust the system, not a caller: the system mints for anyone.
        let tokens = t.api.repository::<access_token::Model>().unwrap();
        let minted = tokens.create(&json!({"userId": 1})).await.unwrap();
        assert_eq!(minted.user_id, Some(1));
        let as_alice = tokens.as_caller(Caller::user("2", "User"));
        let err = as_alice.create(&json!({"userId": 1})).await.unwrap_err();
        assert_eq!(err.status(), StatusCode::FORBIDDEN, "[{}] {err:?}", t.backend);
        let own = as_alice.create(&json!({})).await.unwrap();
        assert_eq!(own.user_id, Some(2), "a caller mints for herself");
        // A model that is not registered is an error, not a panic.
        assert!(t.api.repository::<crate::support::models::person::Model>().is_err());
    })
    .await;
}

#[actix_web::test]
async fn a_callers_includes_are_authorized_as_the_routes_are() {
    on_each_backend_with_auth(|t| async move {
        let categories = t.api.repository::<category::Model>().unwrap();
        categories.create(&json!({"name": "Tools"})).await.unwrap();
        let with_secrets = || {
            persisted_model::filter::parse_filter(
                &json!({"include": "secrets"}),
                t.api.state().registry.get("Category").unwrap().definition(),
                &*t.api.state().registry,
                &persisted_model::filter::FilterLimits::default(),
                persisted_model::filter::FilterUse::Full,
            )
            .unwrap()
        };
        // Anonymous callers may not read secrets: neither through the route nor here.
        let route =
            t.get(&format!("/api/Categories?filter={}", crate::support::q(json!({"include": "secrets"})))).await;
        assert_eq!(route.status, StatusCode::UNAUTHORIZED, "[{}]", t.backend);
        let anonymous = categories.clone().as_caller(Caller::anonymous());
        assert_eq!(
            anonymous.find(with_secrets()).await.unwrap_err().status(),
            StatusCode::UNAUTHORIZED,
            "[{}]",
            t.backend
        );
        assert_eq!(anonymous.find_one(with_secrets()).await.unwrap_err().status(), StatusCode::UNAUTHORIZED);
        // An authenticated caller may, and the system may.
        let alice = categories.clone().as_caller(Caller::user("2", "User"));
        assert_eq!(alice.find(with_secrets()).await.unwrap().len(), 1, "[{}]", t.backend);
        assert_eq!(categories.find(with_secrets()).await.unwrap().len(), 1);
    })
    .await;
}
