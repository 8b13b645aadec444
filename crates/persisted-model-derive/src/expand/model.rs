//! `impl PersistedModel`: the runtime definition and the table statement.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::ast::{Model, RelationKind, TypeKind};

pub(crate) fn expand(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.ident;
    let name = &model.name;
    let table = &model.table;
    let id_index = model.fields.iter().position(|f| f.primary_key).unwrap_or(0);
    let properties = model.fields.iter().map(|f| {
        let json = &f.json_name;
        let column = &f.column;
        let ty = match f.kind.unwrap_or(TypeKind::Json) {
            TypeKind::String => quote!(#krate::PropertyType::String),
            TypeKind::Bool => quote!(#krate::PropertyType::Boolean),
            TypeKind::I16 => quote!(#krate::PropertyType::Integer(#krate::IntegerWidth::I16)),
            TypeKind::I32 => quote!(#krate::PropertyType::Integer(#krate::IntegerWidth::I32)),
            TypeKind::I64 => quote!(#krate::PropertyType::Integer(#krate::IntegerWidth::I64)),
            TypeKind::F32 => quote!(#krate::PropertyType::Number(#krate::FloatWidth::F32)),
            TypeKind::F64 => quote!(#krate::PropertyType::Number(#krate::FloatWidth::F64)),
            TypeKind::Date => quote!(#krate::PropertyType::Date),
            TypeKind::Json => quote!(#krate::PropertyType::Json),
        };
        let required = f.required && !f.generated();
        let hidden = f.hidden;
        let generated = f.generated();
        let server_managed = f.server_managed;
        let default = match (&f.default, &f.default_fn) {
            (_, Some(_)) => quote!(::core::option::Option::Some(#krate::DefaultValue::Now)),
            (Some(lit), None) => quote_spanned! {lit.span()=>
                ::core::option::Option::Some(#krate::DefaultValue::Value(
                    #krate::__private::serde_json::Value::from(#lit)
                ))
            },
            (None, None) => quote!(::core::option::Option::None),
        };
        let description = match &f.description {
            Some(d) => quote!(::core::option::Option::Some(::std::string::String::from(#d))),
            None => quote!(::core::option::Option::None),
        };
        let _ = f.attr_span;
        quote! {
            #krate::Property::new(#json, #column, #ty)
                .required(#required)
                .hidden(#hidden)
                .generated(#generated)
                .server_managed(#server_managed)
                .default_value(#default)
                .description(#description)
        }
    });
    let relations = model.relations.iter().map(|r| {
        let rname = &r.attr.name;
        let target = &r.attr.model;
        let fk = &r.attr.foreign_key;
        let kind = match r.kind {
            RelationKind::BelongsTo => quote!(#krate::RelationKind::BelongsTo),
            RelationKind::HasMany => quote!(#krate::RelationKind::HasMany),
            RelationKind::HasOne => quote!(#krate::RelationKind::HasOne),
            RelationKind::HasManyThrough => quote!(#krate::RelationKind::HasManyThrough),
        };
        let through = match (&r.attr.through, &r.attr.key_through) {
            (Some(t), Some(k)) => quote!(.through(#t, #k)),
            _ => quote!(),
        };
        let disable = r.attr.disable_include;
        let authorize = r.attr.authorize_target.unwrap_or(true);
        quote! {
            #krate::Relation::new(#rname, #kind, #target, #fk) #through
                .disable_include(#disable)
                .authorize_target(#authorize)
        }
    });
    let plural = model
        .plural
        .as_ref()
        .map(|p| quote!(def.plural = ::std::string::String::from(#p); def.path = def.plural.clone();));
    let path = model.path.as_ref().map(|p| quote!(def.path = ::std::string::String::from(#p);));
    let replace = model.replace_on_put.map(|v| quote!(def.settings.replace_on_put = #v;));
    let force = model.force_id.map(|v| quote!(def.settings.force_id = ::core::option::Option::Some(#v);));
    let strict_delete = model.strict_delete;
    let acls = model.acls.iter().map(|a| {
        let (ptype, pid) = match (&a.role, &a.user, &a.app) {
            (Some(r), _, _) => ("ROLE", r.value()),
            (_, Some(u), _) => ("USER", u.value()),
            (_, _, Some(p)) => ("APP", p.value()),
            _ => ("ROLE", String::new()),
        };
        let property = a.property.as_ref().map_or("*".to_owned(), |p| p.value());
        let access = a.access_type.as_ref().map_or("*".to_owned(), |p| p.value());
        let permission = a.permission.value();
        quote! {
            match #krate::__private::acl::AclEntry::parse(&def.name, #property, #access, #ptype, #pid, #permission) {
                ::core::result::Result::Ok(entry) => def.acls.push(entry),
                ::core::result::Result::Err(_) => ::core::unreachable!("checked by the derive"),
            }
        }
    });
    let default_permission = model.default_permission.as_ref().map(|p| {
        let variant = if p.value() == "DENY" { quote!(Deny) } else { quote!(Allow) };
        quote!(def.settings.default_permission = ::core::option::Option::Some(#krate::__private::acl::Permission::#variant);)
    });
    quote! {
        impl #krate::PersistedModel for #ident {
            fn definition() -> #krate::ModelDefinition {
                let mut def = #krate::ModelDefinition::new(#name, #table);
                #plural
                #path
                def.properties = ::std::vec![#(#properties),*];
                def.id = #id_index;
                def.relations = ::std::vec![#(#relations),*];
                #replace
                #force
                def.settings.strict_delete = #strict_delete;
                #(#acls)*
                #default_permission
                def
            }

            fn create_table_statement(
                backend: #krate::__private::sea_orm::DbBackend,
            ) -> #krate::__private::sea_orm::sea_query::TableCreateStatement {
                #krate::__private::sea_orm::Schema::new(backend).create_table_from_entity(Entity)
            }
        }
    }
}

/// The impl emitted beside compile errors: it never runs, since the crate does not compile.
pub(crate) fn stand_in(ident: &syn::Ident, krate: &syn::Path) -> TokenStream {
    quote! {
        const _: () = {
            impl #krate::PersistedModel for #ident {
                fn definition() -> #krate::ModelDefinition {
                    ::core::unreachable!("the model has compile errors")
                }

                fn create_table_statement(
                    _: #krate::__private::sea_orm::DbBackend,
                ) -> #krate::__private::sea_orm::sea_query::TableCreateStatement {
                    ::core::unreachable!("the model has compile errors")
                }
            }
        };
    }
}
