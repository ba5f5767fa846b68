//! `#[derive(RpcError)]`: stable wire codes for a service error enum.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, ToTokens};
use syn::{Data, DeriveInput, Fields, Type};

use crate::attr::{self, Errors};

const ENUM_KEYS: &[&str] = &["crate"];
const ENUM_UNSUPPORTED: &[&str] = &["structured_errors"];
const VARIANT_KEYS: &[&str] = &["code", "message"];

enum Payload {
    Unit,
    Tuple,
    Named(syn::Ident),
}

struct Variant {
    ident: syn::Ident,
    code: i16,
    docs: String,
    message: String,
    payload: Payload,
}

/// The expansion of `#[derive(RpcError)]`, or its errors.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let entries = attr::parse_entries(
        &input.attrs,
        "error type",
        ENUM_KEYS,
        &[],
        ENUM_UNSUPPORTED,
        &mut errors,
    );
    let mut krate = quote!(::elbus_rpc);
    for entry in &entries {
        if entry.key == "crate" {
            if let Some(s) = attr::lit_str(entry, &mut errors) {
                match s.parse::<syn::Path>() {
                    Ok(path) => krate = path.to_token_stream(),
                    Err(_) => errors.push_spanned(&s, "expected the path of the runtime crate"),
                }
            }
        }
    }
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(s) => {
            errors.push_spanned(
                s.struct_token,
                "`RpcError` can only be derived for an enum: each variant is one error code",
            );
            return errors
                .finish()
                .map(|e| e.to_compile_error())
                .unwrap_or_default();
        }
        Data::Union(u) => {
            errors.push_spanned(
                u.union_token,
                "`RpcError` can only be derived for an enum: each variant is one error code",
            );
            return errors
                .finish()
                .map(|e| e.to_compile_error())
                .unwrap_or_default();
        }
    };
    if !input.generics.params.is_empty() {
        errors.push_spanned(
            &input.generics,
            "generic error types are not supported by `RpcError`",
        );
    }
    if data.variants.is_empty() {
        errors.push_spanned(&input.ident, "`RpcError` needs at least one variant");
    }

    let mut variants = Vec::new();
    let mut seen: Vec<(i16, String)> = Vec::new();
    for v in &data.variants {
        let entries = attr::parse_entries(&v.attrs, "variant", VARIANT_KEYS, &[], &[], &mut errors);
        let mut code = None;
        let mut message = None;
        for entry in &entries {
            match entry.key.as_str() {
                "code" => {
                    if let Some((value, span)) = attr::int(entry, &mut errors) {
                        let span = &span;
                        match i16::try_from(value) {
                            Err(_) => errors.push_spanned(span, format!("error code {value} does not fit in `i16` (-32768..=32767)")),
                            Ok(c) if c <= -32000 => errors.push_spanned(
                                span,
                                format!("error code {c} lies in the range -32768..=-32000 reserved for the protocol and the bus; pick a code outside it (e.g. a positive one)"),
                            ),
                            Ok(c) => match seen.iter().find(|(other, _)| *other == c) {
                                Some((_, first)) => errors.push_spanned(span, format!("error code {c} is already used by variant `{first}`; codes must be unique")),
                                None => {
                                    seen.push((c, v.ident.to_string()));
                                    code = Some(c);
                                }
                            },
                        }
                    }
                }
                "message" => message = attr::lit_str(entry, &mut errors).map(|s| s.value()),
                _ => {}
            }
        }
        let has_code_entry = entries.iter().any(|e| e.key == "code");
        if !has_code_entry {
            errors.push_spanned(
                &v.ident,
                format!(
                    "variant `{}` needs a stable wire code: add `#[rpc(code = N)]`",
                    v.ident
                ),
            );
        }
        let payload = match &v.fields {
            Fields::Unit => Payload::Unit,
            Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                check_string(&f.unnamed[0].ty, &mut errors);
                Payload::Tuple
            }
            Fields::Named(f) if f.named.len() == 1 => {
                check_string(&f.named[0].ty, &mut errors);
                match &f.named[0].ident {
                    Some(i) => Payload::Named(i.clone()),
                    None => Payload::Unit,
                }
            }
            other => {
                errors.push_spanned(
                    other,
                    "an `RpcError` variant carries at most one `String` (its message); richer data needs `structured_errors`, which is not supported yet",
                );
                Payload::Unit
            }
        };
        if message.is_some() && !matches!(payload, Payload::Unit) {
            errors.push_spanned(
                &v.ident,
                "`message` is only for unit variants; this variant's `String` is its message",
            );
        }
        let docs = attr::docs(&v.attrs);
        let message = message.unwrap_or_else(|| match docs.lines().next() {
            Some(line) if !line.is_empty() => line.to_owned(),
            _ => v.ident.to_string(),
        });
        if let Some(code) = code {
            variants.push(Variant {
                ident: v.ident.clone(),
                code,
                docs,
                message,
                payload,
            });
        }
    }
    if let Some(e) = errors.finish() {
        return e.to_compile_error();
    }
    expand(input, &krate, &variants)
}

fn check_string(ty: &Type, errors: &mut Errors) {
    let ok = match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "String" && s.arguments.is_empty()),
        _ => false,
    };
    if !ok {
        errors.push_spanned(
            ty,
            "the one field of an `RpcError` variant must be a `String` (the message sent with the code)",
        );
    }
}

fn code_tokens(code: i16) -> TokenStream {
    let lit = Literal::i16_unsuffixed(code.unsigned_abs() as i16);
    if code < 0 {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

fn expand(input: &DeriveInput, krate: &TokenStream, variants: &[Variant]) -> TokenStream {
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
