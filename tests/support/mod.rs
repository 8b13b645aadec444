//! The test harness: an app over in-memory SQLite, and over PostgreSQL and MySQL/MariaDB when
//! `TEST_POSTGRES_URL` / `TEST_MYSQL_URL` are set. Each app gets its own table names, so tests
//! can share one server database and run in parallel.

pub mod models;

use std::future::Future;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::http::{Method, StatusCode, header};
use actix_web::{App, test, web};
use persisted_model::acl::AclEntry;
use persisted_model::{ModelHandle, PersistedModel, RestApi, RoleFn, url_not_found};
use persisted_model_access_token::{AccessTokens, add_user_to_role, create_user};
use serde_json::Value;

/// A database the tests run on.
#[derive(Debug, Clone)]
pub struct Backend {
    pub name: &'static str,
    pub url: String,
}

/// SQLite always; PostgreSQL and MySQL when their URLs are set.
pub fn backends() -> Vec<Backend> {
    static NOTE: Once = Once::new();
    let mut out = vec![Backend { name: "sqlite", url: "sqlite::memory:".to_owned() }];
    let mut skipped = Vec::new();
    for (name, var) in [("postgres", "TEST_POSTGRES_URL"), ("mysql", "TEST_MYSQL_URL")] {
        match std::env::var(var) {
            Ok(url) if !url.is_empty() => out.push(Backend { name, url }),
            _ => skipped.push(format!("{name} ({var} not set)")),
        }
    }
    if !skipped.is_empty() {
        NOTE.call_once(|| eprintln!("note: HTTP tests skip {}; they run on sqlite", skipped.join(", ")));
    }
    out
}

/// Runs `check` once per backend with a fresh app.
pub async fn on_each_backend<F, Fut>(check: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    on_each_backend_with(Settings::default(), check).await;
}

/// How a test app is built.
#[derive(Clone, Default)]
pub struct Settings {
    /// Users, tokens and roles (admin and alice).
    pub auth: bool,
    /// The pool's size (default: the framework's).
    pub pool: Option<u32>,
    /// Query limits instead of the defaults.
    pub limits: Option<persisted_model::filter::FilterLimits>,
    /// Items per array body instead of the default.
    pub max_batch: Option<usize>,
    /// Application-level ACL entries.
    pub acls: Vec<AclEntry>,
    /// How long a request waits for a connection (default: the framework's 2 s).
    pub acquire_timeout: Option<std::time::Duration>,
    /// Token ids stored raw, as LoopBack 3 stored them (with `auth`).
    pub raw_tokens: bool,
    /// The longest a statement may run (default: the framework's).
    pub statement_timeout: Option<std::time::Duration>,
    /// No throttling of logins and resets (with `auth`).
    pub no_throttle: bool,
    /// LoopBack 3's rules for credential changes (with `auth`): PATCH may change a password
    /// or an email address.
    pub loopback3_user_rules: bool,
}

/// The password reset tokens the apps handed out, by email address, newest last.
pub static RESETS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// The newest reset token handed out for `email`, waiting for it for at most 2 s (it is made
/// after the request is answered).
pub async fn reset_token_for(email: &str, after: usize) -> String {
    for _ in 0..200 {
        let found: Vec<String> =
            RESETS.lock().unwrap().iter().filter(|(e, _)| e == email).map(|(_, t)| t.clone()).collect();
        if found.len() > after {
            return found.last().unwrap().clone();
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no reset token for {email}");
}

/// How many reset tokens were handed out for `email` so far.
pub fn resets_for(email: &str) -> usize {
    RESETS.lock().unwrap().iter().filter(|(e, _)| e == email).count()
}

/// Runs `check` once per backend with a fresh app built with `settings`.
pub async fn on_each_backend_with<F, Fut>(settings: Settings, check: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        let app = TestApp::build_with(&backend, &settings).await;
        check(app.clone()).await;
        app.drop_tables().await;
    }
}

fn handle<M: PersistedModel>(suffix: &str) -> ModelHandle {
    ModelHandle::of::<M>().map_definition(|d| d.table = format!("{}_{suffix}", d.table))
}

/// Runs `check` once per backend with a fresh app that has users and tokens: admin
/// (`admin@example.com` / `adminpass`, role admin) and alice (`alice@example.com` / `alicepass`).
pub async fn on_each_backend_with_auth<F, Fut>(check: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    on_each_backend_with(Settings { auth: true, ..Settings::default() }, check).await;
}

/// The app under test and a way to call it.
#[derive(Clone)]
pub struct TestApp {
    pub api: RestApi,
    pub backend: &'static str,
    /// A SQLite file made for this app, removed with its tables.
    pub temp_file: Option<std::path::PathBuf>,
    /// The prefix of the access-token tables (with `auth`).
    pub prefix: Option<String>,
}

/// A response, its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub raw: Vec<u8>,
    pub retry_after: Option<String>,
}

