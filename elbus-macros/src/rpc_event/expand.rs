//! The `RpcEvent` impl of a checked event enum: schema, topic (with key checks), payload map
//! and decoding by topic.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;

use super::ast::{type_span, Events, Variant};
use crate::ty::{descriptor, type_string};

pub fn expand(input: &DeriveInput, events: &Events) -> TokenStream {
    let krate = &events.krate;
    let p = quote!(#krate::__private);
    let serde = format!("{}::__private::serde", krate).replace(' ', "");
    let ident = &input.ident;
    let ns = &events.namespace;
    let schemas = events.variants.iter().map(|v| {
        let name = v.ident.to_string();
        let (topic, pattern, docs) = (&v.topic, &v.pattern, &v.docs);
        let fields = v.fields.iter().map(|(f, ty)| {
            let schema = descriptor(krate, ty, false);
            let (f, ty) = (f.to_string(), type_string(ty));
            quote!(#krate::EventFieldSchema { name: #f, ty: #ty, schema: #schema })
        });
        quote! {
            #krate::EventSchema {
                name: #name,
                topic: #topic,
                pattern: #pattern,
                description: #docs,
                fields: &[#(#fields),*],
            }
        }
    });
    let variant_arms = events.variants.iter().map(|v| {
        let (pat, name) = (pattern(v, false), v.ident.to_string());
        quote!(#pat => #name,)
    });
    let topic_arms = events.variants.iter().map(|v| {
        let pat = pattern(v, true);
        let name = v.ident.to_string();
        let parts = v.topic.split('/').map(|segment| {
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(key) => {
                    let key_ident = syn::Ident::new(key, proc_macro2::Span::call_site());
                    quote!(__topic.push_str(&#krate::key_segment(#name, #key, #key_ident)?);)
                }
                None => quote!(__topic.push_str(#segment);),
            }
        });
        let parts: Vec<TokenStream> = parts.collect();
        let mut joined = TokenStream::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                joined.extend(quote!(__topic.push('/');));
            }
            joined.extend(part.clone());
        }
        quote! {
            #pat => {
                let mut __topic = #p::std::string::String::new();
                #joined
                #p::core::result::Result::Ok(__topic)
            }
        }
    });
    let encode_arms = events.variants.iter().map(|v| {
        let pat = pattern(v, true);
        let decl = v
            .fields
            .iter()
            .map(|(f, ty)| quote_spanned!(type_span(ty)=> #f: &'__a #ty));
        let init = v.fields.iter().map(|(f, _)| quote!(#f));
        let lt = if v.fields.is_empty() {
            TokenStream::new()
        } else {
            quote!(<'__a>)
        };
        let value = if v.fields.is_empty() {
            TokenStream::new()
        } else {
            quote!(<'_>)
        };
        quote! {
            #pat => {
                #[derive(#p::serde::Serialize)]
                #[serde(crate = #serde)]
                struct __Fields #lt { #(#decl,)* }
                #p::encode_fields::<__Fields #value>(&__Fields { #(#init,)* })
            }
        }
    });
    let decode_arms = events.variants.iter().map(|v| {
        let topic = &v.topic;
        let vi = &v.ident;
        let body = if v.unit {
            quote!(#p::core::result::Result::Ok(#p::core::option::Option::Some(Self::#vi)))
        } else {
            let decl = v.fields.iter().map(|(f, ty)| quote_spanned!(type_span(ty)=> #f: #ty));
            let init = v.fields.iter().map(|(f, _)| quote!(#f: __fields.#f));
            quote! {
                #[derive(#p::serde::Deserialize)]
                #[serde(crate = #serde)]
                struct __Fields { #(#decl,)* }
                let __fields: __Fields = #p::decode_value(__payload)?;
                #p::core::result::Result::Ok(#p::core::option::Option::Some(Self::#vi { #(#init,)* }))
            }
        };
        quote! {
            if #krate::topic_matches(#topic, __topic) {
                return { #body };
            }
        }
    });
    quote! {
        #[allow(clippy::needless_borrow, unused_variables)]
        impl #krate::RpcEvent for #ident {
            const NAMESPACE: &'static str = #ns;
            const EVENTS: &'static [#krate::EventSchema] = &[#(#schemas),*];

            fn variant(&self) -> &'static str {
                match self { #(#variant_arms)* }
            }

            fn topic(&self) -> #p::core::result::Result<#p::std::string::String, #krate::EventError> {
                match self { #(#topic_arms)* }
            }

            fn encode_payload(&self) -> #p::core::result::Result<#p::std::vec::Vec<u8>, #krate::CodecError> {
                match self { #(#encode_arms)* }
            }

            fn decode(
                __topic: &str,
                __payload: &[u8],
            ) -> #p::core::result::Result<#p::core::option::Option<Self>, #krate::CodecError> {
                #(#decode_arms)*
                #p::core::result::Result::Ok(#p::core::option::Option::None)
            }
        }
    }
}

/// `Self::V { a, b }` (binding the fields when `bind`, else `{ .. }`), or `Self::V`.
fn pattern(v: &Variant, bind: bool) -> TokenStream {
    let vi = &v.ident;
    if v.unit {
        quote!(Self::#vi)
    } else if bind {
        let fields = v.fields.iter().map(|(f, _)| f);
        quote!(Self::#vi { #(#fields),* })
    } else {
        quote!(Self::#vi { .. })
    }
}
