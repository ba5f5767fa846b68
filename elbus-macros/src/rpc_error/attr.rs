//! The typed `#[rpc(...)]` attributes of `#[derive(RpcError)]`: one struct for the error type,
//! one for a variant, each owning its keys.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Attribute, Ident};

use crate::diag::Errors;
use crate::entry;

/// `#[rpc(...)]` on the error enum.
pub struct ErrorTypeAttrs {
    /// `crate = ".."`: the path of the runtime crate (`::elbus_rpc` by default).
    pub krate: TokenStream,
}

impl ErrorTypeAttrs {
    const KEYS: &'static [&'static str] = &["crate"];
    const UNSUPPORTED: &'static [&'static str] = &["structured_errors"];

    /// Parses the `#[rpc(...)]` attributes among the enum's `attrs`.
    pub fn parse(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let entries = entry::parse_entries(
            attrs,
            "error type",
            Self::KEYS,
            &[],
            Self::UNSUPPORTED,
            errors,
        );
        let mut krate = quote!(::elbus_rpc);
        for entry in &entries {
            if entry.key == "crate" {
                if let Some(s) = entry::lit_str(entry, errors) {
                    match s.parse::<syn::Path>() {
                        Ok(path) => krate = path.to_token_stream(),
                        Err(_) => errors.push_spanned(&s, "expected the path of the runtime crate"),
                    }
                }
            }
        }
        ErrorTypeAttrs { krate }
    }
}

/// The codes the variants parsed so far use, with the variant that holds each.
pub type UsedCodes = Vec<(i16, String)>;

/// `#[rpc(...)]` on a variant.
pub struct VariantAttrs {
    /// `code = N`, when it is a valid and unused code.
    pub code: Option<i16>,
    /// Whether a `code` key is present at all (valid or not).
    pub has_code: bool,
    /// `message = ".."`: the message, with `{field}` / `{0}` placeholders.
    pub message: Option<syn::LitStr>,
}

impl VariantAttrs {
    const KEYS: &'static [&'static str] = &["code", "message"];

    /// Parses the `#[rpc(...)]` attributes among the `attrs` of variant `ident`. A code is
    /// checked against the range reserved for the protocol and against `used` as it is read
    /// (so diagnostics keep source order), and added to `used` when it is free.
    pub fn parse(
        attrs: &[Attribute],
        ident: &Ident,
        used: &mut UsedCodes,
        errors: &mut Errors,
    ) -> Self {
        let entries = entry::parse_entries(attrs, "variant", Self::KEYS, &[], &[], errors);
        let mut out = VariantAttrs {
            code: None,
            has_code: entries.iter().any(|e| e.key == "code"),
            message: None,
        };
        for entry in &entries {
            match entry.key.as_str() {
                "code" => {
                    if let Some((value, span)) = entry::int(entry, errors) {
                        out.code = check_code(value, &span, ident, used, errors);
                    }
                }
                "message" => out.message = entry::lit_str(entry, errors),
                _ => {}
            }
        }
        out
    }
}

/// `value` as a code of variant `ident`: in `i16`, outside the reserved range, unused.
fn check_code(
    value: i64,
    span: &TokenStream,
    ident: &Ident,
    used: &mut UsedCodes,
    errors: &mut Errors,
) -> Option<i16> {
    match i16::try_from(value) {
        Err(_) => errors.push_spanned(span, format!("error code {value} does not fit in `i16` (-32768..=32767)")),
        Ok(c) if c <= -32000 => errors.push_spanned(
            span,
            format!("error code {c} lies in the range -32768..=-32000 reserved for the protocol and the bus; pick a code outside it (e.g. a positive one)"),
        ),
        Ok(c) => match used.iter().find(|(other, _)| *other == c) {
            Some((_, first)) => errors.push_spanned(span, format!("error code {c} is already used by variant `{first}`; codes must be unique")),
            None => {
                used.push((c, ident.to_string()));
                return Some(c);
            }
        },
    }
    None
}
