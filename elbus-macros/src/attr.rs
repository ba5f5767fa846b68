//! The typed `#[rpc(...)]` attributes of a service, one struct per site (trait, method, param),
//! each owning its keys. The error type's and variants' attributes are in `rpc_error/attr.rs`.
//!
//! A struct's `parse` reads the entries (`entry.rs`) in the order written and records every
//! problem of one key or value; checks across items are in `valid.rs`.

use proc_macro2::{Span, TokenStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Token};

use crate::case::{Case, CASES};
use crate::diag::Errors;
use crate::entry::{self, Entry};

/// The arguments of `#[rpc(...)]` on the trait.
pub struct TraitAttrs {
    /// `crate = ".."`: the path of the runtime crate (`::elbus_rpc` by default).
    pub krate: TokenStream,
    /// `namespace = ".."`, prefixed to every wire name.
    pub namespace: Option<LitStr>,
    /// `namespace_separator = ".."` (`"."` by default).
    pub separator: String,
    /// `rename_all = ".."`: the casing of wire names made from Rust names.
    pub case: Case,
    /// `version = ".."`.
    pub version: Option<String>,
    /// `timeout = ".."`, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `server = bool`: generate `{Trait}Handler`.
    pub server: bool,
    /// `client = bool`: generate `{Trait}Client`.
    pub client: bool,
    /// `deny_unknown_params`.
    pub deny_unknown_params: bool,
    /// `meta(key = "value", ..)`.
    pub meta: Vec<(String, String)>,
    /// `events = Type`: the `RpcEvent` enum the service publishes, listed by `rpc.describe`.
    pub events: Option<syn::Path>,
}

impl TraitAttrs {
    /// The keys of the trait attribute.
    pub const KEYS: &'static [&'static str] = &[
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
        "events",
    ];
    /// Keys reserved for later versions.
    const UNSUPPORTED: &'static [&'static str] =
        &["qos", "describe", "client_impl_trait", "structured_errors"];

    /// Parses the attribute macro's arguments.
    pub fn parse(args: Punctuated<Meta, Token![,]>, errors: &mut Errors) -> Self {
        let entries = entry::parse_args(args, Self::KEYS, Self::UNSUPPORTED, errors);
        let mut attrs = TraitAttrs {
            krate: quote::quote!(::elbus_rpc),
            namespace: None,
            separator: ".".to_owned(),
            case: Case::Snake,
            version: None,
            timeout_ms: None,
            server: true,
            client: true,
            deny_unknown_params: false,
            meta: Vec::new(),
            events: None,
        };
        let (mut server_span, mut client_span) = (None, None);
        for entry in &entries {
            match entry.key.as_str() {
                "namespace" => attrs.namespace = entry::lit_str(entry, errors),
                "namespace_separator" => {
                    if let Some(s) = entry::lit_str(entry, errors) {
                        attrs.separator = s.value();
                    }
                }
                "rename_all" => {
                    if let Some(c) = parse_case(entry, errors) {
                        attrs.case = c;
                    }
                }
                "version" => attrs.version = entry::lit_str(entry, errors).map(|s| s.value()),
                "timeout" => attrs.timeout_ms = entry::duration_ms(entry, errors),
                "crate" => {
                    if let Some(s) = entry::lit_str(entry, errors) {
                        match s.parse::<syn::Path>() {
                            Ok(path) => attrs.krate = quote::quote!(#path),
                            Err(_) => errors.push_spanned(
                                &s,
                                "expected the path of the runtime crate, e.g. `crate = \"::my_rpc\"`",
                            ),
                        }
                    }
                }
                "server" => {
                    attrs.server = entry::flag(entry, errors).unwrap_or(true);
                    server_span = Some(entry.key_span);
                }
                "client" => {
                    attrs.client = entry::flag(entry, errors).unwrap_or(true);
                    client_span = Some(entry.key_span);
                }
                "deny_unknown_params" => {
                    attrs.deny_unknown_params = entry::flag(entry, errors).unwrap_or(false)
                }
                "meta" => attrs.meta = entry::meta_pairs(entry, errors),
                "events" => attrs.events = entry::type_path(entry, errors),
                _ => {}
            }
        }
        if !attrs.server && !attrs.client {
            let span = server_span.or(client_span).unwrap_or_else(Span::call_site);
            errors.push(
                span,
                "nothing to generate: `server = false` and `client = false` turn off both sides; drop one of them",
            );
        }
        attrs
    }
}

