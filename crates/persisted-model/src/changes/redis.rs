//! Redis pub/sub as the change broker, for databases without a notification channel of their
//! own (MySQL/MariaDB). Redis keeps nothing: a process that is disconnected misses changes, and
//! says so ([`Inbox::lost`]).

use std::sync::Arc;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

use super::broker::{BrokerError, ChangeBroker, Inbox, SendFuture, keep_listening};
use super::postgres::DEFAULT_CHANNEL;

/// Changes through a Redis channel (`REDIS_URL`, such as `redis://127.0.0.1:6379`).
pub struct RedisBroker {
    client: redis::Client,
    channel: String,
    /// The publishing connection, made on first use and again after a failure.
    publisher: Mutex<Option<MultiplexedConnection>>,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker").field("channel", &self.channel).finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// A broker on the Redis server at `url`; the URL is checked here, the server is reached
    /// when listening starts.
    pub fn new(url: &str) -> Result<Self, BrokerError> {
        let client = redis::Client::open(url).map_err(|e| BrokerError(e.to_string()))?;
        Ok(Self { client, channel: DEFAULT_CHANNEL.to_owned(), publisher: Mutex::new(None) })
    }

    /// The broker `REDIS_URL` names, if it is set.
    pub fn from_env() -> Option<Result<Self, BrokerError>> {
        std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()).map(|url| Self::new(&url))
    }

    /// Another channel name (separate applications on one Redis).
    #[must_use]
    pub fn channel(mut self, name: &str) -> Self {
        self.channel = name.to_owned();
        self
    }

    /// One `PUBLISH` per message, pipelined: one round trip.
    async fn send(&self, messages: &[String]) -> Result<(), redis::RedisError> {
        let mut slot = self.publisher.lock().await;
        let conn = match slot.as_mut() {
            Some(conn) => conn,
            None => slot.insert(self.client.get_multiplexed_async_connection().await?),
        };
        let mut pipe = redis::pipe();
        for message in messages {
            pipe.cmd("PUBLISH").arg(&self.channel).arg(message).ignore();
        }
        let sent = pipe.query_async::<()>(conn).await;
        if sent.is_err() {
            *slot = None;
        }
        sent.map(|_| ())
    }
}

impl ChangeBroker for RedisBroker {
    fn publish<'a>(&'a self, message: &'a str) -> SendFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            let one = [message.to_owned()];
            self.publish_many(&one).await
        })
    }

    fn publish_many<'a>(&'a self, messages: &'a [String]) -> SendFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            // One retry on a fresh connection: a connection idle for long may have been closed.
            match self.send(messages).await {
                Ok(()) => Ok(()),
                Err(_) => self.send(messages).await.map_err(|e| BrokerError(e.to_string())),
            }
        })
    }

    /// Redis carries messages of any size; a bound keeps one process's changes from filling
    /// every subscriber's buffer (a large `updateAll` travels without its where clause).
    fn max_message(&self) -> usize {
        64 * 1024
    }

    fn listen(self: Arc<Self>, inbox: Inbox) -> SendFuture<'static, ()> {
        Box::pin(async move {
            let (broker, to) = (&self, &inbox);
            keep_listening(&inbox, || async move {
                let unreachable = |e: redis::RedisError| BrokerError(format!("Redis: {e}"));
                let mut pubsub = broker.client.get_async_pubsub().await.map_err(unreachable)?;
                pubsub.subscribe(&broker.channel).await.map_err(unreachable)?;
                to.connected();
                let mut messages = pubsub.on_message();
                loop {
                    let next = tokio::select! {
                        m = messages.next() => m,
                        () = to.closed() => return Ok(()),
                    };
                    let Some(message) = next else { return Ok(()) };
                    match message.get_payload::<String>() {
                        Ok(text) => to.deliver(&text),
                        Err(e) => {
                            tracing::warn!(target: "persisted_model::changes", error = %e, "an unreadable Redis message");
                        }
                    }
                }
            })
            .await;
        })
    }
}
