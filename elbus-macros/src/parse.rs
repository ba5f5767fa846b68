//! Parsing a `syn` trait into the IR of `ast.rs`, recording every problem.
//!
//! Parsing checks everything that concerns one token (keys, literals, receivers, param
//! patterns); the checks that compare items with each other live in `valid.rs`. Problems are
//! recorded in the order the tokens are read, so diagnostics come out in source order.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    FnArg, Ident, ItemTrait, LitStr, Meta, Pat, PatType, ReturnType, Signature, Token, TraitItem,
    TraitItemFn, Type,
};

use crate::ast::{Arg, Method, Output, Param, Service};
use crate::attr::{self, MethodAttrs, ParamAttrs, TraitAttrs};
use crate::case::Case;
use crate::diag::Errors;
use crate::ty;

/// Parses the attribute arguments and the trait into a [`Service`], recording every problem.
pub fn parse_service(
    args: Punctuated<Meta, Token![,]>,
    item: &ItemTrait,
    errors: &mut Errors,
) -> Service {
    let attrs = TraitAttrs::parse(args, errors);
    let case = attrs.case;
    let mut svc = Service {
        vis: item.vis.clone(),
        ident: item.ident.clone(),
        attrs: attr::forwarded(&item.attrs),
        docs: attr::docs(&item.attrs),
        supertraits: item.supertraits.clone(),
        rpc_attrs: attrs,
        methods: Vec::new(),
    };
    check_trait_shape(item, errors);
    for trait_item in &item.items {
        match trait_item {
            TraitItem::Fn(f) => {
                if let Some(m) = parse_method(f, &svc, case, errors) {
                    svc.methods.push(m);
                }
            }
            TraitItem::Type(t) => errors.push_spanned(
                &t.ident,
                "only methods are allowed in an `#[rpc]` trait; move this associated type out of the trait",
            ),
            TraitItem::Const(c) => errors.push_spanned(
                &c.ident,
                "only methods are allowed in an `#[rpc]` trait; move this associated const out of the trait",
            ),
            other => errors.push_spanned(other, "only methods are allowed in an `#[rpc]` trait"),
        }
    }
    if item.items.is_empty() {
        errors.push_spanned(&item.ident, "an `#[rpc]` trait needs at least one method");
    }
    svc
}

/// The trait itself: not `unsafe`, not `auto`, not generic.
fn check_trait_shape(item: &ItemTrait, errors: &mut Errors) {
    if let Some(unsafety) = &item.unsafety {
        errors.push_spanned(unsafety, "an `#[rpc]` trait can't be `unsafe`");
    }
    if let Some(auto) = &item.auto_token {
        errors.push_spanned(auto, "an `#[rpc]` trait can't be an auto trait");
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        let span = match &item.generics.where_clause {
            Some(w) if item.generics.params.is_empty() => w.span(),
            _ => item.generics.span(),
        };
        errors.push(
            span,
            "generic services are not supported yet: remove the trait's generics and where clause and use concrete types",
        );
    }
}

