//! The store example's models, users and tokens as a server process, for the tests that run
//! several processes on one database (`tests/processes.rs`): `DATABASE_URL`, `PORT` (0 picks
//! one; the chosen port is printed as `PORT=<n>`), `SEED=1` to seed admin and alice,
//! `REDIS_URL` for the Redis broker on MySQL, `CHANGE_CHANNEL` for its channel,
//! `BODY_TIMEOUT_MS` and `REQUESTS_PER_ADDRESS` for the client limits.

#[path = "../../examples/store/category.rs"]
mod category;
#[path = "../../examples/store/product.rs"]
mod product;
#[path = "../../examples/store/shutdown.rs"]
mod shutdown;

use std::io::Write;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use persisted_model::ServerLimits;
use persisted_model::acl::AclEntry;
use persisted_model::prelude::*;
use persisted_model_access_token::{AccessTokens, add_user_to_role, create_user};

// An allocator that gives freed memory back to the system: after a flood of connections the
// process shrinks again (with glibc's, the 35 MB that 3,000 half-sent requests had taken
// stayed: tests/processes.rs, slow_clients_hold_nothing_for_long).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let db = persisted_model::connect_from_env().await.map_err(std::io::Error::other)?;
    let mut builder = RestApi::builder(db).model::<category::Model>().model::<product::Model>();
    // A Redis channel of their own: every process on a channel counts as a peer, and the
    // test binary's other apps (on the default channel) come and go without a goodbye.
    if let (Some(redis), Ok(channel)) =
        (persisted_model::changes::RedisBroker::from_env(), std::env::var("CHANGE_CHANNEL"))
    {
        builder = builder.change_broker(redis.map_err(std::io::Error::other)?.channel(&channel));
    }
    if let Some(ms) = env_number("BODY_TIMEOUT_MS") {
        builder = builder.body_timeout(Duration::from_millis(ms));
    }
    if let Some(n) = env_number("REQUESTS_PER_ADDRESS") {
        builder = builder.requests_per_address(u32::try_from(n).unwrap_or(u32::MAX));
    }
    let api = AccessTokens::new()
        .token_path("accessTokens")
        .register(builder)
        .acl(AclEntry::role("AccessToken", "*", None, "admin").allow())
        .build()
        .await
        .map_err(std::io::Error::other)?;
    if std::env::var("SEED").is_ok_and(|v| v == "1") {
        let admin = create_user(&api, "admin@example.com", "adminpass").await.map_err(std::io::Error::other)?;
        create_user(&api, "alice@example.com", "alicepass").await.map_err(std::io::Error::other)?;
        add_user_to_role(&api, &admin, "admin").await.map_err(std::io::Error::other)?;
    }
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(0);
    let changes = api.changes().clone();
    let server = HttpServer::new(move || {
        App::new().service(api.health()).service(api.scope("/api")).default_service(web::to(url_not_found))
    });
    let server = ServerLimits::default().apply(server).workers(2).disable_signals().bind(("127.0.0.1", port))?;
    let bound = server.addrs().first().map_or(port, |a| a.port());
    println!("PORT={bound}");
    std::io::stdout().flush()?;
    // SIGTERM as in the store example: the feed closes (goodbye to the other process), the
    // requests in flight finish, and the last changes are published.
    shutdown::serve_until_stopped(server.run(), changes).await
}
