//! JSON filter → checked [`Filter`]: every property, operator, relation and value is checked
//! against the model, and anything unknown is a 400 rather than a silently wider query.

use serde_json::{Map, Value};

use super::ast::{Filter, Include, Op, Order, Regex, Where};
use super::error::FilterError;
use super::limits::FilterLimits;
use super::regex_dialect::portable_pattern;
use crate::model::{ModelDefinition, PropertyType};
use crate::value::coerce;

/// Finds model definitions by name, for include scopes.
pub trait ModelLookup {
    /// The definition of the model with this name.
    fn model(&self, name: &str) -> Option<&ModelDefinition>;
}

impl ModelLookup for () {
    fn model(&self, _: &str) -> Option<&ModelDefinition> {
        None
    }
}

/// Which parts of a filter a method honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterUse {
    /// find, findOne, relation reads: everything.
    Full,
    /// findById: only `fields` and `include` (LoopBack ignores the rest).
    FieldsAndInclude,
}

/// Parses and checks a filter object.
pub fn parse_filter(
    value: &Value,
    model: &ModelDefinition,
    models: &dyn ModelLookup,
    limits: &FilterLimits,
    usage: FilterUse,
) -> Result<Filter, FilterError> {
    check_depth(value, limits)?;
    let empty = Map::new();
    let obj = match value {
        // No filter still gets the page limits.
        Value::Null => &empty,
        Value::Object(obj) => obj,
        _ => return Err(FilterError::not_an_object()),
    };
    Parser { model, models, limits }.filter(obj, usage, 0)
}

/// Parses and checks a bare where object (count, updateAll, upsertWithWhere).
pub fn parse_where(
    value: &Value,
    model: &ModelDefinition,
    limits: &FilterLimits,
) -> Result<Option<Where>, FilterError> {
    check_depth(value, limits)?;
    match value {
        Value::Null => Ok(None),
        Value::Object(obj) => Parser { model, models: &(), limits }.where_object(obj),
        _ => Err(FilterError::not_an_object()),
    }
}

