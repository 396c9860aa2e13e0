//! The body of `POST /import/conversations/{id}/messages`: history with its original times.

use std::collections::BTreeMap;

use parley_domain::error::Problems;
use parley_domain::{ImportItem, Invalid, MessageKind, UserId};
use serde_json::Value;

use super::{string_items, string_map};

/// A Unix time in milliseconds: an integer (an integral float such as `1.5e12` is accepted).
fn millis(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            // In range and integral: the conversion is exact.
            .map(|f| f as i64)
    })
}

fn import_item(problems: &mut Problems, i: usize, item: Value) -> Option<ImportItem> {
    let Value::Object(mut map) = item else {
        problems.invalid(format!("[{i}]"), "must be a message object");
        return None;
    };
    let at = |field: &str| format!("[{i}].{field}");
    let kind = match map.remove("type") {
        None | Some(Value::Null) => Some(MessageKind::User),
        Some(Value::String(raw)) if MessageKind::parse(&raw).is_some() => MessageKind::parse(&raw),
        Some(_) => {
            problems.invalid(at("type"), "must be \"UserMessage\" or \"SystemMessage\"");
            None
        }
    };
    let sender = match map.remove("sender") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => match UserId::new(raw) {
            Ok(id) => Some(id),
            Err(e) => {
                problems.invalid(at("sender"), e.to_string());
                None
            }
        },
        Some(_) => {
            problems.invalid(at("sender"), "must be a user ID");
            None
        }
    };
    let mut time = |field: &str, problems: &mut Problems| match map.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match millis(&value) {
            Some(ms) => Ok(Some(ms)),
            None => {
                problems.invalid(
                    at(field),
                    "must be a Unix time in milliseconds (an integer)",
                );
                Err(())
            }
        },
    };
    let timestamp = time("timestamp", problems);
    let created_at = time("createdAt", problems);
    let created_at = match (timestamp, created_at) {
        (Ok(Some(a)), Ok(Some(b))) if a != b => {
            problems.invalid(
                at("createdAt"),
                "differs from timestamp; give one of them (or both equal)",
            );
            None
        }
        (Ok(Some(t)), _) | (_, Ok(Some(t))) => Some(t),
        (Ok(None), Ok(None)) => {
            problems.invalid(
                at("timestamp"),
                "is required: the message's original time (Unix ms), as timestamp or createdAt",
            );
            None
        }
        _ => None,
    };
    let body = super::message_body(problems, &format!("[{i}]."), &mut map);
    let read_by = match map.remove("readBy") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => {
            let mut readers = Vec::new();
            for (j, raw) in string_items(problems, &at("readBy"), value).unwrap_or_default() {
                match UserId::new(raw) {
                    Ok(id) if !readers.contains(&id) => readers.push(id),
                    Ok(_) => {}
                    Err(e) => problems.invalid(format!("[{i}].readBy[{j}]"), e.to_string()),
                }
            }
            readers
        }
    };
    let custom = match map.remove("custom") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => string_map(problems, &at("custom"), value),
    };
    let idempotency_key = match map.remove("idempotencyKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) if !key.is_empty() && key.len() <= 255 => Some(key),
        Some(_) => {
            problems.invalid(at("idempotencyKey"), "must be a string of 1 to 255 bytes");
            None
        }
    };
    for name in map.keys() {
        problems.unknown(at(name));
    }
    let (text, content) = body?;
    Some(ImportItem {
        kind: kind?,
        sender,
        text,
        content,
        custom,
        created_at: created_at?,
        read_by,
        idempotency_key,
    })
}

/// The body of an import: an array of messages.
///
/// # Errors
/// [`Invalid`] with reasons keyed by item index (`[3].timestamp`).
pub fn import_items(body: Value) -> Result<Vec<ImportItem>, Invalid> {
    let mut problems = Problems::default();
    let Value::Array(items) = body else {
        problems.invalid("(body)", "must be an array of messages");
        problems.finish()?;
        return Ok(Vec::new());
    };
    let parsed: Vec<Option<ImportItem>> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| import_item(&mut problems, i, item))
        .collect();
    problems.finish()?;
    Ok(parsed.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamp_or_created_at_and_defaults() {
        let items = import_items(json!([
            {"sender": "a", "timestamp": 5, "text": "x"},
            {"type": "SystemMessage", "createdAt": 6, "text": "y"},
            {"sender": "a", "timestamp": 7, "createdAt": 7, "text": "z", "readBy": ["b", "b"]}
        ]))
        .unwrap();
        assert_eq!(items[0].kind, MessageKind::User);
        assert_eq!(items[0].created_at, 5);
        assert_eq!(items[1].kind, MessageKind::System);
        assert_eq!(items[1].created_at, 6);
        assert_eq!(items[2].read_by.len(), 1);
    }

    #[test]
    fn every_bad_field_is_named_by_index() {
        let err = import_items(json!([
            {"sender": "a", "text": "no time"},
            {"sender": "a", "timestamp": 1, "createdAt": 2, "text": "t"},
            {"sender": "a", "timestamp": "soon", "text": "t", "colour": "red"},
            {"sender": "a", "timestamp": 1, "content": []},
            {"sender": "a", "timestamp": 1}
        ]))
        .unwrap_err();
        for path in [
            "[0].timestamp",
            "[1].createdAt",
            "[2].timestamp",
            "[2].colour",
            "[3].content",
            "[4].text",
        ] {
            assert!(err.reasons.contains_key(path), "{path}: {err:?}");
        }
    }
}
