use conformance::{Runtime, load, run};
use mailstate_host::Plugin;

use crate::plugin;

/// The wasmtime column of the conformance matrix.
struct Wasmtime(&'static Plugin);

impl Runtime for Wasmtime {
    fn name(&self) -> &'static str {
        "wasmtime"
    }

    fn call(&mut self, op: &str, input: &[u8]) -> Vec<u8> {
        // A sandbox failure is not an envelope; show it in the diff as one.
        self.0.call(op, input).unwrap_or_else(|e| {
            serde_json::to_vec(&serde_json::json!({ "sandbox_error": e.to_string() }))
                .unwrap_or_default()
        })
    }
}

fn play(area: &str) {
    match run(&mut Wasmtime(plugin()), area) {
        Ok(n) => assert!(n > 0, "no vectors found in {area}"),
        Err(report) => panic!("{report}"),
    }
}

#[test]
fn reduce_vectors_pass_through_the_plugin() {
    play("reduce");
}

#[test]
fn merge_vectors_pass_through_the_plugin() {
    play("merge");
}

#[test]
fn suppress_vectors_pass_through_the_plugin() {
    play("suppress");
}

#[test]
fn route_vectors_pass_through_the_plugin() {
    play("route");
}

#[test]
fn dedupe_vectors_pass_through_the_plugin() {
    play("dedupe");
}

#[test]
fn normalize_vectors_pass_through_the_plugin() {
    play("normalize");
}

#[test]
fn signature_vectors_pass_through_the_plugin() {
    play("signature");
}

#[test]
fn webhook_vectors_pass_through_the_plugin() {
    play("webhook");
}

#[test]
fn sync_vectors_pass_through_the_plugin() {
    play("sync");
}

#[test]
fn types_vectors_pass_through_the_plugin() {
    play("types");
}

/// Every vector, whatever its area: the plugin's envelope is byte for byte the native one.
#[test]
fn every_vector_gives_byte_identical_envelopes_to_native() {
    let vectors = load("");
    assert!(!vectors.is_empty(), "no vectors found");
    let mut mismatches = Vec::new();
    for v in &vectors {
        let input = v.input_bytes();
        let native = mailstate_core::wire::call(v.op(), &input);
        match plugin().call(v.op(), &input) {
            Ok(wasm) if wasm == native => {}
            Ok(wasm) => mismatches.push(format!(
                "{}\n  native: {}\n  plugin: {}",
                v.path.display(),
                String::from_utf8_lossy(&native),
                String::from_utf8_lossy(&wasm)
            )),
            Err(e) => mismatches.push(format!("{}: {e}", v.path.display())),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} vectors differ:\n{}",
        mismatches.len(),
        vectors.len(),
        mismatches.join("\n")
    );
}
