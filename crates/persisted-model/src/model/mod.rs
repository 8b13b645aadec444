//! Models: the runtime definition, the trait the derive implements, hooks, and the registry.

mod check;
mod definition;
mod hooks;
mod layout;
mod registry;
mod typed_hooks;

pub(crate) use check::problems as registry_problems;
pub use definition::{
    DefaultValue, FloatWidth, IntegerWidth, ModelDefinition, ModelSettings, Property, PropertyType, Relation,
    RelationKind, pluralize,
};
pub(crate) use hooks::DynHooks;
pub use hooks::{CallContext, ModelHooks, NoHooks, SaveEvent, caller_of};
pub use layout::Layout;
pub use registry::{ModelHandle, ModelRegistry};
pub use typed_hooks::{ActiveModelOf, Change, EntityModel, TypedHooks};

use sea_orm::DbBackend;
use sea_orm::sea_query::TableCreateStatement;

/// A JSON object: one model instance as the client sees it.
pub type Instance = serde_json::Map<String, serde_json::Value>;

/// A model with the LoopBack PersistedModel REST API. Implemented by
/// `#[derive(PersistedModel)]` on a sea-orm entity's `Model`; its hooks are a separate value
/// ([`ModelHooks`]).
pub trait PersistedModel: Sized + 'static {
    /// The model's runtime definition (built once per call; registries keep it).
    fn definition() -> ModelDefinition;

    /// The `CREATE TABLE` statement for the model's entity on this back end.
    fn create_table_statement(backend: DbBackend) -> TableCreateStatement;
}
