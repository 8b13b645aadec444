//! `include`: related instances loaded with one query per relation level, batched by key
//! (one query per parent only when the scope pages with limit/skip).
//!
//! What one request may load is bounded (`FilterLimits::max_include_rows`): every related
//! instance placed in the response counts, with its own nested instances, since an include
//! that repeats one large related set under many parents grows the response (and the
//! server's memory) far beyond the rows the database returned.

use std::cell::Cell;
use std::collections::HashMap;

use serde_json::Value;

use super::{Store, sql};
use crate::error::{Error, Result};
use crate::filter::{Filter, Include, Op, Where};
use crate::model::{Instance, ModelHandle, Relation, RelationKind};

/// Keys per `IN (...)` list, as LoopBack's `inqLimit`.
const CHUNK: usize = 256;

/// How many more related instances this request may load and place in its response.
///
/// Only what the top level attaches is counted, each instance with everything nested in it;
/// nested levels attach at most the rows they fetched (their fan-out comes back at the top),
/// and every fetch is stopped one row past what is left.
pub(super) struct Budget {
    left: Cell<usize>,
    max: usize,
    nested: bool,
}

impl Budget {
    pub(super) fn new(max: usize) -> Self {
        Self { left: Cell::new(max), max, nested: false }
    }

    /// The same budget for a nested level: it guards fetches but counts nothing.
    fn nested(&self) -> Budget {
        Budget { left: Cell::new(self.left.get()), max: self.max, nested: true }
    }

    fn spend(&self, n: usize) -> Result<()> {
        if self.nested {
            return Ok(());
        }
        self.exceeds(n)
    }

    fn exceeds(&self, n: usize) -> Result<()> {
        match self.left.get().checked_sub(n) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(Error::bad_request(format!(
                "The include would load more than {} related instances; narrow it with a scope \
                 (where, limit, fields) or ask for fewer rows",
                self.max
            ))
            .with_code("INCLUDE_TOO_LARGE")),
        }
    }
}

/// Loads every include of `filter` into `rows` (raw rows; shaping happens later).
pub(super) fn load<'a>(
    store: &'a Store<'_>,
    rows: &'a mut [Instance],
    filter: &'a Filter,
    budget: &'a Budget,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>> {
    // Boxed: nested scopes recurse through here.
    Box::pin(async move {
        for include in &filter.include {
            load_one(store, rows, include, budget).await?;
        }
        Ok(())
    })
}

/// An included instance with everything nested in it, as the response will carry it.
fn weight(item: &Instance, scope: &Filter) -> usize {
    1 + scope
        .include
        .iter()
        .map(|inc| match item.get(&inc.relation) {
            Some(Value::Array(items)) => items.iter().map(|v| v.as_object().map_or(1, |o| weight(o, &inc.scope))).sum(),
            Some(Value::Object(o)) => weight(o, &inc.scope),
            _ => 0,
        })
        .sum::<usize>()
}

/// A key as relations match it, compared without formatting: a string never equals a number
/// (`"1"` is not `1`), nor an integer a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key<'a> {
    Text(&'a str),
    Int(i64),
    UInt(u64),
    Float(u64),
    Bool(bool),
    /// Arrays and objects, by their JSON text.
    Json(String),
}

fn key(v: &Value) -> Option<Key<'_>> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => Key::Text(s),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Key::Int(i),
            (None, Some(u)) => Key::UInt(u),
            _ => Key::Float(n.as_f64().unwrap_or(f64::NAN).to_bits()),
        },
        Value::Bool(b) => Key::Bool(*b),
        other => Key::Json(other.to_string()),
    })
}

