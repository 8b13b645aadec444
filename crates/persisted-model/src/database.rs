//! Connecting to the database a URL names, with the settings the framework relies on.

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data.db?mode=rwc";

/// Connects to `url` (SQLite, PostgreSQL or MySQL/MariaDB).
///
/// SQLite connections get a `REGEXP` function (the filter language's `regexp`), and an
/// in-memory SQLite database keeps a single connection so that every query sees the same data.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        if url.contains(":memory:") || url.contains("mode=memory") {
            opts.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        }
        opts.map_sqlx_sqlite_opts(|o| o.with_regexp());
    }
    Database::connect(opts).await
}

/// Connects to `DATABASE_URL`, or to [`DEFAULT_DATABASE_URL`] when it is unset.
pub async fn connect_from_env() -> Result<DatabaseConnection, DbErr> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    connect(&url).await
}
