//! Recipient suppression: who must not be mailed, in which scope, since when and why.
//!
//! Computed from the set of a recipient's distinct events (by key), so arrival order and
//! retries never matter. The policy is data ([`SuppressionPolicy`], JSON), the same in every
//! runtime. Defaults:
//!
//! - a hard bounce suppresses scope `all`, for good;
//! - a complaint suppresses scope `all`, for good (the policy may narrow it to the stream);
//! - an unsubscribe suppresses scope `stream:S` (or `all` when the event has no stream), until
//!   a resubscribe in the same scope that is later by `(occurred_at, event_key)`: the last
//!   writer wins;
//! - 3 soft bounces within 7 days, with no delivery between them, suppress scope `all`.
//!
//! Ordering by `(occurred_at, event_key)` puts a null time before every time. Events without a
//! recipient suppress nobody and are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::{Event, EventType, Timestamp};

/// Which scope a rule suppresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeRule {
    /// Every stream: scope `all`.
    All,
    /// The event's stream: scope `stream:S`, or `all` when the event has no stream.
    Stream,
    /// The rule is switched off.
    Off,
}

/// Repeated soft bounces: `count` of them within `window_secs`, with no delivery between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftBounceRule {
    /// How many soft bounces trigger suppression (at least 1).
    pub count: u32,
    /// The window, in seconds, from the first to the last of them.
    pub window_secs: u64,
}

/// The suppression policy. Every field has a default; `{}` is the default policy.
///
/// ```json
/// {"hard_bounce": "all", "complaint": "all", "unsubscribe": "stream",
///  "soft_bounce": {"count": 3, "window_secs": 604800}}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuppressionPolicy {
    /// Scope of a hard-bounce suppression (sticky). Default `all`.
    pub hard_bounce: ScopeRule,
    /// Scope of a complaint suppression (sticky). Default `all`.
    pub complaint: ScopeRule,
    /// Scope of an unsubscribe (lifted by a later resubscribe in the same scope). Default `stream`.
    pub unsubscribe: ScopeRule,
    /// Repeated soft bounces; `null` switches the rule off. Default 3 within 7 days.
    pub soft_bounce: Option<SoftBounceRule>,
}

impl Default for SuppressionPolicy {
    fn default() -> SuppressionPolicy {
        SuppressionPolicy {
            hard_bounce: ScopeRule::All,
            complaint: ScopeRule::All,
            unsubscribe: ScopeRule::Stream,
            soft_bounce: Some(SoftBounceRule { count: 3, window_secs: 7 * 86_400 }),
        }
    }
}

impl SuppressionPolicy {
    /// Parse a policy from JSON.
    ///
    /// # Errors
    /// `invalid_policy` with the path of the offending field.
    ///
    /// # Example
    /// ```
    /// let p = mailstate_core::suppress::SuppressionPolicy::from_json(br#"{"complaint":"stream"}"#).unwrap();
    /// assert_eq!(p.complaint, mailstate_core::suppress::ScopeRule::Stream);
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<SuppressionPolicy, Error> {
        let p: SuppressionPolicy = crate::json::from_slice_with_path(bytes).map_err(|e| {
            Error::new(ErrorKind::InvalidPolicy, format!("suppression policy: {}", e.message()))
        })?;
        if p.soft_bounce.is_some_and(|r| r.count == 0) {
            return Err(Error::new(
                ErrorKind::InvalidPolicy,
                "suppression policy: soft_bounce.count must be at least 1",
            ));
        }
        Ok(p)
    }
}

/// Why a recipient is suppressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A complaint (sticky).
    Complaint,
    /// A hard bounce (sticky).
    HardBounce,
    /// An unsubscribe not lifted by a later resubscribe.
    Unsubscribe,
    /// Repeated soft bounces.
    SoftBounces,
}

/// One active suppression of a recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// The suppressed address.
    pub recipient: String,
    /// `all` or `stream:S`.
    pub scope: String,
    /// Why.
    pub reason: Reason,
    /// The time of the event that set it (null when that event has no time).
    pub since: Option<Timestamp>,
    /// The key of the event that set it.
    pub event_key: String,
}

/// What suppression keeps of one event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionFacts {
    /// The canonical type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened.
    #[serde(default)]
    pub occurred_at: Option<Timestamp>,
    /// Its stream.
    #[serde(default)]
    pub stream: Option<String>,
}

/// The mergeable suppression state of one recipient: its relevant distinct events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionState {
    /// The recipient (the greatest seen).
    #[serde(default)]
    pub recipient: Option<String>,
    /// Relevant distinct events by key.
    #[serde(default)]
    pub events: BTreeMap<String, SuppressionFacts>,
}

impl SuppressionState {
    /// Whether suppression looks at events of this type at all.
    pub fn is_relevant(kind: EventType) -> bool {
        matches!(
            kind,
            EventType::HardBounce
                | EventType::Complaint
                | EventType::Unsubscribe
                | EventType::Resubscribe
                | EventType::SoftBounce
                | EventType::Delivered
        )
    }

    /// Add one event (irrelevant types are ignored; idempotent by key).
    pub fn apply(&mut self, event: &Event) {
        if let Some(r) = &event.recipient
            && self.recipient.as_ref().is_none_or(|m| r > m)
        {
            self.recipient = Some(r.clone());
        }
        let facts = SuppressionFacts {
            kind: event.kind,
            occurred_at: event.occurred_at,
            stream: event.stream.clone(),
        };
        self.insert(event.event_key.clone(), facts);
    }

