//! Checks that compare the items of a parsed service with each other: wire-name collisions,
//! reserved names, clashes with generated items, duplicate params and context params.

use std::collections::BTreeMap;

use proc_macro2::Span;
use syn::ext::IdentExt;

use crate::ast::{Arg, Service};
use crate::diag::Errors;

/// The introspection method the router answers.
const DESCRIBE: &str = "rpc.describe";
/// The stream methods the router answers itself: pull cursors and push-stream control.
const CURSOR_METHODS: &[&str] = &[
    "N",
    "NB",
    "rpc.cursor.close",
    "rpc.stream.open",
    "rpc.stream.credit",
    "rpc.stream.cancel",
];
/// Inherent items of the generated client that a method of the same name would shadow.
const CLIENT_ITEMS: &[&str] = &[
    "new",
    "with_timeout",
    "with_qos",
    "target",
    "transport",
    "clone",
];
/// Provided items of the generated trait.
const TRAIT_ITEMS: &[&str] = &["schema", "into_handler"];

/// Why `name` can't be a wire method name, if it can't.
fn wire_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.contains('\0') {
        Some("contains a NUL byte (the bus ends method names with NUL)")
    } else if !name.is_ascii() {
        Some("is not ASCII")
    } else if name.chars().any(|c| c.is_ascii_whitespace()) {
        Some("contains whitespace")
    } else if name.chars().any(|c| c.is_ascii_control()) {
        Some("contains a control character")
    } else {
        None
    }
}

/// Runs every cross-item check, recording all problems.
pub fn validate(svc: &Service, errors: &mut Errors) {
    let mut namespace_ok = true;
    if let Some(ns) = &svc.rpc_attrs.namespace {
        if let Some(problem) = wire_name_problem(&ns.value()) {
            errors.push(ns.span(), format!("invalid namespace: it {problem}; method names must be non-empty ASCII without whitespace or NUL"));
            namespace_ok = false;
        }
        if !svc.rpc_attrs.separator.is_empty() {
            if let Some(problem) = wire_name_problem(&svc.rpc_attrs.separator) {
                errors.push(
                    ns.span(),
                    format!("invalid `namespace_separator`: it {problem}"),
                );
                namespace_ok = false;
            }
        }
    }

    // Wire names and aliases: valid, unique, not reserved.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for m in &svc.methods {
        let names = std::iter::once((m.wire_name.clone(), m.name_span, false))
            .chain(m.aliases.iter().map(|a| (a.value(), a.span(), true)));
        for (name, span, is_alias) in names {
            let what = if is_alias { "alias" } else { "wire name" };
            if namespace_ok {
                if let Some(problem) = wire_name_problem(&name) {
                    let shown = if name.is_empty() {
                        String::new()
                    } else {
                        format!(" `{}`", name.escape_debug())
                    };
                    errors.push(span, format!("invalid {what}{shown}: it {problem}; method names must be non-empty ASCII without whitespace or NUL"));
                    continue;
                }
            }
            if name == DESCRIBE {
                errors.push(span, format!("the {what} `{DESCRIBE}` is reserved for the generated introspection method; choose another name"));
                continue;
            }
            if CURSOR_METHODS.contains(&name.as_str()) {
                errors.push(span, format!("the {what} `{name}` is reserved for the stream methods the router answers (`N`, `NB`, `rpc.cursor.close`, `rpc.stream.*`); choose another name"));
                continue;
            }
            if let Some(first) = seen.get(&name) {
                errors.push(span, format!("the {what} `{name}` is already used by method `{first}`; wire names and aliases must be unique"));
                continue;
            }
            seen.insert(name, m.ident.unraw().to_string());
        }
    }

    // Rust names that clash with generated items.
    for m in &svc.methods {
        let name = m.ident.unraw().to_string();
        if svc.rpc_attrs.client && CLIENT_ITEMS.contains(&name.as_str()) {
            errors.push_spanned(
                &m.ident,
                format!("a method named `{name}` would clash with `{}Client::{name}`; rename the Rust method and keep the wire name with `#[rpc(name = \"{name}\")]`", svc.ident),
            );
        }
        if TRAIT_ITEMS.contains(&name.as_str()) {
            errors.push_spanned(
                &m.ident,
                format!("a method named `{name}` would clash with the generated `{}::{name}`; rename the Rust method and keep the wire name with `#[rpc(name = \"{name}\")]`", svc.ident),
            );
        }
    }

    // Params: unique wire names and aliases, one context at most.
    for m in &svc.methods {
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut context: Option<Span> = None;
        for arg in &m.args {
            match arg {
                Arg::Context { ident, .. } => {
                    if context.is_some() {
                        errors.push_spanned(ident, "only one context param is allowed per method");
                    }
                    context = Some(ident.span());
                }
                Arg::Param(p) => {
                    if p.wire_name.is_empty() {
                        errors.push(p.wire_span, "a param's wire name can't be empty");
                    }
                    let rust = p.ident.unraw().to_string();
                    let all = std::iter::once((p.wire_name.clone(), p.wire_span))
                        .chain(p.aliases.iter().cloned());
                    let mut own: Vec<String> = Vec::new();
                    for (name, span) in all {
                        if own.contains(&name) {
                            continue;
                        }
                        if let Some(first) = names.get(&name) {
                            errors.push(span, format!("the param name `{name}` is already used by param `{first}`; wire names and aliases of params must be unique"));
                            continue;
                        }
                        own.push(name.clone());
                        names.insert(name, rust.clone());
                    }
                }
            }
        }
    }
}
