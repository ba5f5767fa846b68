//! `{Trait}Handler<S>`: the server adapter that decodes a call's params, runs the method and
//! encodes its result or error.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use super::{field_ident, handler_ident, private, serde_crate, serde_field_attrs};
use crate::ast::{Arg, Output, Service};
use crate::ty::is_unit;

pub fn expand_handler(svc: &Service) -> TokenStream {
    let p = private(svc);
    let krate = &svc.rpc_attrs.krate;
    let (vis, ident) = (&svc.vis, &svc.ident);
    let handler = handler_ident(svc);
    let serde = serde_crate(svc);
    let deny = if svc.rpc_attrs.deny_unknown_params {
        quote!(#[serde(deny_unknown_fields)])
    } else {
        TokenStream::new()
    };
    let arms = svc.methods.iter().map(|m| {
        let names = std::iter::once(m.wire_name.clone()).chain(m.aliases.iter().map(|a| a.value()));
        let fields = m.params().enumerate().map(|(i, param)| {
            let f = field_ident(i);
            let ty = &param.ty;
            let attrs = serde_field_attrs(svc, param, true);
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
            Output::Result { .. } if m.bytes_result => {
                quote!(#p::encode_bytes(&__value).map_err(#krate::ServerError::internal))
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
            Output::Result { .. } if m.stream => quote! {
                let __stream = <__S as #ident>::#method(&*self.service, #(#call_args),*);
                #p::open_stream(__ctx, __stream)
            },
            Output::Result { err, .. } => {
                let code =
                    quote_spanned!(err.span()=> <#err as #krate::RpcErrorCode>::code(&__error));
                let message =
                    quote_spanned!(err.span()=> <#err as #krate::RpcErrorCode>::wire_message(&__error));
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
        svc.rpc_attrs.krate
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
