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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_change-feed-server"));
        cmd.env("DATABASE_URL", database_url).env("PORT", "0").env("SEED", if seed { "1" } else { "0" });
        cmd.env_remove("REDIS_URL");
        if let Some(url) = redis {
            // This test's processes only: the other tests' apps share the default channel.
            cmd.env("REDIS_URL", url).env("CHANGE_CHANNEL", format!("pm_processes_{}", std::process::id()));
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
    async fn create(url: &str, mysql: bool) -> Database {
        let admin = persisted_model::connect(url).await.expect("connect");
        let name = format!("pm_feed_{}", std::process::id());
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

async fn two_processes(database_url: &str, redis: Option<&str>) {
    let mut a = Server::start(database_url, true, redis);
    a.ready().await;
    let b = Server::start(database_url, false, redis);
    b.ready().await;

    // A change stream on A hears a create made on B within a second.
    let mut stream = TcpStream::connect(("127.0.0.1", a.port)).await.unwrap();
    stream
        .write_all(b"GET /api/Products/change-stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    // The stream is open once its first comment has come.
    while !seen.contains(": change stream") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let (status, created) = http(b.port, "POST", "/api/Products", None, Some(json!({"name": "Made on B"}))).await;
    assert_eq!(status, 200, "{created}");
    let sent = Instant::now();
    let want = format!(r#""target":{},"data":{{"#, created["id"]);
    while !(seen.contains(&want) && seen.contains("Made on B")) {
        let left = Duration::from_secs(1).saturating_sub(sent.elapsed());
        let n = tokio::time::timeout(left, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no event within a second; the stream said: {seen}"))
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }

    // Revocation: B serves alice's token from its cache, A logs her out, and B's very next
    // request with the token is refused.
    for round in 0..5 {
        let login = json!({"email": "alice@example.com", "password": "alicepass"});
        let (status, token) = http(a.port, "POST", "/api/Users/login", None, Some(login)).await;
        assert_eq!(status, 200, "{token}");
        let (id, user) = (token["id"].as_str().unwrap().to_owned(), token["userId"].clone());
        let me = format!("/api/Users/{user}");
        for _ in 0..2 {
            assert_eq!(http(b.port, "GET", &me, Some(&id), None).await.0, 200, "round {round}: B knows the token");
        }
        assert_eq!(http(a.port, "POST", "/api/Users/logout", Some(&id), None).await.0, 204, "round {round}");
        let (status, body) = http(b.port, "GET", &me, Some(&id), None).await;
        assert_eq!(status, 401, "round {round}: B still took the token after the logout on A: {body}");
    }

    // A stops gracefully and says goodbye: a logout on B (a write that waits until every
    // listening process B knows has dropped the token; A answered B's hello, so B knows it) no
    // longer waits for A's acknowledgement, which would never come (it would wait the whole
    // CONFIRM_TIMEOUT, until A aged out).
    a.terminate();
    let login = json!({"email": "alice@example.com", "password": "alicepass"});
    let (status, token) = http(b.port, "POST", "/api/Users/login", None, Some(login)).await;
    assert_eq!(status, 200, "{token}");
    let id = token["id"].as_str().unwrap().to_owned();
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
    let db = Database::create(&url, false).await;
    two_processes(&db.url, None).await;
    db.drop().await;
}

#[actix_web::test]
async fn two_processes_on_mariadb_share_changes_through_redis() {
    let (Ok(url), Ok(redis)) = (std::env::var("TEST_MYSQL_URL"), std::env::var("REDIS_URL")) else {
        eprintln!("note: the two-process MariaDB test is skipped (TEST_MYSQL_URL and REDIS_URL not both set)");
        return;
    };
    let db = Database::create(&url, true).await;
    two_processes(&db.url, Some(&redis)).await;
    db.drop().await;
}
