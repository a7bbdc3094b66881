//! ARF feedback reports (RFC 5965): complaints that mailbox providers' feedback loops send by
//! mail.
//!
//! Docs: <https://www.rfc-editor.org/rfc/rfc5965> (format), RFC 6430 (`not-spam`), RFC 6591
//! (`auth-failure`); Microsoft JMRP and Yahoo's Complaint Feedback Loop send this format.
//!
//! The body is one email, CRLF or bare LF line endings, whose top-level type is
//! `multipart/report; report-type=feedback-report` (the parameter may be quoted). Of its parts
//! the `message/feedback-report` one holds header-style fields (`Feedback-Type`, `User-Agent`,
//! `Version`, `Original-Rcpt-To`, `Arrival-Date`, `Source-IP`, …) and a `message/rfc822` or
//! `text/rfc822-headers` part holds the original message (or its headers). The human-readable
//! part is ignored. One report becomes one event per `Original-Rcpt-To`, or one event.
//!
//! | `Feedback-Type` (trimmed, lower-cased) | canonical |
//! |---|---|
//! | `abuse`, `fraud`, `virus`, `other` | `complaint` |
//! | `not-spam`, `auth-failure`, anything else | `unknown` (kept, never dropped) |
//!
//! Fields: `provider_type` is the lower-cased `Feedback-Type`; `message_id` and
//! `smtp_message_id` are the embedded original's `Message-ID` without `<>` (never the
//! report's own, which is the reporter's); `recipient` is each `Original-Rcpt-To`, else the
//! original's `X-HmXmrOriginalRecipient` (Microsoft JMRP puts it there), else the original's
//! `To` when it holds exactly one address (a group such as `undisclosed-recipients:;` holds
//! none), else null (the recipient fallback to the embedded headers is the deliberate
//! exception to judgment call 10); `occurred_at` is `Arrival-Date`, else `Received-Date`,
//! else the report's `Date` (RFC 5322 dates, numeric or obsolete zones); `metadata` holds
//! `Source-IP`, `Reported-Domain` (repeated ones joined with `,`), `User-Agent` and
//! `Original-Mail-From`. There is no event id (the key is the digest, which includes the
//! recipient, so the events of one report differ), no stream, and no bounce fields. `raw` is
//! the whole report as received (line endings kept).
//!
//! # Parser
//!
//! A small parser of our own, for exactly what ARF needs: header blocks with folded lines,
//! one level of multipart split on its boundary, and the `Content-Type` parameters. Not a
//! MIME library (`mail-parser` was considered): core builds for `wasm32-unknown-unknown` into
//! the npm package and the plugin, where every dependency is bytes in the `.wasm`, and a full
//! MIME parser's charset and encoded-word machinery decodes nothing ARF's fields use. Nothing
//! is decoded: the fields are ASCII, and an original sent as `message/rfc822` is 7bit or 8bit.
//!
//! # Quirks
//!
//! - Yahoo's reports have been seen without a `Date` and with `Version: 0.1`; JMRP's carry
//!   only `Feedback-Type`, `User-Agent` and `Version` (no `Original-Rcpt-To`, no
//!   `Arrival-Date`): the recipient then comes from the original's headers and the time from
//!   the report's `Date`.
//! - Bytes that are not UTF-8 (8bit text in an original) are replaced, not refused.
//!
//! # Unsupported
//!
//! - A `text/rfc822-headers` part sent base64 or quoted-printable is read as it stands (its
//!   `Message-ID` is then not found).
//! - Authenticity (the reporter's DKIM signature) is the mail transport's job: `verify` has no
//!   scheme for `arf`.
//!
//! # Errors
//!
//! A message that is not `multipart/report; report-type=feedback-report`, a multipart without
//! a boundary or without parts, a report without its `message/feedback-report` part or
//! without `Feedback-Type`: `invalid_value` or `missing_field`, with a path naming the part
//! (`Content-Type`, `part[2]`, `part[2].Feedback-Type`).

use std::borrow::Cow;