fn check_depth(value: &Value, limits: &FilterLimits) -> Result<(), FilterError> {
    fn depth(v: &Value) -> usize {
        match v {
            Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    if depth(value) > limits.max_depth {
        return Err(FilterError::too_deep(limits.max_depth));
    }
    Ok(())
}

struct Parser<'a> {
    model: &'a ModelDefinition,
    models: &'a dyn ModelLookup,
    limits: &'a FilterLimits,
}

const FILTER_KEYS: &[&str] = &["where", "fields", "order", "limit", "skip", "offset", "include"];

impl Parser<'_> {
    fn filter(&self, obj: &Map<String, Value>, usage: FilterUse, level: usize) -> Result<Filter, FilterError> {
        if let Some(key) = obj.keys().find(|k| !FILTER_KEYS.contains(&k.as_str())) {
            return Err(FilterError::new(format!("The filter has an unknown key \"{key}\"")));
        }
        let mut filter = Filter::default();
        if let Some(fields) = obj.get("fields") {
            filter.fields = self.fields(fields)?;
        }
        if let Some(include) = obj.get("include") {
            filter.include = self.includes(include, level)?;
        }
        if usage == FilterUse::FieldsAndInclude {
            return Ok(filter);
        }
        if let Some(w) = obj.get("where") {
            filter.where_ = match w {
                Value::Null => None,
                Value::Object(o) => self.where_object(o)?,
                _ => return Err(FilterError::new("The where clause is not an object")),
            };
        }
        if let Some(order) = obj.get("order") {
            filter.order = self.order(order)?;
        }
        let (limit, skip) = self.paging(obj, level == 0)?;
        filter.limit = limit;
        filter.skip = skip;
        Ok(filter)
    }

    /// `limit` and `skip` with LoopBack's normalisation; the page limits apply to the top
    /// level (include scopes keep what the client asked, within the maximum).
    fn paging(&self, obj: &Map<String, Value>, top: bool) -> Result<(Option<u64>, Option<u64>), FilterError> {
        let limit = obj.get("limit").filter(|v| truthy(v));
        let skip = obj.get("skip").filter(|v| truthy(v)).or_else(|| obj.get("offset").filter(|v| truthy(v)));
        let mut out_limit = None;
        let mut out_skip = None;
        // LoopBack normalises only when one of them is set; skip alone implies limit 100.
        if limit.is_some() || skip.is_some() {
            out_limit = Some(match limit {
                Some(v) => match whole_number(v) {
                    Some(n) if n > 0 => n,
                    _ => return Err(FilterError::new(format!("The limit parameter {v} is not valid"))),
                },
                None => 100,
            });
            if let Some(v) = skip {
                match whole_number(v) {
                    Some(n) => out_skip = Some(n),
                    None => {
                        return Err(FilterError::new(format!("The offset/skip parameter {v} is not valid")));
                    }
                }
            }
        }
        if top {
            out_limit = self.limits.page(out_limit);
        } else if let (Some(l), Some(max)) = (out_limit, self.limits.max_limit) {
            out_limit = Some(l.min(max));
        }
        Ok((out_limit, out_skip))
    }

    fn property(&self, name: &str, context: &str) -> Result<(&str, PropertyType), FilterError> {
        match self.model.property(name) {
            Some(p) if p.hidden => Err(FilterError::new(format!(
                "The property \"{name}\" of {} cannot be used in {context}",
                self.model.name
            ))
            .with_code("INVALID_PROPERTY")),
            Some(p) => Ok((p.name.as_str(), p.ty)),
            None => Err(FilterError::new(format!("{} has no property \"{name}\" (in {context})", self.model.name))
                .with_code("INVALID_PROPERTY")),
        }
    }

    fn fields(&self, value: &Value) -> Result<Option<Vec<String>>, FilterError> {
        let names: Vec<String> = match value {
            Value::Null => return Ok(None),
            Value::String(s) => s.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        _ => return Err(FilterError::new("The fields list must contain property names")),
                    }
                }
                out
            }
            Value::Object(map) => {
                let included: Vec<String> = map.iter().filter(|(_, v)| truthy(v)).map(|(k, _)| k.clone()).collect();
                for key in map.keys() {
                    self.property(key, "fields")?;
                }
                if included.is_empty() {
                    if map.is_empty() {
                        return Ok(None);
                    }
                    // All false: every visible property except the excluded ones.
                    return Ok(Some(
                        self.model
                            .properties
                            .iter()
                            .filter(|p| !p.hidden && !map.contains_key(&p.name))
                            .map(|p| p.name.clone())
                            .collect(),
                    ));
                }
                included
            }
            _ => return Err(FilterError::new("The fields filter must be a string, an array or an object")),
        };
        if names.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let (name, _) = self.property(&name, "fields")?;
            if !out.iter().any(|n: &String| n == name) {
                out.push(name.to_owned());
            }
        }
        Ok(Some(out))
    }

    fn order(&self, value: &Value) -> Result<Vec<Order>, FilterError> {
        let items: Vec<&str> = match value {
            Value::Null => return Ok(Vec::new()),
            Value::String(s) => s.split(',').collect(),
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => out.extend(s.split(',')),
                        other => {
                            return Err(FilterError::new(format!("The order {other} is not valid")));
                        }
                    }
                }
                out
            }
            Value::Object(map) if is_sequential(map) => {
                return self.order(&Value::Array(map.values().cloned().collect()));
            }
            other => return Err(FilterError::new(format!("The order {other} is not valid"))),
        };
        let mut out = Vec::new();
        for item in items {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let mut parts = item.split_whitespace();
            let name = parts.next().unwrap_or_default();
            let descending = match parts.next() {
                None => false,
                Some(d) if d.eq_ignore_ascii_case("asc") => false,
                Some(d) if d.eq_ignore_ascii_case("desc") => true,
                Some(_) => {
                    return Err(FilterError::new(format!("The order \"{item}\" has invalid direction")));
                }
            };
            if parts.next().is_some() {
                return Err(FilterError::new(format!("The order \"{item}\" has invalid direction")));
            }
            let (name, _) = self.property(name, "order")?;
            out.push(Order { property: name.to_owned(), descending });
        }
        Ok(out)
    }

    fn includes(&self, value: &Value, level: usize) -> Result<Vec<Include>, FilterError> {
        if level >= self.limits.max_include_depth {
            return Err(FilterError::new(format!(
                "The include is nested deeper than {} levels",
                self.limits.max_include_depth
            )));
        }
        let mut out = Vec::new();
        self.collect_includes(value, level, &mut out)?;
        if out.len() > self.limits.max_include_breadth {
            return Err(FilterError::new(format!(
                "The include names more than {} relations",
                self.limits.max_include_breadth
            )));
        }
        Ok(out)
    }

    fn collect_includes(&self, value: &Value, level: usize, out: &mut Vec<Include>) -> Result<(), FilterError> {
        match value {
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
            Value::String(name) => {
                let scope = Filter::default();
                self.push_include(name, scope, out);
                self.check_relation(name)
            }
            Value::Array(items) => items.iter().try_for_each(|item| self.collect_includes(item, level, out)),
            Value::Object(map) => {
                if let Some(rel) = map.get("relation").or_else(|| map.get("rel")) {
                    let Value::String(name) = rel else {
                        return Err(FilterError::new("The include relation must be a string"));
                    };
                    let target = self.check_relation(name).and_then(|()| self.target(name))?;
                    let scope = match map.get("scope") {
                        None | Some(Value::Null) => Filter::default(),
                        Some(Value::Object(scope)) => self.nested(target).filter(scope, FilterUse::Full, level + 1)?,
                        Some(_) => return Err(FilterError::new("The include scope must be an object")),
                    };
                    self.push_include(name, scope, out);
                    return Ok(());
                }
                for (name, sub) in map {
                    let target = self.check_relation(name).and_then(|()| self.target(name))?;
                    let mut scope = Filter::default();
                    if !matches!(sub, Value::Bool(_) | Value::Null) {
                        scope.include = self.nested(target).includes(sub, level + 1)?;
                    }
                    self.push_include(name, scope, out);
                }
                Ok(())
            }
        }
    }

    fn push_include(&self, name: &str, scope: Filter, out: &mut Vec<Include>) {
        // disableInclude relations are dropped silently, as LoopBack does.
        if self.model.relation(name).is_some_and(|r| r.disable_include) {
            return;
        }
        out.push(Include { relation: name.to_owned(), scope });
    }

    fn check_relation(&self, name: &str) -> Result<(), FilterError> {
        if self.model.relation(name).is_none() {
            return Err(FilterError::new(format!("Relation \"{name}\" is not defined for {} model", self.model.name))
                .with_code("INVALID_INCLUSION"));
        }
        Ok(())
    }

    fn target(&self, relation: &str) -> Result<&ModelDefinition, FilterError> {
        let rel = self.model.relation(relation).expect("checked");
        self.models.model(&rel.model).ok_or_else(|| {
            FilterError::new(format!("The target model \"{}\" of relation \"{relation}\" is not registered", rel.model))
        })
    }

    fn nested<'b>(&'b self, model: &'b ModelDefinition) -> Parser<'b> {
        Parser { model, models: self.models, limits: self.limits }
    }

    pub(super) fn where_object(&self, obj: &Map<String, Value>) -> Result<Option<Where>, FilterError> {
        let mut clauses = Vec::new();
        for (key, value) in obj {
            match key.as_str() {
                "and" | "or" => {
                    let items = as_list(value).ok_or_else(|| {
                        FilterError::new(format!("The {key} clause must be an array of where objects"))
                    })?;
                    let mut parts = Vec::new();
                    for item in items {
                        let Value::Object(o) = item else {
                            return Err(FilterError::new(format!(
                                "The {key} clause must be an array of where objects"
                            )));
                        };
                        if let Some(w) = self.where_object(o)? {
                            parts.push(w);
                        }
                    }
                    if parts.is_empty() {
                        continue;
                    }
                    clauses.push(if key == "and" { Where::And(parts) } else { Where::Or(parts) });
                }
                _ if key.starts_with('$') => {
                    return Err(FilterError::new(format!("Operators \"{key}\" are not allowed in query"))
                        .with_code("OPERATOR_NOT_ALLOWED_IN_QUERY"));
                }
                _ => {
                    let (name, ty) = self.property(key, "where")?;
                    self.conditions(name, ty, value, &mut clauses)?;
                }
            }
        }
        Ok(match clauses.len() {
            0 => None,
            _ => Some(Where::all(clauses)),
        })
    }

    fn conditions(&self, name: &str, ty: PropertyType, value: &Value, out: &mut Vec<Where>) -> Result<(), FilterError> {
        let cond = |op| Where::Cond { property: name.to_owned(), op };
        let ops = match value {
            Value::Object(ops) if ty != PropertyType::Json || ops.keys().all(|k| OPERATORS.contains(&k.as_str())) => {
                ops
            }
            Value::Array(items) => {
                out.push(cond(Op::Inq(self.values(name, ty, value, items)?)));
                return Ok(());
            }
            _ => {
                out.push(cond(Op::Eq(self.scalar(name, ty, value, value)?)));
                return Ok(());
            }
        };
        if ops.is_empty() {
            return Err(invalid_clause(name, value, "Expected an operator"));
        }
        // Several operators on one property all apply (LoopBack kept only one).
        for (op, operand) in ops {
            let clause = Value::Object(Map::from_iter([(op.clone(), operand.clone())]));
            let op = match op.as_str() {
                "eq" => Op::Eq(self.scalar(name, ty, operand, &clause)?),
                "neq" => Op::Neq(self.scalar(name, ty, operand, &clause)?),
                "gt" => Op::Gt(self.bound(name, ty, operand, &clause)?),
                "gte" => Op::Gte(self.bound(name, ty, operand, &clause)?),
                "lt" => Op::Lt(self.bound(name, ty, operand, &clause)?),
                "lte" => Op::Lte(self.bound(name, ty, operand, &clause)?),
                "between" => {
                    let items = as_list(operand).ok_or_else(|| {
                        invalid_clause(
                            name,
                            &clause,
                            "Error: Value is not an array or object with sequential numeric indices",
                        )
                    })?;
                    if items.len() != 2 {
                        return Err(invalid_clause(
                            name,
                            &clause,
                            &format!("Expected precisely 2 values, received {}", items.len()),
                        ));
                    }
                    Op::Between(self.bound(name, ty, items[0], &clause)?, self.bound(name, ty, items[1], &clause)?)
                }
                "inq" | "nin" => {
                    let items = as_list(operand).ok_or_else(|| {
                        invalid_clause(
                            name,
                            &clause,
                            "Error: Value is not an array or object with sequential numeric indices",
                        )
                    })?;
                    let values = self.values(name, ty, &clause, &items.into_iter().cloned().collect::<Vec<_>>())?;
                    if op == "inq" { Op::Inq(values) } else { Op::Nin(values) }
                }
                "like" | "nlike" | "ilike" | "nilike" => {
                    let Value::String(pattern) = operand else {
                        return Err(invalid_clause(name, &clause, "Expected a string pattern"));
                    };
                    self.check_like(name, &clause, pattern)?;
                    let pattern = pattern.clone();
                    match op.as_str() {
                        "like" => Op::Like(pattern),
                        "nlike" => Op::NLike(pattern),
                        "ilike" => Op::ILike(pattern),
                        _ => Op::NILike(pattern),
                    }
                }
                "regexp" => Op::Regexp(self.regexp(name, &clause, operand)?),
                other => return Err(invalid_clause(name, &clause, &format!("Unknown operator \"{other}\""))),
            };
            out.push(cond(op));
        }
        Ok(())
    }

    fn check_pattern(&self, name: &str, clause: &Value, pattern: &str) -> Result<(), FilterError> {
        if pattern.len() > self.limits.max_pattern_length {
            return Err(invalid_clause(
                name,
                clause,
                &format!("The pattern is longer than {} characters", self.limits.max_pattern_length),
            ));
        }
        if pattern.contains('\0') {
            return Err(invalid_clause(name, clause, "The pattern contains a NUL character"));
        }
        Ok(())
    }

    /// A `like` pattern: `\` escapes the next character, so it cannot end one.
    fn check_like(&self, name: &str, clause: &Value, pattern: &str) -> Result<(), FilterError> {
        self.check_pattern(name, clause, pattern)?;
        let trailing = pattern.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            return Err(invalid_clause(name, clause, "The pattern ends with an escape character (\\)"));
        }
        Ok(())
    }

    fn regexp(&self, name: &str, clause: &Value, operand: &Value) -> Result<Regex, FilterError> {
        let Value::String(text) = operand else {
            return Err(invalid_clause(name, clause, "Expected a regular expression string"));
        };
        self.check_pattern(name, clause, text)?;
        // `/body/flags` when a slash follows the first character, as LoopBack reads it.
        let (pattern, flags) = match text.rfind('/') {
            Some(last) if text.starts_with('/') && last > 0 => (&text[1..last], &text[last + 1..]),
            _ => (text.as_str(), ""),
        };
        if let Some(bad) = flags.chars().find(|c| !matches!(c, 'i' | 'g' | 'm')) {
            return Err(invalid_clause(name, clause, &format!("Invalid regex flags: {bad}")));
        }
        let pattern = portable_pattern(pattern).map_err(|why| invalid_clause(name, clause, &why))?;
        Ok(Regex { pattern, case_insensitive: flags.contains('i') })
    }

    fn values(&self, name: &str, ty: PropertyType, clause: &Value, items: &[Value]) -> Result<Vec<Value>, FilterError> {
        if items.len() > self.limits.max_inq {
            return Err(invalid_clause(name, clause, &format!("Expected at most {} values", self.limits.max_inq)));
        }
        items.iter().map(|v| self.scalar(name, ty, v, clause)).collect()
    }

    /// An operand that may be null (equality).
    fn scalar(&self, name: &str, ty: PropertyType, value: &Value, clause: &Value) -> Result<Value, FilterError> {
        if value.is_object() && ty != PropertyType::Json || value.is_array() {
            return Err(invalid_clause(name, clause, "Expected a single value"));
        }
        coerce(ty, value).map_err(|rule| invalid_clause(name, clause, &format!("the value {}", rule.message())))
    }

    /// An operand of a comparison, which must not be null.
    fn bound(&self, name: &str, ty: PropertyType, value: &Value, clause: &Value) -> Result<Value, FilterError> {
        match self.scalar(name, ty, value, clause)? {
            Value::Null => Err(invalid_clause(name, clause, "Expected a value, not null")),
            v => Ok(v),
        }
    }
}

