//! The built-in User and AccessToken models: login, logout, token sources, expiry,
//! revocation, the AccessToken REST table, and hidden properties.

use actix_web::http::{Method, StatusCode, header};
use actix_web::test::TestRequest;
use base64::Engine;
use persisted_model::filter::{Filter, Where};
use serde_json::{Value, json};

use crate::support::{Settings, TestApp, on_each_backend_with, on_each_backend_with_auth, q};

async fn stored_tokens(t: &TestApp) -> Vec<serde_json::Map<String, Value>> {
    let state = t.api.state();
    let store = state.store("AccessToken", "test", None).unwrap();
    store.find_raw(Filter::default()).await.unwrap()
}

#[actix_web::test]
async fn login_returns_a_token_that_authenticates_from_every_source() {
    on_each_backend_with_auth(|t| async move {
        let res = t
            .post("/api/Users/login?include=user", json!({"email": "alice@example.com", "password": "alicepass"}))
            .await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        let token = res.body["id"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 64);
        assert_eq!(res.body["ttl"], json!(1209600));
        assert_eq!(res.body["user"]["email"], "alice@example.com");
        assert!(res.body["user"].get("password").is_none());

        let b64 = base64::engine::general_purpose::STANDARD;
        let requests = [
            TestRequest::get().uri(&format!("/api/Users/2?access_token={token}")),
            TestRequest::get().uri("/api/Users/2").insert_header(("X-Access-Token", token.as_str())),
            TestRequest::get().uri("/api/Users/2").insert_header((header::AUTHORIZATION, token.as_str())),
            TestRequest::get().uri("/api/Users/2").insert_header((header::AUTHORIZATION, format!("Bearer {token}"))),
            TestRequest::get()
                .uri("/api/Users/2")
                .insert_header((header::AUTHORIZATION, format!("Bearer {}", b64.encode(&token)))),
            TestRequest::get()
                .uri("/api/Users/2")
                .insert_header((header::AUTHORIZATION, format!("Basic {}", b64.encode(format!("{token}:"))))),
        ];
        for req in requests {
            let res = t.send_request(req).await;
            assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
            assert_eq!(res.body["email"], "alice@example.com");
        }
        // An unknown token is an anonymous caller.
        let res = t.call_as("not-a-real-token", Method::GET, "/api/Users/2", None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.code(), Some("AUTHORIZATION_REQUIRED"));
    })
    .await;
}

#[actix_web::test]
async fn login_failures() {
    on_each_backend_with_auth(|t| async move {
        for body in [
            json!({"email": "alice@example.com", "password": "nope"}),
            json!({"email": "bob@example.com", "password": "alicepass"}),
            json!({"email": "alice@example.com"}),
            json!({"email": "al\u{200b}ice@example.com", "password": "alicepass"}),
        ] {
            let res = t.post("/api/Users/login", body.clone()).await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{body}");
            assert_eq!((res.code(), res.message()), (Some("LOGIN_FAILED"), "login failed"));
        }
        let res = t.post("/api/Users/login", json!({"password": "x"})).await;
        assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, Some("USERNAME_EMAIL_REQUIRED")));
        // Credentials must be strings (LoopBack #4195).
        let res = t.post("/api/Users/login", json!({"email": {"neq": null}, "password": "x"})).await;
        assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, Some("INVALID_EMAIL")));
        let res = t.post("/api/Users/login", json!({"username": {"regexp": "^a"}, "password": "x"})).await;
        assert_eq!(res.code(), Some("INVALID_USERNAME"));
    })
    .await;
}

#[actix_web::test]
async fn logout_and_expiry() {
    on_each_backend_with_auth(|t| async move {
        let token = t.login("alice@example.com", "alicepass").await;
        let res = t.call_as(&token, Method::POST, "/api/Users/logout", None).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        assert_eq!(t.call_as(&token, Method::GET, "/api/Users/2", None).await.status, StatusCode::UNAUTHORIZED);
        let res = t.call_as(&token, Method::POST, "/api/Users/logout", None).await;
        assert_eq!((res.status, res.message()), (StatusCode::UNAUTHORIZED, "accessToken is required to logout"));

        // A token past its ttl: 401 INVALID_TOKEN once (even on an open route), then it is gone.
        let token = t.login("alice@example.com", "alicepass").await;
        let state = t.api.state();
        let store = state.store("AccessToken", "test", None).unwrap();
        let old = json!({"created": "2000-01-01T00:00:00.000Z"}).as_object().unwrap().clone();
        store.update_where(&Where::eq("userId", json!(2)), &old).await.unwrap();
        let res = t.call_as(&token, Method::GET, "/api/Products", None).await;
        assert_eq!((res.status, res.code()), (StatusCode::UNAUTHORIZED, Some("INVALID_TOKEN")));
        assert_eq!(res.message(), "Invalid Access Token");
        assert_eq!(t.call_as(&token, Method::GET, "/api/Products", None).await.status, StatusCode::OK);
        assert!(stored_tokens(&t).await.iter().all(|r| r["userId"] != json!(2)));
    })
    .await;
}

