//! The change feed: every committed write becomes a [`ModelChange`], handed to this process's
//! change streams and caches, and through a [`ChangeBroker`] to every other server process on
//! the same database (PostgreSQL `LISTEN`/`NOTIFY`, or Redis pub/sub for MySQL/MariaDB).

mod broker;
mod change;
mod feed;
pub(crate) mod lease;
mod peer;
mod postgres;
#[cfg(feature = "redis")]
mod redis;
mod wire;

pub use broker::{BrokerError, ChangeBroker, Inbox, SendFuture};
pub use change::{ChangeKind, ModelChange};
pub use feed::{CONFIRM_TIMEOUT, ChangeFeed, FeedEvent, FeedListener, Notice, SUBSCRIBER_BUFFER};
pub(crate) use feed::{SharedFeed, revokes};
pub use lease::LEASE;
pub use postgres::{DEFAULT_CHANNEL, PostgresBroker};
#[cfg(feature = "redis")]
pub use redis::RedisBroker;
pub use wire::FeedSecret;
