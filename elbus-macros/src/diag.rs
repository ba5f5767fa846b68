//! The error collector: every problem of one expansion, each with the span of its token.
//!
//! Parsing and validation go on after a problem, so that one compile reports all of them.

use proc_macro2::Span;
use quote::ToTokens;

/// Collects every error of one expansion.
#[derive(Default)]
pub struct Errors {
    inner: Option<syn::Error>,
}

impl Errors {
    /// Records `message` at `span`.
    pub fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.add(syn::Error::new(span, message));
    }

    /// Records `message` spanning all of `tokens`.
    pub fn push_spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.add(syn::Error::new_spanned(tokens, message));
    }

    /// Records a ready-made error.
    pub fn add(&mut self, error: syn::Error) {
        match &mut self.inner {
            Some(e) => e.combine(error),
            None => self.inner = Some(error),
        }
    }

    /// The combined error, if any was recorded.
    pub fn finish(self) -> Option<syn::Error> {
        self.inner
    }
}
