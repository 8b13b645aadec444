//! The names most applications need: `use persisted_model::prelude::*;`.

#[cfg(feature = "derive")]
pub use crate::PersistedModel;
#[cfg(not(feature = "derive"))]
pub use crate::model::PersistedModel;
pub use crate::model::{CallContext, Change, Instance, ModelHooks, SaveEvent, TypedHooks};
pub use crate::repository::Repository;
pub use crate::rest::{RestApi, url_not_found};
pub use crate::{Error, connect, connect_from_env};
