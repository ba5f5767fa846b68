//! Code generation for a validated [`Service`]: the trait, `{Trait}Handler<S>`, `{Trait}Client<T>`
//! and the static schema. Every runtime item is reached through `{crate}::__private` or the
//! runtime's public paths, so the expansion works under `#![no_implicit_prelude]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ItemTrait, Type};

use crate::ast::{Arg, Method, Output, Param, Service};
use crate::attr;

/// The whole expansion.
pub fn expand(svc: &Service) -> TokenStream {
    let trait_def = expand_trait(svc);
    let handler = if svc.server {
        expand_handler(svc)
    } else {
        TokenStream::new()
    };
    let client = if svc.client {
        expand_client(svc)
    } else {
        TokenStream::new()
    };
    let asserts = expand_asserts(svc);
    quote! {
        #trait_def
        #handler
        #client
        #asserts
    }
}

/// What to emit when the trait has errors: the errors plus the trait without `#[rpc]` helper
/// attributes, so the user's other code still resolves `Calc` and reports no follow-up errors.
pub fn fallback(item: &ItemTrait, error: syn::Error) -> TokenStream {
    let mut item = item.clone();
    strip_rpc_attrs(&mut item);
    let error = error.to_compile_error();
    quote! {
        #error
        #item
    }
}

fn strip_rpc_attrs(item: &mut ItemTrait) {
    item.attrs.retain(|a| !attr::is_rpc(a));
    for ti in &mut item.items {
        if let syn::TraitItem::Fn(f) = ti {
            f.attrs.retain(|a| !attr::is_rpc(a));
            for input in &mut f.sig.inputs {
                if let syn::FnArg::Typed(pt) = input {
                    pt.attrs.retain(|a| !attr::is_rpc(a));
                }
            }
        }
    }
}

