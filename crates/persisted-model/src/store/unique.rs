//! Unique-constraint violations as LoopBack's 422 `uniqueness`, naming the property.
//!
//! A hook's uniqueness check (User's email) cannot see a concurrent request's uncommitted row,
//! so the database's constraint is what finally decides; its error names the constraint in
//! each back end's own way.

use sea_orm::{DbErr, SqlErr};

use crate::error::Error;
use crate::model::{Instance, ModelDefinition};
use crate::validation::{Rule, ValidationError};

/// The error for a failed INSERT or UPDATE: a unique violation is the client's (422), anything
/// else stays a database error.
pub(crate) fn write_error(model: &ModelDefinition, data: &Instance, err: DbErr) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => {
            let mut v = ValidationError::new(model.name.as_str());
            let property = violated_property(model, &message);
            v.add(&property, Rule::Uniqueness, data.get(&property));
            Error::Validation(v)
        }
        _ => Error::from(err),
    }
}

/// The property a unique violation is about, read from the back end's message:
/// SQLite `UNIQUE constraint failed: table.column`, PostgreSQL `... unique constraint
/// "table_column_key"` (or `table_pkey`), MySQL `Duplicate entry '...' for key 'column'`
/// (MySQL 8: `'table.column'`).
fn violated_property(model: &ModelDefinition, message: &str) -> String {
    let id = || model.id_property().name.clone();
    let key = if let Some(rest) = message.split("UNIQUE constraint failed: ").nth(1) {
        rest.split([',', ' ']).next().unwrap_or_default().rsplit('.').next().unwrap_or_default().to_owned()
    } else if let Some(rest) = message.split("unique constraint \"").nth(1) {
        let name = rest.split('"').next().unwrap_or_default();
        let name = name.strip_prefix(&format!("{}_", model.table)).unwrap_or(name);
        if name == "pkey" || name.ends_with("_pkey") {
            return id();
        }
        name.strip_suffix("_key").unwrap_or(name).to_owned()
    } else if let Some(rest) = message.split("for key '").nth(1) {
        let name = rest.split('\'').next().unwrap_or_default();
        if name == "PRIMARY" || name.ends_with(".PRIMARY") {
            return id();
        }
        name.rsplit('.').next().unwrap_or_default().to_owned()
    } else {
        String::new()
    };
    model
        .properties
        .iter()
        .find(|p| p.column == key)
        .or_else(|| {
            model
                .properties
                .iter()
                .filter(|p| !key.is_empty() && key.contains(p.column.as_str()))
                .max_by_key(|p| p.column.len())
        })
        .map_or_else(id, |p| p.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::product_definition;

    #[test]
    fn each_back_end_names_the_column() {
        let m = product_definition();
        assert_eq!(violated_property(&m, "UNIQUE constraint failed: product.name"), "name");
        assert_eq!(
            violated_property(&m, "duplicate key value violates unique constraint \"product_name_key\""),
            "name"
        );
        assert_eq!(violated_property(&m, "duplicate key value violates unique constraint \"product_pkey\""), "id");
        assert_eq!(violated_property(&m, "Duplicate entry 'a' for key 'name'"), "name");
        assert_eq!(violated_property(&m, "Duplicate entry 'a' for key 'product.name'"), "name");
        assert_eq!(violated_property(&m, "Duplicate entry '1' for key 'PRIMARY'"), "id");
        assert_eq!(violated_property(&m, "UNIQUE constraint failed: product.in_stock"), "inStock");
    }
}
