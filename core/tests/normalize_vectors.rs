//! Plays every `tests/vectors/normalize/<provider>/<case>.json` through `wire::call` (until the
//! `conformance` crate plays them in every runtime, this keeps them checked natively).

use std::path::{Path, PathBuf};

use serde_json::Value;

fn vector_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/normalize");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).expect("tests/vectors/normalize exists") {
        let dir = dir.expect("readable entry").path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).expect("readable provider folder") {
                let f = f.expect("readable entry").path();
                if f.extension().is_some_and(|e| e == "json") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    files
}

#[test]
#[expect(clippy::disallowed_methods, reason = "a test reads its vector files")]
fn every_normalize_vector_gives_its_expected_output() {
    let files = vector_files();
    assert!(files.len() >= 100, "found only {} vectors", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let input = serde_json::to_vec(&v["input"]).unwrap();
        let got: Value =
            serde_json::from_slice(&mailstate_core::wire::call(v["op"].as_str().unwrap(), &input))
                .unwrap();
        let ok = match (&v["expect"]["output"], &v["expect"]["error"]) {
            (Value::Null, want) => got["error"]["code"] == want["code"],
            (want, _) => &got["output"] == want,
        };
        if !ok {
            failures.push(format!(
                "{}\n  expected: {}\n  got:      {}",
                path.display(),
                v["expect"],
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{} vector(s) failed:\n{}", failures.len(), failures.join("\n"));
}
