//! The set of models an application serves, looked up by name for relations and includes.

use std::sync::Arc;

use sea_orm::DbBackend;
use sea_orm::sea_query::{ColumnType, StringLen, TableCreateStatement};

use super::typed_hooks::Typed;
use super::{DynHooks, ModelDefinition, ModelHooks, NoHooks, PersistedModel, TypedHooks};
use crate::filter::ModelLookup;
use crate::rest::{RemoteMethod, remote_methods};

/// One registered model: its definition, its hooks and how to create its table.
#[derive(Clone)]
pub struct ModelHandle {
    inner: Arc<Entry>,
}

#[derive(Clone)]
struct Entry {
    definition: ModelDefinition,
    hooks: Arc<dyn DynHooks>,
    create_table: Option<fn(DbBackend) -> TableCreateStatement>,
    methods: Vec<RemoteMethod>,
    acl_methods: Vec<String>,
    /// The Rust type of a derived model (the typed repository finds models by it).
    type_id: Option<std::any::TypeId>,
    /// The model type typed hooks were written for (checked against `type_id` at `build()`).
    hooks_model: Option<(std::any::TypeId, &'static str)>,
    /// Whether hooks were registered (a model without any writes one row without a
    /// transaction).
    has_hooks: bool,
}

impl ModelHandle {
    /// The handle of a derived model, without hooks.
    pub fn of<M: PersistedModel>() -> Self {
        let mut definition = M::definition();
        column_facts(&mut definition, &M::create_table_statement(DbBackend::Sqlite));
        let mut entry = Self::from_parts(definition, Arc::new(NoHooks), Some(M::create_table_statement)).into_entry();
        entry.type_id = Some(std::any::TypeId::of::<M>());
        Self { inner: Arc::new(entry) }
    }

    /// Whether this handle serves the derived model `M`.
    pub fn is<M: 'static>(&self) -> bool {
        self.inner.type_id == Some(std::any::TypeId::of::<M>())
    }

    /// A model served from a definition alone (a model defined at run time), with no hooks
    /// and no table creation.
    pub fn from_definition(definition: ModelDefinition) -> Self {
        Self::from_parts(definition, Arc::new(NoHooks), None)
    }

    /// The same model with these hooks (replacing any it had).
    pub fn with_hooks(self, hooks: impl ModelHooks) -> Self {
        let mut entry = self.into_entry();
        entry.hooks = Arc::new(hooks);
        entry.has_hooks = true;
        entry.hooks_model = None;
        Self { inner: Arc::new(entry) }
    }

    /// The same model with hooks over its Rust types (replacing any it had). `build()` refuses
    /// hooks written for another model.
    pub fn with_typed_hooks(self, hooks: impl TypedHooks) -> Self {
        let hooks_model = model_type_of(&hooks);
        let mut entry = self.with_hooks(Typed(hooks)).into_entry();
        entry.hooks_model = Some(hooks_model);
        Self { inner: Arc::new(entry) }
    }