/// `rename_all = ".."`.
fn parse_case(entry: &Entry, errors: &mut Errors) -> Option<Case> {
    let s = entry::lit_str(entry, errors)?;
    let case = Case::parse(&s.value());
    if case.is_none() {
        errors.push_spanned(
            &s,
            format!(
                "unknown casing; expected one of {}",
                CASES
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    case
}

/// `#[rpc(...)]` on a method.
#[derive(Default)]
pub struct MethodAttrs {
    /// `name = ".."`: the wire name, instead of the cased Rust name.
    pub name: Option<LitStr>,
    /// `aliases = [..]`: more wire names.
    pub aliases: Vec<LitStr>,
    /// `notify`: a one-way call with no reply.
    pub notify: bool,
    /// `timeout = ".."`, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `meta(key = "value", ..)`.
    pub meta: Vec<(String, String)>,
    /// `bytes` / `bytes = false` on the method: its `Ok` result travels as MessagePack `bin`
    /// (or, explicitly, as an array of integers), with the key's span.
    pub bytes: Option<(bool, Span)>,
    /// `stream`: a pull stream of results, with the key's span.
    pub stream: Option<Span>,
}

impl MethodAttrs {
    const KEYS: &'static [&'static str] = &[
        "name", "aliases", "notify", "timeout", "meta", "bytes", "stream",
    ];
    const UNSUPPORTED: &'static [&'static str] = &["qos", "blocking", "flatten"];

    /// Parses the `#[rpc(...)]` attributes among a method's `attrs`.
    pub fn parse(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let entries =
            entry::parse_entries(attrs, "method", Self::KEYS, &[], Self::UNSUPPORTED, errors);
        let mut out = MethodAttrs::default();
        for entry in &entries {
            match entry.key.as_str() {
                "name" => out.name = entry::lit_str(entry, errors),
                "aliases" => out.aliases = entry::str_list(entry, errors),
                "notify" => out.notify = entry::flag(entry, errors).unwrap_or(false),
                "timeout" => out.timeout_ms = entry::duration_ms(entry, errors),
                "meta" => out.meta = entry::meta_pairs(entry, errors),
                "bytes" => {
                    out.bytes = entry::flag(entry, errors).map(|b| (b, entry.key_span));
                }
                "stream" if entry::flag(entry, errors).unwrap_or(false) => {
                    out.stream = Some(entry.key_span);
                }
                _ => {}
            }
        }
        out
    }
}

/// `#[rpc(...)]` on a param, in two steps: [`entries`](Self::entries) checks the keys,
/// [`parse`](Self::parse) reads their values (the param's pattern is checked in between).
#[derive(Default)]
pub struct ParamAttrs {
    /// `context`: the `&RpcContext` param, with the key's span.
    pub context: Option<Span>,
    /// `rename = ".."`: the wire name.
    pub rename: Option<LitStr>,
    /// `alias = ".."` (repeatable), with their spans.
    pub aliases: Vec<(String, Span)>,
    /// `default`: a missing param takes `Default::default()`.
    pub default: bool,
    /// The span of the `default` key.
    pub default_span: Option<Span>,
    /// `bytes` / `bytes = false`: MessagePack `bin` (or, explicitly, an array of integers).
    pub bytes: Option<bool>,
    /// Every key but `context`, with its span (none of them applies to the context param).
    pub wire_keys: Vec<(String, Span)>,
}

impl ParamAttrs {
    const KEYS: &'static [&'static str] = &["rename", "alias", "default", "context", "bytes"];
    const REPEATABLE: &'static [&'static str] = &["alias"];
    const UNSUPPORTED: &'static [&'static str] = &[];

    /// Checks the keys of the `#[rpc(...)]` attributes among a param's `attrs`.
    pub fn entries(attrs: &[Attribute], errors: &mut Errors) -> Vec<Entry> {
        entry::parse_entries(
            attrs,
            "param",
            Self::KEYS,
            Self::REPEATABLE,
            Self::UNSUPPORTED,
            errors,
        )
    }

    /// Reads the values of `entries`.
    pub fn parse(entries: &[Entry], errors: &mut Errors) -> Self {
        let mut out = ParamAttrs::default();
        for entry in entries {
            match entry.key.as_str() {
                "context" if entry::flag(entry, errors).unwrap_or(false) => {
                    out.context = Some(entry.key_span);
                }
                "rename" => out.rename = entry::lit_str(entry, errors),
                "alias" => {
                    if let Some(a) = entry::lit_str(entry, errors) {
                        out.aliases.push((a.value(), a.span()));
                    }
                }
                "bytes" => out.bytes = entry::flag(entry, errors),
                "default" => {
                    out.default = entry::flag(entry, errors).unwrap_or(false);
                    out.default_span = Some(entry.key_span);
                }
                _ => {}
            }
        }
        out.wire_keys = entries
            .iter()
            .filter(|e| e.key != "context")
            .map(|e| (e.key.clone(), e.key_span))
            .collect();
        out
    }
}

/// The attributes among `attrs` that are not `#[rpc(...)]`, forwarded as they are.
pub fn forwarded(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| !entry::is_rpc(a))
        .cloned()
        .collect()
}

/// The text of the `///` doc comments among `attrs`, one line each, leading space trimmed.
pub fn docs(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                let line = s.value();
                lines.push(
                    line.strip_prefix(' ')
                        .unwrap_or(&line)
                        .trim_end()
                        .to_owned(),
                );
            }
        }
    }
    lines.join("\n").trim().to_owned()
}
