//! Throttling of credential guessing: logins, password changes and reset requests are counted
//! per account and per client address in the database (so every server process sees the same
//! counts), and an account or address past its allowance waits, longer each time, with 429
//! `TOO_MANY_ATTEMPTS` and `Retry-After`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use persisted_model::{Db, Error, fingerprint};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use tokio::sync::OnceCell;

/// How many attempts an account or an address may make, and what happens past that. The
/// counts are kept in the table `persisted_model_throttle` (with the tables' prefix, if any),
/// one row per account or address, named by a fingerprint.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Throttle {
    /// Failed logins (or current-password checks) an account may have within
    /// [`window`](Self::window) before it must wait: 5.
    pub failures_per_account: u32,
    /// Failed attempts one client address may make within the window, whatever the accounts: 20.
    pub failures_per_address: u32,
    /// How long failures are remembered: 15 minutes.
    pub window: Duration,
    /// The first wait once past the allowance, doubled at each further failure: 1 s.
    pub first_wait: Duration,
    /// The longest wait: 15 minutes.
    pub longest_wait: Duration,
    /// Password reset requests per email address within the window: 3.
    pub resets_per_account: u32,
    /// Password reset requests per client address within the window: 10.
    pub resets_per_address: u32,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            failures_per_account: 5,
            failures_per_address: 20,
            window: Duration::from_secs(15 * 60),
            first_wait: Duration::from_secs(1),
            longest_wait: Duration::from_secs(15 * 60),
            resets_per_account: 3,
            resets_per_address: 10,
        }
    }
}

/// What a count is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Logins and current-password checks, per account.
    Account,
    /// Logins and current-password checks, per client address.
    Address,
    /// Reset requests, per email address.
    ResetAccount,
    /// Reset requests, per client address.
    ResetAddress,
}

/// The throttle with its table, shared by the User methods.
#[derive(Debug)]
pub(crate) struct Attempts {
    pub(crate) throttle: Throttle,
    table: String,
    table_ready: OnceCell<()>,
}

/// One counted key: its kind and the fingerprint that names it.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    kind: Kind,
    name: String,
}

