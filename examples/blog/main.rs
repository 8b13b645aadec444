//! The blog example: posts, comments and tags over the built-in users, with an owner-only
//! edit rule, a typed `publish` method, hooks with state, and its own `/health` route in the
//! same Swagger UI. `docs/extending.md` walks through it.
//!
//! ```sh
//! cargo run --example blog
//! ```
//!
//! `PORT` (default 3001), `HOST` and `DATABASE_URL` (default: the SQLite file `blog.db`)
//! configure it; `DEMO_SEED=1` creates `ann@example.com` / `annpass1` and
//! `bob@example.com` / `bobpass1`.

mod app;

use actix_web::{App, HttpServer};
use persisted_model::prelude::*;
use persisted_model_access_token::create_user;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3001);
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://blog.db?mode=rwc".to_owned());
    let db = persisted_model::connect(&url).await.map_err(std::io::Error::other)?;
    let settings = app::Settings { spam_words: vec!["cheap pills".into(), "casino".into()], ..Default::default() };
    let api = app::build(db, settings).await.map_err(std::io::Error::other)?;
    if std::env::var("DEMO_SEED").is_ok_and(|v| v == "1") {
        for (email, password) in [("ann@example.com", "annpass1"), ("bob@example.com", "bobpass1")] {
            if let Err(e) = create_user(&api, email, password).await {
                tracing::info!("{email}: {e}");
            }
        }
    }
    tracing::info!("blog on http://{host}:{port}/api (explorer: http://{host}:{port}/explorer/)");
    HttpServer::new(move || {
        App::new().configure(app::configure(&api)).default_service(actix_web::web::to(url_not_found))
    })
    .bind((host.as_str(), port))?
    .run()
    .await
}
