//! The loader's errors.

use std::path::PathBuf;

/// What can stop a LoopBack 3 application from being loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not the JSON LoopBack expects.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A model file describes something that cannot be served (one line per problem).
    #[error("the model files cannot be served:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}
