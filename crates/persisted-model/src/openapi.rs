//! The OpenAPI 3.1 document, generated from the same remote-method tables and model
//! definitions that mount the routes, and built with utoipa's types: each model contributes
//! its paths and components ([`model_document`]), the documents are merged, and the
//! application's authenticator adds its security schemes.
//!
//! Schemas come from the model definitions rather than from a schema derive: the definitions
//! already carry the JSON names (serde renames), hidden and server-managed properties, and the
//! doc comments, so the document says exactly what the routes accept and return.

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use actix_web::http::Method;
use persisted_model_acl::{AccessRequest, Caller, Decision};
use utoipa::openapi::path::{HttpMethod, Operation as OasOperation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType,
    Type,
};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required, Response,
    ResponseBuilder,
};

use crate::model::{IntegerWidth, ModelDefinition, ModelHandle, PropertyType, RelationKind};
use crate::rest::{Operation, RelationOp, RemoteMethod, RestState};

/// The document's `info`: title, version and description (`RestApiBuilder::openapi_info`).
#[derive(Debug, Clone)]
pub(crate) struct OpenApiInfo {
    pub(crate) title: String,
    pub(crate) version: String,
    pub(crate) description: String,
}

impl Default for OpenApiInfo {
    fn default() -> Self {
        Self {
            title: "persisted-model API".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "LoopBack 3 compatible REST API.".into(),
        }
    }
}

type SchemaRef = RefOr<Schema>;

/// Runs a future that cannot wait (a policy check with no resolver).
fn now<F: Future>(f: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// `type`, with `null` added for nullable values (OpenAPI 3.1 has no `nullable`).
fn types(ty: impl IntoIterator<Item = Type>, nullable: bool) -> SchemaType {
    let mut all: Vec<Type> = ty.into_iter().collect();
    if nullable {
        all.push(Type::Null);
    }
    match all.as_slice() {
        [one] => SchemaType::Type(one.clone()),
        _ => SchemaType::from_iter(all),
    }
}

fn of_type(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty)
}

fn property_schema(ty: PropertyType, nullable: bool) -> SchemaRef {
    let (kinds, format) = match ty {
        PropertyType::String => (vec![Type::String], None),
        PropertyType::Boolean => (vec![Type::Boolean], None),
        PropertyType::Integer(IntegerWidth::I64) => (vec![Type::Integer], Some(KnownFormat::Int64)),
        PropertyType::Integer(_) => (vec![Type::Integer], Some(KnownFormat::Int32)),
        PropertyType::Number(_) => (vec![Type::Number], Some(KnownFormat::Double)),
        PropertyType::Date => (vec![Type::String], Some(KnownFormat::DateTime)),
        PropertyType::Json => (vec![Type::Object, Type::Array, Type::String, Type::Number, Type::Boolean], None),
    };
    ObjectBuilder::new().schema_type(types(kinds, nullable)).format(format.map(SchemaFormat::KnownFormat)).into()
}

fn schema_ref(name: &str) -> SchemaRef {
    Ref::from_schema_name(name).into()
}

fn array_of(items: impl Into<SchemaRef>) -> SchemaRef {
    ArrayBuilder::new().items(items.into()).into()
}

fn one_of(items: impl IntoIterator<Item = SchemaRef>) -> SchemaRef {
    items.into_iter().fold(OneOfBuilder::new(), OneOfBuilder::item).into()
}

