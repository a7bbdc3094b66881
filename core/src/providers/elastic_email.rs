//! Elastic Email HTTP notifications.
//!
//! Docs: <https://help.elasticemail.com/en/articles/4804685> and
//! <https://help.elasticemail.com/en/articles/2376855> (HTTP notifications and their
//! parameters), <https://elasticemail.com/account#/settings/notifications> (configuration).
//!
//! Elastic Email calls the notification URL with an HTTP GET, one event per request, the event
//! in the query parameters. The body given to `normalize` is that raw query string (without
//! the `?`; a leading `?` is skipped), decoded as `application/x-www-form-urlencoded` (`+` and
//! `%20` are spaces).
//!
//! | `status` | `category` | canonical | bounce class |
//! |---|---|---|---|
//! | `Sent` (accepted by the recipient's server) | | `delivered` | |
//! | `Opened` | | `open` | |
//! | `Clicked` | | `click`, url = `target` | |
//! | `AbuseReport` | | `complaint` | |
//! | `Unsubscribed` | | `unsubscribe` | |
//! | `Error` | `NoMailbox`, `AccountProblem` | `hard_bounce` | `hard` |
//! | `Error` | `Spam`, `BlackListed`, `WhitelistingProblem`, `ContentFilter`, `SPFProblem`, `Throttled` | `soft_bounce` | `block` |
//! | `Error` | `NotDelivered`, `ManualCancel` | `rejected` | |
//! | `Error` | `Unknown` | `soft_bounce` | `undetermined` |
//! | `Error` | `GreyListed`, `Timeout`, `ConnectionProblem`, `ConnectionTerminated`, `DNSProblem`, `CodeError`, `Ignore`, empty or any other | `soft_bounce` | `soft` |
//! | anything else | | `unknown` | |
//!
//! Fields: `provider_type` is `status`; `message_id` is `transaction` (the `TransactionID` the
//! send call returned; `messageid` is a per-recipient id, kept in `raw`); `recipient` is `to`;
//! the time is `date`, `M/D/YYYY h:mm:ss AM|PM` in UTC; `postback` (the sender's own value) is
//! metadata `postback`. The bounce category comes from `category` alone: there is no SMTP
//! text. No event id (the key is the digest), no stream (`channel` is a campaign name), no
//! machine-open flag.
//!
//! # Unsupported
//! - Elastic Email does not sign; put a secret in the notification URL and let `verify` check
//!   it.

use super::form::decode_pairs;
use super::time::us_date_time;
use super::{bare_address, clean_message_id};
use crate::category::{self, Classification};
use crate::error::{Error, ErrorKind};
use crate::{BounceClass, Event, EventType, KeyScope, Metadata, Normalized, Payload, event_key};

const SLUG: &str = "elastic_email";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let text = super::body_text(payload.body)?.trim();
    let text = text.strip_prefix('?').unwrap_or(text);
    let pairs = decode_pairs(text.as_bytes())?;
    // The last value of a repeated parameter wins, as most frameworks read query strings.
    let get = |name: &str| -> Option<&str> {
        pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let Some(status) = get("status") else {
        return Err(Error::new(
            ErrorKind::WrongProvider,
            "expected an elastic email notification query string with a status parameter",
        )
        .with_path("status"));
    };
    let cat = get("category").unwrap_or_default();
    let (kind, class) = match status {
        "Sent" => (EventType::Delivered, None),
        "Opened" => (EventType::Open, None),
        "Clicked" => (EventType::Click, None),
        "AbuseReport" => (EventType::Complaint, None),
        "Unsubscribed" => (EventType::Unsubscribe, None),
        "Error" => match cat {
            "NoMailbox" | "AccountProblem" => (EventType::HardBounce, Some(BounceClass::Hard)),
            "Spam"
            | "BlackListed"
            | "WhitelistingProblem"
            | "ContentFilter"
            | "SPFProblem"
            | "Throttled" => (EventType::SoftBounce, Some(BounceClass::Block)),
            "NotDelivered" | "ManualCancel" => (EventType::Rejected, None),
            "Unknown" => (EventType::SoftBounce, Some(BounceClass::Undetermined)),
            _ => (EventType::SoftBounce, Some(BounceClass::Soft)),
        },
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    status.clone_into(&mut e.provider_type);
    e.bounce_class = class;
    if status == "Error" {
        e.bounce_category = category::provider(Classification::ElasticEmailCategory, cat);
    }
    e.message_id = get("transaction").and_then(clean_message_id);
    e.recipient = get("to").and_then(bare_address);
    e.occurred_at = match get("date") {
        None => None,
        Some(d) => Some(us_date_time(d).ok_or_else(|| {
            Error::type_mismatch("date", "a M/D/YYYY h:mm:ss AM|PM utc time", &format!("{d:?}"))
        })?),
    };
    if kind == EventType::Click {
        e.url = get("target").map(str::to_owned);
    }
    if let Some(p) = get("postback") {
        let mut m = Metadata::new();
        m.insert("postback".to_owned(), p.to_owned());
        e.metadata = m;
    }
    text.clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(Normalized { events: vec![e], ..Normalized::default() })
}
