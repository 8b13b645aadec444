//! Conversions between JSON values, property types, database values and rows.
//!
//! Coercion follows LoopBack's clean conversions (`"12.5"` for a number, `"false"` for a
//! boolean, a date-only string for a date) and refuses the rest instead of storing `null`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use sea_orm::{DbBackend, DbErr, QueryResult, Value as DbValue};
use serde_json::{Number, Value};

use crate::model::{FloatWidth, IntegerWidth, Property, PropertyType};
use crate::validation::Rule;

/// Largest integer a JavaScript client can hold exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Converts a client value to the property's type, or says which rule it breaks.
/// `null` stays `null`; dates come back in LoopBack's JSON form.
pub fn coerce(ty: PropertyType, value: &Value) -> Result<Value, Rule> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if has_nul(value) {
        // No back end stores it the same way (PostgreSQL refuses it in text and JSON).
        return Err(Rule::NulCharacter);
    }
    match ty {
        PropertyType::String => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(Rule::String),
        },
        PropertyType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) => match s.as_str() {
                "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                _ => Err(Rule::Boolean),
            },
            Value::Number(n) if n.as_f64() == Some(1.0) => Ok(Value::Bool(true)),
            Value::Number(n) if n.as_f64() == Some(0.0) => Ok(Value::Bool(false)),
            _ => Err(Rule::Boolean),
        },
        PropertyType::Number(_) => number_of(value).map(float_json).ok_or(Rule::Number),
        PropertyType::Integer(width) => {
            let n = number_of(value).ok_or(Rule::Number)?;
            let (min, max) = match width {
                IntegerWidth::I16 => (i16::MIN as f64, i16::MAX as f64),
                IntegerWidth::I32 => (i32::MIN as f64, i32::MAX as f64),
                IntegerWidth::I64 => (-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
            };
            if n.fract() != 0.0 || n < min || n > max {
                return Err(Rule::Integer);
            }
            Ok(Value::Number(Number::from(n as i64)))
        }
        PropertyType::Date => parse_date(value).map(|d| Value::String(format_date(&d))).ok_or(Rule::Date),
        PropertyType::Json => Ok(value.clone()),
    }
}

/// Whether a NUL character appears anywhere in the value (strings and object keys).
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// A finite number from a JSON number or a numeric string.
fn number_of(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() || t.starts_with('+') && t[1..].starts_with(['+', '-']) {
                return None;
            }
            t.parse::<f64>().ok()?
        }
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// JSON for a float the way JavaScript prints it: integral values without a fraction.
pub fn float_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// Parses a date the way clients send them: RFC 3339, date-only (midnight UTC), a local
/// date-time without offset (taken as UTC), or milliseconds since the epoch. Only years 1 to
/// 9999 are dates: every back end stores them, and LoopBack's JSON form has four digits.
pub fn parse_date(value: &Value) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    parse_any_date(value).filter(|d| (1..=9999).contains(&d.year()))
}

fn parse_any_date(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => {
            let s = s.trim();
            if let Ok(d) = DateTime::parse_from_rfc3339(s) {
                return Some(d.with_timezone(&Utc));
            }
            if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
            }
            for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
                if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
                    return Some(Utc.from_utc_datetime(&d));
                }
            }
            None
        }
        Value::Number(n) => {
            let ms = n.as_f64()?;
            if !ms.is_finite() || ms.fract() != 0.0 {
                return None;
            }
            DateTime::from_timestamp_millis(ms as i64)
        }
        _ => None,
    }
}

