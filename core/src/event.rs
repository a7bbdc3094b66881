//! The canonical event: one per (provider event × recipient).

use crate::Tags;
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::{Metadata, Timestamp};

/// The canonical event types, with their precedence rank and terminal flag in one table.
///
/// | rank | type | terminal |
/// |---|---|---|
/// | 10 | complaint | yes (recipient) |
/// | 9 | hard_bounce | yes (recipient) |
/// | 8 | unsubscribe | yes (that stream) |
/// | 7 | rejected | yes (the message was never sent) |
/// | 6 | click | no |
/// | 5 | open | no |
/// | 4 | delivered | no |
/// | 3 | soft_bounce | no |
/// | 2 | deferred | no |
/// | 1 | accepted | no |
/// | 0 | unknown | no |
/// | – | resubscribe | never sets status; it only matters to suppression |
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventType {
    /// The provider accepted the message for delivery.
    Accepted,
    /// The receiving server refused temporarily; the provider will retry.
    Deferred,
    /// Delivery failed for a reason that may not last (or a block).
    SoftBounce,
    /// The receiving server accepted the message.
    Delivered,
    /// The recipient opened the message (pixel fetched).
    Open,
    /// The recipient clicked a tracked link.
    Click,
    /// The provider refused to send (suppressed address, policy, invalid).
    Rejected,
    /// The recipient opted out (of a stream, or of everything).
    Unsubscribe,
    /// The recipient opted back in.
    Resubscribe,
    /// The address does not exist or will never accept mail.
    HardBounce,
    /// The recipient reported the message as spam.
    Complaint,
    /// An event we do not model; kept with its `provider_type` and `raw`.
    Unknown,
}

/// `(type, name, rank, terminal)`: the precedence table. `rank` is `None` for types that never
/// set a message's status.
const TABLE: [(EventType, &str, Option<u8>, bool); 12] = [
    // Complaints outrank everything: the recipient told their mailbox provider it was spam.
    (EventType::Complaint, "complaint", Some(10), true),
    // A hard bounce ends the recipient, whatever engagement noise follows (proxies, scanners).
    (EventType::HardBounce, "hard_bounce", Some(9), true),
    // An unsubscribe ends the message's stream for this recipient.
    (EventType::Unsubscribe, "unsubscribe", Some(8), true),
    // Rejected: the provider never sent; nothing after it can be genuine delivery.
    (EventType::Rejected, "rejected", Some(7), true),
    // Engagement outranks delivery: a click proves delivery even when `delivered` is late.
    (EventType::Click, "click", Some(6), false),
    (EventType::Open, "open", Some(5), false),
    (EventType::Delivered, "delivered", Some(4), false),
    // A soft bounce is worse than a deferral (the provider gave up) but below delivery.
    (EventType::SoftBounce, "soft_bounce", Some(3), false),
    (EventType::Deferred, "deferred", Some(2), false),
    (EventType::Accepted, "accepted", Some(1), false),
    (EventType::Unknown, "unknown", Some(0), false),
    // Resubscribe lifts an unsubscribe in suppression; it says nothing about this message.
    (EventType::Resubscribe, "resubscribe", None, false),
];

impl EventType {
    /// Every type, in table order (highest rank first, resubscribe last).
    pub const ALL: [EventType; 12] = {
        let mut all = [EventType::Unknown; 12];
        let mut i = 0;
        while i < 12 {
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    /// The position in [`EventType::ALL`]: the type's byte in the binary encodings.
    pub(crate) fn index(self) -> u8 {
        let i = EventType::ALL.iter().position(|k| *k == self).unwrap_or(0);
        u8::try_from(i).unwrap_or(0)
    }

    fn row(self) -> &'static (EventType, &'static str, Option<u8>, bool) {
        // The table has one row per variant; the position is found by a linear scan of 12.
        TABLE.iter().find(|r| r.0 == self).unwrap_or(&TABLE[10])
    }

    /// The canonical snake_case name (`"hard_bounce"`).
    pub fn as_str(self) -> &'static str {
        self.row().1
    }

    /// The precedence rank (higher wins), or `None` for `resubscribe`.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::EventType;
    /// assert!(EventType::HardBounce.rank() > EventType::Click.rank());
    /// assert_eq!(EventType::Resubscribe.rank(), None);
    /// ```
    pub fn rank(self) -> Option<u8> {
        self.row().2
    }

