//! Recognising the types a signature is made of (`Result`, `Option`, `&RpcContext`, `String`,
//! `impl Future`, `()`), all by the last path segment as written, and rendering a type as a
//! readable string for the schema.

use quote::ToTokens;
use syn::{GenericArgument, PathArguments, ReturnType, Type, TypeParamBound};

/// `&RpcContext` (any path ending in `RpcContext`, any lifetime).
pub fn is_context_type(ty: &Type) -> bool {
    let Type::Reference(r) = ty else { return false };
    if r.mutability.is_some() {
        return false;
    }
    match &*r.elem {
        Type::Path(p) => {
            p.qself.is_none()
                && p.path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "RpcContext" && s.arguments.is_empty())
        }
        _ => false,
    }
}

/// `RpcContext` by value (any path ending in `RpcContext`): a context param missing its `&`.
pub fn is_context_by_value(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => {
            p.qself.is_none()
                && p.path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "RpcContext")
        }
        _ => false,
    }
}

/// The `T` of `Option<T>` (by the last path segment).
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first() {
        Some(GenericArgument::Type(t)) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

/// `Some(Ok((T, E)))` for `Result<T, E>`, `Some(Err(()))` for a one-argument `Result<T>` alias.
pub fn result_args(ty: &Type) -> Option<Result<(Type, Type), ()>> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return Some(Err(()));
    };
    let types: Vec<&Type> = args
        .args
        .iter()
        .filter_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect();
    match types.as_slice() {
        [ok, err] => Some(Ok(((*ok).clone(), (*err).clone()))),
        _ => Some(Err(())),
    }
}

/// For `-> impl Future<Output = R> (+ Send)`: `Some(Some(R))`; `Some(None)` when there is no
/// `Output`; `None` when the return type is no `impl Future`.
pub fn future_output(ret: &ReturnType) -> Option<Option<Type>> {
    impl_assoc(ret, "Future", "Output")
}

/// For `-> impl Stream<Item = I> (+ Send)`: `Some(Some(I))`; `Some(None)` when there is no
/// `Item`; `None` when the return type is no `impl Stream`.
pub fn stream_item(ret: &ReturnType) -> Option<Option<Type>> {
    impl_assoc(ret, "Stream", "Item")
}

/// The associated type `assoc` of the `impl trait_name<..>` bound of a return type.
fn impl_assoc(ret: &ReturnType, trait_name: &str, assoc: &str) -> Option<Option<Type>> {
    let ReturnType::Type(_, ty) = ret else {
        return None;
    };
    let Type::ImplTrait(it) = &**ty else {
        return None;
    };
    for bound in &it.bounds {
        let TypeParamBound::Trait(tb) = bound else {
            continue;
        };
        let Some(seg) = tb.path.segments.last() else {
            continue;
        };
        if seg.ident != trait_name {
            continue;
        }
        if let PathArguments::AngleBracketed(args) = &seg.arguments {
            for a in &args.args {
                if let GenericArgument::AssocType(at) = a {
                    if at.ident == assoc {
                        return Some(Some(at.ty.clone()));
                    }
                }
            }
        }
        return Some(None);
    }
    None
}

/// `()`.
pub fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// `Vec<u8>` (by the last path segments).
pub fn is_vec_u8(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let Some(seg) = p.path.segments.last() else {
        return false;
    };
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return false;
    };
    seg.ident == "Vec"
        && matches!(args.args.first(), Some(GenericArgument::Type(Type::Path(t)))
            if args.args.len() == 1 && t.path.is_ident("u8"))
}

/// `String` (by the last path segment, without generics).
pub fn is_string(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "String" && s.arguments.is_empty()),
        _ => false,
    }
}

/// A readable Rust type string: `Vec<i64>` rather than `Vec < i64 >`.
pub fn type_string(tokens: &impl ToTokens) -> String {
    let raw = tokens.to_token_stream().to_string();
    let mut out = raw
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" <", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
        .replace("[ ", "[")
        .replace(" ]", "]")
        .replace(" ;", ";")
        .replace("( ", "(")
        .replace(" )", ")");
    if out.starts_with("::") {
        out = out.trim_start_matches("::").to_owned();
    }
    out
}

/// The schema v2 descriptor function of `ty` (see `elbus_rpc::type_schema`): `bin` for a
/// `#[rpc(bytes)]` value (nullable when it is an `Option`), else the `Probe` picker, which is
/// the type's `JsonSchema` when it has one and opaque otherwise.
pub fn descriptor(
    krate: &proc_macro2::TokenStream,
    ty: &Type,
    bytes: bool,
) -> proc_macro2::TokenStream {
    use quote::{quote, quote_spanned};
    use syn::spanned::Spanned;
    let ts = quote!(#krate::type_schema);
    let body = if bytes && option_inner(ty).is_some() {
        quote!(#ts::nullable(#ts::bin()))
    } else if bytes {
        quote!(#ts::bin())
    } else {
        quote_spanned! {ty.span()=>
            #[allow(unused_imports)]
            use #ts::{DescribeOpaque as _, DescribeSchema as _};
            (&#ts::Probe::<#ty>::new()).descriptor(__schemas)
        }
    };
    quote! {{
        #[allow(unused_variables)]
        fn __descriptor(
            __schemas: &mut #ts::TypeSchemas,
        ) -> #krate::__private::serde_json::Value {
            #body
        }
        #ts::TypeDescriptor(__descriptor)
    }}
}
