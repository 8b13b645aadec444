//! Code generation: one file per generated artifact, wrapped in `const _: () = { ... };`.

mod model;

use proc_macro2::TokenStream;
use quote::quote;

use crate::{ast, check};

pub(crate) fn derive(input: syn::DeriveInput) -> darling::Result<TokenStream> {
    let (model, mut errors) = ast::parse(&input)?;
    errors.handle(check::check(&model));
    errors.finish()?;
    let definition = model::expand(&model);
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_attributes, unused_qualifications, clippy::all)]
        const _: () = {
            #definition
        };
    })
}