/// LoopBack's JSON form of a date: `2020-01-15T10:00:00.000Z`.
pub fn format_date(date: &DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A sea-orm value (an `ActiveModel`'s) as the JSON the engine writes: dates as RFC 3339
/// text (sea-query's own conversion quotes them as SQL literals), bytes as text.
pub(crate) fn from_db(value: &DbValue) -> Value {
    match value {
        DbValue::ChronoDateTimeUtc(Some(d)) => Value::String(format_date(d)),
        DbValue::ChronoDateTime(Some(d)) => Value::String(format_date(&d.and_utc())),
        DbValue::ChronoDateTimeWithTimeZone(Some(d)) => Value::String(format_date(&d.with_timezone(&Utc))),
        DbValue::ChronoDateTimeLocal(Some(d)) => Value::String(format_date(&d.with_timezone(&Utc))),
        DbValue::ChronoDate(Some(d)) => Value::String(d.format("%Y-%m-%d").to_string()),
        DbValue::Bytes(Some(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        other => sea_orm::sea_query::sea_value_to_json_value(other),
    }
}

/// The database value of a property's coerced JSON value, in the property's column.
pub fn property_to_db(property: &Property, value: &Value, backend: DbBackend) -> DbValue {
    if property.ty == PropertyType::Json && property.json_as_text {
        return DbValue::String((!value.is_null()).then(|| value.to_string()));
    }
    to_db(property.ty, value, backend)
}

/// Reads column `index` of a row as the JSON value of `property`.
pub fn property_from_row(row: &QueryResult, index: usize, property: &Property) -> Result<Value, DbErr> {
    if property.ty == PropertyType::Json && property.json_as_text {
        // Text another program wrote need not be JSON: it is then answered as the string.
        let text = row.try_get_by_index::<Option<String>>(index)?;
        return Ok(text.map_or(Value::Null, |t| serde_json::from_str(&t).unwrap_or(Value::String(t))));
    }
    from_row(row, index, property.ty)
}

/// The database value for an already coerced JSON value.
pub fn to_db(ty: PropertyType, value: &Value, backend: DbBackend) -> DbValue {
    match ty {
        // MySQL binds a UTC date-time as a TIMESTAMP, which MariaDB turns into NULL outside
        // 1970-2038 even for a DATETIME column; a plain date-time keeps every year.
        PropertyType::Date if backend == DbBackend::MySql => {
            DbValue::ChronoDateTime(parse_date(value).map(|d| d.naive_utc()))
        }
        PropertyType::String => DbValue::String(value.as_str().map(str::to_owned)),
        PropertyType::Boolean => DbValue::Bool(value.as_bool()),
        PropertyType::Integer(IntegerWidth::I16) => {
            DbValue::SmallInt(value.as_i64().and_then(|n| i16::try_from(n).ok()))
        }
        PropertyType::Integer(IntegerWidth::I32) => DbValue::Int(value.as_i64().and_then(|n| i32::try_from(n).ok())),
        PropertyType::Integer(IntegerWidth::I64) => DbValue::BigInt(value.as_i64()),
        PropertyType::Number(FloatWidth::F32) => DbValue::Float(value.as_f64().map(|n| n as f32)),
        PropertyType::Number(FloatWidth::F64) => DbValue::Double(value.as_f64()),
        PropertyType::Date => DbValue::ChronoDateTimeUtc(parse_date(value)),
        PropertyType::Json => {
            if value.is_null() {
                DbValue::Json(None)
            } else {
                DbValue::Json(Some(Box::new(value.clone())))
            }
        }
    }
}

/// Reads column `index` of a row as JSON for a property of this type.
pub fn from_row(row: &QueryResult, index: usize, ty: PropertyType) -> Result<Value, DbErr> {
    Ok(match ty {
        PropertyType::String => row.try_get_by_index::<Option<String>>(index)?.map_or(Value::Null, Value::String),
        PropertyType::Boolean => row.try_get_by_index::<Option<bool>>(index)?.map_or(Value::Null, Value::Bool),
        PropertyType::Integer(IntegerWidth::I16) => {
            row.try_get_by_index::<Option<i16>>(index)?.map_or(Value::Null, Value::from)
        }
        PropertyType::Integer(IntegerWidth::I32) => {
            row.try_get_by_index::<Option<i32>>(index)?.map_or(Value::Null, Value::from)
        }
        PropertyType::Integer(IntegerWidth::I64) => {
            row.try_get_by_index::<Option<i64>>(index)?.map_or(Value::Null, Value::from)
        }
        PropertyType::Number(FloatWidth::F32) => {
            row.try_get_by_index::<Option<f32>>(index)?.map_or(Value::Null, |n| float_json(f64::from(n)))
        }
        PropertyType::Number(FloatWidth::F64) => {
            row.try_get_by_index::<Option<f64>>(index)?.map_or(Value::Null, float_json)
        }
        PropertyType::Date => date_from_row(row, index)?.map_or(Value::Null, |d| Value::String(format_date(&d))),
        PropertyType::Json => row.try_get_by_index::<Option<Value>>(index)?.unwrap_or(Value::Null),
    })
}

/// A date column: with a time zone (`timestamptz`), or a plain date-time (sea-orm's naive
/// `DateTime`, PostgreSQL's `timestamp`, MySQL's `DATETIME`) read as UTC.
fn date_from_row(row: &QueryResult, index: usize) -> Result<Option<DateTime<Utc>>, DbErr> {
    match row.try_get_by_index::<Option<DateTime<Utc>>>(index) {
        Ok(d) => Ok(d),
        Err(utc_err) => match row.try_get_by_index::<Option<NaiveDateTime>>(index) {
            Ok(d) => Ok(d.map(|d| d.and_utc())),
            Err(_) => Err(utc_err),
        },
    }
}

/// Parses a path id strictly as the id's type; `None` means "no such instance".
/// Ids are never JSON-decoded (LoopBack did, see security rule 8).
pub fn parse_id(ty: PropertyType, raw: &str) -> Option<Value> {
    match ty {
        PropertyType::Integer(_) => {
            if raw.is_empty() || !raw.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-')) {
                return None;
            }
            let n: i64 = raw.parse().ok()?;
            coerce(ty, &Value::from(n)).ok()
        }
        // A NUL can name no stored row (and PostgreSQL refuses it).
        PropertyType::String if raw.contains('\0') => None,
        PropertyType::String => Some(Value::String(raw.to_owned())),
        _ => coerce(ty, &Value::String(raw.to_owned())).ok(),
    }
}

/// The SHA-256 of `text` in lowercase hex: what a credential (a token id) is stored and shown
/// as, so that reading it back never yields the credential.
pub fn fingerprint(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// How an id is shown in messages: strings bare, numbers as digits.
pub fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const F64: PropertyType = PropertyType::Number(FloatWidth::F64);
    const I32: PropertyType = PropertyType::Integer(IntegerWidth::I32);

    #[test]
    fn active_model_values_become_the_json_the_engine_writes() {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 8, 5, 1).unwrap();
        assert_eq!(from_db(&DbValue::ChronoDateTimeUtc(Some(at))), json!("2026-11-30T08:05:01.000Z"));
        assert_eq!(from_db(&DbValue::ChronoDateTime(Some(at.naive_utc()))), json!("2026-11-30T08:05:01.000Z"));
        assert_eq!(from_db(&DbValue::ChronoDateTimeUtc(None)), Value::Null);
        assert_eq!(from_db(&DbValue::Bytes(Some(vec![0xff, b'a']))), json!("\u{fffd}a"));
        assert_eq!(from_db(&DbValue::Int(Some(3))), json!(3));
        assert_eq!(from_db(&DbValue::String(Some("x".to_owned()))), json!("x"));
    }

    #[test]
    fn numbers_accept_clean_strings_only() {
        assert_eq!(coerce(F64, &json!("12.5")), Ok(json!(12.5)));
        assert_eq!(coerce(F64, &json!(3.0)), Ok(json!(3)));
        assert_eq!(coerce(F64, &json!("abc")), Err(Rule::Number));
        assert_eq!(coerce(F64, &json!(true)), Err(Rule::Number));
        assert_eq!(coerce(F64, &json!("")), Err(Rule::Number));
        assert_eq!(coerce(I32, &json!(1.5)), Err(Rule::Integer));
        assert_eq!(coerce(I32, &json!(3_000_000_000_i64)), Err(Rule::Integer));
        assert_eq!(coerce(I32, &json!("7")), Ok(json!(7)));
    }

    #[test]
    fn booleans_follow_loopback() {
        let b = PropertyType::Boolean;
        assert_eq!(coerce(b, &json!("false")), Ok(json!(false)));
        assert_eq!(coerce(b, &json!("1")), Ok(json!(true)));
        assert_eq!(coerce(b, &json!("maybe")), Err(Rule::Boolean));
    }

    #[test]
    fn dates_are_normalised() {
        let d = PropertyType::Date;
        assert_eq!(coerce(d, &json!("2021-06-01")), Ok(json!("2021-06-01T00:00:00.000Z")));
        assert_eq!(coerce(d, &json!("2020-01-15T10:00:00.000Z")), Ok(json!("2020-01-15T10:00:00.000Z")));
        assert_eq!(coerce(d, &json!("2020-01-15T12:00:00+02:00")), Ok(json!("2020-01-15T10:00:00.000Z")));
        assert_eq!(coerce(d, &json!(0)), Ok(json!("1970-01-01T00:00:00.000Z")));
        assert_eq!(coerce(d, &json!("not a date")), Err(Rule::Date));
        assert_eq!(coerce(d, &json!("2100-01-01")), Ok(json!("2100-01-01T00:00:00.000Z")));
        assert_eq!(coerce(d, &json!(253_402_300_799_999_i64)), Ok(json!("9999-12-31T23:59:59.999Z")));
        assert_eq!(coerce(d, &json!(253_402_300_800_000_i64)), Err(Rule::Date));
        assert_eq!(coerce(d, &json!(-62_135_596_800_001_i64)), Err(Rule::Date));
    }

    #[test]
    fn nul_characters_are_refused_everywhere() {
        assert_eq!(coerce(PropertyType::String, &json!("a\0b")), Err(Rule::NulCharacter));
        assert_eq!(coerce(PropertyType::Json, &json!({"k": ["\0"]})), Err(Rule::NulCharacter));
        assert_eq!(coerce(PropertyType::Json, &json!({"\0": 1})), Err(Rule::NulCharacter));
        assert_eq!(parse_id(PropertyType::String, "a\0"), None);
    }

    #[test]
    fn ids_parse_strictly() {
        assert_eq!(parse_id(I32, "12"), Some(json!(12)));
        assert_eq!(parse_id(I32, "abc"), None);
        assert_eq!(parse_id(I32, "1.5"), None);
        assert_eq!(parse_id(I32, "{\"neq\":null}"), None);
        assert_eq!(parse_id(PropertyType::String, "{\"neq\":null}"), Some(json!("{\"neq\":null}")));
    }
}
