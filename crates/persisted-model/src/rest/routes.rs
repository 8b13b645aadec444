//! Mounting a model's remote-method table as actix-web routes, and LoopBack's 404s for paths
//! that name no method.

use std::sync::Arc;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Data, Payload};
use actix_web::{HttpRequest, HttpResponse, Scope};
use serde_json::json;

use super::RestState;
use super::handlers::dispatch;
use super::remote_method::{Operation, RelationOp, RemoteMethod};
use crate::error::error_response;
use crate::model::ModelHandle;

/// What one route runs.
pub(crate) struct RouteTarget {
    pub(crate) model: ModelHandle,
    pub(crate) method: RemoteMethod,
    pub(crate) reads_body: bool,
}

fn reads_body(op: &Operation) -> bool {
    match op {
        Operation::Create
        | Operation::PatchOrCreate
        | Operation::ReplaceOrCreate
        | Operation::UpsertWithWhere
        | Operation::ReplaceById
        | Operation::UpdateAll
        | Operation::PatchAttributes
        | Operation::ChangeStream => true,
        Operation::Relation { op, .. } => {
            matches!(op, RelationOp::Create | RelationOp::Update | RelationOp::UpdateById | RelationOp::Link)
        }
        Operation::Custom(handler) => handler.reads_body,
        _ => false,
    }
}

/// The routes of one model, mountable with `App::service` under the REST root. They carry
/// the API's shared state, so they answer wherever they are mounted; get them from
/// [`RestApi::model_routes`](super::RestApi::model_routes).
#[derive(Clone)]
pub struct ModelRoutes {
    model: ModelHandle,
    state: Data<RestState>,
}

impl std::fmt::Debug for ModelRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRoutes").field("model", &self.model).finish_non_exhaustive()
    }
}

impl ModelRoutes {
    pub(crate) fn new(model: ModelHandle, state: Data<RestState>) -> Self {
        Self { model, state }
    }

    /// The model's remote methods (the table the routes are built from).
    pub fn remote_methods(&self) -> Vec<RemoteMethod> {
        self.model.remote_methods()
    }

    /// The actix scope with every route.
    pub fn scope(&self) -> Scope {
        let def = self.model.definition();
        let mut scope = web::scope(&format!("/{}", def.path)).app_data(self.state.clone());
        for m in self.remote_methods() {
            let target = Arc::new(RouteTarget {
                model: self.model.clone(),
                reads_body: reads_body(&m.operation),
                method: m.clone(),
            });
            for (verb, path) in &m.routes {
                // The model's root answers with and without the trailing slash.
                let paths: &[&str] = if path == "/" { &["", "/"] } else { &[path.as_str()] };
                for p in paths {
                    let target = Arc::clone(&target);
                    scope = scope.route(
                        p,
                        web::method(verb.clone()).to(move |req: HttpRequest, payload: Payload| {
                            let target = Arc::clone(&target);
                            async move { dispatch(req, payload, &target).await }
                        }),
                    );
                }
            }
        }
        let name = def.name.clone();
        scope.default_service(web::to(move |req: HttpRequest| {
            let name = name.clone();
            async move {
                let rest = unprocessed(&req);
                not_found_json(format!("Shared class \"{name}\" has no method handling {} {rest}", req.method()))
            }
        }))
    }
}

impl HttpServiceFactory for ModelRoutes {
    fn register(self, config: &mut AppService) {
        self.scope().register(config);
    }
}

fn unprocessed(req: &HttpRequest) -> String {
    let rest = req.match_info().unprocessed();
    if rest.is_empty() { "/".to_owned() } else { rest.to_owned() }
}

fn not_found_json(message: String) -> HttpResponse {
    error_response(StatusCode::NOT_FOUND, json!({"statusCode": 404, "name": "Error", "message": message}))
}

/// The answer for an unknown path under the REST root (`There is no method to handle GET /x`).
pub(crate) async fn no_method(req: HttpRequest) -> HttpResponse {
    not_found_json(format!("There is no method to handle {} {}", req.method(), unprocessed(&req)))
}

/// The answer for a path outside the REST root, as LoopBack's `urlNotFound` gives it; use it as
/// the app's `default_service`.
pub async fn url_not_found(req: HttpRequest) -> HttpResponse {
    let method = if req.method() == Method::HEAD { Method::GET } else { req.method().clone() };
    not_found_json(format!("Cannot {method} {}", req.path()))
}
