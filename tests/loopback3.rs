//! Taking over a LoopBack 3 application: the conformance reference app's database, made by
//! LoopBack 3.28 on PostgreSQL and on MariaDB (`tests/fixtures/loopback3/make-fixtures.sh`),
//! served from the app's own model files. Passwords log in, LoopBack's tokens authenticate
//! with their scopes, roles decide, reads answer what LoopBack answered, and what we write is
//! accepted by LoopBack's own code (when `LB3_APP_DIR` names the reference app with its
//! `node_modules`).

use std::path::{Path, PathBuf};

use actix_web::http::{Method, StatusCode};
use persisted_model::RestApi;
use persisted_model_loopback3::LoopBackApp;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

use crate::support::TestApp;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/loopback3")
}

/// The statements of a SQL dump (each ends at a line ending in `;`).
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// A fresh database on the server of `url`, loaded with a fixture: its URL.
async fn fresh_database(url: &str, name: &str, dump: &str) -> String {
    let admin = persisted_model::connect(url).await.unwrap();
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}")).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    let db = persisted_model::connect(&url).await.unwrap();
    for stmt in statements(&std::fs::read_to_string(fixtures().join(dump)).unwrap()) {
        db.execute_unprepared(&stmt).await.unwrap_or_else(|e| panic!("{dump}: {e}\n{stmt}"));
    }
    // The recorded tokens were valid when LoopBack made them: keep them so, whatever today
    // is (the expired ones stay expired).
    let table = if url.starts_with("postgres") { "accesstoken" } else { "AccessToken" };
    db.execute_unprepared(&format!("UPDATE {table} SET created = CURRENT_TIMESTAMP WHERE ttl > 60")).await.unwrap();
    url
}

/// A request as a caller with `token` (or anonymous): status and JSON body.
async fn call(t: &TestApp, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
    let res = match token {
        Some(token) => t.call_as(token, method, uri, body).await,
        None => t.call(method, uri, body).await,
    };
    (res.status, res.body)
}

