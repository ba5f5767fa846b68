//! The intermediate representation of an `#[rpc]` trait: what `parse.rs` builds, `valid.rs`
//! checks and `expand/` generates code from.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Token, Type, TypeParamBound, Visibility};

use crate::attr::TraitAttrs;

/// A parsed `#[rpc]` trait.
pub struct Service {
    /// The trait's visibility, given to the generated items.
    pub vis: Visibility,
    /// The trait's name.
    pub ident: Ident,
    /// Non-`rpc` attributes of the trait (docs included), forwarded as they are.
    pub attrs: Vec<Attribute>,
    /// The trait's doc comment, for the schema.
    pub docs: String,
    /// The trait's supertraits, kept.
    pub supertraits: Punctuated<TypeParamBound, Token![+]>,
    /// The typed `#[rpc(...)]` arguments of the trait.
    pub rpc_attrs: TraitAttrs,
    /// The methods, in declaration order.
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
    /// The Rust name.
    pub ident: Ident,
    /// Non-`rpc` attributes (docs, `deprecated`, lints), forwarded to the trait.
    pub attrs: Vec<Attribute>,
    /// The doc comment, for the schema.
    pub docs: String,
    /// The wire name, namespace included.
    pub wire_name: String,
    /// The token the wire name comes from (`name = ".."` or the method's ident).
    pub name_span: Span,
    /// More wire names, namespace included.
    pub aliases: Vec<LitStr>,
    /// A one-way call (`#[rpc(notify)]`).
    pub notify: bool,
    /// A pull stream (`#[rpc(stream)]`): `output` is the `Result` of each item.
    pub stream: bool,
    /// A stream method's return type as written (`impl Stream<Item = ..> + Send`).
    pub stream_ret: Option<Type>,
    /// The method's own `timeout`, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The method's `meta(..)` pairs.
    pub meta: Vec<(String, String)>,
    /// The arguments after `&self`, in declaration order.
    pub args: Vec<Arg>,
    pub output: Output,
    /// `#[rpc(bytes)]` on the method: the `Ok` result is encoded as MessagePack `bin`.
    pub bytes_result: bool,
    /// A `Vec<u8>` result with no `bytes` key: the expansion hints at `#[rpc(bytes)]`.
    pub bytes_result_hint: bool,
    /// The future's output type as written (`None` for `()`).
    pub ret: Option<Type>,
}

/// One argument after `&self`.
pub enum Arg {
    /// A param sent on the wire.
    Param(Param),
    /// The `&RpcContext` of the call, not sent.
    Context { ident: Ident, ty: Type },
}

/// One wire param.
pub struct Param {
    /// The Rust name.
    pub ident: Ident,
    /// The type as written.
    pub ty: Type,
    /// Non-`rpc` attributes, forwarded to the trait.
    pub attrs: Vec<Attribute>,
    /// The key in the params map.
    pub wire_name: String,
    /// The token the wire name comes from.
    pub wire_span: Span,
    /// More accepted keys (the Rust name first when renamed), with their spans.
    pub aliases: Vec<(String, Span)>,
    /// An `Option`: may be missing.
    pub optional: bool,
    /// `#[rpc(default)]`: may be missing.
    pub default: bool,
    /// `#[rpc(bytes)]`: encoded as MessagePack `bin`.
    pub bytes: bool,
    /// A `Vec<u8>` with no `bytes` key: the expansion hints at `#[rpc(bytes)]`.
    pub bytes_hint: bool,
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
