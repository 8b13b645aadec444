//! The connection an operation runs on: the pool, or the transaction of the write in progress.
//!
//! Everything a write does (validation lookups, hooks, nested stores, relation writes) runs on
//! the write's own transaction, so a request never holds one connection while it waits for
//! another: with a pool of one (in-memory SQLite) that wait would never end.
//!
//! SQLite takes one writer at a time. The framework's SQLite writes wait their turn in a
//! [`WriteGate`], in order, instead of in SQLite's busy handler, which polls with growing sleeps
//! and lets late writers overtake: with a pool of many connections that gave writes a p99 of
//! over a second under load.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

type CommitAction = Box<dyn FnOnce() + Send>;

/// A database handle for one operation: the pool, or an open transaction. It implements
/// sea-orm's [`ConnectionTrait`], so hooks can run sea-orm queries on it directly.
#[derive(Clone, Copy)]
pub struct Db<'a> {
    conn: Conn<'a>,
    gate: Option<&'a WriteGate>,
}

/// The queue a process's SQLite writes wait in (one at a time, first come first served). A
/// write waits as long as the pool's acquire timeout, then fails as a pool timeout does (503).
#[derive(Debug)]
pub(crate) struct WriteGate {
    /// Shared with the permits (a transaction keeps its turn without borrowing the gate).
    turn: Arc<Semaphore>,
    timeout: Duration,
    writes: AtomicU64,
}

/// How many writes pass between two checkpoints that truncate the write-ahead log. Under a
/// steady stream of writes, SQLite's own checkpoints (every 1,000 pages) never got to restart
/// the log here: it grew by about 30 MB a second until the load stopped.
const CHECKPOINT_EVERY: u64 = 1000;

impl WriteGate {
    /// The gate for `db`'s writes: SQLite only (the other databases lock rows, not the file).
    pub(crate) fn for_database(db: &DatabaseConnection) -> Option<Self> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return None;
        }
        let timeout = db.get_sqlite_connection_pool().options().get_acquire_timeout();
        Some(Self { turn: Arc::new(Semaphore::new(1)), timeout, writes: AtomicU64::new(0) })
    }

    async fn enter(&self, db: &DatabaseConnection) -> Result<OwnedSemaphorePermit, DbErr> {
        let permit = match tokio::time::timeout(self.timeout, Arc::clone(&self.turn).acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            // The semaphore is never closed; a timeout is the pool's own error, so it answers 503.
            _ => return Err(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)),
        };
        if self.writes.fetch_add(1, Ordering::Relaxed) % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            // Between writes (this one holds the turn): the log is copied into the database and
            // emptied. Readers still on it are waited for (busy timeout); a failure only
            // postpones it.
            if let Err(e) = db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await {
                tracing::debug!(target: "persisted_model::db", error = %e, "checkpoint postponed");
            }
        }
        Ok(permit)
    }
}

/// Closes the pool's idle connections, so that the next ones open where requests run.
///
/// A PostgreSQL or MySQL connection's socket belongs to the runtime that opened it. The API
/// is built on the application's main runtime (schema checks, seeding), and actix-web serves
/// from runtimes of its own, one per worker: a connection opened during start-up and used by
/// a worker is driven from the main runtime. Under the benchmark's load, requests on such
/// connections stalled for seconds (503s once the acquire timeout passed); with the start-up
/// connections closed, none did. SQLite's connections are threads of their own and stay (an
/// in-memory database lives only as long as its connection).
pub(crate) fn close_idle_connections(db: &DatabaseConnection) {
    fn close_idle<D: sqlx::Database>(pool: &sqlx::Pool<D>) {
        // Detached and dropped: the socket closes here, with no task on the old runtime.
        while let Some(conn) = pool.try_acquire() {
            drop(conn.detach());
        }
    }
    match db.get_database_backend() {
        DbBackend::Postgres => close_idle(db.get_postgres_connection_pool()),
        DbBackend::MySql => close_idle(db.get_mysql_connection_pool()),
        _ => {}
    }
}

