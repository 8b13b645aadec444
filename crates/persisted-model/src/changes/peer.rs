//! The peer protocol: what a process tells the others (its changes, acknowledgements, hellos
//! and goodbyes), what it knows of them from their messages, and when a change of its own has
//! been applied by every one that may have been listening.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::change::ModelChange;
use super::lease::LEASE;
use super::wire::{self, Dropped, FeedSecret, Header, Message};

/// How often a process tells the others that it is there.
pub(super) const HELLO_EVERY: Duration = Duration::from_secs(1);

/// A process not heard from for this long is no longer waited for.
pub(super) const PEER_TTL: Duration = Duration::from_secs(5);

/// How long a process listens before it trusts that it knows every other (each says hello
/// every [`HELLO_EVERY`]): until then, and while messages with another clock arrive, its
/// revoking writes wait the whole lease instead of the acknowledgements.
pub(super) const KNOWS_PEERS_AFTER: Duration = Duration::from_millis(1_500);

/// What a process sends.
pub(super) enum Outgoing {
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

impl Outgoing {
    /// The number of a change.
    pub(super) fn change_seq(&self) -> Option<u64> {
        match self {
            Outgoing::Change { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

/// Another process, as this one knows it.
struct Peer {
    /// How many of this process's changes had come back when it was first heard: it must
    /// acknowledge the later ones (it may have been listening before they were published).
    heard_at: u64,
    last_seen: Instant,
    /// The highest of this process's changes it has acknowledged.
    acked: u64,
}

/// What a received message asks of this process.
pub(super) enum Heard {
    /// Nothing more (its own message came back, a hello, a goodbye, an acknowledgement).
    Nothing,
    /// Writes waiting for acknowledgements look again.
    Wake,
    /// A newcomer said hello: answer with a hello of our own.
    Answer,
    /// A change from another process: apply it, then acknowledge it when it asks.
    Change { change: Box<ModelChange>, ack: Option<(String, u64)> },
}

/// This process's side of the protocol.
pub(super) struct Peers {
    /// This process, so that it knows its own messages when the broker brings them back.
    pub(super) process: String,
    /// The secret messages are signed with.
    secret: FeedSecret,
    /// Numbers of this process's messages (any kind), so that replays can be told apart.
    number: AtomicU64,
    /// One of this process's own messages came back since the broker connected: every message
    /// published before it has been read.
    pub(super) heard_self: AtomicBool,
    /// The highest own change the broker brought back.
    pub(super) echoed: AtomicU64,
    /// Changes the broker refused even alone, with when: whoever waits for one waits the
    /// whole lease.
    lost: Mutex<Vec<(u64, Instant)>>,
    /// When the broker last connected (`None` while it is not).
    pub(super) connected_at: Mutex<Option<Instant>>,
    /// When a signed message with a time too far from this process's clock last came.
    clock_mismatch_at: Mutex<Option<Instant>>,
    /// The other processes listening, as their messages showed them.
    peers: Mutex<HashMap<String, Peer>>,
    /// The last message number heard from each process, and when.
    numbers: Mutex<HashMap<String, (u64, Instant)>>,
    /// Messages dropped (forged, stale, replayed), for the log.
    pub(super) dropped: AtomicU64,
}

impl Peers {
    pub(super) fn new(secret: FeedSecret) -> Self {
        Self {
            process: process_id(),
            secret,
            number: AtomicU64::new(0),
            heard_self: AtomicBool::new(false),
            echoed: AtomicU64::new(0),
            lost: Mutex::new(Vec::new()),
            connected_at: Mutex::new(None),
            clock_mismatch_at: Mutex::new(None),
            peers: Mutex::new(HashMap::new()),
            numbers: Mutex::new(HashMap::new()),
            dropped: AtomicU64::new(0),
        }
    }

    /// The broker connected (`true`) or lost its connection: either way this process has not
    /// heard its own messages back since.
    pub(super) fn connected(&self, yes: bool) {
        self.heard_self.store(false, Ordering::SeqCst);
        if let Ok(mut at) = self.connected_at.lock() {
            *at = yes.then(Instant::now);
        }
    }

    /// The message as the broker carries it: signed, numbered, dated, and (a change) fitted
    /// to `max` bytes.
    pub(super) fn encode(&self, message: &Outgoing, max: usize) -> String {
        let mut header = Header {
            process: self.process.clone(),
            number: self.number.fetch_add(1, Ordering::SeqCst) + 1,
            sent_ms: wire::now_ms(),
            seq: None,
            confirm: false,
            ack: None,
            hello: false,
            bye: false,
        };
        match message {
            Outgoing::Change { seq, change, confirm } => {
                header.seq = Some(*seq);
                header.confirm = *confirm;
                return wire::seal_change(&self.secret, &header, change, max);
            }
            Outgoing::Ack { to, seq } => header.ack = Some((to.clone(), *seq)),
            Outgoing::Hello => header.hello = true,
            Outgoing::Goodbye => header.bye = true,
        }
        wire::seal(&self.secret, &header)
    }

    /// What a message from the broker asks of this process; `connected`: whether the broker
    /// is (an own message then ends the time this process cannot know what it missed);
    /// `closed`: whether this process has said goodbye (it answers no hello then).
    pub(super) fn receive(&self, text: &str, connected: bool, closed: bool) -> Heard {
        let Some(message) = self.open(text) else { return Heard::Nothing };
        let Message { header, change } = message;
        if header.process == self.process {
            if connected {
                self.heard_self.store(true, Ordering::SeqCst);
            }
            if let Some(seq) = header.seq {
                self.echoed.fetch_max(seq, Ordering::SeqCst);
            }
            return Heard::Wake;
        }
        let mut answer = false;
        if let Ok(mut peers) = self.peers.lock() {
            let now = Instant::now();
            if header.bye {
                peers.remove(&header.process);
            } else if header.hello || header.ack.is_some() {
                // Only a listening process says hello or acknowledges; a change alone may come
                // from one that has said goodbye and is finishing its last requests.
                let known = peers.contains_key(&header.process);
                let heard_at = self.echoed.load(Ordering::SeqCst);
                let peer = peers.entry(header.process.clone()).or_insert(Peer { heard_at, last_seen: now, acked: 0 });
                peer.last_seen = now;
                // A newcomer learns of this process at once, not at its next hello.
                answer = header.hello && !known && !closed;
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
        if header.bye || header.ack.is_some() {
            return Heard::Wake;
        }
        if answer {
            return Heard::Answer;
        }
        match change {
            Some(change) => {
                let ack = header.confirm.then_some(header.seq).flatten().map(|seq| (header.process, seq));
                Heard::Change { change: Box::new(change), ack }
            }
            None => Heard::Nothing,
        }
    }

    /// A message that is signed with the secret, readable, on time and newer than the last
    /// from its sender; the others are dropped (and logged).
    fn open(&self, text: &str) -> Option<Message> {
        let message = match wire::open(&self.secret, text, wire::now_ms()) {
            Ok(m) => m,
            Err(Dropped::Unsigned) => return self.drop_message("not signed with the feed's secret"),
            Err(Dropped::Unreadable) => return self.drop_message("unreadable"),
            Err(Dropped::Stale) => {
                // Signed, so a process of this application (or a replay of one): its clock may
                // be off, and then this one cannot know it as a peer.
                if let Ok(mut at) = self.clock_mismatch_at.lock() {
                    *at = Some(Instant::now());
                }
                return self.drop_message("too old or too new (a replay, or clocks that disagree)");
            }
        };
        if !self.is_new(&message.header.process, message.header.number) {
            return self.drop_message("a replay");
        }
        Some(message)
    }

    /// Whether `number` is newer than every message heard from `process` (a replay is not).
    fn is_new(&self, process: &str, number: u64) -> bool {
        let Ok(mut numbers) = self.numbers.lock() else { return false };
        let now = Instant::now();
        match numbers.get_mut(process) {
            Some((last, _)) if number <= *last => false,
            Some(entry) => {
                *entry = (number, now);
                true
            }
            None => {
                if numbers.len() >= 1_024 {
                    // Processes silent for longer than a message may be replayed are forgotten.
                    numbers.retain(|_, (_, seen)| seen.elapsed() < 2 * wire::MAX_AGE);
                }
                numbers.insert(process.to_owned(), (number, now));
                true
            }
        }
    }

    fn drop_message(&self, why: &str) -> Option<Message> {
        // Logged at the first, and then at every power of two: a flood does not flood the log.
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(target: "persisted_model::changes", dropped = n, "a change message was dropped: {why}");
        }
        None
    }

    /// Whether change `wanted` is back from the broker and acknowledged by every live process
    /// that may have been listening when it was published: those heard from before it came
    /// back (the broker delivers in one order to all, so a process first heard after it read
    /// it before its own first message).
    pub(super) fn is_confirmed(&self, wanted: u64) -> bool {
        if self.echoed.load(Ordering::SeqCst) < wanted || !self.knows_peers() {
            return false;
        }
        // A change the broker refused reached nobody, whatever came back after it.
        if self.lost.lock().map_or(true, |lost| lost.iter().any(|(seq, _)| *seq == wanted)) {
            return false;
        }
        let Ok(peers) = self.peers.lock() else { return false };
        peers.values().filter(|p| p.heard_at < wanted && p.last_seen.elapsed() < PEER_TTL).all(|p| p.acked >= wanted)
    }

    /// Whether this process has listened long enough to have heard every other say hello, and
    /// no message with another clock (which it had to drop) came lately.
    pub(super) fn knows_peers(&self) -> bool {
        let listened =
            self.connected_at.lock().ok().and_then(|at| *at).is_some_and(|at| at.elapsed() >= KNOWS_PEERS_AFTER);
        let mismatch = self.clock_mismatch_at.lock().ok().and_then(|at| *at).is_some_and(|at| at.elapsed() < PEER_TTL);
        listened && !mismatch
    }

    /// How long until this process has listened long enough to know its peers, if it has not.
    pub(super) fn knows_peers_in(&self) -> Option<Duration> {
        self.connected_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .and_then(|at| KNOWS_PEERS_AFTER.checked_sub(at.elapsed()))
            .filter(|d| !d.is_zero())
    }

    /// Whether `process` is known as a peer.
    #[cfg(test)]
    pub(super) fn knows(&self, process: &str) -> bool {
        self.peers.lock().is_ok_and(|p| p.contains_key(process))
    }

    /// Records that change `seq` could not be published.
    pub(super) fn lost(&self, seq: u64) {
        if let Ok(mut lost) = self.lost.lock() {
            lost.retain(|(_, at)| at.elapsed() < 2 * LEASE);
            lost.push((seq, Instant::now()));
        }
    }
}

/// A random id for this process's feed.
fn process_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
