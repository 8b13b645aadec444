//! `/healthz` and `/readyz`, for load balancers and orchestrators.

use actix_web::web;

use super::RestApi;
use super::reply;

impl RestApi {
    /// `GET /healthz` (200 while the process serves requests) and `GET /readyz` (200 when the
    /// database answers a ping, else 503 `SERVICE_UNAVAILABLE` with `Retry-After`), for load
    /// balancers and orchestrators. `/readyz` also names the change broker's state
    /// (`"changes": "local" | "connected" | "disconnected"`). Mount it at the app's root.
    pub fn health(&self) -> impl actix_web::dev::HttpServiceFactory + use<> {
        let state = self.state.clone();
        let healthz = web::resource("/healthz")
            .route(web::get().to(|| async { reply::json_ok(&serde_json::json!({ "status": "ok" })) }));
        let readyz = web::resource("/readyz").route(web::get().to(move || {
            let state = state.clone();
            async move {
                let changes = state.changes.status();
                match state.db.ping().await {
                    Ok(()) => {
                        Ok(reply::json_ok(&serde_json::json!({ "status": "ok", "database": "ok", "changes": changes })))
                    }
                    Err(e) => Err(crate::Error::Unavailable(Box::new(e))),
                }
            }
        }));
        (healthz, readyz)
    }
}
