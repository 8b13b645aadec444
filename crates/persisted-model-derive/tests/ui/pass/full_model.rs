use persisted_model::PersistedModel;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Every supported attribute at once.
#[allow(clippy::duplicated_attributes)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "product")]
#[serde(rename_all = "camelCase")]
#[persisted_model(
    name = "Product",
    plural = "Products",
    path = "products",
    replace_on_put = false,
    strict_delete,
    belongs_to(name = "category", model = "Category", foreign_key = "categoryId"),
    has_many(name = "reviews", model = "Review", foreign_key = "productId"),
    has_one(name = "manual", model = "Manual", foreign_key = "productId"),
    has_many_through(name = "tags", model = "Tag", foreign_key = "productId", through = "ProductTag", key_through = "tagId"),
    acl(role = "$everyone", permission = "DENY"),
    acl(role = "$authenticated", property = "find", access_type = "READ", permission = "ALLOW"),
    acl(user = "42", permission = "ALLOW"),
    default_permission = "DENY"
)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The name.
    pub name: String,
    #[sea_orm(column_name = "unit_price")]
    pub price: Option<f64>,
    #[persisted_model(default = true)]
    pub in_stock: Option<bool>,
    #[persisted_model(default_fn = "now", server_managed)]
    pub created: Option<DateTimeUtc>,
    #[persisted_model(hidden)]
    pub secret: Option<String>,
    #[serde(rename = "cat")]
    #[persisted_model(rename = "categoryId")]
    pub category_id: Option<i32>,
    pub extra: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn main() {}
