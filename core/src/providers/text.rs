//! Readings of the text inside provider fields: bare addresses, message ids, and SMTP reply
//! codes and enhanced statuses at the start of a server's answer.

use std::borrow::Cow;

/// The SMTP reply code and RFC 3463 enhanced status at the start of a remote server's text, as
/// owned strings (see [`smtp_code_slices`] for the rule).
pub(crate) fn smtp_codes(text: &str) -> (Option<String>, Option<String>) {
    let (code, enhanced) = smtp_code_slices(text);
    (code.map(str::to_owned), enhanced.map(str::to_owned))
}

/// The SMTP reply code and RFC 3463 enhanced status at the start of a remote server's text, as
/// slices of it. The one rule every provider reads diagnostics with (DESIGN.md, "Bounce
/// fields"):
///
/// - Leading whitespace and one `smtp;` prefix (any case, with or without a space after it: a
///   DSN's `Diagnostic-Code` type) are skipped.
/// - A reply code is three digits, the first 2, 4 or 5, at the end of the text or followed by a
///   byte that is not a letter, digit or dot: `550 `, `550-`, `550:` give `550`; `5500`, `550.`
///   and `354` give none.
/// - After the code, spaces, tabs and `-` are skipped; then (or at the start, without a code)
///   an enhanced status `class.subject.detail`: class 2, 4 or 5, subject and detail one to
///   three digits, at the end of the text or followed by a byte that is not a letter, digit or
///   dot, or by one full stop that is (`5.1.1. mailbox` gives `5.1.1`).
/// - Nothing else is guessed: a code inside prose gives nothing.
pub(crate) fn smtp_code_slices(text: &str) -> (Option<&str>, Option<&str>) {
    // Byte tests throughout (measured: the `char` searches and `split` were 2% of a SendGrid
    // batch); `trim_start` only when the text starts with something it could remove.
    fn trim(t: &str) -> &str {
        if t.as_bytes().first().is_some_and(u8::is_ascii_graphic) { t } else { t.trim_start() }
    }
    let mut t = trim(text);
    if t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("smtp;")) {
        t = trim(&t[5..]);
    }
    let mut code = None;
    let b = t.as_bytes();
    if b.len() >= 3
        && matches!(b[0], b'2' | b'4' | b'5')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && ends(b, 3)
    {
        code = Some(&t[..3]);
        t = t[3..].trim_start_matches([' ', '\t', '-']);
    }
    // `enhanced_len` ends at an ASCII byte (or the end), so on a character boundary.
    (code, enhanced_len(t.as_bytes()).map(|n| &t[..n]))
}

/// Whether a code ends at `at`: the end of `b`, or a byte that is not a letter, digit or dot.
#[inline]
fn ends(b: &[u8], at: usize) -> bool {
    b.get(at).is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'.')
}

/// The length of the enhanced status `b` starts with, if it starts with one.
#[inline]
fn enhanced_len(b: &[u8]) -> Option<usize> {
    if !matches!(b.first(), Some(b'2' | b'4' | b'5')) || b.get(1) != Some(&b'.') {
        return None;
    }
    // One to three digits from `at` (four counted means too many).
    let digits = |at: usize| {
        b.get(at..).map_or(0, |r| r.iter().take(4).take_while(|c| c.is_ascii_digit()).count())
    };
    let subject = digits(2);
    if !(1..=3).contains(&subject) || b.get(2 + subject) != Some(&b'.') {
        return None;
    }
    let at = 3 + subject;
    let detail = digits(at);
    let end = at + detail;
    let stops = ends(b, end) || (b.get(end) == Some(&b'.') && ends(b, end + 1));
    ((1..=3).contains(&detail) && stops).then_some(end)
}

/// A bare, lower-cased address from `Ann <Ann@Example.com>`, `<ann@example.com>` or
/// `ann@example.com`. Simple Unicode lower-casing (`ß` stays `ß`); IDN domains are kept as
/// they are. `None` for an empty string.
pub(crate) fn bare_address(s: &str) -> Option<String> {
    bare_address_cow(&Cow::Borrowed(s)).map(Cow::into_owned)
}

/// The bytes of an address that needs no change: printable ASCII but upper case, `<`, `>` and
/// `"`.
static BARE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        #[expect(clippy::cast_possible_truncation, reason = "b < 256")]
        let c = b as u8;
        table[b] = c.is_ascii_graphic() && !matches!(c, b'A'..=b'Z' | b'<' | b'>' | b'"');
        b += 1;
    }
    table
};

