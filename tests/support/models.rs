//! The models the HTTP tests serve: the store's Category and Product, plus fixtures for every
//! relation kind, a string-id model and a model with `replaceOnPUT: false`.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod category {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[allow(clippy::duplicated_attributes)]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "category")]
    #[persisted_model(has_many(name = "products", model = "Product", foreign_key = "categoryId"))]
    #[persisted_model(has_many(name = "secrets", model = "Secret", foreign_key = "categoryId"))]
    #[persisted_model(has_many(name = "memos", model = "Memo", foreign_key = "categoryId"))]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }
    no_relations!();
}

pub mod product {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "product")]
    #[serde(rename_all = "camelCase")]
    #[persisted_model(belongs_to(name = "category", model = "Category", foreign_key = "categoryId"))]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
        pub price: Option<f64>,
        #[persisted_model(default = true)]
        pub in_stock: Option<bool>,
        pub released_at: Option<DateTimeUtc>,
        pub category_id: Option<i32>,
        #[persisted_model(hidden)]
        pub secret: Option<String>,
    }
    no_relations!();
}

pub mod author {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "author")]
    #[persisted_model(has_one(name = "profile", model = "Profile", foreign_key = "authorId"))]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }
    no_relations!();
}

pub mod profile {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "profile")]
    #[serde(rename_all = "camelCase")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub bio: Option<String>,
        pub author_id: Option<i32>,
    }
    no_relations!();
}

pub mod physician {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "physician")]
    #[persisted_model(has_many_through(
        name = "patients",
        model = "Patient",
        foreign_key = "physicianId",
        through = "Appointment",
        key_through = "patientId"
    ))]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }
    no_relations!();
}

pub mod patient {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "patient")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }
    no_relations!();
}

pub mod appointment {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "appointment")]
    #[serde(rename_all = "camelCase")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub physician_id: Option<i32>,
        pub patient_id: Option<i32>,
        pub note: Option<String>,
    }
    no_relations!();
}

pub mod tag {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// A model whose id is chosen by the client: LoopBack's `forceId: false`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "tag")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub label: Option<String>,
    }
    no_relations!();
}

pub mod note {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// LoopBack 2 style: PUT patches.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "note")]
    #[persisted_model(replace_on_put = false, strict_delete)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
        pub body: Option<String>,
    }
    no_relations!();
}

pub mod memo {
    use persisted_model::filter::{Op, Where};
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// A model that overrides its hooks.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "memo")]
    #[serde(rename_all = "camelCase")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub text: String,
        pub archived: Option<bool>,
        pub category_id: Option<i32>,
    }
    no_relations!();

    /// The memo hooks: archived memos are hidden, text is trimmed, "forbidden" refused.
    pub struct Hooks;

    impl ModelHooks for Hooks {
        /// Archived memos are invisible to every query.
        async fn access(&self, _ctx: &CallContext<'_>, where_: &mut Option<Where>) -> Result<(), Error> {
            let visible = Where::Or(vec![
                Where::eq("archived", Value::Bool(false)),
                Where::Cond { property: "archived".into(), op: Op::Eq(Value::Null) },
            ]);
            *where_ = Some(match where_.take() {
                Some(w) => Where::And(vec![w, visible]),
                None => visible,
            });
            Ok(())
        }

        /// Text is stored trimmed; "forbidden" is refused.
        async fn before_save(&self, _ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
            if let Some(Value::String(text)) = event.data.get_mut("text") {
                *text = text.trim().to_owned();
                if text == "forbidden" {
                    return Err(Error::new(actix_web::http::StatusCode::FORBIDDEN, "memo refused"));
                }
            }
            Ok(())
        }

        /// Clients see a word count.
        async fn loaded(&self, _ctx: &CallContext<'_>, instance: &mut Instance) -> Result<(), Error> {
            let words = instance.get("text").and_then(Value::as_str).map_or(0, |t| t.split_whitespace().count());
            instance.insert("words".into(), Value::from(words));
            Ok(())
        }
    }
}

