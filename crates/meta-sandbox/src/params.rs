//! Decoding of Graph parameters, shared by every endpoint.
//!
//! Graph takes list- and object-valued parameters in two spellings, and clients use both:
//! our own client and most examples write lists as comma strings (`fields=id,name`), while
//! Meta's official SDKs JSON-encode every list, map and boolean (`fields=["id","name"]`,
//! `time_range={"since":…,"until":…}`, `summary=true`). The parameters reach the sandbox as
//! `(name, raw text)` pairs from a query string, a form body, a JSON body (non-string values
//! re-serialised as JSON) or a batch item's `relative_url` and `body`; every endpoint reads
//! them through the functions here, so each spelling is accepted everywhere.
//!
//! [`refuse_unknown`] is how an endpoint refuses options it does not model, with Meta's
//! invalid-parameter error (code 100), instead of quietly ignoring them.

use serde_json::{Map, Value};

use crate::error::{GResult, GraphError};
use crate::fields::{self, FieldSel};

/// Parameters Graph takes on every call; no endpoint needs to list them.
pub const UNIVERSAL: &[&str] = &["access_token", "appsecret_proof", "method", "pretty"];

/// The raw text of a parameter (the last one wins when it is repeated).
pub fn raw<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn looks_like_json(s: &str) -> bool {
    matches!(s.trim_start().chars().next(), Some('[') | Some('{'))
}

fn scalar_text(key: &str, i: usize, v: &Value) -> GResult<String> {
    match v {
        Value::String(s) => Ok(s.trim().to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(GraphError::param(format!(
            "Param {key}[{i}] must be a string"
        ))),
    }
}

/// Decodes a list written as a JSON array (`["a","b"]`) or as a comma string (`a,b`).
/// Empty items are dropped, so `""` and `[]` are both the empty list.
pub fn decode_list(key: &str, text: &str) -> GResult<Vec<String>> {
    let t = text.trim();
    if t.starts_with('[') {
        let v: Value = serde_json::from_str(t).map_err(|_| {
            GraphError::param(format!(
                "Param {key} must be a JSON array or a comma-separated list"
            ))
        })?;
        let Value::Array(items) = v else {
            return Err(GraphError::param(format!(
                "Param {key} must be a JSON array or a comma-separated list"
            )));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let s = scalar_text(key, i, item)?;
            if !s.is_empty() {
                out.push(s);
            }
        }
        return Ok(out);
    }
    if t.starts_with('{') {
        return Err(GraphError::param(format!(
            "Param {key} must be a JSON array or a comma-separated list, not an object"
        )));
    }
    Ok(t.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

/// A list-valued parameter (`effective_status`, `breakdowns`, `status`, …), if present.
pub fn list(params: &[(String, String)], key: &str) -> GResult<Option<Vec<String>>> {
    raw(params, key).map(|t| decode_list(key, t)).transpose()
}

/// An object-valued parameter written as JSON (`time_range={"since":…,"until":…}`).
pub fn object(params: &[(String, String)], key: &str) -> GResult<Option<Map<String, Value>>> {
    let Some(t) = raw(params, key) else {
        return Ok(None);
    };
    match serde_json::from_str::<Value>(t.trim()) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => Err(GraphError::param(format!(
            "Param {key} must be a JSON object"
        ))),
    }
}

/// A list of objects written as a JSON array (`filtering=[{"field":…}]`, `time_ranges=[…]`).
/// A single object is taken as a list of one.
pub fn objects(params: &[(String, String)], key: &str) -> GResult<Option<Vec<Value>>> {
    let Some(t) = raw(params, key) else {
        return Ok(None);
    };
    let bad = || GraphError::param(format!("Param {key} must be a JSON array of objects"));
    match serde_json::from_str::<Value>(t.trim()).map_err(|_| bad())? {
        Value::Array(items) if items.iter().all(Value::is_object) => Ok(Some(items)),
        o @ Value::Object(_) => Ok(Some(vec![o])),
        _ => Err(bad()),
    }
}

/// A boolean: `true`/`false` (what the SDKs send, JSON-encoded) or `1`/`0`.
pub fn boolean(params: &[(String, String)], key: &str) -> GResult<Option<bool>> {
    let Some(t) = raw(params, key) else {
        return Ok(None);
    };
    match t.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        _ => Err(GraphError::param(format!(
            "Param {key} must be a boolean (true or false)"
        ))),
    }
}

/// The `fields` selection: Graph's field syntax (`id,name,creative{title}`), or a JSON array
/// whose items are field expressions (`["id","name","creative{title}"]`). None when absent or empty.
pub fn field_selection(params: &[(String, String)]) -> GResult<Option<Vec<FieldSel>>> {
    let Some(t) = raw(params, "fields") else {
        return Ok(None);
    };
    let text = if t.trim_start().starts_with('[') {
        decode_list("fields", t)?.join(",")
    } else {
        t.to_string()
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    fields::parse(&text).map(Some)
}

/// The parameters as one JSON object, for endpoints that take a structured body
/// (template creation, messages, Conversions API events): values that look like JSON
/// arrays or objects are parsed, others stay strings. The token parameters are left out.
pub fn as_json_object(params: &[(String, String)]) -> Value {
    let mut m = Map::new();
    for (k, v) in params {
        if k == "access_token" || k == "appsecret_proof" {
            continue;
        }
        let parsed = if looks_like_json(v) {
            serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.clone()))
        } else {
            Value::String(v.clone())
        };
        m.insert(k.clone(), parsed);
    }
    Value::Object(m)
}

