//! The derive input as a model: fields with their JSON names, columns and types; relations.

use darling::FromDeriveInput;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{GenericArgument, Ident, Lit, LitStr, PathArguments, Type};

use crate::attr::{self, AclAttr, FieldAttr, ModelAttr, RelationAttr};
use crate::case;

pub(crate) struct Model {
    pub(crate) ident: Ident,
    pub(crate) name: String,
    pub(crate) plural: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) table: String,
    pub(crate) fields: Vec<Field>,
    pub(crate) relations: Vec<Relation>,
    pub(crate) replace_on_put: Option<bool>,
    pub(crate) force_id: Option<bool>,
    pub(crate) strict_delete: bool,
    pub(crate) custom_hooks: darling::util::Flag,
    pub(crate) krate: syn::Path,
    pub(crate) acls: Vec<AclAttr>,
    pub(crate) default_permission: Option<LitStr>,
}

pub(crate) struct Field {
    pub(crate) ident: Ident,
    pub(crate) json_name: String,
    pub(crate) column: String,
    pub(crate) ty: Type,
    pub(crate) kind: Option<TypeKind>,
    pub(crate) optional: bool,
    pub(crate) primary_key: bool,
    pub(crate) auto_increment: Option<bool>,
    pub(crate) required: bool,
    pub(crate) hidden: bool,
    pub(crate) server_managed: bool,
    pub(crate) default: Option<Lit>,
    pub(crate) default_fn: Option<LitStr>,
    pub(crate) description: Option<String>,
    pub(crate) attr_span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeKind {
    String,
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    Date,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelationKind {
    BelongsTo,
    HasMany,
    HasOne,
    HasManyThrough,
}

pub(crate) struct Relation {
    pub(crate) kind: RelationKind,
    pub(crate) attr: RelationAttr,
}

impl Field {
    pub(crate) fn generated(&self) -> bool {
        self.primary_key
            && matches!(self.kind, Some(TypeKind::I16 | TypeKind::I32 | TypeKind::I64))
            && self.auto_increment != Some(false)
    }
}

/// Reads the derive input. Errors that leave a usable model (a missing table name, a bad field)
/// come back beside it, so the semantic checks can still report theirs.
pub(crate) fn parse(input: &syn::DeriveInput) -> darling::Result<(Model, darling::error::Accumulator)> {
    let attrs = ModelAttr::from_derive_input(input)?;
    let mut errors = darling::Error::accumulator();
    let sea = errors.handle(attr::sea_orm_model(&attrs.attrs).map_err(darling::Error::from)).unwrap_or_default();
    let serde = errors.handle(attr::serde(&attrs.attrs).map_err(darling::Error::from)).unwrap_or_default();
    let table = match &sea.table_name {
        Some(t) => t.value(),
        None => {
            errors.push(
                darling::Error::custom(
                    "missing `#[sea_orm(table_name = \"...\")]`: derive PersistedModel on a sea-orm entity model",
                )
                .with_span(&attrs.ident),
            );
            String::new()
        }
    };
    let rename_all = serde.rename_all.clone();
    if let Some(rule) = &rename_all
        && case::rename(&rule.value(), "a_b").is_none()
    {
        errors
            .push(darling::Error::custom(format!("unknown serde rename_all rule `{}`", rule.value())).with_span(rule));
    }
    let fields_in = match attrs.data {
        darling::ast::Data::Struct(fields) => fields.fields,
        darling::ast::Data::Enum(_) => Vec::new(),
    };
    let mut fields = Vec::new();
    for f in fields_in {
        if let Some(field) = errors.handle(field(f, rename_all.as_ref())) {
            fields.push(field);
        }
    }
    let mut relations = Vec::new();
    for (kind, list) in [
        (RelationKind::BelongsTo, attrs.belongs_to),
        (RelationKind::HasMany, attrs.has_many),
        (RelationKind::HasOne, attrs.has_one),
        (RelationKind::HasManyThrough, attrs.has_many_through),
    ] {
        relations.extend(list.into_iter().map(|attr| Relation { kind, attr }));
    }
    let model = Model {
        name: attrs.name.map(|n| n.value()).unwrap_or_else(|| case::upper_camel(&table)),
        plural: attrs.plural.map(|p| p.value()),
        path: attrs.path.map(|p| p.value()),
        ident: attrs.ident,
        table,
        fields,
        relations,
        replace_on_put: attrs.replace_on_put,
        force_id: attrs.force_id,
        strict_delete: attrs.strict_delete,
        custom_hooks: attrs.custom_hooks,
        krate: attrs.krate.unwrap_or_else(|| syn::parse_quote!(::persisted_model)),
        acls: attrs.acl,
        default_permission: attrs.default_permission,
    };
    Ok((model, errors))
}

fn field(f: FieldAttr, rename_all: Option<&LitStr>) -> darling::Result<Field> {
    let ident = f.ident.clone().ok_or_else(|| darling::Error::custom("tuple structs are not supported"))?;
    let sea = attr::sea_orm_field(&f.attrs)?;
    let serde = attr::serde(&f.attrs)?;
    let field_name = ident.to_string().trim_start_matches("r#").to_owned();
    let json_name = match (&f.rename, &serde.rename, rename_all) {
        (Some(r), _, _) | (None, Some(r), _) => r.value(),
        (None, None, Some(rule)) => case::rename(&rule.value(), &field_name).unwrap_or_else(|| field_name.clone()),
        (None, None, None) => field_name.clone(),
    };
    let (inner, optional) = unwrap_option(&f.ty);
    Ok(Field {
        json_name,
        column: sea.column_name.map(|c| c.value()).unwrap_or(field_name),
        kind: type_kind(inner),
        ty: inner.clone(),
        optional,
        primary_key: sea.primary_key,
        auto_increment: sea.auto_increment,
        required: f.required || (!optional && !sea.primary_key),
        hidden: f.hidden || serde.skip,
        server_managed: f.server_managed,
        default: f.default,
        default_fn: f.default_fn,
        description: f.description.map(|d| d.value()).or_else(|| attr::doc_text(&f.attrs)),
        attr_span: ident.span(),
        ident,
    })
}

/// `Option<T>` → (`T`, true).
fn unwrap_option(ty: &Type) -> (&Type, bool) {
    if let Type::Path(p) = ty
        && let Some(last) = p.path.segments.last()
        && last.ident == "Option"
        && let PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(GenericArgument::Type(inner)) = args.args.first()
    {
        return (inner, true);
    }
    (ty, false)
}

/// The property type for a Rust type. A macro cannot resolve imports, so types are known by
/// name; `Value` counts as JSON only when its path says `serde_json::Value` (write `Json`,
/// sea-orm's name for it, otherwise), since many crates have a `Value`.
fn type_kind(ty: &Type) -> Option<TypeKind> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident == "Value" {
        let n = p.path.segments.len();
        let json = n >= 2 && p.path.segments[n - 2].ident == "serde_json";
        return json.then_some(TypeKind::Json);
    }
    Some(match last.ident.to_string().as_str() {
        "String" => TypeKind::String,
        "bool" => TypeKind::Bool,
        "i16" => TypeKind::I16,
        "i32" => TypeKind::I32,
        "i64" => TypeKind::I64,
        "f32" => TypeKind::F32,
        "f64" => TypeKind::F64,
        "DateTimeUtc" | "DateTime" | "DateTimeWithTimeZone" => TypeKind::Date,
        "Json" | "JsonValue" => TypeKind::Json,
        _ => return None,
    })
}

pub(crate) fn span_of(ty: &Type) -> Span {
    ty.span()
}