impl Key {
    pub(crate) fn new(kind: Kind, what: &str) -> Self {
        let prefix = match kind {
            Kind::Account => "login:account:",
            Kind::Address => "login:address:",
            Kind::ResetAccount => "reset:account:",
            Kind::ResetAddress => "reset:address:",
        };
        // Named by a fingerprint: the table holds no email address, and every key fits.
        Self { kind, name: fingerprint(&format!("{prefix}{what}")) }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Attempts {
    /// Counts kept in `table`.
    pub(crate) fn new(throttle: Throttle, table: String) -> Self {
        Self { throttle, table, table_ready: OnceCell::new() }
    }

    fn allowance(&self, kind: Kind) -> u32 {
        let t = &self.throttle;
        match kind {
            Kind::Account => t.failures_per_account,
            Kind::Address => t.failures_per_address,
            Kind::ResetAccount => t.resets_per_account,
            Kind::ResetAddress => t.resets_per_address,
        }
    }

    /// The wait once `over` attempts past the allowance were made.
    fn wait(&self, over: u32) -> i64 {
        let t = &self.throttle;
        let doubled = t.first_wait.saturating_mul(1u32 << over.saturating_sub(1).min(20));
        millis(doubled.min(t.longest_wait))
    }

    async fn ensure_table(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        self.table_ready
            .get_or_try_init(|| async {
                let create = format!(
                    "CREATE TABLE IF NOT EXISTS {} (k VARCHAR(64) NOT NULL PRIMARY KEY, attempts INTEGER NOT NULL, \
                     since BIGINT NOT NULL, locked_until BIGINT NOT NULL)",
                    self.table
                );
                if let Err(e) = db.execute_unprepared(&create).await {
                    // Two processes creating it at once: the other one did (checked below).
                    tracing::debug!(target: "persisted_model::access_token", error = %e, "creating the throttle table");
                }
                // Ready only once it is there: a failure here is tried again at the next attempt.
                db.execute_unprepared(&format!("SELECT k FROM {} WHERE 1 = 0", self.table)).await?;
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Counts one attempt for every key, in one transaction: an error 429 (with the seconds to
    /// wait) when one of them is waiting. A login or password check past its allowance still
    /// goes ahead but makes the next wait ([`Throttle::first_wait`], doubled each time, until
    /// an attempt succeeds); a reset request past its allowance is refused until the window
    /// ends. A key that is waiting does not count the attempt (its wait does not grow while
    /// it is refused).
    pub(crate) async fn attempt(&self, store: &persisted_model::Store<'_>, keys: &[Key]) -> Result<(), Error> {
        self.ensure_table(&store.db).await?;
        // Two attempts that make new rows side by side may deadlock on MySQL's gap locks (the
        // database picks one to fail): that one is counted again.
        let mut tries = 0;
        let refused = loop {
            tries += 1;
            match self.count(store, keys).await {
                Err(e) if tries < 3 && is_deadlock(&e) => continue,
                other => break other?,
            }
        };
        match refused {
            Some(ms) => {
                let seconds = u64::try_from(ms).unwrap_or(0).div_ceil(1000);
                Err(Error::too_many_requests(format!("Too many attempts; retry in {seconds} s"), seconds)
                    .with_code("TOO_MANY_ATTEMPTS"))
            }
            None => Ok(()),
        }
    }

    /// One transaction of [`attempt`](Self::attempt): the milliseconds to wait, if refused.
    async fn count(&self, store: &persisted_model::Store<'_>, keys: &[Key]) -> Result<Option<i64>, Error> {
        let now = now_ms();
        let window = millis(self.throttle.window);
        store
            .transaction(async |s| {
                let db = &s.db;
                let mut rows = Vec::with_capacity(keys.len());
                for key in keys {
                    rows.push(lock_row(db, &self.table, &key.name, now).await?);
                }
                // A key that is waiting refuses the attempt, which counts for none of them (an
                // address already held back cannot lock accounts out).
                if let Some(ms) = rows.iter().filter(|r| r.2 > now).map(|r| r.2 - now).max() {
                    return Ok(Some(ms));
                }
                let mut refused: Option<i64> = None;
                let mut refuse = |ms: i64| refused = Some(refused.unwrap_or(0).max(ms));
                for (key, (attempts, since, _)) in keys.iter().zip(rows) {
                    let (attempts, since) = if now - since > window { (1, now) } else { (attempts + 1, since) };
                    let allowance = i64::from(self.allowance(key.kind));
                    let mut until = 0;
                    if attempts > allowance {
                        match key.kind {
                            Kind::Account | Kind::Address => {
                                let over = u32::try_from(attempts - allowance).unwrap_or(u32::MAX);
                                until = now + self.wait(over);
                            }
                            Kind::ResetAccount | Kind::ResetAddress => refuse(since + window - now),
                        }
                    }
                    write_row(db, &self.table, &key.name, attempts, since, until).await?;
                }
                Ok(refused)
            })
            .await
    }

    /// The attempt succeeded: the account's count starts over, and the address's attempt is
    /// taken back (an address is held back by its failures, not its users' logins).
    pub(crate) async fn succeeded(&self, store: &persisted_model::Store<'_>, keys: &[Key]) -> Result<(), Error> {
        let backend = store.db.get_database_backend();
        for key in keys {
            let set = match key.kind {
                Kind::Account => "attempts = 0, locked_until = 0 WHERE k = ?",
                Kind::Address => "attempts = attempts - 1 WHERE k = ? AND attempts > 0",
                Kind::ResetAccount | Kind::ResetAddress => continue,
            };
            let sql = format!("UPDATE {} SET {set}", self.table);
            store.db.execute_raw(statement(backend, &sql, vec![key.name.clone().into()])).await?;
        }
        Ok(())
    }
}

/// Whether the database gave up a transaction to break a deadlock (MySQL 1213, PostgreSQL
/// 40P01 and 40001).
fn is_deadlock(err: &Error) -> bool {
    let Error::Database(db) = err else { return false };
    let (DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e)) | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))) = &**db
    else {
        return false;
    };
    let sqlx::Error::Database(e) = &**e else { return false };
    if let Some(mysql) = e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return mysql.number() == 1213;
    }
    matches!(e.code().as_deref(), Some("40P01" | "40001"))
}

/// A statement with `?` placeholders, as PostgreSQL wants them (`$1`...) where it is one.
fn statement(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The key's row, made if missing and locked until the transaction ends:
/// `(attempts, since, locked_until)`.
async fn lock_row(db: &Db<'_>, table: &str, key: &str, now: i64) -> Result<(i64, i64, i64), DbErr> {
    let backend = db.get_database_backend();
    // Made, or locked for writing, in one statement: an insert that skips a duplicate and a
    // later `SELECT ... FOR UPDATE` deadlock on MySQL when two logins race (both hold the
    // shared lock the duplicate check takes, both want it exclusive). SQLite's write
    // transactions hold the whole database already.
    let (verb, conflict) = match backend {
        DbBackend::Postgres => ("INSERT", " ON CONFLICT (k) DO UPDATE SET since = {table}.since"),
        DbBackend::MySql => ("INSERT", " ON DUPLICATE KEY UPDATE since = since"),
        _ => ("INSERT OR IGNORE", ""),
    };
    let conflict = conflict.replace("{table}", table);
    let insert = format!("{verb} INTO {table} (k, attempts, since, locked_until) VALUES (?, 0, ?, 0){conflict}");
    db.execute_raw(statement(backend, &insert, vec![key.into(), now.into()])).await?;
    let select = format!("SELECT attempts, since, locked_until FROM {table} WHERE k = ?");
    let row = db
        .query_one_raw(statement(backend, &select, vec![key.into()]))
        .await?
        .ok_or_else(|| DbErr::Custom("the throttle's row is missing".into()))?;
    let number = |i: usize| row.try_get_by_index::<i64>(i).or_else(|_| row.try_get_by_index::<i32>(i).map(i64::from));
    Ok((number(0)?, number(1)?, number(2)?))
}

async fn write_row(db: &Db<'_>, table: &str, key: &str, attempts: i64, since: i64, until: i64) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = format!("UPDATE {table} SET attempts = ?, since = ?, locked_until = ? WHERE k = ?");
    let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
    db.execute_raw(statement(backend, &sql, vec![attempts.into(), since.into(), until.into(), key.into()])).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_longest() {
        let a = Attempts::new(Throttle::default(), "t".into());
        assert_eq!(a.wait(1), 1_000);
        assert_eq!(a.wait(2), 2_000);
        assert_eq!(a.wait(5), 16_000);
        assert_eq!(a.wait(40), 15 * 60 * 1_000);
    }

    #[test]
    fn keys_name_no_email_address() {
        let key = Key::new(Kind::Account, "alice@example.com");
        assert_eq!(key.name.len(), 64);
        assert!(!key.name.contains("alice"));
        assert_ne!(key.name, Key::new(Kind::ResetAccount, "alice@example.com").name);
    }
}
