//! Database faults: a TCP proxy between the server and its database cuts every connection and
//! refuses new ones while writes go on. During the cut requests answer 503
//! `SERVICE_UNAVAILABLE` with `Retry-After` within about the acquire timeout, `/readyz` says
//! the database is down, the server recovers by itself, and every acknowledged write is there
//! afterwards. PostgreSQL and MariaDB only (SQLite has no connection to cut).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::support::{Backend, Settings, TestApp, backends, q};

/// A TCP proxy that can drop every connection at once and refuse new ones until restored.
/// It runs on a thread and runtime of its own, so the server under test cannot starve it.
struct FaultyProxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultyProxy {
    fn start(upstream: SocketAddr) -> Self {
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (cut2, links2) = (cut.clone(), links.clone());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
                addr_tx.send(listener.local_addr().expect("proxy address")).expect("report the address");
                loop {
                    let accepted = tokio::select! {
                        accepted = listener.accept() => accepted,
                        _ = &mut stopped => break,
                    };
                    let Ok((mut inbound, _)) = accepted else { continue };
                    if cut2.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links2.lock().unwrap().push(task.abort_handle());
                }
            });
        });
        let addr = addr_rx.recv().expect("the proxy started");
        Self { addr, cut, links, stop: Some(stop), thread: Some(thread) }
    }

    /// Drops every open connection and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.cut();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where `scheme://user@host:port/db` puts `host:port`.
fn host_span(url: &str) -> (usize, usize) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let start = after_scheme + url[after_scheme..].find('@').map_or(0, |i| i + 1);
    let end = start + url[start..].find('/').unwrap_or(url.len() - start);
    (start, end)
}

/// The database's address in a URL.
fn upstream_of(url: &str) -> SocketAddr {
    let (start, end) = host_span(url);
    std::net::ToSocketAddrs::to_socket_addrs(&url[start..end]).expect("database address").next().expect("an address")
}

/// The URL with `addr` in place of the database's address.
fn via(url: &str, addr: SocketAddr) -> String {
    let (start, end) = host_span(url);
    format!("{}{addr}{}", &url[..start], &url[end..])
}

#[derive(Debug)]
struct Outcome {
    name: String,
    status: StatusCode,
    code: Option<String>,
    retry_after: bool,
    took: Duration,
    at: Duration,
}

#[actix_web::test]
async fn a_lost_database_is_a_503_and_no_acknowledged_write_is_lost() {
    let servers: Vec<Backend> = backends().into_iter().filter(|b| b.name != "sqlite").collect();
    if servers.is_empty() {
        eprintln!("note: the database fault test needs TEST_POSTGRES_URL or TEST_MYSQL_URL; skipped");
    }
    for backend in servers {
        let proxy = FaultyProxy::start(upstream_of(&backend.url));
        let proxied = Backend { name: backend.name, url: via(&backend.url, proxy.addr) };
        let t = TestApp::build_with(&proxied, &Settings { pool: Some(4), ..Settings::default() }).await;
        check_outage(&t, &proxy).await;
        t.drop_tables().await;
    }
}

