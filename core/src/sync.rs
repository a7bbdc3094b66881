//! Planning a pull from a provider's activity API: which time range to fetch next, from which
//! page, and whether records may already be gone.
//!
//! Pull APIs keep events for a limited time (SparkPost 10 days, Postmark about 45, SendGrid
//! 3–30 and Mailgun 1–30 depending on plan). A sync that falls behind silently misses events,
//! and events are indexed late, so each sync re-reads an overlap window before its last
//! watermark; the re-read events have the same keys and dedupe away. The planner is pure: the
//! caller passes `now` and the last durable checkpoint, and stores the new checkpoint only after
//! a page is durably stored.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::{Provider, Timestamp};

/// What was durably stored by the last sync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Everything up to this time has been fetched and stored (the end of the last completed
    /// window).
    #[serde(default)]
    pub watermark: Option<Timestamp>,
    /// A window in progress: its range and the cursor of the next page to fetch.
    #[serde(default)]
    pub in_progress: Option<WindowInProgress>,
}

/// A window whose pages were partly fetched when the sync stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowInProgress {
    /// Start of the window.
    pub from: Timestamp,
    /// End of the window.
    pub until: Timestamp,
    /// The provider's cursor (or page URL) of the next page.
    pub cursor: String,
}

/// Knobs of a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncOptions {
    /// How long the provider keeps events, in seconds.
    pub retention_secs: u64,
    /// How far before the watermark to re-read for late-indexed events, in seconds.
    pub overlap_secs: u64,
}

impl SyncOptions {
    /// The defaults for `provider`: its documented retention (the smallest plan's, so the
    /// warning errs on the safe side) and a 15-minute overlap. `None` for providers without
    /// a pull API mailstate knows.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::{Provider, sync::SyncOptions};
    /// assert_eq!(SyncOptions::for_provider(Provider::Sparkpost).unwrap().retention_secs, 10 * 86_400);
    /// ```
    pub fn for_provider(provider: Provider) -> Option<SyncOptions> {
        const DAY: u64 = 86_400;
        let retention_days = match provider {
            // Events API: 10 days.
            Provider::Sparkpost => 10,
            // Messages/Bounces APIs: about 45 days of activity by default.
            Provider::Postmark => 45,
            // Email Activity feed: 3 or 7 days by plan, 30 with the add-on.
            Provider::Sendgrid => 3,
            // Events API: 1 to 30 days by plan.
            Provider::Mailgun => 1,
            _ => return None,
        };
        Some(SyncOptions { retention_secs: retention_days * DAY, overlap_secs: 15 * 60 })
    }
}

/// The next thing to fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPlan {
    /// Fetch events from this time…
    pub from: Timestamp,
    /// …up to this time.
    pub until: Timestamp,
    /// Start at this page cursor (a resumed window), or at the first page.
    pub cursor: Option<String>,
    /// Set when events may already have expired at the provider.
    pub gap: Option<RetentionGap>,
}

/// Events in `[from, until)` may be missing: the provider no longer keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionGap {
    /// Start of the possibly-missing range.
    pub from: Timestamp,
    /// End of it (the oldest time the provider still keeps).
    pub until: Timestamp,
    /// A sentence for the operator.
    pub message: String,
}

