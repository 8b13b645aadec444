//! `#[derive(PersistedModel)]` for persisted-model. Use it through the `persisted-model` crate.
//!
//! The pipeline follows serde_derive: `attr` reads the attributes, `ast` builds a validated
//! model of the struct, `check` applies the semantic rules, `expand` writes the code.

mod ast;
mod attr;
mod case;
mod check;
mod expand;

use proc_macro::TokenStream;

#[doc = include_str!("docs/attributes.md")]
#[proc_macro_derive(PersistedModel, attributes(persisted_model))]
pub fn derive_persisted_model(input: TokenStream) -> TokenStream {
    expand_with(input, expand::derive)
}

fn expand_with(
    input: TokenStream,
    f: impl FnOnce(syn::DeriveInput) -> Result<proc_macro2::TokenStream, darling::Error>,
) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => f(input).unwrap_or_else(|e| e.write_errors()).into(),
        Err(e) => e.to_compile_error().into(),
    }
}
