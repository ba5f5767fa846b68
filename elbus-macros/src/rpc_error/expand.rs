//! The `RpcErrorCode` impl: the error schema, and the code, message and `from_code` matches.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::DeriveInput;

use super::ast::{Payload, Variant};

/// A code as an unsuffixed literal, so it types as the `i16` it is compared with.
fn code_tokens(code: i16) -> TokenStream {
    let lit = Literal::i16_unsuffixed(code.unsigned_abs() as i16);
    if code < 0 {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

/// The impl for `input`, whose checked variants are `variants`.
pub fn expand(input: &DeriveInput, krate: &TokenStream, variants: &[Variant]) -> TokenStream {
    let p = quote!(#krate::__private);
    let ident = &input.ident;
    let schema = variants.iter().map(|v| {
        let name = v.ident.to_string();
        let code = code_tokens(v.code);
        let docs = &v.docs;
        let has_message = !matches!(v.payload, Payload::Unit);
        quote! {
            #krate::ErrorSchema { name: #name, code: #code, description: #docs, has_message: #has_message }
        }
    });
    let code_arms = variants.iter().map(|v| {
        let (vi, code) = (&v.ident, code_tokens(v.code));
        match &v.payload {
            Payload::Unit => quote!(Self::#vi => #code,),
            Payload::Tuple => quote!(Self::#vi(..) => #code,),
            Payload::Named(_) => quote!(Self::#vi { .. } => #code,),
        }
    });
    let message_arms = variants.iter().map(|v| {
        let vi = &v.ident;
        let msg = &v.message;
        match &v.payload {
            Payload::Unit => quote!(Self::#vi => <#p::std::string::String as #p::core::convert::From<&str>>::from(#msg),),
            Payload::Tuple => quote!(Self::#vi(__m) => #p::core::clone::Clone::clone(__m),),
            Payload::Named(f) => quote!(Self::#vi { #f: __m } => #p::core::clone::Clone::clone(__m),),
        }
    });
    let from_arms = variants.iter().map(|v| {
        let (vi, code) = (&v.ident, code_tokens(v.code));
        let value = match &v.payload {
            Payload::Unit => quote!(Self::#vi),
            Payload::Tuple => quote!(Self::#vi(<#p::std::string::String as #p::core::convert::From<&str>>::from(__message))),
            Payload::Named(f) => quote!(Self::#vi { #f: <#p::std::string::String as #p::core::convert::From<&str>>::from(__message) }),
        };
        quote!(#code => #p::core::option::Option::Some(#value),)
    });
    let uses_message = variants.iter().any(|v| !matches!(v.payload, Payload::Unit));
    let message_binding = if uses_message {
        quote!(__message)
    } else {
        quote!(_)
    };
    quote! {
        #[automatically_derived]
        impl #krate::RpcErrorCode for #ident {
            const ERRORS: &'static [#krate::ErrorSchema] = &[#(#schema),*];

            fn code(&self) -> i16 {
                match self {
                    #(#code_arms)*
                }
            }

            fn message(&self) -> #p::std::string::String {
                match self {
                    #(#message_arms)*
                }
            }

            fn from_code(__code: i16, #message_binding: &str) -> #p::core::option::Option<Self> {
                match __code {
                    #(#from_arms)*
                    _ => #p::core::option::Option::None,
                }
            }
        }
    }
}
