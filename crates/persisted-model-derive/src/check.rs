//! Semantic rules on the parsed model, one `check_*` each; every error points at its token.

use darling::Error;

use crate::ast::{Model, RelationKind, TypeKind, span_of};

pub(crate) fn check(model: &Model) -> darling::Result<()> {
    let mut errors = Error::accumulator();
    check_types(model, &mut errors);
    check_primary_key(model, &mut errors);
    check_defaults(model, &mut errors);
    check_relations(model, &mut errors);
    check_acls(model, &mut errors);
    check_hooks(model, &mut errors);
    errors.finish()
}

fn check_hooks(model: &Model, errors: &mut darling::error::Accumulator) {
    if model.custom_hooks.is_present() {
        errors.push(
            Error::custom(
                "`custom_hooks` is gone: hooks are values. Implement `ModelHooks` (methods take `&self`) on a type \
                 of your own and register it: `RestApiBuilder::model_with::<Model>(hooks)` or \
                 `ModelHandle::of::<Model>().with_hooks(hooks)`",
            )
            .with_span(&model.custom_hooks.span()),
        );
    }
}

fn check_types(model: &Model, errors: &mut darling::error::Accumulator) {
    for f in &model.fields {
        if f.kind.is_none() {
            errors.push(
                Error::custom(
                    "unsupported property type: use String, bool, i16, i32, i64, f32, f64, DateTimeUtc, DateTime or Json (optionally in Option<...>); for JSON write `Json` or `serde_json::Value`",
                )
                .with_span(&span_of(&f.ty)),
            );
        }
    }
}

fn check_primary_key(model: &Model, errors: &mut darling::error::Accumulator) {
    let keys: Vec<_> = model.fields.iter().filter(|f| f.primary_key).collect();
    match keys.as_slice() {
        [] => {
            errors.push(Error::custom("missing id: mark one field `#[sea_orm(primary_key)]`").with_span(&model.ident))
        }
        [one] => {
            if one.hidden {
                errors.push(Error::custom("the id property cannot be hidden").with_span(&one.ident));
            }
            if one.optional {
                errors.push(Error::custom("the id property cannot be an Option").with_span(&one.ident));
            }
        }
        [_, second, ..] => errors.push(
            Error::custom("composite primary keys are not supported: LoopBack models have one id property")
                .with_span(&second.ident),
        ),
    }
}

fn check_defaults(model: &Model, errors: &mut darling::error::Accumulator) {
    for f in &model.fields {
        if let Some(d) = &f.default_fn
            && d.value() != "now"
        {
            errors.push(Error::custom("unknown default_fn: the only one is \"now\"").with_span(d));
        }
        if f.default_fn.is_some() && f.kind != Some(TypeKind::Date) {
            errors.push(Error::custom("default_fn = \"now\" needs a date property").with_span(&f.ident));
        }
        if let Some(lit) = &f.default {
            let fits = match (lit, f.kind) {
                (syn::Lit::Str(_), Some(TypeKind::String | TypeKind::Date | TypeKind::Json)) => true,
                (syn::Lit::Bool(_), Some(TypeKind::Bool | TypeKind::Json)) => true,
                (
                    syn::Lit::Int(_),
                    Some(
                        TypeKind::I16 | TypeKind::I32 | TypeKind::I64 | TypeKind::F32 | TypeKind::F64 | TypeKind::Json,
                    ),
                ) => true,
                (syn::Lit::Float(_), Some(TypeKind::F32 | TypeKind::F64 | TypeKind::Json)) => true,
                _ => f.kind.is_none(),
            };
            if !fits {
                let ty = &f.ty;
                let ty = quote::quote!(#ty).to_string().replace(' ', "");
                errors.push(
                    Error::custom(format!("the default does not match the property's type `{ty}`")).with_span(lit),
                );
            }
        }
    }
}

fn check_relations(model: &Model, errors: &mut darling::error::Accumulator) {
    let mut seen: Vec<String> = Vec::new();
    for r in &model.relations {
        let name = r.attr.name.value();
        if seen.contains(&name) {
            errors.push(Error::custom(format!("duplicate relation `{name}`")).with_span(&r.attr.name));
        }
        if model.fields.iter().any(|f| f.json_name == name) {
            errors.push(Error::custom(format!("relation `{name}` has the name of a property")).with_span(&r.attr.name));
        }
        seen.push(name);
        if r.kind == RelationKind::BelongsTo {
            let fk = r.attr.foreign_key.value();
            if !model.fields.iter().any(|f| f.json_name == fk) {
                let known: Vec<_> = model.fields.iter().map(|f| f.json_name.as_str()).collect();
                errors.push(
                    Error::custom(format!(
                        "foreign key `{fk}` is not a property of this model (properties: {})",
                        known.join(", ")
                    ))
                    .with_span(&r.attr.foreign_key),
                );
            }
        }
        let through = r.attr.through.is_some() && r.attr.key_through.is_some();
        if (r.kind == RelationKind::HasManyThrough) != through {
            let msg = if through {
                "`through` and `key_through` belong to has_many_through"
            } else {
                "has_many_through needs `through` and `key_through`"
            };
            errors.push(Error::custom(msg).with_span(&r.attr.name));
        }
    }
}

const PERMISSIONS: &[&str] = &["ALLOW", "DENY", "ALARM", "AUDIT"];
const ACCESS_TYPES: &[&str] = &["*", "READ", "WRITE", "EXECUTE", "REPLICATE"];

fn check_acls(model: &Model, errors: &mut darling::error::Accumulator) {
    for acl in &model.acls {
        if !PERMISSIONS.contains(&acl.permission.value().as_str()) {
            errors.push(Error::custom("permission must be ALLOW, DENY, ALARM or AUDIT").with_span(&acl.permission));
        }
        if let Some(a) = &acl.access_type
            && !ACCESS_TYPES.contains(&a.value().as_str())
        {
            errors.push(Error::custom("access_type must be *, READ, WRITE, EXECUTE or REPLICATE").with_span(a));
        }
        let principals = [&acl.role, &acl.user, &acl.app].iter().filter(|p| p.is_some()).count();
        if principals != 1 {
            errors
                .push(Error::custom("an acl names exactly one of `role`, `user` or `app`").with_span(&acl.permission));
        }
    }
    if let Some(p) = &model.default_permission
        && !["ALLOW", "DENY"].contains(&p.value().as_str())
    {
        errors.push(Error::custom("default_permission must be ALLOW or DENY").with_span(p));
    }
}