    /// Whether a message whose status is this type is finished.
    pub fn is_terminal(self) -> bool {
        self.row().3
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = Error;

    fn from_str(s: &str) -> Result<EventType, Error> {
        TABLE
            .iter()
            .find(|r| r.1 == s)
            .map(|r| r.0)
            .ok_or_else(|| Error::new(ErrorKind::InvalidValue, format!("unknown event type {s:?}")))
    }
}

/// How a bounce failed. Set only on `hard_bounce` (always `hard`) and `soft_bounce`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BounceClass {
    /// The address is permanently undeliverable.
    Hard,
    /// A temporary failure the provider stopped retrying.
    Soft,
    /// Refused for reputation, content or policy, not because of the address.
    Block,
    /// The provider could not tell.
    Undetermined,
}

impl BounceClass {
    /// The byte of an optional class in the binary encodings: 0 none, 1 hard, 2 soft, 3 block,
    /// 4 undetermined.
    pub(crate) fn to_byte(class: Option<BounceClass>) -> u8 {
        match class {
            None => 0,
            Some(BounceClass::Hard) => 1,
            Some(BounceClass::Soft) => 2,
            Some(BounceClass::Block) => 3,
            Some(BounceClass::Undetermined) => 4,
        }
    }

    /// The inverse of [`BounceClass::to_byte`]; `Err(())` for a byte out of range.
    pub(crate) fn from_byte(b: u8) -> Result<Option<BounceClass>, ()> {
        match b {
            0 => Ok(None),
            1 => Ok(Some(BounceClass::Hard)),
            2 => Ok(Some(BounceClass::Soft)),
            3 => Ok(Some(BounceClass::Block)),
            4 => Ok(Some(BounceClass::Undetermined)),
            _ => Err(()),
        }
    }

    /// The canonical name (`"block"`).
    pub fn as_str(self) -> &'static str {
        match self {
            BounceClass::Hard => "hard",
            BounceClass::Soft => "soft",
            BounceClass::Block => "block",
            BounceClass::Undetermined => "undetermined",
        }
    }
}

impl FromStr for BounceClass {
    type Err = Error;

    fn from_str(s: &str) -> Result<BounceClass, Error> {
        match s {
            "hard" => Ok(BounceClass::Hard),
            "soft" => Ok(BounceClass::Soft),
            "block" => Ok(BounceClass::Block),
            "undetermined" => Ok(BounceClass::Undetermined),
            _ => Err(Error::new(ErrorKind::InvalidValue, format!("unknown bounce class {s:?}"))),
        }
    }
}

/// Who fetched an open or clicked a link, when the provider says it was a machine.
///
/// Set only on `open` and `click`, and only from an explicit provider field (SendGrid
/// `sg_machine_open`, Mailgun `client-info.bot`, Brevo's `proxy_open` events); never guessed
/// from a user agent, an IP range or timing. `None` means no signal, or a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Automated {
    /// A mail privacy or image proxy fetched the message (Apple Mail Privacy Protection,
    /// Gmail's image proxy), not a person.
    PrivacyProxy,
    /// A security scanner, link checker or other bot.
    Scanner,
}

impl Automated {
    /// The byte of an optional flag in the binary encodings: 0 none, 1 privacy_proxy, 2 scanner.
    pub(crate) fn to_byte(flag: Option<Automated>) -> u8 {
        match flag {
            None => 0,
            Some(Automated::PrivacyProxy) => 1,
            Some(Automated::Scanner) => 2,
        }
    }

    /// The inverse of [`Automated::to_byte`]; `Err(())` for a byte out of range.
    pub(crate) fn from_byte(b: u8) -> Result<Option<Automated>, ()> {
        match b {
            0 => Ok(None),
            1 => Ok(Some(Automated::PrivacyProxy)),
            2 => Ok(Some(Automated::Scanner)),
            _ => Err(()),
        }
    }

    /// The canonical name (`"privacy_proxy"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Automated::PrivacyProxy => "privacy_proxy",
            Automated::Scanner => "scanner",
        }
    }
}

impl FromStr for Automated {
    type Err = Error;

    fn from_str(s: &str) -> Result<Automated, Error> {
        match s {
            "privacy_proxy" => Ok(Automated::PrivacyProxy),
            "scanner" => Ok(Automated::Scanner),
            _ => Err(Error::new(ErrorKind::InvalidValue, format!("unknown automated value {s:?}"))),
        }
    }
}

