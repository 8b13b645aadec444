//! ACL entries as LoopBack writes them.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// What a method does to data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessType {
    /// Reads.
    Read,
    /// Writes.
    Write,
    /// Anything else (custom methods); as an ACL it matches every access type.
    Execute,
    /// Replication; WRITE and EXECUTE ACLs match it.
    Replicate,
}

impl AccessType {
    /// Whether an ACL of this type covers a request of type `requested` (exactly or by widening).
    pub fn covers(self, requested: AccessType) -> bool {
        self == requested
            || self == AccessType::Execute
            || (self == AccessType::Write && requested == AccessType::Replicate)
    }
}

impl FromStr for AccessType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "READ" => Ok(AccessType::Read),
            "WRITE" => Ok(AccessType::Write),
            "EXECUTE" => Ok(AccessType::Execute),
            "REPLICATE" => Ok(AccessType::Replicate),
            other => Err(Error::AccessType(other.to_owned())),
        }
    }
}

impl fmt::Display for AccessType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccessType::Read => "READ",
            AccessType::Write => "WRITE",
            AccessType::Execute => "EXECUTE",
            AccessType::Replicate => "REPLICATE",
        })
    }
}

/// ALLOW or DENY; ALARM and AUDIT are logged permissions that do not deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Access granted.
    Allow,
    /// Access refused.
    Deny,
    /// Granted, with an alarm.
    Alarm,
    /// Granted, audited.
    Audit,
}

impl Permission {
    /// Whether the permission refuses access.
    pub fn denies(self) -> bool {
        self == Permission::Deny
    }
}

impl FromStr for Permission {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "ALLOW" => Ok(Permission::Allow),
            "DENY" => Ok(Permission::Deny),
            "ALARM" => Ok(Permission::Alarm),
            "AUDIT" => Ok(Permission::Audit),
            other => Err(Error::Permission(other.to_owned())),
        }
    }
}

/// Who an entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// A user, by id.
    User,
    /// An application, by id.
    App,
    /// A role, by name (`$everyone`, `$owner`, `admin`, ...).
    Role,
}

impl FromStr for PrincipalType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "USER" => Ok(PrincipalType::User),
            "APP" | "APPLICATION" => Ok(PrincipalType::App),
            "ROLE" => Ok(PrincipalType::Role),
            other => Err(Error::PrincipalType(other.to_owned())),
        }
    }
}

/// Which methods an entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyMatch {
    /// Every method (`*` or no property).
    Any,
    /// These method names (canonical names or aliases).
    Names(Vec<String>),
}

/// One ACL entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    /// The model name, or `*`.
    pub model: String,
    /// The methods.
    pub property: PropertyMatch,
    /// The access type; `None` is `*`.
    pub access_type: Option<AccessType>,
    /// The principal's type.
    pub principal_type: PrincipalType,
    /// The principal's id or role name.
    pub principal_id: String,
    /// What the entry grants.
    pub permission: Permission,
}

impl AclEntry {
    /// An entry for a role; `property` `"*"` means every method. Permission defaults to ALLOW.
    pub fn role(model: &str, property: &str, access_type: Option<AccessType>, role: &str) -> Self {
        Self::new(model, property, access_type, PrincipalType::Role, role)
    }

    /// An entry for any principal type.
    pub fn new(
        model: &str,
        property: &str,
        access_type: Option<AccessType>,
        principal_type: PrincipalType,
        principal_id: &str,
    ) -> Self {
        let property = if property == "*" || property.is_empty() {
            PropertyMatch::Any
        } else {
            PropertyMatch::Names(property.split(',').map(|p| p.trim().to_owned()).collect())
        };
        Self {
            model: model.to_owned(),
            property,
            access_type,
            principal_type,
            principal_id: principal_id.to_owned(),
            permission: Permission::Allow,
        }
    }

    /// Sets the permission to ALLOW.
    pub fn allow(mut self) -> Self {
        self.permission = Permission::Allow;
        self
    }

    /// Sets the permission to DENY.
    pub fn deny(mut self) -> Self {
        self.permission = Permission::Deny;
        self
    }

    /// Sets the permission.
    pub fn permission(mut self, permission: Permission) -> Self {
        self.permission = permission;
        self
    }

    /// An entry from LoopBack's strings (`accessType` "*" or "READ", ..., `permission` "ALLOW", ...).
    pub fn parse(
        model: &str,
        property: &str,
        access_type: &str,
        principal_type: &str,
        principal_id: &str,
        permission: &str,
    ) -> Result<Self, Error> {
        let access = if access_type == "*" || access_type.is_empty() { None } else { Some(access_type.parse()?) };
        Ok(Self::new(model, property, access, principal_type.parse()?, principal_id).permission(permission.parse()?))
    }
}

impl fmt::Display for AclEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let property = match &self.property {
            PropertyMatch::Any => "*".to_owned(),
            PropertyMatch::Names(n) => n.join(","),
        };
        let access = self.access_type.map_or("*".to_owned(), |a| a.to_string());
        write!(
            f,
            "{:?} {}.{} {} {:?}:{}",
            self.permission, self.model, property, access, self.principal_type, self.principal_id
        )
    }
}
