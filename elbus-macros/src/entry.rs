//! The strict `#[rpc(...)]` entry parser shared by every attribute site (trait, method, param,
//! error type, error variant), and the readers of its values.
//!
//! It knows no site's keys: each typed attribute struct (`attr.rs`, `rpc_error/attr.rs`) passes
//! its own. Every problem is recorded in [`Errors`] with the span of the offending token.

use std::collections::BTreeSet;

use proc_macro2::Span;
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprArray, ExprLit, ExprUnary, Lit, LitStr, Meta, Token, UnOp};

use crate::diag::Errors;

/// One `key`, `key = value` or `key(..)` entry of an `#[rpc(...)]` attribute.
pub struct Entry {
    /// The key as a string (`crate` included).
    pub key: String,
    /// The span of the key.
    pub key_span: Span,
    /// The whole entry.
    pub meta: Meta,
}

/// Is this the `#[rpc(...)]` helper attribute?
pub fn is_rpc(attr: &Attribute) -> bool {
    attr.path().is_ident("rpc")
}

/// Parses every `#[rpc(...)]` among `attrs` into entries, checking each key against `valid`
/// (what `where_` names: "trait", "method", ...). Keys in `repeatable` may appear more than once;
/// keys in `unsupported` are known but not implemented yet.
pub fn parse_entries(
    attrs: &[Attribute],
    where_: &str,
    valid: &[&str],
    repeatable: &[&str],
    unsupported: &[&str],
    errors: &mut Errors,
) -> Vec<Entry> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| is_rpc(a)) {
        let list = match &attr.meta {
            Meta::List(list) => list,
            other => {
                errors.push_spanned(
                    other,
                    format!("expected `#[rpc(key = value, ..)]` on a {where_}"),
                );
                continue;
            }
        };
        match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(metas) => out.extend(check_keys(
                metas,
                where_,
                valid,
                repeatable,
                unsupported,
                &out,
                errors,
            )),
            Err(e) => errors.add(e),
        }
    }
    out
}

/// Parses the arguments of the `#[rpc(...)]` attribute macro itself.
pub fn parse_args(
    metas: Punctuated<Meta, Token![,]>,
    valid: &[&str],
    unsupported: &[&str],
    errors: &mut Errors,
) -> Vec<Entry> {
    check_keys(metas, "trait", valid, &[], unsupported, &[], errors)
}

fn check_keys(
    metas: Punctuated<Meta, Token![,]>,
    where_: &str,
    valid: &[&str],
    repeatable: &[&str],
    unsupported: &[&str],
    earlier: &[Entry],
    errors: &mut Errors,
) -> Vec<Entry> {
    let mut seen: BTreeSet<String> = earlier.iter().map(|e| e.key.clone()).collect();
    let mut out = Vec::new();
    for meta in metas {
        let path = meta.path();
        let Some(ident) = path.get_ident() else {
            errors.push_spanned(path, format!("expected a {where_} key, found a path"));
            continue;
        };
        let key = ident.to_string();
        let key_span = ident.span();
        if unsupported.contains(&key.as_str()) {
            errors.push(
                key_span,
                format!("`{key}` is not supported yet by this version of `#[rpc]`"),
            );
            continue;
        }
        if !valid.contains(&key.as_str()) {
            let hint = match did_you_mean(&key, valid) {
                Some(best) => format!("; did you mean `{best}`?"),
                None => String::new(),
            };
            errors.push(
                key_span,
                format!(
                    "unknown {where_} key `{key}`{hint}\nvalid {where_} keys: {}",
                    valid
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        }
        if !seen.insert(key.clone()) && !repeatable.contains(&key.as_str()) {
            errors.push(key_span, format!("duplicate {where_} key `{key}`"));
            continue;
        }
        out.push(Entry {
            key,
            key_span,
            meta,
        });
    }
    out
}

/// The closest valid key within a small edit distance.
pub fn did_you_mean<'a>(key: &str, valid: &[&'a str]) -> Option<&'a str> {
    valid
        .iter()
        .map(|v| (levenshtein(key, v), *v))
        .filter(|(d, v)| *d <= 2.max(v.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn value_of<'a>(entry: &'a Entry, expected: &str, errors: &mut Errors) -> Option<&'a Expr> {
    match &entry.meta {
        Meta::NameValue(nv) => Some(&nv.value),
        other => {
            errors.push_spanned(other, format!("expected `{} = {expected}`", entry.key));
            None
        }
    }
}

/// `key = "string"`.
pub fn lit_str(entry: &Entry, errors: &mut Errors) -> Option<LitStr> {
    let value = value_of(entry, "\"...\"", errors)?;
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        other => {
            errors.push_spanned(
                other,
                format!("expected a string literal: `{} = \"...\"`", entry.key),
            );
            None
        }
    }
}

