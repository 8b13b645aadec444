//! Configurable bounds on what one query may ask for (security rule 10).
//!
//! LoopBack 3 had none; the defaults here protect a server exposed to the internet while
//! leaving every LoopBack request that stays within them unchanged. [`FilterLimits::loopback`]
//! turns the page and include limits off.

/// Limits applied while parsing filters and loading their includes.
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
    /// Page size when the client gives no limit; `None` falls back to `max_limit`.
    pub default_limit: Option<u64>,
    /// Hard maximum page size (a larger `limit` is lowered to it); `None` means no maximum,
    /// as LoopBack had. Include scopes keep only the limits their client gave, within it.
    pub max_limit: Option<u64>,
    /// Most related instances one request may place in its response through `include`, each
    /// counted with the instances nested in it; above it the request is a 400
    /// `INCLUDE_TOO_LARGE`.
    pub max_include_rows: usize,
}

impl Default for FilterLimits {
    /// Pages of at most 1,000 rows, and at most 10,000 included instances per request.
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_inq: 1000,
            max_include_depth: 4,
            max_include_breadth: 16,
            max_pattern_length: 512,
            default_limit: None,
            max_limit: Some(1000),
            max_include_rows: 10_000,
        }
    }
}

impl FilterLimits {
    /// The recommended production settings: pages of 100 rows unless the client asks for
    /// more, never more than 1,000.
    pub fn recommended() -> Self {
        Self { default_limit: Some(100), ..Self::default() }
    }

    /// LoopBack 3's behaviour: no page size, no maximum, no include bound (for trusted
    /// clients only).
    pub fn loopback() -> Self {
        Self { max_limit: None, max_include_rows: usize::MAX, ..Self::default() }
    }

    /// The page size for a request that asked for `requested` (`None`: no limit).
    pub fn page(&self, requested: Option<u64>) -> Option<u64> {
        let limit = requested.or(self.default_limit);
        match (limit, self.max_limit) {
            (Some(l), Some(max)) => Some(l.min(max)),
            (None, max) => max,
            (l, None) => l,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limit_applies_under_a_maximum() {
        let r = FilterLimits::recommended();
        assert_eq!(r.page(None), Some(100));
        assert_eq!(r.page(Some(5)), Some(5));
        assert_eq!(r.page(Some(5000)), Some(1000));
        let d = FilterLimits::default();
        assert_eq!(d.page(None), Some(1000));
        assert_eq!(FilterLimits::loopback().page(None), None);
    }
}