const OPERATORS: &[&str] =
    &["eq", "neq", "gt", "gte", "lt", "lte", "between", "inq", "nin", "like", "nlike", "ilike", "nilike", "regexp"];

fn invalid_clause(name: &str, clause: &Value, reason: &str) -> FilterError {
    FilterError::new(format!("The {name} property has invalid clause {clause}: {reason}"))
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// A non-negative integer from a number or numeric string.
fn whole_number(v: &Value) -> Option<u64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0).then_some(n as u64)
}

/// An array, or an object with keys `0..n-1` (what qs makes of long bracket arrays).
fn as_list(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Array(items) => Some(items.iter().collect()),
        Value::Object(map) if is_sequential(map) && !map.is_empty() => {
            let mut items: Vec<(usize, &Value)> =
                map.iter().map(|(k, v)| (k.parse::<usize>().unwrap_or(usize::MAX), v)).collect();
            items.sort_by_key(|(i, _)| *i);
            Some(items.into_iter().map(|(_, v)| v).collect())
        }
        _ => None,
    }
}

fn is_sequential(map: &Map<String, Value>) -> bool {
    let mut keys: Vec<usize> = match map.keys().map(|k| k.parse::<usize>()).collect() {
        Ok(keys) => keys,
        Err(_) => return false,
    };
    keys.sort_unstable();
    keys.iter().enumerate().all(|(i, k)| i == *k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::product_definition;
    use serde_json::json;

    fn filter(v: Value) -> Result<Filter, FilterError> {
        parse_filter(&v, &product_definition(), &(), &FilterLimits::loopback(), FilterUse::Full)
    }

    fn message(v: Value) -> String {
        filter(v).unwrap_err().message
    }

    #[test]
    fn implicit_equality_and_operators() {
        let f = filter(json!({"where": {"name": "a", "price": {"gt": "2"}}})).unwrap();
        assert_eq!(
            f.where_,
            Some(Where::And(vec![
                Where::eq("name", json!("a")),
                Where::Cond { property: "price".into(), op: Op::Gt(json!(2)) },
            ]))
        );
    }

    #[test]
    fn several_operators_on_one_property_all_apply() {
        let f = filter(json!({"where": {"price": {"gt": 1, "lt": 5}}})).unwrap();
        assert!(matches!(f.where_, Some(Where::And(ref v)) if v.len() == 2));
    }

    #[test]
    fn loopback_error_messages() {
        assert_eq!(
            message(json!({"where": {"price": {"between": [1]}}})),
            "The price property has invalid clause {\"between\":[1]}: Expected precisely 2 values, received 1"
        );
        assert_eq!(
            message(json!({"where": {"price": {"inq": 10}}})),
            "The price property has invalid clause {\"inq\":10}: Error: Value is not an array or object with sequential numeric indices"
        );
        assert_eq!(message(json!({"limit": -1})), "The limit parameter -1 is not valid");
        assert_eq!(message(json!({"limit": "abc"})), "The limit parameter \"abc\" is not valid");
        assert_eq!(message(json!({"skip": -5})), "The offset/skip parameter -5 is not valid");
        assert_eq!(message(json!({"order": "price SIDEWAYS"})), "The order \"price SIDEWAYS\" has invalid direction");
    }

    #[test]
    fn unknown_names_are_rejected_not_ignored() {
        assert!(filter(json!({"where": {"price": {"foo": 1}}})).is_err());
        assert!(filter(json!({"where": {"nosuch": 1}})).is_err());
        assert!(filter(json!({"order": "nosuch ASC"})).is_err());
        assert!(filter(json!({"fields": ["name", "nosuch"]})).is_err());
        assert!(filter(json!({"where": {"$where": "1"}})).is_err());
        assert!(filter(json!({"wher": {}})).is_err());
    }

    #[test]
    fn paging_follows_loopback_normalisation() {
        let f = filter(json!({"skip": 2})).unwrap();
        assert_eq!((f.limit, f.skip), (Some(100), Some(2)));
        let f = filter(json!({"limit": 0})).unwrap();
        assert_eq!((f.limit, f.skip), (None, None));
        let f = filter(json!({"limit": "3", "offset": 1})).unwrap();
        assert_eq!((f.limit, f.skip), (Some(3), Some(1)));
    }

    #[test]
    fn fields_forms() {
        assert_eq!(filter(json!({"fields": "name"})).unwrap().fields, Some(vec!["name".to_owned()]));
        assert_eq!(
            filter(json!({"fields": {"name": true, "price": false}})).unwrap().fields,
            Some(vec!["name".to_owned()])
        );
        let all_but = filter(json!({"fields": {"price": false}})).unwrap().fields.unwrap();
        assert!(!all_but.contains(&"price".to_owned()) && all_but.contains(&"name".to_owned()));
    }

    #[test]
    fn order_forms() {
        let f = filter(json!({"order": ["price desc", "name"]})).unwrap();
        assert_eq!(
            f.order,
            vec![
                Order { property: "price".into(), descending: true },
                Order { property: "name".into(), descending: false }
            ]
        );
    }

    #[test]
    fn regexp_string_form() {
        let f = filter(json!({"where": {"name": {"regexp": "/^wid/i"}}})).unwrap();
        assert_eq!(
            f.where_,
            Some(Where::Cond {
                property: "name".into(),
                op: Op::Regexp(Regex { pattern: "^wid".into(), case_insensitive: true })
            })
        );
        assert!(filter(json!({"where": {"name": {"regexp": "/a/x"}}})).is_err());
    }

    #[test]
    fn depth_is_limited() {
        let mut deep = json!({"name": "x"});
        for _ in 0..12 {
            deep = json!({"and": [deep]});
        }
        assert!(filter(json!({"where": deep})).is_err());
    }
}
