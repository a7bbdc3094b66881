//! The compiled-module cache: a second load of the same plugin reads its compiled code back
//! instead of compiling, and a damaged cache entry is compiled afresh, never used.

use std::path::PathBuf;

use mailstate_host::Plugin;

use crate::plugin_path;

/// A fresh, empty folder for one test.
fn cache_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailstate-host-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

fn entries(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

const EVENTS: &[u8] = br#"{"events":[{"event_key":"ses:1","provider":"ses","type":"delivered","provider_type":"Delivery","message_id":"m1","recipient":"ann@example.com","occurred_at":"2025-11-03T10:00:00.000Z"}]}"#;

#[test]
fn a_second_load_reads_the_compiled_plugin_from_the_cache() {
    let dir = cache_dir("second-load");
    let wasm = std::fs::read(plugin_path()).unwrap();

    let first = Plugin::builder().with_cache_dir(&dir).load(&wasm).unwrap();
    assert!(!first.from_cache(), "nothing was cached yet");
    let stored = entries(&dir);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].extension().is_some_and(|e| e == "cwasm"), "{stored:?}");

    let second = Plugin::builder().with_cache_dir(&dir).load(&wasm).unwrap();
    assert!(second.from_cache(), "the second load should not compile");
    assert_eq!(second.call("reduce", EVENTS).unwrap(), first.call("reduce", EVENTS).unwrap());
    assert_eq!(entries(&dir), stored);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_damaged_cache_entry_is_compiled_afresh_and_replaced() {
    // A small module with the ABI (compiles in milliseconds); its `call` answers 0.
    let wasm = crate::sandbox::module("i32.const 1", "i64.const 0");
    let wasm = wasm.as_bytes();
    let dir = cache_dir("damaged");
    let load = || Plugin::builder().with_cache_dir(&dir).load(wasm).unwrap();
    assert!(!load().from_cache());
    assert!(load().from_cache());
    let entry = entries(&dir).pop().unwrap();

    // One flipped byte in the compiled code: compiled afresh, and the entry rewritten.
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&entry, &bytes).unwrap();
    assert!(!load().from_cache());
    assert!(load().from_cache());

    // A truncated entry, and an empty one.
    for len in [100, 0] {
        std::fs::write(&entry, &bytes[..len]).unwrap();
        assert!(!load().from_cache(), "{len} bytes");
        assert!(load().from_cache(), "{len} bytes");
    }

    // An engine with other settings (fuel metering) compiles other code: its own entry.
    let metered = Plugin::builder().with_fuel(1_000).with_cache_dir(&dir).load(wasm).unwrap();
    assert!(!metered.from_cache());
    assert_eq!(entries(&dir).len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}
