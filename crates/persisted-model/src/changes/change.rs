//! One change to one model, as the store records it and as processes tell each other of it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{Instance, ModelDefinition};

/// What happened to the instance(s), as LoopBack's change events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// An instance was created (or, as LoopBack reports it, an `updateAll` named no id).
    Create,
    /// An instance, or the rows an `updateAll` matched, changed.
    Update,
    /// Rows were deleted.
    Remove,
}

/// A committed change to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelChange {
    /// The model's name.
    #[serde(rename = "m")]
    pub model: String,
    /// The model's table: processes that store a model of that name elsewhere ignore it.
    #[serde(rename = "tb")]
    pub table: String,
    /// What happened.
    #[serde(rename = "k")]
    pub kind: ChangeKind,
    /// The id of the instance, when the write named one.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Value>,
    /// The write's where clause in LoopBack's JSON form (`updateAll`, deletes).
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub where_: Option<Value>,
    /// The instance as stored after the write, or the data an `updateAll` set. Hidden
    /// properties are never carried.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Instance>,
    /// `data` is what an `updateAll` set, not a whole instance.
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// For a remove: the rows as they were before the delete (hidden properties left out), so
    /// that subscribers only hear of rows they could read. `None`: not known.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<Instance>>,
    /// The data did not fit in the broker's message: receivers load the instance by `target`.
    #[serde(rename = "l", default, skip_serializing_if = "std::ops::Not::not")]
    pub reload: bool,
}

impl ModelChange {
    /// A created instance.
    pub fn created(model: &ModelDefinition, stored: &Instance) -> Self {
        Self::saved(model, stored, ChangeKind::Create)
    }

    /// An instance changed by id (patch, replace, upsert of an existing one).
    pub fn updated(model: &ModelDefinition, stored: &Instance) -> Self {
        Self::saved(model, stored, ChangeKind::Update)
    }

    fn saved(model: &ModelDefinition, stored: &Instance, kind: ChangeKind) -> Self {
        let target = stored.get(&model.id_property().name).filter(|v| !v.is_null()).cloned();
        Self { target, ..Self::new(model, kind, Some(visible(model, stored))) }.masked(model)
    }

    /// Rows changed by a where clause: LoopBack calls it an update when the where names the id
    /// and a create otherwise.
    pub fn updated_where(model: &ModelDefinition, where_: &crate::filter::Where, data: &Instance) -> Self {
        let target = where_.equality_on(&model.id_property().name).cloned();
        let kind = if target.is_some() { ChangeKind::Update } else { ChangeKind::Create };
        Self {
            target,
            where_: Some(where_.to_json()),
            partial: true,
            ..Self::new(model, kind, Some(visible(model, data)))
        }
        .masked(model)
    }

    /// Rows deleted by a where clause; `removed` are the rows as they were, when read.
    pub fn removed(model: &ModelDefinition, where_: &crate::filter::Where, removed: Option<Vec<Instance>>) -> Self {
        Self {
            target: where_.equality_on(&model.id_property().name).cloned(),
            where_: Some(where_.to_json()),
            removed: removed.map(|rows| rows.iter().map(|r| visible(model, r)).collect()),
            ..Self::new(model, ChangeKind::Remove, None)
        }
        .masked(model)
    }

    /// For a model whose id is a credential: every id replaced by its fingerprint, and no
    /// where clause (it names ids).
    fn masked(mut self, model: &ModelDefinition) -> Self {
        if !model.settings.id_is_credential {
            return self;
        }
        let key = &model.id_property().name;
        let mask = |v: &mut Value| *v = Value::String(crate::value::fingerprint(&crate::value::id_text(v)));
        if let Some(target) = &mut self.target {
            mask(target);
        }
        self.where_ = None;
        for row in self.data.iter_mut().chain(self.removed.iter_mut().flatten()) {
            if let Some(id) = row.get_mut(key) {
                mask(id);
            }
        }
        self
    }

    fn new(model: &ModelDefinition, kind: ChangeKind, data: Option<Instance>) -> Self {
        Self {
            model: model.name.clone(),
            table: model.table.clone(),
            kind,
            target: None,
            where_: None,
            data,
            partial: false,
            removed: None,
            reload: false,
        }
    }

    /// Whether the change is to `model` (same name, same table).
    pub fn is_for(&self, model: &ModelDefinition) -> bool {
        self.model == model.name && self.table == model.table
    }

    /// The event LoopBack 3 sends a subscriber: `{target, where, data, type}`, absent parts
    /// left out, with `data` as the subscriber may see it.
    pub fn event(&self, data: Option<Instance>) -> Value {
        let mut out = Map::new();
        if let Some(target) = &self.target {
            out.insert("target".into(), target.clone());
        }
        if let Some(where_) = &self.where_ {
            out.insert("where".into(), where_.clone());
        }
        if let Some(data) = data {
            out.insert("data".into(), Value::Object(data));
        }
        let kind = match self.kind {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Remove => "remove",
        };
        out.insert("type".into(), Value::String(kind.into()));
        Value::Object(out)
    }
}

/// The instance without its hidden properties: they never leave the process that wrote them.
fn visible(model: &ModelDefinition, row: &Instance) -> Instance {
    row.iter()
        .filter(|(k, _)| model.property(k).is_none_or(|p| !p.hidden))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::filter::Where;
    use crate::testing::product_definition;

    fn row(v: Value) -> Instance {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn events_have_loopbacks_shape() {
        let def = product_definition();
        let created = ModelChange::created(&def, &row(json!({"id": 2, "name": "Pen", "secret": "s"})));
        assert_eq!(
            created.event(created.data.clone()),
            json!({"target": 2, "data": {"id": 2, "name": "Pen"}, "type": "create"})
        );
        let by_id = ModelChange::updated_where(&def, &Where::eq("id", json!(1)), &row(json!({"price": 10})));
        assert_eq!(
            by_id.event(by_id.data.clone()),
            json!({"target": 1, "where": {"id": 1}, "data": {"price": 10}, "type": "update"})
        );
        let bulk = ModelChange::updated_where(&def, &Where::eq("price", json!(3.0)), &row(json!({"inStock": false})));
        assert_eq!(bulk.kind, ChangeKind::Create);
        assert_eq!(bulk.target, None);
        let removed = ModelChange::removed(&def, &Where::eq("id", json!(1)), None);
        assert_eq!(removed.event(None), json!({"target": 1, "where": {"id": 1}, "type": "remove"}));
    }

    #[test]
    fn a_credential_id_is_never_carried() {
        let mut def = product_definition();
        def.settings.id_is_credential = true;
        let created = ModelChange::created(&def, &row(json!({"id": "rawtoken", "name": "t"})));
        let fp = crate::value::fingerprint("rawtoken");
        assert_eq!(
            created.event(created.data.clone()),
            json!({"target": fp, "data": {"id": fp, "name": "t"}, "type": "create"})
        );
        let removed =
            ModelChange::removed(&def, &Where::eq("id", json!("rawtoken")), Some(vec![row(json!({"id": "rawtoken"}))]));
        assert_eq!(removed.event(None), json!({"target": fp, "type": "remove"}));
        assert_eq!(removed.removed, Some(vec![row(json!({"id": fp}))]));
        assert!(!serde_json::to_string(&removed).unwrap().contains("rawtoken"));
    }

    #[test]
    fn the_wire_form_round_trips() {
        let def = product_definition();
        let change = ModelChange::created(&def, &row(json!({"id": 2, "name": "Pen"})));
        let text = serde_json::to_string(&change).unwrap();
        assert_eq!(serde_json::from_str::<ModelChange>(&text).unwrap(), change);
    }
}
