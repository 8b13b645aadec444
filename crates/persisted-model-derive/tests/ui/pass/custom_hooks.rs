use persisted_model::PersistedModel;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "note")]
#[persisted_model(custom_hooks)]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub title: String,
}

impl persisted_model::ModelHooks for Model {
    async fn before_save(
        _ctx: &persisted_model::CallContext<'_>,
        event: &mut persisted_model::SaveEvent,
    ) -> Result<(), persisted_model::Error> {
        event.data.remove("title");
        Ok(())
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn main() {}
