//! The IR of an `RpcError` enum (its variants, each with a code and a message), and its parsing
//! from `syn`, recording every problem in source order.

use syn::{Data, DataEnum, DeriveInput, Fields, Ident, Type};

use super::attr::{UsedCodes, VariantAttrs};
use crate::attr::docs;
use crate::diag::Errors;
use crate::ty;

/// What a variant carries.
pub enum Payload {
    /// Nothing: the message is fixed.
    Unit,
    /// One unnamed `String`: the message.
    Tuple,
    /// One named `String` field: the message.
    Named(Ident),
}

/// One variant with a valid code.
pub struct Variant {
    /// The variant's name.
    pub ident: Ident,
    /// Its wire code.
    pub code: i16,
    /// The variant's doc comment, for the schema.
    pub docs: String,
    /// The message of a unit variant: `message = ".."`, the doc's first line, or the name.
    pub message: String,
    /// What it carries.
    pub payload: Payload,
}

/// The enum data of `input`, or `None` (with the error recorded) for a struct or a union.
pub fn enum_data<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<&'a DataEnum> {
    const NOT_ENUM: &str =
        "`RpcError` can only be derived for an enum: each variant is one error code";
    match &input.data {
        Data::Enum(data) => Some(data),
        Data::Struct(s) => {
            errors.push_spanned(s.struct_token, NOT_ENUM);
            None
        }
        Data::Union(u) => {
            errors.push_spanned(u.union_token, NOT_ENUM);
            None
        }
    }
}

/// Parses the variants of `data`, keeping those with a valid code.
pub fn parse_variants(input: &DeriveInput, data: &DataEnum, errors: &mut Errors) -> Vec<Variant> {
    if !input.generics.params.is_empty() {
        errors.push_spanned(
            &input.generics,
            "generic error types are not supported by `RpcError`",
        );
    }
    if data.variants.is_empty() {
        errors.push_spanned(&input.ident, "`RpcError` needs at least one variant");
    }
    let mut used = UsedCodes::new();
    data.variants
        .iter()
        .filter_map(|v| parse_variant(v, &mut used, errors))
        .collect()
}

fn parse_variant(v: &syn::Variant, used: &mut UsedCodes, errors: &mut Errors) -> Option<Variant> {
    let attrs = VariantAttrs::parse(&v.attrs, &v.ident, used, errors);
    if !attrs.has_code {
        errors.push_spanned(
            &v.ident,
            format!(
                "variant `{}` needs a stable wire code: add `#[rpc(code = N)]`",
                v.ident
            ),
        );
    }
    let payload = parse_payload(&v.fields, errors);
    if attrs.message.is_some() && !matches!(payload, Payload::Unit) {
        errors.push_spanned(
            &v.ident,
            "`message` is only for unit variants; this variant's `String` is its message",
        );
    }
    let docs = docs(&v.attrs);
    let message = attrs.message.unwrap_or_else(|| match docs.lines().next() {
        Some(line) if !line.is_empty() => line.to_owned(),
        _ => v.ident.to_string(),
    });
    Some(Variant {
        ident: v.ident.clone(),
        code: attrs.code?,
        docs,
        message,
        payload,
    })
}

/// At most one field, a `String`.
fn parse_payload(fields: &Fields, errors: &mut Errors) -> Payload {
    match fields {
        Fields::Unit => Payload::Unit,
        Fields::Unnamed(f) if f.unnamed.len() == 1 => {
            check_string(&f.unnamed[0].ty, errors);
            Payload::Tuple
        }
        Fields::Named(f) if f.named.len() == 1 => {
            check_string(&f.named[0].ty, errors);
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
    }
}

fn check_string(ty: &Type, errors: &mut Errors) {
    if !ty::is_string(ty) {
        errors.push_spanned(
            ty,
            "the one field of an `RpcError` variant must be a `String` (the message sent with the code)",
        );
    }
}
