//! What a custom remote method's handler receives.

use actix_web::HttpRequest;
use actix_web::web::Data;
use persisted_model_acl::Caller;
use serde_json::Value;

use super::RestState;
use crate::filter::QueryParams;
use crate::model::ModelHandle;
use crate::store::Store;
use crate::value::parse_id;

/// One call of a custom remote method, after authentication and authorization.
#[non_exhaustive]
pub struct Call {
    /// The HTTP request.
    pub request: HttpRequest,
    /// The parsed body (`Null` when the method reads none or there is none).
    pub body: Value,
    /// The query string, parsed with qs's rules.
    pub params: QueryParams,
    /// The model the method belongs to.
    pub model: ModelHandle,
    /// The application's shared state.
    pub state: Data<RestState>,
    /// Who is calling.
    pub caller: Caller,
    /// The method's name.
    pub method: String,
    /// The method shows hidden properties in what it returns ([`RemoteMethod::show_hidden`](crate::RemoteMethod::show_hidden)).
    pub(crate) shows_hidden: bool,
}

impl Call {
    /// A store over the method's model.
    pub fn store(&self) -> Store<'_> {
        Store::new(&self.state, self.state.pool(), &self.model, &self.method, Some(&self.request))
    }

    /// Typed data access to a registered model acting as this call's caller: the model's
    /// hooks and row rules apply, and each operation is authorized like its route.
    pub fn repository<M: crate::PersistedModel + serde::de::DeserializeOwned>(
        &self,
    ) -> crate::Result<crate::Repository<M>> {
        Ok(crate::Repository::new(self.state.clone())?.as_caller(self.caller.clone()))
    }

    /// A store over another registered model.
    pub fn store_for<'a>(&'a self, model: &'a ModelHandle) -> Store<'a> {
        self.store().for_model(model, &self.method)
    }

    /// The `{id}` path segment as the model's id type.
    pub fn path_id(&self) -> Option<Value> {
        let raw = self.request.match_info().get("id")?;
        parse_id(self.model.definition().id_property().ty, raw)
    }

    /// The database.
    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.state.db
    }
}
