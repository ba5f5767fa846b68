//! Typed events: the [`RpcEvent`] trait `#[derive(RpcEvent)]` implements, how an event becomes a
//! topic and a payload, and the errors of publishing and receiving them.
//!
//! | module | what it holds |
//! |---|---|
//! | `topic` | topic templates (`calc/added/{room}`): key checks, patterns, matching |
//! | `inbox` | the bounded per-subscription buffer that reports overflow as `Lagged(n)` |
//! | `hub` | the subscriptions of one bus client, fed by the frames it receives |
//! | `receiver` | [`EventReceiver`], the typed end a subscriber reads |

mod hub;
mod inbox;
mod receiver;
mod topic;

use std::fmt;

use elbus::{AsyncClient, QoS};

pub use hub::EventHub;
pub use receiver::{EventFilter, EventReceiver, ReceivedEvent, RecvError, DEFAULT_EVENT_BUFFER};
pub(crate) use topic::pattern_matches;
pub use topic::{key_segment, topic_matches};

use crate::codec::encode_value;
use crate::error::CodecError;

/// The QoS events are published with unless told otherwise: the broker ACKs the publication.
pub const EVENT_QOS: QoS = QoS::Processed;

/// An event type: an enum whose variants are topics, derived with `#[derive(RpcEvent)]`.
///
/// The topic names the variant (under the enum's namespace, `{field}` segments filled from
/// the fields); the payload is a MessagePack map of the variant's fields (`{}` for a unit
/// variant). See the repository's `docs/typed-rpc.md` §8.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event type",
    label = "not an event type",
    note = "add `#[derive(RpcEvent)]` to the enum (from `elbus_rpc`)"
)]
pub trait RpcEvent: Sized + Send + 'static {
    /// The topic prefix given with `#[rpc(namespace = "..")]` (empty without one).
    const NAMESPACE: &'static str;
    /// Every variant's topic, pattern, fields and docs, in declaration order.
    const EVENTS: &'static [EventSchema];

    /// The Rust name of this value's variant.
    fn variant(&self) -> &'static str;

    /// The topic this value is published on; fails when a key value would break the topic.
    fn topic(&self) -> Result<String, EventError>;

    /// The payload: a MessagePack map of the variant's fields.
    fn encode_payload(&self) -> Result<Vec<u8>, CodecError>;

    /// Rebuilds an event from the topic it arrived on and its payload: `Ok(None)` when the
    /// topic is none of this type's.
    fn decode(topic: &str, payload: &[u8]) -> Result<Option<Self>, CodecError>;
}

/// One variant of an event type, as `rpc.describe` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct EventSchema {
    /// The variant's Rust name (`"Added"`).
    pub name: &'static str,
    /// The topic template (`"calc/added/{room}"`, or `"calc/added"` without keys).
    pub topic: &'static str,
    /// The subscription pattern: the template with `+` for each key (`"calc/added/+"`).
    pub pattern: &'static str,
    /// The variant's doc comment.
    pub description: &'static str,
    /// The fields, in declaration order: the keys of the payload map.
    pub fields: &'static [EventFieldSchema],
}

/// One field of an event variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct EventFieldSchema {
    /// The field name (the key in the payload map).
    pub name: &'static str,
    /// The Rust type as written.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// Its schema v2 descriptor (sent as `schema` by `rpc.describe`).
    #[serde(skip)]
    pub schema: crate::type_schema::TypeDescriptor,
}

/// Why an event could not be published or subscribed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    /// A key field's value would break the topic (it holds `/`, `+`, `#` or NUL, or is empty).
    InvalidKey {
        /// The variant.
        variant: &'static str,
        /// The key field.
        field: &'static str,
        /// The refused value.
        value: String,
    },
    /// A filter named a variant the event type does not have.
    UnknownVariant(String),
    /// The payload did not encode.
    Encode(CodecError),
    /// The bus refused or failed the operation.
    Bus(String),
    /// There is no bus to publish on (a call served through [`Loopback`](crate::Loopback)).
    NoBus,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKey {
                variant,
                field,
                value,
            } => write!(
                f,
                "event {variant}: key field `{field}` = {value:?} can't be a topic segment (empty, or holds '/', '+', '#' or NUL)"
            ),
            Self::UnknownVariant(v) => write!(f, "no event variant named {v:?}"),
            Self::Encode(e) => write!(f, "event payload does not encode: {e}"),
            Self::Bus(e) => write!(f, "bus error: {e}"),
            Self::NoBus => f.write_str("no bus to publish on: this call was not served over a bus"),
        }
    }
}

impl std::error::Error for EventError {}

impl From<elbus::Error> for EventError {
    fn from(e: elbus::Error) -> Self {
        Self::Bus(e.to_string())
    }
}

/// Publishes `event` from any bus client with `qos`, waiting for the broker's ACK when the QoS
/// asks for one. The topic is checked before anything is sent.
pub async fn publish_event<C: AsyncClient, E: RpcEvent>(
    client: &C,
    event: &E,
    qos: QoS,
) -> Result<(), EventError> {
    let topic = event.topic()?;
    let payload = event.encode_payload().map_err(EventError::Encode)?;
    client.publish(&topic, &payload, qos).await?.await?;
    Ok(())
}

/// Encodes the payload map of a variant (the generated code's helper).
#[doc(hidden)]
pub fn encode_fields<T: serde::Serialize>(fields: &T) -> Result<Vec<u8>, CodecError> {
    encode_value(fields)
}