    /// Typed hooks registered for a model type this handle does not serve: that type's name.
    pub(crate) fn foreign_hooks(&self) -> Option<&'static str> {
        let (hooks_type, name) = self.inner.hooks_model?;
        (self.inner.type_id != Some(hooks_type)).then_some(name)
    }

    fn from_parts(
        definition: ModelDefinition,
        hooks: Arc<dyn DynHooks>,
        create_table: Option<fn(DbBackend) -> TableCreateStatement>,
    ) -> Self {
        Self {
            inner: Arc::new(Entry {
                definition,
                hooks,
                create_table,
                methods: Vec::new(),
                acl_methods: Vec::new(),
                type_id: None,
                hooks_model: None,
                has_hooks: false,
            }),
        }
    }

    /// The entry to change: this handle's own, or a copy when it is shared (a handle is a value;
    /// changing a clone never changes a registered model).
    fn into_entry(self) -> Entry {
        Arc::unwrap_or_clone(self.inner)
    }

    /// A handle with a changed definition (path, table, settings, ACLs...).
    pub fn map_definition(self, f: impl FnOnce(&mut ModelDefinition)) -> Self {
        let mut entry = self.into_entry();
        f(&mut entry.definition);
        Self { inner: Arc::new(entry) }
    }

    /// Adds a custom remote method; its routes are tried before the generic ones.
    pub fn with_method(self, method: RemoteMethod) -> Self {
        let mut entry = self.into_entry();
        entry.methods.push(method);
        Self { inner: Arc::new(entry) }
    }

    /// Adds several custom remote methods.
    pub fn with_methods(self, methods: impl IntoIterator<Item = RemoteMethod>) -> Self {
        methods.into_iter().fold(self, Self::with_method)
    }

    /// Declares a method name ACL entries may name although it has no route: a decision that
    /// server code asks for with `RestState::is_allowed` (AccessToken's `createForAnyUser`).
    pub fn with_acl_method(self, name: &str) -> Self {
        let mut entry = self.into_entry();
        entry.acl_methods.push(name.to_owned());
        Self { inner: Arc::new(entry) }
    }

    /// Every name an ACL entry of this model may use: remote methods, their aliases, and the
    /// declared ACL-only methods.
    pub fn acl_method_names(&self) -> Vec<String> {
        let mut out = self.inner.acl_methods.clone();
        for m in self.remote_methods() {
            out.extend(m.aliases.iter().map(|a| (*a).to_owned()));
            out.push(m.name);
        }
        out
    }

    /// Every remote method: custom ones first, then the PersistedModel table.
    pub fn remote_methods(&self) -> Vec<RemoteMethod> {
        let mut out = self.inner.methods.clone();
        out.extend(remote_methods(&self.inner.definition));
        out
    }

    /// The model's definition.
    pub fn definition(&self) -> &ModelDefinition {
        &self.inner.definition
    }

    /// Whether the model has hooks of its own.
    pub fn has_hooks(&self) -> bool {
        self.inner.has_hooks
    }

    pub(crate) fn hooks(&self) -> &dyn DynHooks {
        &*self.inner.hooks
    }

    /// The CREATE TABLE statement for the model, if it has an entity: the entity's columns,
    /// with strings as unbounded text unless the property has a maximum length.
    pub fn create_table_statement(&self, backend: DbBackend) -> Option<TableCreateStatement> {
        let entity = (self.inner.create_table?)(backend);
        let mut stmt = sea_orm::sea_query::Table::create();
        for column in entity.get_columns() {
            let mut column = column.clone();
            let name = column.get_column_name();
            let property = self.inner.definition.properties.iter().find(|p| p.column == name);
            if let (Some(ColumnType::String(_)), Some(p)) = (column.get_column_type(), property) {
                match p.max_length {
                    Some(n) => column.string_len(u32::try_from(n).unwrap_or(u32::MAX)),
                    None => column.text(),
                };
            }
            stmt.col(column);
        }
        for index in entity.get_indexes() {
            stmt.index(&mut index.clone());
        }
        for fk in entity.get_foreign_key_create_stmts() {
            stmt.foreign_key(&mut fk.clone());
        }
        stmt.table(sea_orm::sea_query::Alias::new(self.inner.definition.table.as_str()));
        stmt.if_not_exists();
        if backend == DbBackend::MySql {
            // Exact, case-sensitive string comparison, as on the other back ends.
            stmt.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        Some(stmt)
    }
}

/// What the entity's columns say that the definition needs: declared string lengths
/// (`#[sea_orm(column_type = "String(StringLen::N(100))")]`) and unique columns. A unique
/// (or primary key) string without a declared length gets 255 characters: a unique index needs a bounded
/// column on MySQL, and the bound is checked the same way on every back end.
fn column_facts(definition: &mut ModelDefinition, entity: &TableCreateStatement) {
    for column in entity.get_columns() {
        let name = column.get_column_name();
        let Some(p) = definition.properties.iter_mut().find(|p| p.column == name) else { continue };
        let spec = column.get_column_spec();
        p.unique |= spec.unique;
        let unique = spec.unique || spec.primary_key;
        if let Some(ColumnType::String(len)) = column.get_column_type() {
            if let StringLen::N(n) = len {
                p.max_length.get_or_insert(*n as usize);
            } else if unique {
                p.max_length.get_or_insert(255);
            }
        }
    }
}

impl std::fmt::Debug for ModelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelHandle").field("model", &self.inner.definition.name).finish()
    }
}

/// Every model of an application, by name.
#[derive(Debug, Clone, Default)]
pub struct ModelRegistry {
    models: Vec<ModelHandle>,
}

impl ModelRegistry {
    /// Adds a model; a later model with the same name replaces the earlier one.
    pub fn insert(&mut self, model: ModelHandle) {
        self.models.retain(|m| m.definition().name != model.definition().name);
        self.models.push(model);
    }

    /// Replaces every model with `f` of it, in place (the order is kept).
    pub(crate) fn map(&mut self, mut f: impl FnMut(ModelHandle) -> ModelHandle) {
        self.models = std::mem::take(&mut self.models).into_iter().map(&mut f).collect();
    }

    /// The model with this name.
    pub fn get(&self, name: &str) -> Option<&ModelHandle> {
        self.models.iter().find(|m| m.definition().name == name)
    }

    /// All models, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &ModelHandle> {
        self.models.iter()
    }
}

impl ModelLookup for ModelRegistry {
    fn model(&self, name: &str) -> Option<&ModelDefinition> {
        self.get(name).map(ModelHandle::definition)
    }
}

/// The type typed hooks serve, and its name for errors.
fn model_type_of<H: TypedHooks>(_: &H) -> (std::any::TypeId, &'static str) {
    (std::any::TypeId::of::<H::Model>(), std::any::type_name::<H::Model>())
}