async fn load_one(store: &Store<'_>, rows: &mut [Instance], include: &Include, budget: &Budget) -> Result<()> {
    let def = store.model.definition();
    let rel = def.relation(&include.relation).ok_or_else(|| {
        Error::bad_request(format!("Relation \"{}\" is not defined for {} model", include.relation, def.name))
    })?;
    let target = store
        .registry
        .get(&rel.model)
        .ok_or_else(|| Error::Internal(format!("model {} is not registered", rel.model)))?;
    let target_store = store.for_model(target, "find");
    let id_name = def.id_property().name.clone();
    match rel.kind {
        RelationKind::BelongsTo => {
            let keys = distinct(rows.iter().filter_map(|r| r.get(&rel.foreign_key)));
            if keys.is_empty() {
                return Ok(());
            }
            let target_id = target.definition().id_property().name.clone();
            let mut found = fetch_in(&target_store, &include.scope, &target_id, &keys, budget).await?;
            let hits: Vec<Option<usize>> = {
                let by_id = index_by(&found, &target_id);
                rows.iter()
                    .map(|row| row.get(&rel.foreign_key).and_then(key).and_then(|k| by_id.get(&k).copied()))
                    .collect()
            };
            // Each parent is shaped once, then copied to every row that names it but the last,
            // which takes it: on a page of distinct parents, nothing is copied.
            let weights: Vec<usize> = found.iter().map(|f| weight(f, &include.scope)).collect();
            let mut uses = vec![0usize; found.len()];
            for &i in hits.iter().flatten() {
                uses[i] += 1;
            }
            let mut shaped: Vec<Option<Value>> = vec![None; found.len()];
            for (row, hit) in rows.iter_mut().zip(hits) {
                let Some(i) = hit else { continue };
                budget.spend(weights[i])?;
                if shaped[i].is_none() {
                    let parent = std::mem::take(&mut found[i]);
                    shaped[i] = Some(Value::Object(target_store.present(parent, &include.scope).await?));
                }
                uses[i] -= 1;
                let value = if uses[i] == 0 { shaped[i].take() } else { shaped[i].clone() };
                row.insert(rel.name.clone(), value.unwrap_or(Value::Null));
            }
        }
        RelationKind::HasMany | RelationKind::HasOne => {
            let keys = distinct(rows.iter().filter_map(|r| r.get(&id_name)));
            // One query for every parent, unless the scope pages: then one per parent. A hasOne
            // takes each parent's first row of the batch (the scope's order, then the id), as a
            // query per parent with LIMIT 1 would.
            let per_parent = include.scope.limit.is_some() || include.scope.skip.is_some();
            let found = if per_parent {
                let mut all = Vec::new();
                for key in &keys {
                    let mut scope = include.scope.clone();
                    if rel.kind == RelationKind::HasOne {
                        scope.limit = Some(1);
                    }
                    all.extend(
                        fetch_in(&target_store, &scope, &rel.foreign_key, std::slice::from_ref(key), budget).await?,
                    );
                }
                all
            } else {
                fetch_in(&target_store, &include.scope, &rel.foreign_key, &keys, budget).await?
            };
            attach_grouped(&target_store, rows, rel, &id_name, &found, include, budget).await?;
        }
        RelationKind::HasManyThrough => {
            let through = through_model(store, rel)?;
            let key_through = rel.key_through.clone().unwrap_or_default();
            let keys = distinct(rows.iter().filter_map(|r| r.get(&id_name)));
            let links =
                fetch_in(&store.for_model(through, "find"), &Filter::default(), &rel.foreign_key, &keys, budget)
                    .await?;
            let target_keys = distinct(links.iter().filter_map(|l| l.get(&key_through)));
            let target_id = target.definition().id_property().name.clone();
            let found = fetch_in(&target_store, &include.scope, &target_id, &target_keys, budget).await?;
            let by_id = index_by(&found, &target_id);
            for row in rows.iter_mut() {
                let parent = row.get(&id_name).and_then(key);
                let mut items = Vec::new();
                // Keep the target query's order: walk the targets, keep those linked to this parent.
                let linked: std::collections::HashSet<usize> = links
                    .iter()
                    .filter(|l| l.get(&rel.foreign_key).and_then(key) == parent)
                    .filter_map(|l| l.get(&key_through).and_then(key).and_then(|k| by_id.get(&k).copied()))
                    .collect();
                for (i, item) in found.iter().enumerate() {
                    if linked.contains(&i) {
                        budget.spend(weight(item, &include.scope))?;
                        items.push(Value::Object(target_store.present(item.clone(), &include.scope).await?));
                    }
                }
                row.insert(rel.name.clone(), Value::Array(items));
            }
        }
    }
    Ok(())
}

