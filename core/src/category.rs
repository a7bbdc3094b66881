//! Bounce categories: why a bounce, deferral or block happened (DESIGN.md, "Bounce category").
//!
//! The rules are data, kept in one place: `bounce_categories.json` next to this file, the
//! tables of `providers-wave2.md` §13 verbatim (keyword groups in order, RFC 3463
//! `subject.detail` codes, and each provider's own classification values). They are parsed
//! once, on first use.
//!
//! Per canonical event, the first step that yields a value wins:
//!
//! 1. the provider's own classification (a normalizer looks its field up with [`provider`]
//!    and stores the answer in `bounce_category`; a value not in the table has no opinion);
//! 2. keyword rules on the diagnostic, ASCII case-insensitive: groups in order, any keyword of a
//!    group matches (`policy` before `blocked`, because a DMARC rejection often says "blocked";
//!    `blocked` before `invalid_recipient`, so a greylisting "address rejected" is `blocked`);
//! 3. the enhanced status: the event's `enhanced_status` (the provider's dedicated field, or
//!    read from the start of the diagnostic), else the first `[245].d{1,3}.d{1,3}` in the
//!    diagnostic not inside a longer number or an IP address; its `subject.detail` is looked
//!    up, the class digit ignored;
//! 4. `other`.
//!
//! Only `hard_bounce`, `soft_bounce` and `deferred` always get a category; an `unknown` event
//! keeps `auto_reply` when its provider said so; every other event has none.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::{BounceCategory, Event, EventType};

/// The tables, as `providers-wave2.md` §13 gives them.
const TABLES_JSON: &str = include_str!("bounce_categories.json");

/// A provider's own classification field: the name of its table in `bounce_categories.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Classification {
    /// SES `bounce.bounceSubType`.
    SesBounceSubType,
    /// SES `deliveryDelay.delayType`.
    SesDelayType,
    /// SendGrid `bounce_classification`.
    SendgridBounce,
    /// Postmark `TypeCode`.
    PostmarkTypeCode,
    /// SparkPost `bounce_class`.
    SparkpostBounceClass,
    /// Mailgun `reason`.
    MailgunReason,
    /// Mandrill `msg.bounce_description`.
    MandrillBounceDescription,
    /// Mailjet `error`.
    MailjetError,
    /// Mailtrap `bounce_category`.
    MailtrapBounceCategory,
    /// AhaSend `type` (`message.failed`).
    AhasendType,
    /// AhaSend `delivery_attempt.classification`.
    AhasendDeliveryAttempt,
    /// Azure ACS `data.status`.
    AzureAcsStatus,
    /// Elastic Email `category`.
    ElasticEmailCategory,
    /// Scaleway TEM `type`.
    ScalewayType,
    /// Unisender Go `delivery_info.delivery_status`.
    UnisenderGoDeliveryStatus,
}

impl Classification {
    /// Every table, in declaration order (index = `Classification as usize`).
    const EVERY: [Classification; 15] = [
        Classification::SesBounceSubType,
        Classification::SesDelayType,
        Classification::SendgridBounce,
        Classification::PostmarkTypeCode,
        Classification::SparkpostBounceClass,
        Classification::MailgunReason,
        Classification::MandrillBounceDescription,
        Classification::MailjetError,
        Classification::MailtrapBounceCategory,
        Classification::AhasendType,
        Classification::AhasendDeliveryAttempt,
        Classification::AzureAcsStatus,
        Classification::ElasticEmailCategory,
        Classification::ScalewayType,
        Classification::UnisenderGoDeliveryStatus,
    ];

