//! The built-in models.

pub mod access_token;
pub mod acl;
pub mod role;
pub mod role_mapping;
pub mod user;
