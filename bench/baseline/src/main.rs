//! The load benchmark's baseline: what a careful engineer would write by hand for the six
//! benchmark routes of the store example, with actix-web and sqlx over the same tables. It
//! runs the same SQL, answers the same JSON, and checks the same access token on every
//! request (one query by SHA-256 fingerprint, expiry from `created` + `ttl`), so the
//! difference in a benchmark run is what the framework costs.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1/bench PORT=3001 baseline
//! ```
//!
//! Routes: `GET /api/Products/{id}`, `GET /api/Products?filter=` (where price gt / inStock,
//! order, limit, include category), `GET /api/Products/count?where=`, `POST /api/Products`,
//! `GET /api/accessTokens/{token}` (role admin). Anything else is 404.

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row, SqlitePool};

/// The pool of the database the benchmark runs on.
#[derive(Clone)]
enum Db {
    Pg(PgPool),
    Sqlite(SqlitePool),
}

/// Runs the same statement text on either pool (`$1` placeholders work on both).
macro_rules! on {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Pg($pool) => $body,
            Db::Sqlite($pool) => $body,
        }
    };
}

type Answer = Result<HttpResponse, Failure>;

/// A LoopBack-style error answer.
#[derive(Debug)]
struct Failure(StatusCode, &'static str, String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.2)
    }
}

impl actix_web::ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        self.0
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.0).json(json!({"error": {
            "statusCode": self.0.as_u16(), "name": "Error", "message": self.2, "code": self.1
        }}))
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string())
    }
}

fn bad_request(message: &str) -> Failure {
    Failure(StatusCode::BAD_REQUEST, "INVALID_FILTER", message.to_owned())
}

fn date(d: Option<DateTime<Utc>>) -> Value {
    d.map_or(Value::Null, |d| Value::String(d.to_rfc3339_opts(SecondsFormat::Millis, true)))
}

/// A product row as JSON, in the model's property order.
fn product_json<R: Row>(row: &R) -> Result<Map<String, Value>, sqlx::Error>
where
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let mut out = Map::with_capacity(6);
    out.insert("id".into(), json!(row.try_get::<i32, _>("id")?));
    out.insert("name".into(), json!(row.try_get::<String, _>("name")?));
    out.insert("price".into(), json!(row.try_get::<Option<f64>, _>("price")?));
    out.insert("inStock".into(), json!(row.try_get::<Option<bool>, _>("in_stock")?));
    out.insert("releasedAt".into(), date(row.try_get::<Option<DateTime<Utc>>, _>("released_at")?));
    out.insert("categoryId".into(), json!(row.try_get::<Option<i32>, _>("category_id")?));
    Ok(out)
}

const PRODUCT_COLUMNS: &str = "id, name, price, in_stock, released_at, category_id";

/// An access token's `ttl`, `created` and `user_id`.
type TokenRow = (Option<i64>, Option<DateTime<Utc>>, Option<i32>);

/// The caller's user id, from the access token of the request.
async fn authenticate(db: &Db, req: &HttpRequest) -> Result<i32, Failure> {
    let unauthorized = || Failure(StatusCode::UNAUTHORIZED, "AUTHORIZATION_REQUIRED", "Authorization Required".into());
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(unauthorized)?;
    let fingerprint = hex::encode(Sha256::digest(token.as_bytes()));
    let sql = "SELECT ttl, created, user_id FROM access_token WHERE id = $1";
    let row: Option<TokenRow> = on!(db, |p| sqlx::query_as(sql).bind(&fingerprint).fetch_optional(p).await)?;
    let (ttl, created, user) = row.ok_or_else(unauthorized)?;
    let expires = created.zip(ttl).map(|(c, t)| c + chrono::TimeDelta::seconds(t));
    match (expires, user) {
        (Some(at), Some(user)) if at > Utc::now() => Ok(user),
        _ => Err(unauthorized()),
    }
}

fn ok(body: &Value) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json; charset=utf-8").body(body.to_string())
}

/// S1: `GET /api/Products/{id}`.
async fn find_by_id(db: web::Data<Db>, req: HttpRequest, id: web::Path<String>) -> Answer {
    authenticate(&db, &req).await?;
    let not_found = || Failure(StatusCode::NOT_FOUND, "MODEL_NOT_FOUND", format!("Unknown \"Product\" id \"{id}\"."));
    let Ok(key) = id.parse::<i32>() else { return Err(not_found()) };
    let sql = "SELECT id, name, price, in_stock, released_at, category_id FROM product WHERE id = $1 LIMIT 1";
    let found = on!(db.get_ref(), |p| match sqlx::query(sql).bind(key).fetch_optional(p).await? {
        Some(row) => Some(product_json(&row)?),
        None => None,
    });
    Ok(ok(&Value::Object(found.ok_or_else(not_found)?)))
}

