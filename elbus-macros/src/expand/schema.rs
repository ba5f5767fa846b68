//! The static `ServiceSchema` that `Trait::schema()` returns and `rpc.describe` serves.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use super::private;
use crate::ast::{Output, Service};
use crate::ty::{descriptor, type_string};

fn opt_str(p: &TokenStream, s: Option<&str>) -> TokenStream {
    match s {
        Some(s) => quote!(#p::core::option::Option::Some(#s)),
        None => quote!(#p::core::option::Option::None),
    }
}

fn opt_u64(p: &TokenStream, v: Option<u64>) -> TokenStream {
    match v {
        Some(v) => quote!(#p::core::option::Option::Some(#v)),
        None => quote!(#p::core::option::Option::None),
    }
}

fn meta_slice(meta: &[(String, String)]) -> TokenStream {
    let pairs = meta.iter().map(|(k, v)| quote!((#k, #v)));
    quote!(&[#(#pairs),*])
}

pub fn expand_schema(svc: &Service) -> TokenStream {
    let p = private(svc);
    let krate = &svc.rpc_attrs.krate;
    let name = svc.ident.unraw().to_string();
    let namespace = svc
        .rpc_attrs
        .namespace
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_default();
    let version = opt_str(&p, svc.rpc_attrs.version.as_deref());
    let docs = &svc.docs;
    let timeout = opt_u64(&p, svc.rpc_attrs.timeout_ms);
    let meta = meta_slice(&svc.rpc_attrs.meta);
    let methods = svc.methods.iter().map(|m| {
        let name = &m.wire_name;
        let aliases = m.aliases.iter().map(|a| a.value());
        let rust_name = m.ident.unraw().to_string();
        let docs = &m.docs;
        let params = m.params().map(|param| {
            let name = &param.wire_name;
            let aliases = param.aliases.iter().map(|(a, _)| a);
            let ty = type_string(&param.ty);
            let required = !param.optional && !param.default;
            let default = param.default;
            let schema = descriptor(krate, &param.ty, param.bytes);
            quote! {
                #krate::ParamSchema {
                    name: #name,
                    aliases: &[#(#aliases),*],
                    ty: #ty,
                    required: #required,
                    default: #default,
                    schema: #schema,
                }
            }
        });
        let (returns, result, error, errors) = match &m.output {
            Output::Result { ok, err } => {
                let errors = quote_spanned!(err.span()=> <#err as #krate::RpcErrorCode>::ERRORS);
                let result = descriptor(krate, ok, m.bytes_result);
                (type_string(ok), result, type_string(err), errors)
            }
            Output::Unit => {
                let unit: syn::Type = syn::parse_quote!(());
                let result = descriptor(krate, &unit, false);
                ("()".to_owned(), result, String::new(), quote!(&[]))
            }
        };
        let notify = m.notify;
        let stream = m.stream;
        let timeout = opt_u64(&p, m.timeout_ms);
        let meta = meta_slice(&m.meta);
        quote! {
            #krate::MethodSchema {
                name: #name,
                aliases: &[#(#aliases),*],
                rust_name: #rust_name,
                description: #docs,
                params: &[#(#params),*],
                returns: #returns,
                result: #result,
                error: #error,
                errors: #errors,
                notify: #notify,
                stream: #stream,
                timeout_ms: #timeout,
                meta: #meta,
            }
        }
    });
    let mut error_types: Vec<(String, &syn::Type)> = Vec::new();
    for m in &svc.methods {
        if let Output::Result { err, .. } = &m.output {
            let name = type_string(err);
            if !error_types.iter().any(|(n, _)| *n == name) {
                error_types.push((name, err));
            }
        }
    }
    let error_types = error_types.iter().map(|(name, err)| {
        let codes = quote_spanned!(err.span()=> <#err as #krate::RpcErrorCode>::ERRORS);
        quote!(#krate::ErrorTypeSchema { name: #name, codes: #codes })
    });
    let events = match &svc.rpc_attrs.events {
        // Spanned on the type, so a type without the derive is reported there.
        Some(path) => quote_spanned!(path.span()=> <#path as #krate::RpcEvent>::EVENTS),
        None => quote!(&[]),
    };
    quote! {
        #krate::ServiceSchema {
            events: #events,
            errors: &[#(#error_types),*],
            name: #name,
            namespace: #namespace,
            version: #version,
            description: #docs,
            timeout_ms: #timeout,
            meta: #meta,
            methods: &[#(#methods),*],
        }
    }
}
