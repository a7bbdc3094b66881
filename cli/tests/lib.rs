//! The integration tests of the `mailstate` command: one binary, one module per area.
//!
//! Modules:
//! - `cli`: the `mailstate` binary run as a user runs it (files, stdin, exit codes, stderr).
//! - `cluster`: `mailstate cluster` scheduler and executors on 127.0.0.1 and `sql --cluster`,
//!   against single-process runs; a killed executor; mismatched rules; no scheduler.
//! - `verify`: `mailstate verify` on requests from the signature vectors.
//! - `pull`: `mailstate pull` against local servers playing each provider's paging contract.
//! - `store`: ingest stores bodies first, is idempotent, keeps bad bodies aside.
//! - `queries`: every file of `sql/queries/` on the demo payloads, each result asserted.
//! - `report`: `mailstate report`'s page in headless Chromium, its numbers against the SQL
//!   files, empty and one-provider stores, the optional event columns, its errors.
//! - `handwritten`: `message_state` over a generated dataset (`mailstate generate`) equals an
//!   independent formulation in built-in SQL, row by row.
//! - `util`: the helpers of `mailstate-sql`'s suite (`sql/tests/util.rs`), shared by path.

#![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected value")]

mod cli;
mod cluster;
mod handwritten;
mod pull;
mod queries;
mod report;
mod store;
#[path = "../../sql/tests/util.rs"]
#[expect(dead_code, reason = "the plugin helpers of sql's suite have no caller here")]
mod util;
mod verify;

/// The fields of a message state row, as DESIGN.md lists them.
pub(crate) const STATE_FIELDS: [&str; 24] = [
    "message_id",
    "recipient",
    "status",
    "terminal",
    "terminal_at",
    "first_event_at",
    "last_event_at",
    "accepted_at",
    "delivered_at",
    "first_open_at",
    "first_click_at",
    "bounced_at",
    "complained_at",
    "unsubscribed_at",
    "open_count",
    "click_count",
    "automated_open_count",
    "automated_click_count",
    "deferred_count",
    "event_count",
    "late_event_count",
    "bounce_class",
    "bounce_category",
    "diagnostic",
];
