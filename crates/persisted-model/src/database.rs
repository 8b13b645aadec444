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

/// The longest one statement may run before the database stops it (a client's costly filter
/// must not hold a connection, and with it every other client, for long): 10 s, or
/// `DATABASE_STATEMENT_TIMEOUT_MS` (`0`: no limit). A stopped statement is answered 503
/// `QUERY_TIMEOUT`.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many SQLite virtual machine steps pass between two looks at the clock.
const SQLITE_STEPS_PER_CHECK: i32 = 10_000;

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
/// `DATABASE_ACQUIRE_TIMEOUT_MS` overrides it. Statements are stopped after
/// [`DEFAULT_STATEMENT_TIMEOUT`] (see [`limit_statements`]).
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
    let limit = std::env::var("DATABASE_STATEMENT_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .map_or(Some(DEFAULT_STATEMENT_TIMEOUT), |ms| (ms > 0).then(|| Duration::from_millis(ms)));
    limit_statements(&mut opts, limit);
    opts
}

/// Sets the longest a statement may run on connections made with `opts` (`None`: no limit),
/// on every back end the way it offers:
///
/// - PostgreSQL: the connection's `statement_timeout`;
/// - MariaDB: the session's `max_statement_time`; MySQL: `max_execution_time` (it stops
///   `SELECT`s only);
/// - SQLite: a progress handler that interrupts whatever runs on a connection longer than the
///   limit after it was taken from the pool (one statement, or one write transaction). SQLite
///   connections are then not pinged when taken (a file needs no liveness check).
///
/// A stopped statement is answered 503 `QUERY_TIMEOUT`.
///
/// ```no_run
/// # #[actix_web::main]
/// # async fn main() -> Result<(), sea_orm::DbErr> {
/// let mut opts = persisted_model::connect_options("postgres://postgres@127.0.0.1/shop");
/// persisted_model::limit_statements(&mut opts, Some(std::time::Duration::from_secs(3)));
/// let db = sea_orm::Database::connect(opts).await?;
/// # let _ = db; Ok(()) }
/// ```
pub fn limit_statements(opts: &mut ConnectOptions, limit: Option<Duration>) {
    let url = opts.get_url().to_owned();
    if url.starts_with("postgres") {
        // sea-orm sets it as a start-up parameter of every connection (no round trip).
        match limit {
            Some(limit) => {
                opts.statement_timeout(limit);
            }
            None => {
                opts.map_sqlx_postgres_opts(|o| o.options([("statement_timeout", "0")]));
            }
        }
    } else if url.starts_with("mysql") || url.starts_with("mariadb") {
        opts.map_sqlx_mysql_pool_opts(move |pool| {
            pool.after_connect(move |conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    let Some(limit) = limit else { return Ok(()) };
                    // MariaDB's variable first (seconds, every statement); MySQL's otherwise
                    // (milliseconds, SELECT only).
                    let mariadb = format!("SET SESSION max_statement_time = {}", limit.as_secs_f64());
                    if conn.execute(sqlx::AssertSqlSafe(mariadb)).await.is_err() {
                        let mysql = format!("SET SESSION max_execution_time = {}", limit.as_millis());
                        conn.execute(sqlx::AssertSqlSafe(mysql)).await?;
                    }
                    Ok(())
                })
            })
        });
    } else if url.starts_with("sqlite") {
        opts.test_before_acquire(false);
        // A new connection's first use is limited from its opening; later ones from each
        // time it is taken from the pool.
        opts.map_sqlx_sqlite_pool_opts(move |pool| {
            pool.after_connect(move |conn, _| {
                Box::pin(async move {
                    if let Some(limit) = limit {
                        let deadline = std::time::Instant::now() + limit;
                        let mut handle = conn.lock_handle().await?;
                        handle
                            .set_progress_handler(SQLITE_STEPS_PER_CHECK, move || std::time::Instant::now() < deadline);
                    }
                    Ok(())
                })
            })
        });
        opts.map_sqlx_sqlite_before_acquire(move |conn, _| {
            Box::pin(async move {
                let mut handle = conn.lock_handle().await?;
                match limit {
                    Some(limit) => {
                        let deadline = std::time::Instant::now() + limit;
                        handle
                            .set_progress_handler(SQLITE_STEPS_PER_CHECK, move || std::time::Instant::now() < deadline);
                    }
                    None => handle.remove_progress_handler(),
                }
                Ok(true)
            })
        });
    }
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