/// The filters the benchmark sends: `where` on price and inStock, `order`, `limit`, and
/// `include` of the category.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Filter {
    #[serde(rename = "where", default)]
    where_: Option<Where>,
    order: Option<String>,
    limit: Option<u32>,
    include: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Where {
    price: Option<PriceOp>,
    in_stock: Option<bool>,
    category_id: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceOp {
    gt: f64,
}

#[derive(Deserialize)]
struct Query {
    filter: Option<String>,
    #[serde(rename = "where")]
    where_: Option<String>,
}

/// Binds the values of `where_sql`, in its order, to a query of any kind.
macro_rules! bind_where {
    ($query:expr, $prices:expr, $in_stock:expr, $category:expr) => {{
        let mut query = $query;
        for price in &$prices {
            query = query.bind(*price);
        }
        if let Some(s) = $in_stock {
            query = query.bind(s);
        }
        if let Some(c) = $category {
            query = query.bind(c);
        }
        query
    }};
}

/// `WHERE` text and its values in order.
fn where_sql(w: &Where) -> (String, Vec<f64>, Option<bool>, Option<i32>) {
    let mut parts = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if w.price.is_some() {
        parts.push(format!("price > {}", next()));
    }
    if w.in_stock.is_some() {
        parts.push(format!("in_stock = {}", next()));
    }
    if w.category_id.is_some() {
        parts.push(format!("category_id = {}", next()));
    }
    let text = if parts.is_empty() { String::new() } else { format!(" WHERE {}", parts.join(" AND ")) };
    (text, w.price.iter().map(|p| p.gt).collect(), w.in_stock, w.category_id)
}

/// S2 and S6: `GET /api/Products?filter=`.
async fn find(db: web::Data<Db>, req: HttpRequest, q: web::Query<Query>) -> Answer {
    authenticate(&db, &req).await?;
    let filter: Filter = match &q.filter {
        Some(f) => serde_json::from_str(f).map_err(|e| bad_request(&e.to_string()))?,
        None => Filter::default(),
    };
    let (where_text, prices, in_stock, category) = where_sql(filter.where_.as_ref().unwrap_or(&Where::default()));
    let order = match filter.order.as_deref() {
        None => " ORDER BY id",
        Some("price DESC") => " ORDER BY price DESC, id",
        Some(_) => return Err(bad_request("unsupported order")),
    };
    let limit = filter.limit.unwrap_or(1000).min(1000);
    let sql = format!("SELECT {PRODUCT_COLUMNS} FROM product{where_text}{order} LIMIT {limit}");
    let mut rows: Vec<Map<String, Value>> = on!(db.get_ref(), |p| {
        // Built from fixed fragments; every value is bound.
        let query = bind_where!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), prices, in_stock, category);
        query.fetch_all(p).await?.iter().map(product_json).collect::<Result<_, _>>()?
    });
    match filter.include.as_deref() {
        None => {}
        Some("category") => include_category(&db, &mut rows).await?,
        Some(_) => return Err(bad_request("unsupported include")),
    }
    Ok(ok(&Value::Array(rows.into_iter().map(Value::Object).collect())))
}

/// Each product's category, in one query for the page.
async fn include_category(db: &Db, rows: &mut [Map<String, Value>]) -> Result<(), Failure> {
    let mut ids: Vec<i64> = rows.iter().filter_map(|r| r["categoryId"].as_i64()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!("SELECT id, name FROM category WHERE id IN ({})", marks.join(", "));
    let categories: Vec<(i32, String)> = on!(db, |p| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for id in &ids {
            query = query.bind(*id as i32);
        }
        query.fetch_all(p).await?
    });
    for row in rows {
        if let Some(c) = categories.iter().find(|(id, _)| Some(i64::from(*id)) == row["categoryId"].as_i64()) {
            row.insert("category".into(), json!({"id": c.0, "name": c.1}));
        }
    }
    Ok(())
}

