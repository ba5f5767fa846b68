//! The intermediate representation of an `#[rpc]` trait: what `parse.rs` builds, `valid.rs`
//! checks and `expand/` generates code from.

use proc_macro2::{Span, TokenStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Token, Type, TypeParamBound, Visibility};

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
