//! Configurable bounds on what one query may ask for (security rule 10).

/// Limits applied while parsing filters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FilterLimits {
    /// Maximum nesting of a filter or where object (LoopBack: 12).
    pub max_depth: usize,
    /// Maximum number of values in `inq`/`nin`.
    pub max_inq: usize,
    /// Maximum nesting of `include`.
    pub max_include_depth: usize,
    /// Maximum relations named at one include level.
    pub max_include_breadth: usize,
    /// Maximum length of a `like` or `regexp` pattern.
    pub max_pattern_length: usize,
    /// Page size when the client gives no limit; `None` returns everything, as LoopBack did.
    pub default_limit: Option<u64>,
    /// Hard maximum page size; `None` means no maximum, as LoopBack had.
    pub max_limit: Option<u64>,
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_inq: 1000,
            max_include_depth: 4,
            max_include_breadth: 16,
            max_pattern_length: 512,
            default_limit: None,
            max_limit: None,
        }
    }
}

impl FilterLimits {
    /// The recommended production settings: pages of 100 rows, never more than 1000.
    pub fn recommended() -> Self {
        Self { default_limit: Some(100), max_limit: Some(1000), ..Self::default() }
    }
}