    fn table(self) -> &'static str {
        match self {
            Classification::SesBounceSubType => "ses_bounceSubType",
            Classification::SesDelayType => "ses_delayType",
            Classification::SendgridBounce => "sendgrid_bounce_classification",
            Classification::PostmarkTypeCode => "postmark_TypeCode",
            Classification::SparkpostBounceClass => "sparkpost_bounce_class",
            Classification::MailgunReason => "mailgun_reason",
            Classification::MandrillBounceDescription => "mandrill_bounce_description",
            Classification::MailjetError => "mailjet_error",
            Classification::MailtrapBounceCategory => "mailtrap_bounce_category",
            Classification::AhasendType => "ahasend_type",
            Classification::AhasendDeliveryAttempt => "ahasend_classification",
            Classification::AzureAcsStatus => "azure_acs_status",
            Classification::ElasticEmailCategory => "elastic_email_category",
            Classification::ScalewayType => "scaleway_type",
            Classification::UnisenderGoDeliveryStatus => "unisender_go_delivery_status",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeywordRule {
    category: BounceCategory,
    substrings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Tables {
    keyword_rules_in_order: Vec<KeywordRule>,
    /// `"subject.detail"` (or `"6.*"`) to category.
    enhanced_code_subject_detail: BTreeMap<String, BounceCategory>,
    /// Table name to provider value to category.
    provider_classifications: BTreeMap<String, BTreeMap<String, BounceCategory>>,
}

/// The loaded tables, with the keyword rules indexed for one pass over a text.
struct Loaded {
    tables: Tables,
    /// For each byte value, the keywords starting with it (lower case), as (rule index,
    /// keyword), in rule order.
    by_first_byte: Vec<Vec<(usize, Box<[u8]>)>>,
    /// One bit per pair of lower-case bytes some keyword starts with: most positions of a
    /// text are ruled out by this one test.
    first_pairs: Vec<u64>,
    /// Each provider's classification table, by `Classification as usize` (looked up by
    /// name once, not for every event).
    classifications: Vec<BTreeMap<String, BounceCategory>>,
}

/// The bit of [`Loaded::first_pairs`] for two lower-case bytes: (word, mask).
fn pair_bit(a: u8, b: u8) -> (usize, u64) {
    let i = usize::from(a) << 8 | usize::from(b);
    (i >> 6, 1 << (i & 63))
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        // The file is part of the source; `tables_parse` below proves it parses.
        let tables = serde_json::from_str(TABLES_JSON).unwrap_or_else(|_| Tables {
            keyword_rules_in_order: Vec::new(),
            enhanced_code_subject_detail: BTreeMap::new(),
            provider_classifications: BTreeMap::new(),
        });
        let mut by_first_byte: Vec<Vec<(usize, Box<[u8]>)>> = vec![Vec::new(); 256];
        let mut first_pairs = vec![0u64; 1024];
        for (rule, r) in tables.keyword_rules_in_order.iter().enumerate() {
            for s in &r.substrings {
                let k = s.to_ascii_lowercase().into_bytes().into_boxed_slice();
                if let [a, b, ..] = *k {
                    let (word, mask) = pair_bit(a, b);
                    first_pairs[word] |= mask;
                    by_first_byte[usize::from(a)].push((rule, k));
                }
            }
        }
        let classifications = Classification::EVERY
            .iter()
            .map(|c| tables.provider_classifications.get(c.table()).cloned().unwrap_or_default())
            .collect();
        Loaded { tables, by_first_byte, first_pairs, classifications }
    })
}

fn tables() -> &'static Tables {
    &loaded().tables
}

/// Step 1: the category a provider's own classification `value` names, if its table has it.
pub(crate) fn provider(table: Classification, value: &str) -> Option<BounceCategory> {
    loaded().classifications.get(table as usize)?.get(value.trim()).copied()
}

/// Whether an event of `kind` can keep a category at all (what [`finish`] keeps): a
/// normalizer may skip looking its provider's classification up for any other.
pub(crate) fn may_take(kind: EventType) -> bool {
    matches!(
        kind,
        EventType::HardBounce | EventType::SoftBounce | EventType::Deferred | EventType::Unknown
    )
}

/// Steps 2 to 4 after a provider's answer (`provided`, step 1): the final category of an
/// event of `kind`, `None` where the event takes none.
pub(crate) fn finish(
    kind: EventType,
    provided: Option<BounceCategory>,
    diagnostic: Option<&str>,
    enhanced_status: Option<&str>,
) -> Option<BounceCategory> {
    match kind {
        EventType::HardBounce | EventType::SoftBounce | EventType::Deferred => Some(
            provided
                .or_else(|| diagnostic.and_then(keywords))
                .or_else(|| {
                    enhanced_status.or_else(|| diagnostic.and_then(first_code)).and_then(enhanced)
                })
                .unwrap_or(BounceCategory::Other),
        ),
        EventType::Unknown => provided.filter(|c| *c == BounceCategory::AutoReply),
        _ => None,
    }
}

