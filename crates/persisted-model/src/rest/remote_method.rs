//! The one table of remote methods per model. Route mounting reads it (and later OpenAPI and
//! the ACL engine), so they can never disagree.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::Method;
pub use persisted_model_acl::AccessType;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::call::Call;
use crate::error::Error;
use crate::model::{ModelDefinition, RelationKind};

type HandlerFn = dyn Fn(Call) -> Pin<Box<dyn Future<Output = Result<HttpResponse, Error>>>> + Send + Sync;

/// The handler of a custom remote method (login, logout, ...).
#[derive(Clone)]
pub struct CustomHandler {
    f: Arc<HandlerFn>,
    /// Whether the method reads the request body.
    pub reads_body: bool,
}

impl CustomHandler {
    /// A handler from an async function of the call.
    pub fn new<F, Fut>(reads_body: bool, f: F) -> Self
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HttpResponse, Error>> + 'static,
    {
        Self { f: Arc::new(move |call| Box::pin(f(call))), reads_body }
    }

    pub(crate) async fn run(&self, call: Call) -> Result<HttpResponse, Error> {
        (self.f)(call).await
    }
}

impl fmt::Debug for CustomHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomHandler").field("reads_body", &self.reads_body).finish_non_exhaustive()
    }
}

impl PartialEq for CustomHandler {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.f, &other.f)
    }
}

impl Eq for CustomHandler {}

/// What a route does; the handler dispatches on it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /`.
    Create,
    /// `PATCH /` (and `PUT /` without replaceOnPUT).
    PatchOrCreate,
    /// `PUT /`, `POST /replaceOrCreate`.
    ReplaceOrCreate,
    /// `POST /upsertWithWhere`.
    UpsertWithWhere,
    /// `GET /:id/exists`.
    Exists,
    /// `HEAD /:id`: 200 or 404 without a body.
    ExistsHead,
    /// `GET /:id`.
    FindById,
    /// `PUT /:id`, `POST /:id/replace`.
    ReplaceById,
    /// `GET /`.
    Find,
    /// `GET /findOne`.
    FindOne,
    /// `POST /update`.
    UpdateAll,
    /// `DELETE /:id`.
    DeleteById,
    /// `GET /count`.
    Count,
    /// `PATCH /:id`.
    PatchAttributes,
    /// `GET|POST /change-stream`: Server-Sent Events, one per change.
    ChangeStream,
    /// A custom remote method.
    Custom(CustomHandler),
    /// A relation route.
    Relation {
        /// The relation name.
        relation: String,
        /// What the route does with it.
        op: RelationOp,
    },
}

/// What a relation route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationOp {
    /// `GET /:id/rel` (to-one: the instance; to-many: a filtered list).
    Get,
    /// `POST /:id/rel`.
    Create,
    /// `PUT /:id/rel` on hasOne.
    Update,
    /// `DELETE /:id/rel`: every related instance (to-many) or the one (hasOne).
    Delete,
    /// `GET /:id/rel/count`.
    Count,
    /// `GET /:id/rel/:fk`.
    FindById,
    /// `PUT /:id/rel/:fk`.
    UpdateById,
    /// `DELETE /:id/rel/:fk`.
    DestroyById,
    /// `PUT /:id/rel/rel/:fk` (hasManyThrough).
    Link,
    /// `DELETE /:id/rel/rel/:fk` (hasManyThrough).
    Unlink,
    /// `HEAD /:id/rel/rel/:fk` (hasManyThrough).
    Exists,
}

/// One remote method: its name, aliases, HTTP routes and access type.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RemoteMethod {
    /// The canonical name (`find`, `__get__products`).
    pub name: String,
    /// Other names ACLs may use (`upsert` for `patchOrCreate`).
    pub aliases: Vec<&'static str>,
    /// Verb and path (relative to the model's path) of each route.
    pub routes: Vec<(Method, String)>,
    /// The access type for ACLs.
    pub access: AccessType,
    /// What the handler does.
    pub operation: Operation,
    /// A one-line description for API documentation.
    pub description: String,
    /// The token scopes that may call the method; `None` is LoopBack's `["DEFAULT"]`.
    pub scopes: Option<Vec<String>>,
    /// Schema of the request body, for the API documentation (custom methods).
    pub body_schema: Option<RefOr<Schema>>,
    /// Schema of the 200 response, for the API documentation (custom methods); `None` with a
    /// custom method means it answers 204.
    pub response_schema: Option<RefOr<Schema>>,
    /// Named schemas the body and response schemas refer to (`#/components/schemas/...`).
    pub components: Vec<(String, RefOr<Schema>)>,
    /// What a [typed](Self::typed) method returns keeps the model's hidden properties (by
    /// default they are removed, at any depth: a method returning the model's own type never
    /// shows a password by accident).
    pub shows_hidden: bool,
}