    /// Add one event's facts by key.
    pub fn insert(&mut self, key: String, facts: SuppressionFacts) {
        if !SuppressionState::is_relevant(facts.kind) {
            return;
        }
        match self.events.get(&key) {
            Some(mine) if *mine >= facts => {}
            _ => {
                self.events.insert(key, facts);
            }
        }
    }

    /// Join `other` into `self` (set union).
    pub fn merge(&mut self, other: &SuppressionState) {
        if let Some(r) = &other.recipient
            && self.recipient.as_ref().is_none_or(|m| r > m)
        {
            self.recipient = Some(r.clone());
        }
        for (k, f) in &other.events {
            self.insert(k.clone(), f.clone());
        }
    }

    /// The active suppressions under `policy`, sorted by scope then reason.
    pub fn evaluate(&self, policy: &SuppressionPolicy) -> Vec<Suppression> {
        let Some(recipient) = &self.recipient else { return Vec::new() };
        let mut out: BTreeMap<(String, Reason), (Option<Timestamp>, &str)> = BTreeMap::new();
        // Sticky suppressions: (scope, reason, time, key) of every event that sets one.
        let mut found: Vec<(String, Reason, Option<Timestamp>, &str)> = Vec::new();
        // Last writer by (occurred_at, key) per unsubscribe scope.
        let mut optouts: BTreeMap<String, (Option<Timestamp>, &str, EventType)> = BTreeMap::new();
        for (key, f) in &self.events {
            match f.kind {
                EventType::HardBounce => {
                    if let Some(scope) = scope_of(policy.hard_bounce, f.stream.as_deref()) {
                        found.push((scope, Reason::HardBounce, f.occurred_at, key));
                    }
                }
                EventType::Complaint => {
                    if let Some(scope) = scope_of(policy.complaint, f.stream.as_deref()) {
                        found.push((scope, Reason::Complaint, f.occurred_at, key));
                    }
                }
                EventType::Unsubscribe | EventType::Resubscribe => {
                    if let Some(scope) = scope_of(policy.unsubscribe, f.stream.as_deref()) {
                        let cand = (f.occurred_at, key.as_str(), f.kind);
                        let slot = optouts.entry(scope).or_insert(cand);
                        if (cand.0, cand.1) > (slot.0, slot.1) {
                            *slot = cand;
                        }
                    }
                }
                _ => {}
            }
        }
        // The earliest event by (occurred_at, key) names each sticky suppression.
        for (scope, reason, t, key) in found {
            let slot = out.entry((scope, reason)).or_insert((t, key));
            if (t, key) < *slot {
                *slot = (t, key);
            }
        }
        for (scope, (t, key, kind)) in optouts {
            if kind == EventType::Unsubscribe {
                out.insert((scope, Reason::Unsubscribe), (t, key));
            }
        }
        if let Some(rule) = policy.soft_bounce
            && let Some((t, key)) = self.soft_bounce_trigger(rule)
        {
            out.insert(("all".to_owned(), Reason::SoftBounces), (Some(t), key));
        }
        out.into_iter()
            .map(|((scope, reason), (since, key))| Suppression {
                recipient: recipient.clone(),
                scope,
                reason,
                since,
                event_key: key.to_owned(),
            })
            .collect()
    }

    /// The first soft bounce that completes `rule.count` bounces within the window with no
    /// delivery between them, in `(occurred_at, key)` order. Events without a time are skipped:
    /// they cannot be placed in a window.
    fn soft_bounce_trigger(&self, rule: SoftBounceRule) -> Option<(Timestamp, &str)> {
        let mut timeline: Vec<(Timestamp, &str, EventType)> = self
            .events
            .iter()
            .filter(|(_, f)| matches!(f.kind, EventType::SoftBounce | EventType::Delivered))
            .filter_map(|(k, f)| f.occurred_at.map(|t| (t, k.as_str(), f.kind)))
            .collect();
        timeline.sort_unstable();
        let count = rule.count as usize;
        let window_ms = i64::try_from(rule.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let mut run: Vec<Timestamp> = Vec::new();
        for (t, key, kind) in timeline {
            if kind == EventType::Delivered {
                run.clear();
                continue;
            }
            run.push(t);
            if run.len() >= count {
                let first = run[run.len() - count];
                if t.as_millis().saturating_sub(first.as_millis()) <= window_ms {
                    return Some((t, key));
                }
            }
        }
        None
    }
}

fn scope_of(rule: ScopeRule, stream: Option<&str>) -> Option<String> {
    match (rule, stream) {
        (ScopeRule::Off, _) => None,
        (ScopeRule::All, _) | (ScopeRule::Stream, None) => Some("all".to_owned()),
        (ScopeRule::Stream, Some(s)) => Some(format!("stream:{s}")),
    }
}

/// The active suppressions of every recipient in `events`, sorted by recipient, scope, reason.
///
/// # Example
/// ```
/// use mailstate_core::{Event, EventType, suppressions, suppress::SuppressionPolicy};
/// let mut unsub = Event::new("postmark", EventType::Unsubscribe);
/// unsub.event_key = "postmark:1".into();
/// unsub.recipient = Some("ann@example.com".into());
/// unsub.stream = Some("broadcast".into());
/// let s = suppressions([&unsub], &SuppressionPolicy::default());
/// assert_eq!(s[0].scope, "stream:broadcast");
/// ```
pub fn suppressions<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    policy: &SuppressionPolicy,
) -> Vec<Suppression> {
    let mut by_recipient: BTreeMap<&'a str, SuppressionState> = BTreeMap::new();
    for e in events {
        if let Some(r) = e.recipient.as_deref()
            && SuppressionState::is_relevant(e.kind)
        {
            by_recipient.entry(r).or_default().apply(e);
        }
    }
    by_recipient.values().flat_map(|s| s.evaluate(policy)).collect()
}
