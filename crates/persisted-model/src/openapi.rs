//! The OpenAPI 3.1 document, generated from the same remote-method tables and model
//! definitions that mount the routes, and the Swagger UI that shows it.
//!
//! Schemas come from the model definitions rather than from a schema derive: the definitions
//! already carry the JSON names (serde renames), hidden and server-managed properties, and the
//! doc comments, so the document says exactly what the routes accept and return.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use actix_web::http::Method;
use persisted_model_acl::{AccessRequest, Caller, Decision};
use serde_json::{Map, Value, json};

use crate::model::{ModelDefinition, PropertyType, RelationKind};
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

/// Runs a future that cannot wait (a policy check with no resolver).
fn now<F: Future>(f: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

fn property_schema(ty: PropertyType, nullable: bool) -> Value {
    let mut s = match ty {
        PropertyType::String => json!({"type": "string"}),
        PropertyType::Boolean => json!({"type": "boolean"}),
        PropertyType::Integer(w) => {
            let format = if matches!(w, crate::model::IntegerWidth::I64) { "int64" } else { "int32" };
            json!({"type": "integer", "format": format})
        }
        PropertyType::Number(_) => json!({"type": "number", "format": "double"}),
        PropertyType::Date => json!({"type": "string", "format": "date-time"}),
        PropertyType::Json => json!({"type": ["object", "array", "string", "number", "boolean"]}),
    };
    match s.get_mut("type") {
        Some(Value::Array(types)) if nullable => types.push(json!("null")),
        Some(t) if nullable => *t = json!([t.clone(), "null"]),
        _ => {}
    }
    s
}

enum Shape {
    /// What the server returns.
    Read,
    /// A new or replacing instance: required properties required.
    Write,
    /// A partial update: nothing required.
    Patch,
}

fn model_schema(model: &ModelDefinition, shape: Shape) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    let id = &model.id_property().name;
    for p in model.properties.iter().filter(|p| !p.hidden) {
        let is_id = p.name == *id;
        let writable = !(p.server_managed || (is_id && model.force_id()));
        if !matches!(shape, Shape::Read) && !writable {
            continue;
        }
        let mut schema = property_schema(p.ty, !p.required && !is_id);
        if let Some(d) = &p.description {
            schema["description"] = json!(d);
        }
        if matches!(shape, Shape::Write) && p.required && !p.generated {
            required.push(json!(p.name));
        }
        props.insert(p.name.clone(), schema);
    }
    let mut s = json!({"type": "object", "properties": props});
    if matches!(shape, Shape::Write) {
        // Strict models refuse unknown properties.
        s["additionalProperties"] = json!(false);
        if !required.is_empty() {
            s["required"] = Value::Array(required);
        }
    }
    s
}

fn filter_schema(model: &ModelDefinition, full: bool) -> Value {
    let names: Vec<Value> = model.properties.iter().filter(|p| !p.hidden).map(|p| json!(p.name)).collect();
    let relations: Vec<Value> = model.relations.iter().filter(|r| !r.disable_include).map(|r| json!(r.name)).collect();
    let list = |v: &[Value]| v.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ");
    let mut props = json!({
        "fields": {
            "description": format!("A name, a list of names, or {{name: true|false}}. Properties: {}.", list(&names)),
            "type": ["string", "array", "object"]
        },
        "include": {
            "description": format!("Relations to load, with optional scopes. Relations: {}.", list(&relations)),
            "type": ["string", "array", "object"]
        },
    });
    if full {
        props["where"] = schema_ref(&format!("{}Where", model.name));
        props["order"] = json!({"description": "\"property ASC|DESC\", a comma list or an array of them.",
            "type": ["string", "array"], "items": {"type": "string"}});
        props["limit"] = json!({"type": "integer", "minimum": 0});
        props["skip"] = json!({"type": "integer", "minimum": 0});
        props["offset"] = json!({"type": "integer", "minimum": 0});
    }
    json!({"type": "object", "properties": props, "additionalProperties": false})
}

