//! The change feed of one process: what its writes committed, and what the broker brought from
//! the other processes, handed to the change streams and to the caches that depend on it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, mpsc, watch};

use super::broker::{ChangeBroker, Inbox};
use super::change::{ChangeKind, ModelChange};
use super::lease::{EpochReader, LEASE, RENEW_EVERY};
use super::peer::{HELLO_EVERY, Heard, Outgoing, Peers};
use super::wire::FeedSecret;

/// Changes kept for subscribers that have not read them yet; a subscriber that falls further
/// behind is dropped (its stream ends with an error event) instead of growing memory.
pub const SUBSCRIBER_BUFFER: usize = 1_024;

/// How long a write that revokes something (a token) waits, at most, before it is answered:
/// by then every process has applied it or stopped serving from its caches (see
/// [`lease`](super::lease)).
pub const CONFIRM_TIMEOUT: Duration = LEASE;

/// What a feed listener hears.
#[derive(Debug, Clone, Copy)]
pub enum Notice<'a> {
    /// A committed change, from this process or another.
    Change(&'a ModelChange),
    /// Changes may have been missed (the broker's connection was lost, or is back after a
    /// loss), or a revocation committed somewhere (the epoch moved): anything cached on the
    /// strength of the feed must be dropped.
    MayHaveMissed,
}

/// A function told of every change and loss, synchronously, before subscribers see them.
pub type FeedListener = Arc<dyn Fn(Notice<'_>) + Send + Sync>;

/// What change streams hear: a change, or that they may have missed some (and must check
/// again whatever they rely on, such as their caller's token).
#[derive(Debug, Clone)]
pub enum FeedEvent {
    /// A committed change.
    Change(Arc<ModelChange>),
    /// Changes may have been missed, or a revocation committed somewhere.
    MayHaveMissed,
}

/// The process's change feed. Cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed {
    pub(super) inner: Arc<FeedInner>,
}

/// What a feed shared with other processes needs: the broker, the secret its messages are
/// signed with, and where the revocation epoch is read.
pub(crate) struct SharedFeed {
    pub broker: Arc<dyn ChangeBroker>,
    pub secret: FeedSecret,
    pub epoch: EpochReader,
}

pub(crate) struct FeedInner {
    /// This process's side of the peer protocol: its messages, and what it knows of the others.
    pub(super) peers: Peers,
    /// Sequence numbers of this process's changes.
    seq: AtomicU64,
    /// Changes are numbered and queued under this lock, so they go out in the order of their
    /// numbers (an acknowledgement of one then covers every earlier one that went out).
    ordering: Mutex<()>,
    local: broadcast::Sender<FeedEvent>,
    outbox: Option<mpsc::UnboundedSender<Outgoing>>,
    listeners: Vec<FeedListener>,
    /// Without a broker: whether this process sees every write (an embedded database).
    single_process: bool,
    connected: AtomicBool,
    /// When the revocation epoch was last read (the start of the reading).
    lease: Mutex<Option<Instant>>,
    /// Woken by echoes, acknowledgements and losses.
    echo: Notify,
    closed: watch::Sender<bool>,
    /// Messages handed to the publishing task, and how many of them it has passed to the
    /// broker (for [`ChangeFeed::flush`]).
    queued: AtomicU64,
    handed: watch::Sender<u64>,
}

