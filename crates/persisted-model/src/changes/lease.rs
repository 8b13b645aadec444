//! The revocation epoch: a counter in the database that every revoking write (a token's or a
//! role's update or delete) raises inside its own transaction, and that every process reads
//! again every [`RENEW_EVERY`]. A process serves cached tokens and roles only while its last
//! reading is younger than [`LEASE`], and empties its caches when the counter moved.
//!
//! So a revocation never depends on the broker alone: once [`LEASE`] has passed since the
//! write committed, every process either read the new counter (and dropped its caches) or has
//! stopped using them. The broker only makes it faster: a write is answered as soon as every
//! process that was listening has acknowledged it, and at the latest after [`LEASE`], whether
//! or not the broker carried it (a message it refused, a lost connection, a process too busy
//! to answer).
//!
//! The same row keeps the secret that signs the broker's messages when the application
//! configures none (`CHANGE_FEED_SECRET`).

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

/// The table of the epoch and the secret (one row, id 1).
pub const TABLE: &str = "persisted_model_feed";

/// How long a reading of the epoch lets a process serve from its caches; also the longest a
/// revoking write waits before it is answered.
pub const LEASE: Duration = Duration::from_secs(2);

/// How often the epoch is read.
pub(crate) const RENEW_EVERY: Duration = Duration::from_millis(500);

/// Where a process reads the epoch: a connection of its own (the feed's tasks run on the
/// runtime that built the API, so they never touch the application's pool on PostgreSQL or
/// MySQL: see `connection::close_idle_connections`).
#[derive(Clone)]
pub(crate) enum EpochReader {
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
    /// SQLite's connections are threads of their own: the pool serves.
    Sqlite(DatabaseConnection),
}

impl std::fmt::Debug for EpochReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochReader")
    }
}

const READ: &str = "SELECT epoch FROM persisted_model_feed WHERE id = 1";

impl EpochReader {
    /// A reader of `db`'s epoch, on one connection of its own (opened when first used).
    pub(crate) fn new(db: &DatabaseConnection) -> Self {
        fn single<D: sqlx::Database>() -> sqlx::pool::PoolOptions<D> {
            sqlx::pool::PoolOptions::new().max_connections(1).min_connections(0).acquire_timeout(LEASE)
        }
        match db.get_database_backend() {
            DbBackend::Postgres => {
                let options = (*db.get_postgres_connection_pool().connect_options()).clone();
                Self::Postgres(single().connect_lazy_with(options))
            }
            DbBackend::MySql => {
                let options = (*db.get_mysql_connection_pool().connect_options()).clone();
                Self::MySql(single().connect_lazy_with(options))
            }
            _ => Self::Sqlite(db.clone()),
        }
    }

    /// The epoch now.
    pub(crate) async fn read(&self) -> Result<i64, String> {
        match self {
            Self::Postgres(pool) => sqlx::query_scalar::<_, i64>(READ).fetch_one(pool).await.map_err(|e| e.to_string()),
            Self::MySql(pool) => sqlx::query_scalar::<_, i64>(READ).fetch_one(pool).await.map_err(|e| e.to_string()),
            Self::Sqlite(db) => {
                let row = db
                    .query_one_raw(Statement::from_string(DbBackend::Sqlite, READ))
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{TABLE} has no row"))?;
                row.try_get_by_index::<i64>(0).map_err(|e| e.to_string())
            }
        }
    }
}

/// The statement a revoking write runs in its transaction, just before it commits.
pub(crate) fn raise_statement(backend: DbBackend) -> Statement {
    Statement::from_string(backend, "UPDATE persisted_model_feed SET epoch = epoch + 1 WHERE id = 1")
}

/// Creates the table and its row where they are missing (processes starting together may race:
/// whichever row is written first is everyone's), and returns the stored secret.
pub(crate) async fn prepare(db: &DatabaseConnection) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let create = "CREATE TABLE IF NOT EXISTS persisted_model_feed \
                  (id INTEGER NOT NULL PRIMARY KEY, epoch BIGINT NOT NULL, secret VARCHAR(128) NOT NULL)";
    if let Err(e) = db.execute_unprepared(create).await {
        // PostgreSQL may refuse one of two concurrent `CREATE TABLE IF NOT EXISTS`: the other
        // made it, which the read below shows.
        tracing::debug!(target: "persisted_model::changes", error = %e, "creating the feed's table");
    }
    let insert = match backend {
        DbBackend::Postgres => {
            "INSERT INTO persisted_model_feed (id, epoch, secret) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING"
        }
        DbBackend::MySql => "INSERT IGNORE INTO persisted_model_feed (id, epoch, secret) VALUES (1, 0, ?)",
        _ => "INSERT OR IGNORE INTO persisted_model_feed (id, epoch, secret) VALUES (1, 0, ?)",
    };
    let fresh = random_secret().map_err(|e| DbErr::Custom(format!("no randomness for the feed's secret: {e}")))?;
    db.execute_raw(Statement::from_sql_and_values(backend, insert, [fresh.into()])).await?;
    let row = db
        .query_one_raw(Statement::from_string(backend, "SELECT secret FROM persisted_model_feed WHERE id = 1"))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("{TABLE} has no row")))?;
    row.try_get_by_index::<String>(0).map_err(|e| DbErr::Custom(e.to_string()))
}

/// 32 bytes from the OS CSPRNG, in hex.
fn random_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}
