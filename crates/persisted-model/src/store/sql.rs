//! Row-level SQL over any sea-orm connection, driven by a [`ModelDefinition`]: one statement per
//! call, every value bound.

use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde_json::Value;

use crate::filter::{self, Filter, FilterError, Where};
use crate::model::{Instance, ModelDefinition};
use crate::value::{from_row, property_from_row, property_to_db};

fn table(model: &ModelDefinition) -> Alias {
    Alias::new(model.table.as_str())
}

/// `SELECT` every column of the model with the filter's where, order, limit and skip, built
/// for `backend`.
pub fn select_statement(model: &ModelDefinition, filter: &Filter, backend: DbBackend) -> Result<Statement, DbErr> {
    let mut select = Query::select();
    for p in &model.properties {
        select.expr(filter::column(model, p));
    }
    select.from(table(model));
    filter::apply(&mut select, filter, model, backend).map_err(server_code)?;
    let mut statement = backend.build(&select);
    if backend == DbBackend::Sqlite {
        statement.sql.push_str(&filter::inline_paging(filter));
    }
    Ok(statement)
}

/// A where or order that names an unknown property: parsed filters cannot, so server code
/// (a hook, a custom method) built it. A server error, never a panic.
fn server_code(err: FilterError) -> DbErr {
    DbErr::Custom(format!("a where or order built by server code is invalid: {err}"))
}

/// The rows matching the filter, as JSON objects with every property (hidden ones too).
pub async fn find<C: ConnectionTrait>(
    db: &C,
    model: &ModelDefinition,
    filter: &Filter,
) -> Result<Vec<Instance>, DbErr> {
    let backend = db.get_database_backend();
    let select = select_statement(model, filter, backend)?;
    let decode = |row: &sea_orm::QueryResult| {
        // Room for the included relations too: a map that grows rehashes every key.
        let mut out = Instance::with_capacity(model.properties.len() + filter.include.len());
        for (i, p) in model.properties.iter().enumerate() {
            out.insert(p.name.clone(), property_from_row(row, i, p)?);
        }
        Ok(out)
    };
    if filter.limit == Some(1) {
        // findById, findOne, token lookups: the driver stops at the first row instead of
        // streaming the end of the result too (on SQLite one message less between threads).
        return db.query_one_raw(select).await?.as_ref().map(decode).into_iter().collect();
    }
    db.query_all_raw(select).await?.iter().map(decode).collect()
}

/// The row with this id.
pub async fn find_by_id<C: ConnectionTrait>(
    db: &C,
    model: &ModelDefinition,
    id: &Value,
) -> Result<Option<Instance>, DbErr> {
    let filter = Filter { where_: Some(id_where(model, id)), limit: Some(1), ..Filter::default() };
    Ok(find(db, model, &filter).await?.into_iter().next())
}

/// `where id = ?`.
pub fn id_where(model: &ModelDefinition, id: &Value) -> Where {
    Where::eq(model.id_property().name.clone(), id.clone())
}

/// The number of rows matching `where_`.
pub async fn count<C: ConnectionTrait>(db: &C, model: &ModelDefinition, where_: Option<&Where>) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let mut select = Query::select();
    select.expr(Expr::cust("COUNT(*)")).from(table(model));
    if let Some(w) = where_ {
        select.cond_where(filter::condition(w, model, backend).map_err(server_code)?);
    }
    let row = db.query_one(&select).await?;
    let n: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Locks the row with this id until the transaction ends (`SELECT ... FOR UPDATE`), so that
/// writes that read it first are serialized. SQLite's write transactions are serialized
/// already (they begin IMMEDIATE), and it has no row locks.
pub async fn lock_by_id<C: ConnectionTrait>(db: &C, model: &ModelDefinition, id: &Value) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    if backend == DbBackend::Sqlite {
        return exists(db, model, id).await;
    }
    let mut select = Query::select();
    select
        .expr(filter::column(model, model.id_property()))
        .from(table(model))
        .cond_where(filter::condition(&id_where(model, id), model, backend).map_err(server_code)?)
        .lock(sea_orm::sea_query::LockType::Update);
    Ok(db.query_one(&select).await?.is_some())
}

