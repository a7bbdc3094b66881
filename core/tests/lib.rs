//! Integration tests of mailstate-core.
//!
//! Modules:
//! - `laws`: property tests of the reducer and suppression laws (order- and
//!   duplicate-independence, a join-semilattice merge, fold == merge of any partition).
//! - `consequences`: one named test per consequence DESIGN.md asks for.

#![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected value")]

mod consequences;
mod laws;