fn parse_method(f: &TraitItemFn, svc: &Service, case: Case, errors: &mut Errors) -> Option<Method> {
    let sig = &f.sig;
    let attrs = MethodAttrs::parse(&f.attrs, errors);
    for a in f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
    {
        errors.push_spanned(a, "`#[cfg]` on an `#[rpc]` method is not supported yet");
    }
    check_signature(f, errors);
    check_receiver(sig, errors);
    let args = parse_args(sig, case, errors);
    if let (Some(span), true) = (attrs.stream, attrs.notify) {
        errors.push(span, "`stream` and `notify` exclude each other: a stream answers its caller, a notification never does");
    }
    if let (Some(_), Some((_, span))) = (attrs.stream, attrs.bytes) {
        errors.push(span, "`bytes` is not supported on a `stream` method");
    }
    let stream = attrs.stream.is_some() && !attrs.notify;
    let (ret, output) = parse_output(sig, attrs.notify, stream, errors)?;
    let (bytes_result, bytes_result_hint) = bytes_result(&output, attrs.bytes, errors);

    // The wire name.
    let base = match &attrs.name {
        Some(n) => n.value(),
        None => case.apply(&sig.ident.unraw().to_string()),
    };
    let name_span = attrs.name.as_ref().map_or(sig.ident.span(), |n| n.span());
    let wire_name = full_name(svc, &base);
    let aliases = attrs
        .aliases
        .into_iter()
        .map(|a| LitStr::new(&full_name(svc, &a.value()), a.span()))
        .collect();

    Some(Method {
        ident: sig.ident.clone(),
        attrs: attr::forwarded(&f.attrs),
        docs: attr::docs(&f.attrs),
        wire_name,
        name_span,
        aliases,
        notify: attrs.notify,
        stream,
        stream_ret: match (&sig.output, stream) {
            (ReturnType::Type(_, ty), true) => Some((**ty).clone()),
            _ => None,
        },
        timeout_ms: attrs.timeout_ms,
        meta: attrs.meta,
        args,
        output,
        bytes_result,
        bytes_result_hint,
        ret,
    })
}

/// Whether the `Ok` result travels as `bin` (the method's `bytes` key), and whether a `Vec<u8>`
/// result without the key earns the hint. The key needs a result to apply to.
fn bytes_result(output: &Output, key: Option<(bool, Span)>, errors: &mut Errors) -> (bool, bool) {
    let ok = match output {
        Output::Result { ok, .. } if !ty::is_unit(ok) => ok,
        _ => {
            if let Some((_, span)) = key {
                errors.push(
                    span,
                    "`bytes` on a method applies to its `Ok` result, and this method returns no value; put `#[rpc(bytes)]` on a `Vec<u8>` param instead",
                );
            }
            return (false, false);
        }
    };
    match key {
        Some((bytes, _)) => (bytes, false),
        None => (false, ty::is_vec_u8(ok)),
    }
}

/// What a signature can't have: `const`, `unsafe`, an ABI, varargs, generics, a default body.
fn check_signature(f: &TraitItemFn, errors: &mut Errors) {
    let sig = &f.sig;
    if let Some(c) = &sig.constness {
        errors.push_spanned(c, "RPC methods can't be `const`");
    }
    if let Some(u) = &sig.unsafety {
        errors.push_spanned(u, "RPC methods can't be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.push_spanned(abi, "RPC methods can't have an ABI");
    }
    if let Some(v) = &sig.variadic {
        errors.push_spanned(v, "RPC methods can't be variadic");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push_spanned(
            &sig.generics,
            "RPC methods can't have generics or lifetimes: params and results are decoded into concrete types",
        );
    }
    if let Some(body) = &f.default {
        errors.push_spanned(
            body,
            "RPC methods can't have a default body; implement them in the `impl` of the trait",
        );
    }
}

/// The receiver must be `&self` (or `&'_ self`).
fn check_receiver(sig: &Signature, errors: &mut Errors) {
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) => {
            let by_ref = r.reference.is_some();
            if let Some((_, Some(lt))) = &r.reference {
                if lt.ident != "_" && r.mutability.is_none() {
                    errors.push_spanned(
                        lt,
                        format!("remove the lifetime `{lt}`: RPC methods take plain `&self` (the handler owns the service behind an `Arc`)"),
                    );
                    return;
                }
            }
            let lifetime_ok = r
                .reference
                .as_ref()
                .is_none_or(|(_, lt)| lt.as_ref().is_none_or(|lt| lt.ident == "_"));
            if !by_ref || r.mutability.is_some() || r.colon_token.is_some() || !lifetime_ok {
                errors.push_spanned(
                    r,
                    "RPC methods must take `&self`; keep mutable state behind interior mutability (a `Mutex`, atomics)",
                );
            }
        }
        _ => {
            errors.push_spanned(
                &sig.ident,
                format!(
                    "RPC methods must take `&self`: write `fn {}(&self, ..)`",
                    sig.ident
                ),
            );
        }
    }
}