impl Resp {
    /// `body.error.code`.
    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// `body.error.message`.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    /// An app built elsewhere, on `backend`, with access-token's tables under `prefix`.
    pub fn of(api: RestApi, backend: &'static str) -> Self {
        let prefix = api.state().registry.get("User").map(|u| u.definition().table.trim_end_matches("user").to_owned());
        Self { api, backend, temp_file: None, prefix }
    }

    pub async fn new(backend: &Backend) -> Self {
        Self::build(backend, false).await
    }

    async fn build(backend: &Backend, auth: bool) -> Self {
        Self::build_with(backend, &Settings { auth, ..Settings::default() }).await
    }

    pub async fn build_with(backend: &Backend, settings: &Settings) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let auth = settings.auth;
        let suffix = format!("t{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let mut url = backend.url.clone();
        let mut temp_file = None;
        if settings.pool.is_some_and(|n| n > 1) && url == "sqlite::memory:" {
            // Connections to one in-memory database would each see their own: use a file.
            let path = std::env::temp_dir().join(format!("pm_{suffix}.db"));
            url = format!("sqlite://{}?mode=rwc", path.display());
            temp_file = Some(path);
        }
        let mut opts = persisted_model::connect_options(&url);
        if let Some(n) = settings.pool {
            opts.max_connections(n).min_connections(1);
        }
        if let Some(t) = settings.acquire_timeout {
            opts.acquire_timeout(t);
        }
        if let Some(limit) = settings.statement_timeout {
            persisted_model::limit_statements(&mut opts, Some(limit));
        }
        let db = sea_orm::Database::connect(opts).await.expect("connect to the test database");
        use models::*;
        let mut builder = RestApi::builder(db)
            .handle(handle::<category::Model>(&suffix))
            .handle(handle::<product::Model>(&suffix))
            .handle(handle::<author::Model>(&suffix))
            .handle(handle::<profile::Model>(&suffix))
            .handle(handle::<physician::Model>(&suffix))
            .handle(handle::<patient::Model>(&suffix))
            .handle(handle::<appointment::Model>(&suffix))
            .handle(handle::<tag::Model>(&suffix))
            .handle(handle::<note::Model>(&suffix))
            .handle(handle::<memo::Model>(&suffix).with_hooks(memo::Hooks))
            .handle(handle::<secret::Model>(&suffix))
            .handle(handle::<gadget::Model>(&suffix))
            .handle(handle::<journal::Model>(&suffix).with_hooks(journal::Hooks))
            .body_limit(16 * 1024);
        if let Some(limits) = &settings.limits {
            builder = builder.limits(limits.clone());
        }
        if let Some(n) = settings.max_batch {
            builder = builder.max_batch(n);
        }
        for entry in &settings.acls {
            builder = builder.acl(entry.clone());
        }
        if !auth {
            // Secret belongs to a User: without the auth models, a bare, private one.
            builder = builder.handle(handle::<person::Model>(&suffix).map_definition(|d| d.settings.public = false));
        }
        if auth {
            let mut tokens = AccessTokens::new();
            if settings.no_throttle {
                tokens = tokens.throttle(None);
            }
            if settings.loopback3_user_rules {
                tokens = tokens.user_rules(persisted_model_access_token::user::UserHooks::loopback3());
            }
            tokens =
                tokens.on_reset_request(|r| RESETS.lock().unwrap().push((r.email.clone(), r.access_token.clone())));
            builder = tokens
                .store_raw_tokens(settings.raw_tokens)
                .token_path("accessTokens")
                .table_prefix(&format!("{suffix}_"))
                .acl_table(true)
                .register(builder)
                .acl(AclEntry::role("AccessToken", "*", None, "admin").allow())
                // A custom role decided by a closure: user 1 audits everything.
                .role_source(RoleFn(|role: &str, caller: &persisted_model::acl::Caller| {
                    (role == "auditor").then(|| caller.user_id() == Some("1"))
                }));
        }
        let api = builder.build().await.expect("create tables");
        if auth {
            let admin = create_user(&api, "admin@example.com", "adminpass").await.expect("seed admin");
            create_user(&api, "alice@example.com", "alicepass").await.expect("seed alice");
            add_user_to_role(&api, &admin, "admin").await.expect("seed admin role");
        }
        Self { api, backend: backend.name, temp_file, prefix: auth.then(|| format!("{suffix}_")) }
    }