pub(crate) fn through_model<'a>(store: &Store<'a>, rel: &Relation) -> Result<&'a ModelHandle> {
    let name = rel.through.as_deref().unwrap_or_default();
    store.registry.get(name).ok_or_else(|| Error::Internal(format!("through model {name} is not registered")))
}

async fn attach_grouped(
    target_store: &Store<'_>,
    rows: &mut [Instance],
    rel: &Relation,
    id_name: &str,
    found: &[Instance],
    include: &Include,
    budget: &Budget,
) -> Result<()> {
    let fk = rel.foreign_key.as_str();
    let mut groups: HashMap<Key<'_>, Vec<usize>> = HashMap::new();
    for (i, item) in found.iter().enumerate() {
        if let Some(k) = item.get(fk).and_then(key) {
            groups.entry(k).or_default().push(i);
        }
    }
    for row in rows.iter_mut() {
        let mut members = row.get(id_name).and_then(key).and_then(|k| groups.get(&k)).cloned().unwrap_or_default();
        if rel.kind == RelationKind::HasOne {
            members.truncate(1);
        }
        budget.spend(members.iter().map(|&i| weight(&found[i], &include.scope)).sum())?;
        let mut items = Vec::with_capacity(members.len());
        for i in members {
            items.push(Value::Object(target_store.present(found[i].clone(), &include.scope).await?));
        }
        if rel.kind == RelationKind::HasOne {
            row.insert(rel.name.clone(), items.into_iter().next().unwrap_or(Value::Null));
        } else {
            row.insert(rel.name.clone(), Value::Array(items));
        }
    }
    Ok(())
}

fn distinct<'v>(values: impl Iterator<Item = &'v Value>) -> Vec<Value> {
    let values: Vec<&Value> = values.collect();
    // Sized once: a set grown insert by insert rehashes every key it holds.
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    values.into_iter().filter(|v| key(v).is_some_and(|k| seen.insert(k))).cloned().collect()
}

fn index_by<'r>(rows: &'r [Instance], name: &str) -> HashMap<Key<'r>, usize> {
    let mut index = HashMap::with_capacity(rows.len());
    index.extend(rows.iter().enumerate().filter_map(|(i, r)| r.get(name).and_then(key).map(|k| (k, i))));
    index
}

/// Raw target rows whose `key` is one of `keys`, within the scope (where, order, limit, skip),
/// with the scope's own includes loaded.
async fn fetch_in(
    store: &Store<'_>,
    scope: &Filter,
    key: &str,
    keys: &[Value],
    budget: &Budget,
) -> Result<Vec<Instance>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let cond = Where::Cond { property: key.to_owned(), op: Op::Inq(chunk.to_vec()) };
        let where_ = match &scope.where_ {
            Some(w) => Where::And(vec![cond, w.clone()]),
            None => cond,
        };
        let filter =
            Filter { where_: store.access(Some(where_)).await?, include: Vec::new(), fields: None, ..scope.clone() };
        // At most one row past what the budget allows: enough to know it is exceeded.
        let most = (budget.left.get() as u64).saturating_add(1).min(i64::MAX as u64);
        let filter = Filter { limit: Some(filter.limit.map_or(most, |l| l.min(most))), ..filter };
        let mut rows = sql::find(&store.db, store.model.definition(), &filter).await?;
        if rows.len() > budget.left.get() {
            budget.exceeds(rows.len())?;
        }
        let nested = budget.nested();
        load(store, &mut rows, &Filter { include: scope.include.clone(), ..Filter::default() }, &nested).await?;
        out.extend(rows);
    }
    Ok(out)
}
