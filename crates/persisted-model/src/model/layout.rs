//! Where models live in the database: the table and column names a registry uses. An
//! application's own schema keeps the names its entities declare; a LoopBack 3 database has
//! the names LoopBack's connectors gave it.

use sea_orm::DbBackend;

use super::ModelDefinition;

/// How table and column names are chosen (`RestApiBuilder::layout`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// The names the models declare (sea-orm's `table_name` and column names). Missing tables
    /// are created unless `create_tables(false)`.
    #[default]
    AsDeclared,
    /// The names LoopBack 3's connectors use, for serving a LoopBack 3 application's database
    /// as it is: on PostgreSQL the model and property names folded to lower case (`accesstoken`,
    /// `userid`), on MySQL/MariaDB and SQLite the names as they are (`AccessToken`, `userId`).
    /// No table is created; `build()` checks that every table and column exists.
    LoopBack3,
}

impl Layout {
    /// Renames `model`'s table and columns for this layout on `backend`, unless the model's
    /// names are fixed (`ModelSettings::fixed_storage_names`: a model file that names its
    /// table or columns).
    pub fn apply(self, model: &mut ModelDefinition, backend: DbBackend) {
        if self == Layout::AsDeclared || model.settings.fixed_storage_names {
            return;
        }
        model.table = self.storage_name(&model.name, backend);
        for p in &mut model.properties {
            p.column = self.storage_name(&p.name, backend);
        }
    }

    /// The table or column name this layout gives a model or property named `name` on
    /// `backend` (LoopBack 3: folded to lower case on PostgreSQL; as declared otherwise).
    pub fn storage_name(self, name: &str, backend: DbBackend) -> String {
        match (self, backend) {
            (Layout::LoopBack3, DbBackend::Postgres) => name.to_lowercase(),
            _ => name.to_owned(),
        }
    }

    /// Whether tables are created by `build()` in this layout.
    pub fn creates_tables(self) -> bool {
        self == Layout::AsDeclared
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Property, PropertyType};

    fn token() -> ModelDefinition {
        let mut def = crate::testing::product_definition();
        def.name = "AccessToken".into();
        def.table = "access_token".into();
        def.properties = vec![Property::new("userId", "user_id", PropertyType::String)];
        def
    }

    #[test]
    fn loopback3_names_fold_on_postgres_only() {
        let mut pg = token();
        Layout::LoopBack3.apply(&mut pg, DbBackend::Postgres);
        assert_eq!((pg.table.as_str(), pg.properties[0].column.as_str()), ("accesstoken", "userid"));
        let mut my = token();
        Layout::LoopBack3.apply(&mut my, DbBackend::MySql);
        assert_eq!((my.table.as_str(), my.properties[0].column.as_str()), ("AccessToken", "userId"));
        let mut fixed = token();
        fixed.settings.fixed_storage_names = true;
        Layout::LoopBack3.apply(&mut fixed, DbBackend::Postgres);
        assert_eq!(fixed.table, "access_token");
        let mut declared = token();
        Layout::AsDeclared.apply(&mut declared, DbBackend::Postgres);
        assert_eq!(declared.properties[0].column, "user_id");
    }
}