/// [`bare_address`], borrowed from `s` when the address in it is already bare lower case.
pub(crate) fn bare_address_cow<'a>(s: &Cow<'a, str>) -> Option<Cow<'a, str>> {
    // The common case, an address that is already bare and lower case, in one pass of one
    // table look-up per byte.
    if !s.is_empty() && s.bytes().all(|b| BARE[usize::from(b)]) {
        return Some(s.clone());
    }
    let t = s.trim();
    let inner = match (t.rfind('<'), t.rfind('>')) {
        (Some(open), Some(close)) if open < close => &t[open + 1..close],
        _ => t,
    };
    let inner = inner.trim().trim_matches('"');
    if inner.is_empty() {
        return None;
    }
    if inner.is_ascii() {
        if !inner.bytes().any(|b| b.is_ascii_uppercase()) {
            return Some(narrow(s, inner));
        }
        return Some(Cow::Owned(inner.to_ascii_lowercase()));
    }
    Some(Cow::Owned(inner.chars().flat_map(simple_lower).collect()))
}

/// Simple (one-to-one) lower-casing: `char::to_lowercase` except where it would expand a
/// character into several (İ), which keeps that character as it is.
fn simple_lower(c: char) -> impl Iterator<Item = char> {
    let mut lower = c.to_lowercase();
    let one = if lower.len() == 1 { lower.next().unwrap_or(c) } else { c };
    std::iter::once(one)
}

/// A message id with surrounding whitespace and `<>` removed; `None` when empty.
pub(crate) fn clean_message_id(s: &str) -> Option<String> {
    clean_message_id_cow(&Cow::Borrowed(s)).map(Cow::into_owned)
}

/// [`clean_message_id`], borrowed from `s`.
pub(crate) fn clean_message_id_cow<'a>(s: &Cow<'a, str>) -> Option<Cow<'a, str>> {
    let bytes = s.as_bytes();
    let edge = |b: &u8| b.is_ascii_whitespace() || matches!(b, b'<' | b'>');
    if bytes.first().is_some_and(|b| !edge(b)) && bytes.last().is_some_and(|b| !edge(b)) {
        return Some(s.clone());
    }
    // `<id>` with nothing to trim inside the brackets (an ASCII byte that is not an edge on
    // each side): the inside as it is, without the general trims' character searches.
    if let [b'<', first, .., last, b'>'] = bytes
        && first.is_ascii()
        && last.is_ascii()
        && !edge(first)
        && !edge(last)
    {
        return Some(narrow(s, &s[1..s.len() - 1]));
    }
    let t = s.trim().trim_start_matches('<').trim_end_matches('>').trim();
    (!t.is_empty()).then(|| narrow(s, t))
}

/// `part`, a slice of `whole`'s text, borrowed from where `whole` borrows (copied when `whole`
/// is owned, or if `part` is not inside it).
pub(crate) fn narrow<'a>(whole: &Cow<'a, str>, part: &str) -> Cow<'a, str> {
    if let Cow::Borrowed(w) = whole
        && let Some(start) = part.as_ptr().addr().checked_sub(w.as_ptr().addr())
        && let Some(slice) = w.get(start..start + part.len())
    {
        return Cow::Borrowed(slice);
    }
    Cow::Owned(part.to_owned())
}