/// Whether a statement writes (its turn is taken in the [`WriteGate`]): a change of rows, or
/// of the schema (a table made on first use).
fn writes(sql: &str) -> bool {
    let verb = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    ["INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "ALTER", "DROP"].iter().any(|w| verb.eq_ignore_ascii_case(w))
}

#[derive(Clone, Copy)]
enum Conn<'a> {
    Pool(&'a DatabaseConnection),
    Transaction(&'a Transaction),
}

impl<'a> Db<'a> {
    /// A handle on the pool: each statement takes a connection and returns it.
    pub fn pool(db: &'a DatabaseConnection) -> Self {
        Self { conn: Conn::Pool(db), gate: None }
    }

    /// A handle on the pool whose SQLite writes wait in `gate`.
    pub(crate) fn gated(db: &'a DatabaseConnection, gate: Option<&'a WriteGate>) -> Self {
        Self { conn: Conn::Pool(db), gate }
    }

    /// Its turn, for a statement on the pool that writes.
    async fn turn(&self, sql: &str) -> Result<Option<OwnedSemaphorePermit>, DbErr> {
        match (self.conn, self.gate) {
            (Conn::Pool(db), Some(gate)) if writes(sql) => gate.enter(db).await.map(Some),
            _ => Ok(None),
        }
    }

    /// Whether statements run inside a write's transaction.
    pub fn in_transaction(&self) -> bool {
        matches!(self.conn, Conn::Transaction(_))
    }

    /// Runs `action` once the write's transaction has committed (at once outside a
    /// transaction); dropped if it rolls back. For work that must see the committed state,
    /// such as invalidating caches: invalidating before the commit lets a concurrent reader
    /// cache the old row again.
    pub fn on_commit(&self, action: impl FnOnce() + Send + 'static) {
        match self.conn {
            Conn::Pool(_) => action(),
            Conn::Transaction(t) => match t.after_commit.lock() {
                Ok(mut actions) => actions.push(Box::new(action)),
                Err(_) => action(),
            },
        }
    }

    /// Records that the write publishes a change other processes must acknowledge (`revokes`:
    /// one that may revoke a token or a role), so that its transaction raises the revocation
    /// epoch; the change's number, once published, goes where this returns, for the
    /// transaction to wait for its acknowledgements. Outside a transaction it does nothing:
    /// every write of such a model runs in one.
    pub(crate) fn note_confirmed_change(&self, revokes: bool) -> Option<Arc<AtomicU64>> {
        let Conn::Transaction(t) = self.conn else { return None };
        if revokes {
            t.revokes.store(true, Ordering::Relaxed);
        }
        Some(Arc::clone(&t.confirm_seq))
    }

    /// Begins a transaction, or `None` when this handle is in one already (a hook's nested
    /// write joins the outer write and rolls back with it).
    pub(crate) async fn begin(&self) -> Result<Option<Transaction>, DbErr> {
        match self.conn {
            Conn::Pool(db) => {
                // SQLite: take the write lock at BEGIN. Two deferred transactions that both read
                // and then write deadlock, and SQLite answers one of them "database is locked"
                // at once instead of waiting.
                let options = TransactionOptions {
                    sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite)
                        .then_some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                };
                // Taken before BEGIN: a write transaction holds SQLite's write lock until it ends.
                let turn = match self.gate {
                    Some(gate) => Some(gate.enter(db).await?),
                    None => None,
                };
                let txn = db.begin_with_options(options).await?;
                Ok(Some(Transaction {
                    txn,
                    after_commit: Mutex::new(Vec::new()),
                    confirm_seq: Arc::new(AtomicU64::new(0)),
                    revokes: AtomicBool::new(false),
                    _turn: turn,
                }))
            }
            Conn::Transaction(_) => Ok(None),
        }
    }
}

impl std::fmt::Debug for Db<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("in_transaction", &self.in_transaction()).finish()
    }
}

/// An open write transaction with the actions to run after it commits.
pub(crate) struct Transaction {
    txn: DatabaseTransaction,
    after_commit: Mutex<Vec<CommitAction>>,
    /// The number of the last change it publishes that other processes must acknowledge (a
    /// token's, a role's), set once it is published after the commit; 0 for none.
    confirm_seq: Arc<AtomicU64>,
    /// ... and one that may revoke something: the revocation epoch is raised before it
    /// commits.
    revokes: AtomicBool,
    /// SQLite's write turn, given back when the transaction ends.
    _turn: Option<OwnedSemaphorePermit>,
}

impl Transaction {
    /// Where the number of its last change that needs acknowledging is set once published,
    /// and whether one of its changes may revoke something.
    pub(crate) fn needs_confirming(&self) -> (Arc<AtomicU64>, bool) {
        (Arc::clone(&self.confirm_seq), self.revokes.load(Ordering::Relaxed))
    }

