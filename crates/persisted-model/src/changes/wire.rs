//! The broker's messages: what processes say to each other, signed with the feed's secret, and
//! shortened to fit the broker.
//!
//! A message is `<mac>.<json>`: the JSON says who sent it (`p`), its number among that
//! process's messages (`n`) and when (`t`, milliseconds since the epoch), then what it is: a
//! change (`s`, its sequence number, `c` when it needs acknowledging, and the change's own
//! fields), an acknowledgement (`ack`), a hello or a goodbye. `<mac>` is the first 16 bytes of
//! its HMAC-SHA256 under the feed's secret, in hex. A message that is unsigned, signed with
//! another secret, older than [`MAX_AGE`] or not newer than the last one from its sender is
//! dropped: a database login or a Redis client cannot inject a change, a hello or an
//! acknowledgement, nor replay one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::change::ModelChange;

/// Messages older than this (by their sender's clock) are dropped as replays; clocks of the
/// processes sharing a database must agree within it.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// Bytes of the HMAC kept (128 bits).
const MAC_BYTES: usize = 16;

/// The shared secret messages are signed with.
#[derive(Clone)]
pub struct FeedSecret(Vec<u8>);

impl FeedSecret {
    /// A secret from configuration (at least 16 bytes are recommended).
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }

    /// `<mac>.<json>`.
    pub(crate) fn sign(&self, json: &str) -> String {
        let mut mac = self.mac();
        mac.update(json.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = String::with_capacity(MAC_BYTES * 2 + 1 + json.len());
        out.push_str(&hex::encode(&tag[..MAC_BYTES]));
        out.push('.');
        out.push_str(json);
        out
    }

    /// The JSON of a message signed with this secret, or `None` for a forged, altered or
    /// unsigned one (compared in constant time).
    pub(crate) fn open<'m>(&self, message: &'m str) -> Option<&'m str> {
        let (tag, json) = message.split_once('.')?;
        let tag = hex::decode(tag).ok().filter(|t| t.len() == MAC_BYTES)?;
        let mut mac = self.mac();
        mac.update(json.as_bytes());
        mac.verify_truncated_left(&tag).ok()?;
        Some(json)
    }
}

impl std::fmt::Debug for FeedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeedSecret(..)")
    }
}

/// What every message says: its sender, its number and time, and for the small kinds what
/// they say. A change's own fields follow in the same object.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    #[serde(rename = "p")]
    pub process: String,
    #[serde(rename = "n")]
    pub number: u64,
    #[serde(rename = "at")]
    pub sent_ms: u64,
    /// A change's sequence number among the sender's changes.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The change needs every process's acknowledgement.
    #[serde(rename = "c", default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<(String, u64)>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hello: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bye: bool,
}

/// A change with its header, as it is sent.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(flatten)]
    header: &'a Header,
    #[serde(flatten)]
    change: &'a ModelChange,
}

/// A change with its header, as it is received.
#[derive(Deserialize)]
struct Received {
    #[serde(flatten)]
    change: ModelChange,
}

/// What a message says, once opened.
#[derive(Debug)]
pub(crate) struct Message {
    pub header: Header,
    pub change: Option<ModelChange>,
}

/// Why a message was dropped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// Not signed with the feed's secret.
    Unsigned,
    /// Not JSON of the feed's shape.
    Unreadable,
    /// Older than [`MAX_AGE`], or from too far in the future.
    Stale,
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Opens a message: its signature, its shape and its age.
pub(crate) fn open(secret: &FeedSecret, text: &str, now_ms: u64) -> Result<Message, Dropped> {
    let json = secret.open(text).ok_or(Dropped::Unsigned)?;
    let header: Header = serde_json::from_str(json).map_err(|_| Dropped::Unreadable)?;
    let max = u64::try_from(MAX_AGE.as_millis()).unwrap_or(u64::MAX);
    if header.sent_ms.abs_diff(now_ms) > max {
        return Err(Dropped::Stale);
    }
    let change = match header.seq {
        Some(_) => Some(serde_json::from_str::<Received>(json).map_err(|_| Dropped::Unreadable)?.change),
        None => None,
    };
    Ok(Message { header, change })
}

/// A signed message of `header` alone (hello, goodbye, acknowledgement).
pub(crate) fn seal(secret: &FeedSecret, header: &Header) -> String {
    secret.sign(&serde_json::to_string(header).unwrap_or_default())
}

