//! Hooks over a derived model's own types: the sea-orm `ActiveModel` for what is about to be
//! written (a create, a replace or a patch alike: the properties written are `Set`), the
//! `Model` for stored instances. [`ModelHooks`] stays the JSON view, for models defined at
//! run time; an adapter turns one into the other, so the engine sees a single kind of hooks.

use std::future::Future;

use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, ModelTrait, TryIntoModel};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Instance;
use super::hooks::{CallContext, ModelHooks, SaveEvent, stored_as, write_active_model};
use crate::error::Error;
use crate::filter::Where;

/// The sea-orm `ActiveModel` of a `Model`.
pub type ActiveModelOf<M> = <<M as ModelTrait>::Entity as EntityTrait>::ActiveModel;

/// A sea-orm entity's `Model` whose JSON form converts to its `ActiveModel` and back: every
/// `Model` of a `DeriveEntityModel` entity that derives serde's traits.
pub trait EntityModel: ModelTrait + Serialize + DeserializeOwned + Send + Sync {
    /// Checked JSON data as the `ActiveModel`: the properties present are `Set`, the others
    /// `NotSet`.
    fn active_from_json(data: &Instance) -> Result<ActiveModelOf<Self>, Error>;
}

impl<M> EntityModel for M
where
    M: ModelTrait + Serialize + DeserializeOwned + Send + Sync + IntoActiveModel<ActiveModelOf<M>>,
    M::Entity: EntityTrait<Model = M>,
    ActiveModelOf<M>: TryIntoModel<M>,
{
    fn active_from_json(data: &Instance) -> Result<ActiveModelOf<Self>, Error> {
        <ActiveModelOf<M> as ActiveModelTrait>::from_json(Value::Object(data.clone()))
            .map_err(|e| Error::Internal(format!("the data does not fit the model's type: {e}")))
    }
}

/// A write about to happen, typed: what [`SaveEvent`] is for [`ModelHooks`].
#[non_exhaustive]
pub struct Change<M: ModelTrait> {
    /// A new instance (create) rather than an update of `current`.
    pub is_new: bool,
    /// What will be written: the properties being written are `Set`, the others `NotSet`.
    /// A hook may set, change or unset (`NotSet`) any of them.
    pub data: ActiveModelOf<M>,
    /// The stored instance before the update (`None` for creates and bulk updates).
    pub current: Option<M>,
    /// For a bulk update (updateAll), the where clause that selects the rows.
    pub where_: Option<Where>,
    shown: Instance,
}

impl<M: ModelTrait> Change<M> {
    /// Shows `value` for `property` in the answer instead of what is stored (see
    /// [`SaveEvent::show`]).
    pub fn show(&mut self, property: &str, value: impl Serialize) -> Result<(), Error> {
        let value = serde_json::to_value(value).map_err(|e| Error::Internal(format!("{property}: {e}")))?;
        self.shown.insert(property.to_owned(), value);
        Ok(())
    }
}

