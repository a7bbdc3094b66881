//! Malicious and broken plugins, written in the text format. Each must fail with a clear,
//! typed error within its bounds, and the real plugin must keep working afterwards.

use std::time::{Duration, Instant};

use mailstate_host::{Error, Plugin};

use crate::plugin;

/// A module with the ABI's exports; `call` and `abi_version` bodies are given.
pub(crate) fn module(abi_version: &str, call: &str) -> String {
    format!(
        r#"(module
          (memory (export "memory") 1)
          (func (export "abi_version") (result i32) {abi_version})
          (func (export "alloc") (param i32) (result i32) i32.const 1024)
          (func (export "dealloc") (param i32 i32))
          (func (export "call") (param i32 i32 i32 i32) (result i64) {call}))"#
    )
}

/// The real plugin still answers, exactly as natively.
fn real_plugin_still_works() {
    let out = plugin().call("reduce", br#"{"events":[]}"#).unwrap();
    assert_eq!(out, br#"{"output":[]}"#);
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let wat = module("i32.const 1", "(loop $l (br $l)) i64.const 0");
    let p = Plugin::builder().with_fuel(20_000_000).load(wat.as_bytes()).unwrap();
    let started = Instant::now();
    let err = p.call("reduce", b"{}").unwrap_err();
    assert_eq!(err, Error::OutOfFuel { fuel: 20_000_000 });
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    // The same plugin fails the same way again: nothing is left over from the last call.
    assert_eq!(p.call("reduce", b"{}").unwrap_err(), err);
    real_plugin_still_works();
}

#[test]
fn infinite_loop_hits_the_deadline() {
    let wat = module("i32.const 1", "(loop $l (br $l)) i64.const 0");
    let deadline = Duration::from_millis(100);
    let p =
        Plugin::builder().with_fuel(u64::MAX).with_deadline(deadline).load(wat.as_bytes()).unwrap();
    let started = Instant::now();
    let err = p.call("reduce", b"{}").unwrap_err();
    let took = started.elapsed();
    assert_eq!(err, Error::Deadline { deadline });
    assert!(took >= deadline, "stopped early, after {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    real_plugin_still_works();
}

#[test]
fn without_fuel_an_infinite_loop_ends_at_the_deadline() {
    // The default: no fuel metering, the wall-clock deadline bounds the call.
    let wat = module("i32.const 1", "(loop $l (br $l)) i64.const 0");
    let deadline = Duration::from_millis(50);
    let p = Plugin::builder().with_deadline(deadline).load(wat.as_bytes()).unwrap();
    let started = Instant::now();
    assert_eq!(p.call("reduce", b"{}").unwrap_err(), Error::Deadline { deadline });
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    real_plugin_still_works();
}

#[test]
fn infinite_loop_in_abi_version_fails_the_load() {
    let wat = module("(loop $l (br $l)) i32.const 1", "i64.const 0");
    let err = Plugin::builder().with_fuel(5_000_000).load(wat.as_bytes()).unwrap_err();
    assert_eq!(err, Error::OutOfFuel { fuel: 5_000_000 });
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    // Grow by 1 MiB at a time, forever, ignoring failures.
    let wat =
        module("i32.const 1", "(loop $l (drop (memory.grow (i32.const 16))) (br $l)) i64.const 0");
    let limit = 32 << 20;
    let p = Plugin::builder().with_memory_limit(limit).load(wat.as_bytes()).unwrap();
    let started = Instant::now();
    assert_eq!(p.call("reduce", b"{}").unwrap_err(), Error::MemoryLimit { limit });
    assert!(started.elapsed() < Duration::from_secs(5));
    real_plugin_still_works();
}

#[test]
fn real_plugin_with_a_tiny_memory_limit_reports_the_limit() {
    // The rules need more than a few pages for a large input: the allocator's failure
    // must surface as the memory limit, not as an anonymous trap.
    let limit = 4 << 20;
    let bytes = std::fs::read(crate::plugin_path()).unwrap();
    let p = match Plugin::builder().with_memory_limit(limit).load(&bytes) {
        Ok(p) => p,
        // The module's initial memory may already exceed the limit: also the right error.
        Err(e) => {
            assert_eq!(e, Error::MemoryLimit { limit });
            return;
        }
    };
    let big = format!(r#"{{"events":[],"pad":"{}"}}"#, "x".repeat(8 << 20));
    assert_eq!(p.call("reduce", big.as_bytes()).unwrap_err(), Error::MemoryLimit { limit });
    real_plugin_still_works();
}

#[test]
fn wrong_abi_version_is_refused_at_load() {
    let err = Plugin::builder().load(module("i32.const 2", "i64.const 0").as_bytes()).unwrap_err();
    assert_eq!(err, Error::AbiMismatch { expected: 1, found: 2 });
    assert_eq!(err.to_string(), "plugin abi version 2, expected 1");
    real_plugin_still_works();
}

#[test]
fn missing_export_is_refused_at_load() {
    let wat = r#"(module
      (memory (export "memory") 1)
      (func (export "abi_version") (result i32) i32.const 1)
      (func (export "alloc") (param i32) (result i32) i32.const 0)
      (func (export "dealloc") (param i32 i32)))"#;
    let err = Plugin::builder().load(wat.as_bytes()).unwrap_err();
    assert!(matches!(err, Error::MissingExport { name: "call", .. }), "{err:?}");
    real_plugin_still_works();
}

#[test]
fn export_with_the_wrong_type_is_refused_at_load() {
    let wat = module("i32.const 1", "i64.const 0").replace(
        r#"(func (export "alloc") (param i32) (result i32)"#,
        r#"(func (export "alloc") (param i64) (result i32)"#,
    );
    let err = Plugin::builder().load(wat.as_bytes()).unwrap_err();
    assert!(matches!(err, Error::MissingExport { name: "alloc", .. }), "{err:?}");
}

#[test]
fn imports_are_refused_at_load() {
    let wat = module("i32.const 1", "i64.const 0").replacen(
        "(module",
        r#"(module (import "env" "now" (func (result i64)))"#,
        1,
    );
    let err = Plugin::builder().load(wat.as_bytes()).unwrap_err();
    assert_eq!(err, Error::UnexpectedImport { module: "env".into(), name: "now".into() });
}

#[test]
fn a_trap_is_a_trap_error() {
    let p = Plugin::builder().load(module("i32.const 1", "unreachable").as_bytes()).unwrap();
    let err = p.call("reduce", b"{}").unwrap_err();
    assert!(matches!(err, Error::Trap { .. }), "{err:?}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    real_plugin_still_works();
}

#[test]
fn output_outside_memory_is_invalid_output() {
    // ptr 0xffff0000, len 16: far past the one-page memory.
    let p = Plugin::builder()
        .load(module("i32.const 1", "i64.const 0xffff000000000010").as_bytes())
        .unwrap();
    let err = p.call("reduce", b"{}").unwrap_err();
    assert!(matches!(err, Error::InvalidOutput { .. }), "{err:?}");
}

#[test]
fn not_wasm_is_a_compile_error() {
    let err = Plugin::builder().load(b"\0asm\x01\0\0\0garbage").unwrap_err();
    assert!(matches!(err, Error::Compile { .. }), "{err:?}");
}

/// A plugin that counts its calls in a global and answers with the count (a 1-byte output at
/// address 0): what an instance keeps between calls is visible.
fn counting(trap_on_first: bool) -> String {
    let trap = if trap_on_first {
        "(if (i32.eq (global.get $n) (i32.const 1)) (then unreachable))"
    } else {
        ""
    };
    format!(
        r#"(module
          (memory (export "memory") 1)
          (global $n (mut i32) (i32.const 0))
          (func (export "abi_version") (result i32) i32.const 1)
          (func (export "alloc") (param i32) (result i32) i32.const 1024)
          (func (export "dealloc") (param i32 i32))
          (func (export "call") (param i32 i32 i32 i32) (result i64)
            (global.set $n (i32.add (global.get $n) (i32.const 1)))
            {trap}
            (i32.store8 (i32.const 0) (i32.add (global.get $n) (i32.const 48)))
            i64.const 1))"#
    )
}

#[test]
fn instances_are_reused_after_clean_calls() {
    let p = Plugin::builder().load(counting(false).as_bytes()).unwrap();
    assert_eq!(p.call("x", b"").unwrap(), b"1");
    assert_eq!(p.call("x", b"").unwrap(), b"2");
}

#[test]
fn an_instance_that_trapped_is_never_used_again() {
    let p = Plugin::builder().load(counting(true).as_bytes()).unwrap();
    // Each call traps on its instance's first call: a kept instance would have answered.
    for _ in 0..3 {
        assert!(matches!(p.call("x", b"").unwrap_err(), Error::Trap { .. }));
    }
    real_plugin_still_works();
}