/// Why a bounce, deferral or block happened: what to do about it.
///
/// Computed in core for every `hard_bounce`, `soft_bounce` and `deferred` (never null there):
/// the provider's own classification first, then keyword rules on the diagnostic, then the
/// RFC 3463 enhanced status, then [`BounceCategory::Other`]. An `unknown` event carries
/// [`BounceCategory::AutoReply`] when the provider says it was an auto-reply; every other event
/// has none. The rules are one table of data (DESIGN.md, "Bounce category").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BounceCategory {
    /// The address does not exist (user unknown, bad syntax).
    InvalidRecipient,
    /// Over quota.
    MailboxFull,
    /// The address existed but is disabled, inactive, moved or closed.
    MailboxDisabled,
    /// DNS failure, no MX, host unknown, unroutable.
    DomainError,
    /// Refused for reputation, a blocklist, a spam filter, rate or volume.
    Blocked,
    /// Refused by an authentication or sender policy (DMARC, SPF, DKIM, rDNS, relaying, TLS).
    Policy,
    /// Refused for the message's content, size or attachments.
    Content,
    /// Delivery timed out; retries gave up.
    Expired,
    /// Not a bounce: an auto-reply or challenge-response.
    AutoReply,
    /// A bounce, deferral or block with no usable classification.
    Other,
}

impl BounceCategory {
    /// Every category, in the order of their bytes (`1..=10`) in the binary encodings.
    pub const ALL: [BounceCategory; 10] = [
        BounceCategory::InvalidRecipient,
        BounceCategory::MailboxFull,
        BounceCategory::MailboxDisabled,
        BounceCategory::DomainError,
        BounceCategory::Blocked,
        BounceCategory::Policy,
        BounceCategory::Content,
        BounceCategory::Expired,
        BounceCategory::AutoReply,
        BounceCategory::Other,
    ];

    /// The byte of an optional category in the binary encodings: 0 none, else 1 + its index
    /// in [`BounceCategory::ALL`].
    pub(crate) fn to_byte(category: Option<BounceCategory>) -> u8 {
        category.map_or(0, |c| {
            let i = BounceCategory::ALL.iter().position(|k| *k == c).unwrap_or(9);
            u8::try_from(i + 1).unwrap_or(10)
        })
    }

    /// The inverse of [`BounceCategory::to_byte`]; `Err(())` for a byte out of range.
    pub(crate) fn from_byte(b: u8) -> Result<Option<BounceCategory>, ()> {
        match b {
            0 => Ok(None),
            b => BounceCategory::ALL.get(usize::from(b) - 1).copied().map(Some).ok_or(()),
        }
    }

    /// The canonical name (`"mailbox_full"`).
    pub fn as_str(self) -> &'static str {
        match self {
            BounceCategory::InvalidRecipient => "invalid_recipient",
            BounceCategory::MailboxFull => "mailbox_full",
            BounceCategory::MailboxDisabled => "mailbox_disabled",
            BounceCategory::DomainError => "domain_error",
            BounceCategory::Blocked => "blocked",
            BounceCategory::Policy => "policy",
            BounceCategory::Content => "content",
            BounceCategory::Expired => "expired",
            BounceCategory::AutoReply => "auto_reply",
            BounceCategory::Other => "other",
        }
    }
}

impl FromStr for BounceCategory {
    type Err = Error;

    fn from_str(s: &str) -> Result<BounceCategory, Error> {
        BounceCategory::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            Error::new(ErrorKind::InvalidValue, format!("unknown bounce category {s:?}"))
        })
    }
}

/// One canonical event. Field names are the JSON (and Arrow) names of DESIGN.md.
///
/// Serialization is deterministic: fields in this order, `metadata` as an ordered map.
///
/// The text fields are of type `S`: `String` for the owned event every API trades in
/// (`Event` is `Event<String>`), or `Cow<'a, str>` for a [`BorrowedEvent`] whose fields point
/// into the payload it was read from, which [`crate::normalize_borrowed`] returns without
/// copying the payload's text. Both serialize to the same bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(deserialize = "S: Deserialize<'de> + Ord + Default + AsRef<str>")
)]
pub struct Event<S = String> {
    /// The dedupe key (see [`crate::event_key`]).
    pub event_key: S,
    /// The provider slug (`sendgrid`, `ses`, …).
    pub provider: S,
    /// The provider's own id for the event, when it has one.
    #[serde(default)]
    pub provider_event_id: Option<S>,
    /// The canonical type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The provider's own event name, verbatim.
    pub provider_type: S,
    /// The id the provider's send call returned, normalized.
    #[serde(default)]
    pub message_id: Option<S>,
    /// The RFC 5322 `Message-ID`, when the payload carries it.
    #[serde(default)]
    pub smtp_message_id: Option<S>,
    /// The bare, lower-cased recipient address.
    #[serde(default)]
    pub recipient: Option<S>,
    /// When the provider says it happened.
    #[serde(default)]
    pub occurred_at: Option<Timestamp>,
    /// Marketing / transactional / the provider's stream or group.
    #[serde(default)]
    pub stream: Option<S>,
    /// Bounce class, only on bounces.
    #[serde(default)]
    pub bounce_class: Option<BounceClass>,
    /// Why a bounce, deferral or block happened (on `hard_bounce`, `soft_bounce` and
    /// `deferred` always; `auto_reply` on some `unknown`s); see [`BounceCategory`].
    #[serde(default)]
    pub bounce_category: Option<BounceCategory>,
    /// SMTP reply code (`550`).
    #[serde(default)]
    pub smtp_status: Option<S>,
    /// RFC 3463 enhanced status (`5.1.1`).
    #[serde(default)]
    pub enhanced_status: Option<S>,
    /// The remote server's text or the provider's reason.
    #[serde(default)]
    pub diagnostic: Option<S>,
    /// The clicked URL.
    #[serde(default)]
    pub url: Option<S>,
    /// The user agent of an open or click.
    #[serde(default)]
    pub user_agent: Option<S>,
    /// The IP of an open or click (or of the sending server).
    #[serde(default)]
    pub ip: Option<S>,
    /// A machine open or click, from an explicit provider signal only; see [`Automated`].
    #[serde(default)]
    pub automated: Option<Automated>,
    /// Tags or categories the sender attached.
    #[serde(default)]
    pub tags: Tags<S>,
    /// Custom arguments the sender attached.
    #[serde(default)]
    pub metadata: Metadata<S>,
    /// The provider's original JSON for this event.
    #[serde(default)]
    pub raw: S,
}

