//! LoopBack's `ValidationError` (422): which properties failed, with codes and messages.

use std::fmt;

use serde_json::{Map, Value, json};

/// One failed rule on one property.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The property's JSON name.
    pub property: String,
    /// LoopBack's code (`presence`, `absence`, `date`, ...).
    pub code: &'static str,
    /// LoopBack's message (`can't be blank`, ...).
    pub message: String,
    /// How the offending value is shown in the summary (`undefined`, `null`, `"abc"`).
    pub shown_value: String,
}

/// A model instance that is not valid; renders LoopBack's 422 body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ValidationError {
    /// The model name (`details.context`).
    pub model: String,
    /// Every failed rule, in property order.
    pub violations: Vec<Violation>,
}

/// Well-known rules with LoopBack's codes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `can't be blank`.
    Presence,
    /// `can't be set`.
    Absence,
    /// `is not defined in the model`.
    UnknownProperty,
    /// `is not a valid date`.
    Date,
    /// `is not a number`.
    Number,
    /// `is not an integer`.
    Integer,
    /// `is not a boolean`.
    Boolean,
    /// `is not a string`.
    String,
    /// `is not unique`.
    Uniqueness,
    /// `contains a NUL character` (code `format`).
    NulCharacter,
    /// `is too long` (a declared maximum length).
    TooLong,
}

impl Rule {
    /// LoopBack's code for the rule.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Presence => "presence",
            Rule::Absence => "absence",
            Rule::UnknownProperty => "unknown-property",
            Rule::Date => "date",
            Rule::Number | Rule::Integer => "numericality",
            Rule::Boolean | Rule::String => "type",
            Rule::Uniqueness => "uniqueness",
            Rule::NulCharacter => "format",
            Rule::TooLong => "length.max",
        }
    }

    /// LoopBack's default message for the rule.
    pub fn message(self) -> &'static str {
        match self {
            Rule::Presence => "can't be blank",
            Rule::Absence => "can't be set",
            Rule::UnknownProperty => "is not defined in the model",
            Rule::Date => "is not a valid date",
            Rule::Number => "is not a number",
            Rule::Integer => "is not an integer",
            Rule::Boolean => "is not a boolean",
            Rule::String => "is not a string",
            Rule::Uniqueness => "is not unique",
            Rule::NulCharacter => "contains a NUL character",
            Rule::TooLong => "is too long",
        }
    }
}

impl ValidationError {
    /// An empty error for the model; add violations with [`ValidationError::add`].
    pub fn new(model: impl Into<String>) -> Self {
        Self { model: model.into(), violations: Vec::new() }
    }

    /// Records a failed rule; `value` is the offending value, `None` when it was absent.
    pub fn add(&mut self, property: &str, rule: Rule, value: Option<&Value>) {
        match (rule, value) {
            (Rule::Date, Some(_)) => self.add_custom(property, rule.code(), rule.message(), "Invalid Date".to_owned()),
            _ => self.add_message(property, rule.code(), rule.message(), value),
        }
    }

    /// Records a failed rule with its own code and message; the value is shown as [`add`](Self::add)
    /// shows it (`undefined` when absent, shortened JSON otherwise).
    pub fn add_message(
        &mut self,
        property: &str,
        code: &'static str,
        message: impl Into<String>,
        value: Option<&Value>,
    ) {
        let shown = value.map_or_else(|| "undefined".to_owned(), |v| truncate(&v.to_string()));
        self.add_custom(property, code, message, shown);
    }

    /// Records a failed custom rule.
    pub fn add_custom(&mut self, property: &str, code: &'static str, message: impl Into<String>, shown_value: String) {
        self.violations.push(Violation { property: property.to_owned(), code, message: message.into(), shown_value });
    }

    /// Whether nothing failed.
    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    /// `Err(self)` when something failed.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// LoopBack's `details`: `{context, codes: {prop: [..]}, messages: {prop: [..]}}`.
    pub fn details(&self) -> Value {
        let mut codes = Map::new();
        let mut messages = Map::new();
        for v in &self.violations {
            push_to(&mut codes, &v.property, json!(v.code));
            push_to(&mut messages, &v.property, json!(v.message));
        }
        json!({ "context": self.model, "codes": codes, "messages": messages })
    }
}

fn push_to(map: &mut Map<String, Value>, key: &str, item: Value) {
    match map.get_mut(key) {
        Some(Value::Array(items)) => items.push(item),
        _ => {
            map.insert(key.to_owned(), Value::Array(vec![item]));
        }
    }
}

/// LoopBack shortens long values in the summary.
fn truncate(text: &str) -> String {
    const MAX: usize = 32;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let head: String = text.chars().take(MAX - 3).collect();
    format!("{head}...")
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "The `{}` instance is not valid. Details: ", self.model)?;
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{}` {} (value: {})", v.property, v.message, v.shown_value)?;
        }
        f.write_str(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_loopback_message_and_details() {
        let mut err = ValidationError::new("Product");
        err.add("name", Rule::Presence, None);
        err.add("id", Rule::Absence, Some(&json!(100)));
        assert_eq!(
            err.to_string(),
            "The `Product` instance is not valid. Details: `name` can't be blank (value: undefined); `id` can't be set (value: 100)."
        );
        assert_eq!(
            err.details(),
            json!({"context":"Product","codes":{"name":["presence"],"id":["absence"]},
                   "messages":{"name":["can't be blank"],"id":["can't be set"]}})
        );
    }

    #[test]
    fn long_values_are_shortened() {
        let mut err = ValidationError::new("M");
        err.add("p", Rule::Number, Some(&json!("x".repeat(50))));
        assert!(err.violations[0].shown_value.ends_with("..."));
        assert_eq!(err.violations[0].shown_value.chars().count(), 32);
    }
}