use super::{bare_address, clean_message_id};
use crate::error::Error;
use crate::time::parse_rfc5322;
use crate::{Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "arf";

/// Header fields, names as written, values unfolded and trimmed.
type Fields<'t> = Vec<(&'t str, String)>;

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let original_text = String::from_utf8_lossy(payload.body);
    // Every line break as LF: the rest of the parser never sees CR.
    let text: Cow<'_, str> = if original_text.contains('\r') {
        Cow::Owned(original_text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(&original_text)
    };
    let Parsed { headers, report, report_at, original } = parse(&text)?;

    let feedback_type = field(&report, "Feedback-Type")
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::missing(format!("part[{report_at}].Feedback-Type")))?;
    let kind = match feedback_type.as_str() {
        "abuse" | "fraud" | "virus" | "other" => EventType::Complaint,
        _ => EventType::Unknown,
    };
    let mut base = Event::new(SLUG, kind);
    base.provider_type.clone_from(&feedback_type);
    base.message_id = field(&original, "Message-ID").and_then(clean_message_id);
    base.smtp_message_id.clone_from(&base.message_id);
    base.occurred_at = ["Arrival-Date", "Received-Date"]
        .iter()
        .find_map(|name| field(&report, name))
        .or_else(|| field(&headers, "Date"))
        .and_then(parse_rfc5322);
    for name in ["Source-IP", "User-Agent", "Original-Mail-From"] {
        if let Some(v) = field(&report, name).filter(|v| !v.is_empty()) {
            base.metadata.insert(name.to_owned(), v.to_owned());
        }
    }
    let domains = all(&report, "Reported-Domain");
    if !domains.is_empty() {
        base.metadata.insert("Reported-Domain".to_owned(), domains.join(","));
    }
    original_text.as_ref().clone_into(&mut base.raw);

    let mut recipients: Vec<Option<String>> = all(&report, "Original-Rcpt-To")
        .into_iter()
        .map(|r| bare_address(strip_address_type(r)))
        .collect();
    if recipients.is_empty() {
        let one = field(&original, "X-HmXmrOriginalRecipient")
            .and_then(bare_address)
            .or_else(|| field(&original, "To").and_then(only_address));
        recipients.push(one);
    }
    let events = recipients
        .into_iter()
        .map(|r| {
            let mut e = base.clone();
            e.recipient = r;
            e.event_key = event_key(&e, KeyScope::Event);
            e
        })
        .collect();
    Ok(Normalized { events, errors: Vec::new(), control: None })
}

/// The parts of a report a canonical event is read from.
struct Parsed<'t> {
    /// The report's own header fields.
    headers: Fields<'t>,
    /// The `message/feedback-report` fields.
    report: Fields<'t>,
    /// The 1-based number of that part, for error paths.
    report_at: usize,
    /// The original's header fields (empty without a `message/rfc822` or
    /// `text/rfc822-headers` part).
    original: Fields<'t>,
}

/// Split a report (LF line endings) into the fields the events are read from.
fn parse(text: &str) -> Result<Parsed<'_>, Error> {
    let (head, body) = split_head(text);
    let headers = fields(head);
    let content_type = field(&headers, "Content-Type").unwrap_or_default();
    let (mime, params) = parse_content_type(content_type);
    let report_type = param(&params, "report-type");
    if !mime.eq_ignore_ascii_case("multipart/report")
        || !report_type.is_some_and(|r| r.eq_ignore_ascii_case("feedback-report"))
    {
        return Err(Error::invalid(
            "Content-Type",
            format!(
                "expected multipart/report; report-type=feedback-report, found {:?}",
                content_type.trim()
            ),
        ));
    }
    let boundary = param(&params, "boundary")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::invalid("Content-Type", "multipart/report without a boundary"))?;
    let parts = split_parts(body, boundary);
    if parts.is_empty() {
        return Err(Error::invalid(
            "part[1]",
            format!("no part delimited by --{boundary} in the multipart/report body"),
        ));
    }
    let typed: Vec<(String, Fields<'_>, &str)> = parts
        .iter()
        .map(|part| {
            let (h, b) = split_head(part);
            let f = fields(h);
            let mime = parse_content_type(field(&f, "Content-Type").unwrap_or("text/plain")).0;
            (mime.to_ascii_lowercase(), f, b)
        })
        .collect();
    let (report_at, report) = typed
        .iter()
        .enumerate()
        .find(|(_, (mime, _, _))| mime == "message/feedback-report")
        .map(|(i, (_, _, b))| (i + 1, fields(b)))
        .ok_or_else(|| {
            let found: Vec<&str> = typed.iter().map(|(m, _, _)| m.as_str()).collect();
            Error::invalid(
                "part[2]",
                format!(
                    "expected a message/feedback-report part, found parts of type {}",
                    found.join(", ")
                ),
            )
        })?;
    let original = typed
        .iter()
        .find(|(mime, _, _)| mime == "message/rfc822" || mime == "text/rfc822-headers")
        .map(|(_, _, b)| fields(split_head(b).0))
        .unwrap_or_default();

    Ok(Parsed { headers, report, report_at, original })
}

/// The header block and the body: split at the first empty line (the whole text is headers
/// when there is none).
fn split_head(text: &str) -> (&str, &str) {
    if let Some(rest) = text.strip_prefix('\n') {
        return ("", rest);
    }
    match text.find("\n\n") {
        Some(i) => (&text[..=i], &text[i + 2..]),
        None => (text, ""),
    }
}