/// A canonical event whose text borrows from the payload it was normalized from (fields with
/// JSON escapes or computed values are owned). [`Event::into_owned`] detaches it.
pub type BorrowedEvent<'a> = Event<Cow<'a, str>>;

impl<S: AsRef<str>> Event<S> {
    /// Check the invariants serde cannot: non-empty key and provider, a bare lower-case
    /// recipient, a bounce class only on bounces, `automated` only on opens and clicks, a
    /// bounce category only on bounces and deferrals (or `auto_reply` on `unknown`).
    ///
    /// # Errors
    /// `invalid_value` naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        validate_parts(&Parts {
            event_key: self.event_key.as_ref(),
            provider: self.provider.as_ref(),
            recipient: self.recipient.as_ref().map(AsRef::as_ref),
            kind: self.kind,
            bounce_class: self.bounce_class,
            automated: self.automated,
            bounce_category: self.bounce_category,
        })
    }
}

/// The fields [`Event::validate`] checks.
struct Parts<'a> {
    event_key: &'a str,
    provider: &'a str,
    recipient: Option<&'a str>,
    kind: EventType,
    bounce_class: Option<BounceClass>,
    automated: Option<Automated>,
    bounce_category: Option<BounceCategory>,
}

fn validate_parts(p: &Parts<'_>) -> Result<(), Error> {
    if p.event_key.is_empty() {
        return Err(Error::invalid("event_key", "must not be empty"));
    }
    if p.provider.is_empty() {
        return Err(Error::invalid("provider", "must not be empty"));
    }
    if let Some(r) = p.recipient
        && (r.is_empty() || !is_lower_case(r) || r.contains(['<', '>', ' ']))
    {
        return Err(Error::invalid(
            "recipient",
            format!("expected a bare lower-case address, found {r:?}"),
        ));
    }
    if p.bounce_class.is_some() && !matches!(p.kind, EventType::HardBounce | EventType::SoftBounce)
    {
        return Err(Error::invalid("bounce_class", format!("set on a {} event", p.kind)));
    }
    if p.automated.is_some() && !matches!(p.kind, EventType::Open | EventType::Click) {
        return Err(Error::invalid("automated", format!("set on a {} event", p.kind)));
    }
    if let Some(c) = p.bounce_category
        && !bounce_category_allowed(p.kind, c)
    {
        return Err(Error::invalid(
            "bounce_category",
            format!("{} set on a {} event", c.as_str(), p.kind),
        ));
    }
    Ok(())
}

/// Whether lower-casing `s` leaves it as it is; without allocating for ASCII text (every
/// canonical event's recipient is checked).
fn is_lower_case(s: &str) -> bool {
    if s.is_ascii() { !s.bytes().any(|b| b.is_ascii_uppercase()) } else { s.to_lowercase() == s }
}

/// A string that borrows from the JSON it was read from unless it has escapes.
#[derive(Debug, Deserialize)]
struct JsonStr<'a>(#[serde(borrow)] Cow<'a, str>);

