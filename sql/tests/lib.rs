//! The integration tests of mailstate-sql: one binary, one module per area.
//!
//! Modules:
//! - `util`: `TestExecution` (a context with the functions registered) and result helpers.
//! - `functions`: each function's contract (NULL rows, FILTER, errors, no GROUP BY, windows).
//! - `vectors`: the reduce and suppress vectors of `tests/vectors` played through SQL (the SQL
//!   column of the conformance matrix), over several input encodings; the wave-2 normalize
//!   vectors through `provider_events`.
//! - `partitions`: partial and final aggregation agree with core for any partitioning,
//!   shuffle, and when the partial stage is skipped (`convert_to_state`).
//! - `memory`: under a memory limit a large GROUP BY spills and gives the same states; the
//!   accumulator's reported size is what the memory pool sees.
//! - `plugin`: the functions on the wasm rules plugin equal native on a million events; a
//!   plugin that traps, runs out of fuel or answers garbage fails the query with its name.

#![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected value")]

mod functions;
mod memory;
mod partitions;
mod plugin;
mod util;
mod vectors;
