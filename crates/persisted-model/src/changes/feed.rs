//! The change feed of one process: what its writes committed, and what the broker brought from
//! the other processes, handed to the change streams and to the caches that depend on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast, mpsc, watch};

use super::broker::{ChangeBroker, Inbox};
use super::change::ModelChange;

/// Changes kept for subscribers that have not read them yet; a subscriber that falls further
/// behind is dropped (its stream ends with an error event) instead of growing memory.
pub const SUBSCRIBER_BUFFER: usize = 1_024;

/// How long a write that revokes something (a token) waits for every other process to
/// acknowledge that it has applied the change.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a process tells the others that it is there.
const HELLO_EVERY: Duration = Duration::from_secs(5);

/// A process not heard from for this long is no longer waited for.
const PEER_TTL: Duration = Duration::from_secs(15);

/// What a feed listener hears.
#[derive(Debug, Clone, Copy)]
pub enum Notice<'a> {
    /// A committed change, from this process or another.
    Change(&'a ModelChange),
    /// Changes may have been missed (the broker's connection was lost, or is back after a
    /// loss): anything cached on the strength of the feed must be dropped.
    MayHaveMissed,
}

/// A function told of every change and loss, synchronously, before subscribers see them.
pub type FeedListener = Arc<dyn Fn(Notice<'_>) + Send + Sync>;

/// The process's change feed. Cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed {
    pub(super) inner: Arc<FeedInner>,
}

pub(crate) struct FeedInner {
    /// This process, so that it knows its own messages when the broker brings them back.
    process: String,
    seq: AtomicU64,
    local: broadcast::Sender<Arc<ModelChange>>,
    outbox: Option<mpsc::UnboundedSender<Outgoing>>,
    listeners: Vec<FeedListener>,
    /// Without a broker: whether this process sees every write (an embedded database).
    single_process: bool,
    connected: AtomicBool,
    /// The highest own message the broker brought back.
    echoed: AtomicU64,
    /// The latest change a write waits for, and when it was published.
    awaited: Mutex<(u64, Instant)>,
    /// The other processes listening, as their messages showed them.
    peers: Mutex<HashMap<String, Peer>>,
    /// Woken by echoes, acknowledgements and losses.
    echo: Notify,
    closed: watch::Sender<bool>,
    /// Messages handed to the publishing task, and how many of them it has passed to the
    /// broker (for [`ChangeFeed::flush`]).
    queued: AtomicU64,
    handed: watch::Sender<u64>,
}

/// Another process, as this one knows it.
struct Peer {
    first_seen: Instant,
    last_seen: Instant,
    /// The highest of this process's changes it has acknowledged.
    acked: u64,
}

/// What the publishing task sends.
enum Outgoing {
    /// A committed change; `confirm`: every process acknowledges it once applied.
    Change { seq: u64, change: Arc<ModelChange>, confirm: bool },
    /// "I have applied your change `seq`".
    Ack { to: String, seq: u64 },
    /// "I am listening" (on connecting, then every [`HELLO_EVERY`]).
    Hello,
    /// "I have stopped listening": the others no longer wait for this process's
    /// acknowledgements (sent once, when the feed closes).
    Goodbye,
}

/// A change with its sender, as brokers carry it.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "p")]
    process: &'a str,
    #[serde(rename = "s")]
    seq: u64,
    #[serde(rename = "c", skip_serializing_if = "std::ops::Not::not")]
    confirm: bool,
    #[serde(flatten)]
    change: &'a ModelChange,
}

/// An [`Envelope`] as received.
#[derive(Deserialize)]
struct Received {
    #[serde(rename = "p")]
    process: String,
    #[serde(rename = "s")]
    seq: u64,
    #[serde(rename = "c", default)]
    confirm: bool,
    #[serde(flatten)]
    change: ModelChange,
}

/// What every message has: its sender, and for the two small kinds, what they say.
#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(rename = "p")]
    process: String,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ack: Option<(String, u64)>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    hello: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    bye: bool,
}

