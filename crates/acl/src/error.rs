//! Errors of the ACL crate.

/// Malformed ACL data (for example a row of an `ACL` table).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An access type other than READ, WRITE, EXECUTE, REPLICATE or `*`.
    #[error("unknown access type `{0}`")]
    AccessType(String),
    /// A permission other than ALLOW, DENY, ALARM or AUDIT.
    #[error("unknown permission `{0}`")]
    Permission(String),
    /// A principal type other than USER, APP or ROLE.
    #[error("unknown principal type `{0}`")]
    PrincipalType(String),
}
