//! The trait itself, as the user wrote it plus `Send + Sync + 'static`, `NAME`, `schema()` and
//! `into_handler()`.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::ext::IdentExt;

use super::{handler_ident, private, schema::expand_schema};
use crate::ast::{Arg, Method, Service};

/// The output type of a method's future: the return type as the user wrote it.
fn output_type(m: &Method) -> TokenStream {
    match &m.ret {
        Some(ty) => ty.to_token_stream(),
        None => quote!(()),
    }
}

fn fn_args(m: &Method) -> Vec<TokenStream> {
    m.args
        .iter()
        .map(|a| match a {
            Arg::Param(p) => {
                let (attrs, ident, ty) = (&p.attrs, &p.ident, &p.ty);
                quote!(#(#attrs)* #ident: #ty)
            }
            Arg::Context { ident, ty } => quote!(#ident: #ty),
        })
        .collect()
}

pub fn expand_trait(svc: &Service) -> TokenStream {
    let p = private(svc);
    let krate = &svc.rpc_attrs.krate;
    let (vis, ident, attrs) = (&svc.vis, &svc.ident, &svc.attrs);
    let supertraits = svc.supertraits.iter();
    let methods = svc.methods.iter().map(|m| {
        let (attrs, name) = (&m.attrs, &m.ident);
        let args = fn_args(m);
        let output = output_type(m);
        if let Some(syn::Type::ImplTrait(written)) = &m.stream_ret {
            // The return type as written, plus `'static`: the stream outlives the call that
            // opens it (the server keeps it until the caller has pulled it to the end).
            let mut ret = written.clone();
            let is_static = |b: &syn::TypeParamBound| matches!(b, syn::TypeParamBound::Lifetime(l) if l.ident == "static");
            if !ret.bounds.iter().any(is_static) {
                ret.bounds.push(syn::parse_quote!('static));
            }
            return quote! {
                #(#attrs)*
                fn #name(&self, #(#args),*) -> #ret;
            };
        }
        quote! {
            #(#attrs)*
            fn #name(&self, #(#args),*) -> impl #p::core::future::Future<Output = #output> + #p::core::marker::Send;
        }
    });
    let name = ident.unraw().to_string();
    let schema = expand_schema(svc);
    let handler = handler_ident(svc);
    let into_handler = if svc.rpc_attrs.server {
        let doc = format!("Wraps this implementation into its server adapter, [`{handler}`].");
        quote! {
            #[doc = #doc]
            fn into_handler(self) -> #handler<Self>
            where
                Self: #p::core::marker::Sized,
            {
                #handler::new(self)
            }
        }
    } else {
        TokenStream::new()
    };
    quote! {
        #(#attrs)*
        #vis trait #ident: #(#supertraits +)* #p::core::marker::Send + #p::core::marker::Sync + 'static {
            #(#methods)*

            /// The service's name (the trait's name).
            const NAME: &'static str = #name;

            /// The service's static schema (methods, params, error codes), as `rpc.describe` serves it.
            fn schema() -> &'static #krate::ServiceSchema
            where
                Self: #p::core::marker::Sized,
            {
                static SCHEMA: #krate::ServiceSchema = #schema;
                &SCHEMA
            }

            #into_handler
        }
    }
}
