//! Lenient extraction of typed fields from a JSON object.
//!
//! EXPLAIN output differs between PostgreSQL versions (13 prints `"Actual Rows": 12`, 18 prints
//! `12.00`; some counters are printed through `ExplainPropertyFloat` and may carry decimals), and
//! tools that post-process plans sometimes quote numbers. Instead of letting serde reject a whole
//! plan because one field has an unexpected type, every typed field is *taken out* of the node's
//! JSON object only when it converts cleanly; anything that does not convert stays in the object
//! and ends up in the node's `extra` map. Nothing is ever dropped and nothing is ever fatal.

use serde_json::{Map, Value};

/// A JSON value read as a float: numbers, and strings that hold a number.
pub(crate) fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A JSON value read as a non-negative integer. Floats are accepted only when they have no
/// fractional part (`3.0`), so a genuinely fractional value is never silently truncated.
pub(crate) fn value_u64(v: &Value) -> Option<u64> {
    if let Some(u) = v.as_u64() {
        return Some(u);
    }
    let f = value_f64(v)?;
    // 2^53: beyond it an f64 no longer holds every integer exactly.
    if f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_992.0 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked above: a whole number in 0..=2^53, which u64 holds exactly"
        )]
        Some(f as u64)
    } else {
        None
    }
}

/// Removes `key` from `map` if its value converts with `conv`; otherwise leaves it in place.
fn take_with<T>(
    map: &mut Map<String, Value>,
    key: &str,
    conv: impl Fn(&Value) -> Option<T>,
) -> Option<T> {
    let out = map.get(key).and_then(conv)?;
    map.remove(key);
    Some(out)
}

pub(crate) fn take_f64(map: &mut Map<String, Value>, key: &str) -> Option<f64> {
    take_with(map, key, value_f64)
}

pub(crate) fn take_u64(map: &mut Map<String, Value>, key: &str) -> Option<u64> {
    take_with(map, key, value_u64)
}

pub(crate) fn take_i64(map: &mut Map<String, Value>, key: &str) -> Option<i64> {
    take_with(map, key, |v| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

pub(crate) fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    take_with(map, key, |v| v.as_str().map(str::to_owned))
}

pub(crate) fn take_bool(map: &mut Map<String, Value>, key: &str) -> Option<bool> {
    take_with(map, key, Value::as_bool)
}

pub(crate) fn take_object(map: &mut Map<String, Value>, key: &str) -> Option<Map<String, Value>> {
    match map.get(key) {
        Some(Value::Object(_)) => match map.remove(key) {
            Some(Value::Object(o)) => Some(o),
            _ => None,
        },
        _ => None,
    }
}

/// Removes `key` if it is a non-empty array whose elements are all objects, returning them. An
/// empty array stays in the map, so it serialises back as written (the typed fields skip empty
/// vectors).
pub(crate) fn take_object_array(
    map: &mut Map<String, Value>,
    key: &str,
) -> Option<Vec<Map<String, Value>>> {
    let all_objects = match map.get(key) {
        Some(Value::Array(items)) => !items.is_empty() && items.iter().all(Value::is_object),
        _ => false,
    };
    if !all_objects {
        return None;
    }
    match map.remove(key) {
        Some(Value::Array(items)) => Some(
            items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(o) => Some(o),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}
