//! The HTTP server's own limits, beside the API's: how many connections a worker holds, and
//! how long a client may take to send a request's head or to close.

use std::time::Duration;

use actix_http::Request;
use actix_service::IntoServiceFactory;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Response, Service, ServiceFactory};
use actix_web::{Error, HttpServer};

/// Limits for an actix-web [`HttpServer`] serving the API: with the API's own (a request
/// body's time to arrive, requests per client address: see
/// [`RestApiBuilder`](crate::RestApiBuilder)), a flood of half-sent requests costs the server
/// little and for a short time.
///
/// ```no_run
/// # #[actix_web::main]
/// # async fn main() -> std::io::Result<()> {
/// # let db = persisted_model::connect("sqlite::memory:").await.map_err(std::io::Error::other)?;
/// # let api = persisted_model::RestApi::builder(db).build().await.map_err(std::io::Error::other)?;
/// use persisted_model::ServerLimits;
/// let server = actix_web::HttpServer::new(move || actix_web::App::new().service(api.scope("/api")));
/// ServerLimits::default().apply(server).bind(("127.0.0.1", 3000))?.run().await
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerLimits {
    /// Connections one worker holds at once (actix-web's default is 25,000, more than a
    /// process's usual file descriptors): beyond it, new ones wait to be accepted.
    pub max_connections_per_worker: usize,
    /// How long a client may take to send a request's head (408 after).
    pub client_request_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// How long a client may take to close its side once the server closes.
    pub client_disconnect_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections_per_worker: 4_096,
            client_request_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(5),
            client_disconnect_timeout: Duration::from_secs(1),
        }
    }
}

impl ServerLimits {
    /// `server` with these limits.
    pub fn apply<F, I, S, B>(&self, server: HttpServer<F, I, S, B>) -> HttpServer<F, I, S, B>
    where
        F: Fn() -> I + Send + Clone + 'static,
        I: IntoServiceFactory<S, Request>,
        S: ServiceFactory<Request, Config = AppConfig> + 'static,
        S::Error: Into<Error> + 'static,
        S::InitError: std::fmt::Debug,
        S::Response: Into<Response<B>> + 'static,
        <S::Service as Service<Request>>::Future: 'static,
        S::Service: 'static,
        B: MessageBody + 'static,
    {
        server
            .max_connections(self.max_connections_per_worker)
            .client_request_timeout(self.client_request_timeout)
            .keep_alive(self.keep_alive)
            .client_disconnect_timeout(self.client_disconnect_timeout)
    }
}
