//! One handler for every route: it reads the arguments the remote method takes, runs the
//! operation and answers in LoopBack's shapes.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Payload};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::RestState;
use super::body::read_body;
use super::call::Call;
use super::relations;
use super::remote_method::Operation;
use super::reply::json_ok;
use super::routes::RouteTarget;
use crate::access;
use crate::error::{Error, Result};
use crate::filter::{Filter, FilterUse, QueryParams, Where, object_argument, parse_filter, parse_where};
use crate::model::ModelDefinition;
use crate::store::Store;
use crate::value::parse_id;

/// Arguments read from the query string, parsed once per request.
pub(crate) struct Args<'a> {
    pub(crate) params: QueryParams,
    pub(crate) state: &'a RestState,
}

impl Args<'_> {
    /// The `filter` argument, checked against the model.
    pub(crate) fn filter(&self, model: &ModelDefinition, usage: FilterUse) -> Result<Filter> {
        match object_argument(&self.params, "filter", &self.state.limits)? {
            None => parse_filter(&Value::Null, model, &*self.state.registry, &self.state.limits, usage),
            Some(v) => parse_filter(&v, model, &*self.state.registry, &self.state.limits, usage),
        }
        .map_err(Error::from)
    }

    /// The `where` argument, checked against the model.
    pub(crate) fn where_(&self, model: &ModelDefinition) -> Result<Option<Where>> {
        match object_argument(&self.params, "where", &self.state.limits)? {
            None => Ok(None),
            Some(v) => Ok(parse_where(&v, model, &self.state.limits)?),
        }
    }
}

/// The `{id}` path segment parsed as the model's id type; `None` when it cannot be one.
pub(crate) fn path_id(req: &HttpRequest, model: &ModelDefinition, name: &str) -> (String, Option<Value>) {
    let raw = req.match_info().get(name).unwrap_or_default().to_owned();
    let id = parse_id(model.id_property().ty, &raw);
    (raw, id)
}

