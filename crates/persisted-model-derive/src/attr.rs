//! Attribute receivers (darling) and readers for the sea-orm and serde attributes we honour.

use darling::{FromDeriveInput, FromField, FromMeta};
use syn::{Attribute, Expr, Ident, Lit, LitStr, Token, Type};

/// `#[persisted_model(...)]` on the struct.
#[derive(Debug, FromDeriveInput)]
#[darling(attributes(persisted_model), supports(struct_named), forward_attrs(sea_orm, serde, doc))]
pub(crate) struct ModelAttr {
    pub(crate) ident: Ident,
    pub(crate) data: darling::ast::Data<(), FieldAttr>,
    pub(crate) attrs: Vec<Attribute>,
    /// The LoopBack model name (default: the table name in UpperCamelCase).
    pub(crate) name: Option<LitStr>,
    /// The plural (default: English plural of the name).
    pub(crate) plural: Option<LitStr>,
    /// The REST path segment (default: the plural).
    pub(crate) path: Option<LitStr>,
    /// LoopBack's `replaceOnPUT` (default true).
    pub(crate) replace_on_put: Option<bool>,
    /// LoopBack's `forceId` (default: on for generated ids).
    pub(crate) force_id: Option<bool>,
    /// LoopBack's `strictDelete`.
    #[darling(default)]
    pub(crate) strict_delete: bool,
    /// Gone: hooks are values registered with the model (read only to say so).
    #[darling(default)]
    pub(crate) custom_hooks: darling::util::Flag,
    /// Path of the persisted-model crate in generated code.
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
    #[darling(multiple)]
    pub(crate) belongs_to: Vec<RelationAttr>,
    #[darling(multiple)]
    pub(crate) has_many: Vec<RelationAttr>,
    #[darling(multiple)]
    pub(crate) has_one: Vec<RelationAttr>,
    #[darling(multiple)]
    pub(crate) has_many_through: Vec<RelationAttr>,
    /// Static ACL entries.
    #[darling(multiple)]
    pub(crate) acl: Vec<AclAttr>,
    /// LoopBack's `defaultPermission`: `"ALLOW"` or `"DENY"`.
    pub(crate) default_permission: Option<LitStr>,
}

/// `acl(role = "$everyone", property = "find", access_type = "READ", permission = "DENY")`.
#[derive(Debug, Clone, FromMeta)]
pub(crate) struct AclAttr {
    pub(crate) role: Option<LitStr>,
    pub(crate) user: Option<LitStr>,
    pub(crate) app: Option<LitStr>,
    pub(crate) property: Option<LitStr>,
    pub(crate) access_type: Option<LitStr>,
    pub(crate) permission: LitStr,
}

/// `belongs_to(...)`, `has_many(...)`, ...
#[derive(Debug, Clone, FromMeta)]
pub(crate) struct RelationAttr {
    pub(crate) name: LitStr,
    pub(crate) model: LitStr,
    pub(crate) foreign_key: LitStr,
    pub(crate) through: Option<LitStr>,
    pub(crate) key_through: Option<LitStr>,
    #[darling(default)]
    pub(crate) disable_include: bool,
    pub(crate) authorize_target: Option<bool>,
}

/// `#[persisted_model(...)]` on a field.
#[derive(Debug, FromField)]
#[darling(attributes(persisted_model), forward_attrs(sea_orm, serde, doc))]
pub(crate) struct FieldAttr {
    pub(crate) ident: Option<Ident>,
    pub(crate) ty: Type,
    pub(crate) attrs: Vec<Attribute>,
    /// Never sent to clients, never usable in filters.
    #[darling(default)]
    pub(crate) hidden: bool,
    /// Must be present and not blank (implied for non-`Option` fields).
    #[darling(default)]
    pub(crate) required: bool,
    /// Set by the server only.
    #[darling(default)]
    pub(crate) server_managed: bool,
    /// A default for new instances.
    pub(crate) default: Option<Lit>,
    /// `"now"`: the current time for new instances.
    pub(crate) default_fn: Option<LitStr>,
    /// The JSON name (default: serde's name).
    pub(crate) rename: Option<LitStr>,
    /// Description for the API documentation (default: the doc comment).
    pub(crate) description: Option<LitStr>,
}

/// What we read from `#[sea_orm(...)]` on the struct.
#[derive(Debug, Default)]
pub(crate) struct SeaOrmModel {
    pub(crate) table_name: Option<LitStr>,
}

/// What we read from `#[sea_orm(...)]` on a field.
#[derive(Debug, Default)]
pub(crate) struct SeaOrmField {
    pub(crate) primary_key: bool,
    pub(crate) auto_increment: Option<bool>,
    pub(crate) column_name: Option<LitStr>,
}

/// What we read from `#[serde(...)]`.
#[derive(Debug, Default)]
pub(crate) struct SerdeAttr {
    pub(crate) rename: Option<LitStr>,
    pub(crate) rename_all: Option<LitStr>,
    pub(crate) skip: bool,
}

/// Skips the value of a key we do not read (`= expr` or `(...)`).
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _: proc_macro2::TokenTree = meta.input.parse()?;
    }
    Ok(())
}

fn for_each(
    attrs: &[Attribute],
    name: &str,
    mut f: impl FnMut(syn::meta::ParseNestedMeta<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    for attr in attrs.iter().filter(|a| a.path().is_ident(name)) {
        attr.parse_nested_meta(&mut f)?;
    }
    Ok(())
}

pub(crate) fn sea_orm_model(attrs: &[Attribute]) -> syn::Result<SeaOrmModel> {
    let mut out = SeaOrmModel::default();
    for_each(attrs, "sea_orm", |meta| {
        if meta.path.is_ident("table_name") {
            out.table_name = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            skip_value(&meta)
        }
    })?;
    Ok(out)
}

pub(crate) fn sea_orm_field(attrs: &[Attribute]) -> syn::Result<SeaOrmField> {
    let mut out = SeaOrmField::default();
    for_each(attrs, "sea_orm", |meta| {
        if meta.path.is_ident("primary_key") {
            out.primary_key = true;
            Ok(())
        } else if meta.path.is_ident("auto_increment") {
            let v: syn::LitBool = meta.value()?.parse()?;
            out.auto_increment = Some(v.value);
            Ok(())
        } else if meta.path.is_ident("column_name") {
            out.column_name = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            skip_value(&meta)
        }
    })?;
    Ok(out)
}

pub(crate) fn serde(attrs: &[Attribute]) -> syn::Result<SerdeAttr> {
    let mut out = SerdeAttr::default();
    for_each(attrs, "serde", |meta| {
        if meta.path.is_ident("rename") && meta.input.peek(Token![=]) {
            out.rename = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("rename_all") && meta.input.peek(Token![=]) {
            out.rename_all = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("skip") {
            out.skip = true;
            Ok(())
        } else {
            skip_value(&meta)
        }
    })?;
    Ok(out)
}

/// The text of `///` doc comments, joined.
pub(crate) fn doc_text(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join(" ").trim().to_owned();
    (!text.is_empty()).then_some(text)
}
