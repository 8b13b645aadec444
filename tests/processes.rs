//! Several server processes on one database (`bin/change_feed_server.rs`, started twice): a
//! change made on one reaches a change stream on the other within a second, and a logout on
//! one is seen by the very next request on the other, although both cache tokens. PostgreSQL
//! carries changes with `LISTEN`/`NOTIFY`; MariaDB with Redis (`REDIS_URL`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(database_url: &str, seed: bool, redis: Option<&str>) -> Server {
        Self::start_with(database_url, seed, redis, &[])
    }

    fn start_with(database_url: &str, seed: bool, redis: Option<&str>, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_change-feed-server"));
        cmd.envs(env.iter().copied());
        cmd.env("DATABASE_URL", database_url).env("PORT", "0").env("SEED", if seed { "1" } else { "0" });
        cmd.env_remove("REDIS_URL");
        if let Some(url) = redis {
            // This test's processes only: the other tests' apps share the default channel.
            cmd.env("REDIS_URL", url).env("CHANGE_CHANNEL", redis_channel());
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("the server's port");
        let port = line.trim().strip_prefix("PORT=").and_then(|p| p.parse().ok()).expect("PORT=<n>");
        Server { child, port }
    }

    /// Waits until the server answers and its change broker is connected.
    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, body)) = try_http(self.port, "GET", "/readyz", None, None).await
                && body["changes"] == "connected"
            {
                return;
            }
            assert!(Instant::now() < deadline, "server on {} never became ready with a connected broker", self.port);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Server {
    /// SIGTERM, then waits for the process to exit (its graceful stop).
    fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let status = self.child.wait().expect("the server exits");
        assert!(status.success(), "the server's graceful stop: {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn try_http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> std::io::Result<(u16, Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: {t}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

async fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    try_http(port, method, path, token, body).await.expect("HTTP request")
}

/// A database of its own on the server `url` names, dropped when the test ends.
struct Database {
    admin: sea_orm::DatabaseConnection,
    name: String,
    url: String,
    mysql: bool,
}

impl Database {
    async fn create(url: &str, mysql: bool, purpose: &str) -> Database {
        let admin = persisted_model::connect(url).await.expect("connect");
        let name = format!("pm_{purpose}_{}", std::process::id());
        let q = |n: &str| if mysql { format!("`{n}`") } else { format!("\"{n}\"") };
        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {}", q(&name))).await;
        admin.execute_unprepared(&format!("CREATE DATABASE {}", q(&name))).await.expect("create database");
        let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
        Database { admin, url: format!("{base}/{name}"), name, mysql }
    }

    async fn drop(self) {
        let sql = if self.mysql {
            format!("DROP DATABASE IF EXISTS `{}`", self.name)
        } else {
            format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)
        };
        let _ = self.admin.execute_unprepared(&sql).await;
    }
}

/// Sends `message` on the change channel as someone with a database login (PostgreSQL) or a
/// Redis client would: not through a server process.
async fn inject(database_url: &str, redis: Option<&str>, message: &str) {
    match redis {
        None => {
            let db = persisted_model::connect(database_url).await.expect("connect");
            let stmt = sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [persisted_model::changes::DEFAULT_CHANNEL.into(), message.into()],
            );
            db.execute_raw(stmt).await.expect("NOTIFY");
        }
        Some(url) => {
            let address = url.trim_start_matches("redis://").trim_end_matches('/');
            let mut s = TcpStream::connect(address).await.expect("connect to Redis");
            let channel = redis_channel();
            let mut command = String::from("*3\r\n$7\r\nPUBLISH\r\n");
            for part in [channel.as_str(), message] {
                command.push_str(&format!("${}\r\n{part}\r\n", part.len()));
            }
            s.write_all(command.as_bytes()).await.expect("PUBLISH");
            let mut reply = [0u8; 64];
            let n = s.read(&mut reply).await.expect("Redis answers");
            assert!(reply[..n].starts_with(b":"), "{}", String::from_utf8_lossy(&reply[..n]));
        }
    }
}