/// `key` (true), `key = true` or `key = false`.
pub fn flag(entry: &Entry, errors: &mut Errors) -> Option<bool> {
    match &entry.meta {
        Meta::Path(_) => Some(true),
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Some(b.value),
            other => {
                errors.push_spanned(
                    other,
                    format!("expected `{0}`, `{0} = true` or `{0} = false`", entry.key),
                );
                None
            }
        },
        Meta::List(l) => {
            errors.push_spanned(
                l,
                format!("expected `{0}` or `{0} = true|false`", entry.key),
            );
            None
        }
    }
}

/// `key = "a"` or `key = ["a", "b"]`.
pub fn str_list(entry: &Entry, errors: &mut Errors) -> Vec<LitStr> {
    let Some(value) = value_of(entry, "[\"...\", ..]", errors) else {
        return Vec::new();
    };
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => vec![s.clone()],
        Expr::Array(ExprArray { elems, .. }) => {
            let mut out = Vec::new();
            for elem in elems {
                match elem {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) => out.push(s.clone()),
                    other => errors.push_spanned(other, "expected a string literal"),
                }
            }
            out
        }
        other => {
            errors.push_spanned(
                other,
                format!(
                    "expected a list of strings: `{} = [\"...\", ..]`",
                    entry.key
                ),
            );
            Vec::new()
        }
    }
}

/// `key = 123` or `key = -123`, as `i64`, with the tokens of the value (for spans).
pub fn int(entry: &Entry, errors: &mut Errors) -> Option<(i64, proc_macro2::TokenStream)> {
    let value = value_of(entry, "<integer>", errors)?;
    let (neg, lit) = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => (false, i),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => (true, i),
            other => {
                errors.push_spanned(other, "expected an integer literal");
                return None;
            }
        },
        other => {
            errors.push_spanned(
                other,
                format!("expected an integer literal: `{} = 1001`", entry.key),
            );
            return None;
        }
    };
    match lit.base10_parse::<i64>() {
        Ok(v) => Some((if neg { -v } else { v }, value.to_token_stream())),
        Err(e) => {
            errors.add(e);
            None
        }
    }
}

/// `key = "5s"`: a duration in milliseconds (units `ms`, `s`, `m`, `h`), never zero.
pub fn duration_ms(entry: &Entry, errors: &mut Errors) -> Option<u64> {
    let value = value_of(entry, "\"5s\"", errors)?;
    let Expr::Lit(ExprLit {
        lit: Lit::Str(s), ..
    }) = value
    else {
        errors.push_spanned(
            value,
            format!(
                "expected a duration string such as `{} = \"5s\"` or `\"500ms\"`",
                entry.key
            ),
        );
        return None;
    };
    match parse_duration_ms(&s.value()) {
        Ok(0) => {
            errors.push_spanned(
                s,
                "a timeout of zero would fail every call; give a positive duration",
            );
            None
        }
        Ok(ms) => Some(ms),
        Err(()) => {
            errors.push_spanned(
                s,
                "invalid duration: expected a whole number with a unit `ms`, `s`, `m` or `h` (e.g. \"5s\", \"500ms\")",
            );
            None
        }
    }
}

fn parse_duration_ms(s: &str) -> Result<u64, ()> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let num: u64 = num.parse().map_err(|_| ())?;
    let scale = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(()),
    };
    num.checked_mul(scale).ok_or(())
}

/// `meta(key = "value", ..)`.
pub fn meta_pairs(entry: &Entry, errors: &mut Errors) -> Vec<(String, String)> {
    let Meta::List(list) = &entry.meta else {
        errors.push_spanned(&entry.meta, "expected `meta(key = \"value\", ..)`");
        return Vec::new();
    };
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(m) => m,
        Err(e) => {
            errors.add(e);
            return Vec::new();
        }
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for meta in metas {
        let Meta::NameValue(nv) = &meta else {
            errors.push_spanned(&meta, "expected `key = \"value\"`");
            continue;
        };
        let Some(key) = nv.path.get_ident() else {
            errors.push_spanned(&nv.path, "expected a plain key");
            continue;
        };
        let Expr::Lit(ExprLit {
            lit: Lit::Str(value),
            ..
        }) = &nv.value
        else {
            errors.push_spanned(&nv.value, "expected a string literal");
            continue;
        };
        let key = key.to_string();
        if out.iter().any(|(k, _)| *k == key) {
            errors.push_spanned(&nv.path, format!("duplicate meta key `{key}`"));
            continue;
        }
        out.push((key, value.value()));
    }
    out
}

/// `key = Type` (a path, e.g. `events = CalcEvent`).
pub fn type_path(entry: &Entry, errors: &mut Errors) -> Option<syn::Path> {
    let value = value_of(entry, "Type", errors)?;
    match value {
        Expr::Path(p) if p.qself.is_none() => Some(p.path.clone()),
        other => {
            errors.push_spanned(
                other,
                format!("expected a type: `{} = MyEvents`", entry.key),
            );
            None
        }
    }
}
