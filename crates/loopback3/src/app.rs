//! A LoopBack 3 application's folder: its `server/model-config.json`, its model files and
//! `server/config.json`, loaded once and registered with a `RestApiBuilder`.

use std::path::{Path, PathBuf};

use persisted_model::acl::AclEntry;
use persisted_model::{ModelHandle, RestApiBuilder};
use persisted_model_access_token::AccessTokens;
use sea_orm::DbBackend;
use serde_json::Value;

use crate::error::Error;
use crate::model_config::ModelConfig;
use crate::model_file::ModelFile;

/// LoopBack's built-in models, served by `persisted-model-access-token`.
const BUILT_IN: [&str; 5] = ["User", "AccessToken", "ACL", "RoleMapping", "Role"];

/// A LoopBack 3 application's models, ready to be served over its database.
///
/// ```no_run
/// # #[actix_web::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use persisted_model::RestApi;
/// use persisted_model_loopback3::LoopBackApp;
///
/// let app = LoopBackApp::load("path/to/lb3-app")?;
/// for warning in app.warnings() {
///     eprintln!("not carried over: {warning}");
/// }
/// let db = persisted_model::connect("postgres://postgres@127.0.0.1/lb3app").await?;
/// let api = app.register(RestApi::builder(db))?.build().await?;
/// # let _ = api; Ok(()) }
/// ```
#[derive(Debug)]
pub struct LoopBackApp {
    files: Vec<ModelFile>,
    config: ModelConfig,
    rest_root: String,
    warnings: Vec<String>,
    tokens: AccessTokens,
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
    serde_json::from_str(&text).map_err(|source| Error::Json { path: path.to_owned(), source })
}

/// Whether a model's JavaScript file does anything (LoopBack scaffolds an empty one).
fn has_code(js: &str) -> bool {
    let code: String = js
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let code = code.replace("'usestrict';", "").replace("\"usestrict\";", "");
    let empty = code.starts_with("module.exports=function(")
        && code.trim_end_matches(';').ends_with("){}")
        && code.matches('{').count() == 1;
    !code.is_empty() && !empty
}

