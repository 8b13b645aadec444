//! The LoopBack filter language: parsing (JSON and bracket syntax), checking against a model,
//! and translation to SQL. Pure: no actix, no I/O.

mod ast;
mod error;
mod limits;
mod matches;
mod parse;
mod query_string;
mod regex_dialect;
mod to_sea_query;
mod where_json;

pub use ast::{Filter, Include, Op, Order, Regex, Where};
pub use error::FilterError;
pub use limits::FilterLimits;
pub use matches::matches;
pub use parse::{FilterUse, ModelLookup, parse_filter, parse_where};
pub use query_string::QueryParams;
pub use regex_dialect::portable_pattern;
pub use to_sea_query::{apply, apply_order, column, condition, inline_paging, like_to_glob};

use serde_json::Value;

/// Reads an object-typed argument the way strong-remoting coerces query values: a JSON
/// string that must hold an object, or a bracket-syntax object. Empty means absent.
pub fn object_argument(params: &QueryParams, name: &str, limits: &FilterLimits) -> Result<Option<Value>, FilterError> {
    match params.get(name)? {
        None => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() || t == "null" {
                return Ok(None);
            }
            match serde_json::from_str::<Value>(t) {
                Ok(v @ Value::Object(_)) => Ok(Some(v)),
                Ok(Value::Null) => Ok(None),
                // Nesting past the JSON parser's own limit is too deep, not malformed.
                Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
                    Err(FilterError::too_deep(limits.max_depth))
                }
                _ => Err(FilterError::not_an_object()),
            }
        }
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(FilterError::not_an_object()),
    }
}
