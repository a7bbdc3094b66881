//! The providers' time shapes: epoch seconds or milliseconds as numbers or strings (integer or
//! fractional), and RFC 3339 times (with the space before the offset some examples show).

use std::borrow::Cow;

use super::json::scan::{Kind, Val};
use crate::Timestamp;

/// The unit of a numeric timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    /// Seconds since the epoch, integer or fractional (SendGrid, Mailgun, Postal, Mandrill).
    Seconds,
}

impl TimeUnit {
    pub(crate) fn expected(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "epoch seconds or an RFC 3339 time",
        }
    }
}

/// Read a time given as a JSON number, a numeric string, or an RFC 3339 string.
/// Fractions are truncated to milliseconds; offsets are applied.
///
/// With [`TimeUnit::Seconds`], integers above 10^11 are taken as milliseconds: SendGrid's docs
/// show 13-digit marketing timestamps, and 10^11 seconds is the year 5138.
///
/// The error is a description of what was found, for the caller to wrap with a path.
pub(crate) fn read_time(v: Val<'_>, unit: TimeUnit) -> Result<Timestamp, String> {
    let found = || v.text.to_owned();
    match v.kind {
        Kind::Num => plain_epoch(v.text, unit).ok_or_else(found),
        Kind::Str => {
            let s = v.string().unwrap_or_default();
            let t = s.trim();
            if is_plain_epoch(t) {
                plain_epoch(t, unit).ok_or_else(found)
            } else {
                Timestamp::parse_rfc3339(&close_offset_gap(t)).map_err(|_| found())
            }
        }
        Kind::Obj | Kind::Arr => Err(format!("{} {}", v.kind.name(), compact(v.text))),
        other => Err(format!("{} {}", other.name(), found())),
    }
}

/// [`read_time`], except that a date-time written without an offset is UTC (the wave-2
/// rule: SMTP2GO's `2026-03-04 16:20:00`), where `read_time` refuses it.
pub(crate) fn read_time_naive_utc(v: Val<'_>, unit: TimeUnit) -> Result<Timestamp, String> {
    read_time(v, unit).or_else(|found| {
        let s = v.string().filter(|_| v.kind == Kind::Str).ok_or_else(|| found.clone())?;
        without_offset_as_utc(&close_offset_gap(s.trim())).ok_or(found)
    })
}

/// An RFC 3339 time, or one written without an offset (`2026-03-08 05:10:00`), which means UTC
/// (providers-wave2.md, rule 5: Unisender Go's `event_time`): the rule of
/// [`read_time_naive_utc`] for a text already read.
pub(crate) fn utc_if_naive(t: &str) -> Option<Timestamp> {
    let t = close_offset_gap(t.trim());
    Timestamp::parse_rfc3339(&t).ok().or_else(|| without_offset_as_utc(&t))
}

/// A date-time with no offset (`Z` or `±hh:mm` after the date), read as UTC.
fn without_offset_as_utc(t: &str) -> Option<Timestamp> {
    let has_offset =
        t.ends_with(['Z', 'z']) || t.get(10..).is_some_and(|time| time.contains(['+', '-']));
    if has_offset { None } else { Timestamp::parse_rfc3339(&format!("{t}Z")).ok() }
}

/// An object's or array's compact JSON text, for an error message.
#[cold]
fn compact(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .map_or_else(|_| text.to_owned(), |v| v.to_string())
}

/// `2018-10-08T14:05:45 +0000` (an SES docs example) with the space before the offset removed.
fn close_offset_gap(t: &str) -> Cow<'_, str> {
    match t.rsplit_once(' ') {
        Some((head, offset))
            if head.contains(['T', ' '])
                && offset.starts_with(['+', '-'])
                && offset[1..].bytes().all(|b| b.is_ascii_digit() || b == b':') =>
        {
            format!("{head}{offset}").into()
        }
        _ => t.into(),
    }
}

