//! Client data → validated, coerced property values, with LoopBack's 422 for anything wrong.

use chrono::Utc;
use serde_json::Value;

use crate::error::Error;
use crate::model::{DefaultValue, Instance, ModelDefinition, Property, PropertyType};
use crate::validation::{Rule, ValidationError};
use crate::value::{coerce, format_date};

/// What kind of write the data is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// A new instance: defaults apply, required properties must be there.
    Create,
    /// A full replacement: like create, for an existing id.
    Replace,
    /// A partial update of one instance.
    Patch,
    /// A partial update of many rows (updateAll).
    UpdateAll,
}

/// The request body as an object: `null` and an absent body are `{}`, anything else that is
/// not an object is LoopBack's 400.
pub fn body_object(body: &Value) -> Result<Instance, Error> {
    match body {
        Value::Null => Ok(Instance::new()),
        Value::Object(map) => Ok(map.clone()),
        _ => Err(Error::bad_request("Value is not an object.")),
    }
}

/// Checks and coerces client data. The id stays in the result only for a create that may set
/// it; other callers decide what an id in the body means (`body_id` returns it).
pub fn prepare(model: &ModelDefinition, data: &Instance, kind: WriteKind) -> Result<Instance, Error> {
    let mut errors = ValidationError::new(model.name.as_str());
    let mut out = Instance::new();
    let id = model.id_property();
    for (key, raw) in data {
        let Some(prop) = model.property(key) else {
            errors.add(key, Rule::UnknownProperty, Some(raw));
            continue;
        };
        if prop.name == id.name {
            let refused = match kind {
                WriteKind::Create => model.force_id(),
                WriteKind::UpdateAll => true,
                WriteKind::Replace | WriteKind::Patch => false,
            };
            if refused && !raw.is_null() {
                errors.add(key, Rule::Absence, Some(raw));
            } else if kind == WriteKind::Create && !raw.is_null() {
                // A client-chosen id (forceId off) is stored as given.
                match coerce(prop.ty, raw) {
                    Ok(v) if too_long(prop, &v) => errors.add(key, Rule::TooLong, Some(raw)),
                    Ok(v) => {
                        out.insert(prop.name.clone(), v);
                    }
                    Err(rule) => errors.add(key, rule, Some(raw)),
                }
            }
            continue;
        }
        if prop.server_managed {
            errors.add(key, Rule::Absence, Some(raw));
            continue;
        }
        match coerce(prop.ty, raw) {
            Ok(v) if too_long(prop, &v) => errors.add(key, Rule::TooLong, Some(raw)),
            Ok(v) => {
                out.insert(prop.name.clone(), v);
            }
            Err(rule) => errors.add(key, rule, Some(raw)),
        }
    }
    if matches!(kind, WriteKind::Create | WriteKind::Replace) {
        apply_defaults(model, &mut out);
    }
    match kind {
        WriteKind::Create | WriteKind::Replace => check_required(model, &out, true, &mut errors),
        WriteKind::Patch | WriteKind::UpdateAll => check_required(model, &out, false, &mut errors),
    }
    sort_by_declaration(model, &mut errors);
    errors.into_result()?;
    Ok(out)
}

/// The id a client put in the body, coerced to the id type when possible.
pub fn body_id(model: &ModelDefinition, data: &Instance) -> Option<Value> {
    let id = model.id_property();
    let raw = data.get(&id.name).filter(|v| !v.is_null())?;
    Some(coerce(id.ty, raw).unwrap_or_else(|_| raw.clone()))
}

/// Fills properties a new instance leaves out with their defaults.
pub fn apply_defaults(model: &ModelDefinition, data: &mut Instance) {
    for p in &model.properties {
        if data.contains_key(&p.name) {
            continue;
        }
        match &p.default {
            Some(DefaultValue::Value(v)) => {
                data.insert(p.name.clone(), coerce(p.ty, v).unwrap_or(Value::Null));
            }
            Some(DefaultValue::Now) => {
                data.insert(p.name.clone(), Value::String(format_date(&Utc::now())));
            }
            None => {}
        }
    }
}

/// Presence of required properties: in `data` for whole instances (`all`), or among the
/// properties `data` sets for partial updates.
pub fn check_required(model: &ModelDefinition, data: &Instance, all: bool, errors: &mut ValidationError) {
    for p in model.properties.iter().filter(|p| p.required && !p.generated) {
        // A value refused for its type or length is reported as that, not also as missing.
        if errors.violations.iter().any(|v| v.property == p.name) {
            continue;
        }
        match data.get(&p.name) {
            None if all => errors.add(&p.name, Rule::Presence, None),
            Some(v) if is_blank(p, v) => errors.add(&p.name, Rule::Presence, Some(v)),
            _ => {}
        }
    }
}

/// Validates a whole instance (after a patch merged into it).
pub fn validate_instance(model: &ModelDefinition, data: &Instance) -> Result<(), Error> {
    let mut errors = ValidationError::new(model.name.as_str());
    check_required(model, data, true, &mut errors);
    errors.into_result().map_err(Error::from)
}

/// A string longer than the property's declared maximum (counted in characters, as MySQL's
/// `VARCHAR(n)` counts them).
fn too_long(p: &Property, v: &Value) -> bool {
    match (p.max_length, v) {
        (Some(max), Value::String(s)) => s.len() > max && s.chars().count() > max,
        _ => false,
    }
}

fn is_blank(p: &Property, v: &Value) -> bool {
    v.is_null() || (p.ty == PropertyType::String && v.as_str() == Some(""))
}

fn sort_by_declaration(model: &ModelDefinition, errors: &mut ValidationError) {
    let rank = |name: &str| model.properties.iter().position(|p| p.name == name).unwrap_or(usize::MAX);
    errors.violations.sort_by_key(|v| rank(&v.property));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::product_definition;
    use serde_json::json;

    fn obj(v: Value) -> Instance {
        v.as_object().unwrap().clone()
    }

    fn violations(r: Result<Instance, Error>) -> Vec<(String, &'static str)> {
        match r {
            Err(Error::Validation(v)) => v.violations.into_iter().map(|v| (v.property, v.code)).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn create_applies_defaults_and_coerces() {
        let m = product_definition();
        let out = prepare(&m, &obj(json!({"name": "A", "price": "12.5"})), WriteKind::Create).unwrap();
        assert_eq!(Value::Object(out), json!({"name": "A", "price": 12.5, "inStock": true}));
    }

    #[test]
    fn create_refuses_ids_unknown_properties_and_bad_types() {
        let m = product_definition();
        let v = violations(prepare(&m, &obj(json!({"id": 3, "color": "red", "price": "abc"})), WriteKind::Create));
        assert_eq!(
            v,
            vec![
                ("id".to_owned(), "absence"),
                ("name".to_owned(), "presence"),
                ("price".to_owned(), "numericality"),
                ("color".to_owned(), "unknown-property")
            ]
        );
    }

    #[test]
    fn patch_checks_only_what_it_sets() {
        let m = product_definition();
        assert!(prepare(&m, &obj(json!({"price": 1})), WriteKind::Patch).is_ok());
        assert_eq!(
            violations(prepare(&m, &obj(json!({"name": null})), WriteKind::Patch)),
            vec![("name".to_owned(), "presence")]
        );
    }
}