/// Plan the next fetch.
///
/// - A window in progress resumes at its cursor, unchanged.
/// - Otherwise the window starts `overlap` before the watermark (or at `since` on a first sync,
///   or at the oldest retained time when neither is given) and ends at `until` or `now`.
/// - A start older than what the provider retains is moved up to the retention edge, and the
///   plan carries a [`RetentionGap`] saying which events may be missing.
///
/// # Errors
/// `invalid_value` when the range is empty (`until` not after the start).
///
/// # Example
/// ```
/// use mailstate_core::{Timestamp, sync::{Checkpoint, SyncOptions, plan_sync}};
/// let day = 86_400_000;
/// let now = Timestamp::from_millis(20 * day).unwrap();
/// let last = Checkpoint { watermark: Timestamp::from_millis(5 * day), in_progress: None };
/// let opts = SyncOptions { retention_secs: 10 * 86_400, overlap_secs: 600 };
/// let plan = plan_sync(&opts, &last, now, None, None).unwrap();
/// assert_eq!(plan.from.as_millis(), 10 * day); // clamped to what the provider still keeps
/// assert!(plan.gap.is_some());
/// ```
pub fn plan_sync(
    options: &SyncOptions,
    checkpoint: &Checkpoint,
    now: Timestamp,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<SyncPlan, Error> {
    if let Some(w) = &checkpoint.in_progress {
        return Ok(SyncPlan {
            from: w.from,
            until: w.until,
            cursor: Some(w.cursor.clone()),
            gap: None,
        });
    }
    let ms = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let oldest = Timestamp::saturating_from_millis(
        now.as_millis().saturating_sub(ms(options.retention_secs)),
    );
    let wanted = match (checkpoint.watermark, since) {
        (Some(w), _) => Timestamp::saturating_from_millis(
            w.as_millis().saturating_sub(ms(options.overlap_secs)),
        ),
        (None, Some(s)) => s,
        (None, None) => oldest,
    };
    let until = until.unwrap_or(now);
    let (from, gap) = if wanted < oldest {
        // What was never fetched starts at the watermark (the overlap before it was fetched).
        let missing_from = checkpoint.watermark.unwrap_or(wanted).min(oldest);
        let message = format!(
            "events between {missing_from} and {oldest} may be missing: the provider keeps {} days",
            options.retention_secs / 86_400
        );
        (oldest, Some(RetentionGap { from: missing_from, until: oldest, message }))
    } else {
        (wanted, None)
    };
    if until <= from {
        return Err(Error::new(
            ErrorKind::InvalidValue,
            format!("nothing to fetch: the range {from} .. {until} is empty"),
        ));
    }
    Ok(SyncPlan { from, until, cursor: None, gap })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn t(days: i64) -> Timestamp {
        Timestamp::from_millis(days * DAY).unwrap()
    }

    fn opts() -> SyncOptions {
        SyncOptions { retention_secs: 10 * 86_400, overlap_secs: 3600 }
    }

    #[test]
    fn resumes_a_window_in_progress_at_its_cursor() {
        let cp = Checkpoint {
            watermark: Some(t(1)),
            in_progress: Some(WindowInProgress { from: t(2), until: t(3), cursor: "p2".into() }),
        };
        let p = plan_sync(&opts(), &cp, t(4), None, None).unwrap();
        assert_eq!((p.from, p.until, p.cursor.as_deref()), (t(2), t(3), Some("p2")));
    }

    #[test]
    fn overlaps_the_last_watermark() {
        let cp = Checkpoint { watermark: Some(t(15)), in_progress: None };
        let p = plan_sync(&opts(), &cp, t(16), None, None).unwrap();
        assert_eq!(p.from.as_millis(), 15 * DAY - 3_600_000);
        assert_eq!(p.until, t(16));
        assert!(p.gap.is_none());
    }

    #[test]
    fn warns_when_the_gap_exceeds_retention() {
        let cp = Checkpoint { watermark: Some(t(2)), in_progress: None };
        let p = plan_sync(&opts(), &cp, t(20), None, None).unwrap();
        assert_eq!(p.from, t(10));
        let gap = p.gap.unwrap();
        assert_eq!(gap.until, t(10));
        assert!(gap.message.contains("may be missing"), "{}", gap.message);
    }

    #[test]
    fn first_sync_starts_at_since_or_the_retention_edge() {
        let none = Checkpoint::default();
        assert_eq!(plan_sync(&opts(), &none, t(20), Some(t(15)), None).unwrap().from, t(15));
        assert_eq!(plan_sync(&opts(), &none, t(20), None, None).unwrap().from, t(10));
        assert!(plan_sync(&opts(), &none, t(20), Some(t(1)), None).unwrap().gap.is_some());
    }

    #[test]
    fn empty_range_is_an_error() {
        let none = Checkpoint::default();
        assert!(plan_sync(&opts(), &none, t(20), Some(t(15)), Some(t(15))).is_err());
    }
}