fn closed(object: ObjectBuilder) -> ObjectBuilder {
    object.additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

enum Shape {
    /// What the server returns.
    Read,
    /// A new or replacing instance: required properties required.
    Write,
    /// A partial update: nothing required.
    Patch,
}

fn model_schema(model: &ModelDefinition, shape: Shape) -> SchemaRef {
    let mut schema = of_type(Type::Object);
    let id = &model.id_property().name;
    for p in model.properties.iter().filter(|p| !p.hidden) {
        let is_id = p.name == *id;
        let writable = !(p.server_managed || (is_id && model.force_id()));
        if !matches!(shape, Shape::Read) && !writable {
            continue;
        }
        let mut property = property_schema(p.ty, !p.required && !is_id);
        if let (Some(d), RefOr::T(Schema::Object(o))) = (&p.description, &mut property) {
            o.description = Some(d.clone());
        }
        if matches!(shape, Shape::Write) && p.required && !p.generated {
            schema = schema.required(p.name.clone());
        }
        schema = schema.property(p.name.clone(), property);
    }
    match shape {
        // Strict models refuse unknown properties.
        Shape::Write => closed(schema).into(),
        _ => schema.into(),
    }
}

fn filter_schema(model: &ModelDefinition, full: bool) -> SchemaRef {
    let names: Vec<&str> = model.properties.iter().filter(|p| !p.hidden).map(|p| p.name.as_str()).collect();
    let relations: Vec<&str> = model.relations.iter().filter(|r| !r.disable_include).map(|r| r.name.as_str()).collect();
    let flexible = |description: String| {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Array, Type::Object]))
            .description(Some(description))
    };
    let count = || of_type(Type::Integer).minimum(Some(0));
    let mut schema = of_type(Type::Object)
        .property(
            "fields",
            flexible(format!("A name, a list of names, or {{name: true|false}}. Properties: {}.", names.join(", "))),
        )
        .property(
            "include",
            flexible(format!("Relations to load, with optional scopes. Relations: {}.", relations.join(", "))),
        );
    if full {
        let order = ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Array]))
            .items(RefOr::from(of_type(Type::String)))
            .description(Some("\"property ASC|DESC\", a comma list or an array of them."));
        schema = schema
            .property("where", schema_ref(&format!("{}Where", model.name)))
            .property("order", order)
            .property("limit", count())
            .property("skip", count())
            .property("offset", count());
    }
    closed(schema).into()
}

/// The where clause of a model: each visible property takes a value or an object of operators;
/// `and`/`or` take lists of where clauses (a reference back to this schema).
fn where_schema(model: &ModelDefinition) -> SchemaRef {
    let self_ref = || array_of(schema_ref(&format!("{}Where", model.name)));
    let mut schema = of_type(Type::Object)
        .description(Some("LoopBack where clause: {property: value} or {property: {operator: value}}, and/or lists."));
    for p in model.properties.iter().filter(|p| !p.hidden) {
        let value = || property_schema(p.ty, true);
        let list = || array_of(value());
        let text = || of_type(Type::String);
        let mut ops = of_type(Type::Object);
        for op in ["eq", "neq", "gt", "gte", "lt", "lte"] {
            ops = ops.property(op, value());
        }
        let ops = ops
            .property("between", ArrayBuilder::new().items(value()).min_items(Some(2)).max_items(Some(2)))
            .property("inq", list())
            .property("nin", list())
            .property("like", text())
            .property("nlike", text())
            .property("ilike", text())
            .property("nilike", text())
            .property("regexp", text().description(Some("A pattern, or /pattern/flags with flags i, g, m")));
        schema = schema.property(p.name.clone(), one_of([value(), closed(ops).into()]));
    }
    closed(schema.property("and", self_ref()).property("or", self_ref())).into()
}

fn json_content(schema: impl Into<SchemaRef>) -> Content {
    Content::new(Some(schema.into()))
}

fn json_param(name: &str, schema: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .content("application/json", json_content(schema_ref(schema)))
        .build()
}

fn path_param(name: &str, description: String, schema: SchemaRef) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json_content(schema_ref("Error")))
        .build()
}

fn ok(schema: impl Into<SchemaRef>) -> Response {
    ResponseBuilder::new()
        .description("Request was successful")
        .content("application/json", json_content(schema))
        .build()
}

fn bare(description: &str) -> Response {
    ResponseBuilder::new().description(description).build()
}

fn body(schema: impl Into<SchemaRef>) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new().required(Some(Required::False)).content("application/json", json_content(schema)).build()
}

fn instance_or_many(name: &str) -> SchemaRef {
    one_of([schema_ref(name), array_of(schema_ref(name))])
}

/// OpenAPI's path template for one of our route paths.
fn oas_path(root: &str, model: &ModelDefinition, route: &str) -> String {
    let route = if route == "/" { "" } else { route };
    format!("{root}/{}{route}", model.path)
}

fn http_method(verb: &Method) -> Option<HttpMethod> {
    Some(match *verb {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        _ => return None,
    })
}

