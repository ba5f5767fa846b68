//! Schema v2's language-neutral type descriptors: what `rpc.describe` says of each param,
//! result, stream item and event field next to its Rust type string.
//!
//! A descriptor is a JSON-Schema (2020-12) subset, extended for MessagePack: `integer` with a
//! `format` (`int64`, `uint8`, ..), `number`, `string`, `boolean`, `null`, **`bin`** (a
//! MessagePack binary, Python `bytes`), `array` (`prefixItems` for tuples), `object` with
//! `properties`/`required` (a struct) or `additionalProperties` (a map), `oneOf` for enums
//! (serde's tagging), and `$ref` into the service's `$defs`. `{}` is opaque: any value.
//!
//! With the `schema` feature (on by default) descriptors come from [`schemars`]: its derive reads
//! serde's attributes with serde's own parser, so `rename`, `rename_all`, `tag`, `default` and
//! `skip` are honoured exactly as serde encodes them. A type that does not implement
//! `JsonSchema` is opaque rather than a compile error (the `#[rpc]` macro picks the descriptor
//! through [`Probe`], which falls back when the bound does not hold).

use std::marker::PhantomData;

use serde_json::{Map, Value};

/// A descriptor function: `#[rpc]` emits one for each param, result, stream item and event
/// field; it adds the type's definitions to `schemas` and returns the type's descriptor.
pub type Descriptor = fn(schemas: &mut TypeSchemas) -> Value;

/// A [`Descriptor`] as a schema field: compared by the function's address, shown by name.
#[derive(Clone, Copy)]
pub struct TypeDescriptor(pub Descriptor);

impl TypeDescriptor {
    /// The descriptor of the type, its definitions added to `schemas`.
    pub fn describe(&self, schemas: &mut TypeSchemas) -> Value {
        (self.0)(schemas)
    }
}

impl PartialEq for TypeDescriptor {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::fn_addr_eq(self.0, other.0)
    }
}

impl Eq for TypeDescriptor {}

impl std::fmt::Debug for TypeDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypeDescriptor")
    }
}

/// The descriptors of one service: the `$defs` its types share, built as descriptors are asked.
pub struct TypeSchemas {
    #[cfg(feature = "schema")]
    generator: schemars::SchemaGenerator,
}

impl Default for TypeSchemas {
    fn default() -> Self {
        TypeSchemas::new()
    }
}

impl TypeSchemas {
    /// An empty set (no `$defs` yet).
    pub fn new() -> Self {
        TypeSchemas {
            #[cfg(feature = "schema")]
            generator: schemars::SchemaGenerator::new(
                schemars::generate::SchemaSettings::draft2020_12(),
            ),
        }
    }

    /// The descriptor of `T`: a `$ref` for a named user type (its definition joins `$defs`),
    /// inline for the rest.
    #[cfg(feature = "schema")]
    pub fn of<T: ?Sized + schemars::JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    /// The definitions the descriptors asked so far refer to, by name.
    pub fn into_defs(self) -> Map<String, Value> {
        #[cfg(feature = "schema")]
        {
            let mut generator = self.generator;
            generator.take_definitions(true)
        }
        #[cfg(not(feature = "schema"))]
        {
            Map::new()
        }
    }
}

/// The descriptor of a MessagePack binary (`#[rpc(bytes)]`, `serde_bytes`): `{"type": "bin"}`.
pub fn bin() -> Value {
    let mut map = Map::new();
    map.insert("type".into(), Value::String("bin".into()));
    Value::Object(map)
}

/// `descriptor` or nil: `{"anyOf": [descriptor, {"type": "null"}]}` (an `Option`).
pub fn nullable(descriptor: Value) -> Value {
    let mut null = Map::new();
    null.insert("type".into(), Value::String("null".into()));
    let mut map = Map::new();
    map.insert(
        "anyOf".into(),
        Value::Array(vec![descriptor, Value::Object(null)]),
    );
    Value::Object(map)
}

/// The descriptor of a type that says nothing of its shape: `{}`, any value.
pub fn opaque() -> Value {
    Value::Object(Map::new())
}

/// A MessagePack binary in a user type: `#[schemars(with = "elbus_rpc::type_schema::Bin")]` on a
/// `serde_bytes` field makes its descriptor `bin` rather than an array of integers.
#[derive(Debug, Clone, Copy)]
pub struct Bin;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Bin {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bin".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "bin" })
    }
}