pub mod secret {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// A model that denies by default: owners read and change their own, editors write.
    #[allow(clippy::duplicated_attributes)]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "secret")]
    #[serde(rename_all = "camelCase")]
    #[persisted_model(
        belongs_to(name = "owner", model = "User", foreign_key = "userId"),
        acl(role = "$everyone", permission = "DENY"),
        acl(role = "$authenticated", property = "find", permission = "ALLOW"),
        acl(role = "$owner", property = "findById", permission = "ALLOW"),
        acl(role = "$owner", property = "patchAttributes", permission = "ALLOW"),
        acl(role = "editor", access_type = "WRITE", permission = "ALLOW"),
        acl(role = "auditor", access_type = "READ", permission = "ALLOW")
    )]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub text: String,
        pub user_id: Option<i32>,
        pub category_id: Option<i32>,
    }
    no_relations!();
}

pub mod member {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// An application's own user model: LoopBack's User plus a nickname.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "member")]
    #[serde(rename_all = "camelCase")]
    #[persisted_model(name = "User")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub realm: Option<String>,
        #[sea_orm(unique)]
        pub username: Option<String>,
        #[persisted_model(hidden)]
        pub password: String,
        #[sea_orm(unique)]
        pub email: String,
        #[persisted_model(server_managed)]
        pub email_verified: Option<bool>,
        #[persisted_model(hidden, server_managed)]
        pub verification_token: Option<String>,
        pub nickname: Option<String>,
    }
    no_relations!();
}

pub mod session {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// An application's own token model, with its own column names.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "session")]
    #[serde(rename_all = "camelCase")]
    #[persisted_model(
        name = "AccessToken",
        force_id = true,
        belongs_to(name = "user", model = "User", foreign_key = "userId", authorize_target = false)
    )]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_name = "token_hash")]
        pub id: String,
        #[sea_orm(column_name = "lifetime")]
        #[persisted_model(default = 1209600)]
        pub ttl: Option<i64>,
        /// JSON in a text column, as LoopBack keeps it.
        #[sea_orm(column_type = "Text")]
        pub scopes: Option<Json>,
        /// No default: the token hooks stamp it.
        #[sea_orm(column_name = "issued_at")]
        #[persisted_model(server_managed)]
        pub created: Option<DateTimeUtc>,
        #[sea_orm(column_name = "member_id")]
        pub user_id: Option<i32>,
    }
    no_relations!();
}

pub mod gadget {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// Column shapes: a declared length, unbounded text, a unique string, a naive date-time
    /// (PostgreSQL `timestamp`) and JSON.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "gadget")]
    #[serde(rename_all = "camelCase")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "String(StringLen::N(10))", nullable)]
        pub code: Option<String>,
        pub label: Option<String>,
        #[sea_orm(unique)]
        pub sku: Option<String>,
        pub made_at: Option<DateTime>,
        pub specs: Option<Json>,
    }
    no_relations!();
}

pub mod journal {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    /// A model whose hooks write another model: each saved entry leaves a Note, and "boom" is
    /// refused after the notes of the entries before it were written.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "journal")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub text: String,
    }
    no_relations!();

    /// The journal hooks.
    pub struct Hooks;

    impl ModelHooks for Hooks {
        async fn before_save(&self, _ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
            if event.data.get("text") == Some(&Value::from("boom")) {
                return Err(Error::new(actix_web::http::StatusCode::CONFLICT, "boom"));
            }
            Ok(())
        }

        async fn after_save(&self, ctx: &CallContext<'_>, instance: &Instance, _is_new: bool) -> Result<(), Error> {
            let notes = ctx.store("Note").expect("Note is registered");
            notes.create(&json!({"title": instance.get("text").cloned().unwrap_or_default()})).await?;
            Ok(())
        }
    }
}

pub mod person {
    use persisted_model::prelude::*;
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// A bare `User` for apps without the access-token models (Secret belongs to a User).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    #[sea_orm(table_name = "person")]
    #[persisted_model(name = "User")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub email: Option<String>,
    }
    no_relations!();
}
