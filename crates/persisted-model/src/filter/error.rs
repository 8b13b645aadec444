//! Why a filter or query string was refused (always a 400).

/// A malformed or unacceptable filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    /// The message for the client, naming the offending key.
    pub message: String,
    /// LoopBack's `code`, where it has one.
    pub code: Option<&'static str>,
}

impl FilterError {
    /// A filter error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), code: None }
    }

    /// Sets the code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// A filter nested deeper than `max` objects and arrays.
    pub fn too_deep(max: usize) -> Self {
        Self::new(format!("The query object exceeds maximum depth {max}")).with_code("QUERY_OBJECT_TOO_DEEP")
    }

    /// LoopBack's answer to a value that should have been a JSON object.
    pub fn not_an_object() -> Self {
        Self::new("Value is not an object.")
    }
}
