//! The intermediate representation of an `#[rpc]` trait, and its parsing from `syn`.
//!
//! Parsing checks everything that concerns one token (keys, literals, receivers, param
//! patterns); the checks that compare items with each other live in `valid.rs`.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, ItemTrait, LitStr, Meta, Pat, PathArguments,
    ReturnType, Token, TraitItem, TraitItemFn, Type, TypeParamBound, Visibility,
};

use crate::attr::{self, Errors};
use crate::case::{Case, CASES};

pub const TRAIT_KEYS: &[&str] = &[
    "namespace",
    "namespace_separator",
    "rename_all",
    "version",
    "timeout",
    "crate",
    "server",
    "client",
    "deny_unknown_params",
    "meta",
];
const TRAIT_UNSUPPORTED: &[&str] = &["qos", "describe", "client_impl_trait", "structured_errors"];
const METHOD_KEYS: &[&str] = &["name", "aliases", "notify", "timeout", "meta"];
const METHOD_UNSUPPORTED: &[&str] = &["stream", "qos", "blocking", "flatten"];
const PARAM_KEYS: &[&str] = &["rename", "alias", "default", "context"];
const PARAM_UNSUPPORTED: &[&str] = &["bytes"];

/// A parsed `#[rpc]` trait.
pub struct Service {
    pub vis: Visibility,
    pub ident: Ident,
    /// Non-`rpc` attributes of the trait (docs included), forwarded as they are.
    pub attrs: Vec<Attribute>,
    pub docs: String,
    pub supertraits: Punctuated<TypeParamBound, Token![+]>,
    pub krate: TokenStream,
    pub namespace: Option<LitStr>,
    pub separator: String,
    pub version: Option<String>,
    pub timeout_ms: Option<u64>,
    pub server: bool,
    pub client: bool,
    pub deny_unknown_params: bool,
    pub meta: Vec<(String, String)>,
    pub methods: Vec<Method>,
}

/// What a method returns.
pub enum Output {
    /// `Result<ok, err>`.
    Result { ok: Box<Type>, err: Box<Type> },
    /// `()` (notifications).
    Unit,
}

/// One method of the trait.
pub struct Method {
    pub ident: Ident,
    /// Non-`rpc` attributes (docs, `deprecated`, lints), forwarded to the trait.
    pub attrs: Vec<Attribute>,
    pub docs: String,
    pub wire_name: String,
    /// The token the wire name comes from (`name = ".."` or the method's ident).
    pub name_span: Span,
    pub aliases: Vec<LitStr>,
    pub notify: bool,
    pub timeout_ms: Option<u64>,
    pub meta: Vec<(String, String)>,
    /// The arguments after `&self`, in declaration order.
    pub args: Vec<Arg>,
    pub output: Output,
    /// The future's output type as written (`None` for `()`).
    pub ret: Option<Type>,
}

/// One argument after `&self`.
pub enum Arg {
    Param(Param),
    Context { ident: Ident, ty: Type },
}

/// One wire param.
pub struct Param {
    pub ident: Ident,
    pub ty: Type,
    /// Non-`rpc` attributes, forwarded to the trait.
    pub attrs: Vec<Attribute>,
    pub wire_name: String,
    pub wire_span: Span,
    pub aliases: Vec<(String, Span)>,
    pub optional: bool,
    pub default: bool,
}

impl Method {
    /// The wire params, without the context.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        self.args.iter().filter_map(|a| match a {
            Arg::Param(p) => Some(p),
            Arg::Context { .. } => None,
        })
    }
}