/// The where clause of a model: each visible property takes a value or an object of operators;
/// `and`/`or` take lists of where clauses (a reference back to this schema).
fn where_schema(model: &ModelDefinition) -> Value {
    let self_ref = schema_ref(&format!("{}Where", model.name));
    let mut props = Map::new();
    for p in model.properties.iter().filter(|p| !p.hidden) {
        let value = property_schema(p.ty, true);
        let list = json!({"type": "array", "items": value});
        let text = json!({"type": "string"});
        let ops = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "eq": value, "neq": value, "gt": value, "gte": value, "lt": value, "lte": value,
                "between": {"type": "array", "items": value, "minItems": 2, "maxItems": 2},
                "inq": list, "nin": list,
                "like": text, "nlike": text, "ilike": text, "nilike": text,
                "regexp": {"type": "string", "description": "A pattern, or /pattern/flags with flags i, g, m"}
            }
        });
        props.insert(p.name.clone(), json!({"oneOf": [value, ops]}));
    }
    props.insert("and".into(), json!({"type": "array", "items": self_ref}));
    props.insert("or".into(), json!({"type": "array", "items": self_ref}));
    json!({
        "type": "object",
        "description": "LoopBack where clause: {property: value} or {property: {operator: value}}, and/or lists.",
        "properties": props,
        "additionalProperties": false
    })
}

fn json_param(name: &str, schema_ref: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description,
        "content": {"application/json": {"schema": {"$ref": schema_ref}}}})
}

