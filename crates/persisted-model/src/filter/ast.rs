//! The typed form of a LoopBack filter, checked against a model definition.

use serde_json::Value;

/// `{where, fields, order, limit, skip, include}` after parsing and checking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Conditions on the rows.
    pub where_: Option<Where>,
    /// The properties to return; `None` means all visible ones.
    pub fields: Option<Vec<String>>,
    /// Sort keys; the id is appended so that paging is stable.
    pub order: Vec<Order>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Skip this many rows first.
    pub skip: Option<u64>,
    /// Related models to load with each row.
    pub include: Vec<Include>,
}

/// A where clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Where {
    /// Every clause holds.
    And(Vec<Where>),
    /// At least one clause holds.
    Or(Vec<Where>),
    /// A condition on one property (its JSON name).
    Cond {
        /// The property's JSON name.
        property: String,
        /// The operator with its coerced operands.
        op: Op,
    },
}

impl Where {
    /// The conjunction of several clauses, flattened when there is just one.
    pub fn all(mut clauses: Vec<Where>) -> Where {
        if clauses.len() == 1 { clauses.pop().unwrap() } else { Where::And(clauses) }
    }

    /// An equality condition.
    pub fn eq(property: impl Into<String>, value: Value) -> Where {
        Where::Cond { property: property.into(), op: Op::Eq(value) }
    }
}

/// The where operators. Operands are already coerced to the property's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Equal; `null` means IS NULL.
    Eq(Value),
    /// Not equal; `null` means IS NOT NULL.
    Neq(Value),
    /// Greater than.
    Gt(Value),
    /// Greater than or equal.
    Gte(Value),
    /// Less than.
    Lt(Value),
    /// Less than or equal.
    Lte(Value),
    /// Inclusive range.
    Between(Value, Value),
    /// One of the values (an empty list matches nothing).
    Inq(Vec<Value>),
    /// None of the values (an empty list matches everything).
    Nin(Vec<Value>),
    /// SQL LIKE, case-sensitive.
    Like(String),
    /// SQL NOT LIKE, case-sensitive.
    NLike(String),
    /// SQL LIKE, case-insensitive.
    ILike(String),
    /// SQL NOT LIKE, case-insensitive.
    NILike(String),
    /// A regular expression search.
    Regexp(Regex),
}

/// A regular expression with LoopBack's flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Regex {
    /// The pattern, in the portable dialect's canonical form ([`portable_pattern`](super::portable_pattern)).
    pub pattern: String,
    /// Flag `i`.
    pub case_insensitive: bool,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The property's JSON name.
    pub property: String,
    /// Descending instead of ascending.
    pub descending: bool,
}

/// A relation to load, with an optional scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    /// The relation name.
    pub relation: String,
    /// The filter applied to the related rows.
    pub scope: Filter,
}
