//! One LoopBack 3 model file (`common/models/product.json`), parsed, and turned into a
//! `ModelDefinition`: properties with their types, `required`, `default`, `hidden` and `id`,
//! relations, ACLs, `plural`, `http.path` and LoopBack's table and column names. What cannot
//! be carried over is reported as a warning.

use std::collections::BTreeMap;

use persisted_model::acl::AclEntry;
use persisted_model::{
    DefaultValue, IntegerWidth, Layout, ModelDefinition, Property, PropertyType, Relation, RelationKind, pluralize,
};
use sea_orm::DbBackend;
use serde::Deserialize;
use serde_json::Value;

/// A model file as LoopBack reads it (only what we use; the rest is ignored or warned about).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ModelFile {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) base: Option<String>,
    #[serde(default)]
    plural: Option<String>,
    #[serde(default)]
    id_injection: Option<bool>,
    #[serde(default)]
    force_id: Option<bool>,
    #[serde(default, rename = "replaceOnPUT")]
    replace_on_put: Option<bool>,
    #[serde(default)]
    options: BTreeMap<String, Value>,
    #[serde(default)]
    http: Option<Http>,
    #[serde(default)]
    postgresql: Option<Storage>,
    #[serde(default)]
    mysql: Option<Storage>,
    /// In declaration order (responses list properties in it).
    #[serde(default)]
    pub(crate) properties: serde_json::Map<String, Value>,
    #[serde(default)]
    hidden: Vec<String>,
    #[serde(default)]
    relations: BTreeMap<String, RelationSpec>,
    #[serde(default)]
    pub(crate) acls: Vec<AclSpec>,
    #[serde(default)]
    methods: BTreeMap<String, Value>,
    #[serde(default)]
    mixins: BTreeMap<String, Value>,
    #[serde(default)]
    validations: Vec<Value>,
    /// The other settings (`caseSensitiveEmail`, `rejectPasswordChangesViaPatchOrReplace`,
    /// ...), kept by their LoopBack names for the hooks that read them.
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct Http {
    path: Option<String>,
}

/// A connector's names for a model or a property.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Storage {
    table: Option<String>,
    column_name: Option<String>,
}