impl RemoteMethod {
    /// A custom remote method with one route (`path` relative to the model, e.g. `/login`).
    pub fn custom(name: &str, verb: Method, path: &str, access: AccessType, handler: CustomHandler) -> Self {
        Self {
            name: name.to_owned(),
            aliases: Vec::new(),
            routes: vec![(verb, path.to_owned())],
            access,
            operation: Operation::Custom(handler),
            description: String::new(),
            scopes: None,
            body_schema: None,
            response_schema: None,
            components: Vec::new(),
            shows_hidden: false,
        }
    }

    /// A custom remote method declared as a Rust function of typed arguments: the JSON body
    /// is read as `A` (a 400 `INVALID_BODY` naming what does not fit), the result `R` is sent
    /// as JSON with 200, and both are documented from their utoipa `ToSchema` derives. The
    /// model's hidden properties are removed from the result, at any depth, unless the method
    /// asks for them with [`show_hidden`](Self::show_hidden).
    ///
    /// ```no_run
    /// use actix_web::http::Method;
    /// use persisted_model::{AccessType, Call, Error, RemoteMethod};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Deserialize, utoipa::ToSchema)]
    /// struct Publish {
    ///     /// When the post goes live.
    ///     at: Option<String>,
    /// }
    ///
    /// #[derive(Serialize, utoipa::ToSchema)]
    /// struct Published {
    ///     id: i64,
    ///     at: String,
    /// }
    ///
    /// async fn publish(call: Call, args: Publish) -> Result<Published, Error> {
    ///     let id = call.path_id().and_then(|v| v.as_i64()).unwrap_or_default();
    ///     Ok(Published { id, at: args.at.unwrap_or_else(|| "now".into()) })
    /// }
    ///
    /// let method = RemoteMethod::typed("publish", Method::POST, "/{id}/publish", AccessType::Write, publish)
    ///     .describe("Publish a post.");
    /// # let _ = method;
    /// ```
    pub fn typed<A, R, F, Fut>(name: &str, verb: Method, path: &str, access: AccessType, f: F) -> Self
    where
        A: serde::de::DeserializeOwned + utoipa::ToSchema + 'static,
        R: serde::Serialize + utoipa::ToSchema + 'static,
        F: Fn(Call, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Error>> + 'static,
    {
        let f = Arc::new(f);
        let handler = CustomHandler::new(true, move |call: Call| {
            let f = Arc::clone(&f);
            async move {
                let args = A::deserialize(&call.body).map_err(|e| {
                    Error::bad_request(format!("The request body does not fit: {e}")).with_code("INVALID_BODY")
                })?;
                let (model, shows_hidden) = (call.model.clone(), call.shows_hidden);
                let out = f(call, args).await?;
                let mut body = serde_json::to_value(out).map_err(|e| Error::Internal(format!("the result: {e}")))?;
                if !shows_hidden {
                    without_hidden(model.definition(), &mut body);
                }
                Ok(super::reply::json_ok(&body))
            }
        });
        let mut components = Vec::new();
        A::schemas(&mut components);
        R::schemas(&mut components);
        Self {
            body_schema: Some(<A as utoipa::PartialSchema>::schema()),
            response_schema: Some(<R as utoipa::PartialSchema>::schema()),
            components,
            ..Self::custom(name, verb, path, access, handler)
        }
    }

    /// What the method returns keeps the model's hidden properties (a method that must show
    /// them, to a caller entitled to them).
    pub fn show_hidden(mut self) -> Self {
        self.shows_hidden = true;
        self
    }

    /// Documents the request body.
    pub fn body_schema(mut self, schema: impl Into<RefOr<Schema>>) -> Self {
        self.body_schema = Some(schema.into());
        self
    }

    /// Documents the 200 response (without it a custom method is documented as 204).
    pub fn response_schema(mut self, schema: impl Into<RefOr<Schema>>) -> Self {
        self.response_schema = Some(schema.into());
        self
    }

    /// Adds another route.
    pub fn route(mut self, verb: Method, path: &str) -> Self {
        self.routes.push((verb, path.to_owned()));
        self
    }

    /// Sets the description.
    pub fn describe(mut self, text: &str) -> Self {
        self.description = text.to_owned();
        self
    }

    /// Restricts the method to tokens with one of these scopes.
    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
        self
    }
}