fn private(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    quote!(#krate::__private)
}

fn serde_crate(svc: &Service) -> String {
    format!("{}::__private::serde", svc.krate)
}

fn handler_ident(svc: &Service) -> Ident {
    format_ident!("{}Handler", svc.ident)
}

fn client_ident(svc: &Service) -> Ident {
    format_ident!("{}Client", svc.ident)
}

/// The output type of a method's future: the return type as the user wrote it.
fn output_type(m: &Method) -> TokenStream {
    match &m.ret {
        Some(ty) => ty.to_token_stream(),
        None => quote!(()),
    }
}

fn fn_args(m: &Method) -> Vec<TokenStream> {
    m.args
        .iter()
        .map(|a| match a {
            Arg::Param(p) => {
                let (attrs, ident, ty) = (&p.attrs, &p.ident, &p.ty);
                quote!(#(#attrs)* #ident: #ty)
            }
            Arg::Context { ident, ty } => quote!(#ident: #ty),
        })
        .collect()
}

fn expand_trait(svc: &Service) -> TokenStream {
    let p = private(svc);
    let krate = &svc.krate;
    let (vis, ident, attrs) = (&svc.vis, &svc.ident, &svc.attrs);
    let supertraits = svc.supertraits.iter();
    let methods = svc.methods.iter().map(|m| {
        let (attrs, name) = (&m.attrs, &m.ident);
        let args = fn_args(m);
        let output = output_type(m);
        quote! {
            #(#attrs)*
            fn #name(&self, #(#args),*) -> impl #p::core::future::Future<Output = #output> + #p::core::marker::Send;
        }
    });
    let name = ident.unraw().to_string();
    let schema = expand_schema(svc);
    let handler = handler_ident(svc);
    let into_handler = if svc.server {
        let doc = format!("Wraps this implementation into its server adapter, [`{handler}`].");
        quote! {
            #[doc = #doc]
            fn into_handler(self) -> #handler<Self>
            where
                Self: #p::core::marker::Sized,
            {
                #handler::new(self)
            }
        }
    } else {
        TokenStream::new()
    };
    quote! {
        #(#attrs)*
        #vis trait #ident: #(#supertraits +)* #p::core::marker::Send + #p::core::marker::Sync + 'static {
            #(#methods)*

            /// The service's name (the trait's name).
            const NAME: &'static str = #name;

            /// The service's static schema (methods, params, error codes), as `rpc.describe` serves it.
            fn schema() -> &'static #krate::ServiceSchema
            where
                Self: #p::core::marker::Sized,
            {
                static SCHEMA: #krate::ServiceSchema = #schema;
                &SCHEMA
            }

            #into_handler
        }
    }
}

fn opt_str(p: &TokenStream, s: Option<&str>) -> TokenStream {
    match s {
        Some(s) => quote!(#p::core::option::Option::Some(#s)),
        None => quote!(#p::core::option::Option::None),
    }
}

fn opt_u64(p: &TokenStream, v: Option<u64>) -> TokenStream {
    match v {
        Some(v) => quote!(#p::core::option::Option::Some(#v)),
        None => quote!(#p::core::option::Option::None),
    }
}

fn meta_slice(meta: &[(String, String)]) -> TokenStream {
    let pairs = meta.iter().map(|(k, v)| quote!((#k, #v)));
    quote!(&[#(#pairs),*])
}

/// A readable Rust type string: `Vec<i64>` rather than `Vec < i64 >`.
pub fn type_string(tokens: &impl ToTokens) -> String {
    let raw = tokens.to_token_stream().to_string();
    let mut out = raw
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" <", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
        .replace("[ ", "[")
        .replace(" ]", "]")
        .replace(" ;", ";")
        .replace("( ", "(")
        .replace(" )", ")");
    if out.starts_with("::") {
        out = out.trim_start_matches("::").to_owned();
    }
    out
}

fn expand_schema(svc: &Service) -> TokenStream {
    let p = private(svc);
    let krate = &svc.krate;
    let name = svc.ident.unraw().to_string();
    let namespace = svc
        .namespace
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_default();
    let version = opt_str(&p, svc.version.as_deref());
    let docs = &svc.docs;
    let timeout = opt_u64(&p, svc.timeout_ms);
    let meta = meta_slice(&svc.meta);
    let methods = svc.methods.iter().map(|m| {
        let name = &m.wire_name;
        let aliases = m.aliases.iter().map(|a| a.value());
        let rust_name = m.ident.unraw().to_string();
        let docs = &m.docs;
        let params = m.params().map(|param| {
            let name = &param.wire_name;
            let aliases = param.aliases.iter().map(|(a, _)| a);
            let ty = type_string(&param.ty);
            let required = !param.optional && !param.default;
            let default = param.default;
            quote! {
                #krate::ParamSchema {
                    name: #name,
                    aliases: &[#(#aliases),*],
                    ty: #ty,
                    required: #required,
                    default: #default,
                }
            }
        });
        let (returns, error, errors) = match &m.output {
            Output::Result { ok, err } => {
                let errors = quote_spanned!(err.span()=> <#err as #krate::RpcErrorCode>::ERRORS);
                (type_string(ok), type_string(err), errors)
            }
            Output::Unit => ("()".to_owned(), String::new(), quote!(&[])),
        };
        let notify = m.notify;
        let timeout = opt_u64(&p, m.timeout_ms);
        let meta = meta_slice(&m.meta);
        quote! {
            #krate::MethodSchema {
                name: #name,
                aliases: &[#(#aliases),*],
                rust_name: #rust_name,
                description: #docs,
                params: &[#(#params),*],
                returns: #returns,
                error: #error,
                errors: #errors,
                notify: #notify,
                timeout_ms: #timeout,
                meta: #meta,
            }
        }
    });
    quote! {
        #krate::ServiceSchema {
            name: #name,
            namespace: #namespace,
            version: #version,
            description: #docs,
            timeout_ms: #timeout,
            meta: #meta,
            methods: &[#(#methods),*],
        }
    }
}

fn field_ident(i: usize) -> Ident {
    format_ident!("__p{}", i)
}

/// `#[serde(rename = .., alias = .., default)]` for a param field.
fn serde_field_attrs(param: &Param, decode: bool) -> TokenStream {
    let name = &param.wire_name;
    // Spanned on the user's type, so a missing `Default` is reported there.
    let span = param.ty.span();
    if !decode {
        return quote_spanned!(span=> #[serde(rename = #name)]);
    }
    let aliases = param.aliases.iter().map(|(a, _)| quote!(alias = #a));
    let default = if param.optional || param.default {
        quote_spanned!(span=> , default)
    } else {
        TokenStream::new()
    };
    quote_spanned!(span=> #[serde(rename = #name #(, #aliases)* #default)])
}

fn expand_handler(svc: &Service) -> TokenStream {
    let p = private(svc);
    let krate = &svc.krate;
    let (vis, ident) = (&svc.vis, &svc.ident);
    let handler = handler_ident(svc);
    let serde = serde_crate(svc);
    let deny = if svc.deny_unknown_params {
        quote!(#[serde(deny_unknown_fields)])
    } else {
        TokenStream::new()
    };
    let arms = svc.methods.iter().map(|m| {
        let names = std::iter::once(m.wire_name.clone()).chain(m.aliases.iter().map(|a| a.value()));
        let fields = m.params().enumerate().map(|(i, param)| {
            let f = field_ident(i);
            let ty = &param.ty;
            let attrs = serde_field_attrs(param, true);
            // Spanned on the user's type, so serde's own bound errors point there.
            let f = Ident::new(&f.to_string(), ty.span());
            quote_spanned!(ty.span()=> #attrs #f: #ty)
        });
        let mut i = 0;
        let call_args = m.args.iter().map(|a| match a {
            Arg::Param(_) => {
                let f = field_ident(i);
                i += 1;
                quote!(__params.#f)
            }
            Arg::Context { .. } => quote!(__ctx),
        });
        let method = &m.ident;
        let on_ok = match &m.output {
            Output::Result { ok, .. } if is_unit(ok) => {
                quote!(#p::core::result::Result::Ok(#p::encode_unit()))
            }
            Output::Result { ok, .. } => {
                let ok_ty = quote_spanned!(ok.span()=> <#ok as #p::ResultEncode>::Type);
                quote! {
                    #p::encode_value::<#ok_ty>(&__value).map_err(#krate::ServerError::internal)
                }
            }
            Output::Unit => quote!(#p::core::result::Result::Ok(#p::encode_unit())),
        };
        let body = match &m.output {
            Output::Result { err, .. } => {
                let code =
                    quote_spanned!(err.span()=> <#err as #krate::RpcErrorCode>::code(&__error));
                let message =
                    quote_spanned!(err.span()=> <#err as #krate::RpcErrorCode>::message(&__error));
                let on_err = quote! {
                    #p::core::result::Result::Err(#krate::ServerError::new(#code, #message))
                };
                quote! {
                    match <__S as #ident>::#method(&*self.service, #(#call_args),*).await {
                        #p::core::result::Result::Ok(__value) => #on_ok,
                        #p::core::result::Result::Err(__error) => #on_err,
                    }
                }
            }
            Output::Unit => quote! {
                <__S as #ident>::#method(&*self.service, #(#call_args),*).await;
                #on_ok
            },
        };
        quote! {
            #(#names)|* => {
                #[derive(#p::serde::Deserialize)]
                #[serde(crate = #serde)]
                #deny
                struct __Params {
                    #(#fields,)*
                }
                #p::std::boxed::Box::pin(async move {
                    let __params: __Params = #p::decode_params(__ctx.method(), __payload)?;
                    #body
                })
            }
        }
    });
    let doc = format!(
        "Server adapter for [`{ident}`]: decodes calls, runs them on the wrapped service and encodes the replies.\n\n\
         Mount it on an [`RpcRouter`]({}::RpcRouter) with `RpcRouter::new().service(handler)`.",
        svc.krate
    )
    .replace(" :: ", "::");
    quote! {
        #[doc = #doc]
        #vis struct #handler<S> {
            service: #p::std::sync::Arc<S>,
        }

        impl<S> #handler<S> {
            /// Wraps `service`.
            pub fn new(service: S) -> Self {
                Self { service: #p::std::sync::Arc::new(service) }
            }

            /// Wraps a shared `service`.
            pub fn from_arc(service: #p::std::sync::Arc<S>) -> Self {
                Self { service }
            }

            /// The wrapped service.
            pub fn service(&self) -> &#p::std::sync::Arc<S> {
                &self.service
            }
        }

        impl<S> #p::core::clone::Clone for #handler<S> {
            fn clone(&self) -> Self {
                Self { service: #p::std::sync::Arc::clone(&self.service) }
            }
        }

        impl<__S: #ident> #krate::RpcService for #handler<__S> {
            fn schema(&self) -> &'static #krate::ServiceSchema {
                <__S as #ident>::schema()
            }

            #[allow(deprecated, unused_variables, clippy::needless_question_mark)]
            fn dispatch<'__a>(
                &'__a self,
                __ctx: &'__a #krate::RpcContext,
                __payload: &'__a [u8],
            ) -> #krate::BoxFuture<'__a, #p::core::result::Result<#p::std::vec::Vec<u8>, #krate::ServerError>> {
                match __ctx.method() {
                    #(#arms)*
                    __other => {
                        let __error = #krate::ServerError::method_not_found(__other);
                        #p::std::boxed::Box::pin(async move { #p::core::result::Result::Err(__error) })
                    }
                }
            }
        }
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

fn forwarded_client_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc") || a.path().is_ident("deprecated"))
}

fn expand_client(svc: &Service) -> TokenStream {
    let p = private(svc);
    let krate = &svc.krate;
    let (vis, ident) = (&svc.vis, &svc.ident);
    let client = client_ident(svc);
    let serde = serde_crate(svc);
    let methods = svc.methods.iter().map(|m| {
        let name = &m.ident;
        let wire = &m.wire_name;
        let attrs = forwarded_client_attrs(&m.attrs);
        let sep = if m.docs.is_empty() { "" } else { "\n\n" };
        let extra_doc = if m.notify {
            format!("{sep}Sends the one-way call `{wire}` (call id 0, no reply); resolves once the transport accepted it.")
        } else {
            format!("{sep}Calls `{wire}`.")
        };
        let params: Vec<&Param> = m.params().collect();
        let args = params.iter().map(|param| {
            let (ident, ty) = (&param.ident, &param.ty);
            quote!(#ident: #ty)
        });
        let lt = if params.is_empty() { TokenStream::new() } else { quote!(<'__a>) };
        let fields = params.iter().enumerate().map(|(i, param)| {
            let f = field_ident(i);
            let ty = &param.ty;
            let attrs = serde_field_attrs(param, false);
            let f = Ident::new(&f.to_string(), ty.span());
            quote_spanned!(ty.span()=> #attrs #f: &'__a #ty)
        });
        let inits = params.iter().enumerate().map(|(i, param)| {
            let f = Ident::new(&field_ident(i).to_string(), param.ty.span());
            let ident = &param.ident;
            quote!(#f: &#ident)
        });
        let (ok, err) = match &m.output {
            Output::Result { ok, err } => (ok.to_token_stream(), err.to_token_stream()),
            Output::Unit => (quote!(()), quote!(#p::core::convert::Infallible)),
        };
        let notify = m.notify;
        let timeout = match m.timeout_ms.or(svc.timeout_ms) {
            Some(ms) => quote!(#p::core::option::Option::Some(#p::core::time::Duration::from_millis(#ms))),
            None => quote!(#p::core::option::Option::None),
        };
        quote! {
            #(#attrs)*
            #[doc = #extra_doc]
            pub fn #name(&self, #(#args),*) -> #krate::RpcCall<'_, #ok, #err, __T> {
                #[derive(#p::serde::Serialize)]
                #[serde(crate = #serde)]
                struct __Params #lt {
                    #(#fields,)*
                }
                #krate::RpcCall::__new(
                    &self.transport,
                    &self.target,
                    #wire,
                    #p::encode_value(&__Params { #(#inits,)* }),
                    #notify,
                    self.timeout,
                    #timeout,
                )
            }
        }
    });
    let doc = format!(
        "Typed client for [`{ident}`]: calls the service on one bus client through an \
         [`RpcTransport`]({krate}::RpcTransport).\n\n\
         Every method returns an [`RpcCall`]({krate}::RpcCall): `.await` it, optionally after `.timeout(d)`.",
        krate = svc.krate
    )
    .replace(" :: ", "::")
    .replace(":: ", "::");
    quote! {
        #[doc = #doc]
        #vis struct #client<__T = #krate::DefaultTransport> {
            transport: __T,
            target: #p::std::sync::Arc<str>,
            timeout: #p::core::option::Option<#p::core::time::Duration>,
        }

        impl<__T: #p::core::clone::Clone> #p::core::clone::Clone for #client<__T> {
            fn clone(&self) -> Self {
                Self {
                    transport: #p::core::clone::Clone::clone(&self.transport),
                    target: #p::core::clone::Clone::clone(&self.target),
                    timeout: self.timeout,
                }
            }
        }

        #[allow(deprecated)]
        impl<__T: #krate::RpcTransport> #client<__T> {
            /// A client calling the service registered on the bus as `target`, through `transport`.
            pub fn new(transport: __T, target: impl #p::core::convert::Into<#p::std::sync::Arc<str>>) -> Self {
                Self {
                    transport,
                    target: target.into(),
                    timeout: #p::core::option::Option::None,
                }
            }

            /// Sets the timeout of every call of this client (a call's own `.timeout(d)` still wins).
            pub fn with_timeout(mut self, timeout: #p::core::time::Duration) -> Self {
                self.timeout = #p::core::option::Option::Some(timeout);
                self
            }

            /// The bus name of the service this client calls.
            pub fn target(&self) -> &str {
                &self.target
            }

            /// The transport calls go through.
            pub fn transport(&self) -> &__T {
                &self.transport
            }

            #(#methods)*
        }
    }
}

/// Static assertions spanned on the user's types, so trait-bound failures point there. (Params,
/// server results and error types are checked where they are used, through projections.)
fn expand_asserts(svc: &Service) -> TokenStream {
    let p = private(svc);
    let mut checks = TokenStream::new();
    if svc.client {
        for m in &svc.methods {
            if let Output::Result { ok, .. } = &m.output {
                checks.extend(quote_spanned! {ok.span()=> #p::assert_result_decode::<#ok>(); });
            }
        }
    }
    quote! {
        const _: fn() = || {
            #checks
        };
    }
}
