//! Typed data access for server code: the same hooks, validation and row rules as the REST
//! routes, with the model's own type going in and out instead of JSON maps.

use std::marker::PhantomData;

use actix_web::web::Data;
use persisted_model_acl::{AccessType, Caller};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::access::Check;
use crate::error::{Error, Result};
use crate::filter::{Filter, Where};
use crate::model::{Instance, ModelHandle, PersistedModel};
use crate::rest::RestState;
use crate::store::Store;

/// A model's data as its Rust type, for server code (scheduled jobs, custom methods, seeding).
///
/// Every operation runs the model's hooks and validation, as the REST routes do, and reads
/// whole rows (hidden properties included, since the type has them). By default it acts as
/// the system: no ACL is checked and hooks see `ctx.is_system()`. [`as_caller`](Self::as_caller)
/// makes it act for a user: each operation is then authorized like the route of the same
/// name, and hooks see that caller.
///
/// ```no_run
/// # use persisted_model::prelude::*;
/// # use sea_orm::entity::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
/// # #[sea_orm(table_name = "post")]
/// # pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub title: String }
/// # #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// # pub enum Relation {}
/// # impl ActiveModelBehavior for ActiveModel {}
/// # #[actix_web::main]
/// # async fn main() -> Result<(), persisted_model::Error> {
/// # let db = persisted_model::connect("sqlite::memory:").await?;
/// let api = RestApi::builder(db).model::<Model>().build().await?;
/// let posts = api.repository::<Model>()?;
/// let post: Model = posts.create(&serde_json::json!({"title": "Hello"})).await?;
/// let found: Option<Model> = posts.find_by_id(post.id).await?;
/// # let _ = found; Ok(()) }
/// ```
pub struct Repository<M> {
    state: Data<RestState>,
    model: ModelHandle,
    caller: Option<Caller>,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Repository<M> {
    fn clone(&self) -> Self {
        Self { state: self.state.clone(), model: self.model.clone(), caller: self.caller.clone(), _model: PhantomData }
    }
}

impl<M> std::fmt::Debug for Repository<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").field("model", &self.model).field("caller", &self.caller).finish()
    }
}

impl<M: PersistedModel + DeserializeOwned> Repository<M> {
    /// The repository of `M` in this API; an error when `M` is not registered.
    pub(crate) fn new(state: Data<RestState>) -> Result<Self> {
        let model = state.registry.iter().find(|m| m.is::<M>()).cloned().ok_or_else(|| {
            Error::Internal(format!("the model type {} is not registered with this API", std::any::type_name::<M>()))
        })?;
        Ok(Self { state, model, caller: None, _model: PhantomData })
    }

    /// The same repository acting for `caller`: operations are authorized like their routes
    /// (401/403 errors), and hooks see the caller.
    pub fn as_caller(mut self, caller: Caller) -> Self {
        self.caller = Some(caller);
        self
    }

    fn store<'a>(&'a self, method: &'a str) -> Store<'a> {
        let mut store = Store::new(&self.state, self.state.pool(), &self.model, method, None);
        store.call.caller = self.caller.as_ref();
        store.keep_hidden = true;
        store
    }

    async fn authorize(&self, method: &str, access: AccessType, id: Option<&Value>) -> Result<()> {
        let Some(caller) = &self.caller else { return Ok(()) };
        let def = self.model.definition();
        let aliases: Vec<&str> = match method {
            "deleteById" => vec!["destroyById", "removeById"],
            "patchAttributes" => vec!["updateAttributes"],
            "updateAll" => vec!["update"],
            _ => Vec::new(),
        };
        Check::on_pool(&self.state, caller).authorize_as(def, method, &aliases, access, id, None).await
    }

    /// Every model the filter's `include` reaches must be readable by the caller, as for the
    /// route (security rule 11).
    async fn authorize_includes(&self, filter: &Filter) -> Result<()> {
        let Some(caller) = &self.caller else { return Ok(()) };
        crate::access::authorize_includes(&self.state, caller, self.model.definition(), &filter.include).await
    }

    /// The instances matching `filter` (its where, order, paging, fields and include).
    pub async fn find(&self, filter: Filter) -> Result<Vec<M>> {
        self.authorize("find", AccessType::Read, None).await?;
        self.authorize_includes(&filter).await?;
        self.store("find").find(filter).await?.into_iter().map(typed).collect()
    }

    /// The first instance matching `filter`.
    pub async fn find_one(&self, filter: Filter) -> Result<Option<M>> {
        self.authorize("findOne", AccessType::Read, None).await?;
        self.authorize_includes(&filter).await?;
        self.store("findOne").find_one(filter).await?.map(typed).transpose()
    }

    /// The instance with this id, if the model's row rules let it be seen.
    pub async fn find_by_id(&self, id: impl Into<Value>) -> Result<Option<M>> {
        let id = id.into();
        self.authorize("findById", AccessType::Read, Some(&id)).await?;
        self.store("findById").find_by_id(&id, Filter::default()).await?.map(typed).transpose()
    }

    /// The number of instances matching `where_`.
    pub async fn count(&self, where_: Option<Where>) -> Result<u64> {
        self.authorize("count", AccessType::Read, None).await?;
        self.store("count").count(where_).await
    }

    /// Creates an instance from `data` (a struct or `json!` with the model's JSON names),
    /// validated and saved as `POST /` does.
    pub async fn create(&self, data: &impl Serialize) -> Result<M> {
        self.authorize("create", AccessType::Write, None).await?;
        typed(object(self.store("create").create(&to_json(data)?).await?)?)
    }

    /// Changes the given properties of the instance with this id, as `PATCH /:id` does.
    pub async fn patch(&self, id: impl Into<Value>, data: &impl Serialize) -> Result<M> {
        let id = id.into();
        self.authorize("patchAttributes", AccessType::Write, Some(&id)).await?;
        typed(self.store("patchAttributes").patch_attributes(&id, &to_json(data)?).await?)
    }

    /// Replaces the instance with this id, as `PUT /:id` does.
    pub async fn replace(&self, id: impl Into<Value>, data: &impl Serialize) -> Result<M> {
        let id = id.into();
        self.authorize("replaceById", AccessType::Write, Some(&id)).await?;
        typed(self.store("replaceById").replace_by_id(&id, &to_json(data)?).await?)
    }

    /// Deletes the instance with this id; whether there was one.
    pub async fn delete_by_id(&self, id: impl Into<Value>) -> Result<bool> {
        let id = id.into();
        self.authorize("deleteById", AccessType::Write, Some(&id)).await?;
        Ok(self.store("deleteById").delete_by_id(&id).await? > 0)
    }

    /// Sets `data` on every instance matching `where_`; the number changed.
    pub async fn update_all(&self, where_: Where, data: &impl Serialize) -> Result<u64> {
        self.authorize("updateAll", AccessType::Write, None).await?;
        self.store("updateAll").update_all(where_, &to_json(data)?).await
    }
}

fn to_json(data: &impl Serialize) -> Result<Value> {
    serde_json::to_value(data).map_err(|e| Error::Internal(format!("the data does not serialize: {e}")))
}

fn object(value: Value) -> Result<Instance> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Error::Internal("a create of one instance returned something else".into())),
    }
}

fn typed<M: DeserializeOwned>(row: Instance) -> Result<M> {
    M::deserialize(Value::Object(row)).map_err(|e| Error::Internal(format!("a stored row does not fit its type: {e}")))
}
