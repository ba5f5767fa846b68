//! The IR of `#[derive(RpcEvent)]`, parsed from the enum with every check of its own: an enum
//! (not generic), variants with named fields or none, topics that are valid and unique, and
//! `{key}` segments that name a field.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type};

use crate::attr;
use crate::case::pascal_to_snake;
use crate::diag::Errors;
use crate::entry;

/// A parsed event enum.
pub struct Events {
    /// The path of the runtime crate.
    pub krate: TokenStream,
    /// `namespace = ".."`, empty without.
    pub namespace: String,
    pub variants: Vec<Variant>,
}

/// One variant: one topic.
pub struct Variant {
    pub ident: Ident,
    pub docs: String,
    /// The topic template: literal segments and `{field}` keys.
    pub topic: String,
    /// The subscription pattern: each key as `+`.
    pub pattern: String,
    /// The named fields (none for a unit variant).
    pub fields: Vec<(Ident, Type)>,
    /// A unit variant (no braces in patterns).
    pub unit: bool,
}

const ENUM_KEYS: &[&str] = &["namespace", "crate"];
const VARIANT_KEYS: &[&str] = &["topic"];

/// Parses and checks the enum; `None` when it is not an enum at all.
pub fn parse(input: &DeriveInput, errors: &mut Errors) -> Option<Events> {
    let entries = entry::parse_entries(&input.attrs, "event type", ENUM_KEYS, &[], &[], errors);
    let mut events = Events {
        krate: quote!(::elbus_rpc),
        namespace: String::new(),
        variants: Vec::new(),
    };
    for e in &entries {
        match e.key.as_str() {
            "namespace" => {
                if let Some(ns) = entry::lit_str(e, errors) {
                    if let Some(problem) = segment_problem(&ns.value(), true) {
                        errors.push_spanned(&ns, format!("invalid namespace: it {problem}"));
                    }
                    events.namespace = ns.value();
                }
            }
            "crate" => {
                if let Some(s) = entry::lit_str(e, errors) {
                    match s.parse::<syn::Path>() {
                        Ok(path) => events.krate = path.to_token_stream(),
                        Err(_) => errors.push_spanned(&s, "expected the path of the runtime crate"),
                    }
                }
            }
            _ => {}
        }
    }
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(s) => {
            errors.push_spanned(
                s.struct_token,
                "`RpcEvent` can only be derived for an enum: each variant is one event topic",
            );
            return None;
        }
        Data::Union(u) => {
            errors.push_spanned(
                u.union_token,
                "`RpcEvent` can only be derived for an enum: each variant is one event topic",
            );
            return None;
        }
    };
    if !input.generics.params.is_empty() {
        errors.push_spanned(
            &input.generics,
            "generic event enums are not supported: use concrete field types",
        );
    }
    if data.variants.is_empty() {
        errors.push_spanned(&input.ident, "an event enum needs at least one variant");
    }
    for v in &data.variants {
        if let Some(variant) = parse_variant(v, &events.namespace, errors) {
            if let Some(other) = events
                .variants
                .iter()
                .find(|o| o.pattern == variant.pattern)
            {
                errors.push(
                    v.ident.span(),
                    format!(
                        "variants `{}` and `{}` are both published on topic `{}`; each variant needs a topic of its own (`#[rpc(topic = \"..\")]`)",
                        other.ident, v.ident, variant.pattern
                    ),
                );
            }
            events.variants.push(variant);
        }
    }
    Some(events)
}

fn parse_variant(v: &syn::Variant, namespace: &str, errors: &mut Errors) -> Option<Variant> {
    let entries = entry::parse_entries(&v.attrs, "event variant", VARIANT_KEYS, &[], &[], errors);
    let topic_lit: Option<LitStr> = entries
        .iter()
        .find(|e| e.key == "topic")
        .and_then(|e| entry::lit_str(e, errors));
    let (fields, unit) = match &v.fields {
        Fields::Named(named) => (
            named
                .named
                .iter()
                .filter_map(|f| f.ident.clone().map(|i| (i, f.ty.clone())))
                .collect(),
            false,
        ),
        Fields::Unit => (Vec::new(), true),
        Fields::Unnamed(u) => {
            errors.push_spanned(
                u,
                "event variants need named fields (they are the keys of the payload map), or none",
            );
            return None;
        }
    };
    let name = pascal_to_snake(&v.ident.to_string());
    let (topic, span) = match &topic_lit {
        Some(t) => (t.value(), t.span()),
        None if namespace.is_empty() => (name, v.ident.span()),
        None => (format!("{namespace}/{name}"), v.ident.span()),
    };
    let mut pattern = Vec::new();
    for segment in topic.split('/') {
        if let Some(key) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if !fields.iter().any(|(f, _)| f == key) {
                errors.push(
                    span,
                    format!("topic key `{{{key}}}` names no field of variant `{}`; use one of its fields", v.ident),
                );
            }
            pattern.push("+");
        } else {
            if let Some(problem) = segment_problem(segment, false) {
                errors.push(
                    span,
                    format!("invalid topic `{topic}`: a segment {problem}"),
                );
            }
            pattern.push(segment);
        }
    }
    Some(Variant {
        ident: v.ident.clone(),
        docs: attr::docs(&v.attrs),
        pattern: pattern.join("/"),
        topic,
        fields,
        unit,
    })
}

/// Why `s` can't be a literal topic segment (or, with `slashes`, a namespace).
fn segment_problem(s: &str, slashes: bool) -> Option<&'static str> {
    if s.is_empty() {
        Some("is empty")
    } else if s.contains(['+', '#', '{', '}']) {
        Some("holds a wildcard (`+`, `#`) or a brace")
    } else if s.contains('\0') || s.chars().any(|c| c.is_control()) {
        Some("holds a control character")
    } else if !slashes && s.contains('/') {
        Some("holds '/'")
    } else if s.starts_with('/') || s.ends_with('/') {
        Some("starts or ends with '/'")
    } else {
        None
    }
}

/// The span to blame for a field's type.
pub fn type_span(ty: &Type) -> proc_macro2::Span {
    ty.span()
}