/// The Redis channel of this test's processes.
fn redis_channel() -> String {
    format!("pm_processes_{}", std::process::id())
}

/// Reads `stream` until `done` holds for what it has said, for at most `limit`.
async fn read_until(stream: &mut TcpStream, seen: &mut String, limit: Duration, done: impl Fn(&str) -> bool) {
    let mut buf = [0u8; 16384];
    let started = Instant::now();
    while !done(seen) {
        let left = limit.saturating_sub(started.elapsed());
        let n = tokio::time::timeout(left, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("the stream did not say it in {limit:?}; it said: {seen}"))
            .unwrap();
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// Reads whatever `stream` says for `time`.
async fn drain(stream: &mut TcpStream, seen: &mut String, time: Duration) {
    let mut buf = [0u8; 16384];
    let started = Instant::now();
    while let Ok(Ok(n)) = tokio::time::timeout(time.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// A change stream on `port`, open (its first comment has come).
async fn change_stream(port: u16) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(b"GET /api/Products/change-stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, Duration::from_secs(5), |s| s.contains(": change stream")).await;
    (stream, seen)
}

async fn login_alice(port: u16) -> (String, Value) {
    let login = json!({"email": "alice@example.com", "password": "alicepass"});
    let (status, token) = http(port, "POST", "/api/Users/login", None, Some(login)).await;
    assert_eq!(status, 200, "{token}");
    (token["id"].as_str().unwrap().to_owned(), token["userId"].clone())
}

async fn two_processes(database_url: &str, redis: Option<&str>) {
    let mut a = Server::start(database_url, true, redis);
    a.ready().await;
    let b = Server::start(database_url, false, redis);
    b.ready().await;

    // A change stream on A hears a create made on B within a second.
    let (mut stream, mut seen) = change_stream(a.port).await;
    let (status, created) = http(b.port, "POST", "/api/Products", None, Some(json!({"name": "Made on B"}))).await;
    assert_eq!(status, 200, "{created}");
    let want = format!(r#""target":{},"data":{{"#, created["id"]);
    read_until(&mut stream, &mut seen, Duration::from_secs(1), |s| s.contains(&want) && s.contains("Made on B")).await;

    // A process that has just connected waits the whole lease before it answers a revoking
    // write (it may not have heard every other's hello yet): these have listened long enough.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Anyone who can NOTIFY on the database (or PUBLISH on the Redis server) cannot speak for
    // a process: a forged change reaches no stream, and a forged hello makes no write wait
    // for an acknowledgement that never comes.
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let forged = json!({"p": "intruder", "n": 1, "at": at, "s": 1, "m": "Product", "tb": "product", "k": "create",
        "t": 999, "d": {"id": 999, "name": "Forged by an intruder"}});
    inject(database_url, redis, &forged.to_string()).await;
    inject(database_url, redis, &format!("00112233445566778899aabbccddeeff.{forged}")).await;
    let hello = json!({"p": "intruder", "n": 2, "at": at, "hello": true});
    inject(database_url, redis, &hello.to_string()).await;
    let (id, _) = login_alice(a.port).await;
    let started = Instant::now();
    assert_eq!(http(a.port, "POST", "/api/Users/logout", Some(&id), None).await.0, 204);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "a logout waited {took:?}: a forged hello made the intruder a peer");

    // A large updateAll (13 kB of where) reaches the other process's change stream, without
    // its where clause where the broker cannot carry it (PostgreSQL's 8,000 bytes).
    let (mut on_b, mut seen_on_b) = change_stream(b.port).await;
    let large = json!({"name": "x".repeat(13_000)}).to_string();
    let update = format!(
        "/api/Products/update?where={}",
        percent_encoding::utf8_percent_encode(&large, percent_encoding::NON_ALPHANUMERIC)
    );
    let (status, body) = http(a.port, "POST", &update, None, Some(json!({"inStock": false}))).await;
    assert_eq!(status, 200, "{body}");
    read_until(&mut on_b, &mut seen_on_b, Duration::from_secs(2), |s| {
        s.contains(r#""data":{"inStock":false},"type":"create""#)
    })
    .await;

    // Revocation under a flood of such updates (each too large for a NOTIFY as it is: before,
    // the batch it went out with failed whole, and a logout in it was lost): B serves alice's
    // token from its cache, A logs her out, and B's very next request with the token is refused.
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flood: Vec<_> = (0..6)
        .map(|_| {
            let (flooding, update, port) = (flooding.clone(), update.clone(), a.port);
            tokio::spawn(async move {
                let mut sent = 0u32;
                while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, _) = http(port, "POST", &update, None, Some(json!({"inStock": false}))).await;
                    assert_eq!(status, 200);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    for round in 0..5 {
        let (id, user) = login_alice(a.port).await;
        let me = format!("/api/Users/{user}");
        for _ in 0..2 {
            assert_eq!(http(b.port, "GET", &me, Some(&id), None).await.0, 200, "round {round}: B knows the token");
        }
        assert_eq!(http(a.port, "POST", "/api/Users/logout", Some(&id), None).await.0, 204, "round {round}");
        let (status, body) = http(b.port, "GET", &me, Some(&id), None).await;
        assert_eq!(status, 401, "round {round}: B still took the token after the logout on A: {body}");
    }
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut sent = 0;
    for f in flood {
        sent += f.await.expect("a flooding task");
    }
    assert!(sent > 10, "the flood ran ({sent} updates)");
    drain(&mut stream, &mut seen, Duration::from_millis(300)).await;
    assert!(
        !seen.contains("Forged by an intruder") && !seen_on_b.contains("Forged"),
        "a forged change reached a stream"
    );

    // A stops gracefully and says goodbye: a logout on B (a write that waits until every
    // listening process B knows has dropped the token; A answered B's hello, so B knows it) no
    // longer waits for A's acknowledgement, which would never come (it would wait the whole
    // CONFIRM_TIMEOUT).
    a.terminate();
    let (id, _) = login_alice(b.port).await;
    let started = Instant::now();
    assert_eq!(http(b.port, "POST", "/api/Users/logout", Some(&id), None).await.0, 204);
    let took = started.elapsed();
    assert!(
        took < persisted_model::changes::CONFIRM_TIMEOUT,
        "the logout on B waited {took:?} for the process that had left"
    );
}

#[actix_web::test]
async fn two_processes_on_postgres_share_changes_and_revocations() {
    let Ok(url) = std::env::var("TEST_POSTGRES_URL") else {
        eprintln!("note: the two-process PostgreSQL test is skipped (TEST_POSTGRES_URL not set)");
        return;
    };
    let db = Database::create(&url, false, "feed").await;
    two_processes(&db.url, None).await;
    db.drop().await;
}

#[actix_web::test]
async fn two_processes_on_mariadb_share_changes_through_redis() {
    let (Ok(url), Ok(redis)) = (std::env::var("TEST_MYSQL_URL"), std::env::var("REDIS_URL")) else {
        eprintln!("note: the two-process MariaDB test is skipped (TEST_MYSQL_URL and REDIS_URL not both set)");
        return;
    };
    let db = Database::create(&url, true, "feed").await;
    two_processes(&db.url, Some(&redis)).await;
    db.drop().await;
}

/// A broker that refuses every change that needs acknowledging (as PostgreSQL refused a batch
/// with a payload too long, or a broker that is down for the writer alone).
struct RefusesRevocations<B>(std::sync::Arc<B>);

impl<B: persisted_model::ChangeBroker> persisted_model::ChangeBroker for RefusesRevocations<B> {
    fn publish<'a>(
        &'a self,
        message: &'a str,
    ) -> persisted_model::changes::SendFuture<'a, Result<(), persisted_model::changes::BrokerError>> {
        if message.contains(r#""c":true"#) {
            return Box::pin(async { Err(persisted_model::changes::BrokerError("refused".into())) });
        }
        self.0.publish(message)
    }

    fn listen(
        self: std::sync::Arc<Self>,
        inbox: persisted_model::changes::Inbox,
    ) -> persisted_model::changes::SendFuture<'static, ()> {
        std::sync::Arc::clone(&self.0).listen(inbox)
    }

    fn max_message(&self) -> usize {
        self.0.max_message()
    }
}

/// Two API instances of one application on `database_url` (in this process), whose broker
/// refuses A's revocations: a logout on A is still answered only once B no longer serves the
/// token from its cache (the revocation epoch), instead of B serving it for up to a minute.
async fn a_revocation_the_broker_refuses<B: persisted_model::ChangeBroker>(
    database_url: &str,
    broker: impl Fn(&sea_orm::DatabaseConnection) -> B,
) {
    use actix_web::{App, test};
    use persisted_model::RestApi;
    use persisted_model_access_token::{AccessTokens, create_user};
    let app = async |broker: &dyn Fn(&sea_orm::DatabaseConnection) -> B| {
        let db = persisted_model::connect(database_url).await.expect("connect");
        let broker = broker(&db);
        AccessTokens::new().register(RestApi::builder(db).change_broker(broker)).build().await.expect("build")
    };
    let (a, b) = (app(&broker).await, app(&broker).await);
    create_user(&a, "alice@example.com", "alicepass").await.expect("seed");
    let a_svc = test::init_service(App::new().service(a.scope("/api"))).await;
    let b_svc = test::init_service(App::new().service(b.scope("/api"))).await;
    for api in [&a, &b] {
        let started = Instant::now();
        while !api.changes().is_complete() {
            assert!(started.elapsed() < Duration::from_secs(10), "the feed never became complete");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let login = test::TestRequest::post()
        .uri("/api/Users/login")
        .set_json(json!({"email": "alice@example.com", "password": "alicepass"}))
        .to_request();
    let token: Value = test::call_and_read_body_json(&a_svc, login).await;
    let (id, user) = (token["id"].as_str().unwrap().to_owned(), token["userId"].clone());
    let me = || {
        test::TestRequest::get()
            .uri(&format!("/api/Users/{user}"))
            .insert_header(("Authorization", id.clone()))
            .to_request()
    };
    for _ in 0..2 {
        assert_eq!(
            test::call_service(&b_svc, me()).await.status(),
            200,
            "B knows the token (from its cache the second time)"
        );
    }
    let started = Instant::now();
    let logout =
        test::TestRequest::post().uri("/api/Users/logout").insert_header(("Authorization", id.clone())).to_request();
    assert_eq!(test::call_service(&a_svc, logout).await.status(), 204);
    let took = started.elapsed();
    let status = test::call_service(&b_svc, me()).await.status();
    assert_eq!(status, 401, "B served the token after a logout on A whose change the broker refused");
    assert!(took <= persisted_model::changes::LEASE + Duration::from_millis(500), "the logout waited {took:?}");
}

#[actix_web::test]
async fn a_revocation_the_broker_refuses_still_ends_the_token_everywhere_on_postgres() {
    let Ok(url) = std::env::var("TEST_POSTGRES_URL") else {
        eprintln!("note: the refused-revocation PostgreSQL test is skipped (TEST_POSTGRES_URL not set)");
        return;
    };
    let db = Database::create(&url, false, "refused").await;
    let channel = format!("pm_refused_{}", std::process::id());
    a_revocation_the_broker_refuses(&db.url, |conn| {
        let pg = persisted_model::PostgresBroker::new(conn).expect("PostgreSQL").channel(&channel);
        RefusesRevocations(std::sync::Arc::new(pg))
    })
    .await;
    db.drop().await;
}

#[actix_web::test]
async fn a_revocation_the_broker_refuses_still_ends_the_token_everywhere_on_mariadb() {
    let (Ok(url), Ok(redis)) = (std::env::var("TEST_MYSQL_URL"), std::env::var("REDIS_URL")) else {
        eprintln!("note: the refused-revocation MariaDB test is skipped (TEST_MYSQL_URL and REDIS_URL not both set)");
        return;
    };
    let db = Database::create(&url, true, "refused").await;
    let channel = format!("pm_refused_{}", std::process::id());
    a_revocation_the_broker_refuses(&db.url, |_| {
        let broker = persisted_model::RedisBroker::new(&redis).expect("Redis").channel(&channel);
        RefusesRevocations(std::sync::Arc::new(broker))
    })
    .await;
    db.drop().await;
}

/// The server's resident memory, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A request whose body never finishes (one byte of a hundred), from `127.0.0.1`: what the
/// server answers, and when it closed the connection.
async fn half_sent(port: u16) -> (String, Duration) {
    let started = Instant::now();
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
        return ("no connection".into(), started.elapsed());
    };
    let head = "POST /api/Products HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    if s.write_all(head.as_bytes()).await.is_err() {
        return ("write refused".into(), started.elapsed());
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut answer)).await;
    let status = String::from_utf8_lossy(&answer).split(' ').nth(1).unwrap_or("none").to_owned();
    match read {
        Ok(_) => (status, started.elapsed()),
        Err(_) => (format!("{status}, still open"), started.elapsed()),
    }
}

#[actix_web::test]
async fn slow_clients_hold_nothing_for_long() {
    // One address may have 50 requests in progress; a body has a second to arrive.
    let limits = [("BODY_TIMEOUT_MS", "1000"), ("REQUESTS_PER_ADDRESS", "50")];
    let server = Server::start_with("sqlite::memory:", false, None, &limits);
    let pid = server.child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while try_http(server.port, "GET", "/healthz", None, None).await.is_err() {
        assert!(Instant::now() < deadline, "the server never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..20 {
        http(server.port, "GET", "/api/Products", None, None).await;
    }
    let before = resident_kib(pid);

    // 3,000 clients each send a request's head and one byte of its body, then nothing.
    let flood: Vec<_> = (0..3_000).map(|_| tokio::spawn(half_sent(server.port))).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile a client from another address is served at once.
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let started = Instant::now();
    let mut s = other.connect(format!("127.0.0.1:{}", server.port).parse().unwrap()).await.expect("connect");
    s.write_all(b"GET /api/Products/count HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    assert!(started.elapsed() < Duration::from_secs(1), "another client waited {:?}", started.elapsed());
    let during = resident_kib(pid);

    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    let mut longest = Duration::ZERO;
    for f in flood {
        let (status, took) = f.await.expect("a client");
        *answers.entry(status).or_default() += 1;
        longest = longest.max(took);
    }
    // Over its share: 429 at once; within it: 408 once the body is late. Every connection
    // was closed by the server.
    assert_eq!(answers.keys().cloned().collect::<Vec<_>>(), ["408", "429"], "{answers:?}");
    assert!(answers["408"] <= 50, "{answers:?}");
    assert!(longest < Duration::from_secs(5), "a half-sent request was held {longest:?}");

    // The memory the connections used goes back, while the server goes on serving (the
    // allocator gives pages back as its threads run; a busy test machine may take a while).
    let mut after = resident_kib(pid);
    let settle = Instant::now();
    while after > before + 16 * 1024 && settle.elapsed() < Duration::from_secs(15) {
        let _ = try_http(server.port, "GET", "/api/Products/count", None, None).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = resident_kib(pid);
    }
    eprintln!("resident memory: {before} KiB before, {during} KiB during the flood, {after} KiB after");
    assert!(after <= before + 16 * 1024, "the server kept {} KiB after the flood", after.saturating_sub(before));
}
