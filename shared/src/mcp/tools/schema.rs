//! The tools' JSON Schemas, generated from their Rust types and made portable.

use super::*;

/// A JSON Schema (2020-12) for `T`, with subschemas inlined so that clients need no `$ref`.
/// An optional field is simply not required, never `type: [T, "null"]`: some clients'
/// validators reject type arrays (MCP Inspector's "schema portability" warning), so
/// results omit absent values instead of sending `null`.
pub fn schema_of<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("title");
    }
    make_portable(&mut schema);
    schema
}

/// What schemars writes that some clients' validators refuse:
/// - `Option<T>` as `type: [T, "null"]` (or `anyOf: [T, {type: null}]`, `enum: [.., null]`,
///   `default: null`):
///   optional fields are simply not required, and results omit them rather than send null;
/// - Rust integer widths as `format: uint64` and the like, which are not JSON Schema
///   formats (`minimum: 0` already says enough).
pub(super) fn make_portable(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| f.starts_with("uint") || f.starts_with("int"))
            {
                object.remove("format");
            }
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|t| t != "null");
                if let [single] = types.as_slice() {
                    let single = single.clone();
                    object.insert("type".into(), single);
                }
            }
            if object.get("default").is_some_and(Value::is_null) {
                object.remove("default");
            }
            if let Some(Value::Array(values)) = object.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            for key in ["anyOf", "oneOf"] {
                let Some(Value::Array(options)) = object.get_mut(key) else {
                    continue;
                };
                options.retain(|o| o.get("type").is_none_or(|t| t != "null"));
                if options.len() == 1 {
                    let Some(Value::Object(only)) = options.pop() else {
                        continue;
                    };
                    object.remove(key);
                    for (k, v) in only {
                        object.entry(k).or_insert(v);
                    }
                }
            }
            object.values_mut().for_each(make_portable);
        }
        Value::Array(items) => items.iter_mut().for_each(make_portable),
        _ => {}
    }
}
