//! LoopBack's specificity score (`ACL.getMatchingScore`), as a number whose digits are, from
//! most to least significant: model, property, access type, principal type, role kind,
//! permission.

use crate::entry::{AclEntry, Permission, PrincipalType, PropertyMatch};
use crate::policy::AccessRequest;
use crate::role::BuiltinRole;

/// The score of `entry` for `request`, or `None` when the entry does not match the request's
/// model, method or access type.
pub fn score(entry: &AclEntry, request: &AccessRequest<'_>) -> Option<u64> {
    let model = if entry.model == request.model {
        3
    } else if entry.model == "*" {
        2
    } else {
        return None;
    };
    let property = match &entry.property {
        PropertyMatch::Any => 2,
        PropertyMatch::Names(names) if names.iter().any(|n| n == "*") => 2,
        PropertyMatch::Names(names) if names.iter().any(|n| request.names().any(|m| m == n)) => 3,
        PropertyMatch::Names(_) => return None,
    };
    let access = match entry.access_type {
        None => 2,
        Some(a) if a.covers(request.access_type) => 3,
        Some(_) => return None,
    };
    let principal = match entry.principal_type {
        PrincipalType::User => 4,
        PrincipalType::App => 3,
        PrincipalType::Role => 2,
    };
    let role = match entry.principal_type {
        PrincipalType::Role => match BuiltinRole::from_name(&entry.principal_id) {
            None => 5,
            Some(BuiltinRole::Owner) => 4,
            Some(BuiltinRole::Related) => 3,
            Some(BuiltinRole::Authenticated | BuiltinRole::Unauthenticated) => 2,
            Some(BuiltinRole::Everyone) => 1,
        },
        _ => 0,
    };
    let permission = match entry.permission {
        Permission::Deny => 3,
        Permission::Audit => 2,
        Permission::Alarm => 1,
        Permission::Allow => 0,
    };
    // Each digit below 8: base 8 keeps the order lexicographic.
    Some([model, property, access, principal, role, permission].iter().fold(0u64, |acc, d| acc * 8 + d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::AccessType;

    /// LoopBack's "should order ACL entries based on the matching score" case, rewritten.
    #[test]
    fn entries_sort_by_specificity() {
        let req = AccessRequest::new("account", "find", AccessType::Write);
        let mut entries = [
            ("wildcard everything", AclEntry::role("account", "*", None, "$everyone").allow()),
            ("exact property", AclEntry::role("account", "find", None, "$everyone").allow()),
            ("exact access", AclEntry::role("account", "*", Some(AccessType::Write), "$everyone").allow()),
            ("execute widening", AclEntry::role("account", "*", Some(AccessType::Execute), "$everyone").allow()),
            ("any model", AclEntry::role("*", "find", Some(AccessType::Write), "$everyone").allow()),
            ("user principal", AclEntry::new("account", "*", None, crate::PrincipalType::User, "u1").allow()),
            ("deny tie", AclEntry::role("account", "*", None, "$everyone").deny()),
        ];
        entries.sort_by_key(|(_, e)| std::cmp::Reverse(score(e, &req).unwrap()));
        let order: Vec<&str> = entries.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            order,
            vec![
                "exact property",
                "exact access",
                "execute widening",
                "user principal",
                "deny tie",
                "wildcard everything",
                "any model"
            ]
        );
    }

    #[test]
    fn entries_for_other_methods_or_access_types_do_not_match() {
        let req = AccessRequest::new("account", "find", AccessType::Read);
        assert_eq!(score(&AclEntry::role("account", "create", None, "$everyone"), &req), None);
        assert_eq!(score(&AclEntry::role("account", "*", Some(AccessType::Write), "$everyone"), &req), None);
        assert_eq!(score(&AclEntry::role("other", "*", None, "$everyone"), &req), None);
    }
}
