//! Checked filter → sea-query conditions and clauses, with every value bound as a parameter.
//!
//! `like` is case-sensitive and `ilike` case-insensitive on every back end, and `regexp` is a
//! real regular expression search: SQLite gets GLOB and a registered REGEXP function, MySQL a
//! binary comparison, PostgreSQL its native operators.

use sea_orm::DbBackend;
use sea_orm::sea_query::{Alias, Cond, Condition, Expr, ExprTrait, Func, LikeExpr, Order as SqlOrder, SelectStatement};
use serde_json::Value;

use super::ast::{Filter, Op, Where};
use super::error::FilterError;
use super::regex_dialect::{Fold, case_folded, like_regex};
use crate::model::{ModelDefinition, Property, PropertyType};
use crate::value::property_to_db;

/// The column of a property, qualified by the model's table.
pub fn column(model: &ModelDefinition, property: &Property) -> Expr {
    Expr::col((Alias::new(model.table.as_str()), Alias::new(property.column.as_str())))
}

/// The property a where or order names. Parsed filters name only known properties, but
/// server code can build a `Where` by hand: a wrong name is an error, never a panic.
fn known<'m>(model: &'m ModelDefinition, name: &str) -> Result<&'m Property, FilterError> {
    model.property(name).ok_or_else(|| {
        FilterError::new(format!("{} has no property \"{name}\"", model.name)).with_code("INVALID_PROPERTY")
    })
}

/// The SQL condition for a where clause.
pub fn condition(where_: &Where, model: &ModelDefinition, backend: DbBackend) -> Result<Condition, FilterError> {
    Ok(match where_ {
        Where::And(parts) => {
            parts.iter().try_fold(Cond::all(), |c, w| Ok::<_, FilterError>(c.add(condition(w, model, backend)?)))?
        }
        Where::Or(parts) => {
            parts.iter().try_fold(Cond::any(), |c, w| Ok::<_, FilterError>(c.add(condition(w, model, backend)?)))?
        }
        Where::Cond { property, op } => Cond::all().add(op_expr(model, known(model, property)?, op, backend)),
    })
}

fn op_expr(model: &ModelDefinition, prop: &Property, op: &Op, backend: DbBackend) -> Expr {
    let col = column(model, prop);
    let val = |v: &Value| Expr::val(property_to_db(prop, v, backend));
    match op {
        Op::Eq(Value::Null) => col.is_null(),
        Op::Eq(v) => col.eq(val(v)),
        Op::Neq(Value::Null) => col.is_not_null(),
        // LoopBack's SQL connectors: `neq` does not match NULL rows either.
        Op::Neq(v) => col.ne(val(v)),
        Op::Gt(v) => sortable(col, prop, backend).gt(val(v)),
        Op::Gte(v) => sortable(col, prop, backend).gte(val(v)),
        Op::Lt(v) => sortable(col, prop, backend).lt(val(v)),
        Op::Lte(v) => sortable(col, prop, backend).lte(val(v)),
        Op::Between(a, b) => sortable(col, prop, backend).between(val(a), val(b)),
        Op::Inq(items) if items.is_empty() => Expr::cust("1 = 0"),
        Op::Nin(items) if items.is_empty() => Expr::cust("1 = 1"),
        // MariaDB matches only the first temporal parameter of `IN (?, ?)` on a TIMESTAMP
        // column (found by the property test): spell the list out there.
        Op::Inq(items) if backend == DbBackend::MySql && prop.ty == PropertyType::Date => {
            Expr::expr(items.iter().fold(Cond::any(), |c, v| c.add(col.clone().eq(val(v)))))
        }
        Op::Nin(items) if backend == DbBackend::MySql && prop.ty == PropertyType::Date => {
            Expr::expr(items.iter().fold(Cond::all(), |c, v| c.add(col.clone().ne(val(v)))))
        }
        Op::Inq(items) => col.is_in(items.iter().map(val)),
        Op::Nin(items) => col.is_not_in(items.iter().map(val)),
        Op::Like(p) => like(col, prop, p, backend),
        Op::NLike(p) => like(col, prop, p, backend).not(),
        Op::ILike(p) => ilike(col, prop, p, backend),
        Op::NILike(p) => ilike(col, prop, p, backend).not(),
        Op::Regexp(re) => {
            let col = as_text(col, prop, backend);
            // Case-insensitive patterns spell their letters' cases out: every back end then
            // matches case-sensitively, alike (each one's own folding differs).
            let pattern = if re.case_insensitive { case_folded(&re.pattern) } else { re.pattern.clone() };
            match backend {
                DbBackend::Postgres => Expr::cust_with_exprs("$1 ~ $2", [col, Expr::val(pattern)]),
                // `.` matches a newline in PostgreSQL's AREs; `s` makes the others agree.
                _ => Expr::cust_with_exprs("? REGEXP ?", [col, Expr::val(format!("(?s-i){pattern}"))]),
            }
        }
    }
}

