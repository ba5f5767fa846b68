//! The static service schema, built by `#[rpc]` from the same tokens as dispatch and served by
//! the router's `rpc.describe` method.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::type_schema::TypeDescriptor;

use crate::events::EventSchema;

/// A service: what `rpc.describe` lists for each mounted handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServiceSchema {
    /// The trait's name (`"Calc"`).
    pub name: &'static str,
    /// The method-name prefix (`"calc"`), empty when the trait has none.
    pub namespace: &'static str,
    /// The service version, when given.
    pub version: Option<&'static str>,
    /// The trait's doc comment.
    pub description: &'static str,
    /// The service-level default timeout in milliseconds, when given.
    pub timeout_ms: Option<u64>,
    /// Free-form metadata from `meta(key = "value", ..)`.
    #[serde(serialize_with = "meta_map")]
    pub meta: &'static [(&'static str, &'static str)],
    /// The methods, in declaration order.
    pub methods: &'static [MethodSchema],
    /// Each error type the methods answer with, once (by the type as written); a method names
    /// its type in [`MethodSchema::error`]. Types without codes (`Infallible`) are not listed.
    #[serde(serialize_with = "error_types")]
    pub errors: &'static [ErrorTypeSchema],
    /// The events the service publishes (`#[rpc(events = Type)]`), one per variant; empty
    /// without.
    pub events: &'static [EventSchema],
}

/// A service error type and its codes, listed once per service in `rpc.describe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ErrorTypeSchema {
    /// The Rust type as written in the methods' results (`"CalcError"`).
    pub name: &'static str,
    /// Its variants with their codes.
    pub codes: &'static [ErrorSchema],
}

/// One method of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MethodSchema {
    /// The wire name, namespace included (`"calc.add"`).
    pub name: &'static str,
    /// Extra wire names that resolve to this method.
    pub aliases: &'static [&'static str],
    /// The Rust method name.
    pub rust_name: &'static str,
    /// The method's doc comment.
    pub description: &'static str,
    /// The params in wire order (the context param is not one).
    pub params: &'static [ParamSchema],
    /// The Rust type of the `Ok` value (`"()"` for notifications).
    pub returns: &'static str,
    /// The schema v2 descriptor of the `Ok` value (of each item, for a stream; sent as
    /// `result` by `rpc.describe`).
    #[serde(skip)]
    pub result: TypeDescriptor,
    /// The Rust type of the error, empty for notifications.
    pub error: &'static str,
    /// The error codes the method may answer with (not sent by `rpc.describe`, which lists
    /// them once per service in [`ServiceSchema::errors`]).
    #[serde(skip)]
    pub errors: &'static [ErrorSchema],
    /// A one-way call: callers send call id 0 and get no reply.
    pub notify: bool,
    /// A pull stream (`#[rpc(stream)]`): the call opens a cursor (`{"u": id}`) and `returns`
    /// is the type of each item.
    pub stream: bool,
    /// The method's default timeout in milliseconds, when given.
    pub timeout_ms: Option<u64>,
    /// Free-form metadata from `meta(key = "value", ..)`.
    #[serde(serialize_with = "meta_map")]
    pub meta: &'static [(&'static str, &'static str)],
}

/// One param of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamSchema {
    /// The wire name (the map key).
    pub name: &'static str,
    /// Extra accepted wire names (a renamed param keeps its Rust name here).
    pub aliases: &'static [&'static str],
    /// The Rust type as written.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// Callers must send it (neither an `Option` nor `#[rpc(default)]`).
    pub required: bool,
    /// Missing values become `Default::default()`.
    pub default: bool,
    /// Its schema v2 descriptor (sent as `schema` by `rpc.describe`).
    #[serde(skip)]
    pub schema: TypeDescriptor,
}

/// One error code of a service error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ErrorSchema {
    /// The variant name.
    pub name: &'static str,
    /// The wire code.
    pub code: i16,
    /// The variant's doc comment.
    pub description: &'static str,
    /// The variant's message depends on its fields (a `String` message, or `{field}` placeholders).
    pub has_message: bool,
}

impl ServiceSchema {
    /// The method with this wire name or alias.
    pub fn method(&self, name: &str) -> Option<&'static MethodSchema> {
        self.methods
            .iter()
            .find(|m| m.name == name || m.aliases.contains(&name))
    }
}

fn error_types<S: Serializer>(
    types: &&'static [ErrorTypeSchema],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(types.iter().filter(|t| !t.codes.is_empty()))
}

fn meta_map<S: Serializer>(
    meta: &&'static [(&'static str, &'static str)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(meta.len()))?;
    for (k, v) in meta.iter() {
        map.serialize_entry(k, v)?;
    }
    map.end()
}