/// What one operation documents beyond its name: parameters, body and responses.
struct Parts {
    params: Vec<utoipa::openapi::path::Parameter>,
    body: Option<utoipa::openapi::request_body::RequestBody>,
    responses: Vec<(&'static str, Response)>,
}

fn parts(state: &RestState, model: &ModelDefinition, m: &RemoteMethod, path: &str) -> Parts {
    let name = &model.name;
    let mut params = Vec::new();
    if path.contains("{id}") {
        params.push(path_param("id", format!("{name} id"), property_schema(model.id_property().ty, false)));
    }
    let filter = format!("{name}Filter");
    let where_ = format!("{name}Where");
    let mut responses = Vec::new();
    let mut request_body = None;
    match &m.operation {
        Operation::Find => {
            params.push(json_param("filter", &filter, "Filter: where, fields, order, limit, skip, include."));
            responses.push(("200", ok(array_of(schema_ref(name)))));
        }
        Operation::FindOne => {
            params.push(json_param("filter", &filter, "Filter: where, fields, order, skip, include."));
            responses.push(("200", ok(schema_ref(name))));
        }
        Operation::FindById => {
            params.push(json_param("filter", &format!("{name}FieldsFilter"), "Filter: fields and include."));
            responses.push(("200", ok(schema_ref(name))));
        }
        Operation::Count => {
            params.push(json_param("where", &where_, "Where clause."));
            responses.push(("200", ok(schema_ref("Count"))));
        }
        Operation::Exists => responses.push(("200", ok(schema_ref("Exists")))),
        Operation::ExistsHead => {
            responses.push(("200", bare("The instance exists")));
            responses.push(("404", bare("No such instance")));
        }
        Operation::Create => {
            request_body = Some(body(instance_or_many(&format!("{name}Create"))));
            responses.push(("200", ok(instance_or_many(name))));
        }
        Operation::PatchOrCreate | Operation::PatchAttributes => {
            request_body = Some(body(schema_ref(&format!("{name}Patch"))));
            responses.push(("200", ok(schema_ref(name))));
        }
        Operation::ReplaceOrCreate | Operation::ReplaceById => {
            request_body = Some(body(schema_ref(&format!("{name}Create"))));
            responses.push(("200", ok(schema_ref(name))));
        }
        Operation::UpsertWithWhere => {
            params.push(json_param("where", &where_, "Where clause matching at most one instance (required)."));
            request_body = Some(body(schema_ref(&format!("{name}Create"))));
            responses.push(("200", ok(schema_ref(name))));
        }
        Operation::UpdateAll => {
            params.push(json_param("where", &where_, "Where clause (required, not empty)."));
            request_body = Some(body(schema_ref(&format!("{name}Patch"))));
            responses.push(("200", ok(schema_ref("Count"))));
        }
        Operation::DeleteById => responses.push(("200", ok(schema_ref("Count")))),
        Operation::ChangeStream => {
            let options = ObjectBuilder::new()
                .property("where", schema_ref(&where_))
                .property("fields", array_of(of_type(Type::String)))
                .description(Some("Which changes to send (where) and which properties to show (fields)."));
            params.push(
                ParameterBuilder::new()
                    .name("options")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some("Options: where and fields (for POST, also the body's `options`)."))
                    .content("application/json", json_content(options))
                    .build(),
            );
            let event = ObjectBuilder::new()
                .property("target", of_type(Type::Object).description(Some("The instance's id, when known.")))
                .property("where", schema_ref(&where_))
                .property("data", schema_ref(name))
                .property("type", of_type(Type::String).enum_values(Some(["create", "update", "remove"])))
                .required("type");
            responses.push((
                "200",
                ResponseBuilder::new()
                    .description("Server-Sent Events: `event: data` with one change each, `event: end` on shutdown")
                    .content("text/event-stream", json_content(event))
                    .build(),
            ));
        }
        Operation::Relation { relation, op } => {
            relation_parts(state, model, relation, *op, path, &mut params, &mut request_body, &mut responses);
        }
        Operation::Custom(handler) => {
            if handler.reads_body {
                request_body = Some(body(m.body_schema.clone().unwrap_or_else(|| of_type(Type::Object).into())));
            }
            match &m.response_schema {
                Some(schema) => responses.push(("200", ok(schema.clone()))),
                None => responses.push(("204", bare("Done, no content"))),
            }
        }
    }
    Parts { params, body: request_body, responses }
}