/// Strings compare by code point on every back end, as LoopBack's memory connector does:
/// PostgreSQL would otherwise use the database locale (MySQL tables we create use
/// `utf8mb4_bin`; SQLite compares bytes already).
fn sortable(col: Expr, prop: &Property, backend: DbBackend) -> Expr {
    if backend == DbBackend::Postgres && prop.ty == PropertyType::String {
        Expr::cust_with_exprs("$1 COLLATE \"C\"", [col])
    } else {
        col
    }
}

fn as_text(col: Expr, prop: &Property, backend: DbBackend) -> Expr {
    if prop.ty == PropertyType::String {
        return col;
    }
    let ty = if backend == DbBackend::MySql { "CHAR" } else { "TEXT" };
    Func::cast_as(col, Alias::new(ty)).into()
}

fn like(col: Expr, prop: &Property, pattern: &str, backend: DbBackend) -> Expr {
    let col = as_text(col, prop, backend);
    match backend {
        // SQLite's LIKE ignores ASCII case; GLOB is case-sensitive.
        DbBackend::Sqlite => Expr::cust_with_exprs("? GLOB ?", [col, Expr::val(like_to_glob(pattern))]),
        // MySQL's LIKE follows the collation; compare bytes instead.
        DbBackend::MySql => {
            Expr::cust_with_exprs("CAST(? AS BINARY) LIKE CAST(? AS BINARY)", [col, Expr::val(pattern.to_owned())])
        }
        _ => col.like(LikeExpr::new(pattern).escape('\\')),
    }
}

fn ilike(col: Expr, prop: &Property, pattern: &str, backend: DbBackend) -> Expr {
    let col = as_text(col, prop, backend);
    match backend {
        DbBackend::Postgres => Expr::cust_with_exprs("$1 ILIKE $2", [col, Expr::val(pattern.to_owned())]),
        // SQLite's LOWER and LIKE fold ASCII only: the registered REGEXP (Rust's regex) gets
        // every letter spelled out as the letters with the same lower case, which is how
        // PostgreSQL's ILIKE and MySQL's LOWER compare (`ÉCOLE` finds `École`; `σ` finds `Σ`,
        // not `ς`).
        DbBackend::Sqlite => Expr::cust_with_exprs("? REGEXP ?", [col, Expr::val(like_to_regex(pattern))]),
        // Each character lowered alone, as SQL's LOWER does (`str::to_lowercase` would make a
        // final `Σ` a `ς`).
        _ => Expr::expr(Func::lower(col))
            .like(LikeExpr::new(pattern.chars().flat_map(char::to_lowercase).collect::<String>())),
    }
}

/// Translates a LIKE pattern into an anchored regular expression that matches as `ILIKE`
/// does: letters spelled out as the letters with the same lower case.
pub fn like_to_regex(pattern: &str) -> String {
    format!("(?s-i){}", like_regex(pattern, Fold::Lower))
}

/// Translates a LIKE pattern (`%`, `_`, `\` escapes) into the equivalent GLOB pattern.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '\\' => match chars.next() {
                Some(next) => push_glob_literal(&mut out, next),
                None => push_glob_literal(&mut out, '\\'),
            },
            other => push_glob_literal(&mut out, other),
        }
    }
    out
}

fn push_glob_literal(out: &mut String, c: char) {
    match c {
        '*' | '?' | '[' => {
            out.push('[');
            out.push(c);
            out.push(']');
        }
        _ => out.push(c),
    }
}

/// Adds WHERE, ORDER BY (with the id last, so paging is stable), and LIMIT and OFFSET as
/// bound values, except on SQLite: there the built SQL gets [`inline_paging`] appended.
pub fn apply(
    select: &mut SelectStatement,
    filter: &Filter,
    model: &ModelDefinition,
    backend: DbBackend,
) -> Result<(), FilterError> {
    if let Some(w) = &filter.where_ {
        select.cond_where(condition(w, model, backend)?);
    }
    apply_order(select, filter, model, backend)?;
    if backend == DbBackend::Sqlite {
        return Ok(());
    }
    let (limit, skip) = paging(filter, backend);
    if let Some(limit) = limit {
        select.limit(limit);
    }
    if let Some(skip) = skip {
        select.offset(skip);
    }
    Ok(())
}