impl ChangeFeed {
    /// Starts a feed: with a broker, its listening, publishing and epoch-reading tasks are
    /// spawned on the current tokio runtime.
    pub(crate) fn start(shared: Option<SharedFeed>, single_process: bool, listeners: Vec<FeedListener>) -> Self {
        let Some(SharedFeed { broker, secret, epoch }) = shared else {
            return Self { inner: Arc::new(FeedInner::new(None, FeedSecret::new(""), single_process, listeners)) };
        };
        let (outbox, outbox_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(FeedInner::new(Some(outbox), secret, single_process, listeners));
        let receiver: Arc<dyn super::broker::Receiver> = inner.clone();
        tokio::spawn(Arc::clone(&broker).listen(Inbox { feed: receiver }));
        tokio::spawn(publish_all(broker, outbox_rx, Arc::clone(&inner)));
        tokio::spawn(renew_lease(epoch, Arc::clone(&inner)));
        Self { inner }
    }

    /// A feed of this process alone (tests).
    #[cfg(test)]
    pub(crate) fn with_listeners(single_process: bool, listeners: Vec<FeedListener>) -> Self {
        Self::start(None, single_process, listeners)
    }

    /// Hands a committed change to this process's subscribers and listeners, and to the
    /// broker for the others; returns its number. `confirm`: [`confirmed`](Self::confirmed)
    /// can wait for it.
    pub fn publish(&self, change: ModelChange, confirm: bool) -> u64 {
        let inner = &self.inner;
        let change = Arc::new(change);
        let seq = {
            let _order = inner.ordering.lock();
            let seq = inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
            // Encoded by the publishing task, off the request's path.
            inner.send(Outgoing::Change { seq, change: Arc::clone(&change), confirm });
            seq
        };
        inner.dispatch(change);
        seq
    }

    /// Waits until change `wanted` (published with `confirm`) has been applied by every process
    /// that may have been listening when it was published (each acknowledges it once its
    /// listeners have run: a revoked token is out of its cache), or until [`LEASE`] has passed
    /// since `committed` (by then a process that has not applied a revocation has stopped
    /// serving from its caches: see [`lease`](super::lease)). At once without a broker.
    pub async fn confirmed(&self, wanted: u64, committed: tokio::time::Instant) {
        let inner = &self.inner;
        if inner.outbox.is_none() || wanted == 0 {
            return;
        }
        loop {
            let notified = inner.echo.notified();
            if inner.peers.is_confirmed(wanted) {
                return;
            }
            let Some(left) = LEASE.checked_sub(committed.elapsed()) else {
                tracing::debug!(target: "persisted_model::changes", "a change was not acknowledged by every process: answered after the lease");
                return;
            };
            // Looked at again when it has listened long enough to know its peers.
            let known_in = inner.peers.knows_peers_in();
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(known_in.map_or(left, |d| d.min(left))) => {}
            }
        }
    }

    /// Every change from now on, for one subscriber (a bounded buffer: see
    /// [`SUBSCRIBER_BUFFER`]), and notices of possible losses.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.inner.local.subscribe()
    }

    /// Whether a change stream may hear of a change now: one is open in this process, or a
    /// broker carries changes to others.
    pub fn may_have_subscribers(&self) -> bool {
        self.inner.outbox.is_some() || self.inner.local.receiver_count() > 0
    }

    /// Whether every change to the database reaches this process, so that caches of rows other
    /// processes may change (tokens, roles) may be used: without a broker, a database only
    /// this process writes (SQLite); with one, while it is connected, this process has heard
    /// its own messages back since, and its reading of the revocation epoch is younger than
    /// [`LEASE`]. Never once the feed is closed.
    pub fn is_complete(&self) -> bool {
        let inner = &self.inner;
        if inner.outbox.is_none() {
            return inner.single_process;
        }
        !inner.is_closed()
            && inner.connected.load(Ordering::SeqCst)
            && inner.peers.heard_self.load(Ordering::SeqCst)
            && inner.lease.lock().ok().and_then(|l| *l).is_some_and(|at| at.elapsed() < LEASE)
    }

    /// Whether writes of revoking changes raise the revocation epoch (processes share the
    /// database through a broker).
    pub(crate) fn shares_epoch(&self) -> bool {
        self.inner.outbox.is_some()
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
        secret: FeedSecret,
        single_process: bool,
        listeners: Vec<FeedListener>,
    ) -> Self {
        Self {
            peers: Peers::new(secret),
            seq: AtomicU64::new(0),
            ordering: Mutex::new(()),
            local: broadcast::channel(SUBSCRIBER_BUFFER).0,
            outbox,
            listeners,
            single_process,
            connected: AtomicBool::new(false),
            lease: Mutex::new(None),
            echo: Notify::new(),
            closed: watch::channel(false).0,
            queued: AtomicU64::new(0),
            handed: watch::channel(0).0,
        }
    }

    fn dispatch(&self, change: Arc<ModelChange>) {
        self.tell_listeners(Notice::Change(&change));
        // No subscriber is not an error.
        let _ = self.local.send(FeedEvent::Change(change));
    }

    fn send(&self, message: Outgoing) {
        let Some(outbox) = &self.outbox else { return };
        self.queued.fetch_add(1, Ordering::SeqCst);
        if outbox.send(message).is_err() {
            tracing::warn!(target: "persisted_model::changes", "the change publisher has stopped");
        }
    }

    pub(super) fn receive(&self, text: &str) {
        let connected = self.connected.load(Ordering::SeqCst);
        match self.peers.receive(text, connected, self.is_closed()) {
            Heard::Nothing => {}
            Heard::Wake => self.echo.notify_waiters(),
            Heard::Answer => self.send(Outgoing::Hello),
            Heard::Change { change, ack } => {
                self.dispatch(Arc::new(*change));
                // Applied (the listeners ran): the sender may answer its write.
                if let Some((to, seq)) = ack {
                    self.send(Outgoing::Ack { to, seq });
                }
            }
        }
    }

    pub(super) fn set_connected(&self, yes: bool) {
        // Losing the connection may have lost changes, and so may the time before it came
        // back: listeners drop what they built on the feed before it is relied on again.
        if yes {
            if !self.connected.load(Ordering::SeqCst) {
                self.peers.connected(true);
                self.may_have_missed();
                self.connected.store(true, Ordering::SeqCst);
                // The others wait for this process's acknowledgements from now on, and its
                // own hello coming back ends the time it cannot know what it missed.
                self.send(Outgoing::Hello);
                tracing::info!(target: "persisted_model::changes", "the change broker is connected");
            }
            return;
        }
        let was = self.connected.swap(false, Ordering::SeqCst);
        self.peers.connected(false);
        self.echo.notify_waiters();
        self.may_have_missed();
        if was && !self.is_closed() {
            tracing::warn!(target: "persisted_model::changes", "the change broker's connection was lost");
        }
    }

    /// Tells listeners and change streams that changes may have been missed.
    fn may_have_missed(&self) {
        self.tell_listeners(Notice::MayHaveMissed);
        let _ = self.local.send(FeedEvent::MayHaveMissed);
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

impl super::broker::Receiver for FeedInner {
    fn receive(&self, message: &str) {
        FeedInner::receive(self, message);
    }

    fn set_connected(&self, yes: bool) {
        FeedInner::set_connected(self, yes);
    }

    fn is_closed(&self) -> bool {
        FeedInner::is_closed(self)
    }

    fn wait_closed(&self) -> super::broker::SendFuture<'_, ()> {
        Box::pin(FeedInner::wait_closed(self))
    }
}

