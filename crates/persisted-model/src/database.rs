//! Connecting to the database a URL names, with the settings the framework relies on.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data.db?mode=rwc";

/// How long a request waits for a database connection before it is answered 503
/// `SERVICE_UNAVAILABLE`: while the database is unreachable, clients learn it in about this
/// time instead of waiting for sqlx's default of 30 s.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections to a SQLite file (sqlx's default pool size).
pub const SQLITE_POOL_SIZE: u32 = 10;

/// The connection options [`connect`] uses for `url`: adjust them (pool size, timeouts) and
/// pass them to `sea_orm::Database::connect`.
///
/// SQLite connections get a `REGEXP` function (the filter language's `regexp` and `ilike`).
/// An in-memory SQLite database keeps a single connection so that every query sees the same
/// data. A SQLite file is switched to write-ahead logging (WAL, which the file keeps) and gets
/// a pool of [`SQLITE_POOL_SIZE`] (sea-orm's default is one), so that reads run side by side
/// and a request does not wait for another's rows. The REST API queues its writes to SQLite
/// itself, one writer at a time as SQLite allows.
///
/// Acquiring and opening a connection each give up after [`DEFAULT_ACQUIRE_TIMEOUT`];
/// `DATABASE_ACQUIRE_TIMEOUT_MS` overrides it.
pub fn connect_options(url: &str) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false);
    let timeout = std::env::var("DATABASE_ACQUIRE_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(DEFAULT_ACQUIRE_TIMEOUT, Duration::from_millis);
    opts.acquire_timeout(timeout).connect_timeout(timeout);
    if url.starts_with("sqlite:") {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if in_memory {
            opts.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        } else {
            opts.max_connections(SQLITE_POOL_SIZE);
        }
        // One function: sea-orm keeps the last one given.
        opts.map_sqlx_sqlite_opts(move |o| {
            let o = o.with_regexp();
            // WAL: readers and the writer do not block each other. With the rollback journal a
            // reader on one connection holds off a commit on another, and both wait in SQLite's
            // busy handler (seconds at the tail under load).
            if in_memory { o } else { o.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal) }
        });
    }
    opts
}

/// Connects to `url` (SQLite, PostgreSQL or MySQL/MariaDB) with [`connect_options`].
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    Database::connect(connect_options(url)).await
}

/// Connects to `DATABASE_URL`, or to [`DEFAULT_DATABASE_URL`] when it is unset.
pub async fn connect_from_env() -> Result<DatabaseConnection, DbErr> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    connect(&url).await
}
