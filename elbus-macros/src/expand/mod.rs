//! Code generation for a validated [`Service`]: the trait (`trait_def`), `{Trait}Handler<S>`
//! (`handler`), `{Trait}Client<T>` (`client`) and the static schema (`schema`). Every runtime
//! item is reached through `{crate}::__private` or the runtime's public paths, so the expansion
//! works under `#![no_implicit_prelude]`.

mod client;
mod handler;
mod schema;
mod trait_def;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemTrait};

use crate::ast::{Output, Param, Service};
use crate::entry;

/// The whole expansion.
pub fn expand(svc: &Service) -> TokenStream {
    let trait_def = trait_def::expand_trait(svc);
    let handler = if svc.rpc_attrs.server {
        handler::expand_handler(svc)
    } else {
        TokenStream::new()
    };
    let client = if svc.rpc_attrs.client {
        client::expand_client(svc)
    } else {
        TokenStream::new()
    };
    let asserts = expand_asserts(svc);
    quote! {
        #trait_def
        #handler
        #client
        #asserts
    }
}

/// What to emit when the trait has errors: the errors plus the trait without `#[rpc]` helper
/// attributes, so the user's other code still resolves `Calc` and reports no follow-up errors.
pub fn fallback(item: &ItemTrait, error: syn::Error) -> TokenStream {
    let mut item = item.clone();
    strip_rpc_attrs(&mut item);
    let error = error.to_compile_error();
    quote! {
        #error
        #item
    }
}

fn strip_rpc_attrs(item: &mut ItemTrait) {
    item.attrs.retain(|a| !entry::is_rpc(a));
    for ti in &mut item.items {
        if let syn::TraitItem::Fn(f) = ti {
            f.attrs.retain(|a| !entry::is_rpc(a));
            for input in &mut f.sig.inputs {
                if let syn::FnArg::Typed(pt) = input {
                    pt.attrs.retain(|a| !entry::is_rpc(a));
                }
            }
        }
    }
}

pub fn private(svc: &Service) -> TokenStream {
    let krate = &svc.rpc_attrs.krate;
    quote!(#krate::__private)
}

pub fn serde_crate(svc: &Service) -> String {
    format!("{}::__private::serde", svc.rpc_attrs.krate)
}

pub fn handler_ident(svc: &Service) -> Ident {
    format_ident!("{}Handler", svc.ident)
}

pub fn client_ident(svc: &Service) -> Ident {
    format_ident!("{}Client", svc.ident)
}

pub fn field_ident(i: usize) -> Ident {
    format_ident!("__p{}", i)
}

/// `#[serde(rename = .., alias = .., default, with = ..)]` for a param field.
pub fn serde_field_attrs(svc: &Service, param: &Param, decode: bool) -> TokenStream {
    let name = &param.wire_name;
    // Spanned on the user's type, so a missing `Default` is reported there.
    let span = param.ty.span();
    let with = if param.bytes {
        let path = format!("{}::__private::serde_bytes", svc.rpc_attrs.krate).replace(' ', "");
        quote_spanned!(span=> , with = #path)
    } else {
        TokenStream::new()
    };
    if !decode {
        return quote_spanned!(span=> #[serde(rename = #name #with)]);
    }
    let aliases = param.aliases.iter().map(|(a, _)| quote!(alias = #a));
    let default = if param.optional || param.default {
        quote_spanned!(span=> , default)
    } else {
        TokenStream::new()
    };
    quote_spanned!(span=> #[serde(rename = #name #(, #aliases)* #default #with)])
}

/// Static assertions spanned on the user's types, so trait-bound failures point there. (Params,
/// server results and error types are checked where they are used, through projections.)
fn expand_asserts(svc: &Service) -> TokenStream {
    let p = private(svc);
    let mut checks = TokenStream::new();
    if svc.rpc_attrs.client {
        for m in svc.methods.iter().filter(|m| !m.bytes_result) {
            if let Output::Result { ok, .. } = &m.output {
                checks.extend(quote_spanned! {ok.span()=> #p::assert_result_decode::<#ok>(); });
            }
        }
    }
    // Serde's own errors about a param come from the derived params struct; this one names
    // the param and says what to do.
    if svc.rpc_attrs.server {
        for param in svc
            .methods
            .iter()
            .flat_map(|m| m.params())
            .filter(|p| !p.bytes)
        {
            let ty = &param.ty;
            checks.extend(quote_spanned! {ty.span()=> #p::assert_param_decode::<#ty>(); });
        }
    }
    // A `Vec<u8>` param or result without `bytes`: a deprecation warning on its type is a hint
    // that does not fail the build (a proc macro can't emit warnings of its own on stable).
    for param in svc
        .methods
        .iter()
        .flat_map(|m| m.params())
        .filter(|p| p.bytes_hint)
    {
        let note = format!(
            "the `Vec<u8>` param `{}` travels as a MessagePack array of integers (a list in Python); \
             mark it `#[rpc(bytes)]` to send MessagePack `bin` (Python `bytes`), or `#[rpc(bytes = false)]` to keep the array",
            param.ident
        );
        checks.extend(quote_spanned! {param.ty.span()=> {
            #[deprecated(note = #note)]
            #[allow(non_upper_case_globals)]
            const plain_vec_u8_param: () = ();
            plain_vec_u8_param
        };});
    }
    for m in svc.methods.iter().filter(|m| m.bytes_result_hint) {
        let Output::Result { ok, .. } = &m.output else {
            continue;
        };
        let note = format!(
            "the `Vec<u8>` result of `{}` travels as a MessagePack array of integers (a list in Python); \
             mark the method `#[rpc(bytes)]` to send MessagePack `bin` (Python `bytes`), or `#[rpc(bytes = false)]` to keep the array",
            m.ident
        );
        checks.extend(quote_spanned! {ok.span()=> {
            #[deprecated(note = #note)]
            #[allow(non_upper_case_globals)]
            const plain_vec_u8_result: () = ();
            plain_vec_u8_result
        };});
    }
    quote! {
        const _: fn() = || {
            #checks
        };
    }
}