/// Reads the revocation epoch every [`RENEW_EVERY`]: a reading renews the lease that lets
/// this process serve from its caches, and a changed epoch (a revocation committed by some
/// process) empties them.
async fn renew_lease(reader: EpochReader, feed: Arc<FeedInner>) {
    let mut last = None;
    let mut failing = false;
    let mut tick = tokio::time::interval(RENEW_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = feed.wait_closed() => return,
        }
        let started = Instant::now();
        match tokio::time::timeout(LEASE, reader.read()).await {
            Ok(Ok(epoch)) => {
                // A revocation committed somewhere: caches are emptied. (Change streams learn of
                // it from its change; they check again at their keep-alive in case it was lost.)
                if last.is_some_and(|l| l != epoch) {
                    feed.tell_listeners(Notice::MayHaveMissed);
                }
                last = Some(epoch);
                if let Ok(mut lease) = feed.lease.lock() {
                    *lease = Some(started);
                }
                if failing {
                    failing = false;
                    tracing::info!(target: "persisted_model::changes", "the revocation epoch is read again");
                }
            }
            outcome => {
                if !failing {
                    let error = match outcome {
                        Ok(Err(e)) => e,
                        _ => "timed out".to_owned(),
                    };
                    tracing::warn!(target: "persisted_model::changes", error = %error, "cannot read the revocation epoch: caches are off until it is read again");
                }
                failing = true;
            }
        }
    }
}

/// Most messages sent in one call to the broker.
const PUBLISH_BATCH: usize = 256;

/// How long a change waits for others to go out with it.
const PUBLISH_LINGER: Duration = Duration::from_millis(1);

