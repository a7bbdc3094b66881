//! Run mailstate's rules from a wasm plugin, sandboxed, behind the same interface as the
//! native rules.
//!
//! The plugin (`wasm/dist/mailstate_plugin.wasm`, built by `scripts/build-wasm.sh`) is the
//! rules of `mailstate-core` compiled to a plain core wasm module with no imports and a small
//! bytes-in, bytes-out ABI (see `wasm/README.md`). [`Plugin`] loads it with wasmtime: the
//! module is compiled once and checked at load (no imports, every export with its type,
//! `abi_version() == 1`), and each call is bounded by a wall-clock deadline, a memory cap and,
//! when asked for, fuel; an instance is reused only after a call that ended cleanly. [`Plugin`] implements [`mailstate_core::Rules`], as
//! does [`mailstate_core::NativeRules`], so callers pick either and get the same bytes.
//!
//! # Example
//! ```no_run
//! use mailstate_core::{EventType, Rules, Timestamp, batch::EventBatch};
//! use mailstate_host::Plugin;
//!
//! let rules = Plugin::from_file("wasm/dist/mailstate_plugin.wasm")?;
//! let mut batch = EventBatch::new(1);
//! batch.push(0, "ses:1", EventType::Delivered, Timestamp::from_millis(1_000), None, None);
//! let states = rules.fold(&batch)?;
//! assert_eq!(states.decode(0)?.view().status, EventType::Delivered);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! [`Error`] keeps the sandbox apart from the rules: `Compile`, `AbiMismatch`,
//! `MissingExport`, `UnexpectedImport`, `OutOfFuel`, `Deadline`, `MemoryLimit`, `Trap` and
//! `InvalidOutput` say the plugin could not answer; `Guest { code, message }` is the rules'
//! own answer that the input is wrong, with the same stable code as natively.
//!
//! # What this crate does not do
//!
//! It does not load precompiled (serialized) modules: wasmtime's `Module::deserialize` is
//! `unsafe` (it trusts the bytes to be its own output), and this workspace keeps `unsafe` to
//! the plugin's ABI shim. Compiling the plugin takes a fraction of a second, once per process.

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod abi;
mod error;
mod limits;
mod plugin;

pub use abi::ABI_VERSION;
pub use error::Error;
pub use limits::{DEFAULT_DEADLINE, DEFAULT_MEMORY_LIMIT};
pub use plugin::{Plugin, PluginBuilder};
