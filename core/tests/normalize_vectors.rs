//! Plays every `tests/vectors/normalize/**.json` through `wire::call`, so the vectors and the
//! normalizers cannot drift apart while the shared conformance runner lands.

#![expect(
    clippy::disallowed_methods,
    reason = "a test reads the vector files; core itself does no I/O"
)]

use std::path::{Path, PathBuf};

use serde_json::Value;

fn vector_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            vector_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

#[test]
fn every_normalize_vector_matches_wire_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/normalize");
    let mut files = Vec::new();
    vector_files(&root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no vectors under {}", root.display());
    let mut failures = Vec::new();
    for f in &files {
        let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let op = v["op"].as_str().unwrap();
        let input = serde_json::to_vec(&v["input"]).unwrap();
        let got: Value = serde_json::from_slice(&mailstate_core::wire::call(op, &input)).unwrap();
        let expect = &v["expect"];
        let ok = if let Some(out) = expect.get("output") {
            got.get("output") == Some(out)
        } else {
            got["error"]["code"] == expect["error"]["code"]
        };
        if !ok {
            failures.push(format!("{}\n  got: {got}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{} vector(s) differ:\n{}", failures.len(), failures.join("\n"));
}
