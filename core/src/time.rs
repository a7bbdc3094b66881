//! UTC timestamps in whole milliseconds, and the RFC 3339 text form used on every boundary.
//!
//! The text form is always `YYYY-MM-DDTHH:MM:SS.mmmZ`: UTC, exactly three fractional
//! digits. Parsing is more lenient, because providers are: `T` or a space between date and
//! time, 0 to 9 fractional digits (extra digits are truncated, never rounded), and a `Z` or a
//! numeric offset (`+00:00`, `-0500`, `+05`), which is applied.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds per day.
const MS_PER_DAY: i64 = 86_400_000;
/// `0001-01-01T00:00:00Z` in ms since the epoch.
const MIN_MS: i64 = -62_135_596_800_000;
/// `9999-12-31T23:59:59.999Z` in ms since the epoch.
const MAX_MS: i64 = 253_402_300_799_999;

/// A UTC instant in milliseconds since the Unix epoch, between years 1 and 9999.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// `0001-01-01T00:00:00.000Z`, the earliest representable instant.
    pub const MIN: Timestamp = Timestamp(MIN_MS);
    /// `9999-12-31T23:59:59.999Z`, the latest representable instant.
    pub const MAX: Timestamp = Timestamp(MAX_MS);

    /// The instant `ms` after the epoch, clamped into years 1–9999.
    pub fn saturating_from_millis(ms: i64) -> Timestamp {
        Timestamp(ms.clamp(MIN_MS, MAX_MS))
    }

    /// The instant `ms` milliseconds after the Unix epoch, or `None` outside years 1–9999.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::Timestamp;
    /// let t = Timestamp::from_millis(1_762_200_001_000).unwrap();
    /// assert_eq!(t.to_string(), "2025-11-03T20:00:01.000Z");
    /// ```
    pub fn from_millis(ms: i64) -> Option<Timestamp> {
        (MIN_MS..=MAX_MS).contains(&ms).then_some(Timestamp(ms))
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole or fractional seconds since the epoch, truncated to milliseconds.
    ///
    /// Returns `None` for non-finite values and values outside years 1–9999.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::Timestamp;
    /// let t = Timestamp::from_secs_f64(1_762_200_001.123_999).unwrap();
    /// assert_eq!(t.as_millis(), 1_762_200_001_123);
    /// ```
    pub fn from_secs_f64(secs: f64) -> Option<Timestamp> {
        if !secs.is_finite() {
            return None;
        }
        let ms = (secs * 1000.0).floor();
        // Guard against float error pushing an exact value below its millisecond: 1.001 * 1000
        // is 1000.9999999999999 in binary floating point.
        let ms = if (ms + 1.0) / 1000.0 <= secs { ms + 1.0 } else { ms };
        // Both bounds are below 2^53, so they convert to f64 exactly.
        #[expect(clippy::cast_precision_loss, reason = "bounds are below 2^53")]
        if !(MIN_MS as f64..=MAX_MS as f64).contains(&ms) {
            return None;
        }
        #[expect(clippy::cast_possible_truncation, reason = "range checked just above")]
        Timestamp::from_millis(ms as i64)
    }

    /// Parse an RFC 3339 / ISO 8601 date-time with offset (see the module docs for what is
    /// accepted).
    ///
    /// # Errors
    /// A message saying what is wrong with the text, for the caller to wrap with a path.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::Timestamp;
    /// let t = Timestamp::parse_rfc3339("2025-11-03T15:00:01.1234567-05:00").unwrap();
    /// assert_eq!(t.to_string(), "2025-11-03T20:00:01.123Z");
    /// ```
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
        parse(s.trim()).ok_or_else(|| format!("expected an RFC 3339 date-time, found {s:?}"))
    }

    /// Format as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MS_PER_DAY);
        let rem = self.0.rem_euclid(MS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let (h, min, s, ms) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
        if !(0..=9999).contains(&y) {
            return write!(f, "{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{ms:03}Z");
        }
        // The usual years, digit by digit: the formatting machinery costs more than the
        // normalizing of a small event (measured in wasm, where every event writes one).
        let mut out = *b"0000-00-00T00:00:00.000Z";
        for (at, width, mut v) in
            [(0, 4, y), (5, 2, m), (8, 2, d), (11, 2, h), (14, 2, min), (17, 2, s), (20, 3, ms)]
        {
            for i in (at..at + width).rev() {
                // A digit: `v` is non-negative here.
                out[i] = b'0' + u8::try_from(v % 10).unwrap_or(0);
                v /= 10;
            }
        }
        f.write_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// An RFC 5322 date-time (`Tue, 10 Mar 2026 11:30:00 +0000`): optional day name, day, month
/// name, a 4-digit year (2- and 3-digit obsolete years as RFC 5322 §4.3 reads them), time
/// with optional seconds, and a numeric zone or an obsolete one (`UT`, `GMT`, `EST` … `PDT`;
/// military letters mean an unknown zone, read as UTC). Comments in parentheses are ignored.
pub(crate) fn parse_rfc5322(text: &str) -> Option<Timestamp> {
    const MONTHS: [&str; 12] =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    // Drop comments (`(UTC)`), then split on whitespace and commas.
    let mut plain = String::with_capacity(text.len());
    let mut depth = 0u32;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(if c == ',' { ' ' } else { c }),
            _ => {}
        }
    }
    let mut words: Vec<&str> = plain.split_whitespace().collect();
    if words.first().is_some_and(|w| w.chars().all(|c| c.is_ascii_alphabetic())) {
        words.remove(0);
    }
    let [day, month, year, time, rest @ ..] = words.as_slice() else { return None };
    let d: i64 = day.parse().ok()?;
    let month = month.to_ascii_lowercase();
    let mo = i64::try_from(MONTHS.iter().position(|m| month.starts_with(m))? + 1).ok()?;
    let mut y: i64 = year.parse().ok()?;
    match year.len() {
        2 if y < 50 => y += 2000,
        2 | 3 => y += 1900,
        4 => {}
        _ => return None,
    }
    let mut hms = time.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let mi: i64 = hms.next()?.parse().ok()?;
    let se: i64 = hms.next().map_or(Some(0), |s| s.parse().ok())?;
    if hms.next().is_some() {
        return None;
    }
    let zone = rest.first().copied().unwrap_or("-0000");
    let offset_min = match zone.as_bytes() {
        [sign @ (b'+' | b'-'), digits @ ..] if digits.len() == 4 => {
            let n: i64 = zone[1..].parse().ok()?;
            let (oh, om) = (n / 100, n % 100);
            if oh > 23 || om > 59 {
                return None;
            }
            if *sign == b'-' { -(oh * 60 + om) } else { oh * 60 + om }
        }
        _ => match zone.to_ascii_uppercase().as_str() {
            "EDT" => -4 * 60,
            "EST" | "CDT" => -5 * 60,
            "CST" | "MDT" => -6 * 60,
            "MST" | "PDT" => -7 * 60,
            "PST" => -8 * 60,
            z if z.len() <= 3 && z.chars().all(|c| c.is_ascii_alphabetic()) => 0,
            _ => return None,
        },
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Timestamp::from_millis(days * MS_PER_DAY + ((h * 60 + mi - offset_min) * 60 + se) * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (era-based, exact for all i64 years we use).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A tiny cursor over ASCII digits.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let s = self.b.get(self.i..self.i + n)?;
        let mut v = 0i64;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        self.i += n;
        Some(v)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
}

fn parse(s: &str) -> Option<Timestamp> {
    let mut c = Cursor { b: s.as_bytes(), i: 0 };
    let y = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let mo = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let se = c.digits(2)?;
    let mut ms = 0i64;
    if c.eat(b'.') || c.eat(b',') {
        let mut n = 0;
        while let Some(ch) = c.peek().filter(u8::is_ascii_digit) {
            if n < 3 {
                ms = ms * 10 + i64::from(ch - b'0');
            }
            n += 1;
            c.i += 1;
        }
        if n == 0 || n > 9 {
            return None;
        }
        for _ in n..3 {
            ms *= 10;
        }
    }
    let offset_min = match c.peek()? {
        b'Z' | b'z' => {
            c.i += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            c.i += 1;
            let oh = c.digits(2)?;
            // `+05:30`, `+0530` or `+05`.
            let om = if c.eat(b':') || c.i < c.b.len() { c.digits(2)? } else { 0 };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 60 + om;
            if sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    if c.i != c.b.len() {
        return None;
    }
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
        return None;
    }
    // A leap second (:60) is accepted and folded into the next second, as most parsers do.
    if se > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let ms = days * MS_PER_DAY + ((h * 60 + mi - offset_min) * 60 + se) * 1000 + ms;
    Timestamp::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> i64 {
        Timestamp::parse_rfc3339(s).unwrap().as_millis()
    }

    #[test]
    fn epoch_round_trips() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(p("1970-01-01T00:00:00Z"), 0);
    }

    #[test]
    fn display_writes_every_year_as_the_format_string_does() {
        let reference = |t: &Timestamp| {
            let days = t.0.div_euclid(MS_PER_DAY);
            let rem = t.0.rem_euclid(MS_PER_DAY);
            let (y, m, d) = civil_from_days(days);
            let (h, min, s, ms) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{ms:03}Z")
        };
        let year = 365 * MS_PER_DAY;
        let mut ms = -64_000 * year - 7;
        while ms < 12_000 * year {
            let t = Timestamp(ms);
            assert_eq!(t.to_string(), reference(&t), "{ms}");
            ms += 7_919 * MS_PER_DAY / 3 + 86_399_999;
        }
        for ms in
            [-62_167_219_200_001, -62_167_219_200_000, 253_402_300_799_999, 253_402_300_800_000]
        {
            let t = Timestamp(ms);
            assert_eq!(t.to_string(), reference(&t), "{ms}");
        }
        assert_eq!(Timestamp(253_402_300_799_999).to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp(-62_167_219_200_000).to_string(), "0000-01-01T00:00:00.000Z");
    }

    #[test]
    fn offsets_are_applied() {
        assert_eq!(p("2025-11-03T15:00:01-05:00"), p("2025-11-03T20:00:01Z"));
        assert_eq!(p("2025-11-03T21:00:01+0100"), p("2025-11-03T20:00:01Z"));
        assert_eq!(p("2025-11-03T21:00:01+01"), p("2025-11-03T20:00:01Z"));
        assert_eq!(p("2025-11-03 20:00:01+00:00"), p("2025-11-03T20:00:01Z"));
    }

    #[test]
    fn fractions_truncate_to_milliseconds() {
        assert_eq!(p("2025-11-03T20:00:01.9999999Z") % 1000, 999);
        assert_eq!(p("2025-11-03T20:00:01.5Z") % 1000, 500);
        assert_eq!(p("2025-11-03T20:00:01.123456789Z") % 1000, 123);
    }

    #[test]
    fn rejects_garbage_and_impossible_dates() {
        for s in [
            "",
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-11-03",
            "2025-11-03T20:00:01",
            "2025-11-03T20:00:01.Z",
            "2025-11-03T20:00:01Zjunk",
        ] {
            assert!(Timestamp::parse_rfc3339(s).is_err(), "{s}");
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn civil_conversion_round_trips_over_many_days() {
        for days in (-800_000..3_000_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn float_seconds_truncate_without_float_error() {
        assert_eq!(Timestamp::from_secs_f64(1.001).unwrap().as_millis(), 1001);
        assert_eq!(
            Timestamp::from_secs_f64(1_521_243_339.873_676).unwrap().as_millis(),
            1_521_243_339_873
        );
        assert!(Timestamp::from_secs_f64(f64::NAN).is_none());
    }

    #[test]
    fn rfc5322_dates_with_numeric_obsolete_and_missing_parts() {
        let t = |s: &str| parse_rfc5322(s).map(|t| t.to_string());
        assert_eq!(
            t("Tue, 10 Mar 2026 11:30:00 +0000").as_deref(),
            Some("2026-03-10T11:30:00.000Z")
        );
        assert_eq!(t("10 Mar 2026 06:30 -0500").as_deref(), Some("2026-03-10T11:30:00.000Z"));
        assert_eq!(
            t("Tue, 10 Mar 26 03:30:00 PST (Pacific)").as_deref(),
            Some("2026-03-10T11:30:00.000Z")
        );
        assert_eq!(t("Tue, 10 Mar 2026 11:30:00 GMT").as_deref(), Some("2026-03-10T11:30:00.000Z"));
        assert_eq!(t("Tue, 31 Feb 2026 11:30:00 +0000"), None);
        assert_eq!(t("yesterday"), None);
    }
}
