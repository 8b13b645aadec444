//! The semantics of each PersistedModel method over the database: validation, hooks, SQL,
//! includes and the shaping of results. Knows nothing of HTTP beyond the call context.

mod include;
mod input;
pub(crate) mod schema;
mod sql;
mod unique;

pub(crate) use include::through_model;
pub use input::{WriteKind, body_id, body_object, prepare, validate_instance};
pub use sql::{find_by_id as find_rows_by_id, select_statement};

use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::connection::Db;
use crate::error::{Error, Result};
use crate::filter::{Filter, FilterLimits, Where};
use crate::model::{CallContext, Instance, ModelDefinition, ModelHandle, ModelRegistry, SaveEvent};
use crate::value::id_text;
use unique::write_error;

/// The most removed rows a delete reads first for the change feed.
const REMOVED_ROWS_KEPT: u64 = 1_000;

/// Everything an operation needs: the connection, the models, and the call.
#[derive(Clone)]
pub struct Store<'a> {
    /// The connection: the pool, or the transaction of the write this store works inside.
    pub db: Db<'a>,
    /// Every model of the application.
    pub registry: &'a ModelRegistry,
    /// The model operated on.
    pub model: &'a ModelHandle,
    /// Who called which method.
    pub call: CallContext<'a>,
    /// Query limits.
    pub limits: &'a FilterLimits,
    /// Instances keep their hidden properties (the typed repository reads whole rows).
    pub(crate) keep_hidden: bool,
}

impl<'a> CallContext<'a> {
    /// A store over another registered model, for hooks that touch related data.
    pub fn store(&self, model: &str) -> Option<Store<'a>> {
        let handle = self.registry.get(model)?;
        Some(Store {
            db: self.db,
            registry: self.registry,
            model: handle,
            call: CallContext { model: handle.definition(), ..self.clone() },
            limits: self.limits,
            keep_hidden: false,
        })
    }
}

impl<'a> Store<'a> {
    /// A store over `model` for a call of `method` (by `request`, when it came from one).
    pub(crate) fn new(
        state: &'a crate::RestState,
        db: Db<'a>,
        model: &'a ModelHandle,
        method: &'a str,
        request: Option<&'a actix_web::HttpRequest>,
    ) -> Self {
        Store {
            db,
            registry: &state.registry,
            model,
            call: CallContext {
                model: model.definition(),
                method,
                request,
                db,
                registry: &state.registry,
                limits: &state.limits,
                caller: None,
                system: false,
                changes: &state.changes,
            },
            limits: &state.limits,
            keep_hidden: false,
        }
    }

