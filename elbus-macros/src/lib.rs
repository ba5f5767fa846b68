//! The `#[rpc]` procedural macro of elbus typed RPC; users depend on `elbus-rpc`, which re-exports it.
//!
//! Layout (thiserror's `impl/` style), a pipeline per macro: typed attributes -> IR -> validate
//! -> expand, every error collected with its span and nothing panicking.
//!
//! | module | what it holds |
//! |---|---|
//! | `diag` | the error collector (`diag::Errors`) |
//! | `entry` | the strict `#[rpc(key = value, ..)]` entry parser and its value readers, shared by every site |
//! | `attr` | the typed attributes of a service, one struct per site: trait, method, param |
//! | `case` | `rename_all` casings |
//! | `ty` | recognising types (`Result`, `Option`, `&RpcContext`, `impl Future`, ...) |
//! | `ast` | the IR of a service |
//! | `parse` | `syn` trait -> IR, with the checks of one token |
//! | `valid` | the checks across items (wire-name collisions, reserved names, ...) |
//! | `expand` | code generation: the trait, the handler, the client, the schema |
//! | `rpc_error` | `#[derive(RpcError)]`: its own `attr`, `ast` and `expand` |
//! | `rpc_event` | `#[derive(RpcEvent)]`: its own `ast` (attributes and checks) and `expand` |

mod ast;
mod attr;
mod case;
mod diag;
mod entry;
mod expand;
mod parse;
mod rpc_error;
mod rpc_event;
mod ty;
mod valid;

use proc_macro::TokenStream;
use syn::punctuated::Punctuated;
use syn::{Meta, Token};

/// Turns a trait into a typed RPC service. See the `elbus-rpc` crate for the documentation.
#[proc_macro_attribute]
pub fn rpc(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = diag::Errors::default();
    let args =
        match syn::parse::Parser::parse(Punctuated::<Meta, Token![,]>::parse_terminated, args) {
            Ok(args) => args,
            Err(e) => {
                errors.add(e);
                Punctuated::new()
            }
        };
    let item = match syn::parse::<syn::Item>(input.clone()) {
        Ok(syn::Item::Trait(item)) => item,
        Ok(other) => {
            let mut e = syn::Error::new_spanned(
                item_keyword(&other),
                "`#[rpc]` can only be applied to a trait: declare the service as `trait Name { async fn method(&self, ..) -> Result<T, E>; }`",
            );
            if let Some(first) = errors.finish() {
                e.combine(first);
            }
            let mut out = e.to_compile_error();
            out.extend(proc_macro2::TokenStream::from(input));
            return out.into();
        }
        Err(e) => {
            errors.add(e);
            let mut out = errors
                .finish()
                .map(|e| e.to_compile_error())
                .unwrap_or_default();
            out.extend(proc_macro2::TokenStream::from(input));
            return out.into();
        }
    };
    let svc = parse::parse_service(args, &item, &mut errors);
    valid::validate(&svc, &mut errors);
    match errors.finish() {
        Some(e) => expand::fallback(&item, e).into(),
        None => expand::expand(&svc).into(),
    }
}

/// The token to blame when `#[rpc]` sits on something that isn't a trait.
fn item_keyword(item: &syn::Item) -> proc_macro2::TokenStream {
    use quote::ToTokens;
    match item {
        syn::Item::Struct(i) => i.struct_token.to_token_stream(),
        syn::Item::Enum(i) => i.enum_token.to_token_stream(),
        syn::Item::Fn(i) => i.sig.fn_token.to_token_stream(),
        syn::Item::Impl(i) => i.impl_token.to_token_stream(),
        syn::Item::Mod(i) => i.mod_token.to_token_stream(),
        syn::Item::Union(i) => i.union_token.to_token_stream(),
        syn::Item::Type(i) => i.type_token.to_token_stream(),
        other => other.to_token_stream(),
    }
}

/// Derives `RpcErrorCode` for a service error enum. See the `elbus-rpc` crate for the documentation.
#[proc_macro_derive(RpcError, attributes(rpc))]
pub fn derive_rpc_error(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => rpc_error::derive(&input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Derives `RpcEvent` for an enum of events. See the `elbus-rpc` crate for the documentation.
#[proc_macro_derive(RpcEvent, attributes(rpc))]
pub fn derive_rpc_event(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => rpc_event::derive(&input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}
