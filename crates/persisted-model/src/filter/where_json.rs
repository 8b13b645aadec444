//! A where clause written back in LoopBack's JSON form (the `where` of a change event).

use serde_json::{Map, Value, json};

use super::ast::{Op, Where};

impl Where {
    /// The clause as a client would write it: `{"id": 1}`, `{"price": {"gt": 10}}`,
    /// `{"and": [...]}`; a regular expression as its `/pattern/flags` string.
    pub fn to_json(&self) -> Value {
        match self {
            Where::And(parts) => json!({ "and": parts.iter().map(Where::to_json).collect::<Vec<_>>() }),
            Where::Or(parts) => json!({ "or": parts.iter().map(Where::to_json).collect::<Vec<_>>() }),
            Where::Cond { property, op } => {
                let condition = match op {
                    Op::Eq(v) => v.clone(),
                    Op::Neq(v) => json!({ "neq": v }),
                    Op::Gt(v) => json!({ "gt": v }),
                    Op::Gte(v) => json!({ "gte": v }),
                    Op::Lt(v) => json!({ "lt": v }),
                    Op::Lte(v) => json!({ "lte": v }),
                    Op::Between(a, b) => json!({ "between": [a, b] }),
                    Op::Inq(items) => json!({ "inq": items }),
                    Op::Nin(items) => json!({ "nin": items }),
                    Op::Like(p) => json!({ "like": p }),
                    Op::NLike(p) => json!({ "nlike": p }),
                    Op::ILike(p) => json!({ "ilike": p }),
                    Op::NILike(p) => json!({ "nilike": p }),
                    Op::Regexp(re) => {
                        json!({ "regexp": format!("/{}/{}", re.pattern, if re.case_insensitive { "i" } else { "" }) })
                    }
                };
                Value::Object(Map::from_iter([(property.clone(), condition)]))
            }
        }
    }

    /// The value an id condition names (`{"id": 1}`), when the clause is exactly that.
    pub fn equality_on(&self, property: &str) -> Option<&Value> {
        match self {
            Where::Cond { property: p, op: Op::Eq(v) } if p == property && !v.is_null() => Some(v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::filter::{FilterLimits, parse_where};
    use crate::testing::product_definition;

    #[test]
    fn round_trips_through_the_parser() {
        let def = product_definition();
        for w in [
            json!({"id": 1}),
            json!({"and": [{"price": {"gt": 10}}, {"name": {"like": "a%"}}]}),
            json!({"or": [{"id": {"inq": [1, 2]}}, {"price": {"between": [1, 2]}}]}),
            json!({"name": {"regexp": "/^wid/i"}}),
        ] {
            let parsed = parse_where(&w, &def, &FilterLimits::default()).unwrap().unwrap();
            let again = parse_where(&parsed.to_json(), &def, &FilterLimits::default()).unwrap().unwrap();
            assert_eq!(parsed, again, "{w}");
        }
        let by_id = parse_where(&json!({"id": 7}), &def, &FilterLimits::default()).unwrap().unwrap();
        assert_eq!(by_id.to_json(), json!({"id": 7}));
        assert_eq!(by_id.equality_on("id"), Some(&json!(7)));
    }
}