    fn def(&self) -> &'a ModelDefinition {
        self.model.definition()
    }

    /// The same store acting as the system: hooks see `ctx.is_system()` although the call came
    /// from a request (whose caller and extensions stay visible). For remote methods that
    /// checked what they needed themselves, as login checks the password before minting a
    /// token for the user it found.
    pub fn as_system(mut self) -> Self {
        self.call.system = true;
        self
    }

    /// The same store for another model (relations).
    pub fn for_model(&self, model: &'a ModelHandle, method: &'a str) -> Store<'a> {
        Store { model, call: CallContext { model: model.definition(), method, ..self.call.clone() }, ..self.clone() }
    }

    /// The same store on another connection (a write's transaction).
    fn on<'b>(&self, db: Db<'b>) -> Store<'b>
    where
        'a: 'b,
    {
        Store {
            db,
            registry: self.registry,
            model: self.model,
            call: CallContext { db, ..self.call.clone() },
            limits: self.limits,
            keep_hidden: self.keep_hidden,
        }
    }

    /// Runs `op` as one write: in a new transaction, or in the one this store is in already
    /// (a hook's). Every statement of it, hooks and stores made from the store it is given
    /// included, uses that transaction, and nothing of it stays when it fails.
    pub async fn transaction<T>(&self, op: impl AsyncFnOnce(&Store<'_>) -> Result<T>) -> Result<T> {
        let Some(txn) = self.db.begin().await? else { return op(self).await };
        let result = op(&self.on(txn.db())).await;
        match result {
            Ok(value) => {
                let feed = self.call.changes;
                let (confirm_seq, revokes) = txn.needs_confirming();
                if revokes && feed.shares_epoch() {
                    // With the write, atomically: every process sees the epoch move within
                    // its lease, whatever the broker does (`changes::lease`).
                    let raise = crate::changes::lease::raise_statement(self.db.get_database_backend());
                    if let Err(e) = txn.db().execute_raw(raise).await {
                        txn.rollback().await;
                        return Err(e.into());
                    }
                }
                txn.commit().await?;
                // A revocation (a token's change) is answered once every process knows it.
                let seq = confirm_seq.load(std::sync::atomic::Ordering::SeqCst);
                feed.confirmed(seq, tokio::time::Instant::now()).await;
                Ok(value)
            }
            Err(e) => {
                txn.rollback().await;
                Err(e)
            }
        }
    }

    /// The stored id for an id a client sent (the model's `resolve_id` hook).
    pub async fn resolve_id(&self, id: Value) -> Result<Value> {
        self.model.hooks().resolve_id(&self.call, id).await
    }

    /// An instance named by the id the client sent (`named`) rather than the stored one, for
    /// models whose `resolve_id` maps one to the other (a token and its fingerprint).
    pub fn as_named(&self, mut instance: Instance, named: Option<&Value>) -> Instance {
        let key = &self.def().id_property().name;
        if let Some(named) = named
            && instance.contains_key(key)
        {
            instance.insert(key.clone(), named.clone());
        }
        instance
    }

    /// Publishes `change` once the write commits (at once outside a transaction).
    fn emit(&self, change: crate::changes::ModelChange) {
        let feed = self.call.changes.clone();
        if !self.def().settings.confirm_changes {
            self.db.on_commit(move || {
                feed.publish(change, false);
            });
            return;
        }
        // Only a change that may revoke is waited for: a grant (a new token, a new role
        // mapping) reaches the others within milliseconds, and until then they only refuse.
        let seq_of_write = self
            .db
            .note_confirmed_change(crate::changes::revokes(&change))
            .filter(|_| crate::changes::revokes(&change));
        self.db.on_commit(move || {
            let seq = feed.publish(change, true);
            if let Some(cell) = seq_of_write {
                cell.fetch_max(seq, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }

    /// `where_` narrowed by the model's row rule for this caller (the `access` hook).
    pub(crate) async fn access(&self, mut where_: Option<Where>) -> Result<Option<Where>> {
        self.model.hooks().access(&self.call, &mut where_).await?;
        Ok(where_)
    }

    /// Client data checked, coerced and normalised (the `normalize` hook) for a write.
    async fn prepare(&self, data: &Instance, kind: WriteKind) -> Result<Instance> {
        let mut prepared = prepare(self.def(), data, kind)?;
        self.model.hooks().normalize(&self.call, &mut prepared).await?;
        Ok(prepared)
    }

    /// find: the matching instances, shaped for the client.
    pub async fn find(&self, mut filter: Filter) -> Result<Vec<Instance>> {
        filter.where_ = self.access(filter.where_.take()).await?;
        let mut rows = sql::find(&self.db, self.def(), &filter).await?;
        include::load(self, &mut rows, &filter, &include::Budget::new(self.limits.max_include_rows)).await?;
        self.present_all(rows, &filter).await
    }

    /// The stored rows matching the filter's where, order and paging, hidden properties
    /// included and no hook but `access`: for server code (login), never for responses.
    pub async fn find_raw(&self, mut filter: Filter) -> Result<Vec<Instance>> {
        filter.where_ = self.access(filter.where_.take()).await?;
        Ok(sql::find(&self.db, self.def(), &filter).await?)
    }

    /// The stored row with this id, if the `access` hook lets this caller see it.
    async fn find_visible(&self, id: &Value) -> Result<Option<Instance>> {
        let filter = Filter { where_: Some(sql::id_where(self.def(), id)), limit: Some(1), ..Filter::default() };
        Ok(self.find_raw(filter).await?.pop())
    }

    /// findOne: the first matching instance.
    pub async fn find_one(&self, mut filter: Filter) -> Result<Option<Instance>> {
        filter.limit = Some(1);
        Ok(self.find(filter).await?.into_iter().next())
    }

    /// findById: the instance with this id, honouring the filter's fields and include.
    pub async fn find_by_id(&self, id: &Value, filter: Filter) -> Result<Option<Instance>> {
        let filter = Filter { where_: Some(sql::id_where(self.def(), id)), limit: Some(1), ..filter };
        Ok(self.find(filter).await?.into_iter().next())
    }

    /// count.
    pub async fn count(&self, where_: Option<Where>) -> Result<u64> {
        let where_ = self.access(where_).await?;
        Ok(sql::count(&self.db, self.def(), where_.as_ref()).await?)
    }

    /// Locks the row with this id until the transaction this store is in ends, so that
    /// concurrent writes that read it first take turns (PostgreSQL and MySQL `FOR UPDATE`;
    /// SQLite's write transactions take turns already). Whether the row exists.
    pub async fn lock_by_id(&self, id: &Value) -> Result<bool> {
        Ok(sql::lock_by_id(&self.db, self.def(), id).await?)
    }

    /// exists.
    pub async fn exists(&self, id: &Value) -> Result<bool> {
        Ok(self.count(Some(sql::id_where(self.def(), id))).await? > 0)
    }

    /// create with an object or an array; an array is created in one transaction, so one
    /// invalid item writes nothing.
    pub async fn create(&self, body: &Value) -> Result<Value> {
        match body {
            Value::Array(items) => {
                // Checked and normalised before the transaction: password hashing holds no
                // connection.
                let mut prepared = Vec::with_capacity(items.len());
                for item in items {
                    prepared.push(self.prepare(&body_object(item)?, WriteKind::Create).await?);
                }
                self.transaction(async |s| {
                    let mut out = Vec::with_capacity(prepared.len());
                    for data in prepared {
                        out.push(Value::Object(s.insert(data).await?));
                    }
                    Ok(Value::Array(out))
                })
                .await
            }
            other => {
                let data = self.prepare(&body_object(other)?, WriteKind::Create).await?;
                Ok(Value::Object(self.create_prepared(data).await?))
            }
        }
    }

    /// Creates one instance from prepared data and returns it shaped for the client.
    pub async fn create_prepared(&self, data: Instance) -> Result<Instance> {
        if !self.model.has_hooks() {
            // One INSERT and a read of what it wrote: nothing to keep atomic, so no BEGIN and
            // COMMIT round trips.
            return self.insert(data).await;
        }
        self.transaction(async |s| s.insert(data).await).await
    }

    async fn insert(&self, data: Instance) -> Result<Instance> {
        let mut event = SaveEvent::new(true, data, None, None);
        self.model.hooks().before_save(&self.call, &mut event).await?;
        let stored = sql::insert_row(&self.db, self.def(), &event.data)
            .await
            .map_err(|e| write_error(self.def(), &event.data, e))?;
        self.model.hooks().after_save(&self.call, &stored, true).await?;
        self.emit(crate::changes::ModelChange::created(self.def(), &stored));
        Ok(event.shown_over(self.present(stored, &Filter::default()).await?))
    }

    /// replaceById: the whole instance is replaced; omitted properties get defaults or null.
    pub async fn replace_by_id(&self, id: &Value, body: &Value) -> Result<Instance> {
        let data = body_object(body)?;
        if let Some(body_id) = body_id(self.def(), &data)
            && self.resolve_id(body_id.clone()).await? != *id
        {
            return Err(Error::bad_request(format!(
                "id property ({}) cannot be updated from {} to {}",
                self.def().id_property().name,
                id_text(id),
                id_text(&body_id)
            )));
        }
        let prepared = self.prepare(&data, WriteKind::Replace).await?;
        self.transaction(async |s| {
            s.replace(id, prepared, || {
                Error::not_found(format!("Could not replace. Object with id {} does not exist!", id_text(id)))
            })
            .await
        })
        .await
    }

    async fn replace(&self, id: &Value, mut data: Instance, missing: impl FnOnce() -> Error) -> Result<Instance> {
        let Some(current) = self.find_visible(id).await? else {
            return Err(missing());
        };
        // Properties the replacement leaves out become null (defaults were applied already).
        for p in &self.def().properties {
            if !p.generated
                && p.name != self.def().id_property().name
                && !data.contains_key(&p.name)
                && !p.server_managed
            {
                data.insert(p.name.clone(), Value::Null);
            }
        }
        self.update_one(id, data, current).await
    }

    /// patchAttributes: merges the body into the stored instance.
    pub async fn patch_attributes(&self, id: &Value, body: &Value) -> Result<Instance> {
        let data = body_object(body)?;
        self.transaction(async |s| {
            let Some(current) = s.find_visible(id).await? else {
                return Err(Error::not_found(format!("could not find a model with id {}", id_text(id)))
                    .with_code("MODEL_NOT_FOUND"));
            };
            if let Some(body_id) = body_id(s.def(), &data)
                && s.resolve_id(body_id.clone()).await? != *id
            {
                return Err(Error::bad_request(if s.def().force_id() {
                    format!(
                        "id cannot be updated from {} to {} when forceId is set to true",
                        id_text(id),
                        id_text(&body_id)
                    )
                } else {
                    format!("id property ({}) cannot be updated", s.def().id_property().name)
                }));
            }
            let prepared = s.prepare(&data, WriteKind::Patch).await?;
            s.patch(id, prepared, current).await
        })
        .await
    }

    async fn patch(&self, id: &Value, data: Instance, current: Instance) -> Result<Instance> {
        let mut merged = current.clone();
        merged.extend(data.clone());
        validate_instance(self.def(), &merged)?;
        self.update_one(id, data, current).await
    }

    async fn update_one(&self, id: &Value, data: Instance, current: Instance) -> Result<Instance> {
        let mut event = SaveEvent::new(false, data, Some(current), None);
        self.model.hooks().before_save(&self.call, &mut event).await?;
        let by_id = sql::id_where(self.def(), id);
        // The row rules narrow the update too; a hook that drops the where leaves the id.
        let where_ = self.access(Some(by_id.clone())).await?.unwrap_or(by_id);
        sql::update(&self.db, self.def(), &where_, &event.data)
            .await
            .map_err(|e| write_error(self.def(), &event.data, e))?;
        let stored = sql::find_by_id(&self.db, self.def(), id)
            .await?
            .ok_or_else(|| Error::not_found(format!("could not find a model with id {}", id_text(id))))?;
        self.model.hooks().after_save(&self.call, &stored, false).await?;
        self.emit(crate::changes::ModelChange::updated(self.def(), &stored));
        Ok(event.shown_over(self.present(stored, &Filter::default()).await?))
    }

    /// An id that names a row the `access` hook hides: the caller may neither change nor
    /// replace it, and creating it would collide, so it is answered as missing.
    async fn hidden(&self, id: &Value) -> Result<bool> {
        Ok(sql::exists(&self.db, self.def(), id).await?)
    }

    /// patchOrCreate (PATCH /): updates the instance named by the body's id, else creates.
    pub async fn patch_or_create(&self, body: &Value) -> Result<Instance> {
        let data = body_object(body)?;
        let named = body_id(self.def(), &data);
        let id = match &named {
            Some(id) => Some(self.resolve_id(id.clone()).await?),
            None => None,
        };
        let Some(id) = id else {
            let prepared = self.prepare(&data, WriteKind::Create).await?;
            return self.create_prepared(prepared).await;
        };
        let missing = || {
            Error::not_found(format!("Could not update attributes. Object with id {} does not exist!", id_text(&id)))
        };
        let written = self
            .transaction(async |s| match s.find_visible(&id).await? {
                Some(current) => {
                    let prepared = s.prepare(&data, WriteKind::Patch).await?;
                    s.patch(&id, prepared, current).await
                }
                None if s.def().force_id() || s.hidden(&id).await? => Err(missing()),
                None => s.insert_with_id(&data, &id).await,
            })
            .await?;
        Ok(self.as_named(written, named.as_ref()))
    }

    /// replaceOrCreate (PUT /, POST /replaceOrCreate).
    pub async fn replace_or_create(&self, body: &Value) -> Result<Instance> {
        let data = body_object(body)?;
        let named = body_id(self.def(), &data);
        let id = match &named {
            Some(id) => Some(self.resolve_id(id.clone()).await?),
            None => None,
        };
        let Some(id) = id else {
            let prepared = self.prepare(&data, WriteKind::Create).await?;
            return self.create_prepared(prepared).await;
        };
        let missing =
            || Error::not_found(format!("Could not replace. Object with id {} does not exist!", id_text(&id)));
        let written = self
            .transaction(async |s| {
                if !s.def().force_id() && !sql::exists(&s.db, s.def(), &id).await? {
                    return s.insert_with_id(&data, &id).await;
                }
                let prepared = s.prepare(&data, WriteKind::Replace).await?;
                s.replace(&id, prepared, missing).await
            })
            .await?;
        Ok(self.as_named(written, named.as_ref()))
    }

    async fn insert_with_id(&self, data: &Instance, id: &Value) -> Result<Instance> {
        let mut prepared = self.prepare(data, WriteKind::Create).await?;
        prepared.insert(self.def().id_property().name.clone(), id.clone());
        self.insert(prepared).await
    }

    /// upsertWithWhere: validates the data alone, then patches the single match or creates.
    pub async fn upsert_with_where(&self, where_: Where, body: &Value) -> Result<Instance> {
        let data = body_object(body)?;
        if data.is_empty() {
            return Err(Error::bad_request("data object cannot be empty!"));
        }
        let prepared = self.prepare(&data, WriteKind::Create).await?;
        self.transaction(async |s| {
            let filter = Filter { where_: Some(where_), limit: Some(2), ..Filter::default() };
            let mut matches = s.find_raw(filter).await?;
            match matches.len() {
                0 => s.insert(prepared).await,
                1 => {
                    let current = matches.pop().expect("one match");
                    let id = current.get(&s.def().id_property().name).cloned().unwrap_or(Value::Null);
                    let patch = s.prepare(&data, WriteKind::Patch).await?;
                    s.patch(&id, patch, current).await
                }
                _ => Err(Error::bad_request(
                    "There are multiple instances found.Upsert Operation will not be performed!",
                )),
            }
        })
        .await
    }

    /// updateAll: sets the data on every row matching a non-empty where.
    pub async fn update_all(&self, where_: Where, body: &Value) -> Result<u64> {
        let data = self.prepare(&body_object(body)?, WriteKind::UpdateAll).await?;
        self.transaction(async |s| {
            let where_ =
                s.access(Some(where_)).await?.ok_or_else(|| Error::bad_request("updateAll requires a where"))?;
            s.update_rows(where_, data).await
        })
        .await
    }

    /// deleteById: `{count}` of 0 or 1.
    pub async fn delete_by_id(&self, id: &Value) -> Result<u64> {
        self.delete_where(sql::id_where(self.def(), id)).await
    }

    /// Deletes every row matching `where_` (after the access hook).
    pub async fn delete_where(&self, where_: Where) -> Result<u64> {
        self.transaction(async |s| {
            let where_ = s.access(Some(where_)).await?.ok_or_else(|| Error::bad_request("delete requires a where"))?;
            s.model.hooks().before_delete(&s.call, &where_).await?;
            // The rows as they were, so that change streams show a remove only to subscribers
            // who could read the row; past a bound, the change names the where alone. Not read
            // when no change stream can hear of it.
            let mut removed = None;
            if s.call.changes.may_have_subscribers() {
                let limit = Some(REMOVED_ROWS_KEPT + 1);
                let bound = Filter { where_: Some(where_.clone()), limit, ..Filter::default() };
                let rows = sql::find(&s.db, s.def(), &bound).await?;
                removed = Some(rows).filter(|r| r.len() as u64 <= REMOVED_ROWS_KEPT);
            }
            let n = sql::delete(&s.db, s.def(), &where_).await?;
            s.model.hooks().after_delete(&s.call, &where_, n).await?;
            s.emit(crate::changes::ModelChange::removed(s.def(), &where_, removed));
            Ok(n)
        })
        .await
    }

    /// Updates the rows matching `where_` with prepared data (server code; runs `before_save`).
    pub async fn update_where(&self, where_: &Where, data: &Instance) -> Result<u64> {
        self.transaction(async |s| s.update_rows(where_.clone(), data.clone()).await).await
    }

    async fn update_rows(&self, where_: Where, data: Instance) -> Result<u64> {
        let mut event = SaveEvent::new(false, data, None, Some(where_.clone()));
        self.model.hooks().before_save(&self.call, &mut event).await?;
        let n = sql::update(&self.db, self.def(), &where_, &event.data)
            .await
            .map_err(|e| write_error(self.def(), &event.data, e))?;
        self.emit(crate::changes::ModelChange::updated_where(self.def(), &where_, &event.data));
        Ok(n)
    }

    async fn present_all(&self, rows: Vec<Instance>, filter: &Filter) -> Result<Vec<Instance>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.present(row, filter).await?);
        }
        Ok(out)
    }

    /// Shapes a stored row for the client: `loaded` hook, then hidden properties removed and
    /// `fields` applied (included relations are kept).
    pub async fn present(&self, mut row: Instance, filter: &Filter) -> Result<Instance> {
        // A model without hooks has no `loaded` hook: no boxed future per row.
        if self.model.has_hooks() {
            self.model.hooks().loaded(&self.call, &mut row).await?;
        }
        let def = self.def();
        let keep_hidden = self.keep_hidden;
        // Nothing to hide and no `fields`: every key stays, so no lookup per key.
        if filter.fields.is_some() || (!keep_hidden && def.properties.iter().any(|p| p.hidden)) {
            row.retain(|key, _| match def.property(key) {
                Some(p) => {
                    (keep_hidden || !p.hidden) && filter.fields.as_ref().is_none_or(|f| f.iter().any(|n| n == key))
                }
                // Included relations, and what a `loaded` hook added unless `fields` narrowed.
                None => filter.fields.is_none() || filter.include.iter().any(|i| i.relation == *key),
            });
        }
        if def.settings.omit_nulls {
            row.retain(|_, value| !value.is_null());
        }
        Ok(row)
    }
}
