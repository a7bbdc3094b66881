//! The integration tests of mailstate-sql: one binary, one module per area.
//!
//! Modules:
//! - `util`: `TestExecution` (a context with the functions registered) and result helpers.
//! - `functions`: each function's contract (NULL rows, FILTER, errors, no GROUP BY, windows).
//! - `vectors`: the reduce and suppress vectors of `tests/vectors` played through SQL (the SQL
//!   column of the conformance matrix), over several input encodings.
//! - `partitions`: partial and final aggregation agree with core for any partitioning,
//!   shuffle, and when the partial stage is skipped (`convert_to_state`).
//! - `handwritten`: `message_state` over a generated dataset equals an independent formulation
//!   in built-in SQL, row by row.
//! - `plugin`: the functions on the wasm rules plugin equal native on a million events; a
//!   plugin that traps, runs out of fuel or answers garbage fails the query with its name.
//! - `queries`: every file of `sql/queries/` on the demo payloads, each result asserted.
//! - `store`: ingest stores bodies first, is idempotent, keeps bad bodies aside.
//! - `cli`: the `mailstate` binary run as a user runs it (files, stdin, exit codes, stderr).
//! - `verify`: `mailstate verify` on requests from the signature vectors.
//! - `pull`: `mailstate pull` against local servers playing each provider's paging contract.

#![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected value")]

mod cli;
mod functions;
mod handwritten;
mod partitions;
mod plugin;
mod pull;
mod queries;
mod store;
mod util;
mod vectors;
mod verify;