fn method(
    name: &str,
    aliases: &[&'static str],
    routes: &[(Method, &str)],
    access: AccessType,
    operation: Operation,
    description: &str,
) -> RemoteMethod {
    RemoteMethod {
        name: name.to_owned(),
        aliases: aliases.to_vec(),
        routes: routes.iter().map(|(m, p)| (m.clone(), (*p).to_owned())).collect(),
        access,
        operation,
        description: description.to_owned(),
        scopes: None,
        body_schema: None,
        response_schema: None,
        components: Vec::new(),
        shows_hidden: false,
    }
}

/// Every remote method of a model, in the order their routes must be registered: literal
/// paths before `/{id}` so that `/count` is never taken for an id.
pub fn remote_methods(model: &ModelDefinition) -> Vec<RemoteMethod> {
    use AccessType::{Read, Write};
    use Method as M;
    let replace = model.settings.replace_on_put;
    let put_root: &[(Method, &str)] = &[(M::PUT, "/")];
    let put_id: &[(Method, &str)] = &[(M::PUT, "/{id}")];
    let none: &[(Method, &str)] = &[];
    let mut out = vec![
        method(
            "create",
            &[],
            &[(M::POST, "/")],
            Write,
            Operation::Create,
            "Create a new instance of the model and persist it.",
        ),
        method(
            "patchOrCreate",
            &["upsert", "updateOrCreate"],
            &[&[(M::PATCH, "/")][..], if replace { none } else { put_root }].concat(),
            Write,
            Operation::PatchOrCreate,
            "Patch an existing model instance or insert a new one.",
        ),
        method(
            "replaceOrCreate",
            &[],
            &[if replace { put_root } else { none }, &[(M::POST, "/replaceOrCreate")][..]].concat(),
            Write,
            Operation::ReplaceOrCreate,
            "Replace an existing model instance or insert a new one.",
        ),
        method(
            "upsertWithWhere",
            &["patchOrCreateWithWhere"],
            &[(M::POST, "/upsertWithWhere")],
            Write,
            Operation::UpsertWithWhere,
            "Update an existing model instance or insert a new one, matched by a where clause.",
        ),
        method(
            "count",
            &[],
            &[(M::GET, "/count")],
            Read,
            Operation::Count,
            "Count instances that match a where clause.",
        ),
        method(
            "findOne",
            &[],
            &[(M::GET, "/findOne")],
            Read,
            Operation::FindOne,
            "Find the first instance that matches a filter.",
        ),
        method(
            "updateAll",
            &["update"],
            &[(M::POST, "/update")],
            Write,
            Operation::UpdateAll,
            "Update the instances that match a where clause.",
        ),
        method(
            "createChangeStream",
            &[],
            &[(M::POST, "/change-stream"), (M::GET, "/change-stream")],
            Read,
            Operation::ChangeStream,
            "Create a change stream: Server-Sent Events, one per change the caller may read.",
        ),
        method(
            "exists",
            &[],
            &[(M::GET, "/{id}/exists")],
            Read,
            Operation::Exists,
            "Check whether an instance exists.",
        ),
        method("exists", &[], &[(M::HEAD, "/{id}")], Read, Operation::ExistsHead, "Check whether an instance exists."),
        method("findById", &[], &[(M::GET, "/{id}")], Read, Operation::FindById, "Find an instance by id."),
        method(
            "replaceById",
            &[],
            &[if replace { put_id } else { none }, &[(M::POST, "/{id}/replace")][..]].concat(),
            Write,
            Operation::ReplaceById,
            "Replace the attributes of an instance.",
        ),
        method(
            "deleteById",
            &["destroyById", "removeById"],
            &[(M::DELETE, "/{id}")],
            Write,
            Operation::DeleteById,
            "Delete an instance by id.",
        ),
        method(
            "patchAttributes",
            &["updateAttributes"],
            &[&[(M::PATCH, "/{id}")][..], if replace { none } else { put_id }].concat(),
            Write,
            Operation::PatchAttributes,
            "Patch attributes of an instance.",
        ),
        method("find", &[], &[(M::GET, "/")], Read, Operation::Find, "Find all instances that match a filter."),
    ];
    for rel in &model.relations {
        let r = rel.name.as_str();
        let get = ("get", M::GET, "", Read, RelationOp::Get, "Fetch the related {r}.");
        let spec = match rel.kind {
            RelationKind::BelongsTo => vec![get],
            RelationKind::HasOne => vec![
                get,
                ("create", M::POST, "", Write, RelationOp::Create, "Create the related {r}."),
                ("update", M::PUT, "", Write, RelationOp::Update, "Update the related {r}."),
                ("destroy", M::DELETE, "", Write, RelationOp::Delete, "Delete the related {r}."),
            ],
            RelationKind::HasMany | RelationKind::HasManyThrough => {
                let mut v = vec![("count", M::GET, "/count", Read, RelationOp::Count, "Count the related {r}.")];
                if rel.kind == RelationKind::HasManyThrough {
                    v.extend([
                        ("link", M::PUT, "/rel/{fk}", Write, RelationOp::Link, "Add a related item to {r} by id."),
                        (
                            "unlink",
                            M::DELETE,
                            "/rel/{fk}",
                            Write,
                            RelationOp::Unlink,
                            "Remove the {r} relation to an item by id.",
                        ),
                        (
                            "exists",
                            M::HEAD,
                            "/rel/{fk}",
                            Read,
                            RelationOp::Exists,
                            "Check the {r} relation to an item by id.",
                        ),
                    ]);
                }
                v.extend([
                    ("findById", M::GET, "/{fk}", Read, RelationOp::FindById, "Find a related item of {r} by id."),
                    (
                        "updateById",
                        M::PUT,
                        "/{fk}",
                        Write,
                        RelationOp::UpdateById,
                        "Update a related item of {r} by id.",
                    ),
                    (
                        "destroyById",
                        M::DELETE,
                        "/{fk}",
                        Write,
                        RelationOp::DestroyById,
                        "Delete a related item of {r} by id.",
                    ),
                    ("get", M::GET, "", Read, RelationOp::Get, "Query the related {r}."),
                    ("create", M::POST, "", Write, RelationOp::Create, "Create new instances in {r}."),
                    ("delete", M::DELETE, "", Write, RelationOp::Delete, "Delete all {r}."),
                ]);
                v
            }
        };
        for (verb, http, suffix, access, op, description) in spec {
            out.push(method(
                &format!("__{verb}__{r}"),
                &[],
                &[(http, &format!("/{{id}}/{r}{suffix}"))],
                access,
                Operation::Relation { relation: rel.name.clone(), op },
                &description.replace("{r}", r),
            ));
        }
    }
    out
}

/// `value` without the model's hidden properties, in every object it holds.
fn without_hidden(model: &crate::model::ModelDefinition, value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| model.property(k).is_none_or(|p| !p.hidden));
            map.values_mut().for_each(|v| without_hidden(model, v));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| without_hidden(model, v)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::product_definition;

    fn routes(model: &ModelDefinition) -> Vec<String> {
        remote_methods(model)
            .iter()
            .filter(|m| !matches!(m.operation, Operation::Relation { .. }))
            .flat_map(|m| m.routes.iter().map(move |(v, p)| format!("{v} {p} {}", m.name)))
            .collect()
    }

    #[test]
    fn replace_on_put_true_is_loopback_3() {
        let r = routes(&product_definition());
        assert!(r.contains(&"PUT / replaceOrCreate".to_owned()));
        assert!(r.contains(&"PUT /{id} replaceById".to_owned()));
        assert!(r.contains(&"GET /change-stream createChangeStream".to_owned()));
        assert_eq!(r.len(), 18);
    }

    #[test]
    fn replace_on_put_false_moves_the_put_routes() {
        let mut m = product_definition();
        m.settings.replace_on_put = false;
        let r = routes(&m);
        assert!(r.contains(&"PUT / patchOrCreate".to_owned()));
        assert!(r.contains(&"PUT /{id} patchAttributes".to_owned()));
        assert!(r.contains(&"POST /replaceOrCreate replaceOrCreate".to_owned()));
        assert!(r.contains(&"POST /{id}/replace replaceById".to_owned()));
        // LoopBack's integration test enumerates exactly these 18.
        assert_eq!(r.len(), 18);
    }

    #[test]
    fn literal_paths_come_before_the_id_route() {
        let r = routes(&product_definition());
        let pos = |s: &str| r.iter().position(|x| x == s).unwrap();
        assert!(pos("GET /count count") < pos("GET /{id} findById"));
        assert!(pos("GET /findOne findOne") < pos("GET /{id} findById"));
    }
}
