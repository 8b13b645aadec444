use persisted_model::prelude::*;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "note")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub title: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Hooks are a value with state of its own.
struct NoteHooks {
    prefix: String,
}

impl ModelHooks for NoteHooks {
    async fn before_save(&self, _ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
        let title: Option<String> = event.get("title");
        event.set("title", format!("{}{}", self.prefix, title.unwrap_or_default()))
    }
}

fn main() {
    let _ = persisted_model::ModelHandle::of::<Model>().with_hooks(NoteHooks { prefix: "> ".into() });
}
