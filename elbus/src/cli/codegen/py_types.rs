//! Schema v2 descriptors as Python type annotations (`typing` names), for the generated module.

use serde_json::Value;

/// A Python annotation for a descriptor. `$ref`s name the `$defs` class (`Entry`); anything the
/// subset does not cover, and opaque `{}`, is `Any`.
pub(crate) fn annotation(descriptor: &Value) -> String {
    let Some(map) = descriptor.as_object() else {
        return "Any".into();
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        return reference
            .strip_prefix("#/$defs/")
            .map(python_class_name)
            .unwrap_or_else(|| "Any".into());
    }
    if let Some(value) = map.get("const") {
        return literal(std::slice::from_ref(value));
    }
    if let Some(values) = map.get("enum").and_then(Value::as_array) {
        return literal(values);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = map.get(key).and_then(Value::as_array) {
            return union(variants.iter().map(annotation).collect());
        }
    }
    match map.get("type") {
        Some(Value::String(ty)) => single(ty, map),
        Some(Value::Array(types)) => union(
            types
                .iter()
                .filter_map(Value::as_str)
                .map(|ty| single(ty, map))
                .collect(),
        ),
        _ => "Any".into(),
    }
}

fn single(ty: &str, map: &serde_json::Map<String, Value>) -> String {
    match ty {
        "integer" => "int".into(),
        "number" => "float".into(),
        "string" => "str".into(),
        "boolean" => "bool".into(),
        "null" => "None".into(),
        "bin" => "bytes".into(),
        "array" => {
            if let Some(items) = map.get("prefixItems").and_then(Value::as_array) {
                let items: Vec<String> = items.iter().map(annotation).collect();
                format!("Tuple[{}]", items.join(", "))
            } else {
                let item = map
                    .get("items")
                    .map(annotation)
                    .unwrap_or_else(|| "Any".into());
                format!("List[{item}]")
            }
        }
        "object" => match map.get("additionalProperties") {
            Some(value @ Value::Object(_)) => format!("Dict[str, {}]", annotation(value)),
            _ => "Dict[str, Any]".into(),
        },
        _ => "Any".into(),
    }
}

fn literal(values: &[Value]) -> String {
    let items: Vec<String> = values.iter().map(python_literal).collect();
    if items.iter().any(|item| item == "None") {
        let rest: Vec<String> = items.into_iter().filter(|i| i != "None").collect();
        return format!("Optional[Literal[{}]]", rest.join(", "));
    }
    format!("Literal[{}]", items.join(", "))
}

fn union(mut members: Vec<String>) -> String {
    let mut seen = Vec::new();
    members.retain(|member| {
        let fresh = !seen.contains(member);
        seen.push(member.clone());
        fresh
    });
    if members.iter().any(|m| m == "Any") {
        return "Any".into();
    }
    let optional = members.iter().any(|m| m == "None");
    members.retain(|m| m != "None");
    let inner = match members.len() {
        0 => return "None".into(),
        1 => members.remove(0),
        _ => format!("Union[{}]", members.join(", ")),
    };
    if optional {
        format!("Optional[{inner}]")
    } else {
        inner
    }
}

/// A JSON scalar as a Python literal (`"x"` -> `'x'`, `true` -> `True`, `null` -> `None`).
pub(crate) fn python_literal(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => python_string(s),
        other => python_string(&other.to_string()),
    }
}

/// A Python string literal: single-quoted, with `\`, quotes and control characters escaped.
pub(crate) fn python_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A `$defs` name as a Python class name: characters outside `[A-Za-z0-9_]` become `_`
/// (schemars names generic instances `Page_for_Entry`), a leading digit gets a `_`.
pub(crate) fn python_class_name(name: &str) -> String {
    identifier(name)
}

/// Any name as a Python identifier: invalid characters become `_`, keywords get a trailing `_`.
pub(crate) fn identifier(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "match", "case", "type",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn descriptors_become_typing_annotations() {
        for (descriptor, python) in [
            (json!({"type": "integer", "format": "int64"}), "int"),
            (json!({"type": ["string", "null"]}), "Optional[str]"),
            (json!({"type": "bin"}), "bytes"),
            (
                json!({"type": "array", "items": {"$ref": "#/$defs/Entry"}}),
                "List[Entry]",
            ),
            (
                json!({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}),
                "Tuple[int, str]",
            ),
            (
                json!({"type": "object", "additionalProperties": {"type": "number"}}),
                "Dict[str, float]",
            ),
            (
                json!({"anyOf": [{"$ref": "#/$defs/F"}, {"type": "null"}]}),
                "Optional[F]",
            ),
            (
                json!({"enum": ["a", "b"], "type": "string"}),
                "Literal['a', 'b']",
            ),
            (json!({}), "Any"),
            (json!({"$ref": "#/$defs/Page_for_Entry"}), "Page_for_Entry"),
        ] {
            assert_eq!(annotation(&descriptor), python, "{descriptor}");
        }
    }

    #[test]
    fn names_and_strings_are_made_safe_for_python() {
        assert_eq!(identifier("from"), "from_");
        assert_eq!(identifier("a-b"), "a_b");
        assert_eq!(identifier("1x"), "_1x");
        assert_eq!(python_string("it's\n\\"), "'it\\'s\\n\\\\'");
    }
}
