//! The library half of the `mailstate` command: the event store that `mailstate ingest` and
//! `mailstate pull` write and `mailstate sql --events` reads, and the deliverability page of
//! `mailstate report`.
//!
//! The commands themselves live in the binary (`src/main.rs`); this library holds what its
//! integration tests and other tools reuse.

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod report;
pub mod store;