    /// Logs in and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let res = self.post("/api/Users/login", serde_json::json!({"email": email, "password": password})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] login {email}: {:?}", self.backend, res.body);
        res.body["id"].as_str().expect("token id").to_owned()
    }

    /// Sends a request with a token in the `Authorization` header.
    pub async fn call_as(&self, token: &str, method: Method, uri: &str, body: Option<Value>) -> Resp {
        let req = test::TestRequest::default().method(method).uri(uri).insert_header((header::AUTHORIZATION, token));
        let req = match body {
            Some(b) => req.set_json(b),
            None => req,
        };
        self.send(req).await
    }

    /// Sends a prepared request.
    pub async fn send_request(&self, req: test::TestRequest) -> Resp {
        self.send(req).await
    }

    /// Drops the app's tables (server databases outlive the test).
    pub async fn drop_tables(&self) {
        use sea_orm::ConnectionTrait;
        let state = self.api.state();
        if let Some(path) = &self.temp_file {
            let _ = std::fs::remove_file(path);
        }
        if self.backend == "sqlite" {
            return;
        }
        let throttle = self.prefix.as_ref().map(|p| format!("{p}persisted_model_throttle"));
        for table in state.registry.iter().map(|m| m.definition().table.clone()).chain(throttle) {
            let quoted = if self.backend == "mysql" { format!("`{table}`") } else { format!("\"{table}\"") };
            state.db.execute_unprepared(&format!("DROP TABLE IF EXISTS {quoted}")).await.expect("drop test table");
        }
    }

    /// Sends a request with an optional JSON body.
    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Resp {
        let req = test::TestRequest::default().method(method).uri(uri);
        let req = match body {
            Some(b) => req.set_json(b),
            None => req,
        };
        self.send(req).await
    }

    /// Sends a request with a raw body and content type.
    pub async fn raw(&self, method: Method, uri: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Resp {
        let req = test::TestRequest::default()
            .method(method)
            .uri(uri)
            .insert_header((header::CONTENT_TYPE, content_type))
            .set_payload(body.into());
        self.send(req).await
    }

    async fn send(&self, req: test::TestRequest) -> Resp {
        let app = test::init_service(
            App::new()
                .service(self.api.health())
                .service(self.api.explorer("/api"))
                .service(self.api.scope("/api"))
                .default_service(web::to(url_not_found)),
        )
        .await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let content_type =
            res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let retry_after = res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let raw = test::read_body(res).await.to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp { status, content_type, body, raw, retry_after }
    }

    /// Opens a change stream (a GET with an optional token) and keeps its body open to read
    /// events from as they come.
    pub async fn subscribe(&self, token: Option<&str>, uri: &str) -> EventStream {
        let app = test::init_service(App::new().service(self.api.scope("/api"))).await;
        let mut req = test::TestRequest::get().uri(uri).insert_header((header::ACCEPT, "text/event-stream"));
        if let Some(token) = token {
            req = req.insert_header((header::AUTHORIZATION, token));
        }
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let content_type =
            res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        EventStream { status, content_type, body: Some(res.into_body()), buffer: String::new() }
    }

    /// The status of a GET with a token.
    pub async fn get_as(&self, token: &str, uri: &str) -> StatusCode {
        self.call_as(token, Method::GET, uri, None).await.status
    }

    /// The first column of the first row of `sql`, where `{model}` names a model's table
    /// (lower-case model name), as JSON.
    pub async fn scalar(&self, sql: &str) -> Value {
        use sea_orm::ConnectionTrait;
        let state = self.api.state();
        let mut sql = sql.to_owned();
        for model in state.registry.iter() {
            let def = model.definition();
            let quoted =
                if self.backend == "mysql" { format!("`{}`", def.table) } else { format!("\"{}\"", def.table) };
            sql = sql.replace(&format!("{{{}}}", def.name.to_lowercase()), &quoted);
        }
        let backend = state.db.get_database_backend();
        let row =
            state.db.query_one_raw(sea_orm::Statement::from_string(backend, sql)).await.expect("query").expect("a row");
        if let Ok(s) = row.try_get_by_index::<String>(0) {
            return Value::String(s);
        }
        row.try_get_by_index::<i64>(0).map(Value::from).unwrap_or(Value::Null)
    }

    pub async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, None).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Resp {
        self.call(Method::POST, uri, Some(body)).await
    }

    pub async fn put(&self, uri: &str, body: Value) -> Resp {
        self.call(Method::PUT, uri, Some(body)).await
    }

    pub async fn patch(&self, uri: &str, body: Value) -> Resp {
        self.call(Method::PATCH, uri, Some(body)).await
    }

    pub async fn delete(&self, uri: &str) -> Resp {
        self.call(Method::DELETE, uri, None).await
    }

    /// Creates an instance and returns its id.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let res = self.post(path, body).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] create {path}: {:?}", self.backend, res.body);
        res.body["id"].clone()
    }
}

