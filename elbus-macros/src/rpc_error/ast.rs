//! The IR of an `RpcError` enum (its variants, each with a code, fields and a message), and its parsing
//! from `syn`, recording every problem in source order.

use syn::{Data, DataEnum, DeriveInput, Fields, Ident, LitStr, Type};

use super::attr::{UsedCodes, VariantAttrs};
use crate::attr::docs;
use crate::diag::Errors;
use crate::ty;

/// How a variant's fields are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `V`.
    Unit,
    /// `V(A, B)`.
    Tuple,
    /// `V { a: A, b: B }`.
    Named,
}

/// One field of a variant: its name (`None` in a tuple variant) and type.
pub struct Field {
    /// The field's name in a struct variant.
    pub ident: Option<Ident>,
    /// Its type.
    pub ty: Type,
}

/// Where a variant's message comes from.
pub enum Message {
    /// A fixed text: the doc comment's first line, or the variant's name.
    Fixed(String),
    /// `message = ".."` with `{field}` / `{0}` placeholders, rewritten to the bindings
    /// `__f0`, `__f1`.. of the fields, in order.
    Format(LitStr),
    /// The one `String` field of a variant without `message`: it is the message, and the variant
    /// is rebuilt from the message alone (no `rpc-data:` line).
    OwnString,
}

/// One variant with a valid code.
pub struct Variant {
    /// The variant's name.
    pub ident: Ident,
    /// Its wire code.
    pub code: i16,
    /// The variant's doc comment, for the schema.
    pub docs: String,
    /// How its fields are written.
    pub shape: Shape,
    /// Its fields, in order.
    pub fields: Vec<Field>,
    /// Its message.
    pub message: Message,
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
    let (shape, fields) = parse_fields(&v.fields);
    let docs = docs(&v.attrs);
    let own_string = fields.len() == 1 && ty::is_string(&fields[0].ty);
    let message = match attrs.message {
        Some(lit) => Message::Format(rewrite_format(&lit, &fields, errors)),
        None if own_string => Message::OwnString,
        None => Message::Fixed(match docs.lines().next() {
            Some(line) if !line.is_empty() => line.to_owned(),
            _ => v.ident.to_string(),
        }),
    };
    Some(Variant {
        ident: v.ident.clone(),
        code: attrs.code?,
        docs,
        shape,
        fields,
        message,
    })
}

fn parse_fields(fields: &Fields) -> (Shape, Vec<Field>) {
    let shape = match fields {
        Fields::Unit => Shape::Unit,
        Fields::Unnamed(_) => Shape::Tuple,
        Fields::Named(_) => Shape::Named,
    };
    let fields = fields
        .iter()
        .map(|f| Field {
            ident: f.ident.clone(),
            ty: f.ty.clone(),
        })
        .collect();
    (shape, fields)
}

/// `lit` with each `{field}` or `{0}` placeholder rewritten to `{__fN}`, the binding of field
/// `N`; an unknown field or an empty `{}` is recorded.
fn rewrite_format(lit: &LitStr, fields: &[Field], errors: &mut Errors) -> LitStr {
    let text = lit.value();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if after.starts_with(char::from(c)) {
            out.push_str(if c == b'{' { "{{" } else { "}}" });
            rest = &after[1..];
            continue;
        }
        if c == b'}' {
            errors.push(
                lit.span(),
                "unmatched `}` in `message`: write `}}` for a literal brace",
            );
            return lit.clone();
        }
        let Some(end) = after.find('}') else {
            errors.push(
                lit.span(),
                "unmatched `{` in `message`: write `{{` for a literal brace",
            );
            return lit.clone();
        };
        let inner = &after[..end];
        let (name, spec) = inner.split_once(':').map_or((inner, ""), |(n, s)| (n, s));
        let index = match name.trim().parse::<usize>() {
            Ok(n) => (n < fields.len()).then_some(n),
            Err(_) => fields
                .iter()
                .position(|f| f.ident.as_ref().is_some_and(|id| id == name.trim())),
        };
        match index {
            Some(n) if spec.is_empty() => out.push_str(&format!("{{__f{n}}}")),
            Some(n) => out.push_str(&format!("{{__f{n}:{spec}}}")),
            None => {
                let known = fields
                    .iter()
                    .enumerate()
                    .map(|(n, f)| f.ident.as_ref().map_or(n.to_string(), |i| i.to_string()))
                    .collect::<Vec<_>>();
                let hint = if known.is_empty() {
                    "this variant has no fields".to_owned()
                } else {
                    format!("its fields are {}", known.join(", "))
                };
                errors.push(
                    lit.span(),
                    format!("`{{{inner}}}` in `message` names no field of this variant: {hint}"),
                );
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    LitStr::new(&out, lit.span())
}
