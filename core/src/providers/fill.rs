//! Building events in place at the end of a provider's output.

use std::borrow::Cow;

use crate::error::Error;
use crate::{Event, EventType};

/// Push a blank event of `kind` from `provider` onto `events` and let `fill` complete it where
/// it lies (an event is a few hundred bytes: building it on the stack and moving it through a
/// `Result` into the vector copies it several times). On an error the event is taken off again.
#[inline]
pub(crate) fn fill_in_place<'a>(
    events: &mut Vec<crate::BorrowedEvent<'a>>,
    (provider, kind, provider_type): (&'static str, EventType, Cow<'a, str>),
    fill: impl FnOnce(&mut crate::BorrowedEvent<'a>) -> Result<(), Error>,
) -> Result<(), Error> {
    events.push(crate::BorrowedEvent::blank_borrowed(provider, kind, provider_type));
    let result = match events.last_mut() {
        Some(e) => fill(e),
        None => Ok(()),
    };
    if result.is_err() {
        events.pop();
    }
    result
}

/// A canonical event of `kind` with its `provider_type`, every other field empty (like
/// [`Event::new`] without its placeholder `provider_type`, which the hot path would allocate and
/// drop).
pub(crate) fn new_event(provider: &str, kind: EventType, provider_type: String) -> Event {
    Event::blank(provider.to_owned(), kind, provider_type)
}