fn q(v: Value) -> String {
    percent_encoding::utf8_percent_encode(&v.to_string(), percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Runs LoopBack 3's own AccessToken.resolve and bcrypt check on what we wrote.
fn accepted_by_loopback(backend: &str, db_name: &str, token: &str, email: &str, password: &str) -> Option<Value> {
    let Some(app_dir) = std::env::var("LB3_APP_DIR").ok().filter(|d| !d.is_empty()) else {
        eprintln!("note: LB3_APP_DIR is not set: LoopBack 3's own check of our tokens and users is skipped");
        return None;
    };
    let out = std::process::Command::new("node")
        .arg(fixtures().join("accept.js"))
        .args([token, email, password])
        .env("LB3_APP_DIR", app_dir)
        .env("LB3_DB", if backend == "postgres" { "postgres" } else { "mysql" })
        .env("DB_NAME", db_name)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "LoopBack refused: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

async fn takes_over(backend: &str, url: &str, dump: &str, answers: &str) {
    let db_name = format!("lb3_takeover_{}", std::process::id());
    let url = fresh_database(url, &db_name, dump).await;
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join(answers)).unwrap()).unwrap();
    let tokens = &recorded["tokens"];
    let token = |name: &str| tokens[name].as_str().unwrap().to_owned();
    let answer = |name: &str| &recorded["answers"][name];

    let lb3 = LoopBackApp::load(fixtures().join("app")).unwrap().access_tokens(|t| t.token_path("accessTokens"));
    let db: DatabaseConnection = persisted_model::connect(&url).await.unwrap();
    let api = lb3.register(RestApi::builder(db)).unwrap().build().await.unwrap();
    let s = TestApp { api, backend: "loopback3", temp_file: None, prefix: None };

    // Reads answer what LoopBack answered.
    let products = format!("/api/Products?filter={}", q(json!({"include": "category", "order": "id ASC"})));
    let cheap = format!(
        "/api/Products?filter={}",
        q(json!({"where": {"price": {"lt": 20}}, "fields": ["id", "name", "price"]}))
    );
    let category = format!("/api/Categories/1?filter={}", q(json!({"include": "products"})));
    let count = format!("/api/Products/count?where={}", q(json!({"inStock": true})));
    for (name, uri) in [
        ("products", products),
        ("cheap", cheap),
        ("product", "/api/Products/1".into()),
        ("category", category),
        ("count", count),
    ] {
        let (status, body) = call(&s, Method::GET, &uri, None, None).await;
        assert_eq!(
            (status.as_u16(), &body),
            (answer(name)["status"].as_u64().unwrap() as u16, &answer(name)["body"]),
            "[{backend}] {name}"
        );
    }

    // LoopBack's tokens authenticate; roles and scopes decide as they did.
    let (alice, admin) = (token("alice"), token("admin"));
    let cases = [
        ("aliceReadsHerself", Method::GET, "/api/Users/2".to_owned(), alice.clone()),
        ("aliceReadsAdmin", Method::GET, "/api/Users/1".to_owned(), alice.clone()),
        ("aliceListsTokens", Method::GET, "/api/accessTokens".to_owned(), alice.clone()),
        ("scopedReadsUser", Method::GET, "/api/Users/2".to_owned(), token("scoped")),
        ("expiredReadsUser", Method::GET, "/api/Users/2".to_owned(), token("expiredUnused")),
    ];
    for (name, method, uri, t) in cases {
        let (status, body) = call(&s, method, &uri, Some(&t), None).await;
        assert_eq!(status.as_u16() as u64, answer(name)["status"].as_u64().unwrap(), "[{backend}] {name}: {body}");
        if status.is_success() {
            assert_eq!(body, answer(name)["body"], "[{backend}] {name}");
        } else {
            assert_eq!(body["error"]["code"], answer(name)["body"]["error"]["code"], "[{backend}] {name}");
        }
    }
    let by_admin = format!("/api/accessTokens?filter={}", q(json!({"where": {"userId": 1}})));
    let (status, listed) = call(&s, Method::GET, &by_admin, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "[{backend}] the admin role comes from LoopBack's RoleMapping");
    assert_eq!(listed[0]["id"], json!(admin), "[{backend}] raw token ids, as LoopBack stores them");
    assert_eq!(listed[0]["scopes"], Value::Null);

    // Passwords LoopBack hashed log in; a reset-scoped token may only set the password.
    let (status, login) = call(
        &s,
        Method::POST,
        "/api/Users/login",
        None,
        Some(json!({"email": "alice@example.com", "password": "alicepass"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "[{backend}] {login}");
    let set = call(
        &s,
        Method::POST,
        "/api/Users/reset-password",
        Some(&token("scoped")),
        Some(json!({"newPassword": "alicepass2"})),
    )
    .await;
    assert_eq!(set.0, StatusCode::NO_CONTENT, "[{backend}] {:?}", set.1);

    // What we write, LoopBack reads: a user signed up here and the token of her login.
    let (status, _) =
        call(&s, Method::POST, "/api/Users", None, Some(json!({"email": "bob@example.com", "password": "bobpass"})))
            .await;
    assert_eq!(status, StatusCode::OK);
    let (_, bob) = call(
        &s,
        Method::POST,
        "/api/Users/login",
        None,
        Some(json!({"email": "bob@example.com", "password": "bobpass"})),
    )
    .await;
    let bob_token = bob["id"].as_str().unwrap();
    let scoped =
        call(&s, Method::POST, "/api/accessTokens", Some(bob_token), Some(json!({"scopes": ["reset-password"]}))).await;
    assert_eq!(scoped.0, StatusCode::FORBIDDEN, "[{backend}] scopes only narrow the caller's own");
    if let Some(seen) = accepted_by_loopback(backend, &db_name, bob_token, "bob@example.com", "bobpass") {
        assert_eq!(seen["tokenUser"], json!(bob["userId"].to_string()), "[{backend}] {seen}");
    }

    drop(s);
    let admin_db = persisted_model::connect(&url.replace(&db_name, "")).await;
    if let Ok(admin_db) = admin_db {
        let _ = admin_db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name}")).await;
    }
}

#[actix_web::test]
async fn a_loopback3_database_and_its_model_files_are_served_as_they_are() {
    let mut ran = false;
    if let Ok(url) = std::env::var("TEST_POSTGRES_URL") {
        takes_over("postgres", &url, "postgres.sql", "postgres.answers.json").await;
        ran = true;
    }
    if let Ok(url) = std::env::var("TEST_MYSQL_URL") {
        takes_over("mysql", &url, "mariadb.sql", "mysql.answers.json").await;
        ran = true;
    }
    if !ran {
        eprintln!("note: the LoopBack 3 take-over test needs TEST_POSTGRES_URL or TEST_MYSQL_URL; skipped");
    }
}

#[test]
fn the_reference_apps_model_files_load_with_warnings_for_what_is_left_out() {
    let app = LoopBackApp::load(fixtures().join("app")).unwrap();
    assert_eq!(app.rest_root(), "/api");
    assert!(app.warnings().is_empty(), "{:?}", app.warnings());
    let broken = std::env::temp_dir().join(format!("lb3-broken-{}", std::process::id()));
    std::fs::create_dir_all(broken.join("server")).unwrap();
    std::fs::create_dir_all(broken.join("common/models")).unwrap();
    std::fs::write(
        broken.join("server/model-config.json"),
        r#"{"Order": {"dataSource": "db"}, "Gone": {"dataSource": "db"}}"#,
    )
    .unwrap();
    std::fs::write(
        broken.join("common/models/order.json"),
        r#"{"name": "Order", "properties": {"at": "geopoint"}, "methods": {"ship": {}}}"#,
    )
    .unwrap();
    let err = LoopBackApp::load(&broken).unwrap_err().to_string();
    std::fs::remove_dir_all(&broken).unwrap();
    assert!(err.contains("Order.at: type \"geopoint\" is not supported"), "{err}");
    assert!(err.contains("Gone: model-config.json names it, but no model file defines it"), "{err}");
}

/// Without table creation, `build()` checks the database: every missing table, missing column
/// and column of the wrong type is listed at once.
#[actix_web::test]
async fn build_lists_what_the_database_lacks() {
    for backend in crate::support::backends() {
        let db = persisted_model::connect(&backend.url).await.unwrap();
        let suffix = std::process::id();
        let (product, category) = (format!("lb3chk_product_{suffix}"), format!("lb3chk_category_{suffix}"));
        // A product table without `releasedAt`, with a text `price`; no category table.
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {product}")).await.unwrap();
        db.execute_unprepared(&format!(
            "CREATE TABLE {product} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price TEXT, instock BOOLEAN, categoryid INTEGER)"
        ))
        .await
        .unwrap();
        let rename = |table: String| {
            move |d: &mut persisted_model::ModelDefinition| {
                d.table = table.clone();
                d.settings.fixed_storage_names = true;
                for p in &mut d.properties {
                    p.column = p.name.to_lowercase();
                }
            }
        };
        let result = RestApi::builder(db.clone())
            .create_tables(false)
            .handle(
                persisted_model::ModelHandle::from_definition(persisted_model::testing::product_definition())
                    .map_definition(rename(product.clone())),
            )
            .handle(
                persisted_model::ModelHandle::from_definition(persisted_model::testing::category_definition())
                    .map_definition(rename(category.clone())),
            )
            .build()
            .await;
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {product}")).await.unwrap();
        let Err(persisted_model::Error::Configuration(problems)) = result else {
            panic!("[{}] build accepted a database without the tables", backend.name)
        };
        let mut expected = vec![
            format!("Product.releasedAt: the table \"{product}\" has no column \"releasedat\""),
            format!("Product.secret: the table \"{product}\" has no column \"secret\""),
            format!("Category: the table \"{category}\" does not exist"),
        ];
        // SQLite keeps any value in any column: only the others check the types.
        if backend.name != "sqlite" {
            expected.insert(0, "Product.price: the column \"price\" is text, which cannot hold a number".to_owned());
        }
        assert_eq!(problems, expected, "[{}]", backend.name);
    }
}

/// A model file based on `User` (LoopBack's usual `Customer`) is the user model: it has the
/// built-in User's properties and ACLs plus its own, its users log in, and `$owner` is theirs.
/// One based on `AccessToken` holds their tokens.
#[actix_web::test]
async fn a_model_based_on_user_is_the_user_model() {
    let dir = std::env::temp_dir().join(format!("lb3-customer-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("server")).unwrap();
    std::fs::create_dir_all(dir.join("common/models")).unwrap();
    std::fs::write(
        dir.join("server/model-config.json"),
        r#"{"User": {"dataSource": "db", "public": false}, "AccessToken": {"dataSource": "db", "public": false},
            "Role": {"dataSource": "db", "public": false}, "RoleMapping": {"dataSource": "db", "public": false},
            "Customer": {"dataSource": "db", "public": true}, "accessToken": {"dataSource": "db", "public": false}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("common/models/customer.json"),
        r#"{"name": "Customer", "base": "User", "properties": {"vip": {"type": "boolean", "default": false}},
            "acls": [{"principalType": "ROLE", "principalId": "$authenticated", "permission": "ALLOW", "property": "find"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("common/models/access-token.json"),
        r#"{"name": "accessToken", "base": "AccessToken",
            "relations": {"user": {"type": "belongsTo", "model": "Customer", "foreignKey": "userId"}}}"#,
    )
    .unwrap();
    let app = LoopBackApp::load(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        app.warnings(),
        [
            "User: the built-in User is not served; Customer is the user model",
            "AccessToken: the built-in AccessToken is not served; accessToken is the token model",
        ]
    );

    // LoopBack made these tables (SQLite keeps the names as they are).
    let db = persisted_model::connect("sqlite::memory:").await.unwrap();
    for table in [
        r#"CREATE TABLE "Customer" (id INTEGER PRIMARY KEY, realm TEXT, username TEXT, password TEXT NOT NULL,
            email TEXT NOT NULL, "emailVerified" BOOLEAN, "verificationToken" TEXT, vip BOOLEAN)"#,
        r#"CREATE TABLE "accessToken" (id TEXT PRIMARY KEY, ttl INTEGER, scopes TEXT, created TEXT, "userId" INTEGER)"#,
        r#"CREATE TABLE "Role" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT, created TEXT, modified TEXT)"#,
        r#"CREATE TABLE "RoleMapping" (id INTEGER PRIMARY KEY, "principalType" TEXT, "principalId" TEXT, "roleId" INTEGER)"#,
    ] {
        db.execute_unprepared(table).await.unwrap();
    }
    let api = app.register(RestApi::builder(db)).unwrap().build().await.unwrap();
    let t = TestApp { api, backend: "sqlite", temp_file: None, prefix: None };
    let ann = call(
        &t,
        Method::POST,
        "/api/Customers",
        None,
        Some(json!({"email": "ann@example.com", "password": "annpass", "vip": true})),
    )
    .await;
    assert_eq!(ann.0, StatusCode::OK, "{}", ann.1);
    assert_eq!((ann.1["vip"].clone(), ann.1.get("password")), (json!(true), None));
    call(&t, Method::POST, "/api/Customers", None, Some(json!({"email": "bo@example.com", "password": "bopass"})))
        .await;
    let (status, login) = call(
        &t,
        Method::POST,
        "/api/Customers/login",
        None,
        Some(json!({"email": "ann@example.com", "password": "annpass"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["id"].as_str().unwrap();
    let own = call(&t, Method::GET, &format!("/api/Customers/{}", ann.1["id"]), Some(token), None).await;
    assert_eq!(own.0, StatusCode::OK, "$owner is the customer: {}", own.1);
    let other = call(&t, Method::GET, "/api/Customers/2", Some(token), None).await;
    assert_eq!(other.0, StatusCode::FORBIDDEN, "LoopBack's User ACLs apply to Customer");
    let listed = call(&t, Method::GET, "/api/Customers", Some(token), None).await;
    assert_eq!(listed.0, StatusCode::OK, "the model file's own ACL adds to them");
    let state = t.api.state();
    let stored = sea_orm::ConnectionTrait::query_one_raw(
        &state.db,
        sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, r#"SELECT COUNT(*) FROM "accessToken""#),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(stored.try_get_by_index::<i64>(0).unwrap(), 1, "the login's token is in the app's token table");
    let out = call(&t, Method::POST, "/api/Customers/logout", Some(token), None).await;
    assert_eq!(out.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&t, Method::GET, "/api/Customers/1", Some(token), None).await.0, StatusCode::UNAUTHORIZED);
}