/// A string that is not empty or only whitespace, owned.
pub(crate) fn non_empty(s: Option<Cow<'_, str>>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty()).map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule of [`smtp_code_slices`] written plainly with string methods, as the reference
    /// its byte loops must agree with.
    fn smtp_codes_by_str(text: &str) -> (Option<&str>, Option<&str>) {
        let ends =
            |rest: &str| rest.chars().next().is_none_or(|c| !c.is_ascii_alphanumeric() && c != '.');
        let mut t = text.trim_start();
        if t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("smtp;")) {
            t = t[5..].trim_start();
        }
        let mut code = None;
        if let Some(head) = t.get(..3)
            && head.starts_with(['2', '4', '5'])
            && head.bytes().all(|c| c.is_ascii_digit())
            && ends(&t[3..])
        {
            code = Some(head);
            t = t[3..].trim_start_matches([' ', '\t', '-']);
        }
        let run = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let cand = t[..run].strip_suffix('.').filter(|c| !c.ends_with('.')).unwrap_or(&t[..run]);
        let parts: Vec<&str> = cand.split('.').collect();
        let valid = matches!(parts.as_slice(), [class, subject, detail]
            if matches!(*class, "2" | "4" | "5")
                && (1..=3).contains(&subject.len())
                && (1..=3).contains(&detail.len()))
            && ends(&t[run..]);
        (code, valid.then_some(cand))
    }

    #[test]
    fn smtp_codes_by_bytes_agree_with_the_plain_reading() {
        // Every string of up to five symbols from an alphabet of the bytes that matter, behind
        // each of a few prefixes, plus hand-picked texts.
        let alphabet = ["2", "4", "5", "0", "9", ".", " ", "-", "x", ":", "\t", "\u{a0}", "é"];
        let prefixes = ["", " ", "smtp;", "SMTP; ", "550 ", "\u{2003}4", "250-", "4.2."];
        let mut texts = vec![
            "550 5.1.1 user unknown".to_owned(),
            "smtp; 550 5.1.1 <a@example.com>: Recipient address rejected".to_owned(),
            "4.7.1 greylisted".to_owned(),
            "421 4.7.0 Try again later".to_owned(),
            "5.1.10".to_owned(),
            "5.1234.1".to_owned(),
            "\u{a0}550 5.1.1".to_owned(),
        ];
        let mut stack = vec![String::new()];
        while let Some(s) = stack.pop() {
            for p in prefixes {
                texts.push(format!("{p}{s}"));
            }
            if s.chars().count() < 5 {
                for a in alphabet {
                    stack.push(format!("{s}{a}"));
                }
            }
        }
        for t in &texts {
            assert_eq!(smtp_code_slices(t), smtp_codes_by_str(t), "{t:?}");
        }
    }

    #[test]
    fn smtp_codes_come_only_from_the_start_of_the_text() {
        let c = |t: &str| smtp_codes(t);
        let both = |a: &str, b: &str| (Some(a.to_owned()), Some(b.to_owned()));
        assert_eq!(c("smtp; 550 5.1.1 user unknown"), both("550", "5.1.1"));
        assert_eq!(c("smtp;550 5.1.1 no such user"), both("550", "5.1.1"));
        assert_eq!(c("550-5.1.1 The email account does not exist"), both("550", "5.1.1"));
        assert_eq!(c("550 5.1.1. mailbox unavailable"), both("550", "5.1.1"));
        assert_eq!(c("550\t5.1.1 tab"), both("550", "5.1.1"));
        assert_eq!(c("550 5.1.1: no such user"), both("550", "5.1.1"));
        assert_eq!(c("550:user unknown"), (Some("550".into()), None));
        assert_eq!(c("250 ok"), (Some("250".into()), None));
        assert_eq!(c("5.7.1 blocked"), (None, Some("5.7.1".into())));
        assert_eq!(c("4.2.2 mailbox full"), (None, Some("4.2.2".into())));
        assert_eq!(c("The server said 550 5.1.1 user unknown"), (None, None));
        assert_eq!(c("mailbox full 552 5.2.2"), (None, None));
        assert_eq!(c("5500 nope"), (None, None));
        assert_eq!(c("550abc"), (None, None));
        assert_eq!(c("550.5.1.1"), (None, None));
        assert_eq!(c("354 start mail input"), (None, None));
        assert_eq!(c("151 nope"), (None, None));
        assert_eq!(c("3.1.1 nope"), (None, None));
        assert_eq!(c("550 5.1.1.2 four parts"), (Some("550".into()), None));
        assert_eq!(c("550 5.1.1x"), (Some("550".into()), None));
        assert_eq!(c("550 5.1.1.. two stops"), (Some("550".into()), None));
        assert_eq!(c("5.1.1000"), (None, None));
        assert_eq!(c("smtp"), (None, None));
        assert_eq!(c(""), (None, None));
    }

    #[test]
    fn bracketed_message_ids_take_the_fast_path_to_the_same_answer() {
        let reference = |s: &str| {
            let t = s.trim().trim_start_matches('<').trim_end_matches('>').trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        for s in [
            "<abc@example.com>",
            "<<abc@example.com>>",
            "< abc@example.com >",
            "<a b>",
            "<ab>",
            "<\u{a0}ab\u{a0}>",
            "<é@example.com>",
            " <abc@example.com> ",
            "<>",
            "<<>>",
            "<a>",
            "plain@example.com",
        ] {
            assert_eq!(clean_message_id(s), reference(s), "{s:?}");
            assert_eq!(clean_message_id_cow(&Cow::Borrowed(s)).map(Cow::into_owned), reference(s));
        }
    }

    #[test]
    fn addresses_are_bare_and_lower_case() {
        assert_eq!(bare_address("\"Ann B\" <Ann@Example.COM>").unwrap(), "ann@example.com");
        assert_eq!(bare_address(" <BOB@example.com> ").unwrap(), "bob@example.com");
        assert_eq!(bare_address("STRAßE@example.com").unwrap(), "straße@example.com");
        assert_eq!(bare_address("  "), None);
    }

    #[test]
    fn message_ids_lose_brackets_and_space() {
        assert_eq!(clean_message_id(" <abc@example.com> ").unwrap(), "abc@example.com");
        assert_eq!(clean_message_id("<>"), None);
    }
}
