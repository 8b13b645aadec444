//! Swagger UI at `/explorer`, over the vendored files of utoipa-swagger-ui.

use actix_web::web;

use super::RestApi;

impl RestApi {
    /// Swagger UI at `/explorer` with the API's document at `/explorer/openapi.json` (vendored
    /// assets: nothing is fetched at build or run time).
    /// `/explorer` itself redirects to `/explorer/`, as LoopBack's explorer did.
    pub fn explorer(&self, root: &str) -> impl actix_web::dev::HttpServiceFactory + use<> {
        self.explorer_with(self.openapi(root))
    }

    /// Swagger UI at `/explorer` showing `doc`: the API's document with the application's own
    /// routes merged in.
    ///
    /// ```no_run
    /// use actix_web::{App, HttpServer, get};
    /// use persisted_model::RestApi;
    /// use utoipa::OpenApi;
    ///
    /// /// The application's own route, documented with utoipa.
    /// #[utoipa::path(get, path = "/status", responses((status = 200, description = "Up")))]
    /// #[get("/status")]
    /// async fn status() -> &'static str {
    ///     "up"
    /// }
    ///
    /// #[derive(OpenApi)]
    /// #[openapi(paths(status))]
    /// struct AppDoc;
    ///
    /// #[actix_web::main]
    /// async fn main() -> std::io::Result<()> {
    ///     let db = persisted_model::connect("sqlite::memory:").await.map_err(std::io::Error::other)?;
    ///     let api = RestApi::builder(db).build().await.map_err(std::io::Error::other)?;
    ///     let doc = api.openapi("/api").merge_from(AppDoc::openapi());
    ///     HttpServer::new(move || {
    ///         App::new().service(status).service(api.explorer_with(doc.clone())).service(api.scope("/api"))
    ///     })
    ///     .bind(("127.0.0.1", 3000))?
    ///     .run()
    ///     .await
    /// }
    /// ```
    pub fn explorer_with(&self, doc: utoipa::openapi::OpenApi) -> impl actix_web::dev::HttpServiceFactory + use<> {
        use actix_web::http::header::{self, HeaderValue};
        // No other site may show the explorer in a frame (clickjacking), and browsers do not
        // guess its files' types.
        fn guarded(mut res: actix_web::HttpResponse) -> actix_web::HttpResponse {
            let headers = res.headers_mut();
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            res
        }
        let redirect = web::resource("/explorer").route(web::get().to(|| async {
            guarded(actix_web::HttpResponse::MovedPermanently().insert_header(("Location", "/explorer/")).finish())
        }));
        let json = std::sync::Arc::new(serde_json::to_vec(&doc).unwrap_or_default());
        let document =
            web::resource("/explorer/openapi.json").route(
                web::get().to(move || {
                    let json = std::sync::Arc::clone(&json);
                    async move {
                        guarded(actix_web::HttpResponse::Ok().content_type("application/json").body(json.to_vec()))
                    }
                }),
            );
        let config = std::sync::Arc::new(utoipa_swagger_ui::Config::new(["/explorer/openapi.json"]));
        let files = web::resource("/explorer/{file:.*}").route(web::get().to(move |file: web::Path<String>| {
            let config = std::sync::Arc::clone(&config);
            async move {
                let res = match utoipa_swagger_ui::serve(&file, config) {
                    Ok(Some(found)) => {
                        let mut res = actix_web::HttpResponse::Ok();
                        if found.gzpipped {
                            res.insert_header((header::CONTENT_ENCODING, header::ContentEncoding::Gzip));
                        }
                        res.content_type(found.content_type).body(found.bytes.to_vec())
                    }
                    Ok(None) => actix_web::HttpResponse::NotFound().finish(),
                    Err(e) => {
                        tracing::error!(target: "persisted_model::explorer", error = %e, "the explorer's file");
                        actix_web::HttpResponse::InternalServerError().finish()
                    }
                };
                guarded(res)
            }
        }));
        (redirect, document, files)
    }
}