/// Steps 2 and 3 alone, on a text other than the event's diagnostic (Mailjet's `comment`):
/// `None` when neither keywords nor the code decide.
pub(crate) fn from_text(text: &str, enhanced_status: Option<&str>) -> Option<BounceCategory> {
    keywords(text).or_else(|| enhanced_status.or_else(|| first_code(text)).and_then(enhanced))
}

/// Set the final `bounce_category` of each of a provider's events (the normalizer has stored
/// its provider's answer, step 1, there).
pub(crate) fn finish_events<S: AsRef<str>>(events: &mut [Event<S>]) {
    for e in events {
        e.bounce_category = finish(
            e.kind,
            e.bounce_category,
            e.diagnostic.as_ref().map(AsRef::as_ref),
            e.enhanced_status.as_ref().map(AsRef::as_ref),
        );
    }
}

/// Step 2: the first keyword group with a keyword anywhere in the text, compared ASCII
/// case-insensitively (the keywords are ASCII, two bytes or longer). One pass over the text:
/// a position whose two bytes start no keyword is passed by one bit test; at the others only
/// the keywords starting with that letter are tried, and only those of groups before the best
/// found so far.
fn keywords(text: &str) -> Option<BounceCategory> {
    let l = loaded();
    // The text lower-cased once (ASCII only), on the stack when it is short.
    let mut short = [0u8; 256];
    let mut long = Vec::new();
    let b: &[u8] = if text.len() <= short.len() {
        let b = &mut short[..text.len()];
        b.copy_from_slice(text.as_bytes());
        b.make_ascii_lowercase();
        b
    } else {
        long.extend_from_slice(text.as_bytes());
        long.make_ascii_lowercase();
        &long
    };
    let mut best = usize::MAX;
    for (i, pair) in b.windows(2).enumerate() {
        let (word, mask) = pair_bit(pair[0], pair[1]);
        if l.first_pairs[word] & mask == 0 {
            continue;
        }
        for (rule, k) in &l.by_first_byte[usize::from(pair[0])] {
            if *rule >= best {
                break;
            }
            if k[1] == pair[1] && b[i..].starts_with(k) {
                best = *rule;
                break;
            }
        }
        if best == 0 {
            break;
        }
    }
    l.tables.keyword_rules_in_order.get(best).map(|rule| rule.category)
}

/// Step 3: the category of an enhanced status `class.subject.detail`, by `subject.detail`.
fn enhanced(code: &str) -> Option<BounceCategory> {
    let rest = code.trim().split_once('.')?.1;
    let t = &tables().enhanced_code_subject_detail;
    t.get(rest).or_else(|| rest.strip_prefix("6.").and(t.get("6.*"))).copied()
}