/// Sends the process's messages through the broker, in order, and says hello every
/// [`HELLO_EVERY`]. A batch the broker refuses is sent again one message at a time, so one bad
/// message (or a moment's failure) loses no other.
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
        let mut batch = vec![feed.peers.encode(&message, max)];
        let mut seqs = vec![message.change_seq()];
        while batch.len() < PUBLISH_BATCH
            && let Ok(more) = outbox.try_recv()
        {
            batch.push(feed.peers.encode(&more, max));
            seqs.push(more.change_seq());
            taken += 1;
        }
        if let Err(e) = broker.publish_many(&batch).await {
            tracing::warn!(target: "persisted_model::changes", error = %e, messages = batch.len(), "a batch of changes was refused: sending them one by one");
            for (message, seq) in batch.iter().zip(&seqs) {
                if let Err(e) = broker.publish(message).await {
                    // The others miss this message: a revocation is still seen within the
                    // lease (the epoch), a change stream misses one event.
                    tracing::error!(target: "persisted_model::changes", error = %e, "a change could not be published");
                    if let Some(seq) = seq {
                        feed.peers.lost(*seq);
                    }
                }
            }
        }
        // Passed on (or given up): `flush` waits for no more than this.
        feed.handed.send_modify(|n| *n += taken);
    }
}