#[allow(clippy::too_many_arguments)]
fn relation_parts(
    state: &RestState,
    model: &ModelDefinition,
    relation: &str,
    op: RelationOp,
    path: &str,
    params: &mut Vec<utoipa::openapi::path::Parameter>,
    request_body: &mut Option<utoipa::openapi::request_body::RequestBody>,
    responses: &mut Vec<(&'static str, Response)>,
) {
    // `build()` checked every relation and its target.
    let Some(rel) = model.relation(relation) else { return };
    let target = state.registry.get(&rel.model).map(|h| h.definition());
    let tname = target.map_or("Object".to_owned(), |t| t.name.clone());
    if path.contains("{fk}") {
        let fk_schema = target.map_or_else(
            || ObjectBuilder::new().schema_type(SchemaType::AnyValue).into(),
            |t| property_schema(t.id_property().ty, false),
        );
        params.push(path_param("fk", format!("{tname} id"), fk_schema));
    }
    match op {
        RelationOp::Get if rel.is_to_many() => {
            params.push(json_param("filter", &format!("{tname}Filter"), "Filter for the related instances."));
            responses.push(("200", ok(array_of(schema_ref(&tname)))));
        }
        RelationOp::Get | RelationOp::FindById => {
            let schema = if rel.kind == RelationKind::BelongsTo {
                one_of([schema_ref(&tname), of_type(Type::Null).into()])
            } else {
                schema_ref(&tname)
            };
            responses.push(("200", ok(schema)));
        }
        RelationOp::Count => {
            params.push(json_param("where", &format!("{tname}Where"), "Where clause."));
            responses.push(("200", ok(schema_ref("Count"))));
        }
        RelationOp::Create => {
            *request_body = Some(body(instance_or_many(&format!("{tname}Create"))));
            responses.push(("200", ok(instance_or_many(&tname))));
        }
        RelationOp::Update | RelationOp::UpdateById => {
            *request_body = Some(body(schema_ref(&format!("{tname}Patch"))));
            responses.push(("200", ok(schema_ref(&tname))));
        }
        RelationOp::Link => {
            *request_body = Some(body(of_type(Type::Object)));
            responses.push(("200", ok(of_type(Type::Object))));
        }
        RelationOp::Exists => {
            responses.push(("200", bare("Linked")));
            responses.push(("404", bare("Not linked")));
        }
        RelationOp::Delete | RelationOp::DestroyById | RelationOp::Unlink => responses.push(("204", bare("Done"))),
    }
}

fn operation(
    state: &RestState,
    schemes: &[(String, SecurityScheme)],
    model: &ModelDefinition,
    m: &RemoteMethod,
    verb: &Method,
    operation_id: String,
    path: &str,
) -> OasOperation {
    let Parts { params, body, mut responses } = parts(state, model, m, path);
    if *verb != Method::HEAD {
        responses.push(("400", error("Malformed request, filter or argument")));
        responses.push(("401", error("Authorization required, or an invalid access token")));
        responses.push(("403", error("Access denied")));
        if path.contains("{id}") {
            responses.push(("404", error("No such instance")));
        }
        if m.access != persisted_model_acl::AccessType::Read {
            responses.push(("413", error("Request body too large")));
            responses.push(("422", error("The instance is not valid")));
        }
    }
    let mut op = OperationBuilder::new()
        .tag(model.name.clone())
        .operation_id(Some(operation_id))
        .summary(Some(m.description.clone()))
        .parameters(Some(params))
        .request_body(body);
    for (status, response) in responses {
        op = op.response(status, response);
    }
    // Mark what the ACLs deny to anonymous callers: those need a token.
    let request = AccessRequest {
        model: &model.name,
        method: &m.name,
        aliases: &m.aliases,
        access_type: m.access,
        model_id: None,
        scopes: m.scopes.as_deref(),
    };
    let denied = now(state.policy.check(&request, &Caller::anonymous(), &()))
        .is_some_and(|c| c.is_ok_and(|c| c.decision == Decision::Deny));
    if denied && !schemes.is_empty() {
        op = op.securities(Some(schemes.iter().map(|(name, _)| SecurityRequirement::new(name, Vec::<String>::new()))));
    }
    op.build()
}

/// The operation id of a method's route: LoopBack's `Model.method`, and for the routes after
/// the first (exists: GET /:id/exists and HEAD /:id) its verb-and-path suffix.
fn operation_id(model: &ModelDefinition, m: &RemoteMethod, verb: &Method, index: usize, path: &str) -> String {
    if index == 0 {
        return format!("{}.{}", model.name, m.name);
    }
    let suffix: String = path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("{}.{}__{}{suffix}", model.name, m.name, verb.as_str().to_ascii_lowercase())
}

/// What one model contributes: its schemas, and for a public model its tag and paths under
/// `root`. `used` keeps operation ids unique across models.
fn model_document(
    state: &RestState,
    schemes: &[(String, SecurityScheme)],
    handle: &ModelHandle,
    root: &str,
    used: &mut HashSet<String>,
) -> OpenApi {
    let model = handle.definition();
    let name = &model.name;
    let mut components = ComponentsBuilder::new()
        .schema(name.clone(), model_schema(model, Shape::Read))
        .schema(format!("{name}Create"), model_schema(model, Shape::Write))
        .schema(format!("{name}Patch"), model_schema(model, Shape::Patch))
        .schema(format!("{name}Filter"), filter_schema(model, true))
        .schema(format!("{name}FieldsFilter"), filter_schema(model, false))
        .schema(format!("{name}Where"), where_schema(model));
    let mut doc = OpenApiBuilder::new();
    if model.settings.public {
        let mut paths = Paths::new();
        for m in handle.remote_methods() {
            for (schema_name, schema) in &m.components {
                components = components.schema(schema_name.clone(), schema.clone());
            }
            for (index, (verb, route)) in m.routes.iter().enumerate() {
                let Some(method) = http_method(verb) else { continue };
                let mut id = operation_id(model, &m, verb, index, route);
                if !used.insert(id.clone()) {
                    id = operation_id(model, &m, verb, index + 1, route);
                    used.insert(id.clone());
                }
                let op = operation(state, schemes, model, &m, verb, id, route);
                paths.add_path_operation(oas_path(root, model, route), vec![method], op);
            }
        }
        doc = doc.tags(Some([TagBuilder::new().name(name.clone()).build()])).paths(paths);
    }
    doc.components(Some(components.build())).build()
}

/// The schemas every model's routes refer to.
fn shared_components() -> OpenApi {
    let error = of_type(Type::Object)
        .property("statusCode", of_type(Type::Integer))
        .property("name", of_type(Type::String))
        .property("message", of_type(Type::String))
        .property("code", of_type(Type::String))
        .property("details", ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Object, Type::Array])))
        .required("statusCode")
        .required("message");
    let components = ComponentsBuilder::new()
        .schema("Count", of_type(Type::Object).property("count", of_type(Type::Integer)).required("count"))
        .schema("Exists", of_type(Type::Object).property("exists", of_type(Type::Boolean)).required("exists"))
        .schema("Error", of_type(Type::Object).property("error", error).required("error"))
        .build();
    OpenApiBuilder::new().components(Some(components)).build()
}

/// The OpenAPI 3.1 document of every public model under `root` (for example `/api`). The
/// security schemes come from the application's authenticator; the core knows no scheme.
pub fn document(state: &RestState, root: &str) -> OpenApi {
    let schemes = state.authenticator.as_ref().map(|a| a.security_schemes()).unwrap_or_default();
    let info = &state.openapi_info;
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(info.title.clone())
                .version(info.version.clone())
                .description(Some(info.description.clone())),
        )
        .tags(Some(Vec::<utoipa::openapi::tag::Tag>::new()))
        .build();
    doc.merge(shared_components());
    let mut used = HashSet::new();
    for handle in state.registry.iter() {
        doc.merge(model_document(state, &schemes, handle, root, &mut used));
    }
    if let Some(components) = doc.components.as_mut() {
        for (name, scheme) in schemes {
            components.add_security_scheme(name, scheme);
        }
    }
    doc
}
