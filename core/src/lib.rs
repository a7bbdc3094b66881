//! The rules of mailstate: canonical email delivery events, event keys, message state,
//! suppression and routing.
//!
//! Providers report what happened to an email after send in their own shapes, with
//! duplicates, retries and late, out-of-order arrivals. This crate turns a payload into
//! canonical [`Event`]s, derives each event's dedupe key ([`event_key`]), folds a message's
//! events into a [`MessageState`] whose merge is a join-semilattice, computes recipient
//! [`Suppression`]s and routes events at the edge. Before any of that, [`verify::verify`] checks that a
//! webhook request really comes from its provider (signatures, credentials, replay windows). Every other runtime of mailstate (the wasm
//! build for edge workers and wasmtime hosts, the DataFusion functions) calls this crate,
//! usually through [`wire::call`], so the answers are identical everywhere.
//!
//! [`Rules`] is the one interface to these rules whether they run in this process
//! ([`NativeRules`]) or in the sandboxed wasm plugin (`mailstate-host`); its batch methods
//! ([`batch::EventBatch`] in, [`batch::States`] out) are the SQL hot path, one call per batch of rows.
//!
//! For many states at once (a GROUP BY, an NDJSON file), [`GroupStates`] keeps every group's
//! distinct events in flat storage and builds a group's [`MessageState`] only when asked, and
//! [`MessageGroups`] groups a stream of events by (message id, recipient) on top of it;
//! [`StateEvent`] reads just what the state needs of an event's JSON line, and
//! [`EventFactsRef`] hands those facts over without copying.
//!
//! # Example
//! ```
//! use mailstate_core::{Headers, Payload, Provider, normalize, reduce, EventType};
//!
//! let body = br#"{"event_key":"ses:b1:ann@example.com","provider":"ses","type":"hard_bounce","provider_type":"Bounce","message_id":"m1","recipient":"ann@example.com","occurred_at":"2025-11-03T20:00:01Z","bounce_class":"hard"}
//! {"event_key":"ses:o1","provider":"ses","type":"open","provider_type":"Open","message_id":"m1","recipient":"ann@example.com","occurred_at":"2025-11-03T21:00:00Z"}"#;
//! let out = normalize(Provider::Ndjson, Payload { body, headers: &Headers::new() }).unwrap();
//! let state = reduce(&out.events)[0].view();
//! assert_eq!(state.status, EventType::HardBounce); // the later open does not change it
//! assert_eq!(state.late_event_count, 1);
//! ```
//!
//! # What this crate does not do
//!
//! No I/O, no clock, no threads, no environment: callers pass bytes and `now` in. It builds for
//! `wasm32-unknown-unknown` with no JS glue.
//!
//! # Namespaces
//!
//! The crate root holds the main types. The rest is grouped by what it does:
//!
//! | module | holds |
//! |---|---|
//! | [`verify`] | webhook authenticity: [`verify::verify`], keys, the host-crypto form |
//! | [`webhook`] | the edge's whole decision about one request: [`webhook::handle_webhook`] |
//! | [`route`] | routing policy and routes |
//! | [`suppress`] | suppression policy and the mergeable suppression state |
//! | [`sync`] | planning activity-API pulls: checkpoints, windows, retention gaps |
//! | [`batch`] | the binary batch layouts of the SQL hot path |
//! | [`wire`] | the bytes-in, bytes-out boundary every runtime shares: ops and envelopes |
//! | [`encoding`] | base64 and hex, the one implementation of each in the workspace |

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod batch;
mod category;
mod dedupe;
pub mod encoding;
mod error;
mod event;
mod groups;
mod json;
mod message_groups;
mod metadata;
mod provider;
mod providers;
mod reduce;
pub mod route;
mod signature;
pub mod suppress;
pub mod sync;
mod tags;
mod time;
pub mod verify;
pub mod webhook;
pub mod wire;

pub use dedupe::{KeyScope, event_key};
pub use error::{Error, ErrorKind};
pub use event::{
    Automated, BorrowedEvent, BounceCategory, BounceClass, Event, EventType, StateEvent,
};
pub use groups::{GroupStates, ViewDrain};
pub use message_groups::MessageGroups;
pub use metadata::{Metadata, MetadataIntoIter};
pub use provider::{
    Answer, Control, ControlKind, Headers, MAX_BODY_BYTES, Normalized, Payload, Provider, detect,
    normalize, normalize_borrowed,
};
pub use reduce::{EventFacts, EventFactsRef, EventLog, MessageState, StateView, reduce};
pub use suppress::{Suppression, suppressions};
pub use tags::{Tags, TagsIntoIter};
pub use time::Timestamp;
pub use wire::rules::{NativeRules, Rules};

/// The design of mailstate: why precedence, dedupe and suppression work as they do.
#[doc = include_str!("../DESIGN.md")]
pub mod _documentation {}
