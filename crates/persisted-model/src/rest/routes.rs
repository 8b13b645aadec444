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

/// One path and the verbs it answers, each with what it runs.
type PathRoutes = (String, Vec<(Method, Arc<RouteTarget>)>);

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

    /// The actix scope with every route: one resource per path, holding that path's verbs, so
    /// a request matches each path pattern once. Paths with fewer parameters come first (as
    /// strong-remoting sorts them), so `/count` is never taken for an id.
    pub fn scope(&self) -> Scope {
        self.state.start_serving();
        let def = self.model.definition();
        let mut paths: Vec<PathRoutes> = Vec::new();
        for m in self.remote_methods() {
            let target = Arc::new(RouteTarget {
                model: self.model.clone(),
                reads_body: reads_body(&m.operation),
                method: m.clone(),
            });
            for (verb, path) in &m.routes {
                // The model's root answers with and without the trailing slash.
                let forms: &[&str] = if path == "/" { &["", "/"] } else { &[path.as_str()] };
                for p in forms {
                    let route = (verb.clone(), Arc::clone(&target));
                    match paths.iter_mut().find(|(known, _)| known == p) {
                        Some((_, routes)) => routes.push(route),
                        None => paths.push(((*p).to_owned(), vec![route])),
                    }
                }
            }
        }
        paths.sort_by_key(|(path, _)| path.matches('{').count());
        let name: Arc<str> = def.name.as_str().into();
        let mut scope = web::scope(&format!("/{}", def.path)).app_data(self.state.clone());
        for (path, routes) in paths {
            let mut resource = web::resource(path.as_str());
            for (verb, target) in routes {
                resource = resource.route(web::method(verb).to(move |req: HttpRequest, payload: Payload| {
                    let target = Arc::clone(&target);
                    async move {
                        let res = dispatch(req, payload, &target).await;
                        answer(res, target.model.definition())
                    }
                }));
            }
            // A known path with another verb: LoopBack's 404, not actix's 405. The resource
            // consumed the path, so its last segments (as many as the pattern has) are shown.
            let (name, segments) = (Arc::clone(&name), path.split('/').filter(|s| !s.is_empty()).count());
            scope = scope.service(resource.default_service(web::to(move |req: HttpRequest| {
                let name = Arc::clone(&name);
                async move { no_method_of(&name, &req, &last_segments(req.path(), segments)) }
            })));
        }
        scope.default_service(web::to(move |req: HttpRequest| {
            let name = Arc::clone(&name);
            async move { no_method_of(&name, &req, &unprocessed(&req)) }
        }))
    }
}

/// The response, or the error's, with the headers every answer of the API has: browsers do
/// not guess its type (`nosniff`), and answers about users and tokens are never stored
/// (`no-store`). The connection closes after an error that left the body unread (too slow,
/// too large, or a client over its share), so that the rest of it is never read as a
/// request of its own.
fn answer(result: crate::Result<HttpResponse>, model: &crate::model::ModelDefinition) -> HttpResponse {
    use actix_web::http::header::{self, HeaderValue};
    let mut res = match result {
        Ok(res) => res,
        Err(e) => {
            let mut res = actix_web::ResponseError::error_response(&e);
            if matches!(res.status().as_u16(), 408 | 413 | 429) {
                res.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
            }
            res
        }
    };
    let headers = res.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if model.settings.no_store {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// `Shared class "Product" has no method handling GET /x`, for `rest` (`/x`) of the model's path.
fn no_method_of(model: &str, req: &HttpRequest, rest: &str) -> HttpResponse {
    not_found_json(format!("Shared class \"{model}\" has no method handling {} {rest}", req.method()))
}

/// The last `n` segments of `path`, as `/a/b` (`/` for none).
fn last_segments(path: &str, n: usize) -> String {
    let path = path.trim_end_matches('/');
    let start = path.rmatch_indices('/').nth(n.saturating_sub(1)).map_or(0, |(i, _)| i);
    if n == 0 || path.is_empty() { "/".to_owned() } else { path[start..].to_owned() }
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

#[cfg(test)]
mod tests {
    use super::last_segments;

    #[test]
    fn the_path_a_method_is_missing_for_is_the_model_relative_one() {
        assert_eq!(last_segments("/api/Products/1", 1), "/1");
        assert_eq!(last_segments("/api/Products/1/exists", 2), "/1/exists");
        assert_eq!(last_segments("/api/Products/", 0), "/");
        assert_eq!(last_segments("/api/Products", 0), "/");
    }
}