/// Whether a row with this id exists.
pub async fn exists<C: ConnectionTrait>(db: &C, model: &ModelDefinition, id: &Value) -> Result<bool, DbErr> {
    Ok(count(db, model, Some(&id_where(model, id))).await? > 0)
}

/// `INSERT` of one row of coerced data (generated ids left to the database).
fn insert_statement(
    model: &ModelDefinition,
    data: &Instance,
    backend: DbBackend,
) -> Result<sea_orm::sea_query::InsertStatement, DbErr> {
    let mut insert = Query::insert();
    insert.into_table(table(model));
    let mut columns = Vec::new();
    let mut values = Vec::new();
    for p in &model.properties {
        if let Some(v) = data.get(&p.name) {
            if p.generated && v.is_null() {
                continue;
            }
            columns.push(Alias::new(p.column.as_str()));
            values.push(Expr::val(property_to_db(p, v, backend)));
        }
    }
    if columns.is_empty() {
        // Every column defaulted: `INSERT ... DEFAULT VALUES` on every back end we support.
        insert.or_default_values();
    } else {
        insert.columns(columns);
        insert.values(values).map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    Ok(insert)
}

/// Inserts one row of coerced data and returns its id.
pub async fn insert<C: ConnectionTrait>(db: &C, model: &ModelDefinition, data: &Instance) -> Result<Value, DbErr> {
    let backend = db.get_database_backend();
    let id = model.id_property();
    let mut insert = insert_statement(model, data, backend)?;
    if let Some(v) = data.get(&id.name).filter(|v| !v.is_null()) {
        db.execute(&insert).await?;
        return Ok(v.clone());
    }
    match backend {
        DbBackend::MySql => {
            let result = db.execute(&insert).await?;
            Ok(Value::from(result.last_insert_id()))
        }
        _ => {
            insert.returning_col(Alias::new(id.column.as_str()));
            let row = db.query_one(&insert).await?.ok_or_else(|| DbErr::Custom("INSERT returned no row".into()))?;
            from_row(&row, 0, id.ty)
        }
    }
}

/// Inserts one row of coerced data and returns it as stored: from the `INSERT ... RETURNING`
/// itself on PostgreSQL and SQLite (one statement), by its id on MySQL, which has no
/// `RETURNING`.
pub async fn insert_row<C: ConnectionTrait>(
    db: &C,
    model: &ModelDefinition,
    data: &Instance,
) -> Result<Instance, DbErr> {
    let backend = db.get_database_backend();
    if backend == DbBackend::MySql {
        let id = insert(db, model, data).await?;
        return find_by_id(db, model, &id).await?.ok_or_else(|| DbErr::Custom("inserted row not found".into()));
    }
    let mut insert = insert_statement(model, data, backend)?;
    insert.returning(Query::returning().columns(model.properties.iter().map(|p| Alias::new(p.column.as_str()))));
    let row = db.query_one(&insert).await?.ok_or_else(|| DbErr::Custom("INSERT returned no row".into()))?;
    let mut out = Instance::with_capacity(model.properties.len());
    for (i, p) in model.properties.iter().enumerate() {
        out.insert(p.name.clone(), property_from_row(&row, i, p)?);
    }
    Ok(out)
}

/// Sets the given properties on every row matching `where_`; returns the number of rows.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    model: &ModelDefinition,
    where_: &Where,
    data: &Instance,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let mut update = Query::update();
    update.table(table(model));
    let mut any = false;
    for p in &model.properties {
        if let Some(v) = data.get(&p.name) {
            update.value(Alias::new(p.column.as_str()), Expr::val(property_to_db(p, v, backend)));
            any = true;
        }
    }
    if !any {
        return count(db, model, Some(where_)).await;
    }
    update.cond_where(filter::condition(where_, model, backend).map_err(server_code)?);
    Ok(db.execute(&update).await?.rows_affected())
}

/// Deletes every row matching `where_`; returns the number of rows.
pub async fn delete<C: ConnectionTrait>(db: &C, model: &ModelDefinition, where_: &Where) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let mut delete = Query::delete();
    delete.from_table(table(model));
    delete.cond_where(filter::condition(where_, model, backend).map_err(server_code)?);
    Ok(db.execute(&delete).await?.rows_affected())
}