impl ChangeFeed {
    /// Starts a feed: with a broker, its listening and publishing tasks are spawned on the
    /// current tokio runtime.
    pub(crate) fn with_listeners(
        broker: Option<Arc<dyn ChangeBroker>>,
        single_process: bool,
        listeners: Vec<FeedListener>,
    ) -> Self {
        let (outbox, outbox_rx) = match broker {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let inner = Arc::new(FeedInner::new(outbox, single_process, listeners));
        if let (Some(broker), Some(outbox_rx)) = (broker, outbox_rx) {
            tokio::spawn(Arc::clone(&broker).listen(Inbox { feed: Arc::clone(&inner) }));
            tokio::spawn(publish_all(broker, outbox_rx, Arc::clone(&inner)));
        }
        Self { inner }
    }

    /// Hands a committed change to this process's subscribers and listeners, and to the
    /// broker for the others. `confirm`: [`confirmed`](Self::confirmed) waits for it.
    pub fn publish(&self, change: ModelChange, confirm: bool) {
        let inner = &self.inner;
        let seq = inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let change = Arc::new(change);
        if inner.outbox.is_some() {
            if confirm && let Ok(mut awaited) = inner.awaited.lock() {
                *awaited = (seq, Instant::now());
            }
            // Encoded by the publishing task, off the request's path.
            inner.send(Outgoing::Change { seq, change: Arc::clone(&change), confirm });
        }
        inner.dispatch(change);
    }

    /// Waits until every change published with `confirm` so far has been applied by every
    /// process that was listening when it was published: each acknowledges it once its
    /// listeners have run (a revoked token is out of its cache), and the broker has brought
    /// this process its own copy. At most [`CONFIRM_TIMEOUT`]; at once without a broker or
    /// while it is disconnected.
    pub async fn confirmed(&self) {
        let inner = &self.inner;
        let Ok((wanted, at)) = inner.awaited.lock().map(|a| *a) else { return };
        if inner.outbox.is_none() || inner.is_confirmed(wanted, at) {
            return;
        }
        let wait = async {
            loop {
                let notified = inner.echo.notified();
                if inner.is_confirmed(wanted, at) || !inner.connected.load(Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(CONFIRM_TIMEOUT, wait).await.is_err() {
            tracing::warn!(target: "persisted_model::changes", "a change was not acknowledged by every process in time");
        }
    }

    /// Every change from now on, for one subscriber (a bounded buffer: see
    /// [`SUBSCRIBER_BUFFER`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ModelChange>> {
        self.inner.local.subscribe()
    }

    /// Whether a change stream may hear of a change now: one is open in this process, or a
    /// broker carries changes to others.
    pub fn may_have_subscribers(&self) -> bool {
        self.inner.outbox.is_some() || self.inner.local.receiver_count() > 0
    }

    /// Whether every change to the database reaches this process: a broker that is connected,
    /// or, without one, a database only this process writes (SQLite). Caches of rows other
    /// processes may change (tokens) are used only while this holds.
    pub fn is_complete(&self) -> bool {
        if self.inner.outbox.is_some() {
            self.inner.connected.load(Ordering::SeqCst)
        } else {
            self.inner.single_process
        }
    }

    /// `"local"` (no broker), `"connected"` or `"disconnected"`, for health checks.
    pub fn status(&self) -> &'static str {
        match (self.inner.outbox.is_some(), self.inner.connected.load(Ordering::SeqCst)) {
            (false, _) => "local",
            (true, true) => "connected",
            (true, false) => "disconnected",
        }
    }

    /// On shutdown: ends every change stream, stops listening, and tells the other processes
    /// that this one has gone (their revoking writes stop waiting for its acknowledgement).
    /// The changes of writes that finish afterwards (a graceful stop's requests in flight) are
    /// still published: call [`flush`](Self::flush) once the server has stopped.
    pub fn close(&self) {
        if !self.inner.closed.send_replace(true) {
            self.inner.send(Outgoing::Goodbye);
        }
    }

    /// Waits until every message published so far has been passed to the broker, at most
    /// [`CONFIRM_TIMEOUT`]: the last thing a process does before it exits, so that the others
    /// hear of its last writes. At once without a broker.
    pub async fn flush(&self) {
        let inner = &self.inner;
        if inner.outbox.is_none() {
            return;
        }
        let target = inner.queued.load(Ordering::SeqCst);
        let mut handed = inner.handed.subscribe();
        if tokio::time::timeout(CONFIRM_TIMEOUT, handed.wait_for(|n| *n >= target)).await.is_err() {
            tracing::warn!(target: "persisted_model::changes", "changes were still unpublished at shutdown");
        }
    }

    /// Resolves once the feed is closed.
    pub async fn closed(&self) {
        self.inner.wait_closed().await;
    }
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("broker", &self.inner.outbox.is_some())
            .field("complete", &self.is_complete())
            .finish_non_exhaustive()
    }
}

impl FeedInner {
    fn new(
        outbox: Option<mpsc::UnboundedSender<Outgoing>>,
        single_process: bool,
        listeners: Vec<FeedListener>,
    ) -> Self {
        Self {
            process: process_id(),
            seq: AtomicU64::new(0),
            local: broadcast::channel(SUBSCRIBER_BUFFER).0,
            outbox,
            listeners,
            single_process,
            connected: AtomicBool::new(false),
            echoed: AtomicU64::new(0),
            awaited: Mutex::new((0, Instant::now())),
            peers: Mutex::new(HashMap::new()),
            echo: Notify::new(),
            closed: watch::channel(false).0,
            queued: AtomicU64::new(0),
            handed: watch::channel(0).0,
        }
    }