/// What message state needs of one canonical event, read from its JSON line without
/// building the whole [`Event`]: the key, the group (message id, recipient) and the facts.
/// Text borrows from the line where it has no escapes. The line is checked as
/// [`Event::from_json`] checks it: the same field names (no others), the same required
/// fields, the same invariants; the fields the state does not use are only skipped over.
///
/// # Example
/// ```
/// use mailstate_core::{EventType, StateEvent};
/// let line = br#"{"event_key":"ses:1","provider":"ses","type":"delivered","provider_type":"Delivery","message_id":"m1","raw":"{}"}"#;
/// let e = StateEvent::from_json(line).unwrap();
/// assert_eq!((e.event_key(), e.message_id(), e.facts().kind), ("ses:1", Some("m1"), EventType::Delivered));
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "the skipped fields are named only so that unknown ones stay errors")]
pub struct StateEvent<'a> {
    #[serde(borrow)]
    event_key: JsonStr<'a>,
    #[serde(borrow)]
    provider: JsonStr<'a>,
    #[serde(rename = "type")]
    kind: EventType,
    #[serde(borrow, default)]
    message_id: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    recipient: Option<JsonStr<'a>>,
    #[serde(default)]
    occurred_at: Option<Timestamp>,
    #[serde(default)]
    bounce_class: Option<BounceClass>,
    #[serde(default)]
    bounce_category: Option<BounceCategory>,
    #[serde(borrow, default)]
    diagnostic: Option<JsonStr<'a>>,
    #[serde(default)]
    automated: Option<Automated>,
    // Skipped over (the state does not use them), but named, so a misspelt field is still
    // an error as in `Event`.
    provider_type: IgnoredAny,
    #[serde(default)]
    provider_event_id: IgnoredAny,
    #[serde(default)]
    smtp_message_id: IgnoredAny,
    #[serde(default)]
    stream: IgnoredAny,
    #[serde(default)]
    smtp_status: IgnoredAny,
    #[serde(default)]
    enhanced_status: IgnoredAny,
    #[serde(default)]
    url: IgnoredAny,
    #[serde(default)]
    user_agent: IgnoredAny,
    #[serde(default)]
    ip: IgnoredAny,
    #[serde(default)]
    tags: IgnoredAny,
    #[serde(default)]
    metadata: IgnoredAny,
    #[serde(default)]
    raw: IgnoredAny,
}

impl<'a> StateEvent<'a> {
    /// Read one event's JSON.
    ///
    /// # Errors
    /// As [`Event::from_json`] for a malformed line, a missing required field, a field of
    /// the wrong type among those read, an unknown field, or a broken invariant.
    pub fn from_json(bytes: &'a [u8]) -> Result<StateEvent<'a>, Error> {
        let e = match StateEvent::scan(bytes) {
            Some(e) => e,
            // Anything the scan does not take (an error among them) is read by serde, whose
            // errors are the ones `Event::from_json` gives.
            None => crate::json::from_slice_with_path_seed(
                std::marker::PhantomData::<StateEvent<'a>>,
                bytes,
            )?,
        };
        validate_parts(&Parts {
            event_key: e.event_key(),
            provider: &e.provider.0,
            recipient: e.recipient(),
            kind: e.kind,
            bounce_class: e.bounce_class,
            automated: e.automated,
            bounce_category: e.bounce_category,
        })?;
        Ok(e)
    }

    /// The fast reading of a line: one pass of core's validating scanner, the fields the state
    /// uses picked as slices. `None` for anything but a well-formed line whose fields all have
    /// the plain form (an unknown or repeated field, a wrong type, a string with escapes among
    /// the fields read, a syntax error): those are read by serde, which gives the same answer
    /// slower, or the error. A test holds the two readings equal.
    fn scan(bytes: &'a [u8]) -> Option<StateEvent<'a>> {
        use crate::providers::json::object::MAX_DEPTH;
        use crate::providers::json::picked::{Keys, Path, Picked};
        use crate::providers::json::scan::Scan;

        // Slots 0..10 are read; the others are only skipped (as `IgnoredAny`).
        static LINE: Keys<22> = Keys::new([
            "event_key",
            "provider",
            "type",
            "message_id",
            "recipient",
            "occurred_at",
            "bounce_class",
            "bounce_category",
            "diagnostic",
            "automated",
            "provider_type",
            "provider_event_id",
            "smtp_message_id",
            "stream",
            "smtp_status",
            "enhanced_status",
            "url",
            "user_agent",
            "ip",
            "tags",
            "metadata",
            "raw",
        ]);
        const PROVIDER_TYPE: usize = 10;

        let text = std::str::from_utf8(bytes).ok()?;
        let mut scan = Scan::with_max_depth(text, MAX_DEPTH - 1);
        let mut p = Picked::<22>::empty(&LINE);
        // Fields met (a bit per slot), a repeated one, an unknown one.
        let (mut seen, mut repeated, mut unknown) = (0u32, false, false);
        let read = p.read_fields(
            &mut scan,
            &LINE,
            Path::root("$"),
            |_, _, _| unknown = true,
            |i, _| {
                repeated |= seen & (1 << i) != 0;
                seen |= 1 << i;
                Ok(None)
            },
        );
        if repeated || unknown || seen & (1 << PROVIDER_TYPE) == 0 || !matches!(read, Ok(Ok(_))) {
            return None;
        }
        scan.end().ok()?;
        // A field's text when it is a string without escapes, `None` (left to serde) for
        // another kind; absent and null are `Some(None)`.
        let plain = |i: usize| -> Option<Option<&'a str>> {
            match p.raw(i) {
                None => Some(None),
                Some(v) => match v.string()? {
                    Cow::Borrowed(s) => Some(Some(s)),
                    Cow::Owned(_) => None,
                },
            }
        };
        let text_of = |i: usize| plain(i).map(|s| s.map(|s| JsonStr(Cow::Borrowed(s))));
        Some(StateEvent {
            event_key: text_of(0)??,
            provider: text_of(1)??,
            kind: plain(2)??.parse().ok()?,
            message_id: text_of(3)?,
            recipient: text_of(4)?,
            occurred_at: match plain(5)? {
                None => None,
                Some(t) => Some(Timestamp::parse_rfc3339(t).ok()?),
            },
            bounce_class: plain(6)?.map(str::parse).transpose().ok()?,
            bounce_category: plain(7)?.map(str::parse).transpose().ok()?,
            diagnostic: text_of(8)?,
            automated: plain(9)?.map(str::parse).transpose().ok()?,
            provider_type: IgnoredAny,
            provider_event_id: IgnoredAny,
            smtp_message_id: IgnoredAny,
            stream: IgnoredAny,
            smtp_status: IgnoredAny,
            enhanced_status: IgnoredAny,
            url: IgnoredAny,
            user_agent: IgnoredAny,
            ip: IgnoredAny,
            tags: IgnoredAny,
            metadata: IgnoredAny,
            raw: IgnoredAny,
        })
    }

    /// The event key.
    pub fn event_key(&self) -> &str {
        &self.event_key.0
    }

    /// The message id, if any.
    pub fn message_id(&self) -> Option<&str> {
        self.message_id.as_ref().map(|s| &*s.0)
    }

    /// The recipient, if any.
    pub fn recipient(&self) -> Option<&str> {
        self.recipient.as_ref().map(|s| &*s.0)
    }

    /// What the state keeps of this event.
    pub fn facts(&self) -> crate::EventFactsRef<'_> {
        crate::EventFactsRef::new(
            self.kind,
            self.occurred_at,
            self.bounce_class,
            self.diagnostic.as_ref().map(|s| &*s.0),
        )
        .with_automated(self.automated)
        .with_bounce_category(self.bounce_category)
    }
}

