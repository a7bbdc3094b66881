//! `normalize` (and `detect`) never panic: on arbitrary bytes, on byte-level mutations of every
//! normalize vector's body, and on JSON-level mutations that swap a value for one of another
//! type. Every provider gets every seed, so a wrong-provider body is exercised too.

#![expect(
    clippy::disallowed_methods,
    reason = "a test reads the vector files; core itself does no I/O"
)]

use std::path::Path;
use std::sync::LazyLock;

use mailstate_core::{Headers, Payload, Provider, detect, normalize};
use proptest::prelude::*;
use serde_json::Value;

/// `(headers, body)` of one normalize vector.
type Seed = (Vec<(String, String)>, Vec<u8>);

/// Every normalize vector that has a text body.
static SEEDS: LazyLock<Vec<Seed>> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/normalize");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Ok(bytes) = std::fs::read(&p) else { continue };
            let Ok(v) = serde_json::from_slice::<Value>(&bytes) else { continue };
            let input = &v["input"];
            let Some(body) = input["body"].as_str() else { continue };
            let headers = input["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            out.push((headers, body.as_bytes().to_vec()));
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no normalize vectors found to mutate");
    out
});

fn run_all(headers: &Headers, body: &[u8]) {
    for provider in Provider::ALL {
        // The result does not matter; returning at all (no panic) does.
        let _ = normalize(provider, Payload { body, headers });
    }
    let _ = detect(headers, body);
}

fn headers_of(pairs: &[(String, String)]) -> Headers {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), prop::sample::select(b"{}[]\",:0-.eE\\ \n\xff".to_vec()))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(body: &mut Vec<u8>, e: &Edit) {
    if body.is_empty() {
        return;
    }
    match *e {
        Edit::Flip(i, b) => {
            let i = i % body.len();
            body[i] ^= b;
        }
        Edit::Truncate(i) => body.truncate(i % body.len()),
        Edit::Insert(i, b) => body.insert(i % (body.len() + 1), b),
        Edit::Delete(i) => {
            body.remove(i % body.len());
        }
    }
}

/// Values of every JSON type, and the edge cases normalizers read: huge and negative numbers,
/// times, ids, empty containers.
fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(serde_json::json!(1e300)),
        Just(Value::from("2026-01-01T00:00:00.1234567-05:00")),
        Just(Value::from("99999999999999999999")),
        Just(Value::from("")),
        Just(Value::from("smtp;")),
        Just(Value::from("İ<>@ß")),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!([{"emailAddress": 5}])),
        "[a-z@.:<> ;0-9-]{0,12}".prop_map(Value::from),
    ]
}

/// Replace the `n`-th value (pre-order) of `v` with `with`; nested JSON strings (the SNS
/// `Message`) are parsed, mutated and re-encoded so their inside is reached too.
fn replace_nth(v: &mut Value, n: &mut usize, with: &Value) -> bool {
    if *n == 0 {
        *v = with.clone();
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(items) => items.iter_mut().any(|x| replace_nth(x, n, with)),
        Value::Object(map) => map.values_mut().any(|x| replace_nth(x, n, with)),
        Value::String(s) if s.trim_start().starts_with('{') => {
            let Ok(mut inner) = serde_json::from_str::<Value>(s) else { return false };
            if replace_nth(&mut inner, n, with) {
                *s = inner.to_string();
                return true;
            }
            false
        }
        _ => false,
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        run_all(&Headers::new(), &body);
    }

    #[test]
    fn arbitrary_json_ish_text_never_panics(body in r#"[\[\]{}":,0-9a-zA-Z_.\- \n]{0,256}"#) {
        run_all(&Headers::new(), body.as_bytes());
    }

    #[test]
    fn byte_mutations_of_vectors_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let (headers, body) = &SEEDS[seed.index(SEEDS.len())];
        let mut body = body.clone();
        for e in &edits {
            apply(&mut body, e);
        }
        run_all(&headers_of(headers), &body);
    }

    #[test]
    fn value_swaps_in_vectors_never_panic(
        seed in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        with in replacement(),
    ) {
        let (headers, body) = &SEEDS[seed.index(SEEDS.len())];
        // A body that is one JSON value is mutated as a whole; NDJSON bodies one line at a time.
        let whole = if let Ok(mut v) = serde_json::from_slice::<Value>(body) {
            replace_nth(&mut v, &mut at.index(256), &with);
            v.to_string()
        } else {
            let text = String::from_utf8_lossy(body);
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let i = at.index(lines.len().max(1));
            if let Some(line) = lines.get_mut(i)
                && let Ok(mut v) = serde_json::from_str::<Value>(line)
            {
                replace_nth(&mut v, &mut at.index(64), &with);
                *line = v.to_string();
            }
            lines.join("\n")
        };
        run_all(&headers_of(headers), whole.as_bytes());
    }
}