/// A signed change that fits in `max` bytes where it can: as it is; else without its where
/// clause (a large `updateAll`); else without its data too (receivers read the instance by its
/// id); else without its target (receivers know only that the model changed: a token cache
/// then drops every token).
pub(crate) fn seal_change(secret: &FeedSecret, header: &Header, change: &ModelChange, max: usize) -> String {
    let sealed =
        |change: &ModelChange| secret.sign(&serde_json::to_string(&Envelope { header, change }).unwrap_or_default());
    let full = sealed(change);
    if full.len() <= max {
        return full;
    }
    let mut smaller = ModelChange { where_: None, ..change.clone() };
    let text = sealed(&smaller);
    if text.len() <= max {
        return text;
    }
    // An instance saved by id can be read again; an updateAll's data and a remove's rows
    // cannot.
    smaller.reload = smaller.target.is_some() && !smaller.partial && smaller.kind != super::ChangeKind::Remove;
    smaller.data = None;
    smaller.removed = None;
    let text = sealed(&smaller);
    if text.len() <= max {
        return text;
    }
    smaller.target = None;
    smaller.reload = false;
    sealed(&smaller)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::filter::Where;
    use crate::testing::product_definition;

    fn header(seq: Option<u64>) -> Header {
        Header {
            process: "p1".into(),
            number: 7,
            sent_ms: now_ms(),
            seq,
            confirm: false,
            ack: None,
            hello: seq.is_none(),
            bye: false,
        }
    }

    #[test]
    fn messages_open_only_with_the_secret_they_were_signed_with() {
        let secret = FeedSecret::new("s3cret");
        let text = seal(&secret, &header(None));
        let opened = open(&secret, &text, now_ms()).unwrap();
        assert!(opened.header.hello && opened.change.is_none());
        assert_eq!(open(&FeedSecret::new("other"), &text, now_ms()).unwrap_err(), Dropped::Unsigned);
        // Unsigned (the format before signing), altered, or with a cut tag.
        let json = text.split_once('.').unwrap().1;
        assert_eq!(open(&secret, json, now_ms()).unwrap_err(), Dropped::Unsigned);
        let altered = text.replace("\"hello\":true", "\"bye\":true");
        assert_eq!(open(&secret, &altered, now_ms()).unwrap_err(), Dropped::Unsigned);
        assert_eq!(open(&secret, &text[4..], now_ms()).unwrap_err(), Dropped::Unsigned);
    }

    #[test]
    fn old_messages_are_replays() {
        let secret = FeedSecret::new("s3cret");
        let text = seal(&secret, &header(None));
        let later = now_ms() + u64::try_from(MAX_AGE.as_millis()).unwrap() + 1_000;
        assert_eq!(open(&secret, &text, later).unwrap_err(), Dropped::Stale);
    }

    #[test]
    fn a_large_update_all_travels_without_its_where_then_without_its_data() {
        let def = product_definition();
        let secret = FeedSecret::new("k");
        let where_ = Where::eq("name", json!("x".repeat(13_000)));
        let data = json!({"inStock": false}).as_object().unwrap().clone();
        let change = ModelChange::updated_where(&def, &where_, &data);
        let text = seal_change(&secret, &header(Some(1)), &change, 7_900);
        assert!(text.len() <= 7_900, "{}", text.len());
        let back = open(&secret, &text, now_ms()).unwrap().change.unwrap();
        assert_eq!(back.where_, None);
        assert_eq!(back.data, Some(data.clone()));
        assert!(back.partial && !back.reload);

        let big = json!({"name": "y".repeat(9_000)}).as_object().unwrap().clone();
        let change = ModelChange::updated_where(&def, &where_, &big);
        let back = open(&secret, &seal_change(&secret, &header(Some(2)), &change, 7_900), now_ms()).unwrap();
        let back = back.change.unwrap();
        assert!(back.data.is_none() && back.where_.is_none() && !back.reload);
    }

    #[test]
    fn a_large_instance_travels_without_its_data_and_is_read_again() {
        let def = product_definition();
        let secret = FeedSecret::new("k");
        let row = json!({"id": 1, "name": "x".repeat(500)}).as_object().unwrap().clone();
        let change = ModelChange::created(&def, &row);
        let text = seal_change(&secret, &header(Some(1)), &change, 300);
        assert!(text.len() <= 300, "{text}");
        let back = open(&secret, &text, now_ms()).unwrap().change.unwrap();
        assert!(back.reload && back.data.is_none());
        assert_eq!(back.target, Some(json!(1)));
    }

    #[test]
    fn a_change_whose_id_alone_is_too_large_names_only_its_model() {
        let def = product_definition();
        let secret = FeedSecret::new("k");
        let removed = ModelChange::removed(&def, &Where::eq("id", json!("z".repeat(400))), None);
        let text = seal_change(&secret, &header(Some(1)), &removed, 300);
        assert!(text.len() <= 300, "{text}");
        let back = open(&secret, &text, now_ms()).unwrap().change.unwrap();
        assert_eq!((back.target, back.where_, back.model.as_str()), (None, None, "Product"));
    }
}