/// The filter's LIMIT and OFFSET as SQL text with the numbers written in, for SQLite, to
/// append to the SELECT that [`apply`] built (empty without paging).
///
/// SQLite reads a bound LIMIT while it plans a statement and then marks the prepared statement
/// to be planned again whenever that parameter is bound, which is at every execution: with
/// `LIMIT ?` every find was parsed and planned anew (an eighth of the instructions of a page of
/// 50 rows). The numbers are integers, so writing them in is safe, and the statement cache
/// keeps one statement per page size.
pub fn inline_paging(filter: &Filter) -> String {
    match paging(filter, DbBackend::Sqlite) {
        (Some(limit), Some(skip)) => format!(" LIMIT {limit} OFFSET {skip}"),
        (Some(limit), None) => format!(" LIMIT {limit}"),
        // `paging` gives an OFFSET only with a LIMIT on SQLite.
        (None, _) => String::new(),
    }
}

fn paging(filter: &Filter, backend: DbBackend) -> (Option<u64>, Option<u64>) {
    let limit = match (filter.limit, filter.skip) {
        // SQLite and MySQL accept OFFSET only after a LIMIT.
        (None, Some(_)) if backend != DbBackend::Postgres => Some(i64::MAX as u64),
        (limit, _) => limit,
    };
    (limit, filter.skip)
}

