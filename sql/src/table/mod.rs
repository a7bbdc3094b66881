//! Table functions.

pub(crate) mod provider_events;