    fn dispatch(&self, change: Arc<ModelChange>) {
        self.tell_listeners(Notice::Change(&change));
        // No subscriber is not an error.
        let _ = self.local.send(change);
    }

    fn send(&self, message: Outgoing) {
        let Some(outbox) = &self.outbox else { return };
        self.queued.fetch_add(1, Ordering::SeqCst);
        if outbox.send(message).is_err() {
            tracing::warn!(target: "persisted_model::changes", "the change publisher has stopped");
        }
    }

    /// Whether change `wanted`, published at `at`, is back from the broker and acknowledged by
    /// every live process that was already listening then.
    fn is_confirmed(&self, wanted: u64, at: Instant) -> bool {
        if self.echoed.load(Ordering::SeqCst) < wanted {
            return false;
        }
        let Ok(peers) = self.peers.lock() else { return true };
        peers.values().filter(|p| p.first_seen < at && p.last_seen.elapsed() < PEER_TTL).all(|p| p.acked >= wanted)
    }

    pub(super) fn receive(&self, message: &str) {
        let header = match serde_json::from_str::<Header>(message) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(target: "persisted_model::changes", error = %e, "an unreadable change message was ignored");
                return;
            }
        };
        if header.process == self.process {
            if let Some(seq) = header.seq {
                self.echoed.fetch_max(seq, Ordering::SeqCst);
                self.echo.notify_waiters();
            }
            return;
        }
        if let Ok(mut peers) = self.peers.lock() {
            let now = Instant::now();
            if header.bye {
                peers.remove(&header.process);
            } else if header.hello || header.ack.is_some() {
                // Only a listening process says hello or acknowledges; a change alone may come
                // from one that has said goodbye and is finishing its last requests.
                let known = peers.contains_key(&header.process);
                let peer =
                    peers.entry(header.process.clone()).or_insert(Peer { first_seen: now, last_seen: now, acked: 0 });
                peer.last_seen = now;
                // A newcomer learns of this process at once, not at its next hello: until then
                // its revoking writes would not wait for this process.
                if header.hello && !known && !self.is_closed() {
                    self.send(Outgoing::Hello);
                }
                if let Some((to, seq)) = &header.ack
                    && *to == self.process
                {
                    peer.acked = peer.acked.max(*seq);
                }
            } else if let Some(peer) = peers.get_mut(&header.process) {
                peer.last_seen = now;
            }
            peers.retain(|_, p| p.last_seen.elapsed() < PEER_TTL);
        }
        if header.bye {
            // Writes waiting for its acknowledgement stop waiting.
            self.echo.notify_waiters();
            return;
        }
        if header.ack.is_some() {
            self.echo.notify_waiters();
            return;
        }
        if header.hello {
            return;
        }
        match serde_json::from_str::<Received>(message) {
            Ok(received) => {
                self.dispatch(Arc::new(received.change));
                // Applied (the listeners ran): the sender may answer its write.
                if received.confirm {
                    self.send(Outgoing::Ack { to: received.process, seq: received.seq });
                }
            }
            Err(e) => {
                tracing::warn!(target: "persisted_model::changes", error = %e, "an unreadable change message was ignored");
            }
        }
    }

    pub(super) fn set_connected(&self, yes: bool) {
        // Losing the connection may have lost changes, and so may the time before it came
        // back: listeners drop what they built on the feed before it is relied on again.
        if yes {
            if !self.connected.load(Ordering::SeqCst) {
                self.tell_listeners(Notice::MayHaveMissed);
                self.connected.store(true, Ordering::SeqCst);
                // The others wait for this process's acknowledgements from now on.
                self.send(Outgoing::Hello);
                tracing::info!(target: "persisted_model::changes", "the change broker is connected");
            }
            return;
        }
        let was = self.connected.swap(false, Ordering::SeqCst);
        self.echo.notify_waiters();
        self.tell_listeners(Notice::MayHaveMissed);
        if was && !self.is_closed() {
            tracing::warn!(target: "persisted_model::changes", "the change broker's connection was lost");
        }
    }

    fn tell_listeners(&self, notice: Notice<'_>) {
        for listener in &self.listeners {
            listener(notice);
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    pub(super) async fn wait_closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }
}

