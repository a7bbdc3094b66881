//! Integration tests of mailstate-sql.
//!
//! Modules:
//! - `cli`: the `mailstate` binary run as a user runs it (files, stdin, exit codes, stderr).

#![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected value")]

mod cli;
