//! The connection an operation runs on: the pool, or the transaction of the write in progress.
//!
//! Everything a write does (validation lookups, hooks, nested stores, relation writes) runs on
//! the write's own transaction, so a request never holds one connection while it waits for
//! another: with a pool of one (in-memory SQLite) that wait would never end.

use std::sync::Mutex;

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
}

#[derive(Clone, Copy)]
enum Conn<'a> {
    Pool(&'a DatabaseConnection),
    Transaction(&'a Transaction),
}

impl<'a> Db<'a> {
    /// A handle on the pool: each statement takes a connection and returns it.
    pub fn pool(db: &'a DatabaseConnection) -> Self {
        Self { conn: Conn::Pool(db) }
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
                let txn = db.begin_with_options(options).await?;
                Ok(Some(Transaction { txn, after_commit: Mutex::new(Vec::new()) }))
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
}

impl Transaction {
    /// The handle statements of this transaction run on.
    pub(crate) fn db(&self) -> Db<'_> {
        Db { conn: Conn::Transaction(self) }
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
        delegate!(self, c => c.execute_raw(stmt).await)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        delegate!(self, c => c.execute_unprepared(sql).await)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        delegate!(self, c => c.query_one_raw(stmt).await)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        delegate!(self, c => c.query_all_raw(stmt).await)
    }
}