/// URL-encodes a JSON filter for a query string.
pub fn q(value: Value) -> String {
    percent_encoding::utf8_percent_encode(&value.to_string(), percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The body with every `id`-like number replaced, for snapshots.
pub fn redact_ids(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if (k == "id" || k.ends_with("Id")) && v.is_number() {
                        Value::from("[id]")
                    } else {
                        redact_ids(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_ids).collect()),
        other => other.clone(),
    }
}

/// An open change stream's body, read frame by frame.
pub struct EventStream {
    pub status: StatusCode,
    pub content_type: String,
    body: Option<actix_web::body::BoxBody>,
    buffer: String,
}

impl EventStream {
    /// The frames (comments dropped) that arrive until the stream has been quiet for `quiet`
    /// after the last one, or `wait` has passed, or it ends.
    pub async fn frames(&mut self, wait: std::time::Duration, quiet: std::time::Duration) -> Vec<String> {
        use actix_web::body::MessageBody;
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let frame = frame.trim_end().to_owned();
                if !frame.starts_with(':') {
                    out.push(frame);
                }
            }
            let Some(body) = self.body.as_mut() else { return out };
            let limit = if out.is_empty() { deadline } else { (tokio::time::Instant::now() + quiet).min(deadline) };
            let next =
                tokio::time::timeout_at(limit, std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_next(cx)));
            match next.await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(_))) | Ok(None) => self.body = None,
                Err(_) => return out,
            }
        }
    }

    /// The JSON of each `event: data` frame among [`frames`](Self::frames).
    pub async fn events(&mut self, wait: std::time::Duration) -> Vec<Value> {
        self.frames(wait, std::time::Duration::from_millis(150))
            .await
            .iter()
            .filter_map(|f| f.strip_prefix("event: data\ndata: "))
            .map(|d| serde_json::from_str(d).expect("event JSON"))
            .collect()
    }

    /// Whether the body has ended.
    pub fn ended(&self) -> bool {
        self.body.is_none()
    }
}
