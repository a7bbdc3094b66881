//! The conformance matrix, native column. Other runtimes have their own runners that play the
//! same files (see `vectors/README.md`).
//!
//! Modules:
//! - `native`: every vector through `mailstate_core::wire::call`.

#![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected value")]

mod native;