/// Whether an event of `kind` may carry `category` (DESIGN.md, "Bounce category").
pub(crate) fn bounce_category_allowed(kind: EventType, category: BounceCategory) -> bool {
    match kind {
        EventType::HardBounce | EventType::SoftBounce | EventType::Deferred => true,
        EventType::Unknown => category == BounceCategory::AutoReply,
        _ => false,
    }
}

impl<S: Serialize> Event<S> {
    /// Serialize to one line of JSON (deterministic field order).
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings, options and a BTreeMap cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl<S: Default> Event<S> {
    /// An event with every optional field empty and no key yet: the one place the full field
    /// list is spelled out.
    #[inline]
    pub(crate) fn blank(provider: S, kind: EventType, provider_type: S) -> Event<S> {
        Event {
            event_key: S::default(),
            provider,
            provider_event_id: None,
            kind,
            provider_type,
            message_id: None,
            smtp_message_id: None,
            recipient: None,
            occurred_at: None,
            stream: None,
            bounce_class: None,
            bounce_category: None,
            smtp_status: None,
            enhanced_status: None,
            diagnostic: None,
            url: None,
            user_agent: None,
            ip: None,
            automated: None,
            tags: Tags::new(),
            metadata: Metadata::new(),
            raw: S::default(),
        }
    }
}

impl<S> Event<S> {
    /// The same event with every text field passed through `f` (in field order, metadata keys
    /// before their values): the one place that converts between text representations.
    pub(crate) fn map_text<T>(self, mut f: impl FnMut(S) -> T) -> Event<T> {
        Event {
            event_key: f(self.event_key),
            provider: f(self.provider),
            provider_event_id: self.provider_event_id.map(&mut f),
            kind: self.kind,
            provider_type: f(self.provider_type),
            message_id: self.message_id.map(&mut f),
            smtp_message_id: self.smtp_message_id.map(&mut f),
            recipient: self.recipient.map(&mut f),
            occurred_at: self.occurred_at,
            stream: self.stream.map(&mut f),
            bounce_class: self.bounce_class,
            bounce_category: self.bounce_category,
            smtp_status: self.smtp_status.map(&mut f),
            enhanced_status: self.enhanced_status.map(&mut f),
            diagnostic: self.diagnostic.map(&mut f),
            url: self.url.map(&mut f),
            user_agent: self.user_agent.map(&mut f),
            ip: self.ip.map(&mut f),
            automated: self.automated,
            tags: self.tags.into_iter().map(&mut f).collect(),
            metadata: self.metadata.map(&mut f),
            raw: f(self.raw),
        }
    }
}

impl<'a> BorrowedEvent<'a> {
    /// The owned event: borrowed text is copied, owned text is moved.
    pub fn into_owned(self) -> Event {
        self.map_text(Cow::into_owned)
    }

