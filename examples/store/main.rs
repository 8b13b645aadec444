//! The store example: `Category` hasMany `Product`, served under `/api` on port 3000.
//!
//! ```sh
//! cargo run --release --example store
//! ```
//!
//! `PORT` and `HOST` choose the address (default `127.0.0.1:3000`), `DATABASE_URL` the
//! database (default: the SQLite file `data.db`; `sqlite::memory:` works). The built-in
//! `User` and `AccessToken` models are served too (`/api/Users`, `/api/accessTokens`), and
//! `DEMO_SEED=1` creates `admin@example.com` / `adminpass` (role `admin`, which may do anything
//! with access tokens) and `alice@example.com` / `alicepass`.
//!
//! The server runs with the framework's default limits (pages of at most 1,000 rows, at most
//! 10,000 included instances and 100 items per array body, 100 kB bodies) and answers
//! `GET /healthz` and `GET /readyz` for load balancers.

mod category;
mod product;
mod shutdown;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use persisted_model::ServerLimits;
use persisted_model::acl::AclEntry;
use persisted_model::prelude::*;
use persisted_model_access_token::user::{PasswordPolicy, UserHooks};
use persisted_model_access_token::{AccessTokens, add_user_to_role, create_user};

// An allocator that gives freed memory back to the system: after a flood of connections the
// process shrinks again (with glibc's, the 35 MB that 3,000 half-sent requests had taken
// stayed: tests/processes.rs, slow_clients_hold_nothing_for_long).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One log line per request: method, path, status and time taken.
async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let res = next.call(req).await?;
    tracing::info!(
        target: "store::http",
        %method,
        %path,
        status = res.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(res)
}

/// The demo users of the conformance suite: admin (id 1, role admin) and alice (id 2).
async fn seed(api: &RestApi) -> Result<(), persisted_model::Error> {
    // A persistent database keeps its seed from an earlier start.
    let state = api.state();
    if let Some(users) = state.store("User", "seed", None)
        && users.count(None).await? > 0
    {
        tracing::info!("users exist already: demo seed skipped");
        return Ok(());
    }
    let admin = create_user(api, "admin@example.com", "adminpass").await?;
    create_user(api, "alice@example.com", "alicepass").await?;
    add_user_to_role(api, &admin, "admin").await?;
    tracing::info!("seeded admin@example.com (admin) and alice@example.com");
    Ok(())
}

// actix's runtime, as actix-web's own examples: the database connections the start-up opens
// live on it, and the workers are actix's. (With #[tokio::main], a second, multi-threaded
// runtime held the connections the workers then used, one more thread on every wakeup.)
#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();

    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let db = persisted_model::connect_from_env().await.map_err(std::io::Error::other)?;
    let builder = RestApi::builder(db).model::<category::Model>().model::<product::Model>();
    // As the LoopBack 3 reference app the conformance suite was recorded from (this app is its
    // conformance target): emails told apart by case and any non-empty password, LoopBack 3's
    // defaults. A new application keeps the framework's (see docs/security.md).
    let mut user_rules = UserHooks::default();
    user_rules.case_sensitive_email = true;
    user_rules.password_policy = PasswordPolicy::loopback3();
    let api = AccessTokens::new()
        .user_rules(user_rules)
        .token_path("accessTokens")
        .register(builder)
        // As the LoopBack 3 reference app's model-config: admins may do anything with tokens.
        .acl(AclEntry::role("AccessToken", "*", None, "admin").allow())
        .build()
        .await
        .map_err(std::io::Error::other)?;
    if std::env::var("DEMO_SEED").is_ok_and(|v| v == "1") {
        seed(&api).await.map_err(std::io::Error::other)?;
    }

    tracing::info!("store listening on http://{host}:{port}/api (explorer: http://{host}:{port}/explorer/)");
    let changes = api.changes().clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(log_request))
            // The API first: actix tries services in order, and most requests are for it.
            .service(api.scope("/api"))
            .service(api.health())
            .service(api.explorer("/api"))
            .default_service(web::to(url_not_found))
    });
    // Connections per worker, and how long a client may take to send a request's head.
    let server = ServerLimits::default().apply(server).bind((host.as_str(), port))?.disable_signals().run();
    // Ctrl-C or SIGTERM: a graceful stop that the other processes hear of.
    shutdown::serve_until_stopped(server, changes).await
}