impl LoopBackApp {
    /// Reads the application in `dir` (the folder holding `server/` and `common/`). What
    /// cannot be served is an error listing every problem; what is left out (JavaScript,
    /// remote methods, mixins, boot scripts) is in [`warnings`](Self::warnings).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let dir = dir.as_ref();
        let server = dir.join("server");
        let config = ModelConfig::parse(&read_json(&server.join("model-config.json"))?)
            .map_err(|source| Error::Json { path: server.join("model-config.json"), source })?;
        let rest_root = match read_json(&server.join("config.json")) {
            Ok(c) => c.get("restApiRoot").and_then(Value::as_str).unwrap_or("/api").to_owned(),
            Err(Error::Read { .. }) => "/api".to_owned(),
            Err(e) => return Err(e),
        };
        let mut warnings = Vec::new();
        let mut files = Vec::new();
        for source in &config.sources {
            let folder = server.join(source);
            let Ok(entries) = std::fs::read_dir(&folder) else { continue };
            let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                match path.extension().and_then(|e| e.to_str()) {
                    Some("json") => {
                        let json = read_json(&path)?;
                        let file: ModelFile = serde_json::from_value(json)
                            .map_err(|source| Error::Json { path: path.clone(), source })?;
                        files.push(file);
                    }
                    Some("js") => {
                        let js = std::fs::read_to_string(&path)
                            .map_err(|source| Error::Read { path: path.clone(), source })?;
                        if has_code(&js) {
                            warnings.push(format!(
                                "{}: JavaScript (hooks, remote methods, validations) is not carried over",
                                path.display()
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Ok(boot) = std::fs::read_dir(server.join("boot")) {
            let mut scripts: Vec<String> =
                boot.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            scripts.sort();
            for script in scripts.iter().filter(|s| s.ends_with(".js")) {
                warnings.push(format!("server/boot/{script}: boot scripts are not run"));
            }
        }
        let app = Self { files, config, rest_root, warnings, tokens: AccessTokens::loopback3() };
        let mut problems = Vec::new();
        let mut conversion_warnings = Vec::new();
        for (name, entry) in app.served() {
            if BUILT_IN.contains(&name) {
                continue;
            }
            match app.file(name) {
                None => problems.push(format!("{name}: model-config.json names it, but no model file defines it")),
                Some(file) => match file.base.as_deref().unwrap_or("PersistedModel") {
                    "PersistedModel" => match file.convert(DbBackend::Postgres, entry.public.unwrap_or(true)) {
                        Ok(c) => conversion_warnings.extend(c.warnings),
                        Err(p) => problems.extend(p),
                    },
                    "User" => match file.convert_user(DbBackend::Postgres, entry.public.unwrap_or(true)) {
                        Ok(c) => conversion_warnings.extend(c.warnings),
                        Err(p) => problems.extend(p),
                    },
                    "AccessToken" => match file.convert_token(DbBackend::Postgres, entry.public.unwrap_or(true)) {
                        Ok(c) => conversion_warnings.extend(c.warnings),
                        Err(p) => problems.extend(p),
                    },
                    "Model" => conversion_warnings.push(format!("{name}: a model without persistence is not served")),
                    other => problems.push(format!("{name}: models based on {other} are not supported")),
                },
            }
        }
        for (base, what) in [("User", "user"), ("AccessToken", "token")] {
            let own: Vec<&str> = app
                .served()
                .filter(|(n, _)| app.file(n).is_some_and(|f| f.base.as_deref() == Some(base)))
                .map(|(n, _)| n)
                .collect();
            if own.len() > 1 {
                problems.push(format!("{}: only one {what} model can be served", own.join(", ")));
            }
            if let (Some(model), true) = (own.first(), app.served().any(|(n, _)| n == base)) {
                conversion_warnings
                    .push(format!("{base}: the built-in {base} is not served; {model} is the {what} model"));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let mut app = app;
        app.warnings.extend(conversion_warnings);
        Ok(app)
    }

    /// What the application does that is not carried over, one line each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The REST root of `server/config.json` (`/api` by default).
    pub fn rest_root(&self) -> &str {
        &self.rest_root
    }

    /// Changes the settings of the built-in models (by default
    /// [`AccessTokens::loopback3`]: LoopBack's tables and raw token ids), for example the
    /// token path a boot script set.
    #[must_use]
    pub fn access_tokens(mut self, f: impl FnOnce(AccessTokens) -> AccessTokens) -> Self {
        self.tokens = f(self.tokens);
        self
    }

    fn served(&self) -> impl Iterator<Item = (&str, &crate::model_config::ModelEntry)> {
        self.config.models.iter().filter(|(_, e)| e.data_source.is_some()).map(|(n, e)| (n.as_str(), e))
    }

    fn file(&self, name: &str) -> Option<&ModelFile> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Adds the application's models to `builder`: its own models from their files, the
    /// built-in ones (when `User` is served) from `persisted-model-access-token` with
    /// LoopBack's tables, and the ACLs `model-config.json` adds.
    pub fn register(self, builder: RestApiBuilder) -> Result<RestApiBuilder, Error> {
        let backend = builder.backend();
        let mut builder = builder.layout(persisted_model::Layout::LoopBack3);
        let mut problems = Vec::new();
        let mut acls: Vec<AclEntry> = Vec::new();
        let mut tokens = None;
        let (mut user_model, mut token_model) = (None, None);
        for (name, entry) in self.served() {
            for acl in &entry.acls {
                match acl.entry(name) {
                    Ok(e) => acls.push(e),
                    Err(why) => problems.push(why),
                }
            }
            if BUILT_IN.contains(&name) {
                if name == "User" {
                    tokens = Some(self.tokens.clone());
                }
                continue;
            }
            let Some(file) = self.file(name).filter(|f| f.base.as_deref().unwrap_or("PersistedModel") != "Model")
            else {
                continue;
            };
            let public = entry.public.unwrap_or(true);
            // Models based on User and AccessToken are served by the token crate as its user
            // and token models.
            let based = match file.base.as_deref() {
                Some("User") => Some((file.convert_user(backend, public), &mut user_model)),
                Some("AccessToken") => Some((file.convert_token(backend, public), &mut token_model)),
                _ => None,
            };
            if let Some((converted, slot)) = based {
                match converted {
                    Ok(c) => *slot = Some(ModelHandle::from_definition(c.definition)),
                    Err(p) => problems.extend(p),
                }
                continue;
            }
            match file.convert(backend, public) {
                Ok(c) => builder = builder.handle(ModelHandle::from_definition(c.definition)),
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        if let Some(user) = user_model {
            tokens = Some(tokens.unwrap_or_else(|| self.tokens.clone()).user_handle(user));
        }
        if let Some(token) = token_model {
            tokens = tokens.map(|t| t.token_handle(token));
        }
        if let Some(tokens) = tokens {
            let acl_table = self.served().any(|(n, _)| n == "ACL");
            builder = tokens.acl_table(acl_table).register(builder);
        }
        Ok(acls.into_iter().fold(builder, RestApiBuilder::acl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaffolded_javascript_is_not_code() {
        assert!(!has_code("'use strict';\n\nmodule.exports = function(Product) {\n\n};\n"));
        assert!(!has_code("module.exports = function(Order) {}"));
        assert!(has_code(
            "module.exports = function(Order) {\n  Order.observe('before save', (ctx, next) => next());\n};"
        ));
    }
}