/// S5: `GET /api/Products/count?where=`.
async fn count(db: web::Data<Db>, req: HttpRequest, q: web::Query<Query>) -> Answer {
    authenticate(&db, &req).await?;
    let w: Where = match &q.where_ {
        Some(w) => serde_json::from_str(w).map_err(|e| bad_request(&e.to_string()))?,
        None => Where::default(),
    };
    let (where_text, prices, in_stock, category) = where_sql(&w);
    let sql = format!("SELECT COUNT(*) FROM product{where_text}");
    let n: i64 = on!(db.get_ref(), |p| {
        bind_where!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())), prices, in_stock, category)
            .fetch_one(p)
            .await?
    });
    Ok(ok(&json!({ "count": n })))
}

/// The body of S4.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewProduct {
    name: String,
    price: Option<f64>,
    in_stock: Option<bool>,
    released_at: Option<DateTime<Utc>>,
    category_id: Option<i32>,
}

/// S4: `POST /api/Products`, answered from `INSERT ... RETURNING`.
async fn create(db: web::Data<Db>, req: HttpRequest, body: web::Json<NewProduct>) -> Answer {
    authenticate(&db, &req).await?;
    let p = body.into_inner();
    if p.name.trim().is_empty() {
        return Err(Failure(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED", "name can't be blank".into()));
    }
    let sql = "INSERT INTO product (name, price, in_stock, released_at, category_id) VALUES ($1, $2, $3, $4, $5) \
               RETURNING id, name, price, in_stock, released_at, category_id";
    let row = on!(db.get_ref(), |pool| {
        let row = sqlx::query(sql)
            .bind(&p.name)
            .bind(p.price)
            .bind(p.in_stock.unwrap_or(true))
            .bind(p.released_at)
            .bind(p.category_id)
            .fetch_one(pool)
            .await?;
        product_json(&row)?
    });
    Ok(ok(&Value::Object(row)))
}

/// S3: `GET /api/accessTokens/{token}` for a caller in role `admin`.
async fn token_by_id(db: web::Data<Db>, req: HttpRequest, token: web::Path<String>) -> Answer {
    let user = authenticate(&db, &req).await?;
    let role_sql = "SELECT COUNT(*) FROM role_mapping m JOIN role r ON r.id = m.role_id \
                    WHERE r.name = 'admin' AND m.principal_type = 'USER' AND m.principal_id = $1";
    let principal = user.to_string();
    let admins: i64 = on!(db.get_ref(), |p| sqlx::query_scalar(role_sql).bind(&principal).fetch_one(p).await?);
    if admins == 0 {
        return Err(Failure(StatusCode::FORBIDDEN, "ACCESS_DENIED", "Access Denied".into()));
    }
    let fingerprint = hex::encode(Sha256::digest(token.as_bytes()));
    let sql = "SELECT id, ttl, scopes, created, user_id FROM access_token WHERE id = $1";
    let found = on!(db.get_ref(), |p| match sqlx::query(sql).bind(&fingerprint).fetch_optional(p).await? {
        Some(row) => {
            let scopes: Option<String> = row.try_get("scopes")?;
            Some(json!({
                "id": token.as_str(),
                "ttl": row.try_get::<Option<i64>, _>("ttl")?,
                "scopes": scopes.and_then(|s| serde_json::from_str::<Value>(&s).ok()),
                "created": date(row.try_get("created")?),
                "userId": row.try_get::<Option<i32>, _>("user_id")?,
            }))
        }
        None => None,
    });
    let not_found =
        || Failure(StatusCode::NOT_FOUND, "MODEL_NOT_FOUND", format!("Unknown \"AccessToken\" id \"{token}\"."));
    Ok(ok(&found.ok_or_else(not_found)?))
}

// The allocator the framework's binaries use: the comparison is of the code, not of malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let url = std::env::var("DATABASE_URL").map_err(|_| std::io::Error::other("DATABASE_URL is required"))?;
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3001);
    let size: u32 = std::env::var("POOL_SIZE").ok().and_then(|p| p.parse().ok()).unwrap_or(10);
    let db = if url.starts_with("postgres") {
        Db::Pg(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(size)
                .connect(&url)
                .await
                .map_err(std::io::Error::other)?,
        )
    } else {
        Db::Sqlite(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(size)
                .connect(&url)
                .await
                .map_err(std::io::Error::other)?,
        )
    };
    let data = web::Data::new(db);
    HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/api/Products/count", web::get().to(count))
            .route("/api/Products/{id}", web::get().to(find_by_id))
            .route("/api/Products", web::get().to(find))
            .route("/api/Products", web::post().to(create))
            .route("/api/accessTokens/{token}", web::get().to(token_by_id))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
