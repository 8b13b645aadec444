//! The database's tables checked against the models at `build()`: every table and column a
//! model needs must exist with a type that can hold the property, and the models adapt to the
//! columns they find (an `integer` column holds a LoopBack `number`, JSON may sit in a text
//! column). Every problem is reported at once.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::model::{FloatWidth, IntegerWidth, ModelDefinition, ModelRegistry, Property, PropertyType};

/// The columns of every table of the connection's schema: table → column → data type (lower
/// case, as the database names it).
pub(crate) struct Tables {
    backend: DbBackend,
    tables: HashMap<String, HashMap<String, String>>,
}

impl Tables {
    /// Reads the columns of `tables` (one query on PostgreSQL and MySQL, one per table on
    /// SQLite).
    pub(crate) async fn read<C: ConnectionTrait>(db: &C, tables: &[&str]) -> Result<Self, DbErr> {
        let backend = db.get_database_backend();
        let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
        let mut add = |table: String, column: String, ty: String| {
            out.entry(table).or_default().insert(column, ty.to_lowercase());
        };
        match backend {
            DbBackend::Postgres | DbBackend::MySql => {
                let sql = if backend == DbBackend::Postgres {
                    "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = current_schema()"
                } else {
                    "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR) \
                     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                };
                for row in db.query_all_raw(Statement::from_string(backend, sql)).await? {
                    add(row.try_get_by_index(0)?, row.try_get_by_index(1)?, row.try_get_by_index(2)?);
                }
            }
            _ => {
                for table in tables {
                    let stmt = Statement::from_sql_and_values(
                        backend,
                        "SELECT name, type FROM pragma_table_info(?)",
                        [(*table).into()],
                    );
                    for row in db.query_all_raw(stmt).await? {
                        add((*table).to_owned(), row.try_get_by_index(0)?, row.try_get_by_index(1)?);
                    }
                }
            }
        }
        Ok(Self { backend, tables: out })
    }

    /// Checks `model` against its table and adapts its properties to the columns found;
    /// problems are added to `out`, one line each.
    pub(crate) fn fit(&self, model: &mut ModelDefinition, out: &mut Vec<String>) {
        let Some(columns) = self.tables.get(&model.table) else {
            out.push(format!("{}: the table \"{}\" does not exist", model.name, model.table));
            return;
        };
        for p in &mut model.properties {
            let at = format!("{}.{}", model.name, p.name);
            match columns.get(&p.column) {
                None => out.push(format!("{at}: the table \"{}\" has no column \"{}\"", model.table, p.column)),
                // SQLite keeps any value in any column: its declared types say little.
                Some(_) if self.backend == DbBackend::Sqlite => {}
                Some(ty) => {
                    if let Err(why) = fit_property(p, ty) {
                        out.push(format!("{at}: the column \"{}\" is {ty}, {why}", p.column));
                    }
                }
            }
        }
    }
}

fn is_text(ty: &str) -> bool {
    matches!(
        ty,
        "text" | "character varying" | "character" | "varchar" | "char" | "tinytext" | "mediumtext" | "longtext"
    )
}

fn integer_width(ty: &str) -> Option<IntegerWidth> {
    Some(match ty {
        "smallint" | "tinyint" => IntegerWidth::I16,
        "integer" | "int" | "mediumint" => IntegerWidth::I32,
        "bigint" => IntegerWidth::I64,
        _ => return None,
    })
}

/// Whether a column of type `ty` holds the property, adapting the property to the column.
fn fit_property(p: &mut Property, ty: &str) -> Result<(), &'static str> {
    match p.ty {
        PropertyType::String if is_text(ty) || ty == "enum" => Ok(()),
        PropertyType::String => Err("which cannot hold a string"),
        PropertyType::Boolean if matches!(ty, "boolean" | "tinyint" | "bit") => Ok(()),
        PropertyType::Boolean => Err("which cannot hold a boolean"),
        PropertyType::Integer(_) | PropertyType::Number(_) if integer_width(ty).is_some() => {
            // A LoopBack `number` in an integer column (its ids and foreign keys) is an
            // integer: a fraction is refused instead of being cut off.
            p.ty = PropertyType::Integer(integer_width(ty).unwrap_or(IntegerWidth::I64));
            Ok(())
        }
        PropertyType::Integer(_) => Err("which cannot hold an integer"),
        PropertyType::Number(_) => match ty {
            "double precision" | "double" => {
                p.ty = PropertyType::Number(FloatWidth::F64);
                Ok(())
            }
            "real" | "float" => {
                p.ty = PropertyType::Number(FloatWidth::F32);
                Ok(())
            }
            "numeric" | "decimal" => Err("which is not supported yet (use double precision)"),
            _ => Err("which cannot hold a number"),
        },
        PropertyType::Date if ty.starts_with("timestamp") || ty == "datetime" => Ok(()),
        PropertyType::Date => Err("which cannot hold a date-time"),
        PropertyType::Json if matches!(ty, "json" | "jsonb") => {
            p.json_as_text = false;
            Ok(())
        }
        PropertyType::Json if is_text(ty) => {
            p.json_as_text = true;
            Ok(())
        }
        PropertyType::Json => Err("which cannot hold JSON"),
    }
}

