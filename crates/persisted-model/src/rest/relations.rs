//! Relation routes (`/Categories/:id/products`, `/Products/:id/category`, ...): the parent is
//! loaded first (404 when missing), then the operation runs on the target model.

use actix_web::{HttpRequest, HttpResponse};
use persisted_model_acl::{AccessType, Caller};
use serde_json::{Value, json};

use super::handlers::Args;
use super::remote_method::RelationOp;
use super::reply::{json_ok, no_content};
use crate::error::{Error, Result};
use crate::filter::{Filter, FilterUse, Op, Where};
use crate::model::{Instance, RelationKind};
use crate::store::{Store, WriteKind, body_object, prepare};
use crate::value::{id_text, parse_id};

#[allow(clippy::too_many_arguments)]
pub(crate) async fn handle(
    req: &HttpRequest,
    store: &Store<'_>,
    args: &Args<'_>,
    caller: &Caller,
    (raw, id): (&str, Option<Value>),
    (method, relation): (&str, &str),
    op: RelationOp,
    body: &Value,
    authorize_source: impl std::future::Future<Output = Result<()>>,
) -> Result<HttpResponse> {
    let def = store.model.definition();
    let rel = def.relation(relation).ok_or_else(|| Error::Internal(format!("no relation {relation}")))?;
    let target = store
        .registry
        .get(&rel.model)
        .ok_or_else(|| Error::Internal(format!("model {} is not registered", rel.model)))?;
    let tdef = target.definition();
    // The method's own name from the remote-method table (hooks see what ACLs see).
    let tstore = store.for_model(target, method);

    // Arguments first (a malformed filter is a 400 whatever else is wrong), then the parent.
    let (filter, where_) = match op {
        RelationOp::Get if rel.is_to_many() => (args.filter(tdef, FilterUse::Full)?, None),
        RelationOp::Count => (Filter::default(), args.where_(tdef)?),
        _ => (Filter::default(), None),
    };
    // The source model's ACLs decide the relation method (`__get__products`); the target's decide
    // whether the caller may touch its data at all (security rule 11).
    authorize_source.await?;
    if rel.authorize_target {
        let check = crate::access::Check::on_pool(args.state, caller);
        for (on_through, method, access) in target_checks(rel.kind, op) {
            let model = if on_through { crate::store::through_model(store, rel)?.definition() } else { tdef };
            check.authorize_as(model, method, &[], access, None, None).await?;
        }
    }
    if let RelationOp::Get = op {
        crate::access::authorize_includes(args.state, caller, tdef, &filter.include).await?;
    }
    // The stored row (one query): the foreign key may be hidden from clients but is needed here.
    let parent = match &id {
        Some(id) => {
            let filter = Filter {
                where_: Some(Where::eq(def.id_property().name.clone(), id.clone())),
                limit: Some(1),
                ..Filter::default()
            };
            store.find_raw(filter).await?.pop()
        }
        None => None,
    };
    let (Some(row), Some(id)) = (parent, id) else {
        return Err(Error::not_found(format!("could not find a model with id {raw}")).with_code("MODEL_NOT_FOUND"));
    };
    let fk = rel.foreign_key.as_str();
    let tid = tdef.id_property().name.clone();

    match rel.kind {
        RelationKind::BelongsTo => match row.get(fk) {
            None | Some(Value::Null) => Ok(json_ok(&json!({}))),
            Some(key) => match tstore.find_by_id(key, Filter::default()).await? {
                Some(found) => Ok(json_ok(&Value::Object(found))),
                None => Ok(json_ok(&Value::Null)),
            },
        },
        RelationKind::HasOne => {
            let scope = Where::eq(fk, id.clone());
            match op {
                RelationOp::Get => match tstore.find_one(Filter { where_: Some(scope), ..Filter::default() }).await? {
                    Some(found) => Ok(json_ok(&Value::Object(found))),
                    None => Err(Error::not_found(format!("No \"{}\" instance(s) found", tdef.name))
                        .with_code("MODEL_NOT_FOUND")),
                },
                RelationOp::Create => Ok(json_ok(&tstore.create(&with_key(body, fk, &id)?).await?)),
                RelationOp::Update => {
                    let current = tstore.find_one(Filter { where_: Some(scope), ..Filter::default() }).await?;
                    let Some(current) = current else {
                        return Err(Error::not_found(format!("No \"{}\" instance(s) found", tdef.name))
                            .with_code("MODEL_NOT_FOUND"));
                    };
                    let tid_value = current.get(&tid).cloned().unwrap_or(Value::Null);
                    Ok(json_ok(&Value::Object(tstore.patch_attributes(&tid_value, &with_key(body, fk, &id)?).await?)))
                }
                RelationOp::Delete => {
                    tstore.delete_where(scope).await?;
                    Ok(no_content())
                }
                _ => Err(Error::Internal("unsupported hasOne operation".into())),
            }
        }
        RelationKind::HasMany => {
            let scope = Where::eq(fk, id.clone());
            match op {
                RelationOp::Get => {
                    let filter = Filter { where_: Some(and(scope, filter.where_)), ..filter };
                    Ok(json_ok(&Value::Array(tstore.find(filter).await?.into_iter().map(Value::Object).collect())))
                }
                RelationOp::Count => Ok(json_ok(&json!({ "count": tstore.count(Some(and(scope, where_))).await? }))),
                RelationOp::Create => {
                    let body = match body {
                        Value::Array(items) => {
                            Value::Array(items.iter().map(|i| with_key(i, fk, &id)).collect::<Result<_>>()?)
                        }
                        other => with_key(other, fk, &id)?,
                    };
                    Ok(json_ok(&tstore.create(&body).await?))
                }
                RelationOp::Delete => {
                    tstore.delete_where(scope).await?;
                    Ok(no_content())
                }
                RelationOp::FindById | RelationOp::UpdateById | RelationOp::DestroyById => {
                    let (raw_fk, named, child) = child_id(req, tdef, &tstore).await?;
                    let found = match &child {
                        Some(c) => {
                            tstore
                                .find_one(Filter {
                                    where_: Some(and(scope, Some(Where::eq(tid.clone(), c.clone())))),
                                    ..Filter::default()
                                })
                                .await?
                        }
                        None => None,
                    };
                    let Some(found) = found else {
                        return Err(Error::not_found(format!("No instance with id {raw_fk} found for {}", tdef.name)));
                    };
                    let child = child.expect("found");
                    match op {
                        RelationOp::FindById => Ok(json_ok(&Value::Object(tstore.as_named(found, named.as_ref())))),
                        RelationOp::UpdateById => {
                            let updated = tstore.patch_attributes(&child, &with_key(body, fk, &id)?).await?;
                            Ok(json_ok(&Value::Object(tstore.as_named(updated, named.as_ref()))))
                        }
                        _ => {
                            tstore.delete_by_id(&child).await?;
                            Ok(no_content())
                        }
                    }
                }
                _ => Err(Error::Internal("unsupported hasMany operation".into())),
            }
        }
        RelationKind::HasManyThrough => through(req, store, &tstore, rel, op, &id, filter, where_, body).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn through(
    req: &HttpRequest,
    store: &Store<'_>,
    tstore: &Store<'_>,
    rel: &crate::model::Relation,
    op: RelationOp,
    id: &Value,
    filter: Filter,
    where_: Option<Where>,
    body: &Value,
) -> Result<HttpResponse> {
    let tdef = tstore.model.definition();
    let tid = tdef.id_property().name.clone();
    let through = crate::store::through_model(store, rel)?;
    let lstore = store.for_model(through, "find");
    let key_through = rel.key_through.clone().unwrap_or_default();
    let fk = rel.foreign_key.as_str();
    let links = lstore.find(Filter { where_: Some(Where::eq(fk, id.clone())), ..Filter::default() }).await?;
    let linked: Vec<Value> = links.iter().filter_map(|l| l.get(&key_through).cloned()).collect();
    let in_links = Where::Cond { property: tid.clone(), op: Op::Inq(linked.clone()) };
    match op {
        RelationOp::Get => {
            let filter = Filter { where_: Some(and(in_links, filter.where_)), ..filter };
            Ok(json_ok(&Value::Array(tstore.find(filter).await?.into_iter().map(Value::Object).collect())))
        }
        RelationOp::Count => Ok(json_ok(&json!({ "count": tstore.count(Some(and(in_links, where_))).await? }))),
        RelationOp::Create => {
            // The target and its link are written together, or neither is.
            let body = Value::Object(body_object(body)?);
            let created = tstore
                .transaction(async |t| {
                    let created = t.create(&body).await?;
                    let new_id = created.get(&tid).cloned().unwrap_or(Value::Null);
                    let link = Instance::from_iter([(fk.to_owned(), id.clone()), (key_through.clone(), new_id)]);
                    let links = t.for_model(through, "find");
                    links.create_prepared(prepare(through.definition(), &link, WriteKind::Create)?).await?;
                    Ok(created)
                })
                .await?;
            Ok(json_ok(&created))
        }
        RelationOp::Delete => {
            lstore.delete_where(Where::eq(fk, id.clone())).await?;
            Ok(no_content())
        }
        _ => {
            let (raw_fk, _, child) = child_id(req, tdef, tstore).await?;
            let is_linked = child.as_ref().is_some_and(|c| linked.contains(c));
            match op {
                RelationOp::Link => {
                    let Some(child) = child.filter(|c| !c.is_null()) else {
                        return Err(Error::not_found(format!("No instance with id {raw_fk} found for {}", tdef.name)));
                    };
                    let mut link = body_object(body)?;
                    link.insert(fk.to_owned(), id.clone());
                    link.insert(key_through.clone(), child.clone());
                    // The target is checked and linked in one transaction.
                    let created = tstore
                        .transaction(async |t| {
                            if !t.exists(&child).await? {
                                return Err(Error::not_found(format!(
                                    "No instance with id {raw_fk} found for {}",
                                    tdef.name
                                )));
                            }
                            let link = prepare(through.definition(), &link, WriteKind::Create)?;
                            t.for_model(through, "find").create_prepared(link).await
                        })
                        .await?;
                    Ok(json_ok(&Value::Object(created)))
                }
                RelationOp::Exists => {
                    Ok(if is_linked { HttpResponse::Ok().finish() } else { HttpResponse::NotFound().finish() })
                }
                _ if !is_linked => {
                    Err(Error::not_found(format!("No instance with id {raw_fk} found for {}", tdef.name)))
                }
                RelationOp::Unlink => {
                    let child = child.expect("linked");
                    lstore
                        .delete_where(Where::And(vec![Where::eq(fk, id.clone()), Where::eq(key_through, child)]))
                        .await?;
                    Ok(no_content())
                }
                RelationOp::FindById => {
                    let found = tstore.find_by_id(&child.expect("linked"), Filter::default()).await?;
                    found.map(|f| json_ok(&Value::Object(f))).ok_or_else(|| {
                        Error::not_found(format!("No instance with id {raw_fk} found for {}", tdef.name))
                    })
                }
                RelationOp::UpdateById => {
                    Ok(json_ok(&Value::Object(tstore.patch_attributes(&child.expect("linked"), body).await?)))
                }
                RelationOp::DestroyById => {
                    let child = child.expect("linked");
                    let link = Where::And(vec![Where::eq(fk, id.clone()), Where::eq(key_through, child.clone())]);
                    tstore
                        .transaction(async |t| {
                            t.for_model(through, "find").delete_where(link).await?;
                            t.delete_by_id(&child).await
                        })
                        .await?;
                    Ok(no_content())
                }
                _ => Err(Error::Internal(format!("unsupported relation operation {op:?} on {}", id_text(id)))),
            }
        }
    }
}

/// The `{fk}` path segment: as sent, as the target's id type, and as the stored id.
async fn child_id(
    req: &HttpRequest,
    tdef: &crate::model::ModelDefinition,
    tstore: &Store<'_>,
) -> Result<(String, Option<Value>, Option<Value>)> {
    let raw = req.match_info().get("fk").unwrap_or_default().to_owned();
    let named = parse_id(tdef.id_property().ty, &raw);
    let stored = match &named {
        Some(id) => Some(tstore.resolve_id(id.clone()).await?),
        None => None,
    };
    Ok((raw, named, stored))
}

fn and(scope: Where, extra: Option<Where>) -> Where {
    match extra {
        Some(w) => Where::And(vec![scope, w]),
        None => scope,
    }
}

/// The body with the relation's key set to the parent id (a client value is overridden).
fn with_key(body: &Value, fk: &str, id: &Value) -> Result<Value> {
    let mut obj = body_object(body)?;
    obj.insert(fk.to_owned(), id.clone());
    Ok(Value::Object(obj))
}

/// What a relation operation does to the target model (`false`) and, for hasManyThrough, to
/// the through model that holds the links (`true`): linking creates a through row, unlinking
/// deletes one, and neither touches the target.
fn target_checks(kind: RelationKind, op: RelationOp) -> Vec<(bool, &'static str, AccessType)> {
    use AccessType::{Read, Write};
    let through = kind == RelationKind::HasManyThrough;
    match op {
        RelationOp::Get | RelationOp::Count | RelationOp::FindById | RelationOp::Exists => {
            vec![(false, "find", Read)]
        }
        RelationOp::Create if through => vec![(false, "create", Write), (true, "create", Write)],
        RelationOp::Create => vec![(false, "create", Write)],
        RelationOp::Link => vec![(false, "find", Read), (true, "create", Write)],
        RelationOp::Update | RelationOp::UpdateById => vec![(false, "patchAttributes", Write)],
        RelationOp::Unlink => vec![(true, "deleteById", Write)],
        RelationOp::Delete if through => vec![(true, "deleteById", Write)],
        RelationOp::DestroyById if through => vec![(false, "deleteById", Write), (true, "deleteById", Write)],
        RelationOp::Delete | RelationOp::DestroyById => vec![(false, "deleteById", Write)],
    }
}