/// Most messages sent in one call to the broker.
const PUBLISH_BATCH: usize = 256;

/// How long a change waits for others to go out with it.
const PUBLISH_LINGER: Duration = Duration::from_millis(1);

/// Sends the process's messages through the broker, in order, and says hello every
/// [`HELLO_EVERY`].
async fn publish_all(
    broker: Arc<dyn ChangeBroker>,
    mut outbox: mpsc::UnboundedReceiver<Outgoing>,
    feed: Arc<FeedInner>,
) {
    let max = broker.max_message();
    let mut hello = tokio::time::interval_at(tokio::time::Instant::now() + HELLO_EVERY, HELLO_EVERY);
    // Once closed (the goodbye is queued then): no more hellos, and the changes of the writes
    // still finishing go out as before (the task ends with the runtime).
    loop {
        let (message, mut taken) = tokio::select! {
            m = outbox.recv() => match m {
                Some(m) => (m, 1u64),
                None => return,
            },
            _ = hello.tick(), if !feed.is_closed() => (Outgoing::Hello, 0),
        };
        // What queued up meanwhile goes out with it, in one round trip where the broker can.
        // Under a stream of writes, a millisecond's wait gathers them: on PostgreSQL every
        // publishing statement is a transaction that wakes every listening process.
        if outbox.is_empty() && matches!(message, Outgoing::Change { .. }) {
            tokio::time::sleep(PUBLISH_LINGER).await;
        }
        let mut batch = vec![encode(&feed.process, &message, max)];
        while batch.len() < PUBLISH_BATCH
            && let Ok(more) = outbox.try_recv()
        {
            batch.push(encode(&feed.process, &more, max));
            taken += 1;
        }
        if let Err(e) = broker.publish_many(batch).await {
            // The other processes miss these messages: their token caches age out (see the
            // access-token crate), their subscribers miss one event, a write waits its time out.
            tracing::error!(target: "persisted_model::changes", error = %e, "changes could not be published");
        }
        // Passed on (or given up): `flush` waits for no more than this.
        feed.handed.send_modify(|n| *n += taken);
    }
}

/// The broker's message: a change without its data when it would not fit in `max` bytes
/// (receivers then load the instance by its id).
fn encode(process: &str, message: &Outgoing, max: usize) -> String {
    let small = |ack: Option<(String, u64)>, hello: bool, bye: bool| {
        serde_json::to_string(&Header { process: process.to_owned(), seq: None, ack, hello, bye }).unwrap_or_default()
    };
    let (seq, change, confirm) = match message {
        Outgoing::Change { seq, change, confirm } => (*seq, change, *confirm),
        Outgoing::Ack { to, seq } => return small(Some((to.clone(), *seq)), false, false),
        Outgoing::Hello => return small(None, true, false),
        Outgoing::Goodbye => return small(None, false, true),
    };
    let text = serde_json::to_string(&Envelope { process, seq, confirm, change }).unwrap_or_default();
    if text.len() <= max {
        return text;
    }
    let change = ModelChange { data: None, removed: None, reload: true, ..(**change).clone() };
    serde_json::to_string(&Envelope { process, seq, confirm, change: &change }).unwrap_or_default()
}