/// The first enhanced status in `text` not preceded by a digit or dot and not followed by a
/// digit or by a dot and a digit (so never a piece of an IP address or a longer number).
fn first_code(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let digits =
        |at: usize| b.get(at..).map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count());
    for i in 0..b.len() {
        if !matches!(b[i], b'2' | b'4' | b'5') || b.get(i + 1) != Some(&b'.') {
            continue;
        }
        if i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'.') {
            continue;
        }
        let subject = digits(i + 2);
        if !(1..=3).contains(&subject) || b.get(i + 2 + subject) != Some(&b'.') {
            continue;
        }
        let at = i + 3 + subject;
        let detail = digits(at);
        let end = at + detail;
        let dot_digit = b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit);
        if (1..=3).contains(&detail) && !dot_digit {
            return Some(&text[i..end]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_and_name_every_provider_table() {
        let t: Tables = serde_json::from_str(TABLES_JSON).unwrap();
        assert_eq!(t.keyword_rules_in_order.len(), 8);
        for r in &t.keyword_rules_in_order {
            for k in &r.substrings {
                assert!(
                    k.len() >= 2 && k.is_ascii(),
                    "the matcher needs ASCII keywords of two bytes or more: {k:?}"
                );
            }
        }
        for (i, c) in Classification::EVERY.into_iter().enumerate() {
            assert!(t.provider_classifications.contains_key(c.table()), "{}", c.table());
            assert_eq!(c as usize, i, "EVERY is in declaration order: {c:?}");
        }
        assert_eq!(t.provider_classifications.len(), Classification::EVERY.len());
    }

    #[test]
    fn worked_examples_of_the_reference() {
        let cases = [
            (
                "550 5.1.1 The email account that you tried to reach does not exist.",
                "invalid_recipient",
            ),
            ("452 4.2.2 The email account that you tried to reach is over quota.", "mailbox_full"),
            (
                "550 5.2.1 The email account that you tried to reach is disabled.",
                "mailbox_disabled",
            ),
            (
                "550 5.7.26 Unauthenticated email from x is not accepted due to domain's DMARC policy",
                "policy",
            ),
            (
                "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
                "blocked",
            ),
            (
                "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints",
                "blocked",
            ),
            ("450 4.2.0 <a@b>: Recipient address rejected: Greylisted", "blocked"),
            ("550 5.1.2 Host or domain name not found", "domain_error"),
            ("552 5.3.4 Message size exceeds fixed limit", "content"),
            ("4.4.7 Delivery time expired", "expired"),
            ("451 4.4.1 No answer from host", "other"),
        ];
        for (text, want) in cases {
            let (_, enhanced) = crate::providers::text::smtp_code_slices(text);
            let got = finish(EventType::SoftBounce, None, Some(text), enhanced);
            assert_eq!(got.map(BounceCategory::as_str), Some(want), "{text}");
        }
    }

    #[test]
    fn first_code_skips_ip_addresses_and_longer_numbers() {
        assert_eq!(first_code("from 192.0.2.1 then 5.7.1 here"), Some("5.7.1"));
        assert_eq!(first_code("host 10.4.2.1"), None);
        assert_eq!(first_code("5.1.1.2 and 4.2.2."), Some("4.2.2"));
        assert_eq!(first_code("x25.1.1"), None);
        assert_eq!(first_code("15.1.1"), None);
    }

    /// The definition the one-pass matcher must agree with: the first group, in order, with
    /// a keyword contained in the ASCII-lower-cased text.
    fn keywords_by_definition(text: &str) -> Option<BounceCategory> {
        let lower = text.to_ascii_lowercase();
        tables()
            .keyword_rules_in_order
            .iter()
            .find(|rule| rule.substrings.iter().any(|s| lower.contains(s.as_str())))
            .map(|rule| rule.category)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// Texts assembled from pieces of keywords (in either case), digits and filler, so
        /// that matches, near misses and overlaps between groups are all common.
        #[test]
        fn one_pass_keywords_agree_with_the_definition(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Strategy::prop_map(proptest::sample::select(vec![
                        "DMARC", "spf", "Spam", "blocked", "block", "list", "ed", "mailbox full",
                        "Mailbox", " is ", "full", "over quota", "disabled", "User Unknown",
                        "not exist", "does not", "exist", "expired", "too large", "relay",
                        "greylist", "address rejected", "550 5.1.1", "é", "K", "\u{212a}",
                    ]), str::to_string),
                    "[a-zA-Z .]{0,6}",
                ],
                0..8,
            )
        ) {
            let text = pieces.concat();
            proptest::prop_assert_eq!(keywords(&text), keywords_by_definition(&text), "{:?}", text);
        }
    }

    #[test]
    fn six_star_covers_every_x_6_detail() {
        assert_eq!(enhanced("5.6.3"), Some(BounceCategory::Content));
        assert_eq!(enhanced("5.5.1"), None);
    }

    #[test]
    fn only_bounces_deferrals_and_auto_replies_get_a_category() {
        assert_eq!(finish(EventType::Deferred, None, None, None), Some(BounceCategory::Other));
        assert_eq!(
            finish(EventType::Rejected, Some(BounceCategory::Policy), Some("dmarc"), None),
            None
        );
        assert_eq!(
            finish(EventType::Unknown, Some(BounceCategory::AutoReply), None, None),
            Some(BounceCategory::AutoReply)
        );
        assert_eq!(finish(EventType::Unknown, Some(BounceCategory::Blocked), None, None), None);
    }
}