/// Whether `t` is an epoch time written plainly: digits with an optional sign and point (a
/// string's trimmed content; providers send numbers and strings alike), not an RFC 3339 time.
fn is_plain_epoch(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// An epoch time in a string, as [`parse_time`] reads one: `None` when the trimmed text is not
/// plain digits ([`is_plain_epoch`]) or is out of range. Out of line: the providers that send
/// numbers should not carry it in their hot loop (inlined, it made SendGrid's batch 7% slower).
#[inline(never)]
pub(crate) fn string_epoch(s: &str, unit: TimeUnit) -> Option<Timestamp> {
    let t = s.trim();
    if is_plain_epoch(t) { plain_epoch(t, unit) } else { None }
}

/// The time of a plain epoch value ([`is_plain_epoch`]), `None` when out of range: an integer
/// read without a float, fractional seconds through [`decimal_seconds`] where it agrees with
/// the float reading, anything else as a float.
#[inline]
pub(crate) fn plain_epoch(t: &str, unit: TimeUnit) -> Option<Timestamp> {
    if let Ok(i) = t.parse::<i64>() {
        return number_time(Some(i), None, unit);
    }
    if unit == TimeUnit::Seconds
        && let Some(time) = decimal_seconds(t)
    {
        return Some(time);
    }
    number_time(None, t.parse().ok(), unit)
}

/// Fractional epoch seconds written plainly (`1767299998.412`, as Mailgun sends its times), at
/// most 15 significant digits in all, where reading them without a float gives the float
/// reading's answer: the seconds and the first three decimals as milliseconds (the rest
/// truncated). `None` for anything else (no fraction, a sign, an exponent, a dot without digits
/// on both sides, more digits), which the callers read the general way.
pub(crate) fn decimal_seconds(t: &str) -> Option<Timestamp> {
    // Byte loops, the integer part first (splitting at the dot and parsing was 3% of a Mailgun
    // page).
    let b = t.as_bytes();
    let int_len = b.iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len());
    let (&dot, frac) = b[int_len..].split_first()?;
    if int_len == 0
        || dot != b'.'
        || frac.is_empty()
        || int_len + frac.len() > 15
        || !frac.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let secs = b[..int_len].iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0'));
    let ms = (0..3).fold(0i64, |ms, i| ms * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0')));
    Timestamp::from_millis(secs.checked_mul(1000)?.checked_add(ms)?)
}

fn number_time(int: Option<i64>, float: Option<f64>, unit: TimeUnit) -> Option<Timestamp> {
    const MS_THRESHOLD: i64 = 100_000_000_000;
    match (unit, int) {
        (TimeUnit::Seconds, Some(i)) if i.abs() >= MS_THRESHOLD => Timestamp::from_millis(i),
        (TimeUnit::Seconds, Some(i)) => Timestamp::from_millis(i.checked_mul(1000)?),
        (TimeUnit::Seconds, None) => Timestamp::from_secs_f64(float?),
    }
}

/// A US-style `M/D/YYYY h:mm:ss AM|PM` time in UTC (Elastic Email's `date`): 12 AM is hour 0,
/// 12 PM is noon. Seconds may be absent (`h:mm AM`); anything else is `None`.
pub(crate) fn us_date_time(t: &str) -> Option<Timestamp> {
    let mut parts = t.split_ascii_whitespace();
    let (date, time, half) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let num = |s: &str, max_len: usize| -> Option<u32> {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let mut d = date.split('/');
    let (month, day, year) = (num(d.next()?, 2)?, num(d.next()?, 2)?, d.next()?);
    if d.next().is_some() || year.len() != 4 {
        return None;
    }
    let year = num(year, 4)?;
    let mut c = time.split(':');
    let (hour, minute) = (num(c.next()?, 2)?, c.next()?);
    let second = c.next().unwrap_or("00");
    if c.next().is_some() || minute.len() != 2 || second.len() != 2 {
        return None;
    }
    let (minute, second) = (num(minute, 2)?, num(second, 2)?);
    if !(1..=12).contains(&hour) {
        return None;
    }
    let hour = match half.to_ascii_uppercase().as_str() {
        "AM" => hour % 12,
        "PM" => hour % 12 + 12,
        _ => return None,
    };
    let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z");
    Timestamp::parse_rfc3339(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::json::scan::Scan;

    #[test]
    fn decimal_seconds_agree_with_the_float_and_integer_readings() {
        let float = |t: &str| number_time(None, t.parse().ok(), TimeUnit::Seconds);
        let int = |t: &str, unit| number_time(Some(t.parse().ok()?), None, unit);
        let (mut x, mut taken): (u64, u32) = (0x9e37_79b9_7f4a_7c15, 0);
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = x % 4_000_000_000;
            let frac_len = usize::try_from(x >> 60).unwrap_or(0) % 6 + 1;
            let frac = format!("{:06}", (x >> 20) % 1_000_000);
            let text = format!("{secs}.{}", &frac[..frac_len]);
            // Up to 15 digits the one-pass reading answers; longer ones go the float way.
            let digits = text.len() - 1;
            assert_eq!(decimal_seconds(&text).is_some(), digits <= 15, "{text}");
            taken += u32::from(digits <= 15);
            assert_eq!(plain_epoch(&text, TimeUnit::Seconds), float(&text), "{text}");
            // Integers (seconds, and 13-digit milliseconds) as the integer reading has them.
            let whole = format!("{}", x % 10_000_000_000_000);
            let unit = TimeUnit::Seconds;
            assert_eq!(plain_epoch(&whole, unit), int(&whole, unit), "{whole}");
        }
        assert!(taken > 100_000, "most cases take the one-pass reading ({taken})");
        for text in ["1767299998.412", "0.001", "1.999", "1.0005", "12.5", "007.5"] {
            assert_eq!(plain_epoch(text, TimeUnit::Seconds), float(text), "{text}");
        }
        for declined in
            ["-1.5", "+1", "1e3", "1767299998.4123456", "1.", ".5", "", "1.2.3", "1767299998"]
        {
            assert_eq!(decimal_seconds(declined), None, "{declined}");
        }
        assert_eq!(plain_epoch("-1.5", TimeUnit::Seconds), float("-1.5"));
        assert_eq!(plain_epoch("-15", TimeUnit::Seconds), int("-15", TimeUnit::Seconds));
    }

    #[test]
    fn times_in_every_provider_shape() {
        let time = |t: &str, unit| read_time(Scan::new(t).value().unwrap(), unit);
        let s = |t: &str| time(t, TimeUnit::Seconds).unwrap().as_millis();
        assert_eq!(s("1762200001"), 1_762_200_001_000);
        assert_eq!(s(r#""1762200001""#), 1_762_200_001_000);
        assert_eq!(s("1762200001.987654"), 1_762_200_001_987);
        assert_eq!(s(r#""1762200001.5""#), 1_762_200_001_500);
        assert_eq!(s("1762200001234"), 1_762_200_001_234);
        assert_eq!(s(r#""2025-11-03T15:00:01.1234567-05:00""#), 1_762_200_001_123);
        assert_eq!(s(r#""2018-10-08T14:05:45 +0000""#), 1_539_007_545_000);
        assert_eq!(time("true", TimeUnit::Seconds).unwrap_err(), "boolean true");
        assert!(time(r#""yesterday""#, TimeUnit::Seconds).is_err());
    }

    #[test]
    fn a_time_without_offset_is_utc_only_where_asked() {
        let naive = |t: &str| read_time_naive_utc(Scan::new(t).value().unwrap(), TimeUnit::Seconds);
        assert_eq!(naive(r#""2026-03-04 16:20:00""#).unwrap().as_millis(), 1_772_641_200_000);
        assert_eq!(naive(r#""2026-03-04T16:20:00.5""#).unwrap().as_millis(), 1_772_641_200_500);
        assert_eq!(naive(r#""2026-03-04 16:20:00+0100""#).unwrap().as_millis(), 1_772_637_600_000);
        assert_eq!(naive("1772641200").unwrap().as_millis(), 1_772_641_200_000);
        assert!(naive(r#""2026-03-04 16:20:00+01:0x""#).is_err());
        assert!(naive(r#""2026-13-04 16:20:00""#).is_err());
        let strict = |t: &str| read_time(Scan::new(t).value().unwrap(), TimeUnit::Seconds);
        assert!(strict(r#""2026-03-04 16:20:00""#).is_err());
    }

    #[test]
    fn naive_times_are_utc() {
        let t = |s: &str| utc_if_naive(s).map(|t| t.to_string());
        assert_eq!(t("2026-03-08 05:10:00").as_deref(), Some("2026-03-08T05:10:00.000Z"));
        assert_eq!(t("2026-03-08T05:10:00+01:00").as_deref(), Some("2026-03-08T04:10:00.000Z"));
        assert_eq!(t("2026-03-08"), None);
        assert_eq!(t("soon"), None);
    }

    #[test]
    fn us_times_with_twelve_am_as_midnight_and_twelve_pm_as_noon() {
        let t = |s: &str| us_date_time(s).map(|t| t.to_string());
        assert_eq!(t("3/9/2026 11:59:59 PM").as_deref(), Some("2026-03-09T23:59:59.000Z"));
        assert_eq!(t("12/31/2025 12:00:01 AM").as_deref(), Some("2025-12-31T00:00:01.000Z"));
        assert_eq!(t("1/2/2026 12:30:00 pm").as_deref(), Some("2026-01-02T12:30:00.000Z"));
        assert_eq!(t("1/2/2026 9:05 AM").as_deref(), Some("2026-01-02T09:05:00.000Z"));
        for bad in [
            "2/30/2026 1:00:00 AM",
            "1/2/2026 13:00:00 PM",
            "1/2/26 1:00:00 AM",
            "1/2/2026 0:00:00 AM",
            "1/2/2026 1:00:00",
            "",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }
}
