//! The seam between server processes: a broker carries each process's changes to every other.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed future that may move between threads (a broker's tasks run on tokio).
pub type SendFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Carries changes between the server processes that share a database: PostgreSQL's
/// `LISTEN`/`NOTIFY` ([`PostgresBroker`](super::PostgresBroker)), Redis pub/sub
/// ([`RedisBroker`](super::RedisBroker)), or an application's own.
///
/// A broker moves opaque text messages of at most [`max_message`](Self::max_message) bytes.
/// It must deliver every message to every process listening, the sender included (the sender
/// learns from its own copy that the broker has passed it on; the others acknowledge the
/// changes that need it with messages of their own), and call [`Inbox::lost`] whenever
/// messages may have been missed: token caches are dropped and kept off until
/// [`Inbox::connected`] is called again.
pub trait ChangeBroker: Send + Sync + 'static {
    /// Sends one message to every listening process.
    fn publish<'a>(&'a self, message: &'a str) -> SendFuture<'a, Result<(), BrokerError>>;

    /// Sends messages in order: the feed hands over what queued up while the previous ones
    /// went out (often one). The default sends them one by one with [`publish`](Self::publish);
    /// a broker that can send many in one round trip should. When it fails, the feed sends
    /// each again with [`publish`](Self::publish), so that one refused message loses no other.
    fn publish_many<'a>(&'a self, messages: &'a [String]) -> SendFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            for message in messages {
                self.publish(message).await?;
            }
            Ok(())
        })
    }

    /// Delivers every process's messages to `inbox` until [`Inbox::is_closed`], connecting
    /// again after a lost connection. Runs as a task of its own.
    fn listen(self: Arc<Self>, inbox: Inbox) -> SendFuture<'static, ()>;

    /// The largest message the broker carries, in bytes; a change that does not fit is sent
    /// without its where clause, then without its data (receivers load the instance
    /// themselves), then naming its model alone.
    fn max_message(&self) -> usize {
        7_900
    }
}

/// A broker's failure to publish or listen.
#[derive(Debug, thiserror::Error)]
#[error("change broker: {0}")]
pub struct BrokerError(pub String);

/// What a broker hands its messages and news to: the feed.
pub(super) trait Receiver: Send + Sync + 'static {
    /// A message from some process.
    fn receive(&self, message: &str);
    /// The broker connected (`true`), or changes may have been missed.
    fn set_connected(&self, yes: bool);
    /// Whether the feed has shut down.
    fn is_closed(&self) -> bool;
    /// Resolves once the feed shuts down.
    fn wait_closed(&self) -> SendFuture<'_, ()>;
}

/// Where a broker delivers messages, and tells of its connection.
#[derive(Clone)]
pub struct Inbox {
    pub(super) feed: Arc<dyn Receiver>,
}

impl Inbox {
    /// A message from some process (this one included).
    pub fn deliver(&self, message: &str) {
        self.feed.receive(message);
    }

    /// The broker listens: from now on no message is missed.
    pub fn connected(&self) {
        self.feed.set_connected(true);
    }

    /// Messages may have been missed (a lost connection): every cache built on them is dropped
    /// until [`connected`](Self::connected).
    pub fn lost(&self) {
        self.feed.set_connected(false);
    }

    /// The feed has shut down: stop listening.
    pub fn is_closed(&self) -> bool {
        self.feed.is_closed()
    }

    /// Resolves once the feed shuts down.
    pub async fn closed(&self) {
        self.feed.wait_closed().await;
    }
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

/// A broker's listening loop: `session` connects, calls [`Inbox::connected`], delivers until
/// the connection fails and returns `Ok`, or returns `Err` when it could not connect. After
/// each session the inbox hears of the loss, and the next one starts after a back-off (100 ms,
/// doubling to 5 s, from 100 ms again after a session that connected), until the feed closes.
pub(super) async fn keep_listening<F, Fut>(inbox: &Inbox, mut session: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), BrokerError>>,
{
    const FIRST: Duration = Duration::from_millis(100);
    let mut backoff = FIRST;
    while !inbox.is_closed() {
        match session().await {
            Ok(()) => backoff = FIRST,
            Err(e) => tracing::warn!(target: "persisted_model::changes", error = %e, "cannot listen for changes"),
        }
        inbox.lost();
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = inbox.closed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
