//! Integration tests of mailstate-sql.
//!
//! Modules:
//! - `cli`: the `mailstate` binary run as a user runs it (files, stdin, exit codes, stderr).
//! - `verify`: `mailstate verify` on requests from the signature vectors.

#![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected value")]

mod cli;
mod verify;
