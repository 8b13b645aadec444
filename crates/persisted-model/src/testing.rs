//! Fixture definitions for unit tests and doc tests.

use serde_json::json;

use crate::model::{
    DefaultValue, FloatWidth, IntegerWidth, ModelDefinition, Property, PropertyType, Relation, RelationKind,
};

/// The conformance app's `Product`: id, name (required), price, inStock (default true),
/// releasedAt, categoryId; belongsTo `category`.
pub fn product_definition() -> ModelDefinition {
    let mut m = ModelDefinition::new("Product", "product");
    m.properties = vec![
        Property::new("id", "id", PropertyType::Integer(IntegerWidth::I32)).generated(true),
        Property::new("name", "name", PropertyType::String).required(true),
        Property::new("price", "price", PropertyType::Number(FloatWidth::F64)),
        Property::new("inStock", "in_stock", PropertyType::Boolean)
            .default_value(Some(DefaultValue::Value(json!(true)))),
        Property::new("releasedAt", "released_at", PropertyType::Date),
        Property::new("categoryId", "category_id", PropertyType::Integer(IntegerWidth::I32)),
        Property::new("secret", "secret", PropertyType::String).hidden(true),
    ];
    m.relations = vec![Relation::new("category", RelationKind::BelongsTo, "Category", "categoryId")];
    m
}

/// The conformance app's `Category`: id, name (required); hasMany `products`.
pub fn category_definition() -> ModelDefinition {
    let mut m = ModelDefinition::new("Category", "category");
    m.properties = vec![
        Property::new("id", "id", PropertyType::Integer(IntegerWidth::I32)).generated(true),
        Property::new("name", "name", PropertyType::String).required(true),
    ];
    m.relations = vec![Relation::new("products", RelationKind::HasMany, "Product", "categoryId")];
    m
}
