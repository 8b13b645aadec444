//! The default `ModelHooks` impl, unless the model writes its own.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Model;

pub(crate) fn expand(model: &Model) -> TokenStream {
    if model.custom_hooks {
        return TokenStream::new();
    }
    let ident = &model.ident;
    let krate = &model.krate;
    quote! {
        impl #krate::ModelHooks for #ident {}
    }
}