/// The arguments after the receiver.
fn parse_args(sig: &Signature, case: Case, errors: &mut Errors) -> Vec<Arg> {
    let mut args = Vec::new();
    for input in sig.inputs.iter().skip(usize::from(matches!(
        sig.inputs.first(),
        Some(FnArg::Receiver(_))
    ))) {
        let FnArg::Typed(pt) = input else {
            errors.push_spanned(input, "`self` must be the first argument");
            continue;
        };
        if let Some(arg) = parse_arg(pt, case, errors) {
            args.push(arg);
        }
    }
    args
}

/// The future's output type as written, and what it means; `None` when the method can't be
/// generated at all.
fn parse_output(
    sig: &Signature,
    notify: bool,
    stream: bool,
    errors: &mut Errors,
) -> Option<(Option<Type>, Output)> {
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    const STREAM_SHAPE: &str = "a `#[rpc(stream)]` method returns `impl Stream<Item = Result<T, E>> + Send` (not a future): write `fn name(&self, ..) -> impl Stream<Item = Result<T, E>> + Send;`";
    let ret: Option<Type> = if stream {
        if let Some(a) = &sig.asyncness {
            errors.push_spanned(a, format!("remove `async`: {STREAM_SHAPE}"));
            return None;
        }
        match ty::stream_item(&sig.output) {
            Some(Some(item)) => Some(item),
            _ => {
                errors.push(output_span, STREAM_SHAPE);
                return None;
            }
        }
    } else if sig.asyncness.is_some() {
        match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some((**ty).clone()),
        }
    } else {
        match ty::future_output(&sig.output) {
            Some(t) => t,
            None => {
                errors.push(
                    output_span,
                    "RPC methods must be `async fn`, or return `impl Future<Output = ..> + Send`",
                );
                return None;
            }
        }
    };
    let output = if notify {
        match &ret {
            None => Output::Unit,
            Some(Type::Tuple(t)) if t.elems.is_empty() => Output::Unit,
            Some(ty) => {
                errors.push_spanned(
                    ty,
                    "a `#[rpc(notify)]` method returns nothing: the caller gets no reply, so remove the return type",
                );
                Output::Unit
            }
        }
    } else {
        match ret.as_ref().and_then(ty::result_args) {
            Some(Ok((ok, err))) => {
                check_result_type(&ok, "result", errors);
                check_result_type(&err, "error", errors);
                Output::Result {
                    ok: Box::new(ok),
                    err: Box::new(err),
                }
            }
            Some(Err(())) => {
                errors.push(output_span, "spell out both types of the result: `Result<T, E>`, where `E` derives `RpcError`");
                return None;
            }
            None => {
                errors.push(
                    output_span,
                    "RPC methods must return `Result<T, E>` where `E` derives `RpcError` (the typed errors callers get back); \
                     for a one-way call with no reply, mark the method `#[rpc(notify)]`",
                );
                return None;
            }
        }
    };
    Some((ret, output))
}

/// A result or error type must be owned and concrete: it is encoded after the handler returns
/// and decoded into one type on the client.
fn check_result_type(ty: &Type, what: &str, errors: &mut Errors) {
    match ty {
        Type::Reference(r) => errors.push_spanned(
            r,
            format!("an RPC {what} can't be a reference: it outlives the handler's borrow on its way to the caller; return an owned type (`String` for `&str`, `Vec<T>` for `&[T]`)"),
        ),
        Type::ImplTrait(t) => errors.push_spanned(
            t,
            format!("an RPC {what} can't be `impl Trait`: the client decodes it into one concrete type; name the type"),
        ),
        _ => {}
    }
}