/// Creates the tables of the models that have none (and, on MySQL, brings the columns of
/// tables made by an earlier version to today's types).
pub(crate) async fn create_tables(db: &DatabaseConnection, registry: &ModelRegistry) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for model in registry.iter() {
        if let Some(stmt) = model.create_table_statement(backend) {
            db.execute(&stmt).await?;
            if backend == DbBackend::MySql {
                mysql_columns(db, model.definition()).await?;
            }
        }
    }
    Ok(())
}

/// Checks every model against its table and adapts the models to the columns found; every
/// problem is reported at once.
pub(crate) async fn fit_tables(db: &DatabaseConnection, registry: &mut ModelRegistry) -> crate::Result<()> {
    let names: Vec<String> = registry.iter().map(|m| m.definition().table.clone()).collect();
    let tables = Tables::read(db, &names.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    let mut problems = Vec::new();
    registry.map(|m| m.map_definition(|d| tables.fit(d, &mut problems)));
    if problems.is_empty() { Ok(()) } else { Err(crate::Error::Configuration(problems)) }
}

/// Brings a MySQL table made by an earlier version to today's column types. MySQL's TIMESTAMP
/// keeps whole seconds, but LoopBack dates have milliseconds (and ordering by `created` must
/// see them): date columns become `DATETIME(3)`, which also avoids TIMESTAMP's time-zone
/// conversion and its year-2038 limit. Strings without a declared length were `VARCHAR(255)`:
/// they become `TEXT`, so a longer value is stored rather than refused by the database.
pub(crate) async fn mysql_columns(
    db: &sea_orm::DatabaseConnection,
    model: &crate::model::ModelDefinition,
) -> Result<(), DbErr> {
    use crate::model::PropertyType;
    for p in &model.properties {
        let wanted = match p.ty {
            PropertyType::Date => ("datetime", Some(3), "DATETIME(3)"),
            PropertyType::String if p.max_length.is_none() => ("text", None, "TEXT"),
            _ => continue,
        };
        let current = db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::MySql,
                "SELECT DATA_TYPE, DATETIME_PRECISION FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
                [model.table.clone().into(), p.column.clone().into()],
            ))
            .await?;
        let done = current.is_none_or(|row| {
            row.try_get_by_index::<String>(0).is_ok_and(|t| t.eq_ignore_ascii_case(wanted.0))
                && row.try_get_by_index::<Option<i64>>(1).ok().flatten() == wanted.1
        });
        if done {
            continue;
        }
        let null = if p.required { "NOT NULL" } else { "NULL" };
        let sql = format!("ALTER TABLE `{}` MODIFY `{}` {} {null}", model.table, p.column, wanted.2);
        // A large table takes longer than a request's statement may: on MariaDB the change
        // runs without the time limit (MySQL's limits SELECTs only, and knows no such prefix).
        if db.execute_unprepared(&format!("SET STATEMENT max_statement_time = 0 FOR {sql}")).await.is_err() {
            db.execute_unprepared(&sql).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(ty: PropertyType) -> Property {
        Property::new("p", "p", ty)
    }

    #[test]
    fn properties_adapt_to_the_columns_they_find() {
        let mut scopes = prop(PropertyType::Json);
        assert_eq!(fit_property(&mut scopes, "text"), Ok(()));
        assert!(scopes.json_as_text, "LoopBack keeps JSON in text columns");
        let mut ttl = prop(PropertyType::Integer(IntegerWidth::I64));
        assert_eq!(fit_property(&mut ttl, "integer"), Ok(()));
        assert_eq!(ttl.ty, PropertyType::Integer(IntegerWidth::I32));
        let mut category_id = prop(PropertyType::Number(FloatWidth::F64));
        assert_eq!(fit_property(&mut category_id, "integer"), Ok(()));
        assert_eq!(category_id.ty, PropertyType::Integer(IntegerWidth::I32));
        let mut price = prop(PropertyType::Number(FloatWidth::F64));
        assert_eq!(fit_property(&mut price, "real"), Ok(()));
        assert_eq!(price.ty, PropertyType::Number(FloatWidth::F32));
        assert!(fit_property(&mut prop(PropertyType::Date), "text").is_err());
        assert!(fit_property(&mut prop(PropertyType::String), "integer").is_err());
        assert!(fit_property(&mut prop(PropertyType::Number(FloatWidth::F64)), "numeric").is_err());
        assert_eq!(fit_property(&mut prop(PropertyType::Boolean), "tinyint"), Ok(()));
    }
}
