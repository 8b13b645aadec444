//! Serves a LoopBack 3 application's REST API from its folder and its database:
//!
//! ```text
//! DATABASE_URL=postgres://user@host/db lb3-serve path/to/app [--token-path accessTokens]
//! ```
//!
//! `PORT` (default 3000) and `HOST` (default 127.0.0.1) set the address; Swagger UI is at
//! `/explorer`. What the application does that is not carried over is printed at start-up.

use actix_web::{App, HttpServer, web};

// An allocator that gives freed memory back to the system after a flood of connections.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use persisted_model::RestApi;
use persisted_model_loopback3::LoopBackApp;

const USAGE: &str = "usage: lb3-serve APP_DIR [--token-path PATH]   (DATABASE_URL, PORT, HOST from the environment)";

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let (mut dir, mut token_path) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--token-path" => token_path = args.next(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ if dir.is_none() => dir = Some(arg),
            _ => return Err(std::io::Error::other(USAGE)),
        }
    }
    let dir = dir.ok_or_else(|| std::io::Error::other(USAGE))?;
    if std::env::var("DATABASE_URL").is_err() {
        return Err(std::io::Error::other("DATABASE_URL must name the LoopBack application's database"));
    }
    let mut app = LoopBackApp::load(&dir).map_err(std::io::Error::other)?;
    for warning in app.warnings() {
        tracing::warn!("not carried over: {warning}");
    }
    if let Some(path) = token_path {
        app = app.access_tokens(|t| t.token_path(&path));
    }
    let root = app.rest_root().to_owned();
    let db = persisted_model::connect_from_env().await.map_err(std::io::Error::other)?;
    let api = app
        .register(RestApi::builder(db))
        .map_err(std::io::Error::other)?
        .build()
        .await
        .map_err(std::io::Error::other)?;
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    tracing::info!("serving {dir} on http://{host}:{port}{root} (explorer: http://{host}:{port}/explorer/)");
    let server = HttpServer::new(move || {
        App::new()
            .service(api.health())
            .service(api.explorer(&root))
            .service(api.scope(&root))
            .default_service(web::to(persisted_model::url_not_found))
    });
    persisted_model::ServerLimits::default().apply(server).bind((host.as_str(), port))?.run().await
}
