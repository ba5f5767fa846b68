//! The `rpc.describe` reply, schema version 2: the static service schemas with a type
//! descriptor on every param, result, stream item and event field, each service's `$defs`,
//! and a stable hash of the whole (docs/typed-rpc.md §6).

use serde_json::{Map, Value};

use crate::schema::ServiceSchema;
use crate::type_schema::{schema_hash, TypeSchemas};

/// The schema version this runtime describes.
pub const SCHEMA_VERSION: u64 = 2;

/// The reply for these services, in mounting order:
/// `{"schema_version": 2, "hash": "..", "services": [..]}`.
pub fn describe_services<'a>(
    services: impl IntoIterator<Item = &'a ServiceSchema>,
) -> Result<Value, serde_json::Error> {
    let services = services
        .into_iter()
        .map(describe_service)
        .collect::<Result<Vec<_>, _>>()?;
    let services = Value::Array(services);
    let mut reply = Map::new();
    reply.insert("schema_version".into(), SCHEMA_VERSION.into());
    reply.insert("hash".into(), schema_hash(&services).into());
    reply.insert("services".into(), services);
    Ok(Value::Object(reply))
}

/// One service: its static schema, each descriptor put next to its Rust type string.
fn describe_service(service: &ServiceSchema) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::to_value(service)?;
    let mut types = TypeSchemas::new();
    if let Some(methods) = value["methods"].as_array_mut() {
        for (method, schema) in methods.iter_mut().zip(service.methods) {
            if let Some(params) = method["params"].as_array_mut() {
                for (param, schema) in params.iter_mut().zip(schema.params) {
                    param["schema"] = schema.schema.describe(&mut types);
                }
            }
            method["result"] = schema.result.describe(&mut types);
        }
    }
    if let Some(events) = value["events"].as_array_mut() {
        for (event, schema) in events.iter_mut().zip(service.events) {
            if let Some(fields) = event["fields"].as_array_mut() {
                for (field, schema) in fields.iter_mut().zip(schema.fields) {
                    field["schema"] = schema.schema.describe(&mut types);
                }
            }
        }
    }
    value["$defs"] = Value::Object(types.into_defs());
    Ok(value)
}
