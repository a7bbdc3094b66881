//! Integration tests of mailstate-host. They load the real plugin from
//! `wasm/dist/mailstate_plugin.wasm` (or `$MAILSTATE_PLUGIN`); build it first with
//! `scripts/build-wasm.sh`.
//!
//! Modules:
//! - `conformance`: every vector in `tests/vectors/` through the plugin, and byte-identical
//!   envelopes against the native rules.
//! - `cache`: the compiled-module cache: a second load pays no compile; damaged entries are
//!   compiled afresh.
//! - `batch`: the binary batch ops and the typed `Rules` methods, plugin against native.
//! - `sandbox`: malicious plugins (infinite loop, memory bomb, wrong ABI, missing export, ...)
//!   fail with a clear error within their bounds, and the process keeps working.

#![allow(clippy::unwrap_used, reason = "test helpers should fail loudly, like the tests")]

mod batch;
mod cache;
mod conformance;
mod sandbox;

use std::path::PathBuf;
use std::sync::OnceLock;

use mailstate_host::Plugin;

/// Where the plugin is: `$MAILSTATE_PLUGIN`, or the output of `scripts/build-wasm.sh`.
fn plugin_path() -> PathBuf {
    std::env::var_os("MAILSTATE_PLUGIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../wasm/dist/mailstate_plugin.wasm"),
        PathBuf::from,
    )
}

/// The real plugin, loaded once per test binary with the default limits.
fn plugin() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let path = plugin_path();
        assert!(
            path.exists(),
            "{} does not exist: build the plugin with `scripts/build-wasm.sh` \
             (or set MAILSTATE_PLUGIN to a plugin file)",
            path.display()
        );
        Plugin::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}