/// Refuses, with error 100, any parameter that is neither universal nor in `known`:
/// an option the sandbox does not model must not be silently ignored.
pub fn refuse_unknown(params: &[(String, String)], known: &[&str], what: &str) -> GResult<()> {
    for (k, _) in params {
        if !UNIVERSAL.contains(&k.as_str()) && !known.contains(&k.as_str()) {
            return Err(GraphError::param(format!(
                "Param {k} is not supported on {what} by the Meta sandbox (supported: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn lists_in_both_spellings() {
        let json = p(&[("status", r#"["ACTIVE","PAUSED"]"#)]);
        let comma = p(&[("status", "ACTIVE, PAUSED")]);
        assert_eq!(
            list(&json, "status").unwrap(),
            Some(vec!["ACTIVE".into(), "PAUSED".into()])
        );
        assert_eq!(
            list(&json, "status").unwrap(),
            list(&comma, "status").unwrap()
        );
        assert_eq!(list(&p(&[("b", "[]")]), "b").unwrap(), Some(vec![]));
        assert_eq!(list(&p(&[("b", "")]), "b").unwrap(), Some(vec![]));
        assert_eq!(list(&p(&[]), "b").unwrap(), None);
        assert_eq!(
            list(&p(&[("n", "[1,true]")]), "n").unwrap(),
            Some(vec!["1".into(), "true".into()])
        );
        assert!(list(&p(&[("b", "[1,")]), "b").is_err());
        assert!(list(&p(&[("b", r#"[{"a":1}]"#)]), "b").is_err());
        assert!(list(&p(&[("b", r#"{"a":1}"#)]), "b").is_err());
    }

    #[test]
    fn fields_as_json_array_or_graph_syntax() {
        let json = p(&[("fields", r#"["id","creative{title,body}","spend"]"#)]);
        let plain = p(&[("fields", "id,creative{title,body},spend")]);
        let a = field_selection(&json).unwrap().unwrap();
        assert_eq!(a, field_selection(&plain).unwrap().unwrap());
        assert_eq!(a[1].children.as_ref().unwrap().len(), 2);
        assert_eq!(field_selection(&p(&[("fields", "[]")])).unwrap(), None);
        assert!(field_selection(&p(&[("fields", "[\"a{\"]")])).is_err());
    }

    #[test]
    fn objects_booleans_and_unknown_options() {
        let tr = p(&[(
            "time_range",
            r#"{"since":"2026-01-01","until":"2026-01-31"}"#,
        )]);
        assert_eq!(
            object(&tr, "time_range").unwrap().unwrap()["since"],
            "2026-01-01"
        );
        assert!(object(&p(&[("time_range", "[]")]), "time_range").is_err());
        let f = p(&[(
            "filtering",
            r#"[{"field":"a","operator":"IN","value":[1]}]"#,
        )]);
        assert_eq!(objects(&f, "filtering").unwrap().unwrap().len(), 1);
        assert!(objects(&p(&[("filtering", "[1]")]), "filtering").is_err());
        assert_eq!(boolean(&p(&[("s", "true")]), "s").unwrap(), Some(true));
        assert_eq!(boolean(&p(&[("s", "0")]), "s").unwrap(), Some(false));
        assert!(boolean(&p(&[("s", "yes")]), "s").is_err());
        let q = p(&[("access_token", "t"), ("limit", "5"), ("sort", "x")]);
        assert!(refuse_unknown(&q, &["limit", "sort"], "x").is_ok());
        let e = refuse_unknown(&q, &["limit"], "the insights edge").unwrap_err();
        assert_eq!(e.code, 100);
        assert!(e.message.contains("sort"), "{}", e.message);
    }
}
