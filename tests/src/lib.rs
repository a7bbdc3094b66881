//! The conformance corpus of mailstate: loader, runner and readable diffs.
//!
//! Every runtime (native core, the wasmtime plugin host, Node, workerd, Python, SQL) plays the
//! same vector files in `tests/vectors/`. A runtime only has to implement [`Runtime::call`]:
//! bytes in, the wire envelope out (see `mailstate_core::wire`). See `vectors/README.md` for
//! the vector format.

#![deny(missing_docs)]

pub mod synthetic;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// A runtime that can play vectors: `call(op, input) -> envelope bytes`.
pub trait Runtime {
    /// A short name for reports (`native`, `wasmtime`).
    fn name(&self) -> &str;
    /// Run `op` on the JSON `input`, returning the JSON envelope bytes.
    fn call(&mut self, op: &str, input: &[u8]) -> Vec<u8>;
}

/// The native runtime: core's `wire::call` directly.
#[derive(Debug, Default)]
pub struct Native;

impl Runtime for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn call(&mut self, op: &str, input: &[u8]) -> Vec<u8> {
        mailstate_core::wire::call(op, input)
    }
}

/// One vector file.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// The whole document.
    pub doc: Value,
}

impl Vector {
    /// The op to call.
    pub fn op(&self) -> &str {
        self.doc["op"].as_str().unwrap_or("")
    }

    /// The input, serialized.
    pub fn input_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.doc["input"]).unwrap_or_default()
    }
}

/// The `tests/vectors` folder of this checkout.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// The areas of the corpus: one folder of `tests/vectors` each. Every runtime that plays the
/// whole corpus plays each of them.
pub const AREAS: [&str; 10] = [
    "dedupe",
    "merge",
    "normalize",
    "reduce",
    "route",
    "signature",
    "suppress",
    "sync",
    "types",
    "webhook",
];

/// Every vector under `tests/vectors/<area>` (all areas when `area` is empty), sorted by path.
///
/// # Panics
/// When the area holds no vector (a suite that plays nothing must not pass), or a vector file
/// cannot be read or is not valid JSON with `op`, `input` and `expect`: the corpus itself is
/// broken, and the panic names the folder or file.
pub fn load(area: &str) -> Vec<Vector> {
    let dir = vectors_dir().join(area);
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no vectors in {}", dir.display());
    files.iter().map(|path| load_file(path)).collect()
}

/// One vector file.
///
/// # Panics
/// When the file cannot be read or is not valid JSON with `description`, `op`, `input` and
/// `expect`; the panic names the file.
pub fn load_file(path: &Path) -> Vector {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not json: {e}", path.display()));
    for key in ["description", "op", "input", "expect"] {
        assert!(doc.get(key).is_some(), "{}: vector has no {key:?}", path.display());
    }
    Vector { path: path.to_owned(), doc }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// Check one envelope against a vector's `expect`. `Ok(())` on a match; otherwise a readable
/// report naming the file, with a line diff of expected and actual.
///
/// # Errors
/// The report, when the runtime's answer differs from the vector.
pub fn check(v: &Vector, envelope: &[u8]) -> Result<(), String> {
    let actual: Value = match serde_json::from_slice(envelope) {
        Ok(a) => a,
        Err(e) => {
            return Err(format!(
                "{}: runtime returned invalid json ({e}): {}",
                v.path.display(),
                String::from_utf8_lossy(envelope)
            ));
        }
    };
    let expect = &v.doc["expect"];
    let ok = if let Some(out) = expect.get("output") {
        actual.get("output") == Some(out)
    } else if let Some(code) = expect.pointer("/error/code") {
        actual.pointer("/error/code") == Some(code)
    } else {
        return Err(format!("{}: expect has neither output nor error", v.path.display()));
    };
    if ok {
        return Ok(());
    }
    let want = if let Some(out) = expect.get("output") {
        serde_json::json!({ "output": out })
    } else {
        expect.clone()
    };
    Err(format!("{}\n{}", v.path.display(), diff(&want, &actual)))
}

/// A line diff of two JSON values, pretty-printed: `-` expected, `+` actual.
pub fn diff(expected: &Value, actual: &Value) -> String {
    let e = serde_json::to_string_pretty(expected).unwrap_or_default();
    let a = serde_json::to_string_pretty(actual).unwrap_or_default();
    let (el, al): (Vec<&str>, Vec<&str>) = (e.lines().collect(), a.lines().collect());
    // Longest common subsequence table; vectors are small.
    let mut t = vec![vec![0usize; al.len() + 1]; el.len() + 1];
    for i in (0..el.len()).rev() {
        for j in (0..al.len()).rev() {
            t[i][j] =
                if el[i] == al[j] { t[i + 1][j + 1] + 1 } else { t[i + 1][j].max(t[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < el.len() || j < al.len() {
        if i < el.len() && j < al.len() && el[i] == al[j] {
            let _ = writeln!(out, "  {}", el[i]);
            i += 1;
            j += 1;
        } else if j < al.len() && (i == el.len() || t[i][j + 1] >= t[i + 1][j]) {
            let _ = writeln!(out, "+ {}", al[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", el[i]);
            i += 1;
        }
    }
    out
}

/// Play every vector of `area` on `runtime`; with `BLESS=1` in the environment, rewrite each
/// vector's `expect.output` (or `expect.error.code`) with the runtime's answer instead.
///
/// # Errors
/// All failure reports joined, and how many vectors failed.
pub fn run(runtime: &mut dyn Runtime, area: &str) -> Result<usize, String> {
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    let vectors = load(area);
    let mut failures = Vec::new();
    for v in &vectors {
        let envelope = runtime.call(v.op(), &v.input_bytes());
        if bless {
            bless_vector(v, &envelope);
        } else if let Err(report) = check(v, &envelope) {
            failures.push(report);
        }
    }
    if failures.is_empty() {
        Ok(vectors.len())
    } else {
        Err(format!(
            "{}: {} of {} vectors failed\n\n{}",
            runtime.name(),
            failures.len(),
            vectors.len(),
            failures.join("\n")
        ))
    }
}

fn bless_vector(v: &Vector, envelope: &[u8]) {
    let Ok(actual) = serde_json::from_slice::<Value>(envelope) else { return };
    let mut doc = v.doc.clone();
    let expect = if let Some(out) = actual.get("output") {
        serde_json::json!({ "output": out })
    } else {
        serde_json::json!({ "error": { "code": actual.pointer("/error/code").cloned().unwrap_or(Value::Null) } })
    };
    doc["expect"] = expect;
    if doc != v.doc {
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        let _ = std::fs::write(&v.path, text);
    }
}