async fn check_outage(t: &TestApp, proxy: &FaultyProxy) {
    let started = Instant::now();
    let (cut_at, restore_at, end_at) =
        (Duration::from_millis(1500), Duration::from_millis(5500), Duration::from_secs(9));
    let writer = |w: usize| async move {
        let mut out = Vec::new();
        let mut i = 0;
        while started.elapsed() < end_at {
            let name = format!("w{w}-{i}");
            let sent = Instant::now();
            let res = t.post("/api/Products", json!({"name": name})).await;
            out.push(Outcome {
                name,
                status: res.status,
                code: res.code().map(str::to_owned),
                retry_after: res.retry_after.is_some(),
                took: sent.elapsed(),
                at: sent - started,
            });
            i += 1;
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        out
    };
    let control = async {
        actix_web::rt::time::sleep(cut_at).await;
        proxy.cut();
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        let ready = t.get("/readyz").await;
        actix_web::rt::time::sleep(restore_at - cut_at - Duration::from_millis(1500)).await;
        proxy.restore();
        ready
    };
    let (results, ready_during) =
        futures_util::future::join(futures_util::future::join_all((0..4).map(writer)), control).await;
    let results: Vec<Outcome> = results.into_iter().flatten().collect();
    let b = t.backend;

    assert_eq!(ready_during.status, StatusCode::SERVICE_UNAVAILABLE, "[{b}] /readyz during the cut");
    for r in &results {
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::SERVICE_UNAVAILABLE,
            "[{b}] only 200 or 503: {r:?}"
        );
        assert!(r.took < Duration::from_millis(3500), "[{b}] answered within about the acquire timeout: {r:?}");
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(r.code.as_deref(), Some("SERVICE_UNAVAILABLE"), "[{b}] {r:?}");
            assert!(r.retry_after, "[{b}] Retry-After: {r:?}");
        }
    }
    let unavailable = results.iter().filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE).count();
    assert!(unavailable > 0, "[{b}] the cut was noticed");
    let recovered =
        results.iter().filter(|r| r.at > restore_at + Duration::from_secs(2)).all(|r| r.status == StatusCode::OK);
    assert!(recovered, "[{b}] every write after the restore succeeds");
    assert_eq!(t.get("/readyz").await.status, StatusCode::OK, "[{b}] /readyz after the restore");

    let acknowledged: Vec<Value> =
        results.iter().filter(|r| r.status == StatusCode::OK).map(|r| Value::from(r.name.clone())).collect();
    assert!(!acknowledged.is_empty());
    for chunk in acknowledged.chunks(500) {
        let stored = t.get(&format!("/api/Products/count?where={}", q(json!({"name": {"inq": chunk}})))).await;
        assert_eq!(stored.body["count"], json!(chunk.len()), "[{b}] every acknowledged write is stored");
    }
    eprintln!(
        "[{b}] {} writes: {} acknowledged, {unavailable} answered 503 during the cut",
        results.len(),
        acknowledged.len()
    );
}

/// Waits until the change feed reports `status`, for at most `limit`.
async fn feed_becomes(t: &TestApp, status: &str, limit: Duration) {
    let started = Instant::now();
    while t.api.changes().status() != status {
        assert!(started.elapsed() < limit, "[{}] the change feed stayed {}", t.backend, t.api.changes().status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the change feed is complete (connected, its own hello back, the revocation
/// epoch read), for at most `limit`.
async fn feed_completes(t: &TestApp, limit: Duration) {
    let started = Instant::now();
    while !t.api.changes().is_complete() {
        assert!(started.elapsed() < limit, "[{}] the change feed never became complete", t.backend);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn the_change_broker_reconnects_and_caches_wait_for_it() {
    let Ok(url) = std::env::var("TEST_POSTGRES_URL") else {
        eprintln!("note: the change broker fault test needs TEST_POSTGRES_URL; skipped");
        return;
    };
    let proxy = FaultyProxy::start(upstream_of(&url));
    let proxied = Backend { name: "postgres", url: via(&url, proxy.addr) };
    let t = TestApp::build_with(&proxied, &Settings::default()).await;
    feed_becomes(&t, "connected", Duration::from_secs(10)).await;
    feed_completes(&t, Duration::from_secs(5)).await;
    proxy.cut();
    // The listening connection notices at once (the proxy closes it), and from then on the
    // feed is incomplete: token caches are emptied and bypassed.
    feed_becomes(&t, "disconnected", Duration::from_secs(20)).await;
    assert!(!t.api.changes().is_complete());
    proxy.restore();
    feed_becomes(&t, "connected", Duration::from_secs(20)).await;
    feed_completes(&t, Duration::from_secs(5)).await;
    t.drop_tables().await;
}
