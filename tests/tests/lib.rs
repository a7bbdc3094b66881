//! The conformance matrix, native column. Other runtimes have their own runners that play the
//! same files (see `vectors/README.md`).
//!
//! Modules:
//! - `native`: every vector through `mailstate_core::wire::call`.

mod native;
