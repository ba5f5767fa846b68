//! `{Trait}Client<T>`: the typed client whose methods build an `RpcCall`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Ident};

use super::{client_ident, field_ident, private, serde_crate, serde_field_attrs};
use crate::ast::{Output, Param, Service};

fn forwarded_client_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc") || a.path().is_ident("deprecated"))
}

pub fn expand_client(svc: &Service) -> TokenStream {
    let p = private(svc);
    let krate = &svc.rpc_attrs.krate;
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
        let lt = if params.is_empty() { TokenStream::new() } else { quote!(<'__params>) };
        let fields = params.iter().enumerate().map(|(i, param)| {
            let f = field_ident(i);
            let ty = &param.ty;
            let attrs = serde_field_attrs(svc, param, false);
            let f = Ident::new(&f.to_string(), ty.span());
            quote_spanned!(ty.span()=> #attrs #f: &'__params #ty)
        });
        let inits = params.iter().enumerate().map(|(i, param)| {
            let f = Ident::new(&field_ident(i).to_string(), param.ty.span());
            let ident = &param.ident;
            quote!(#f: &#ident)
        });
        let stream_timeout = match m.timeout_ms.or(svc.rpc_attrs.timeout_ms) {
            Some(ms) => quote!(#p::core::option::Option::Some(#p::core::time::Duration::from_millis(#ms))),
            None => quote!(#p::core::option::Option::None),
        };
        let (ok, err) = match &m.output {
            Output::Result { ok, err } => (ok.to_token_stream(), err.to_token_stream()),
            Output::Unit => (quote!(()), quote!(#p::core::convert::Infallible)),
        };
        let notify = m.notify;
        let decode = if m.bytes_result { quote!(.__decode_bytes()) } else { TokenStream::new() };
        let timeout = match m.timeout_ms.or(svc.rpc_attrs.timeout_ms) {
            Some(ms) => quote!(#p::core::option::Option::Some(#p::core::time::Duration::from_millis(#ms))),
            None => quote!(#p::core::option::Option::None),
        };
        if m.stream {
            let doc = format!("{sep}Opens the pull stream `{wire}`: the items arrive as the stream is polled, in batches (`NB`); dropping it early closes the cursor.");
            return quote! {
                #(#attrs)*
                #[doc = #doc]
                pub fn #name(&self, #(#args),*) -> #krate::PullStream<#ok, #err> {
                    #[derive(#p::serde::Serialize)]
                    #[serde(crate = #serde)]
                    struct __Params #lt {
                        #(#fields,)*
                    }
                    let __timeout = self
                        .timeout
                        .or(#stream_timeout)
                        .or_else(|| #krate::RpcTransport::default_timeout(&self.transport))
                        .unwrap_or(#krate::DEFAULT_TIMEOUT);
                    #krate::PullStream::__open(
                        #p::core::clone::Clone::clone(&self.transport),
                        #p::core::clone::Clone::clone(&self.target),
                        #wire,
                        #p::encode_value(&__Params { #(#inits,)* }),
                        __timeout,
                    )
                }
            };
        }
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
                .__client_qos(self.qos)#decode
            }
        }
    });
    let doc = format!(
        "Typed client for [`{ident}`]: calls the service on one bus client through an \
         [`RpcTransport`]({krate}::RpcTransport).\n\n\
         Every method returns an [`RpcCall`]({krate}::RpcCall): `.await` it, optionally after `.timeout(d)`.",
        krate = svc.rpc_attrs.krate
    )
    .replace(" :: ", "::")
    .replace(":: ", "::");
    quote! {
        #[doc = #doc]
        #vis struct #client<__T = #krate::DefaultTransport> {
            transport: __T,
            target: #p::std::sync::Arc<str>,
            timeout: #p::core::option::Option<#p::core::time::Duration>,
            qos: #p::core::option::Option<#p::QoS>,
        }

        impl<__T: #p::core::clone::Clone> #p::core::clone::Clone for #client<__T> {
            fn clone(&self) -> Self {
                Self {
                    transport: #p::core::clone::Clone::clone(&self.transport),
                    target: #p::core::clone::Clone::clone(&self.target),
                    timeout: self.timeout,
                    qos: self.qos,
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
                    qos: #p::core::option::Option::None,
                }
            }

            /// Sets the timeout of every call of this client (a call's own `.timeout(d)` still wins).
            pub fn with_timeout(mut self, timeout: #p::core::time::Duration) -> Self {
                self.timeout = #p::core::option::Option::Some(timeout);
                self
            }

            /// Sends every call of this client with `qos` (a call's own `.qos(q)` still wins);
            /// without it calls use `Processed`.
            pub fn with_qos(mut self, qos: #p::QoS) -> Self {
                self.qos = #p::core::option::Option::Some(qos);
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