fn error(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(schema: Value) -> Value {
    json!({"description": "Request was successful", "content": {"application/json": {"schema": schema}}})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn body(schema: Value) -> Value {
    json!({"required": false, "content": {"application/json": {"schema": schema}}})
}

/// OpenAPI's path template for one of our route paths.
fn oas_path(root: &str, model: &ModelDefinition, route: &str) -> String {
    let route = if route == "/" { "" } else { route };
    format!("{root}/{}{route}", model.path)
}

fn operation(
    state: &RestState,
    schemes: &[(String, utoipa::openapi::security::SecurityScheme)],
    model: &ModelDefinition,
    m: &RemoteMethod,
    verb: &Method,
    index: usize,
    path: &str,
) -> Value {
    let name = &model.name;
    let id_schema = property_schema(model.id_property().ty, false);
    let operation_id = if index == 0 {
        format!("{name}.{}", m.name)
    } else {
        let suffix: String = path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        format!("{name}.{}__{}{suffix}", m.name, verb.as_str().to_ascii_lowercase())
    };
    let mut params = Vec::new();
    if path.contains("{id}") {
        params.push(json!({"name": "id", "in": "path", "required": true, "description": format!("{name} id"), "schema": id_schema}));
    }
    let filter = format!("#/components/schemas/{name}Filter");
    let where_ = format!("#/components/schemas/{name}Where");
    let mut responses = Map::new();
    let mut request_body = None;
    let writes = m.access != persisted_model_acl::AccessType::Read;
    match &m.operation {
        Operation::Find => {
            params.push(json_param("filter", &filter, "Filter: where, fields, order, limit, skip, include."));
            responses.insert("200".into(), ok(json!({"type": "array", "items": schema_ref(name)})));
        }
        Operation::FindOne => {
            params.push(json_param("filter", &filter, "Filter: where, fields, order, skip, include."));
            responses.insert("200".into(), ok(schema_ref(name)));
        }
        Operation::FindById => {
            params.push(json_param(
                "filter",
                &format!("#/components/schemas/{name}FieldsFilter"),
                "Filter: fields and include.",
            ));
            responses.insert("200".into(), ok(schema_ref(name)));
        }
        Operation::Count => {
            params.push(json_param("where", &where_, "Where clause."));
            responses.insert("200".into(), ok(schema_ref("Count")));
        }
        Operation::Exists => {
            responses.insert("200".into(), ok(schema_ref("Exists")));
        }
        Operation::ExistsHead => {
            responses.insert("200".into(), json!({"description": "The instance exists"}));
            responses.insert("404".into(), json!({"description": "No such instance"}));
        }
        Operation::Create => {
            request_body = Some(body(
                json!({"oneOf": [schema_ref(&format!("{name}Create")), {"type": "array", "items": schema_ref(&format!("{name}Create"))}]}),
            ));
            responses.insert(
                "200".into(),
                ok(json!({"oneOf": [schema_ref(name), {"type": "array", "items": schema_ref(name)}]})),
            );
        }
        Operation::PatchOrCreate | Operation::PatchAttributes => {
            request_body = Some(body(schema_ref(&format!("{name}Patch"))));
            responses.insert("200".into(), ok(schema_ref(name)));
        }
        Operation::ReplaceOrCreate | Operation::ReplaceById => {
            request_body = Some(body(schema_ref(&format!("{name}Create"))));
            responses.insert("200".into(), ok(schema_ref(name)));
        }
        Operation::UpsertWithWhere => {
            params.push(json_param("where", &where_, "Where clause matching at most one instance (required)."));
            request_body = Some(body(schema_ref(&format!("{name}Create"))));
            responses.insert("200".into(), ok(schema_ref(name)));
        }
        Operation::UpdateAll => {
            params.push(json_param("where", &where_, "Where clause (required, not empty)."));
            request_body = Some(body(schema_ref(&format!("{name}Patch"))));
            responses.insert("200".into(), ok(schema_ref("Count")));
        }
        Operation::DeleteById => {
            responses.insert("200".into(), ok(schema_ref("Count")));
        }
        Operation::Relation { relation, op } => {
            let rel = model.relation(relation).expect("relation of the table");
            let target = state.registry.get(&rel.model).map(|h| h.definition());
            let tname = target.map_or("Object".to_owned(), |t| t.name.clone());
            if path.contains("{fk}") {
                let fk_schema = target.map_or(json!({}), |t| property_schema(t.id_property().ty, false));
                params.push(json!({"name": "fk", "in": "path", "required": true, "description": format!("{tname} id"), "schema": fk_schema}));
            }
            let to_many = rel.is_to_many();
            match op {
                RelationOp::Get if to_many => {
                    params.push(json_param(
                        "filter",
                        &format!("#/components/schemas/{tname}Filter"),
                        "Filter for the related instances.",
                    ));
                    responses.insert("200".into(), ok(json!({"type": "array", "items": schema_ref(&tname)})));
                }
                RelationOp::Get | RelationOp::FindById => {
                    let schema = if rel.kind == RelationKind::BelongsTo {
                        json!({"oneOf": [schema_ref(&tname), {"type": "null"}]})
                    } else {
                        schema_ref(&tname)
                    };
                    responses.insert("200".into(), ok(schema));
                }
                RelationOp::Count => {
                    params.push(json_param("where", &format!("#/components/schemas/{tname}Where"), "Where clause."));
                    responses.insert("200".into(), ok(schema_ref("Count")));
                }
                RelationOp::Create => {
                    request_body =
                        Some(body(json!({"oneOf": [schema_ref(&format!("{tname}Create")), {"type": "array"}]})));
                    responses.insert(
                        "200".into(),
                        ok(json!({"oneOf": [schema_ref(&tname), {"type": "array", "items": schema_ref(&tname)}]})),
                    );
                }
                RelationOp::Update | RelationOp::UpdateById => {
                    request_body = Some(body(schema_ref(&format!("{tname}Patch"))));
                    responses.insert("200".into(), ok(schema_ref(&tname)));
                }
                RelationOp::Link => {
                    request_body = Some(body(json!({"type": "object"})));
                    responses.insert("200".into(), ok(json!({"type": "object"})));
                }
                RelationOp::Exists => {
                    responses.insert("200".into(), json!({"description": "Linked"}));
                    responses.insert("404".into(), json!({"description": "Not linked"}));
                }
                RelationOp::Delete | RelationOp::DestroyById | RelationOp::Unlink => {
                    responses.insert("204".into(), json!({"description": "Done"}));
                }
            }
        }
        Operation::Custom(handler) => {
            if handler.reads_body {
                request_body = Some(body(m.body_schema.clone().unwrap_or_else(|| json!({"type": "object"}))));
            }
            match &m.response_schema {
                Some(schema) => {
                    responses.insert("200".into(), ok(schema.clone()));
                }
                None => {
                    responses.insert("204".into(), json!({"description": "Done, no content"}));
                }
            }
        }
    }
    if *verb != Method::HEAD {
        responses.insert("400".into(), error("Malformed request, filter or argument"));
        responses.insert("401".into(), error("Authorization required, or an invalid access token"));
        responses.insert("403".into(), error("Access denied"));
        if path.contains("{id}") {
            responses.insert("404".into(), error("No such instance"));
        }
        if writes {
            responses.insert("413".into(), error("Request body too large"));
            responses.insert("422".into(), error("The instance is not valid"));
        }
    }
    let mut op = json!({
        "tags": [name],
        "operationId": operation_id,
        "summary": m.description,
        "parameters": params,
        "responses": responses,
    });
    if let Some(b) = request_body {
        op["requestBody"] = b;
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
    let anonymous = Caller::anonymous();
    let denied = now(state.policy.check(&request, &anonymous, &()))
        .is_some_and(|c| c.is_ok_and(|c| c.decision == Decision::Deny));
    if denied && !schemes.is_empty() {
        op["security"] = Value::Array(schemes.iter().map(|(name, _)| json!({ name: [] })).collect());
    }
    op
}

/// The OpenAPI 3.1 document of every public model under `root` (for example `/api`). The
/// security schemes come from the application's authenticator; the core knows no scheme.
pub fn document(state: &RestState, root: &str) -> Value {
    let schemes = state.authenticator.as_ref().map(|a| a.security_schemes()).unwrap_or_default();
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Count".into(),
        json!({"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}),
    );
    schemas.insert(
        "Exists".into(),
        json!({"type": "object", "properties": {"exists": {"type": "boolean"}}, "required": ["exists"]}),
    );
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["statusCode", "message"], "properties": {
            "statusCode": {"type": "integer"}, "name": {"type": "string"}, "message": {"type": "string"},
            "code": {"type": "string"}, "details": {"type": ["object", "array"]}
        }}}}),
    );
    let mut tags = Vec::new();
    let mut used = std::collections::HashSet::new();
    for handle in state.registry.iter() {
        let model = handle.definition();
        schemas.insert(model.name.clone(), model_schema(model, Shape::Read));
        schemas.insert(format!("{}Create", model.name), model_schema(model, Shape::Write));
        schemas.insert(format!("{}Patch", model.name), model_schema(model, Shape::Patch));
        schemas.insert(format!("{}Filter", model.name), filter_schema(model, true));
        schemas.insert(format!("{}FieldsFilter", model.name), filter_schema(model, false));
        schemas.insert(format!("{}Where", model.name), where_schema(model));
        if !model.settings.public {
            continue;
        }
        tags.push(json!({"name": model.name}));
        for m in handle.remote_methods() {
            for (name, schema) in &m.components {
                schemas.insert(name.clone(), schema.clone());
            }
            for (index, (verb, route)) in m.routes.iter().enumerate() {
                let path = oas_path(root, model, route);
                let mut op = operation(state, &schemes, model, &m, verb, index, route);
                // A method with several entries (exists: GET /:id/exists and HEAD /:id) gets
                // LoopBack's verb-and-path suffix on the later ones.
                if !used.insert(op["operationId"].as_str().unwrap_or_default().to_owned()) {
                    op = operation(state, &schemes, model, &m, verb, index + 1, route);
                    used.insert(op["operationId"].as_str().unwrap_or_default().to_owned());
                }
                let item = paths.entry(path.clone()).or_insert_with(|| json!({}));
                item[verb.as_str().to_ascii_lowercase()] = op;
            }
        }
    }
    let mut components = json!({ "schemas": schemas });
    if !schemes.is_empty() {
        let named: Map<String, Value> = schemes
            .iter()
            .map(|(name, scheme)| (name.clone(), serde_json::to_value(scheme).unwrap_or(Value::Null)))
            .collect();
        components["securitySchemes"] = Value::Object(named);
    }
    let info = &state.openapi_info;
    json!({
        "openapi": "3.1.0",
        "info": {"title": info.title, "version": info.version, "description": info.description},
        "tags": tags,
        "paths": paths,
        "components": components,
    })
}