    /// An empty borrowed event of `kind` from `provider` (a static slug), with no key yet.
    #[inline]
    pub(crate) fn blank_borrowed(
        provider: &'static str,
        kind: EventType,
        provider_type: Cow<'a, str>,
    ) -> BorrowedEvent<'a> {
        Event::blank(Cow::Borrowed(provider), kind, provider_type)
    }
}

impl From<Event> for BorrowedEvent<'_> {
    /// Wrap an owned event (every field is moved, nothing is copied).
    fn from(e: Event) -> Self {
        e.map_text(Cow::Owned)
    }
}

impl Event {
    /// A minimal event of `kind` from `provider`; every optional field empty, `provider_type`
    /// set to the canonical name and an empty `event_key` (normalizers fill it last with
    /// [`crate::event_key`]).
    pub fn new(provider: impl Into<String>, kind: EventType) -> Event {
        Event::blank(provider.into(), kind, kind.as_str().to_owned())
    }

    /// Parse one canonical event from JSON, with the field path in any error.
    ///
    /// # Errors
    /// `invalid_json` for syntax, `missing_field`, `type_mismatch` or `invalid_value` with the
    /// path of the offending field; `invalid_value` when `event_key` or `provider` is empty.
    ///
    /// # Example
    /// ```
    /// let e = mailstate_core::Event::from_json(br#"{"event_key":"k1","provider":"ses",
    ///   "type":"delivered","provider_type":"Delivery","occurred_at":"2025-11-03T20:00:01Z"}"#)
    ///   .unwrap();
    /// assert_eq!(e.occurred_at.unwrap().to_string(), "2025-11-03T20:00:01.000Z");
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Event, Error> {
        let event: Event = crate::json::from_slice_with_path(bytes)?;
        event.validate()?;
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.as_str()));
        }
    }

    #[test]
    fn ranks_are_distinct_and_terminal_types_rank_highest() {
        let mut ranks: Vec<u8> = EventType::ALL.iter().filter_map(|t| t.rank()).collect();
        ranks.sort_unstable();
        ranks.dedup();
        assert_eq!(ranks.len(), 11);
        for t in EventType::ALL {
            if t.is_terminal() {
                assert!(t.rank() >= Some(7));
            }
        }
    }

    /// The scan's reading of `line` and serde's: equal wherever the scan takes the line.
    fn scan_agrees_with_serde(line: &[u8]) -> bool {
        let Some(fast) = StateEvent::scan(line) else { return false };
        let slow: StateEvent<'_> = crate::json::from_slice_with_path_seed(
            std::marker::PhantomData::<StateEvent<'_>>,
            line,
        )
        .unwrap_or_else(|e| panic!("serde refuses a line the scan took ({e}): {line:?}"));
        let both = [&fast, &slow].map(|e| {
            (e.event_key(), e.message_id(), e.recipient(), &*e.provider.0, e.facts().to_facts())
        });
        assert_eq!(both[0], both[1], "{}", String::from_utf8_lossy(line));
        true
    }

    #[test]
    fn the_scan_reads_lines_as_serde_does_and_leaves_the_rest_to_serde() {
        let examples: Vec<&str> = include_str!("../../examples/events.ndjson").lines().collect();
        let taken = examples.iter().filter(|l| scan_agrees_with_serde(l.as_bytes())).count();
        assert_eq!(taken, examples.len(), "plain lines take the fast path");
        let base = r#"{"event_key":"k","provider":"ses","type":"hard_bounce","provider_type":"x","message_id":"m","recipient":"a@x","occurred_at":"2025-11-03T10:00:00Z","bounce_class":"hard","diagnostic":"550","bounce_category":"invalid_recipient","raw":"{\"a\":1}","tags":["t"],"metadata":{"k":"v"}}"#;
        assert!(scan_agrees_with_serde(base.as_bytes()));
        // Left to serde: each differs from `base` in one way the scan does not take.
        let deep = format!(
            r#"{{"event_key":"k","provider":"ses","type":"open","provider_type":"x","metadata":{}1{}}}"#,
            "[".repeat(130),
            "]".repeat(130)
        );
        let raw = r#""raw":"{\"a\":1}""#;
        let odd = [
            base.replace(r#""raw""#, r#""colour":1,"raw""#),
            base.replace(r#""raw""#, r#""type":"open","raw""#),
            base.replace(r#""provider_type":"x","#, ""),
            base.replace(r#""message_id":"m""#, r#""message_id":"m\u0031""#),
            base.replace(r#""message_id":"m""#, r#""message_id":1"#),
            base.replace(r#""type":"hard_bounce""#, r#""type":null"#),
            base.replace(r#""occurred_at":"2025-11-03T10:00:00Z""#, r#""occurred_at":"noon""#),
            base.replace(r#""bounce_class":"hard""#, r#""bounce_class":"HARD""#),
            base.replace(raw, "\"raw\":\"a\u{1}b\""),
            format!("{base} x"),
            deep,
        ];
        for line in &odd {
            assert!(!scan_agrees_with_serde(line.as_bytes()), "{line}");
        }
        // Nulls where serde takes them, and any kind of value in the skipped fields.
        let nulls = base
            .replace(r#""provider_type":"x""#, r#""provider_type":null"#)
            .replace(r#""occurred_at":"2025-11-03T10:00:00Z""#, r#""occurred_at":null"#)
            .replace(raw, r#""raw":[1,{"b":null}],"url":7"#);
        assert!(scan_agrees_with_serde(nulls.as_bytes()));
        // A lone surrogate escape in a skipped string: serde skips it too.
        assert!(scan_agrees_with_serde(base.replace(raw, r#""raw":"\ud800""#).as_bytes()));
        // Every prefix and every one-byte deletion of some lines: the scan takes only what
        // serde reads the same way (checked inside).
        for line in examples.iter().take(8).copied().chain([base]) {
            let b = line.as_bytes();
            for cut in 0..b.len() {
                scan_agrees_with_serde(&b[..cut]);
                scan_agrees_with_serde(&[&b[..cut], &b[cut + 1..]].concat());
            }
        }
    }

    #[test]
    fn state_event_reads_what_event_reads_and_refuses_what_it_refuses() {
        let lines: Vec<String> = include_str!("../../examples/events.ndjson")
            .lines()
            .map(str::to_owned)
            .chain([
                r#"{"event_key":"k\u0031","provider":"ses","type":"hard_bounce","provider_type":"x","message_id":"m\"1","recipient":"ann@example.com","bounce_class":"hard","diagnostic":"550 \u00e9","bounce_category":"invalid_recipient","occurred_at":"2025-11-03T10:00:00Z"}"#.to_owned(),
                r#"{"event_key":"k","provider":"ses","type":"open","provider_type":"x","automated":"scanner","tags":["a"],"metadata":{"b":"c"},"raw":"{}"}"#.to_owned(),
                // Refused by both: unknown field, missing provider_type, empty key, a class on
                // an open, an upper-case recipient, a bad time, not JSON.
                r#"{"event_key":"k","provider":"ses","type":"open","provider_type":"x","colour":1}"#.to_owned(),
                r#"{"event_key":"k","provider":"ses","type":"open"}"#.to_owned(),
                r#"{"event_key":"","provider":"ses","type":"open","provider_type":"x"}"#.to_owned(),
                r#"{"event_key":"k","provider":"ses","type":"open","provider_type":"x","bounce_class":"hard"}"#.to_owned(),
                r#"{"event_key":"k","provider":"ses","type":"open","provider_type":"x","recipient":"Ann@example.com"}"#.to_owned(),
                r#"{"event_key":"k","provider":"ses","type":"open","provider_type":"x","occurred_at":"yesterday"}"#.to_owned(),
                r#"{"event_key":"k","provider":"ses","type":"opened","provider_type":"x"}"#.to_owned(),
                "not json".to_owned(),
            ])
            .collect();
        assert!(lines.len() > 12);
        for line in &lines {
            let full = Event::from_json(line.as_bytes());
            let lean = StateEvent::from_json(line.as_bytes());
            match (&full, &lean) {
                (Ok(e), Ok(s)) => {
                    assert_eq!(s.event_key(), e.event_key, "{line}");
                    assert_eq!(s.message_id(), e.message_id.as_deref(), "{line}");
                    assert_eq!(s.recipient(), e.recipient.as_deref(), "{line}");
                    assert_eq!(s.facts().to_facts(), crate::EventFacts::from_event(e), "{line}");
                }
                (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "{line}"),
                _ => panic!("{line}: Event {full:?}, StateEvent {lean:?}"),
            }
        }
    }
}
