//! # persisted-model-loopback3
//!
//! Serves a LoopBack 3 application from its own model files: `server/model-config.json` says
//! which models are served and whether they are public, `common/models/*.json` describe them
//! (properties with `type`, `required`, `default`, `hidden` and `id`; relations; ACLs;
//! `plural`; `http.path`; per-connector table and column names; `base` `PersistedModel`,
//! `User` or `AccessToken`). The built-in User, AccessToken, Role, RoleMapping and ACL models
//! come from `persisted-model-access-token` on LoopBack's tables, with raw token ids, so users
//! stay logged in; a model based on `User` or `AccessToken` takes the built-in's place. What cannot be carried over
//! (JavaScript hooks and remote methods, mixins, boot scripts) is reported as warnings.
//!
//! The `lb3-serve` binary does this for an application folder and a `DATABASE_URL`. See
//! `docs/migrating-from-loopback.md`.

mod app;
mod error;
mod model_config;
mod model_file;

pub use app::LoopBackApp;
pub use error::Error;
