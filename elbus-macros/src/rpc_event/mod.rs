//! `#[derive(RpcEvent)]`: an enum of typed events, as its own small pipeline: the typed
//! attributes and the IR, parsed and checked (`ast`) -> the impl (`expand`).

mod ast;
mod expand;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::diag::Errors;

/// The expansion of `#[derive(RpcEvent)]`, or its errors.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let events = ast::parse(input, &mut errors);
    match (errors.finish(), events) {
        (None, Some(events)) => expand::expand(input, &events),
        (Some(e), _) => e.to_compile_error(),
        (None, None) => TokenStream::new(),
    }
}
