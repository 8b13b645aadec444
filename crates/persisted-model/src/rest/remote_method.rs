//! The one table of remote methods per model. Route mounting reads it (and later OpenAPI and
//! the ACL engine), so they can never disagree.

use actix_web::http::Method;

use crate::model::{ModelDefinition, RelationKind};

/// LoopBack's access types, used by ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessType {
    /// Reads data.
    Read,
    /// Changes data.
    Write,
    /// Anything else (custom methods).
    Execute,
}

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
        let op = |op| Operation::Relation { relation: rel.name.clone(), op };
        let base = format!("/{{id}}/{r}");
        let by_fk = format!("/{{id}}/{r}/{{fk}}");
        let name = |verb: &str| format!("__{verb}__{r}");
        match rel.kind {
            RelationKind::BelongsTo => {
                out.push(method(
                    &name("get"),
                    &[],
                    &[(M::GET, &base)],
                    Read,
                    op(RelationOp::Get),
                    &format!("Fetch the related {r}."),
                ));
            }
            RelationKind::HasOne => {
                out.push(method(
                    &name("get"),
                    &[],
                    &[(M::GET, &base)],
                    Read,
                    op(RelationOp::Get),
                    &format!("Fetch the related {r}."),
                ));
                out.push(method(
                    &name("create"),
                    &[],
                    &[(M::POST, &base)],
                    Write,
                    op(RelationOp::Create),
                    &format!("Create the related {r}."),
                ));
                out.push(method(
                    &name("update"),
                    &[],
                    &[(M::PUT, &base)],
                    Write,
                    op(RelationOp::Update),
                    &format!("Update the related {r}."),
                ));
                out.push(method(
                    &name("destroy"),
                    &[],
                    &[(M::DELETE, &base)],
                    Write,
                    op(RelationOp::Delete),
                    &format!("Delete the related {r}."),
                ));
            }
            RelationKind::HasMany | RelationKind::HasManyThrough => {
                let count = format!("/{{id}}/{r}/count");
                out.push(method(
                    &name("count"),
                    &[],
                    &[(M::GET, &count)],
                    Read,
                    op(RelationOp::Count),
                    &format!("Count the related {r}."),
                ));
                if rel.kind == RelationKind::HasManyThrough {
                    let link = format!("/{{id}}/{r}/rel/{{fk}}");
                    out.push(method(
                        &name("link"),
                        &[],
                        &[(M::PUT, &link)],
                        Write,
                        op(RelationOp::Link),
                        &format!("Add a related item to {r} by id."),
                    ));
                    out.push(method(
                        &name("unlink"),
                        &[],
                        &[(M::DELETE, &link)],
                        Write,
                        op(RelationOp::Unlink),
                        &format!("Remove the {r} relation to an item by id."),
                    ));
                    out.push(method(
                        &name("exists"),
                        &[],
                        &[(M::HEAD, &link)],
                        Read,
                        op(RelationOp::Exists),
                        &format!("Check the existence of the {r} relation to an item by id."),
                    ));
                }
                out.push(method(
                    &name("findById"),
                    &[],
                    &[(M::GET, &by_fk)],
                    Read,
                    op(RelationOp::FindById),
                    &format!("Find a related item of {r} by id."),
                ));
                out.push(method(
                    &name("updateById"),
                    &[],
                    &[(M::PUT, &by_fk)],
                    Write,
                    op(RelationOp::UpdateById),
                    &format!("Update a related item of {r} by id."),
                ));
                out.push(method(
                    &name("destroyById"),
                    &[],
                    &[(M::DELETE, &by_fk)],
                    Write,
                    op(RelationOp::DestroyById),
                    &format!("Delete a related item of {r} by id."),
                ));
                out.push(method(
                    &name("get"),
                    &[],
                    &[(M::GET, &base)],
                    Read,
                    op(RelationOp::Get),
                    &format!("Query the related {r}."),
                ));
                out.push(method(
                    &name("create"),
                    &[],
                    &[(M::POST, &base)],
                    Write,
                    op(RelationOp::Create),
                    &format!("Create new instances in {r}."),
                ));
                out.push(method(
                    &name("delete"),
                    &[],
                    &[(M::DELETE, &base)],
                    Write,
                    op(RelationOp::Delete),
                    &format!("Delete all {r}."),
                ));
            }
        }
    }
    out
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
        assert_eq!(r.len(), 16);
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
        // LoopBack's count without change-stream (18 minus 2 change-stream routes).
        assert_eq!(r.len(), 16);
    }

    #[test]
    fn literal_paths_come_before_the_id_route() {
        let r = routes(&product_definition());
        let pos = |s: &str| r.iter().position(|x| x == s).unwrap();
        assert!(pos("GET /count count") < pos("GET /{id} findById"));
        assert!(pos("GET /findOne findOne") < pos("GET /{id} findById"));
    }
}