    /// The handle statements of this transaction run on.
    pub(crate) fn db(&self) -> Db<'_> {
        Db { conn: Conn::Transaction(self), gate: None }
    }

    /// Commits, then runs the queued after-commit actions.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        let actions = self.after_commit.into_inner().unwrap_or_default();
        for action in actions {
            action();
        }
        Ok(())
    }

    /// Rolls back; the after-commit actions are dropped.
    pub(crate) async fn rollback(self) {
        if let Err(e) = self.txn.rollback().await {
            tracing::warn!(target: "persisted_model::db", error = %e, "rollback failed");
        }
    }
}

/// What a statement failed with when MariaDB's `REGEXP` (PCRE2) gave up on a value (its match
/// limit): MariaDB answers "no match" with a warning, which would silently leave rows out.
pub(crate) const REGEXP_GAVE_UP: &str = "persisted_model::regexp_gave_up";

/// Whether `sql` is a MySQL statement with the filter language's `REGEXP`: its warnings are read
/// on the same connection right after it.
fn checks_regexp(backend: DbBackend, sql: &str) -> bool {
    backend == DbBackend::MySql && sql.contains(" REGEXP ")
}

/// An error when the statement just run on `conn` left MariaDB's "regex error" warning (1139).
async fn regexp_warnings(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    let rows = conn.query_all_raw(Statement::from_string(DbBackend::MySql, "SHOW WARNINGS")).await?;
    for row in rows {
        let code = row
            .try_get_by_index::<u32>(1)
            .map(i64::from)
            .or_else(|_| row.try_get_by_index::<i64>(1))
            .unwrap_or_default();
        if code == 1139 {
            let message = row.try_get_by_index::<String>(2).unwrap_or_default();
            return Err(DbErr::Custom(format!("{REGEXP_GAVE_UP}: {message}")));
        }
    }
    Ok(())
}

/// Runs a statement with `REGEXP` on MySQL on one connection and then reads its warnings
/// there: in the write's transaction, or in one of its own.
macro_rules! regexp_checked {
    ($self:ident, $c:ident => $call:expr) => {
        match $self.conn {
            Conn::Pool(db) => {
                let txn = db.begin().await?;
                let out = {
                    let $c = &txn;
                    $call
                }?;
                regexp_warnings(&txn).await?;
                txn.commit().await?;
                Ok(out)
            }
            Conn::Transaction(t) => {
                let $c = &t.txn;
                let out = $call?;
                regexp_warnings(&t.txn).await?;
                Ok(out)
            }
        }
    };
}

macro_rules! delegate {
    ($self:ident, $c:ident => $call:expr) => {
        match $self.conn {
            Conn::Pool($c) => $call,
            Conn::Transaction(t) => {
                let $c = &t.txn;
                $call
            }
        }
    };
}

#[async_trait::async_trait]
impl ConnectionTrait for Db<'_> {
    fn get_database_backend(&self) -> DbBackend {
        delegate!(self, c => c.get_database_backend())
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let _turn = self.turn(&stmt.sql).await?;
        if checks_regexp(self.get_database_backend(), &stmt.sql) {
            return regexp_checked!(self, c => c.execute_raw(stmt).await);
        }
        delegate!(self, c => c.execute_raw(stmt).await)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let _turn = self.turn(sql).await?;
        delegate!(self, c => c.execute_unprepared(sql).await)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        // INSERT ... RETURNING is a query that writes.
        let _turn = self.turn(&stmt.sql).await?;
        if checks_regexp(self.get_database_backend(), &stmt.sql) {
            return regexp_checked!(self, c => c.query_one_raw(stmt).await);
        }
        delegate!(self, c => c.query_one_raw(stmt).await)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let _turn = self.turn(&stmt.sql).await?;
        if checks_regexp(self.get_database_backend(), &stmt.sql) {
            return regexp_checked!(self, c => c.query_all_raw(stmt).await);
        }
        delegate!(self, c => c.query_all_raw(stmt).await)
    }
}

#[cfg(test)]
mod tests {
    use super::writes;

    #[test]
    fn statements_that_write_are_told_apart() {
        for sql in ["INSERT INTO t VALUES (1)", "  update t SET a = 1", "DELETE FROM t", "REPLACE INTO t VALUES (1)"] {
            assert!(writes(sql), "{sql}");
        }
        for sql in ["SELECT 1", "WITH x AS (SELECT 1) SELECT * FROM x", "", "INSERTED"] {
            assert!(!writes(sql), "{sql}");
        }
    }
}