/// A wire name with the service's namespace in front.
fn full_name(svc: &Service, name: &str) -> String {
    match &svc.rpc_attrs.namespace {
        Some(ns) => format!("{}{}{}", ns.value(), svc.rpc_attrs.separator, name),
        None => name.to_owned(),
    }
}

fn parse_arg(pt: &PatType, case: Case, errors: &mut Errors) -> Option<Arg> {
    let entries = ParamAttrs::entries(&pt.attrs, errors);
    let ident = param_ident(pt, errors)?;
    let attrs = ParamAttrs::parse(&entries, errors);
    let ty = (*pt.ty).clone();

    if ty::is_context_by_value(&ty) {
        errors.push_spanned(
            &ty,
            "take the call context by reference: write `&RpcContext` (it is lent to the handler for the call, not sent on the wire)",
        );
        return Some(Arg::Context { ident, ty });
    }
    let is_ctx_type = ty::is_context_type(&ty);
    if attrs.context.is_some() || is_ctx_type {
        if attrs.context.is_some() && !is_ctx_type {
            errors.push_spanned(
                &ty,
                "a `#[rpc(context)]` param must have the type `&RpcContext`",
            );
        }
        for (key, span) in &attrs.wire_keys {
            errors.push(
                *span,
                format!(
                    "the context param is not sent on the wire, so `{key}` means nothing on it"
                ),
            );
        }
        return Some(Arg::Context { ident, ty });
    }
    Some(Arg::Param(parse_param(pt, ident, ty, attrs, case, errors)))
}

/// The param's name: a plain identifier, without `mut`.
fn param_ident(pt: &PatType, errors: &mut Errors) -> Option<Ident> {
    match &*pt.pat {
        Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
            if let Some(m) = &pi.mutability {
                errors.push_spanned(
                    m,
                    "remove `mut`: params of a trait method declaration can't be `mut`",
                );
            }
            Some(pi.ident.clone())
        }
        other => {
            errors.push_spanned(
                other,
                "params need plain identifiers: they become the wire names of the params map",
            );
            None
        }
    }
}

/// A wire param: an owned type, its wire name and aliases.
fn parse_param(
    pt: &PatType,
    ident: Ident,
    ty: Type,
    attrs: ParamAttrs,
    case: Case,
    errors: &mut Errors,
) -> Param {
    match &ty {
        Type::Reference(r) => errors.push_spanned(
            r,
            "params must be owned types (they are decoded on the server): use `String` for `&str`, `Vec<T>` for `&[T]`",
        ),
        Type::ImplTrait(t) => errors.push_spanned(
            t,
            "`impl Trait` can't be a param type: params are decoded into one concrete type",
        ),
        _ => {}
    }

    let optional = ty::option_inner(&ty).is_some();
    let bytes_hint = attrs.bytes.is_none() && ty::is_vec_u8(&ty);
    if attrs.default && optional {
        errors.push(
            attrs.default_span.unwrap_or_else(|| ty.span()),
            "`#[rpc(default)]` is redundant on an `Option` param: a missing `Option` is already `None`",
        );
    }
    let rust_name = ident.unraw().to_string();
    let mut aliases = attrs.aliases;
    let (wire_name, wire_span) = match &attrs.rename {
        Some(r) => {
            if r.value() != rust_name && !aliases.iter().any(|(a, _)| *a == rust_name) {
                aliases.insert(0, (rust_name.clone(), ident.span()));
            }
            (r.value(), r.span())
        }
        None => (case.apply(&rust_name), ident.span()),
    };
    // An alias repeating the wire name or another alias adds nothing; the schema lists each once.
    let mut seen = vec![wire_name.clone()];
    aliases.retain(|(a, _)| {
        let new = !seen.contains(a);
        seen.push(a.clone());
        new
    });
    Param {
        ident,
        ty,
        attrs: attr::forwarded(&pt.attrs),
        wire_name,
        wire_span,
        aliases,
        optional,
        default: attrs.default,
        bytes: attrs.bytes.unwrap_or(false),
        bytes_hint,
    }
}