/// Runs the remote method a route stands for: the caller is identified, the arguments read
/// and checked (a malformed filter is a 400 even for a caller who would be denied), access is
/// decided, then the operation runs.
pub(crate) async fn dispatch(req: HttpRequest, payload: Payload, target: &RouteTarget) -> Result<HttpResponse> {
    let data = req
        .app_data::<Data<RestState>>()
        .cloned()
        .ok_or_else(|| Error::Internal("RestState is not registered as app data".into()))?;
    let state: &RestState = &data;
    // One more request in progress for the client's address, kept as long as the request is
    // (a change stream's as long as it is open).
    match state.clients.enter(&req) {
        Ok(Some(permit)) => {
            req.extensions_mut().insert(permit);
        }
        Ok(None) => {}
        Err(()) => {
            return Err(Error::too_many_requests(
                "Too many requests from this address are in progress; retry when one has finished",
                1,
            )
            .with_code("TOO_MANY_REQUESTS"));
        }
    }
    let caller = access::caller(state, &req).await?;
    let model = &target.model;
    let def = model.definition();
    let method = &target.method;
    let store = Store::new(state, state.pool(), model, &method.name, Some(&req));
    let args = Args { params: QueryParams::parse(req.query_string()), state };
    let body = if target.reads_body {
        read_body(&req, payload, state.body_limit, state.body_timeout).await?
    } else {
        Value::Null
    };
    if let Value::Array(items) = &body
        && items.len() > state.max_batch
    {
        return Err(Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body holds {} items; at most {} are accepted at once", items.len(), state.max_batch),
        )
        .with_code("BATCH_TOO_LARGE"));
    }
    let (raw_id, named) = path_id(&req, def, "id");
    let id = match &named {
        Some(id) => Some(store.resolve_id(id.clone()).await?),
        None => None,
    };
    // The answer names the instance by the id the client sent, not by the one stored.
    let as_named = |instance: crate::model::Instance| store.as_named(instance, named.as_ref());
    let authorize = |id: Option<Value>| {
        let caller = &caller;
        async move { access::authorize(state, caller, def, method, id.as_ref()).await }
    };

    match &method.operation {
        Operation::Find => {
            let filter = args.filter(def, FilterUse::Full)?;
            authorize(None).await?;
            access::authorize_includes(state, &caller, def, &filter.include).await?;
            Ok(json_ok(&Value::Array(store.find(filter).await?.into_iter().map(Value::Object).collect())))
        }
        Operation::FindOne => {
            let filter = args.filter(def, FilterUse::Full)?;
            authorize(None).await?;
            access::authorize_includes(state, &caller, def, &filter.include).await?;
            match store.find_one(filter).await? {
                Some(found) => Ok(json_ok(&Value::Object(found))),
                None => Err(Error::unknown_id(&def.name, "undefined")),
            }
        }
        Operation::FindById => {
            let filter = args.filter(def, FilterUse::FieldsAndInclude)?;
            authorize(id.clone()).await?;
            access::authorize_includes(state, &caller, def, &filter.include).await?;
            let found = match id {
                Some(id) => store.find_by_id(&id, filter).await?,
                None => None,
            };
            found.map(|f| json_ok(&Value::Object(as_named(f)))).ok_or_else(|| Error::unknown_id(&def.name, &raw_id))
        }
        Operation::Count => {
            let where_ = args.where_(def)?;
            authorize(None).await?;
            Ok(json_ok(&json!({ "count": store.count(where_).await? })))
        }
        Operation::Exists | Operation::ExistsHead => {
            authorize(id.clone()).await?;
            let exists = match id {
                Some(id) => store.exists(&id).await?,
                None => false,
            };
            Ok(match (&method.operation, exists) {
                (Operation::Exists, _) => json_ok(&json!({ "exists": exists })),
                (_, true) => HttpResponse::Ok().finish(),
                (_, false) => HttpResponse::NotFound().finish(),
            })
        }
        Operation::Create => {
            authorize(None).await?;
            Ok(json_ok(&store.create(&body).await?))
        }
        Operation::PatchOrCreate => {
            authorize(None).await?;
            Ok(json_ok(&Value::Object(store.patch_or_create(&body).await?)))
        }
        Operation::ReplaceOrCreate => {
            authorize(None).await?;
            Ok(json_ok(&Value::Object(store.replace_or_create(&body).await?)))
        }
        Operation::UpsertWithWhere => {
            let where_ =
                args.where_(def)?.ok_or_else(|| Error::bad_request("upsertWithWhere requires a non-empty where"))?;
            authorize(None).await?;
            Ok(json_ok(&Value::Object(store.upsert_with_where(where_, &body).await?)))
        }
        Operation::UpdateAll => {
            let where_ = args
                .where_(def)?
                .ok_or_else(|| Error::bad_request("updateAll requires a non-empty where: it would change every row"))?;
            authorize(None).await?;
            Ok(json_ok(&json!({ "count": store.update_all(where_, &body).await? })))
        }
        Operation::ReplaceById => {
            authorize(id.clone()).await?;
            match id {
                Some(id) => Ok(json_ok(&Value::Object(as_named(store.replace_by_id(&id, &body).await?)))),
                None => Err(Error::not_found(format!("Could not replace. Object with id {raw_id} does not exist!"))),
            }
        }
        Operation::PatchAttributes => {
            authorize(id.clone()).await?;
            match id {
                Some(id) => Ok(json_ok(&Value::Object(as_named(store.patch_attributes(&id, &body).await?)))),
                None => {
                    Err(Error::not_found(format!("could not find a model with id {raw_id}"))
                        .with_code("MODEL_NOT_FOUND"))
                }
            }
        }
        Operation::DeleteById => {
            authorize(id.clone()).await?;
            let count = match id {
                Some(id) => store.delete_by_id(&id).await?,
                None => 0,
            };
            if count == 0 && def.settings.strict_delete {
                return Err(Error::not_found(format!("No instance with id {raw_id} found for {}", def.name))
                    .with_code("NOT_FOUND"));
            }
            Ok(json_ok(&json!({ "count": count })))
        }
        Operation::ChangeStream => {
            let query = object_argument(&args.params, "options", &state.limits)?;
            let (where_, fields) = super::stream::options(state, def, query, &body)?;
            authorize(None).await?;
            // The subscriber's row rule is taken once, as a find would take it now.
            let row_rule = store.access(None).await?;
            let subscription = super::stream::Subscription::new(
                data.clone(),
                model.clone(),
                req.clone(),
                caller,
                row_rule,
                (where_, fields),
            );
            Ok(subscription.respond())
        }
        Operation::Relation { relation, op } => {
            let parent = (raw_id.as_str(), id.clone());
            let names = (method.name.as_str(), relation.as_str());
            relations::handle(&req, &store, &args, &caller, parent, names, *op, &body, authorize(id)).await
        }
        Operation::Custom(handler) => {
            authorize(id).await?;
            let call = Call {
                request: req.clone(),
                body,
                params: args.params,
                model: model.clone(),
                state: data.clone(),
                caller,
                method: method.name.clone(),
                shows_hidden: method.shows_hidden,
            };
            handler.run(call).await
        }
    }
}