#[actix_web::test]
async fn tokens_are_stored_as_fingerprints() {
    on_each_backend_with_auth(|t| async move {
        let token = t.login("alice@example.com", "alicepass").await;
        let rows = stored_tokens(&t).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["id"], json!(persisted_model_access_token::fingerprint(&token)));
        // The fingerprint is not a credential.
        let fp = rows[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(t.call_as(&fp, Method::GET, "/api/Users/2", None).await.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[actix_web::test]
async fn access_token_routes_for_each_kind_of_caller() {
    on_each_backend_with_auth(|t| async move {
        let admin = t.login("admin@example.com", "adminpass").await;
        let alice = t.login("alice@example.com", "alicepass").await;
        persisted_model_access_token::create_user(&t.api, "bob@example.com", "bobpass1").await.unwrap();
        let bob = t.login("bob@example.com", "bobpass1").await;
        // DELETE as everyone but the admin, before the admin's calls below use the token.
        let delete = format!("/api/accessTokens/{alice}");
        assert_eq!(t.call(Method::DELETE, &delete, None).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(t.call_as(&alice, Method::DELETE, &delete, None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(t.call_as(&bob, Method::DELETE, &delete, None).await.status, StatusCode::FORBIDDEN);
        let routes: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, "/api/accessTokens".into(), None),
            (Method::PUT, "/api/accessTokens".into(), Some(json!({"id": alice, "ttl": 60}))),
            (Method::GET, format!("/api/accessTokens/{alice}"), None),
            (Method::PUT, format!("/api/accessTokens/{alice}"), Some(json!({"ttl": 60}))),
            (Method::GET, format!("/api/accessTokens/{alice}/exists"), None),
            (Method::GET, "/api/accessTokens/count".into(), None),
            (Method::GET, "/api/accessTokens/findOne".into(), None),
            (Method::PATCH, format!("/api/accessTokens/{alice}"), Some(json!({"ttl": 60}))),
            (Method::GET, format!("/api/accessTokens/{alice}/user"), None),
        ];
        for (method, uri, body) in &routes {
            let anon = t.call(method.clone(), uri, body.clone()).await;
            assert_eq!(anon.status, StatusCode::UNAUTHORIZED, "[{}] anonymous {method} {uri}", t.backend);
            // The owner of the token is denied too: tokens are not self-service (LoopBack 3.28).
            let owner = t.call_as(&alice, method.clone(), uri, body.clone()).await;
            assert_eq!(owner.status, StatusCode::FORBIDDEN, "owner {method} {uri}");
            let other = t.call_as(&bob, method.clone(), uri, body.clone()).await;
            assert_eq!(other.status, StatusCode::FORBIDDEN, "other user {method} {uri}");
            let admin_res = t.call_as(&admin, method.clone(), uri, body.clone()).await;
            assert_eq!(admin_res.status, StatusCode::OK, "admin {method} {uri}: {:?}", admin_res.body);
        }
        // Listings show fingerprints; naming the token shows the token.
        let list = t
            .call_as(&admin, Method::GET, &format!("/api/accessTokens?filter={}", q(json!({"include": "user"}))), None)
            .await;
        for row in list.body.as_array().unwrap() {
            assert!(persisted_model_access_token::fingerprint(&alice) != alice);
            assert_ne!(row["id"], json!(alice));
            assert!(row["user"].get("password").is_none());
        }
        let one = t.call_as(&admin, Method::GET, &format!("/api/accessTokens/{alice}"), None).await;
        assert_eq!(one.body["id"], json!(alice));

        // POST: anonymous 401; a user mints for herself; not for others; ids are the server's.
        assert_eq!(t.post("/api/accessTokens", json!({"userId": 2})).await.status, StatusCode::UNAUTHORIZED);
        let own = t.call_as(&alice, Method::POST, "/api/accessTokens", Some(json!({"ttl": 600}))).await;
        assert_eq!(own.status, StatusCode::OK, "{:?}", own.body);
        assert_eq!((own.body["userId"].clone(), own.body["ttl"].clone()), (json!(2), json!(600)));
        // The answer shows the new token itself (the table keeps its fingerprint), once.
        let minted_raw = own.body["id"].as_str().unwrap().to_owned();
        assert_eq!(t.call_as(&minted_raw, Method::GET, "/api/Users/2", None).await.status, StatusCode::OK);
        let patched = t
            .call_as(&admin, Method::PATCH, &format!("/api/accessTokens/{minted_raw}"), Some(json!({"ttl": 60})))
            .await;
        assert_eq!((patched.body["id"].clone(), patched.body["ttl"].clone()), (json!(minted_raw), json!(60)));
        let fingerprint = persisted_model_access_token::fingerprint(&minted_raw);
        let by_fp = t.call_as(&admin, Method::GET, &format!("/api/accessTokens/{fingerprint}"), None).await;
        assert_eq!(by_fp.body["id"], json!(fingerprint), "named by its fingerprint, it answers with it");
        let other = t.call_as(&alice, Method::POST, "/api/accessTokens", Some(json!({"userId": 1}))).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN);
        let chosen =
            t.call_as(&admin, Method::POST, "/api/accessTokens", Some(json!({"id": "chosen", "userId": 2}))).await;
        assert_eq!(chosen.status, StatusCode::UNPROCESSABLE_ENTITY);
        let minted =
            t.call_as(&admin, Method::POST, "/api/accessTokens", Some(json!({"userId": 2, "ttl": 999999999}))).await;
        assert_eq!(minted.body["ttl"], json!(persisted_model_access_token::MAX_TTL), "ttl is clamped");
        let wider =
            t.call_as(&alice, Method::POST, "/api/accessTokens", Some(json!({"scopes": ["admin-things"]}))).await;
        assert_eq!(wider.status, StatusCode::FORBIDDEN, "scopes only narrow");

        // DELETE revokes at once.
        let res = t.call_as(&admin, Method::DELETE, &format!("/api/accessTokens/{alice}"), None).await;
        assert_eq!(res.body, json!({"count": 1}));
        assert_eq!(t.call_as(&alice, Method::GET, "/api/Users/2", None).await.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[actix_web::test]
async fn users_register_and_own_their_record() {
    on_each_backend_with_auth(|t| async move {
        let res = t.post("/api/Users", json!({"email": "carol@example.com", "password": "carolpass"})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        assert!(res.body.get("password").is_none());
        let carol_id = res.body["id"].clone();
        let res = t.post("/api/Users", json!({"email": "carol@example.com", "password": "xxxxxxxx"})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.body["error"]["details"]["codes"], json!({"email": ["uniqueness"]}));
        let res = t.post("/api/Users", json!({"email": "not-an-email", "password": "xxxxxxxx"})).await;
        assert_eq!(res.body["error"]["details"]["codes"], json!({"email": ["custom.email"]}));
        let res = t
            .post("/api/Users", json!({"email": "x@example.com", "password": "xxxxxxxx", "emailVerified": true}))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "emailVerified is the server's");
        let res = t.post("/api/Users", json!({"email": "y@example.com", "password": "p".repeat(73)})).await;
        assert_eq!(res.code(), Some("PASSWORD_TOO_LONG"));

        let carol = t.login("carol@example.com", "carolpass").await;
        assert_eq!(
            t.call_as(&carol, Method::GET, &format!("/api/Users/{carol_id}"), None).await.status,
            StatusCode::OK
        );
        assert_eq!(t.call_as(&carol, Method::GET, "/api/Users/1", None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(t.call_as(&carol, Method::GET, "/api/Users", None).await.status, StatusCode::FORBIDDEN);
        // Hidden properties cannot be queried.
        let res = t
            .call_as(
                &carol,
                Method::GET,
                &format!("/api/Users/{carol_id}?filter={}", q(json!({"fields": ["password"]}))),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    })
    .await;
}

#[actix_web::test]
async fn password_changes_revoke_other_tokens() {
    on_each_backend_with_auth(|t| async move {
        let b = t.backend;
        let first = t.login("alice@example.com", "alicepass").await;
        let second = t.login("alice@example.com", "alicepass").await;
        // A token alone changes neither the password nor the email address.
        let res = t.call_as(&first, Method::PATCH, "/api/Users/2", Some(json!({"password": "newpass12"}))).await;
        assert_eq!((res.status, res.code()), (StatusCode::UNAUTHORIZED, Some("PASSWORD_CHANGE_NOT_ALLOWED")), "[{b}]");
        let res = t.call_as(&first, Method::PATCH, "/api/Users/2", Some(json!({"email": "mallory@example.com"}))).await;
        assert_eq!((res.status, res.code()), (StatusCode::UNAUTHORIZED, Some("EMAIL_CHANGE_NOT_ALLOWED")), "[{b}]");
        let res = t
            .call_as(
                &first,
                Method::PUT,
                "/api/Users/2",
                Some(json!({"email": "mallory@example.com", "password": "xxxxxxxx"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "[{b}] {:?}", res.body);
        // Other properties change as before.
        let res = t.call_as(&first, Method::PATCH, "/api/Users/2", Some(json!({"username": "alice"}))).await;
        assert_eq!(res.status, StatusCode::OK, "[{b}] {:?}", res.body);

        let change = |token: String, old: &'static str, new: &'static str| {
            let t = t.clone();
            async move {
                let body = json!({"oldPassword": old, "newPassword": new});
                t.call_as(&token, Method::POST, "/api/Users/change-password", Some(body)).await
            }
        };
        assert_eq!(change(first.clone(), "wrong", "x2").await.code(), Some("INVALID_PASSWORD"));
        assert_eq!(change(first.clone(), "alicepass", "newpass12").await.status, StatusCode::NO_CONTENT);
        assert_eq!(
            t.call_as(&first, Method::GET, "/api/Users/2", None).await.status,
            StatusCode::OK,
            "the current token stays"
        );
        assert_eq!(t.call_as(&second, Method::GET, "/api/Users/2", None).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            t.post("/api/Users/login", json!({"email": "alice@example.com", "password": "alicepass"})).await.status,
            StatusCode::UNAUTHORIZED
        );

        // The email address changes with the current password, and ends the other sessions.
        let third = t.login("alice@example.com", "newpass12").await;
        let email = |old: &'static str| {
            let (t, first) = (t.clone(), first.clone());
            async move {
                let body = json!({"oldPassword": old, "newEmail": "alice@example.org"});
                t.call_as(&first, Method::POST, "/api/Users/change-email", Some(body)).await
            }
        };
        assert_eq!(email("wrong").await.code(), Some("INVALID_PASSWORD"), "[{b}]");
        assert_eq!(email("newpass12").await.status, StatusCode::NO_CONTENT, "[{b}]");
        assert_eq!(
            t.call_as(&third, Method::GET, "/api/Users/2", None).await.status,
            StatusCode::UNAUTHORIZED,
            "[{b}]"
        );
        assert_eq!(t.call_as(&first, Method::GET, "/api/Users/2", None).await.body["email"], "alice@example.org");
        t.login("alice@example.org", "newpass12").await;
    })
    .await;
}

#[actix_web::test]
async fn loopback_3_rules_let_patch_change_credentials() {
    let settings = Settings { auth: true, loopback3_user_rules: true, ..Settings::default() };
    on_each_backend_with(settings, |t| async move {
        let first = t.login("alice@example.com", "alicepass").await;
        let second = t.login("alice@example.com", "alicepass").await;
        let res = t.call_as(&first, Method::PATCH, "/api/Users/2", Some(json!({"password": "newpass"}))).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        assert_eq!(t.call_as(&second, Method::GET, "/api/Users/2", None).await.status, StatusCode::UNAUTHORIZED);
        let res = t.call_as(&first, Method::PATCH, "/api/Users/2", Some(json!({"email": "alice@example.org"}))).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        t.login("alice@example.org", "newpass").await;
    })
    .await;
}

#[actix_web::test]
async fn a_reset_token_sets_the_password_once() {
    on_each_backend_with_auth(|t| async move {
        let b = t.backend;
        let email = format!("alice+{}@example.com", t.backend);
        let signup = t.post("/api/Users", json!({"email": email, "password": "before12"})).await;
        assert_eq!(signup.status, StatusCode::OK, "[{b}] {:?}", signup.body);
        let seen = crate::support::resets_for(&email);
        assert_eq!(t.post("/api/Users/reset", json!({"email": email})).await.status, StatusCode::NO_CONTENT);
        let token = crate::support::reset_token_for(&email, seen).await;
        let set = |password: &'static str| {
            let (t, token) = (t.clone(), token.clone());
            async move {
                t.call_as(&token, Method::POST, "/api/Users/reset-password", Some(json!({"newPassword": password})))
                    .await
            }
        };
        // A login token cannot set a password without the current one (LoopBack's
        // restrictResetPasswordTokenScope).
        let login = t.login(&email, "before12").await;
        let res = t
            .call_as(&login, Method::POST, "/api/Users/reset-password", Some(json!({"newPassword": "stolen12"})))
            .await;
        assert!(res.status == StatusCode::FORBIDDEN || res.status == StatusCode::UNAUTHORIZED, "[{b}] {:?}", res.body);
        assert_eq!(set("after123").await.status, StatusCode::NO_CONTENT, "[{b}]");
        let again = set("after234").await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED, "[{b}] the reset token was used: {:?}", again.body);
        t.login(&email, "after123").await;
    })
    .await;
}

/// The reset tokens of `user`, once there are `expected` of them (they are made after the
/// reset request is answered).
async fn reset_tokens_of(t: &TestApp, user: i64, expected: usize) -> Vec<serde_json::Map<String, Value>> {
    let state = t.api.state();
    let store = state.store("AccessToken", "test", None).unwrap();
    let mut found = Vec::new();
    for _ in 0..200 {
        let filter = Filter { where_: Some(Where::eq("userId", json!(user))), ..Filter::default() };
        found = store.find_raw(filter).await.unwrap();
        found.retain(|r| r["scopes"] == json!(["reset-password"]));
        if found.len() >= expected {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    found
}

#[actix_web::test]
async fn reset_requests_keep_few_tokens() {
    // Without the throttle (which allows 3 requests in 15 minutes), to see the bound itself.
    let settings = Settings { auth: true, no_throttle: true, ..Settings::default() };
    on_each_backend_with(settings, |t| async move {
        for _ in 0..10 {
            let res = t.post("/api/Users/reset", json!({"email": "alice@example.com"})).await;
            assert_eq!(res.status, StatusCode::NO_CONTENT);
            // One at a time, so each request sees the tokens of the one before.
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        let tokens = reset_tokens_of(&t, 2, persisted_model_access_token::MAX_RESET_TOKENS).await;
        assert_eq!(tokens.len(), persisted_model_access_token::MAX_RESET_TOKENS, "[{}]", t.backend);
    })
    .await;
}

#[actix_web::test]
async fn reset_tokens_can_only_set_the_password() {
    on_each_backend_with_auth(|t| async move {
        // An unknown address answers the same as a known one.
        assert_eq!(
            t.post("/api/Users/reset", json!({"email": "nobody@example.com"})).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            t.post("/api/Users/reset", json!({"email": "alice@example.com"})).await.status,
            StatusCode::NO_CONTENT
        );
        // The token is made after the answer.
        let reset = reset_tokens_of(&t, 2, 1).await;
        assert_eq!(reset.len(), 1);
        assert_eq!(reset[0]["ttl"], json!(900));
        assert_eq!(reset[0]["scopes"], json!(["reset-password"]));
    })
    .await;
}

#[actix_web::test]
async fn deleting_a_user_deletes_their_tokens() {
    on_each_backend_with_auth(|t| async move {
        let alice = t.login("alice@example.com", "alicepass").await;
        assert_eq!(t.call_as(&alice, Method::DELETE, "/api/Users/2", None).await.body, json!({"count": 1}));
        assert_eq!(t.call_as(&alice, Method::GET, "/api/Products", None).await.status, StatusCode::OK);
        assert!(stored_tokens(&t).await.iter().all(|r| r["userId"] != json!(2)));
    })
    .await;
}

#[actix_web::test]
async fn applications_can_bring_their_own_user_and_token_models() {
    use crate::support::{TestApp, backends, models::member, models::session};
    for backend in backends() {
        let db = persisted_model::connect(&backend.url).await.unwrap();
        let prefix = format!("m{}_", std::process::id());
        let api = persisted_model_access_token::AccessTokens::new()
            .table_prefix(&prefix)
            .user_model::<member::Model>()
            .token_model::<session::Model>()
            .register(persisted_model::RestApi::builder(db))
            .build()
            .await
            .unwrap();
        let t = TestApp { api, backend: backend.name, temp_file: None, prefix: None };
        let email = format!("n{}@example.com", std::process::id());
        let res = t.post("/api/Users", json!({"email": email, "password": "pw123456", "nickname": "Nick"})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        assert!(res.body.get("password").is_none());
        let id = res.body["id"].clone();
        let token = t.login(&email, "pw123456").await;
        // The token's fingerprint sits in the application's own column.
        let state = t.api.state();
        let stmt = format!(
            "SELECT COUNT(*) FROM session WHERE token_hash = '{}' AND member_id IS NOT NULL",
            persisted_model_access_token::fingerprint(&token)
        );
        let row = sea_orm::ConnectionTrait::query_one_raw(
            &state.db,
            sea_orm::Statement::from_string(sea_orm::ConnectionTrait::get_database_backend(&state.db), stmt),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1);
        let me = t.call_as(&token, Method::GET, &format!("/api/Users/{id}"), None).await;
        assert_eq!(me.body["nickname"], "Nick", "[{}] {:?}", t.backend, me.body);
        // The model declares no default for `created`: the token hooks stamp it.
        let minted = t.call_as(&token, Method::POST, "/api/AccessTokens", Some(json!({"scopes": ["DEFAULT"]}))).await;
        assert_eq!(minted.status, StatusCode::OK, "[{}] {:?}", t.backend, minted.body);
        assert!(minted.body["created"].is_string(), "[{}] {:?}", t.backend, minted.body);
        // Scopes sit in a text column as JSON text, and read back as a list.
        assert_eq!(minted.body["scopes"], json!(["DEFAULT"]));
        let stmt = format!(
            "SELECT scopes FROM session WHERE token_hash = '{}'",
            persisted_model_access_token::fingerprint(minted.body["id"].as_str().unwrap())
        );
        let backend_kind = sea_orm::ConnectionTrait::get_database_backend(&state.db);
        let row =
            sea_orm::ConnectionTrait::query_one_raw(&state.db, sea_orm::Statement::from_string(backend_kind, stmt))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(row.try_get_by_index::<String>(0).unwrap(), r#"["DEFAULT"]"#, "[{}]", t.backend);
        let scoped = minted.body["id"].as_str().unwrap();
        assert_eq!(t.call_as(scoped, Method::GET, &format!("/api/Users/{id}"), None).await.status, StatusCode::OK);
        // LoopBack's User ACLs apply to it.
        assert_eq!(t.call_as(&token, Method::GET, "/api/Users", None).await.status, StatusCode::FORBIDDEN);
        // Deleting the user takes the tokens with it.
        assert_eq!(
            t.call_as(&token, Method::DELETE, &format!("/api/Users/{id}"), None).await.body,
            json!({"count": 1})
        );
        assert!(stored_tokens(&t).await.is_empty());
        t.drop_tables().await;
    }
}

#[actix_web::test]
async fn cached_tokens_are_revoked_at_once() {
    on_each_backend_with_auth(|t| async move {
        let first = t.login("alice@example.com", "alicepass").await;
        let second = t.login("alice@example.com", "alicepass").await;
        for token in [&first, &second, &first, &second] {
            // The second request with each token is served from the cache on SQLite.
            assert_eq!(t.call_as(token, Method::GET, "/api/Users/2", None).await.status, StatusCode::OK);
        }
        assert_eq!(t.call_as(&first, Method::POST, "/api/Users/logout", None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(
            t.call_as(&first, Method::GET, "/api/Users/2", None).await.status,
            StatusCode::UNAUTHORIZED,
            "[{}]",
            t.backend
        );
        assert_eq!(t.call_as(&second, Method::GET, "/api/Users/2", None).await.status, StatusCode::OK);
        // An expiry written by server code takes effect at once too.
        let state = t.api.state();
        let store = state.store("AccessToken", "test", None).unwrap();
        let old = json!({"created": "2000-01-01T00:00:00.000Z"}).as_object().unwrap().clone();
        store.update_where(&Where::eq("userId", json!(2)), &old).await.unwrap();
        let res = t.call_as(&second, Method::GET, "/api/Users/2", None).await;
        assert_eq!(res.code(), Some("INVALID_TOKEN"), "[{}]", t.backend);
    })
    .await;
}

/// A login from `address`, with `password`: its status, and `Retry-After`.
async fn login_from(t: &TestApp, address: &str, email: &str, password: &str) -> (StatusCode, Option<String>, Value) {
    let req = TestRequest::post()
        .uri("/api/Users/login")
        .peer_addr(format!("{address}:40000").parse().unwrap())
        .set_json(json!({"email": email, "password": password}));
    let res = t.send_request(req).await;
    (res.status, res.retry_after, res.body)
}

#[actix_web::test]
async fn guessing_passwords_is_held_back_per_account_and_per_address() {
    on_each_backend_with_auth(|t| async move {
        let b = t.backend;
        // Five wrong passwords are answered as such; the sixth is checked too, and makes the
        // account wait: even the right password is refused until then.
        for i in 0..6 {
            let (status, _, body) = login_from(&t, "10.0.0.1", "alice@example.com", "guess").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "[{b}] guess {i}: {body}");
        }
        let (status, retry, body) = login_from(&t, "10.0.0.2", "alice@example.com", "alicepass").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "[{b}] {body}");
        assert_eq!(body["error"]["code"], "TOO_MANY_ATTEMPTS", "[{b}] {body}");
        assert_eq!(retry.as_deref(), Some("1"), "[{b}]");
        // Once the wait is over, the right password gets in, and the count starts over.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let (status, _, body) = login_from(&t, "10.0.0.2", "alice@example.com", "alicepass").await;
        assert_eq!(status, StatusCode::OK, "[{b}] {body}");
        let (status, _, _) = login_from(&t, "10.0.0.2", "alice@example.com", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "[{b}] a fresh count");

        // Guessing in parallel uses the allowance up at once.
        let guesses = (0..16).map(|_| login_from(&t, "10.0.0.3", "admin@example.com", "guess"));
        let statuses: Vec<StatusCode> =
            futures_util::future::join_all(guesses).await.into_iter().map(|r| r.0).collect();
        let held = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        assert!(held >= 10, "[{b}] {statuses:?}");

        // One address guessing across accounts (unknown ones too) is held back as well.
        let mut last = StatusCode::OK;
        for i in 0..22 {
            last = login_from(&t, "10.0.0.4", &format!("nobody{i}@example.com"), "guess").await.0;
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "[{b}] 22 failures from one address");
        // Others are not.
        let (status, _, body) = login_from(&t, "10.0.0.5", "alice@example.com", "alicepass").await;
        assert_eq!(status, StatusCode::OK, "[{b}] {body}");
    })
    .await;
}

#[actix_web::test]
async fn reset_requests_and_password_checks_are_held_back() {
    on_each_backend_with_auth(|t| async move {
        let b = t.backend;
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(t.post("/api/Users/reset", json!({"email": "alice@example.com"})).await.status.as_u16());
        }
        assert_eq!(statuses, [204, 204, 204, 429, 429], "[{b}]");
        // The same for an address no account has: the answers tell nothing.
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(t.post("/api/Users/reset", json!({"email": "nobody@example.com"})).await.status.as_u16());
        }
        assert_eq!(statuses, [204, 204, 204, 429], "[{b}]");

        // A stolen token is no way to guess the password either.
        let token = t.login("alice@example.com", "alicepass").await;
        let change = |old: &'static str| {
            let (t, token) = (t.clone(), token.clone());
            async move {
                let body = json!({"oldPassword": old, "newPassword": "newpass1"});
                t.call_as(&token, Method::POST, "/api/Users/change-password", Some(body)).await.status
            }
        };
        for _ in 0..6 {
            assert_eq!(change("guess").await, StatusCode::BAD_REQUEST, "[{b}]");
        }
        assert_eq!(change("alicepass").await, StatusCode::TOO_MANY_REQUESTS, "[{b}]");
    })
    .await;
}

/// Two server processes on one database share the counts.
#[actix_web::test]
async fn every_process_sees_the_same_counts() {
    for (name, var) in [("postgres", "TEST_POSTGRES_URL"), ("mysql", "TEST_MYSQL_URL")] {
        let Ok(url) = std::env::var(var) else {
            eprintln!("note: the shared-throttle test on {name} is skipped ({var} not set)");
            continue;
        };
        let prefix = format!("thr{}_", std::process::id());
        let app = async || {
            let db = persisted_model::connect(&url).await.expect("connect");
            persisted_model_access_token::AccessTokens::new()
                .table_prefix(&prefix)
                .register(persisted_model::RestApi::builder(db).without_change_broker())
                .build()
                .await
                .expect("build")
        };
        let (a, b) = (app().await, app().await);
        persisted_model_access_token::create_user(&a, "carol@example.com", "carolpass").await.expect("seed");
        let (a, b) = (TestApp::of(a, name), TestApp::of(b, name));
        for i in 0..6 {
            let on = if i % 2 == 0 { &a } else { &b };
            let (status, _, _) = login_from(on, "10.1.0.1", "carol@example.com", "guess").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "[{name}] guess {i}");
        }
        let (status, _, _) = login_from(&a, "10.1.0.2", "carol@example.com", "carolpass").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "[{name}] six failures across two processes");
        a.drop_tables().await;
    }
}

#[actix_web::test]
async fn an_email_address_has_one_form_and_no_look_alikes() {
    on_each_backend_with_auth(|t| async move {
        let b = t.backend;
        // Case, Unicode forms, invisible characters and fullwidth letters make no new account.
        for variant in [
            "ALICE@example.com",
            "alice@EXAMPLE.com",
            " alice@example.com",
            "ａｌｉｃｅ@example.com",
            "ali\u{200b}ce@example.com",
            "ali\u{ad}ce@example.com",
        ] {
            let res = t.post("/api/Users", json!({"email": variant, "password": "another1"})).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{b}] {variant:?}: {:?}", res.body);
        }
        let res = t.post("/api/Users", json!({"email": "E\u{301}lise@Example.com", "password": "another1"})).await;
        assert_eq!(res.status, StatusCode::OK, "[{b}] {:?}", res.body);
        assert_eq!(res.body["email"], "\u{e9}lise@example.com", "[{b}] stored in one form");
        let res = t.post("/api/Users", json!({"email": "\u{e9}lise@example.com", "password": "another1"})).await;
        assert_eq!(res.body["error"]["details"]["codes"], json!({"email": ["uniqueness"]}), "[{b}]");
        // Logging in finds the one form, on every back end alike (MariaDB compared a trailing
        // space away, the others did not).
        for typed in ["alice@example.com ", "Alice@Example.com", "ａｌｉｃｅ@example.com"] {
            let res = t.post("/api/Users/login", json!({"email": typed, "password": "alicepass"})).await;
            assert_eq!(res.status, StatusCode::OK, "[{b}] {typed:?}: {:?}", res.body);
        }
        let res =
            t.post("/api/Users/login", json!({"email": "ali\u{200b}ce@example.com", "password": "alicepass"})).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "[{b}]");
    })
    .await;
}

#[actix_web::test]
async fn loopback_3_apps_keep_case_sensitive_emails() {
    let settings = Settings { auth: true, loopback3_user_rules: true, ..Settings::default() };
    on_each_backend_with(settings, |t| async move {
        let b = t.backend;
        let res = t.post("/api/Users", json!({"email": "Alice@Example.com", "password": "x"})).await;
        assert_eq!(res.status, StatusCode::OK, "[{b}] another user, as in LoopBack 3: {:?}", res.body);
        assert_eq!(res.body["email"], "Alice@Example.com", "[{b}] stored as typed, as LoopBack did");
        let res = t.post("/api/Users/login", json!({"email": "ALICE@example.com", "password": "alicepass"})).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "[{b}]");
        let res = t.post("/api/Users", json!({"email": "ali\u{200b}ce@example.com", "password": "x"})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{b}] invisible characters are refused even so");
    })
    .await;
}

#[actix_web::test]
async fn passwords_follow_the_policy_and_bcrypts_72_bytes() {
    on_each_backend_with_auth(|t| async move {
        let b = t.backend;
        let codes = |res: &crate::support::Resp| res.body["error"]["details"]["codes"]["password"].clone();
        let res = t.post("/api/Users", json!({"email": "dan@example.com", "password": "short"})).await;
        assert_eq!(codes(&res), json!(["length.min"]), "[{b}] {:?}", res.body);
        let res = t.post("/api/Users", json!({"email": "dan@example.com", "password": "Dan@Example.com"})).await;
        assert_eq!(codes(&res), json!(["custom.password"]), "[{b}] {:?}", res.body);
        let long = "p".repeat(72);
        let res = t.post("/api/Users", json!({"email": "dan@example.com", "password": long})).await;
        assert_eq!(res.status, StatusCode::OK, "[{b}] {:?}", res.body);
        // bcrypt reads 72 bytes: one more, whatever it is, is not the password.
        let res = t.post("/api/Users/login", json!({"email": "dan@example.com", "password": format!("{long}x")})).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "[{b}]");
        let token = t.login("dan@example.com", &long).await;
        let change = json!({"oldPassword": long, "newPassword": "tiny"});
        let res = t.call_as(&token, Method::POST, "/api/Users/change-password", Some(change)).await;
        assert_eq!(codes(&res), json!(["length.min"]), "[{b}] {:?}", res.body);
        let change = json!({"oldPassword": format!("{long}!"), "newPassword": "longenough"});
        let res = t.call_as(&token, Method::POST, "/api/Users/change-password", Some(change)).await;
        assert_eq!(res.code(), Some("INVALID_PASSWORD"), "[{b}] 72 bytes and more is not the password");
    })
    .await;
}

#[actix_web::test]
async fn answers_carry_safe_headers() {
    on_each_backend_with_auth(|t| async move {
        let b = t.backend;
        let header = |res: &actix_web::dev::ServiceResponse, name: &str| {
            res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let app = actix_web::test::init_service(
            actix_web::App::new().service(t.api.scope("/api")).service(t.api.explorer("/api")),
        )
        .await;
        let call = |req: TestRequest| {
            let app = &app;
            async move { actix_web::test::call_service(app, req.to_request()).await }
        };
        let products = call(TestRequest::get().uri("/api/Products")).await;
        assert_eq!(header(&products, "x-content-type-options").as_deref(), Some("nosniff"), "[{b}]");
        assert_eq!(header(&products, "cache-control"), None, "[{b}] products may be cached");
        let login = call(
            TestRequest::post()
                .uri("/api/Users/login")
                .set_json(json!({"email": "alice@example.com", "password": "alicepass"})),
        )
        .await;
        assert_eq!(header(&login, "cache-control").as_deref(), Some("no-store"), "[{b}] a token is never stored");
        let missing = call(TestRequest::get().uri("/api/Users/2")).await;
        assert_eq!(header(&missing, "cache-control").as_deref(), Some("no-store"), "[{b}] errors too");
        assert_eq!(header(&missing, "x-content-type-options").as_deref(), Some("nosniff"), "[{b}]");
        for path in ["/explorer/", "/explorer/openapi.json", "/explorer"] {
            let res = call(TestRequest::get().uri(path)).await;
            assert!(res.status().is_success() || res.status().is_redirection(), "[{b}] {path}: {}", res.status());
            assert_eq!(header(&res, "x-frame-options").as_deref(), Some("DENY"), "[{b}] {path}");
            assert_eq!(
                header(&res, "content-security-policy").as_deref(),
                Some("frame-ancestors 'none'"),
                "[{b}] {path}"
            );
        }
    })
    .await;
}
