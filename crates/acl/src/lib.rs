//! # persisted-model-acl
//!
//! LoopBack 3's access control as a pure policy engine: ACL entries, principals, roles and
//! LoopBack's specificity scoring. No HTTP, no database: roles that need data (`$owner`,
//! roles from a RoleMapping table, custom roles) are answered by a [`RoleResolver`] the caller
//! supplies.
//!
//! ```
//! use persisted_model_acl::{AccessRequest, AccessType, AclEntry, Caller, Decision, Policy};
//!
//! let policy = Policy::new(vec![
//!     AclEntry::role("User", "*", None, "$everyone").deny(),
//!     AclEntry::role("User", "login", None, "$everyone").allow(),
//! ]);
//! let anonymous = Caller::anonymous();
//! let login = AccessRequest::new("User", "login", AccessType::Execute);
//! # futures_lite(async {
//! assert_eq!(policy.check(&login, &anonymous, &()).await.unwrap().decision, Decision::Allow);
//! let find = AccessRequest::new("User", "find", AccessType::Read);
//! assert_eq!(policy.check(&find, &anonymous, &()).await.unwrap().decision, Decision::Deny);
//! # });
//! # fn futures_lite(f: impl std::future::Future<Output = ()>) {
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     let mut f = std::pin::pin!(f);
//! #     assert!(f.as_mut().poll(&mut cx).is_ready());
//! # }
//! ```

mod entry;
mod error;
mod policy;
mod principal;
mod role;
mod score;

pub use entry::{AccessType, AclEntry, Permission, PrincipalType, PropertyMatch};
pub use error::Error;
pub use policy::{AccessRequest, Check, Decision, Policy};
pub use principal::{Caller, Principal};
pub use role::{BuiltinRole, RoleResolver};
pub use score::score;

/// The names most users need.
pub mod prelude {
    pub use crate::{
        AccessRequest, AccessType, AclEntry, Caller, Decision, Permission, Policy, Principal, RoleResolver,
    };
}
