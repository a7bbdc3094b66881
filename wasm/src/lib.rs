//! mailstate's rules compiled to WebAssembly.
//!
//! Two surfaces, built separately from this one crate, both calling only
//! `mailstate_core::wire::call` so no rule is written twice:
//!
//! - feature `js`: a wasm-bindgen API for JavaScript (edge workers, Node, Deno, bundlers);
//! - feature `plugin`: a plain core module with a small, versioned bytes-in/bytes-out ABI that
//!   any wasmtime host can load (Rust `mailstate-host`, Python's `wasmtime`, …).

#[cfg(feature = "js")]
mod js;
#[cfg(feature = "plugin")]
mod plugin;
