use persisted_model::PersistedModel;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

// One mistake gives one error: the code that registers the model does not fail as well.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "note")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[persisted_model(default = 3)]
    pub title: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn main() {
    let _ = persisted_model::ModelHandle::of::<Model>();
}
