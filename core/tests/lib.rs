//! Integration tests of mailstate-core.
//!
//! Modules:
//! - `laws`: property tests of the reducer and suppression laws (order- and
//!   duplicate-independence, a join-semilattice merge, fold == merge of any partition).
//! - `consequences`: one named test per consequence DESIGN.md asks for.
//! - `verify`: webhook verification on random input (no panic, noise never verifies, a
//!   flipped body bit is always caught); `Keys` reused across requests answer as fresh ones.
//! - `normalize_never_panics`: normalize and detect on arbitrary and mutated input, for
//!   every provider.
//! - `webhook_host`: a host that reads only the headers core lists, or runs the signature
//!   math itself, gets core's own answer on every vector.
//!
//! The conformance vectors themselves are played by the `conformance` crate (`tests/`).

#![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected value")]

mod consequences;
mod laws;
mod normalize_never_panics;
mod verify;
mod webhook_host;