/// Whether a change of a model whose changes need confirming may revoke something (a create
/// grants at most; an `updateAll`, which LoopBack names a create, may revoke): its write
/// raises the revocation epoch.
pub(crate) fn revokes(change: &ModelChange) -> bool {
    change.kind != ChangeKind::Create || change.partial
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::changes::wire;
    use crate::testing::product_definition;

    /// A feed with a broker that is never started, listening long enough to know its peers:
    /// what it would send is in the receiver.
    fn shared_feed() -> (FeedInner, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = FeedInner::new(Some(tx), FeedSecret::new("k"), false, Vec::new());
        *inner.peers.connected_at.lock().unwrap() = Instant::now().checked_sub(super::super::peer::KNOWS_PEERS_AFTER);
        (inner, rx)
    }

    /// A message from `process`, signed with the test secret.
    fn from(process: &str, number: u64, what: serde_json::Value) -> String {
        let mut message = json!({"p": process, "n": number, "at": wire::now_ms()});
        message.as_object_mut().unwrap().extend(what.as_object().unwrap().clone());
        FeedSecret::new("k").sign(&message.to_string())
    }

    fn token_removed(seq: u64) -> serde_json::Value {
        json!({"s": seq, "c": true, "m": "AccessToken", "tb": "t", "k": "remove"})
    }

    #[tokio::test]
    async fn subscribers_and_listeners_hear_local_changes() {
        let heard = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&heard);
        let listener: FeedListener = Arc::new(move |n| {
            if matches!(n, Notice::Change(_)) {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        let feed = ChangeFeed::with_listeners(true, vec![listener]);
        let mut rx = feed.subscribe();
        let row = json!({"id": 1, "name": "Pen"}).as_object().unwrap().clone();
        feed.publish(ModelChange::created(&product_definition(), &row), true);
        let FeedEvent::Change(change) = rx.recv().await.unwrap() else { panic!("a change") };
        assert_eq!(change.target, Some(json!(1)));
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        // Nothing to confirm without a broker.
        feed.confirmed(1, tokio::time::Instant::now()).await;
        assert!(feed.is_complete());
        assert!(!ChangeFeed::with_listeners(false, Vec::new()).is_complete());
    }

    #[tokio::test]
    async fn a_change_is_confirmed_once_every_process_listening_before_it_acknowledged_it() {
        let (inner, _rx) = shared_feed();
        let me = inner.peers.process.clone();
        inner.receive(&from("other", 1, json!({"hello": true})));
        // Back from the broker, but the other process has not applied it yet.
        inner.receive(&from(&me, 1, token_removed(1)));
        assert!(!inner.peers.is_confirmed(1));
        // An acknowledgement meant for another process does not count.
        inner.receive(&from("other", 2, json!({"ack": ["someone else", 1]})));
        assert!(!inner.peers.is_confirmed(1));
        inner.receive(&from("other", 3, json!({"ack": [me, 1]})));
        assert!(inner.peers.is_confirmed(1));
        // A process first heard of after the change came back read it before its hello.
        inner.receive(&from("newcomer", 1, json!({"hello": true})));
        assert!(inner.peers.is_confirmed(1));
        // But it must acknowledge the next one.
        inner.receive(&from(&me, 2, token_removed(2)));
        assert!(!inner.peers.is_confirmed(2));
    }

    #[tokio::test]
    async fn forged_stale_and_replayed_messages_are_dropped() {
        let (inner, mut rx) = shared_feed();
        let me = inner.peers.process.clone();
        inner.receive(&from("other", 5, json!({"hello": true})));
        assert!(matches!(rx.try_recv(), Ok(Outgoing::Hello)));
        // Unsigned (as a database login could NOTIFY it), or signed with another secret.
        let unsigned = json!({"p": "fake", "n": 1, "at": wire::now_ms(), "hello": true}).to_string();
        inner.receive(&unsigned);
        inner.receive(&FeedSecret::new("guess").sign(&unsigned));
        assert!(rx.try_recv().is_err(), "a forged hello is not answered");
        assert!(!inner.peers.knows("fake"));
        // A replay of the other's hello (same number) is not a new message.
        inner.receive(&from(&me, 1, token_removed(1)));
        inner.receive(&from("other", 5, json!({"ack": [me, 1]})));
        assert!(!inner.peers.is_confirmed(1), "a replayed number is ignored");
        inner.receive(&from("other", 6, json!({"ack": [me, 1]})));
        assert!(inner.peers.is_confirmed(1));
        assert!(inner.peers.dropped.load(Ordering::Relaxed) >= 3);
    }

    #[tokio::test]
    async fn a_process_that_said_goodbye_is_not_waited_for() {
        let (inner, _rx) = shared_feed();
        let me = inner.peers.process.clone();
        inner.receive(&from("leaving", 1, json!({"hello": true})));
        inner.receive(&from(&me, 1, token_removed(1)));
        assert!(!inner.peers.is_confirmed(1));
        inner.receive(&from("leaving", 2, json!({"bye": true})));
        assert!(inner.peers.is_confirmed(1));
        // Its last writes' changes still arrive, and do not make it a listener again.
        inner.receive(&from("leaving", 3, token_removed(7)));
        inner.receive(&from(&me, 2, token_removed(2)));
        assert!(inner.peers.is_confirmed(2));
    }

    #[tokio::test]
    async fn a_newcomer_is_answered_with_a_hello_once() {
        let (inner, mut rx) = shared_feed();
        inner.receive(&from("newcomer", 1, json!({"hello": true})));
        assert!(matches!(rx.try_recv(), Ok(Outgoing::Hello)));
        // Known now: its next hellos, and the others' answers, are not answered again.
        inner.receive(&from("newcomer", 2, json!({"hello": true})));
        assert!(rx.try_recv().is_err());
        inner.closed.send_replace(true);
        inner.receive(&from("late", 1, json!({"hello": true})));
        assert!(rx.try_recv().is_err(), "a closed feed does not say hello");
    }

    #[tokio::test]
    async fn caches_wait_for_the_own_echo_and_a_fresh_lease() {
        let (inner, _rx) = shared_feed();
        let feed = ChangeFeed { inner: Arc::new(inner) };
        let inner = &feed.inner;
        inner.set_connected(true);
        assert!(!feed.is_complete(), "its own hello has not come back");
        inner.receive(&from(&inner.peers.process, 1, json!({"hello": true})));
        assert!(!feed.is_complete(), "no reading of the epoch yet");
        *inner.lease.lock().unwrap() = Some(Instant::now());
        assert!(feed.is_complete());
        *inner.lease.lock().unwrap() = Instant::now().checked_sub(LEASE);
        assert!(!feed.is_complete(), "the lease ran out");
        *inner.lease.lock().unwrap() = Some(Instant::now());
        inner.set_connected(false);
        inner.set_connected(true);
        assert!(!feed.is_complete(), "after a reconnection the own hello must come back again");
    }

    #[tokio::test]
    async fn an_unconfirmed_change_is_answered_after_the_lease() {
        let (inner, _rx) = shared_feed();
        let feed = ChangeFeed { inner: Arc::new(inner) };
        feed.inner.receive(&from("silent", 1, json!({"hello": true})));
        let row = json!({"id": 1}).as_object().unwrap().clone();
        let committed = tokio::time::Instant::now();
        let seq = feed.publish(ModelChange::updated(&product_definition(), &row), true);
        let waited = tokio::time::timeout(LEASE * 2, feed.confirmed(seq, committed)).await;
        assert!(waited.is_ok(), "answered within the lease");
        assert!(committed.elapsed() >= LEASE, "not before: the silent process did not acknowledge");
    }

    #[tokio::test]
    async fn a_lost_change_is_not_confirmed_by_a_later_one() {
        let (inner, _rx) = shared_feed();
        let me = inner.peers.process.clone();
        inner.peers.lost(5);
        inner.receive(&from(&me, 1, token_removed(6)));
        assert!(inner.peers.is_confirmed(6));
        assert!(!inner.peers.is_confirmed(5), "5 never went out: its write waits the lease");
    }

    #[tokio::test]
    async fn a_process_that_may_not_know_its_peers_waits_the_lease() {
        let (inner, _rx) = shared_feed();
        let me = inner.peers.process.clone();
        inner.receive(&from(&me, 1, token_removed(1)));
        assert!(inner.peers.is_confirmed(1));
        // Just connected: the hellos of the others may not have come yet.
        *inner.peers.connected_at.lock().unwrap() = Some(Instant::now());
        assert!(!inner.peers.is_confirmed(1));
        *inner.peers.connected_at.lock().unwrap() = Instant::now().checked_sub(super::super::peer::KNOWS_PEERS_AFTER);
        // A signed message from a process whose clock is off: it cannot be known as a peer.
        let skewed = json!({"p": "skewed", "n": 1, "at": wire::now_ms() - 3_600_000, "hello": true});
        inner.receive(&FeedSecret::new("k").sign(&skewed.to_string()));
        assert!(!inner.peers.is_confirmed(1));
    }

    #[test]
    fn updates_and_deletes_revoke_creates_do_not() {
        let def = product_definition();
        let row = json!({"id": 1}).as_object().unwrap().clone();
        assert!(!revokes(&ModelChange::created(&def, &row)));
        assert!(revokes(&ModelChange::updated(&def, &row)));
        let where_ = crate::filter::Where::eq("name", json!("a"));
        assert!(revokes(&ModelChange::updated_where(&def, &where_, &row)), "an updateAll LoopBack names a create");
        assert!(revokes(&ModelChange::removed(&def, &where_, None)));
    }

    /// Refuses a batch holding a message with `refuse` in it, and that message alone.
    struct Picky {
        refuse: &'static str,
        sent: Mutex<Vec<String>>,
    }

    impl ChangeBroker for Picky {
        fn publish<'a>(
            &'a self,
            message: &'a str,
        ) -> super::super::SendFuture<'a, Result<(), super::super::BrokerError>> {
            Box::pin(async move {
                if message.contains(self.refuse) {
                    return Err(super::super::BrokerError("refused".into()));
                }
                self.sent.lock().unwrap().push(message.to_owned());
                Ok(())
            })
        }

        fn publish_many<'a>(
            &'a self,
            messages: &'a [String],
        ) -> super::super::SendFuture<'a, Result<(), super::super::BrokerError>> {
            Box::pin(async move {
                if messages.iter().any(|m| m.contains(self.refuse)) {
                    return Err(super::super::BrokerError("one message was refused: the batch failed".into()));
                }
                self.sent.lock().unwrap().extend(messages.iter().cloned());
                Ok(())
            })
        }

        fn listen(self: Arc<Self>, _inbox: Inbox) -> super::super::SendFuture<'static, ()> {
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn a_refused_batch_is_sent_again_one_by_one() {
        let broker = Arc::new(Picky { refuse: "Refused", sent: Mutex::new(Vec::new()) });
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(FeedInner::new(Some(tx), FeedSecret::new("k"), false, Vec::new()));
        let def = product_definition();
        for name in ["Before", "Refused", "Logout"] {
            let row = json!({"id": 1, "name": name}).as_object().unwrap().clone();
            inner.send(Outgoing::Change { seq: 1, change: Arc::new(ModelChange::updated(&def, &row)), confirm: true });
        }
        let task = tokio::spawn(publish_all(broker.clone(), rx, Arc::clone(&inner)));
        let mut handed = inner.handed.subscribe();
        tokio::time::timeout(Duration::from_secs(5), handed.wait_for(|n| *n >= 3)).await.unwrap().unwrap();
        task.abort();
        let sent = broker.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert!(sent[0].contains("Before") && sent[1].contains("Logout"), "{sent:?}");
    }
}