/// A model's hooks over its Rust types. Implement the methods you need on a type of your own
/// (its fields are the hooks' state) and register it with
/// [`RestApiBuilder::model_with_typed`](crate::RestApiBuilder::model_with_typed) or
/// [`ModelHandle::with_typed_hooks`](crate::ModelHandle::with_typed_hooks).
///
/// ```
/// use persisted_model::prelude::*;
/// use persisted_model::{Change, TypedHooks};
/// use sea_orm::Set;
/// # use sea_orm::entity::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
/// # #[sea_orm(table_name = "post")]
/// # #[serde(rename_all = "camelCase")]
/// # pub struct Model {
/// #     #[sea_orm(primary_key)] pub id: i32,
/// #     pub title: String,
/// #     pub updated_at: Option<DateTimeUtc>,
/// # }
/// # #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// # pub enum Relation {}
/// # impl ActiveModelBehavior for ActiveModel {}
///
/// /// Trims titles and stamps `updatedAt` with its own clock.
/// struct PostHooks {
///     clock: fn() -> chrono::DateTime<chrono::Utc>,
/// }
///
/// impl TypedHooks for PostHooks {
///     type Model = Model;
///
///     async fn before_save(&self, _ctx: &CallContext<'_>, change: &mut Change<Model>) -> Result<(), Error> {
///         if let Some(title) = change.data.title.try_as_ref() {
///             change.data.title = Set(title.trim().to_owned());
///         }
///         change.data.updated_at = Set(Some((self.clock)()));
///         Ok(())
///     }
/// }
///
/// # #[actix_web::main]
/// # async fn main() -> Result<(), persisted_model::Error> {
/// # let db = persisted_model::connect("sqlite::memory:").await?;
/// let api = RestApi::builder(db).model_with_typed(PostHooks { clock: chrono::Utc::now }).build().await?;
/// # let _ = api; Ok(()) }
/// ```
// As with `ModelHooks`, the futures need not be `Send`: actix runs each on one worker.
pub trait TypedHooks: Send + Sync + 'static {
    /// The model these hooks serve: a sea-orm entity's `Model` that derives `PersistedModel`.
    type Model: EntityModel;

    /// Maps an id a client sent (path or body) to the stored id; the identity by default.
    fn resolve_id(&self, ctx: &CallContext<'_>, id: Value) -> impl Future<Output = Result<Value, Error>> {
        let _ = ctx;
        async { Ok(id) }
    }

    /// Normalises checked client data before a write, outside its transaction (see
    /// [`ModelHooks::normalize`]).
    fn normalize(
        &self,
        ctx: &CallContext<'_>,
        data: &mut ActiveModelOf<Self::Model>,
    ) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, data);
        async { Ok(()) }
    }

    /// Before a query reads, counts, updates or deletes rows: may narrow the where clause.
    fn access(&self, ctx: &CallContext<'_>, where_: &mut Option<Where>) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, where_);
        async { Ok(()) }
    }

    /// Before an instance is inserted or updated, in the write's transaction; may change the
    /// data or refuse.
    fn before_save(
        &self,
        ctx: &CallContext<'_>,
        change: &mut Change<Self::Model>,
    ) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, change);
        async { Ok(()) }
    }

    /// After an instance was inserted or updated (as stored), in the write's transaction: an
    /// error rolls the write back.
    fn after_save(
        &self,
        ctx: &CallContext<'_>,
        instance: &Self::Model,
        is_new: bool,
    ) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, instance, is_new);
        async { Ok(()) }
    }

    /// Before rows matching `where_` are deleted, in the delete's transaction.
    fn before_delete(&self, ctx: &CallContext<'_>, where_: &Where) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, where_);
        async { Ok(()) }
    }

    /// After rows matching `where_` were deleted, in the delete's transaction.
    fn after_delete(
        &self,
        ctx: &CallContext<'_>,
        where_: &Where,
        count: u64,
    ) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, where_, count);
        async { Ok(()) }
    }

    /// After an instance was read, before it is sent. It receives the instance as the client
    /// will see it, which need not fit the model's type: `fields` may have left properties
    /// out and `include` added related instances.
    fn loaded(&self, ctx: &CallContext<'_>, instance: &mut Instance) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, instance);
        async { Ok(()) }
    }
}

/// Typed hooks seen as JSON hooks: the data is converted to the model's types on the way in
/// and written back on the way out.
pub(crate) struct Typed<H>(pub(crate) H);

impl<H: TypedHooks> ModelHooks for Typed<H> {
    async fn resolve_id(&self, ctx: &CallContext<'_>, id: Value) -> Result<Value, Error> {
        self.0.resolve_id(ctx, id).await
    }

    async fn normalize(&self, ctx: &CallContext<'_>, data: &mut Instance) -> Result<(), Error> {
        let mut active = H::Model::active_from_json(data)?;
        self.0.normalize(ctx, &mut active).await?;
        write_active_model(data, &active);
        Ok(())
    }

    async fn access(&self, ctx: &CallContext<'_>, where_: &mut Option<Where>) -> Result<(), Error> {
        self.0.access(ctx, where_).await
    }

    async fn before_save(&self, ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
        let current = event.current.as_ref().map(stored_as::<H::Model>).transpose()?;
        let mut change = Change {
            is_new: event.is_new,
            data: H::Model::active_from_json(&event.data)?,
            current,
            where_: event.where_.clone(),
            shown: Instance::new(),
        };
        self.0.before_save(ctx, &mut change).await?;
        write_active_model(&mut event.data, &change.data);
        for (property, value) in change.shown {
            event.show(&property, value);
        }
        Ok(())
    }

    async fn after_save(&self, ctx: &CallContext<'_>, instance: &Instance, is_new: bool) -> Result<(), Error> {
        self.0.after_save(ctx, &stored_as::<H::Model>(instance)?, is_new).await
    }

    async fn before_delete(&self, ctx: &CallContext<'_>, where_: &Where) -> Result<(), Error> {
        self.0.before_delete(ctx, where_).await
    }

    async fn after_delete(&self, ctx: &CallContext<'_>, where_: &Where, count: u64) -> Result<(), Error> {
        self.0.after_delete(ctx, where_, count).await
    }

    async fn loaded(&self, ctx: &CallContext<'_>, instance: &mut Instance) -> Result<(), Error> {
        self.0.loaded(ctx, instance).await
    }
}
