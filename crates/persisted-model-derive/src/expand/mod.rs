//! Code generation: one file per generated artifact, wrapped in `const _: () = { ... };`.

mod model;

use proc_macro2::TokenStream;
use quote::quote;

use crate::{ast, check};

pub(crate) fn derive(input: syn::DeriveInput) -> darling::Result<TokenStream> {
    // On errors: the errors, and an impl that stands in for the real one, so that code using
    // the model is not buried under "`Model: PersistedModel` is not satisfied" as well.
    let (model, mut errors) = match ast::parse(&input) {
        Ok(parsed) => parsed,
        Err(e) => {
            let (errors, stand_in) =
                (e.write_errors(), model::stand_in(&input.ident, &syn::parse_quote!(::persisted_model)));
            return Ok(quote! { #errors #stand_in });
        }
    };
    errors.handle(check::check(&model));
    if let Err(e) = errors.finish() {
        let (errors, stand_in) = (e.write_errors(), model::stand_in(&model.ident, &model.krate));
        return Ok(quote! { #errors #stand_in });
    }
    let definition = model::expand(&model);
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_attributes, unused_qualifications, clippy::all)]
        const _: () = {
            #definition
        };
    })
}
