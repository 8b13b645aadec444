//! Where clauses evaluated in memory, with the SQL semantics the database gives them: a change
//! is matched against a subscriber's `where` and row rules without a query.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::ast::{Op, Regex, Where};
use super::regex_dialect::{Fold, case_folded, like_regex};
use crate::model::{ModelDefinition, PropertyType};

/// Whether `instance` (JSON names, stored values) satisfies `where_`, as a query would decide:
/// a comparison with NULL holds for no row, `like` is anchored, dates compare as instants.
pub fn matches(where_: &Where, model: &ModelDefinition, instance: &Map<String, Value>) -> bool {
    match where_ {
        Where::And(parts) => parts.iter().all(|p| matches(p, model, instance)),
        Where::Or(parts) => parts.iter().any(|p| matches(p, model, instance)),
        Where::Cond { property, op } => {
            let ty = model.property(property).map(|p| p.ty);
            holds(op, instance.get(property).unwrap_or(&Value::Null), ty)
        }
    }
}

fn holds(op: &Op, v: &Value, ty: Option<PropertyType>) -> bool {
    let cmp = |b: &Value| compare(v, b, ty);
    let is = |b: &Value, wanted: fn(Ordering) -> bool| cmp(b).is_some_and(wanted);
    match op {
        Op::Eq(Value::Null) => v.is_null(),
        Op::Neq(Value::Null) => !v.is_null(),
        Op::Eq(b) => is(b, Ordering::is_eq),
        Op::Neq(b) => is(b, Ordering::is_ne),
        Op::Gt(b) => is(b, Ordering::is_gt),
        Op::Gte(b) => is(b, Ordering::is_ge),
        Op::Lt(b) => is(b, Ordering::is_lt),
        Op::Lte(b) => is(b, Ordering::is_le),
        Op::Between(a, b) => is(a, Ordering::is_ge) && is(b, Ordering::is_le),
        Op::Inq(items) => items.iter().any(|b| is(b, Ordering::is_eq)),
        // NOT IN over an empty list is true even for NULL; otherwise NULL matches nothing.
        Op::Nin(items) if items.is_empty() => true,
        Op::Nin(items) => !v.is_null() && items.iter().all(|b| is(b, Ordering::is_ne)),
        Op::Like(p) => text(v).is_some_and(|s| like(&s, p, false)),
        Op::NLike(p) => text(v).is_some_and(|s| !like(&s, p, false)),
        Op::ILike(p) => text(v).is_some_and(|s| like(&s, p, true)),
        Op::NILike(p) => text(v).is_some_and(|s| !like(&s, p, true)),
        Op::Regexp(Regex { pattern, case_insensitive }) => text(v).is_some_and(|s| {
            // As the SQL has it: letters' cases spelled out, `.` matching a newline.
            let pattern = if *case_insensitive { case_folded(pattern) } else { pattern.clone() };
            regex::RegexBuilder::new(&pattern).dot_matches_new_line(true).build().is_ok_and(|re| re.is_match(&s))
        }),
    }
}

/// The text a LIKE or REGEXP sees: strings as they are, numbers and booleans as SQL prints
/// them; NULL and structures are not text.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// SQL comparison of a stored value with an operand: `None` when either is NULL or they
/// cannot be compared.
fn compare(a: &Value, b: &Value, ty: Option<PropertyType>) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) if ty == Some(PropertyType::Date) => {
            let instant = |s: &str| s.parse::<DateTime<Utc>>().ok();
            Some(instant(x)?.cmp(&instant(y)?))
        }
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        (x, y) if x == y => Some(Ordering::Equal),
        _ => None,
    }
}

/// SQL LIKE: `%` any run, `_` one character, `\` escapes; the whole text must match.
/// `ILIKE` compares lower cases, as PostgreSQL does.
fn like(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    let fold = if case_insensitive { Fold::Lower } else { Fold::None };
    regex::RegexBuilder::new(&like_regex(pattern, fold))
        .dot_matches_new_line(true)
        .build()
        .is_ok_and(|r| r.is_match(text))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::filter::{FilterLimits, parse_where};
    use crate::testing::product_definition;

    fn check(where_: Value, row: Value) -> bool {
        let def = product_definition();
        let w = parse_where(&where_, &def, &FilterLimits::default()).unwrap().unwrap();
        matches(&w, &def, row.as_object().unwrap())
    }

    #[test]
    fn operators_follow_sql() {
        let row = json!({"id": 1, "name": "Alpha Widget", "price": 10.5, "inStock": true, "releasedAt": "2020-01-01T00:00:00.000Z"});
        assert!(check(json!({"name": "Alpha Widget"}), row.clone()));
        assert!(!check(json!({"name": "alpha widget"}), row.clone()));
        assert!(check(json!({"price": {"gt": 10}}), row.clone()));
        assert!(!check(json!({"price": {"lt": 10}}), row.clone()));
        assert!(check(json!({"price": {"between": [10, 11]}}), row.clone()));
        assert!(check(json!({"id": {"inq": [3, 1]}}), row.clone()));
        assert!(!check(json!({"id": {"nin": [1]}}), row.clone()));
        assert!(check(json!({"name": {"like": "Alpha%"}}), row.clone()));
        assert!(!check(json!({"name": {"like": "Widget"}}), row.clone()));
        assert!(check(json!({"name": {"ilike": "%WIDGET"}}), row.clone()));
        assert!(check(json!({"name": {"regexp": "/^al/i"}}), row.clone()));
        assert!(check(json!({"releasedAt": {"gte": "2019-12-31T23:00:00.000Z"}}), row.clone()));
        assert!(check(json!({"or": [{"inStock": false}, {"price": 10.5}]}), row.clone()));
        assert!(!check(json!({"and": [{"inStock": true}, {"price": 1}]}), row));
    }

    #[test]
    fn null_matches_no_comparison() {
        let row = json!({"id": 2, "name": "x", "price": null});
        assert!(check(json!({"price": null}), row.clone()));
        assert!(!check(json!({"price": {"neq": 3}}), row.clone()));
        assert!(!check(json!({"price": {"nin": [3]}}), row.clone()));
        assert!(!check(json!({"price": {"gt": 0}}), row));
    }
}
