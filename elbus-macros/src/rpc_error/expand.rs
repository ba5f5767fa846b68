//! The `RpcErrorCode` impl: the error schema, and the code, message, wire text and `from_code`
//! matches (or, after errors, a fallback impl that keeps them from cascading).

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use syn::DeriveInput;

use super::ast::{Message, Shape, Variant};

/// A code as an unsuffixed literal, so it types as the `i16` it is compared with.
fn code_tokens(code: i16) -> TokenStream {
    let lit = Literal::i16_unsuffixed(code.unsigned_abs() as i16);
    if code < 0 {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

/// `Self::V`, `Self::V(__f0, ..)` or `Self::V { a: __f0, .. }`: a pattern binding every field
/// (`bind`), or one matching any (`Self::V(..)`); with `bind` it is also the constructor.
fn pattern(v: &Variant, bind: bool) -> TokenStream {
    let vi = &v.ident;
    let names = (0..v.fields.len()).map(|i| format_ident!("__f{}", i));
    match v.shape {
        Shape::Unit => quote!(Self::#vi),
        Shape::Tuple if bind => quote!(Self::#vi(#(#names),*)),
        Shape::Tuple => quote!(Self::#vi(..)),
        Shape::Named if bind => {
            let idents = v.fields.iter().map(|f| &f.ident);
            quote!(Self::#vi { #(#idents: #names),* })
        }
        Shape::Named => quote!(Self::#vi { .. }),
    }
}

/// Whether the variant's fields travel in an `rpc-data:` line.
fn carries_data(v: &Variant) -> bool {
    !v.fields.is_empty() && !matches!(v.message, Message::OwnString)
}

/// The `wire_message` arm of a variant with data: its fields encoded behind the message, a
/// struct variant's as a map keyed by field name, a tuple variant's as an array.
fn wire_arm(p: &TokenStream, serde: &str, v: &Variant) -> TokenStream {
    let pat = pattern(v, true);
    let names: Vec<_> = (0..v.fields.len())
        .map(|i| format_ident!("__f{}", i))
        .collect();
    let fields = match v.shape {
        Shape::Named => {
            let idents: Vec<_> = v.fields.iter().map(|f| &f.ident).collect();
            let tys = v.fields.iter().map(|f| &f.ty);
            quote! {{
                #[derive(#p::serde::Serialize)]
                #[serde(crate = #serde)]
                struct __Fields<'__a> { #(#idents: &'__a #tys),* }
                __Fields { #(#idents: #names),* }
            }}
        }
        _ => quote!((#(#names,)*)),
    };
    quote! {
        #pat => #p::encode_error_text(<Self as #p::RpcErrorCode>::message(self), &#fields),
    }
}

/// The `from_code` value of a variant with data: its fields decoded from the `rpc-data:` line.
fn from_data(p: &TokenStream, serde: &str, v: &Variant) -> TokenStream {
    let ctor = pattern(v, true);
    let names: Vec<_> = (0..v.fields.len())
        .map(|i| format_ident!("__f{}", i))
        .collect();
    let tys: Vec<_> = v.fields.iter().map(|f| &f.ty).collect();
    match v.shape {
        Shape::Named => {
            let idents: Vec<_> = v.fields.iter().map(|f| &f.ident).collect();
            quote! {{
                #[derive(#p::serde::Deserialize)]
                #[serde(crate = #serde)]
                struct __Fields { #(#idents: #tys),* }
                #p::core::option::Option::map(
                    #p::decode_error_fields::<__Fields>(__message),
                    |__Fields { #(#idents: #names),* }| #ctor,
                )
            }}
        }
        _ => quote! {
            #p::core::option::Option::map(
                #p::decode_error_fields::<(#(#tys,)*)>(__message),
                |(#(#names,)*)| #ctor,
            )
        },
    }
}

/// The impl for `input`, whose checked variants are `variants`.
pub fn expand(input: &DeriveInput, krate: &TokenStream, variants: &[Variant]) -> TokenStream {
    let p = quote!(#krate::__private);
    let serde = format!("{krate}::__private::serde").replace(' ', "");
    let ident = &input.ident;
    let schema = variants.iter().map(|v| {
        let name = v.ident.to_string();
        let code = code_tokens(v.code);
        let docs = &v.docs;
        let has_message = !matches!(v.message, Message::Fixed(_)) && !v.fields.is_empty();
        quote! {
            #krate::ErrorSchema { name: #name, code: #code, description: #docs, has_message: #has_message }
        }
    });
    let code_arms = variants.iter().map(|v| {
        let (pat, code) = (pattern(v, false), code_tokens(v.code));
        quote!(#pat => #code,)
    });
    let message_arms = variants.iter().map(|v| match &v.message {
        Message::Fixed(msg) => {
            let pat = pattern(v, false);
            quote!(#pat => <#p::std::string::String as #p::core::convert::From<&str>>::from(#msg),)
        }
        Message::Format(lit) => {
            let pat = pattern(v, true);
            quote!(#pat => #p::std::format!(#lit),)
        }
        Message::OwnString => {
            let pat = pattern(v, true);
            quote!(#pat => #p::core::clone::Clone::clone(__f0),)
        }
    });
    let wire_arms = variants
        .iter()
        .filter(|v| carries_data(v))
        .map(|v| wire_arm(&p, &serde, v));
    let from_arms = variants.iter().map(|v| {
        let code = code_tokens(v.code);
        let value = if carries_data(v) {
            from_data(&p, &serde, v)
        } else if matches!(v.message, Message::OwnString) {
            let ctor = pattern(v, true);
            quote! {{
                let __f0 = <#p::std::string::String as #p::core::convert::From<&str>>::from(__message);
                #p::core::option::Option::Some(#ctor)
            }}
        } else {
            let ctor = pattern(v, false);
            quote!(#p::core::option::Option::Some(#ctor))
        };
        quote!(#code => #value,)
    });
    quote! {
        #[automatically_derived]
        impl #krate::RpcErrorCode for #ident {
            const ERRORS: &'static [#krate::ErrorSchema] = &[#(#schema),*];

            fn code(&self) -> i16 {
                match self {
                    #(#code_arms)*
                }
            }

            #[allow(unused_variables)]
            fn message(&self) -> #p::std::string::String {
                match self {
                    #(#message_arms)*
                }
            }

            #[allow(unreachable_patterns)]
            fn wire_message(&self) -> #p::std::string::String {
                match self {
                    #(#wire_arms)*
                    _ => <Self as #p::RpcErrorCode>::message(self),
                }
            }

            #[allow(unused_variables)]
            fn from_code(__code: i16, __message: &str) -> #p::core::option::Option<Self> {
                match __code {
                    #(#from_arms)*
                    _ => #p::core::option::Option::None,
                }
            }
        }
    }
}

/// What `#[derive(RpcError)]` emits after its errors: an impl that does nothing, so that the
/// derive's own diagnostics are the only ones (uses of the type as an RPC error still resolve).
pub fn fallback(input: &DeriveInput, krate: &TokenStream) -> TokenStream {
    let p = quote!(#krate::__private);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::RpcErrorCode for #ident #ty_generics #where_clause {
            const ERRORS: &'static [#krate::ErrorSchema] = &[];
            fn code(&self) -> i16 {
                0
            }
            fn message(&self) -> #p::std::string::String {
                #p::std::string::String::new()
            }
            fn from_code(_: i16, _: &str) -> #p::core::option::Option<Self> {
                #p::core::option::Option::None
            }
        }
    }
}
