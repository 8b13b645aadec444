//! PostgreSQL's `LISTEN`/`NOTIFY` as the change broker: every process sharing a database hears
//! every other's changes, with nothing else to run.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::broker::{BrokerError, ChangeBroker, Inbox, SendFuture, keep_listening};

/// The channel every process listens on, unless told otherwise.
pub const DEFAULT_CHANNEL: &str = "persisted_model_changes";

/// How long the listening connection may stay silent before it is checked with a query: a
/// connection cut without a reset would otherwise go unnoticed.
const IDLE_CHECK: Duration = Duration::from_secs(15);

/// Changes through `NOTIFY` on the application's own database. Listening and publishing each
/// use a connection of their own, never one of the application's pool: the broker's tasks run
/// on the runtime that built the API, and a pool connection they opened there would then
/// serve requests on actix's workers, its socket driven from the other runtime. Under load
/// such requests stalled for seconds (the benchmark's 503s), and none did once the broker
/// kept its own connections.
#[derive(Debug, Clone)]
pub struct PostgresBroker {
    pool: PgPool,
    options: PgConnectOptions,
    channel: String,
}

impl PostgresBroker {
    /// A broker over the database `db` connects to; `None` when it is not PostgreSQL.
    pub fn new(db: &DatabaseConnection) -> Option<Self> {
        if db.get_database_backend() != sea_orm::DbBackend::Postgres {
            return None;
        }
        let options = (*db.get_postgres_connection_pool().connect_options()).clone();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options.clone());
        Some(Self { pool, options, channel: DEFAULT_CHANNEL.to_owned() })
    }

    /// Another channel name (separate applications on one database).
    #[must_use]
    pub fn channel(mut self, name: &str) -> Self {
        self.channel = name.to_owned();
        self
    }

    async fn connect(&self) -> Result<PgListener, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(self.options.clone());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(&self.channel).await?;
        Ok(listener)
    }
}

impl ChangeBroker for PostgresBroker {
    fn publish<'a>(&'a self, message: &'a str) -> SendFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            let one = [message.to_owned()];
            self.publish_many(&one).await
        })
    }

    fn publish_many<'a>(&'a self, messages: &'a [String]) -> SendFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            // One statement: each element is its own notification, delivered in order.
            sqlx::query("SELECT pg_notify($1, m) FROM unnest($2::text[]) WITH ORDINALITY AS t(m, i) ORDER BY i")
                .bind(&self.channel)
                .bind(messages)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(|e| BrokerError(e.to_string()))
        })
    }

    /// PostgreSQL refuses a payload of 8,000 bytes or more.
    fn max_message(&self) -> usize {
        7_900
    }

    fn listen(self: Arc<Self>, inbox: Inbox) -> SendFuture<'static, ()> {
        Box::pin(async move {
            let (broker, to) = (&self, &inbox);
            keep_listening(&inbox, || async move {
                let mut listener = broker.connect().await.map_err(|e| BrokerError(e.to_string()))?;
                to.connected();
                receive(&mut listener, to).await;
                Ok(())
            })
            .await;
        })
    }
}

/// Delivers notifications until the connection fails or the feed closes.
async fn receive(listener: &mut PgListener, inbox: &Inbox) {
    loop {
        let next = tokio::select! {
            r = tokio::time::timeout(IDLE_CHECK, listener.try_recv()) => r,
            () = inbox.closed() => return,
        };
        match next {
            Ok(Ok(Some(notification))) => inbox.deliver(notification.payload()),
            // `None`: the connection was lost (notifications may be missed).
            Ok(Ok(None)) | Ok(Err(_)) => return,
            Err(_idle) => {
                let alive =
                    tokio::time::timeout(Duration::from_secs(5), sqlx::query("SELECT 1").execute(&mut *listener));
                if !matches!(alive.await, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}
