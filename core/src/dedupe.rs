//! Event keys: what makes retries harmless.
//!
//! Every runtime must derive the same key for the same event, bit for bit. The rule:
//!
//! 1. **The provider has an id for the event** (`provider_event_id` is present and not empty):
//!    the key is `{provider}:{provider_event_id}`. When one provider event covers several
//!    recipients ([`KeyScope::PerRecipient`]: SES bounces, complaints and deliveries, fanned-out
//!    Resend events), the key is extended to `{provider}:{provider_event_id}:{recipient}`
//!    (an absent recipient is the empty string).
//! 2. **The provider has no id** (Mandrill, Mailjet, Brevo, Postmark deliveries…): the key is
//!    `{provider}:sha256:{hex}` where `{hex}` is the first 16 bytes (32 lowercase hex digits)
//!    of the SHA-256 digest of the event's identifying fields, in this order:
//!    `provider`, `provider_type`, `message_id`, `recipient`, `occurred_at`, `url`.
//!    Each field is encoded as one byte `0x00` when it is null, or as the byte `0x01`, then its
//!    UTF-8 length as a 4-byte big-endian unsigned integer, then its UTF-8 bytes.
//!    `occurred_at` is written as the decimal ASCII digits of its milliseconds since the epoch
//!    (a leading `-` before 1970). The scope does not matter here: the recipient is always in
//!    the digest.
//!
//! Two events with the same key are the same event: the reducer and suppression keep one.

use sha2::{Digest, Sha256};

use crate::Event;

/// Whether one provider event covers one recipient or several.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyScope {
    /// The provider event is about one recipient: its id alone is the key.
    Event,
    /// The provider event was fanned out to several recipients: the recipient joins the key.
    PerRecipient,
}

/// Derive the event key of `event` (see the module docs for the exact rule).
///
/// # Example
/// ```
/// use mailstate_core::{Event, EventType, KeyScope, Timestamp, event_key};
/// let mut e = Event::new("ses", EventType::HardBounce);
/// e.provider_event_id = Some("a1b2".into());
/// e.recipient = Some("ann@example.com".into());
/// assert_eq!(event_key(&e, KeyScope::Event), "ses:a1b2");
/// assert_eq!(event_key(&e, KeyScope::PerRecipient), "ses:a1b2:ann@example.com");
///
/// let mut m = Event::new("mandrill", EventType::Open);
/// m.provider_type = "open".into();
/// m.occurred_at = Timestamp::from_millis(1_762_200_001_000);
/// assert!(event_key(&m, KeyScope::Event).starts_with("mandrill:sha256:"));
/// ```
pub fn event_key<S: AsRef<str>>(event: &Event<S>, scope: KeyScope) -> String {
    let provider = event.provider.as_ref();
    match opt(event.provider_event_id.as_ref()).filter(|id| !id.is_empty()) {
        Some(id) => match scope {
            KeyScope::Event => {
                let mut key = String::with_capacity(provider.len() + 1 + id.len());
                key.push_str(provider);
                key.push(':');
                key.push_str(id);
                key
            }
            KeyScope::PerRecipient => {
                format!("{provider}:{id}:{}", opt(event.recipient.as_ref()).unwrap_or(""))
            }
        },
        None => format!("{provider}:sha256:{}", digest_hex(event)),
    }
}

fn opt<S: AsRef<str>>(s: Option<&S>) -> Option<&str> {
    s.map(AsRef::as_ref)
}

fn digest_hex<S: AsRef<str>>(event: &Event<S>) -> String {
    let occurred = event.occurred_at.map(|t| t.as_millis().to_string());
    let fields: [Option<&str>; 6] = [
        Some(event.provider.as_ref()),
        Some(event.provider_type.as_ref()),
        opt(event.message_id.as_ref()),
        opt(event.recipient.as_ref()),
        occurred.as_deref(),
        opt(event.url.as_ref()),
    ];
    let mut h = Sha256::new();
    for field in fields {
        match field {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                // Payloads are capped far below 4 GiB; saturate rather than wrap if not.
                let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                h.update(len.to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    crate::encoding::encode_hex(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, Timestamp};

    fn sample() -> Event {
        let mut e = Event::new("brevo", EventType::Delivered);
        e.provider_type = "delivered".into();
        e.message_id = Some("<m1@example.com>".into());
        e.recipient = Some("ann@example.com".into());
        e.occurred_at = Timestamp::from_millis(1_762_200_001_000);
        e
    }

    #[test]
    fn digest_key_is_pinned() {
        // Pinned so that a change to the encoding cannot slip through unnoticed: every other
        // runtime derives this exact string. The value was computed independently from the
        // module docs with Python's hashlib.
        assert_eq!(
            event_key(&sample(), KeyScope::Event),
            "brevo:sha256:2ce4013ea0c99b34ecd49add44a689a5"
        );
    }

    #[test]
    fn null_and_empty_fields_give_different_keys() {
        let a = sample();
        let mut b = sample();
        b.url = Some(String::new());
        assert_ne!(event_key(&a, KeyScope::Event), event_key(&b, KeyScope::Event));
    }

    #[test]
    fn digest_ignores_fields_outside_the_identity() {
        let a = sample();
        let mut b = sample();
        b.raw = "{\"retry\":2}".into();
        b.diagnostic = Some("x".into());
        assert_eq!(event_key(&a, KeyScope::Event), event_key(&b, KeyScope::Event));
    }

    #[test]
    fn empty_provider_event_id_falls_back_to_digest() {
        let mut e = sample();
        e.provider_event_id = Some(String::new());
        assert!(event_key(&e, KeyScope::Event).starts_with("brevo:sha256:"));
    }
}
