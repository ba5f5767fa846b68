//! `#[derive(RpcError)]`: stable wire codes for a service error enum, as its own small pipeline:
//! typed attributes (`attr`) -> the IR, parsed and checked (`ast`) -> the impl (`expand`).

mod ast;
mod attr;
mod expand;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::diag::Errors;

/// The expansion of `#[derive(RpcError)]`, or its errors.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let attrs = attr::ErrorTypeAttrs::parse(&input.attrs, &mut errors);
    let variants = match ast::enum_data(input, &mut errors) {
        Some(data) => ast::parse_variants(input, data, &mut errors),
        None => Vec::new(),
    };
    if let Some(e) = errors.finish() {
        let error = e.to_compile_error();
        let fallback = expand::fallback(input, &attrs.krate);
        return quote::quote!(#error #fallback);
    }
    expand::expand(input, &attrs.krate, &variants)
}