/// The fields of a header block, folded lines unfolded, values trimmed. A line that is
/// neither a field nor a continuation is skipped.
fn fields(head: &str) -> Fields<'_> {
    let mut out: Fields<'_> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':')
            && !name.is_empty()
            && !name.contains(' ')
        {
            out.push((name, value.trim().to_owned()));
        }
    }
    for (_, v) in &mut out {
        let trimmed = v.trim();
        if trimmed.len() != v.len() {
            *v = trimmed.to_owned();
        }
    }
    out
}

/// The first field named `name` (case-insensitively).
fn field<'f>(fields: &'f Fields<'_>, name: &str) -> Option<&'f str> {
    fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Every field named `name`, in order.
fn all<'f>(fields: &'f Fields<'_>, name: &str) -> Vec<&'f str> {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `type/subtype` and its `name=value` parameters (values unquoted, names lower-cased).
fn parse_content_type(value: &str) -> (&str, Vec<(String, String)>) {
    let mut pieces = split_outside_quotes(value, ';').into_iter();
    let mime = pieces.next().unwrap_or_default().trim();
    let params = pieces
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
            Some((k.trim().to_ascii_lowercase(), v.replace("\\\"", "\"")))
        })
        .collect();
    (mime, params)
}

fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Split on `sep` where it is outside double quotes.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut escaped, mut start) = (false, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The parts of a multipart body: the text between `--boundary` lines, up to `--boundary--`
/// (or the end, when the closing line is missing). The preamble is not a part.
fn split_parts<'t>(body: &'t str, boundary: &str) -> Vec<&'t str> {
    let open = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut at = 0;
    for line in body.split_inclusive('\n') {
        let bare = line.trim_end();
        if let Some(rest) = bare.strip_prefix(open.as_str())
            && (rest.is_empty() || rest == "--")
        {
            if let Some(s) = start {
                // The line break before a delimiter belongs to the delimiter.
                let end = if at > s && body.as_bytes()[at - 1] == b'\n' { at - 1 } else { at };
                parts.push(&body[s..end.max(s)]);
            }
            if rest == "--" {
                return parts;
            }
            start = Some(at + line.len());
        }
        at += line.len();
    }
    if let Some(s) = start
        && s < body.len()
    {
        parts.push(&body[s..]);
    }
    parts
}

/// `rfc822;ann@example.com` (a DSN-style address type) as `ann@example.com`.
fn strip_address_type(s: &str) -> &str {
    match s.split_once(';') {
        Some((kind, rest)) if kind.trim().eq_ignore_ascii_case("rfc822") => rest.trim(),
        _ => s,
    }
}

/// The one address of a `To` value, or `None` when it holds none or several (a group
/// `name: a, b;` counts its members).
fn only_address(to: &str) -> Option<String> {
    // A group: the members between `:` and `;`, when the colon is outside quotes and angles.
    let mut depth = 0i32;
    let mut quoted = false;
    let mut list = to;
    for (i, c) in to.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ':' if !quoted && depth == 0 => {
                let members = &to[i + 1..];
                list = members.rsplit_once(';').map_or(members, |(m, _)| m);
                break;
            }
            _ => {}
        }
    }
    let addresses: Vec<&str> =
        split_outside_quotes(list, ',').into_iter().filter(|a| a.contains('@')).collect();
    match addresses.as_slice() {
        [one] => bare_address(one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_holds_one_address_only_when_it_names_exactly_one() {
        assert_eq!(only_address("Tom <Tom@ISP.example>").as_deref(), Some("tom@isp.example"));
        assert_eq!(only_address("a@example.com, b@example.com"), None);
        assert_eq!(only_address("undisclosed-recipients:;"), None);
        assert_eq!(only_address("team: a@example.com;").as_deref(), Some("a@example.com"));
        assert_eq!(only_address("\"Doe, Jo\" <jo@example.com>").as_deref(), Some("jo@example.com"));
    }

    #[test]
    fn content_type_parameters_may_be_quoted() {
        let (mime, params) =
            parse_content_type("multipart/report; report-type=\"feedback-report\"; boundary=zz");
        assert_eq!(mime, "multipart/report");
        assert_eq!(param(&params, "report-type"), Some("feedback-report"));
        assert_eq!(param(&params, "boundary"), Some("zz"));
    }

    #[test]
    fn parts_split_on_the_boundary_and_stop_at_the_close() {
        let body = "preamble\n--b\nA\n--b\nB\n\n--b--\nepilogue\n";
        assert_eq!(split_parts(body, "b"), ["A", "B\n"]);
        assert_eq!(split_parts("--b\nA\n--b\nB", "b"), ["A", "B"]);
    }
}