/// Parses the attribute arguments and the trait into a [`Service`], recording every problem.
pub fn parse_service(
    args: Punctuated<Meta, Token![,]>,
    item: &ItemTrait,
    errors: &mut Errors,
) -> Service {
    let entries = attr::parse_args(args, TRAIT_KEYS, TRAIT_UNSUPPORTED, errors);
    let mut svc = Service {
        vis: item.vis.clone(),
        ident: item.ident.clone(),
        attrs: item
            .attrs
            .iter()
            .filter(|a| !attr::is_rpc(a))
            .cloned()
            .collect(),
        docs: attr::docs(&item.attrs),
        supertraits: item.supertraits.clone(),
        krate: quote::quote!(::elbus_rpc),
        namespace: None,
        separator: ".".to_owned(),
        version: None,
        timeout_ms: None,
        server: true,
        client: true,
        deny_unknown_params: false,
        meta: Vec::new(),
        methods: Vec::new(),
    };
    let mut case = Case::Snake;
    let (mut server_span, mut client_span) = (None, None);
    for entry in &entries {
        match entry.key.as_str() {
            "namespace" => svc.namespace = attr::lit_str(entry, errors),
            "namespace_separator" => {
                if let Some(s) = attr::lit_str(entry, errors) {
                    svc.separator = s.value();
                }
            }
            "rename_all" => {
                if let Some(s) = attr::lit_str(entry, errors) {
                    match Case::parse(&s.value()) {
                        Some(c) => case = c,
                        None => errors.push_spanned(
                            &s,
                            format!(
                                "unknown casing; expected one of {}",
                                CASES
                                    .iter()
                                    .map(|c| format!("\"{c}\""))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ),
                    }
                }
            }
            "version" => svc.version = attr::lit_str(entry, errors).map(|s| s.value()),
            "timeout" => svc.timeout_ms = attr::duration_ms(entry, errors),
            "crate" => {
                if let Some(s) = attr::lit_str(entry, errors) {
                    match s.parse::<syn::Path>() {
                        Ok(path) => svc.krate = quote::quote!(#path),
                        Err(_) => errors.push_spanned(
                            &s,
                            "expected the path of the runtime crate, e.g. `crate = \"::my_rpc\"`",
                        ),
                    }
                }
            }
            "server" => {
                svc.server = attr::flag(entry, errors).unwrap_or(true);
                server_span = Some(entry.key_span);
            }
            "client" => {
                svc.client = attr::flag(entry, errors).unwrap_or(true);
                client_span = Some(entry.key_span);
            }
            "deny_unknown_params" => {
                svc.deny_unknown_params = attr::flag(entry, errors).unwrap_or(false)
            }
            "meta" => svc.meta = attr::meta_pairs(entry, errors),
            _ => {}
        }
    }
    if !svc.server && !svc.client {
        let span = server_span.or(client_span).unwrap_or_else(Span::call_site);
        errors.push(
            span,
            "nothing to generate: `server = false` and `client = false` turn off both sides; drop one of them",
        );
    }

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

fn parse_method(f: &TraitItemFn, svc: &Service, case: Case, errors: &mut Errors) -> Option<Method> {
    let sig = &f.sig;
    let entries = attr::parse_entries(
        &f.attrs,
        "method",
        METHOD_KEYS,
        &[],
        METHOD_UNSUPPORTED,
        errors,
    );
    let rust_name = sig.ident.unraw().to_string();
    let mut name: Option<LitStr> = None;
    let mut aliases = Vec::new();
    let mut notify = false;
    let mut timeout_ms = None;
    let mut meta = Vec::new();
    for entry in &entries {
        match entry.key.as_str() {
            "name" => name = attr::lit_str(entry, errors),
            "aliases" => aliases = attr::str_list(entry, errors),
            "notify" => notify = attr::flag(entry, errors).unwrap_or(false),
            "timeout" => timeout_ms = attr::duration_ms(entry, errors),
            "meta" => meta = attr::meta_pairs(entry, errors),
            _ => {}
        }
    }
    for a in f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
    {
        errors.push_spanned(a, "`#[cfg]` on an `#[rpc]` method is not supported yet");
    }

    // The signature.
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

    // The receiver.
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) => {
            let by_ref = r.reference.is_some();
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

    // The arguments.
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

    // The return type.
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let ret: Option<Type> = if sig.asyncness.is_some() {
        match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some((**ty).clone()),
        }
    } else {
        match future_output(&sig.output) {
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
        match ret.as_ref().and_then(result_args) {
            Some(Ok((ok, err))) => Output::Result {
                ok: Box::new(ok),
                err: Box::new(err),
            },
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

    // The wire name.
    let base = match &name {
        Some(n) => n.value(),
        None => case.apply(&rust_name),
    };
    let name_span = name.as_ref().map_or(sig.ident.span(), |n| n.span());
    let wire_name = full_name(svc, &base);
    let aliases = aliases
        .into_iter()
        .map(|a| LitStr::new(&full_name(svc, &a.value()), a.span()))
        .collect();

    Some(Method {
        ident: sig.ident.clone(),
        attrs: f
            .attrs
            .iter()
            .filter(|a| !attr::is_rpc(a))
            .cloned()
            .collect(),
        docs: attr::docs(&f.attrs),
        wire_name,
        name_span,
        aliases,
        notify,
        timeout_ms,
        meta,
        args,
        output,
        ret,
    })
}

fn full_name(svc: &Service, name: &str) -> String {
    match &svc.namespace {
        Some(ns) => format!("{}{}{}", ns.value(), svc.separator, name),
        None => name.to_owned(),
    }
}

fn parse_arg(pt: &syn::PatType, case: Case, errors: &mut Errors) -> Option<Arg> {
    let entries = attr::parse_entries(
        &pt.attrs,
        "param",
        PARAM_KEYS,
        &["alias"],
        PARAM_UNSUPPORTED,
        errors,
    );
    let ident = match &*pt.pat {
        Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
            if let Some(m) = &pi.mutability {
                errors.push_spanned(
                    m,
                    "remove `mut`: params of a trait method declaration can't be `mut`",
                );
            }
            pi.ident.clone()
        }
        other => {
            errors.push_spanned(
                other,
                "params need plain identifiers: they become the wire names of the params map",
            );
            return None;
        }
    };
    let ty = (*pt.ty).clone();
    let attrs: Vec<Attribute> = pt
        .attrs
        .iter()
        .filter(|a| !attr::is_rpc(a))
        .cloned()
        .collect();

    let mut context: Option<Span> = None;
    let mut rename: Option<LitStr> = None;
    let mut aliases: Vec<(String, Span)> = Vec::new();
    let mut default = false;
    let mut default_span = None;
    for entry in &entries {
        match entry.key.as_str() {
            "context" if attr::flag(entry, errors).unwrap_or(false) => {
                context = Some(entry.key_span);
            }
            "rename" => rename = attr::lit_str(entry, errors),
            "alias" => {
                if let Some(a) = attr::lit_str(entry, errors) {
                    aliases.push((a.value(), a.span()));
                }
            }
            "default" => {
                default = attr::flag(entry, errors).unwrap_or(false);
                default_span = Some(entry.key_span);
            }
            _ => {}
        }
    }

    let is_ctx_type = is_context_type(&ty);
    if context.is_some() || is_ctx_type {
        if context.is_some() && !is_ctx_type {
            errors.push_spanned(
                &ty,
                "a `#[rpc(context)]` param must have the type `&RpcContext`",
            );
        }
        for entry in entries.iter().filter(|e| e.key != "context") {
            errors.push(
                entry.key_span,
                format!(
                    "the context param is not sent on the wire, so `{}` means nothing on it",
                    entry.key
                ),
            );
        }
        return Some(Arg::Context { ident, ty });
    }

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

    let optional = option_inner(&ty).is_some();
    if default && optional {
        errors.push(
            default_span.unwrap_or_else(|| ty.span()),
            "`#[rpc(default)]` is redundant on an `Option` param: a missing `Option` is already `None`",
        );
    }
    let rust_name = ident.unraw().to_string();
    let (wire_name, wire_span) = match &rename {
        Some(r) => {
            if r.value() != rust_name {
                aliases.insert(0, (rust_name.clone(), ident.span()));
            }
            (r.value(), r.span())
        }
        None => (case.apply(&rust_name), ident.span()),
    };
    Some(Arg::Param(Param {
        ident,
        ty,
        attrs,
        wire_name,
        wire_span,
        aliases,
        optional,
        default,
    }))
}

/// `&RpcContext` (any path ending in `RpcContext`, any lifetime).
fn is_context_type(ty: &Type) -> bool {
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
fn result_args(ty: &Type) -> Option<Result<(Type, Type), ()>> {
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
fn future_output(ret: &ReturnType) -> Option<Option<Type>> {
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
        if seg.ident != "Future" {
            continue;
        }
        if let PathArguments::AngleBracketed(args) = &seg.arguments {
            for a in &args.args {
                if let GenericArgument::AssocType(at) = a {
                    if at.ident == "Output" {
                        return Some(Some(at.ty.clone()));
                    }
                }
            }
        }
        return Some(None);
    }
    None
}
