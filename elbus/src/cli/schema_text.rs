//! `rpc describe` for a terminal: a service's schema with its wire types (schema v2
//! descriptors, the Rust type where a peer sends none), streams, events and user types.

use std::fmt::Write;

use serde_json::Value;

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A descriptor as a short type: `int64`, `[string]`, `Entry?`, `{string: float64}`, `bin`.
pub(crate) fn type_text(descriptor: &Value) -> String {
    let Some(map) = descriptor.as_object() else {
        return "any".into();
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    if let Some(value) = map.get("const") {
        return value.to_string();
    }
    if let Some(values) = map.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" | ");
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = map.get(key).and_then(Value::as_array) {
            return alternatives(variants.iter().map(type_text).collect());
        }
    }
    match map.get("type") {
        Some(Value::String(ty)) => single(ty, map),
        Some(Value::Array(types)) => alternatives(
            types
                .iter()
                .filter_map(Value::as_str)
                .map(|ty| single(ty, map))
                .collect(),
        ),
        _ => "any".into(),
    }
}

fn single(ty: &str, map: &serde_json::Map<String, Value>) -> String {
    let format = map.get("format").and_then(Value::as_str);
    match ty {
        "integer" => format.unwrap_or("integer").to_owned(),
        "number" if format == Some("double") => "float64".into(),
        "number" if format == Some("float") => "float32".into(),
        "number" => "number".into(),
        "boolean" => "bool".into(),
        "null" => "nil".into(),
        "array" => match map.get("prefixItems").and_then(Value::as_array) {
            Some(items) => {
                let items: Vec<String> = items.iter().map(type_text).collect();
                format!("({})", items.join(", "))
            }
            None => format!(
                "[{}]",
                map.get("items").map(type_text).unwrap_or("any".into())
            ),
        },
        "object" => object(map),
        other => other.to_owned(),
    }
}

fn object(map: &serde_json::Map<String, Value>) -> String {
    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = map
            .get("required")
            .map(|r| list(r).iter().map(text).collect())
            .unwrap_or_default();
        let fields: Vec<String> = properties
            .iter()
            .map(|(name, schema)| {
                let mark = if required.contains(&name.as_str()) {
                    ""
                } else {
                    "?"
                };
                format!("{name}{mark}: {}", type_text(schema))
            })
            .collect();
        return format!("{{{}}}", fields.join(", "));
    }
    match map.get("additionalProperties") {
        Some(value @ Value::Object(_)) => format!("{{string: {}}}", type_text(value)),
        _ => "{..}".into(),
    }
}

fn alternatives(mut members: Vec<String>) -> String {
    let nullable = members.iter().any(|m| m == "nil");
    members.retain(|m| m != "nil");
    members.dedup();
    let joined = members.join(" | ");
    match (nullable, members.len()) {
        (true, 0) => "nil".into(),
        (true, 1) => format!("{joined}?"),
        (true, _) => format!("({joined})?"),
        (false, _) => joined,
    }
}

/// The wire type of a param, result or field: its descriptor, else its Rust type string.
fn wire_type(schema: Option<&Value>, rust: &str) -> String {
    match schema {
        Some(descriptor) => type_text(descriptor),
        None => rust.to_owned(),
    }
}

/// Renders a whole `rpc.describe` reply: one block per service, one line per method
/// (`name(param: type, [optional: type]) -> result`), its doc, aliases and error codes, then
/// its events and the user types its methods use.
pub(crate) fn describe_text(schema: &Value) -> String {
    let mut out = String::new();
    if let Some(version) = schema["schema_version"].as_u64() {
        let _ = writeln!(out, "schema v{version}, hash {}", text(&schema["hash"]));
    }
    for service in list(&schema["services"]) {
        let _ = write!(out, "service {}", text(&service["name"]));
        if let Some(version) = service["version"].as_str() {
            let _ = write!(out, " {version}");
        }
        let _ = writeln!(out);
        if !text(&service["description"]).is_empty() {
            let _ = writeln!(out, "  {}", text(&service["description"]));
        }
        for method in list(&service["methods"]) {
            method_text(&mut out, service, method);
        }
        for event in list(&service["events"]) {
            let fields: Vec<String> = list(&event["fields"])
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        text(&f["name"]),
                        wire_type(f.get("schema"), text(&f["type"]))
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "\n  event {} {{{}}}",
                text(&event["topic"]),
                fields.join(", ")
            );
            if text(&event["pattern"]) != text(&event["topic"]) {
                let _ = writeln!(out, "      subscribe to {}", text(&event["pattern"]));
            }
            if !text(&event["description"]).is_empty() {
                let _ = writeln!(out, "      {}", text(&event["description"]));
            }
        }
        for (name, def) in service["$defs"].as_object().into_iter().flatten() {
            let _ = writeln!(out, "\n  type {name} = {}", type_text(def));
            if !text(&def["description"]).is_empty() {
                let _ = writeln!(out, "      {}", text(&def["description"]));
            }
        }
    }
    out
}

fn method_text(out: &mut String, service: &Value, method: &Value) {
    let params: Vec<String> = list(&method["params"])
        .iter()
        .map(|p| {
            let param = format!(
                "{}: {}",
                text(&p["name"]),
                wire_type(p.get("schema"), text(&p["type"]))
            );
            if p["required"].as_bool() == Some(false) {
                format!("[{param}]")
            } else {
                param
            }
        })
        .collect();
    let result = wire_type(method.get("result"), text(&method["returns"]));
    let tail = if method["notify"].as_bool() == Some(true) {
        "  (notify: no reply)".to_owned()
    } else if method["stream"].as_bool() == Some(true) {
        format!(" -> stream of {result}")
    } else {
        format!(" -> {result}")
    };
    let _ = writeln!(
        out,
        "\n  {}({}){tail}",
        text(&method["name"]),
        params.join(", ")
    );
    if !text(&method["description"]).is_empty() {
        let _ = writeln!(out, "      {}", text(&method["description"]));
    }
    let aliases: Vec<&str> = list(&method["aliases"]).iter().map(text).collect();
    if !aliases.is_empty() {
        let _ = writeln!(out, "      aliases: {}", aliases.join(", "));
    }
    // The service lists each error type once; older services list the codes per method.
    let codes = list(&service["errors"])
        .iter()
        .find(|t| t["name"] == method["error"])
        .map_or(&method["errors"], |t| &t["codes"]);
    for error in list(codes) {
        let _ = writeln!(
            out,
            "      error {} {}  {}",
            error["code"],
            text(&error["name"]),
            text(&error["description"])
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn descriptors_read_as_short_wire_types() {
        for (descriptor, shown) in [
            (json!({"type": "integer", "format": "int64"}), "int64"),
            (json!({"type": ["string", "null"]}), "string?"),
            (
                json!({"type": "array", "items": {"$ref": "#/$defs/Entry"}}),
                "[Entry]",
            ),
            (
                json!({"type": "object", "additionalProperties": {"type": "number", "format": "double"}}),
                "{string: float64}",
            ),
            (
                json!({"anyOf": [{"$ref": "#/$defs/F"}, {"type": "null"}]}),
                "F?",
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "bin"}, "b": {"type": "boolean"}}, "required": ["a"]}),
                "{a: bin, b?: bool}",
            ),
            (
                json!({"enum": ["x", "y"], "type": "string"}),
                "\"x\" | \"y\"",
            ),
            (json!({}), "any"),
        ] {
            assert_eq!(type_text(&descriptor), shown, "{descriptor}");
        }
    }
}