/// ORDER BY the filter's keys, then the id.
pub fn apply_order(
    select: &mut SelectStatement,
    filter: &Filter,
    model: &ModelDefinition,
    backend: DbBackend,
) -> Result<(), FilterError> {
    let id = model.id_property();
    for o in &filter.order {
        let prop = known(model, &o.property)?;
        let key = sortable(column(model, prop), prop, backend);
        select.order_by_expr(key, if o.descending { SqlOrder::Desc } else { SqlOrder::Asc });
    }
    if !filter.order.iter().any(|o| o.property == id.name) {
        select.order_by_expr(column(model, id), SqlOrder::Asc);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{FilterLimits, FilterUse, parse_filter};
    use crate::testing::product_definition;
    use sea_orm::sea_query::{MysqlQueryBuilder, PostgresQueryBuilder, Query, SqliteQueryBuilder};
    use serde_json::json;

    fn sql(filter: Value) -> [String; 3] {
        let model = product_definition();
        let f = parse_filter(&filter, &model, &(), &FilterLimits::loopback(), FilterUse::Full).unwrap();
        let build = |backend| {
            let mut q = Query::select();
            q.column(Alias::new("id")).from(Alias::new(model.table.as_str()));
            apply(&mut q, &f, &model, backend).unwrap();
            q
        };
        [
            build(DbBackend::Sqlite).to_string(SqliteQueryBuilder) + &inline_paging(&f),
            build(DbBackend::Postgres).to_string(PostgresQueryBuilder),
            build(DbBackend::MySql).to_string(MysqlQueryBuilder),
        ]
    }

    #[test]
    fn equality_and_ranges() {
        let [sqlite, pg, _] =
            sql(json!({"where": {"name": "a", "price": {"between": [1, 2]}}, "order": "price DESC", "limit": 2}));
        assert_eq!(
            sqlite,
            r#"SELECT "id" FROM "product" WHERE "product"."name" = 'a' AND ("product"."price" BETWEEN 1 AND 2) ORDER BY "product"."price" DESC, "product"."id" ASC LIMIT 2"#
        );
        assert!(pg.contains(r#""product"."price" BETWEEN 1 AND 2"#));
        let [_, pg, _] = sql(json!({"where": {"name": {"gte": "b"}}, "order": "name DESC"}));
        assert!(
            pg.contains(r#"WHERE ("product"."name" COLLATE "C") >= 'b' ORDER BY "product"."name" COLLATE "C" DESC"#),
            "{pg}"
        );
    }

    #[test]
    fn like_is_case_sensitive_everywhere() {
        let [sqlite, pg, mysql] = sql(json!({"where": {"name": {"like": "%Wid_et\\%"}}}));
        assert!(sqlite.contains(r#""product"."name" GLOB '*Wid?et%'"#), "{sqlite}");
        assert!(pg.contains(r#""product"."name" LIKE E'%Wid_et\\%' ESCAPE E'\\'"#), "{pg}");
        assert!(mysql.contains("CAST(`product`.`name` AS BINARY) LIKE CAST('%Wid_et\\\\%' AS BINARY)"), "{mysql}");
    }

    #[test]
    fn ilike_and_regexp() {
        let [sqlite, pg, _] = sql(json!({"where": {"name": {"ilike": "%ALPHA%"}}}));
        assert!(sqlite.contains(r#""product"."name" REGEXP '(?s-i)^.*[Aa][Ll][Pp][Hh][Aa].*$'"#), "{sqlite}");
        assert!(pg.contains(r#""product"."name" ILIKE '%ALPHA%'"#), "{pg}");
        // A case-insensitive regexp is matched case-sensitively, its letters spelled out.
        let [sqlite, pg, mysql] = sql(json!({"where": {"name": {"regexp": "/^a/i"}}}));
        assert!(sqlite.contains(r#""product"."name" REGEXP '(?s-i)^[aA]'"#), "{sqlite}");
        assert!(pg.contains(r#""product"."name" ~ '^[aA]'"#), "{pg}");
        assert!(mysql.contains(r#"`product`.`name` REGEXP '(?s-i)^[aA]'"#), "{mysql}");
    }

    #[test]
    fn null_and_lists() {
        let [sqlite, ..] = sql(json!({"where": {"price": null, "name": {"inq": []}, "id": {"nin": [1, 2]}}}));
        assert!(
            sqlite.contains(r#""product"."price" IS NULL AND (1 = 0) AND "product"."id" NOT IN (1, 2)"#),
            "{sqlite}"
        );
        let [sqlite, ..] = sql(json!({"where": {"or": [{"price": {"neq": null}}, {"inStock": "false"}]}}));
        assert!(
            sqlite.contains(r#"WHERE "product"."price" IS NOT NULL OR "product"."in_stock" = FALSE ORDER"#),
            "{sqlite}"
        );
        let [sqlite, ..] = sql(json!({"where": {"or": [{"price": 1}, {"price": 2}], "name": "x"}}));
        assert!(
            sqlite
                .contains(r#"WHERE ("product"."price" = 1 OR "product"."price" = 2) AND "product"."name" = 'x' ORDER"#),
            "{sqlite}"
        );
    }

    #[test]
    fn skip_without_limit_gets_loopbacks_hundred() {
        let [sqlite, ..] = sql(json!({"skip": 3}));
        assert!(sqlite.ends_with("LIMIT 100 OFFSET 3"), "{sqlite}");
    }

    /// Every operator and form, on every back end: one snapshot to review when SQL changes.
    #[test]
    fn operator_matrix() {
        let cases = [
            json!({"where": {"name": "a"}}),
            json!({"where": {"name": null}}),
            json!({"where": {"price": {"eq": 1}}}),
            json!({"where": {"price": {"neq": 1}}}),
            json!({"where": {"price": {"neq": null}}}),
            json!({"where": {"price": {"gt": 1}}}),
            json!({"where": {"price": {"gte": "1.5"}}}),
            json!({"where": {"price": {"lt": 1}}}),
            json!({"where": {"price": {"lte": 1}}}),
            json!({"where": {"price": {"between": [1, 2]}}}),
            json!({"where": {"releasedAt": {"between": ["2020-01-01", "2020-12-31"]}}}),
            json!({"where": {"id": {"inq": [1, 2]}}}),
            json!({"where": {"id": {"inq": []}}}),
            json!({"where": {"id": {"nin": [1, 2]}}}),
            json!({"where": {"id": {"nin": []}}}),
            json!({"where": {"id": [3, 4]}}),
            json!({"where": {"name": {"like": "%a_b\\%"}}}),
            json!({"where": {"name": {"nlike": "a%"}}}),
            json!({"where": {"name": {"ilike": "%A%"}}}),
            json!({"where": {"name": {"nilike": "%A%"}}}),
            json!({"where": {"name": {"regexp": "^a"}}}),
            json!({"where": {"name": {"regexp": "/^a/i"}}}),
            json!({"where": {"inStock": "true", "categoryId": "7"}}),
            json!({"where": {"and": [{"price": {"gt": 1}}, {"or": [{"name": "a"}, {"name": "b"}]}]}}),
            json!({"where": {"price": {"gt": 1, "lt": 5}}}),
            json!({"order": ["price DESC", "name"], "limit": 5, "skip": 10}),
            json!({"order": "id DESC", "offset": 2}),
            json!({"where": {"price": {"gt": 1}}, "limit": 3}),
        ];
        let mut out = String::new();
        for case in cases {
            let [sqlite, pg, mysql] = sql(case.clone());
            out.push_str(&format!("{case}\n  sqlite: {sqlite}\n  postgres: {pg}\n  mysql: {mysql}\n"));
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn like_patterns_as_regular_expressions() {
        assert_eq!(like_to_regex("a.b%c_\\%"), r"(?s-i)^[aA]\.[bB].*[cC].%$");
        assert_eq!(like_to_regex("%ÉCOLE%"), "(?s-i)^.*[Éé][Cc][Oo][Ll][Ee].*$");
    }

    #[test]
    fn unknown_names_from_server_code_are_errors_not_panics() {
        let model = product_definition();
        let err = condition(&Where::eq("nosuch", json!(1)), &model, DbBackend::Sqlite).unwrap_err();
        assert_eq!(err.message, "Product has no property \"nosuch\"");
        let filter = Filter {
            order: vec![crate::filter::Order { property: "x".into(), descending: false }],
            ..Filter::default()
        };
        assert!(apply_order(&mut Query::select(), &filter, &model, DbBackend::Postgres).is_err());
    }

    #[test]
    fn glob_escapes_its_own_wildcards() {
        assert_eq!(like_to_glob("a*b?c[d%_"), "a[*]b[?]c[[]d*?");
    }
}