/// A random id for this process's feed.
fn process_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::product_definition;

    #[tokio::test]
    async fn subscribers_and_listeners_hear_local_changes() {
        let heard = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&heard);
        let listener: FeedListener = Arc::new(move |n| {
            if matches!(n, Notice::Change(_)) {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        let feed = ChangeFeed::with_listeners(None, true, vec![listener]);
        let mut rx = feed.subscribe();
        let row = json!({"id": 1, "name": "Pen"}).as_object().unwrap().clone();
        feed.publish(ModelChange::created(&product_definition(), &row), true);
        assert_eq!(rx.recv().await.unwrap().target, Some(json!(1)));
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        // Nothing to confirm without a broker.
        feed.confirmed().await;
        assert!(feed.is_complete());
        assert!(!ChangeFeed::with_listeners(None, false, Vec::new()).is_complete());
    }

    #[tokio::test]
    async fn a_change_is_confirmed_once_every_listening_process_acknowledged_it() {
        let feed = ChangeFeed::with_listeners(None, false, Vec::new());
        let inner = &feed.inner;
        let me = inner.process.clone();
        inner.receive(r#"{"p":"other","hello":true}"#);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let at = Instant::now();
        // Back from the broker, but the other process has not applied it yet.
        inner.receive(&format!(r#"{{"p":"{me}","s":1,"m":"AccessToken","tb":"t","k":"remove"}}"#));
        assert!(!inner.is_confirmed(1, at));
        // An acknowledgement meant for another process does not count.
        inner.receive(r#"{"p":"other","ack":["someone else",1]}"#);
        assert!(!inner.is_confirmed(1, at));
        inner.receive(&format!(r#"{{"p":"other","ack":["{me}",1]}}"#));
        assert!(inner.is_confirmed(1, at));
        // A process first heard of after the change was published never had it to apply.
        inner.receive(r#"{"p":"newcomer","hello":true}"#);
        assert!(inner.is_confirmed(1, at));
    }

    #[tokio::test]
    async fn a_process_that_said_goodbye_is_not_waited_for() {
        let feed = ChangeFeed::with_listeners(None, false, Vec::new());
        let inner = &feed.inner;
        let me = inner.process.clone();
        inner.receive(r#"{"p":"leaving","hello":true}"#);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let at = Instant::now();
        inner.receive(&format!(r#"{{"p":"{me}","s":1,"m":"AccessToken","tb":"t","k":"remove"}}"#));
        assert!(!inner.is_confirmed(1, at));
        inner.receive(r#"{"p":"leaving","bye":true}"#);
        assert!(inner.is_confirmed(1, at));
        // Its last writes' changes still arrive, and do not make it a listener again.
        inner.receive(r#"{"p":"leaving","s":7,"m":"AccessToken","tb":"t","k":"remove"}"#);
        let at = Instant::now();
        inner.receive(&format!(r#"{{"p":"{me}","s":2,"m":"AccessToken","tb":"t","k":"remove"}}"#));
        assert!(inner.is_confirmed(2, at));
        assert_eq!(encode("p", &Outgoing::Goodbye, 100), r#"{"p":"p","bye":true}"#);
    }

    #[tokio::test]
    async fn a_newcomer_is_answered_with_a_hello_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let inner = FeedInner::new(Some(tx), false, Vec::new());
        inner.receive(r#"{"p":"newcomer","hello":true}"#);
        assert!(matches!(rx.try_recv(), Ok(Outgoing::Hello)));
        // Known now: its next hellos, and the others' answers, are not answered again.
        inner.receive(r#"{"p":"newcomer","hello":true}"#);
        assert!(rx.try_recv().is_err());
        inner.closed.send_replace(true);
        inner.receive(r#"{"p":"late","hello":true}"#);
        assert!(rx.try_recv().is_err(), "a closed feed does not say hello");
    }

    #[test]
    fn a_large_change_travels_without_its_data() {
        let row = json!({"id": 1, "name": "x".repeat(500)}).as_object().unwrap().clone();
        let change = Arc::new(ModelChange::created(&product_definition(), &row));
        let message = encode("p", &Outgoing::Change { seq: 1, change, confirm: false }, 200);
        assert!(message.len() < 200, "{message}");
        let back: Received = serde_json::from_str(&message).unwrap();
        assert!(back.change.reload && back.change.data.is_none());
        assert_eq!(back.change.target, Some(json!(1)));
    }
}