/// The descriptor picker `#[rpc]` expands to: `(&Probe::<T>::new()).descriptor(schemas)` is
/// [`TypeSchemas::of`] when `T: JsonSchema` ([`DescribeSchema`]) and [`opaque`] otherwise
/// ([`DescribeOpaque`], reached only through the extra reference).
pub struct Probe<T: ?Sized>(PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> Probe<T> {
    /// The probe of `T`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

/// The descriptor of a type that implements `JsonSchema` (see [`Probe`]).
pub trait DescribeSchema {
    /// The descriptor.
    fn descriptor(&self, schemas: &mut TypeSchemas) -> Value;
}

#[cfg(feature = "schema")]
impl<T: ?Sized + schemars::JsonSchema> DescribeSchema for Probe<T> {
    fn descriptor(&self, schemas: &mut TypeSchemas) -> Value {
        schemas.of::<T>()
    }
}

/// The fallback descriptor, [`opaque`] (see [`Probe`]).
pub trait DescribeOpaque {
    /// The descriptor.
    fn descriptor(&self, schemas: &mut TypeSchemas) -> Value;
}

impl<T: ?Sized> DescribeOpaque for &Probe<T> {
    fn descriptor(&self, _: &mut TypeSchemas) -> Value {
        opaque()
    }
}

/// A stable hash of a schema: FNV-1a (64 bits, lowercase hex) of its canonical JSON, object
/// keys sorted at every level, so the same schema hashes the same in every build and process.
pub fn schema_hash(schema: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(schema, &mut canonical);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoSchema;

    #[test]
    fn a_type_without_json_schema_is_opaque() {
        let mut schemas = TypeSchemas::new();
        assert_eq!(
            (&Probe::<NoSchema>::new()).descriptor(&mut schemas),
            opaque()
        );
    }

    #[cfg(feature = "schema")]
    #[test]
    fn std_types_are_described_inline_with_msgpack_formats() {
        let mut schemas = TypeSchemas::new();
        let int = Probe::<i64>::new().descriptor(&mut schemas);
        assert_eq!(int["type"], "integer");
        assert_eq!(int["format"], "int64");
        let list = Probe::<Vec<String>>::new().descriptor(&mut schemas);
        assert_eq!(list["type"], "array");
        assert_eq!(list["items"]["type"], "string");
        assert!(schemas.into_defs().is_empty());
    }

    /// serde's attributes shape the descriptor as they shape the encoding.
    #[cfg(feature = "schema")]
    #[test]
    fn user_types_are_described_as_serde_encodes_them() {
        #[derive(serde::Serialize, schemars::JsonSchema)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct Entry {
            entry_id: u32,
            #[serde(rename = "label")]
            name: String,
            #[serde(default)]
            tags: Vec<String>,
            #[serde(skip)]
            hidden: bool,
            kind: Kind,
        }
        #[derive(serde::Serialize, schemars::JsonSchema)]
        #[serde(tag = "type")]
        #[allow(dead_code)]
        enum Kind {
            Plain,
            Scaled { factor: f64 },
        }
        let mut schemas = TypeSchemas::new();
        let entry = Probe::<Vec<Entry>>::new().descriptor(&mut schemas);
        assert_eq!(entry["items"]["$ref"], "#/$defs/Entry");
        let defs = schemas.into_defs();
        let properties = defs["Entry"]["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = properties.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["entryId", "kind", "label", "tags"]);
        assert_eq!(
            defs["Entry"]["required"],
            serde_json::json!(["entryId", "label", "kind"])
        );
        let variants = defs["Kind"]["oneOf"].as_array().unwrap();
        assert_eq!(variants[0]["properties"]["type"]["const"], "Plain");
        assert_eq!(variants[1]["properties"]["factor"]["format"], "double");
    }

    #[test]
    fn the_hash_ignores_key_order_and_sees_every_value() {
        let a: Value = serde_json::from_str(r#"{"b": [1, {"y": 2, "x": 3}], "a": "s"}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a": "s", "b": [1, {"x": 3, "y": 2}]}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"a": "s", "b": [1, {"x": 3, "y": 4}]}"#).unwrap();
        assert_eq!(schema_hash(&a), schema_hash(&b));
        assert_ne!(schema_hash(&a), schema_hash(&c));
        assert_eq!(schema_hash(&a).len(), 16);
    }
}