/// `"name": "string"` or `"name": {"type": "string", ...}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum PropertySpec {
    Short(String),
    /// `"tags": ["string"]`: a list (before `Full`, which serde would also read from one).
    List(Vec<Value>),
    Full(Box<PropertyFull>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PropertyFull {
    #[serde(rename = "type", default)]
    ty: Option<Value>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    default_fn: Option<String>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    generated: Option<bool>,
    #[serde(default)]
    hidden: Option<bool>,
    #[serde(default)]
    description: Option<Value>,
    #[serde(default)]
    postgresql: Option<Storage>,
    #[serde(default)]
    mysql: Option<Storage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RelationSpec {
    #[serde(rename = "type")]
    kind: String,
    model: Option<String>,
    foreign_key: Option<String>,
    through: Option<String>,
    key_through: Option<String>,
    #[serde(default)]
    options: BTreeMap<String, Value>,
    #[serde(default)]
    scope: Option<Value>,
    #[serde(default)]
    polymorphic: Option<Value>,
}

/// An ACL entry of a model file or of `model-config.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AclSpec {
    #[serde(default)]
    access_type: Option<String>,
    principal_type: String,
    principal_id: Value,
    permission: String,
    #[serde(default)]
    property: Option<Value>,
}

impl AclSpec {
    /// The entries for `model` (a list of properties makes one entry naming them all).
    pub(crate) fn entry(&self, model: &str) -> Result<AclEntry, String> {
        let property = match &self.property {
            None => "*".to_owned(),
            Some(Value::String(p)) => p.clone(),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            Some(other) => return Err(format!("{model}: an ACL property must be a string or a list, not {other}")),
        };
        let principal = match &self.principal_id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        AclEntry::parse(
            model,
            &property,
            self.access_type.as_deref().unwrap_or("*"),
            &self.principal_type,
            &principal,
            &self.permission,
        )
        .map_err(|e| format!("{model}: ACL entry {principal}: {e}"))
    }
}

/// A model file as a definition for `backend`, with what could not be carried over.
pub(crate) struct Converted {
    pub(crate) definition: ModelDefinition,
    pub(crate) warnings: Vec<String>,
}

/// LoopBack's `camelize(name + "_id", true)`: `Product` → `productId`.
fn id_name(model: &str) -> String {
    let mut chars = model.chars();
    let first = chars.next().map(|c| c.to_lowercase().collect::<String>()).unwrap_or_default();
    format!("{first}{}Id", chars.as_str())
}

/// The property type of a LoopBack type name.
fn property_type(ty: Option<&Value>) -> Result<PropertyType, String> {
    let name = match ty {
        None => return Ok(PropertyType::Json),
        Some(Value::String(s)) => s.to_ascii_lowercase(),
        // `["string"]` and `{...}`: lists and nested objects are JSON.
        Some(Value::Array(_) | Value::Object(_)) => return Ok(PropertyType::Json),
        Some(other) => return Err(format!("type {other} is not a LoopBack type")),
    };
    Ok(match name.as_str() {
        "string" => PropertyType::String,
        "number" => PropertyType::Number(persisted_model::FloatWidth::F64),
        "boolean" => PropertyType::Boolean,
        "date" => PropertyType::Date,
        "object" | "array" | "any" => PropertyType::Json,
        other => return Err(format!("type \"{other}\" is not supported")),
    })
}

impl ModelFile {
    /// The table name the app gave for `backend`, if any.
    fn table(&self, backend: DbBackend) -> Option<String> {
        let from_options =
            |key: &str| self.options.get(key).and_then(|o| o.get("table")).and_then(Value::as_str).map(str::to_owned);
        match backend {
            DbBackend::Postgres => {
                self.postgresql.as_ref().and_then(|s| s.table.clone()).or_else(|| from_options("postgresql"))
            }
            DbBackend::MySql => self.mysql.as_ref().and_then(|s| s.table.clone()).or_else(|| from_options("mysql")),
            _ => None,
        }
    }

    /// The definition of this model, served with LoopBack's names on `backend`.
    pub(crate) fn convert(&self, backend: DbBackend, public: bool) -> Result<Converted, Vec<String>> {
        let name = &self.name;
        let mut warnings = Vec::new();
        let mut problems = Vec::new();
        let lb_name = |s: &str| Layout::LoopBack3.storage_name(s, backend);
        let table = self.table(backend);
        // Names the file gives are final; the others are LoopBack's (`Layout::LoopBack3`).
        let mut fixed = table.is_some();
        let mut def = ModelDefinition::new(name.clone(), table.unwrap_or_else(|| lb_name(name)));
        for (prop_name, spec) in &self.properties {
            let spec = match PropertySpec::deserialize(spec) {
                Ok(spec) => spec,
                Err(e) => {
                    problems.push(format!("{name}.{prop_name}: {e}"));
                    continue;
                }
            };
            let short = |ty: Value| PropertyFull {
                ty: Some(ty),
                required: false,
                default: None,
                default_fn: None,
                id: None,
                generated: None,
                hidden: None,
                description: None,
                postgresql: None,
                mysql: None,
            };
            let full = match spec {
                PropertySpec::Short(ty) => short(Value::String(ty)),
                PropertySpec::List(items) => short(Value::Array(items)),
                PropertySpec::Full(full) => *full,
            };
            let ty = match property_type(full.ty.as_ref()) {
                Ok(ty) => ty,
                Err(why) => {
                    problems.push(format!("{name}.{prop_name}: {why}"));
                    continue;
                }
            };
            let storage = match backend {
                DbBackend::Postgres => full.postgresql.as_ref(),
                DbBackend::MySql => full.mysql.as_ref(),
                _ => None,
            };
            let column = match storage.and_then(|s| s.column_name.clone()) {
                Some(c) => {
                    fixed = true;
                    c
                }
                None => lb_name(prop_name),
            };
            let is_id = full.id.as_ref().is_some_and(|v| v.as_bool().unwrap_or(true) && !v.is_null());
            let mut p = Property::new(prop_name.clone(), column, ty)
                .required(full.required && !is_id)
                .hidden(full.hidden.unwrap_or(false) || self.hidden.contains(prop_name))
                .generated(is_id && full.generated.unwrap_or(false));
            p.description = match &full.description {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Array(lines)) => {
                    Some(lines.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
                }
                _ => None,
            };
            p.default = match (&full.default, full.default_fn.as_deref()) {
                (Some(v), _) => Some(DefaultValue::Value(v.clone())),
                (None, Some("now")) => Some(DefaultValue::Now),
                (None, Some(other)) => {
                    warnings.push(format!("{name}.{prop_name}: defaultFn \"{other}\" is not carried over"));
                    None
                }
                (None, None) => None,
            };
            if is_id {
                def.id = def.properties.len();
            }
            def.properties.push(p);
        }
        let has_id = self.properties.values().any(|s| s.get("id").is_some_and(|v| v.as_bool().unwrap_or(true)));
        if !has_id {
            if self.id_injection == Some(false) {
                problems.push(format!("{name}: no id property and idInjection is false"));
            } else {
                // LoopBack's injected id: a number the database generates.
                def.id = def.properties.len();
                def.properties
                    .push(Property::new("id", lb_name("id"), PropertyType::Integer(IntegerWidth::I32)).generated(true));
            }
        }
        for (rel_name, spec) in &self.relations {
            match self.relation(rel_name, spec) {
                Ok(rel) => def.relations.push(rel),
                Err(why) => problems.push(format!("{name}.{rel_name}: {why}")),
            }
            if spec.scope.is_some() {
                warnings.push(format!("{name}.{rel_name}: the relation's scope is not carried over"));
            }
        }
        for acl in &self.acls {
            match acl.entry(name) {
                Ok(entry) => def.acls.push(entry),
                Err(why) => problems.push(why),
            }
        }
        if let Some(plural) = &self.plural {
            def.plural = plural.clone();
            def.path = plural.clone();
        } else {
            def.plural = pluralize(name);
        }
        if let Some(path) = self.http.as_ref().and_then(|h| h.path.clone()) {
            def.path = path.trim_start_matches('/').to_owned();
        }
        def.settings.public = public;
        def.settings.fixed_storage_names = fixed;
        // LoopBack reads a model's settings at its top level and in `options`.
        for (key, value) in self.options.iter().chain(&self.other) {
            def.settings.extra.insert(key.clone(), value.clone());
        }
        def.settings.force_id = self.force_id;
        if let Some(replace) = self.replace_on_put {
            def.settings.replace_on_put = replace;
        }
        for method in self.methods.keys() {
            warnings.push(format!("{name}: the remote method \"{method}\" is not carried over"));
        }
        for mixin in self.mixins.keys() {
            warnings.push(format!("{name}: the mixin \"{mixin}\" is not carried over"));
        }
        if !self.validations.is_empty() {
            warnings.push(format!("{name}: \"validations\" are not carried over"));
        }
        if problems.is_empty() { Ok(Converted { definition: def, warnings }) } else { Err(problems) }
    }

    /// A model based on `User` (a LoopBack `Customer`): the built-in User's properties,
    /// relations and default ACLs under this model's name, with the file's own added.
    pub(crate) fn convert_user(&self, backend: DbBackend, public: bool) -> Result<Converted, Vec<String>> {
        use persisted_model_access_token::user;
        let base = persisted_model::ModelHandle::of::<user::Model>().definition().clone();
        let mut c = self.convert_on(base, user::default_acls_for, backend, public)?;
        c.definition.settings.user_model = true;
        Ok(c)
    }

    /// A model based on `AccessToken` (the token model of an app with its own user model).
    pub(crate) fn convert_token(&self, backend: DbBackend, public: bool) -> Result<Converted, Vec<String>> {
        use persisted_model_access_token::access_token;
        let base = persisted_model::ModelHandle::of::<access_token::Model>().definition().clone();
        self.convert_on(base, access_token::default_acls_for, backend, public)
    }

    /// `base`'s properties, relations and ACLs (for this model's name) under this model's
    /// name, with the file's own properties and relations added (a relation of the same name
    /// replaces the base's) and its ACLs after the base's, as LoopBack merges them.
    fn convert_on(
        &self,
        mut def: ModelDefinition,
        base_acls: fn(&str) -> Vec<AclEntry>,
        backend: DbBackend,
        public: bool,
    ) -> Result<Converted, Vec<String>> {
        let own = self.convert(backend, public)?;
        for p in &mut def.properties {
            p.column = Layout::LoopBack3.storage_name(&p.name, backend);
        }
        def.name = own.definition.name.clone();
        def.plural = own.definition.plural.clone();
        def.path = own.definition.path.clone();
        def.table = own.definition.table.clone();
        def.settings = own.definition.settings.clone();
        for p in own.definition.properties {
            if def.property(&p.name).is_none() {
                def.properties.push(p);
            }
        }
        for rel in own.definition.relations {
            def.relations.retain(|r| r.name != rel.name);
            def.relations.push(rel);
        }
        def.acls = base_acls(&def.name);
        def.acls.extend(own.definition.acls);
        Ok(Converted { definition: def, warnings: own.warnings })
    }

    fn relation(&self, rel_name: &str, spec: &RelationSpec) -> Result<Relation, String> {
        let target = spec.model.clone().ok_or("the relation names no model")?;
        if spec.polymorphic.is_some() {
            return Err("polymorphic relations are not supported".into());
        }
        let kind = match (spec.kind.as_str(), spec.through.is_some()) {
            ("belongsTo", _) => RelationKind::BelongsTo,
            ("hasOne", _) => RelationKind::HasOne,
            ("hasMany", false) => RelationKind::HasMany,
            ("hasMany", true) | ("hasManyThrough", _) => RelationKind::HasManyThrough,
            (other, _) => return Err(format!("relations of type \"{other}\" are not supported")),
        };
        let foreign_key = spec.foreign_key.clone().unwrap_or_else(|| match kind {
            RelationKind::BelongsTo => format!("{rel_name}Id"),
            _ => id_name(&self.name),
        });
        let mut rel = Relation::new(rel_name, kind, target.clone(), foreign_key);
        if let Some(through) = &spec.through {
            rel = rel.through(through.clone(), spec.key_through.clone().unwrap_or_else(|| id_name(&target)));
        }
        let disable = spec.options.get("disableInclude").and_then(Value::as_bool).unwrap_or(false);
        Ok(rel.disable_include(disable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: Value) -> ModelFile {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_model_file_becomes_a_definition_with_loopbacks_names() {
        let product = file(serde_json::json!({
            "name": "Product", "base": "PersistedModel",
            "properties": {
                "name": {"type": "string", "required": true},
                "price": {"type": "number", "postgresql": {"dataType": "double precision"}},
                "inStock": {"type": "boolean", "default": true},
                "tags": ["string"],
                "secret": "string"
            },
            "hidden": ["secret"],
            "relations": {"category": {"type": "belongsTo", "model": "Category", "foreignKey": "categoryId"}},
            "acls": [{"accessType": "WRITE", "principalType": "ROLE", "principalId": "$authenticated", "permission": "ALLOW"}],
            "methods": {"discount": {}}
        }));
        let Converted { definition: d, warnings } = product.convert(DbBackend::Postgres, true).unwrap();
        assert_eq!((d.table.as_str(), d.path.as_str()), ("product", "Products"));
        let inj = d.id_property();
        assert_eq!((inj.name.as_str(), inj.generated), ("id", true));
        let in_stock = d.property("inStock").unwrap();
        assert_eq!(in_stock.column, "instock");
        assert_eq!(in_stock.default, Some(DefaultValue::Value(serde_json::json!(true))));
        assert_eq!(d.property("tags").unwrap().ty, PropertyType::Json);
        assert!(d.property("secret").unwrap().hidden);
        assert!(d.property("name").unwrap().required);
        assert_eq!(d.relations[0].foreign_key, "categoryId");
        assert_eq!(d.acls.len(), 1);
        assert_eq!(warnings, vec!["Product: the remote method \"discount\" is not carried over"]);
        let mysql = product.convert(DbBackend::MySql, true).unwrap().definition;
        assert_eq!((mysql.table.as_str(), mysql.property("inStock").unwrap().column.as_str()), ("Product", "inStock"));
    }

    #[test]
    fn settings_are_kept_by_their_loopback_names() {
        let customer = file(serde_json::json!({
            "name": "Customer", "base": "User",
            "caseSensitiveEmail": false,
            "options": {"rejectPasswordChangesViaPatchOrReplace": true},
            "properties": {}
        }));
        let c = customer.convert_user(DbBackend::Postgres, true).unwrap();
        let extra = &c.definition.settings.extra;
        assert_eq!(extra.get("caseSensitiveEmail"), Some(&serde_json::json!(false)));
        assert_eq!(extra.get("rejectPasswordChangesViaPatchOrReplace"), Some(&serde_json::json!(true)));
    }

    #[test]
    fn default_keys_and_problems() {
        let order = file(serde_json::json!({
            "name": "Order",
            "properties": {"code": {"type": "string", "id": true}, "when": "geopoint"},
            "relations": {
                "lines": {"type": "hasMany", "model": "Line"},
                "customer": {"type": "belongsTo", "model": "Customer"},
                "odd": {"type": "embedsMany", "model": "X"}
            }
        }));
        let problems = order.convert(DbBackend::Postgres, true).err().unwrap();
        assert!(problems.iter().any(|p| p.contains("\"geopoint\" is not supported")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("\"embedsMany\"")), "{problems:?}");
        let order = file(serde_json::json!({
            "name": "Order",
            "properties": {"code": {"type": "string", "id": true}},
            "relations": {"lines": {"type": "hasMany", "model": "Line"}, "customer": {"type": "belongsTo", "model": "Customer"}}
        }));
        let d = order.convert(DbBackend::Postgres, true).unwrap().definition;
        assert_eq!(d.id_property().name, "code");
        let keys: Vec<&str> = d.relations.iter().map(|r| r.foreign_key.as_str()).collect();
        assert_eq!(keys, vec!["customerId", "orderId"]);
    }
}
