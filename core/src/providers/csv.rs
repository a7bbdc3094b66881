//! Canonical events as CSV (RFC 4180), for backfills, audits and round trips.
//!
//! The first record is a header naming canonical columns: any subset of the event fields of
//! DESIGN.md, in any order, but `event_key`, `provider`, `type` and `provider_type` are
//! required. Each following record is one event, validated like [`Event::from_json`].
//! (Canonical events as NDJSON, one JSON object per line, are [`Provider::Ndjson`].)
//!
//! Cells:
//! * RFC 4180 quoting: a cell holding a comma, a quote, CR or LF is quoted, quotes inside are
//!   doubled, and line breaks inside quotes are part of the value. Records end with CRLF or
//!   LF. A UTF-8 byte-order mark before the header is ignored.
//! * An empty, unquoted cell is null (absent). A quoted empty cell (`""`) is the empty
//!   string, so `Some("")` and `None` both survive a round trip.
//! * `occurred_at` is RFC 3339 (`2025-11-03T20:00:01.000Z`), `tags` a JSON array of strings,
//!   `metadata` a JSON object of strings.
//!
//! Errors name the 1-based line where the record starts; a bad record does not stop the
//! others. A missing or unknown header column fails the whole file.
//!
//! [`Event::csv_header`] and [`Event::to_csv_record`] write this format, so
//! events → CSV → events is exact.
//!
//! [`Provider::Ndjson`]: crate::Provider::Ndjson

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};
use crate::{Event, Normalized, Payload};

const SLUG: &str = "csv";

/// Every column, in the order [`Event::csv_header`] writes them.
const COLUMNS: [&str; 22] = [
    "event_key",
    "provider",
    "provider_event_id",
    "type",
    "provider_type",
    "message_id",
    "smtp_message_id",
    "recipient",
    "occurred_at",
    "stream",
    "bounce_class",
    "bounce_category",
    "smtp_status",
    "enhanced_status",
    "diagnostic",
    "url",
    "user_agent",
    "ip",
    "automated",
    "tags",
    "metadata",
    "raw",
];

const REQUIRED: [&str; 4] = ["event_key", "provider", "type", "provider_type"];

impl Event {
    /// The CSV header naming every canonical column, ending in CRLF.
    ///
    /// # Example
    /// ```
    /// let h = mailstate_core::Event::csv_header();
    /// assert!(h.starts_with("event_key,provider,provider_event_id,type,"));
    /// assert!(h.ends_with(",tags,metadata,raw\r\n"));
    /// ```
    pub fn csv_header() -> String {
        let mut s = COLUMNS.join(",");
        s.push_str("\r\n");
        s
    }

    /// This event as one CSV record under [`Event::csv_header`], ending in CRLF.
    ///
    /// Absent values are empty cells, empty strings are `""`; `tags` and `metadata` are JSON.
    /// Reading the record back with [`Provider::Csv`](crate::Provider::Csv) gives this event.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::{Event, EventType};
    /// let mut e = Event::new("ses", EventType::Delivered);
    /// e.event_key = "ses:1".into();
    /// e.diagnostic = Some("250 ok, \"queued\"".into());
    /// let rec = e.to_csv_record();
    /// assert!(rec.starts_with("ses:1,ses,,delivered,delivered,"));
    /// assert!(rec.contains(",\"250 ok, \"\"queued\"\"\","));
    /// ```
    pub fn to_csv_record(&self) -> String {
        let occurred = self.occurred_at.map(|t| t.to_string());
        let tags = serde_json::to_string(&self.tags).unwrap_or_default();
        let metadata = serde_json::to_string(&self.metadata).unwrap_or_default();
        let cells: [Option<&str>; 22] = [
            Some(&self.event_key),
            Some(&self.provider),
            self.provider_event_id.as_deref(),
            Some(self.kind.as_str()),
            Some(&self.provider_type),
            self.message_id.as_deref(),
            self.smtp_message_id.as_deref(),
            self.recipient.as_deref(),
            occurred.as_deref(),
            self.stream.as_deref(),
            self.bounce_class.map(crate::BounceClass::as_str),
            self.bounce_category.map(crate::BounceCategory::as_str),
            self.smtp_status.as_deref(),
            self.enhanced_status.as_deref(),
            self.diagnostic.as_deref(),
            self.url.as_deref(),
            self.user_agent.as_deref(),
            self.ip.as_deref(),
            self.automated.map(crate::Automated::as_str),
            Some(&tags),
            Some(&metadata),
            Some(&self.raw),
        ];
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if let Some(text) = cell {
                write_cell(&mut out, text);
            }
        }
        out.push_str("\r\n");
        out
    }
}

fn write_cell(out: &mut String, text: &str) {
    if text.is_empty() || text.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let text = std::str::from_utf8(payload.body)
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, "body is not valid utf-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = records(text).into_iter().filter(|r| !matches!(r, Ok(r) if r.is_blank()));
    let header = match records.next() {
        None => return Ok(Normalized::default()),
        Some(Err(e)) => return Err(e),
        Some(Ok(h)) => h,
    };
    let columns = header_columns(&header)?;
    let mut out = Normalized::default();
    for record in records {
        let result = record.and_then(|r| {
            let line = r.line;
            event(&columns, r).map_err(|e| e.with_line(line))
        });
        match result {
            Ok(e) => out.events.push(e),
            Err(e) => out.errors.push(e.with_provider(SLUG)),
        }
    }
    Ok(out)
}

fn header_columns(header: &Record) -> Result<Vec<&'static str>, Error> {
    let mut columns: Vec<&'static str> = Vec::with_capacity(header.cells.len());
    for cell in &header.cells {
        let name = cell.text.trim();
        let Some(col) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(Error::invalid(
                "header",
                format!("unknown column {name:?}, expected names from {}", COLUMNS.join(", ")),
            )
            .with_line(header.line));
        };
        if columns.contains(col) {
            return Err(Error::invalid("header", format!("column {name:?} appears twice"))
                .with_line(header.line));
        }
        columns.push(col);
    }
    for req in REQUIRED {
        if !columns.contains(&req) {
            return Err(Error::new(
                ErrorKind::MissingField,
                format!("missing column {req} in the header"),
            )
            .with_path(req)
            .with_line(header.line));
        }
    }
    Ok(columns)
}

fn event(columns: &[&'static str], r: Record) -> Result<Event, Error> {
    if r.cells.len() != columns.len() {
        return Err(Error::invalid(
            "$",
            format!("expected {} fields as in the header, found {}", columns.len(), r.cells.len()),
        ));
    }
    let mut obj = Map::new();
    for (col, cell) in columns.iter().zip(r.cells) {
        if cell.text.is_empty() && !cell.quoted {
            continue;
        }
        let value = match *col {
            "tags" | "metadata" => serde_json::from_str::<Value>(&cell.text).map_err(|e| {
                Error::invalid(*col, format!("expected a JSON {}: {e}", json_kind(col)))
            })?,
            _ => Value::String(cell.text),
        };
        obj.insert((*col).to_owned(), value);
    }
    let bytes = serde_json::to_vec(&Value::Object(obj)).map_err(|e| Error::from_json(&e))?;
    Event::from_json(&bytes)
}

fn json_kind(col: &str) -> &'static str {
    if col == "tags" { "array of strings" } else { "object of strings" }
}

/// One record: its cells and the 1-based line where it starts.
#[derive(Debug)]
struct Record {
    line: u64,
    cells: Vec<Cell>,
}

impl Record {
    fn is_blank(&self) -> bool {
        self.cells.len() == 1 && self.cells[0].text.is_empty() && !self.cells[0].quoted
    }
}

#[derive(Debug)]
struct Cell {
    text: String,
    quoted: bool,
}

/// Split RFC 4180 text into records. A malformed record gives an error and parsing resumes
/// at the next line; an unterminated quote ends the input.
fn records(text: &str) -> Vec<Result<Record, Error>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line: u64 = 1;
    while i < b.len() {
        let start = line;
        let mut cells = Vec::new();
        let mut problem: Option<String> = None;
        loop {
            let mut cell = Vec::new();
            let quoted = b[i..].first() == Some(&b'"');
            if quoted {
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            out.push(Err(Error::new(
                                ErrorKind::InvalidValue,
                                "unterminated quoted field",
                            )
                            .with_provider(SLUG)
                            .with_line(start)));
                            return out;
                        }
                        Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                            cell.push(b'"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            if c == b'\n' {
                                line += 1;
                            }
                            cell.push(c);
                            i += 1;
                        }
                    }
                }
            } else {
                while let Some(&c) = b.get(i) {
                    if matches!(c, b',' | b'\n' | b'\r') {
                        break;
                    }
                    if c == b'"' && problem.is_none() {
                        problem =
                            Some(format!("a quote inside unquoted field {}", cells.len() + 1));
                    }
                    cell.push(c);
                    i += 1;
                }
            }
            // The cell's bytes are a slice of valid UTF-8 cut at ASCII delimiters.
            cells.push(Cell { text: String::from_utf8(cell).unwrap_or_default(), quoted });
            match b.get(i) {
                None => break,
                Some(b',') => i += 1,
                Some(b'\r') if b.get(i + 1) == Some(&b'\n') => {
                    i += 2;
                    line += 1;
                    break;
                }
                Some(b'\r' | b'\n') => {
                    i += 1;
                    line += 1;
                    break;
                }
                Some(_) => {
                    if problem.is_none() {
                        problem = Some(format!(
                            "unexpected text after the closing quote of field {}",
                            cells.len()
                        ));
                    }
                    while let Some(&c) = b.get(i) {
                        i += 1;
                        if c == b'\n' {
                            line += 1;
                            break;
                        }
                    }
                    break;
                }
            }
        }
        out.push(match problem {
            None => Ok(Record { line: start, cells }),
            Some(p) => Err(Error::new(ErrorKind::InvalidValue, format!("malformed csv: {p}"))
                .with_provider(SLUG)
                .with_line(start)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BounceClass, EventType, Headers, KeyScope, Provider, Timestamp, event_key};

    fn tricky() -> Vec<Event> {
        let mut a = Event::new("sendgrid", EventType::HardBounce);
        a.provider_type = "bounce".into();
        a.provider_event_id = Some("ev,1==".into());
        a.message_id = Some("msg \"quoted\", with comma".into());
        a.recipient = Some("straße@bücher.example".into());
        a.occurred_at = Timestamp::from_millis(1_762_200_001_123);
        a.bounce_class = Some(BounceClass::Hard);
        a.smtp_status = Some("550".into());
        a.enhanced_status = Some("5.1.1".into());
        a.diagnostic = Some("550 5.1.1 line one\r\nline two\nline \"three\"".into());
        a.tags = vec!["a,b".into(), "q\"uote".into(), "日本".into()].into();
        a.metadata.insert("k,1".into(), "v\n\"2\"".into());
        a.raw = r#"{"event":"bounce","reason":"550, \"no\"\n"}"#.into();
        a.event_key = event_key(&a, KeyScope::Event);

        let mut b = Event::new("mailjet", EventType::Open);
        b.provider_type = "open".into();
        b.stream = Some(String::new());
        b.user_agent = Some(" leading and trailing spaces ".into());
        b.url = Some("https://example.com/?a=1&b=2,3".into());
        b.event_key = event_key(&b, KeyScope::Event);

        let mut c = Event::new("ses", EventType::Unknown);
        c.provider_type = String::new();
        c.event_key = "ses:only-the-required".into();
        vec![a, b, c]
    }

    fn read(csv: &str) -> Normalized {
        normalize(Payload { body: csv.as_bytes(), headers: &Headers::new() }).unwrap()
    }

    #[test]
    fn events_round_trip_through_csv_exactly() {
        let events = tricky();
        let mut csv = Event::csv_header();
        for e in &events {
            csv.push_str(&e.to_csv_record());
        }
        let out = read(&csv);
        assert_eq!(out.errors, vec![]);
        assert_eq!(out.events, events);
        // And through the public dispatch too.
        let via = crate::normalize(
            Provider::Csv,
            Payload { body: csv.as_bytes(), headers: &Headers::new() },
        )
        .unwrap();
        assert_eq!(via.events, events);
    }

    #[test]
    fn errors_carry_the_line_where_the_record_starts() {
        let csv = "type,event_key,provider,provider_type,diagnostic\n\
                   open,k1,ses,Open,\"two\nlines\"\n\
                   nope,k2,ses,X,\n\
                   open,k3,ses,Open\n\
                   open,k4,ses,Op\"en,\n\
                   delivered,k5,ses,Delivery,ok\n";
        let out = read(csv);
        let keys: Vec<&str> = out.events.iter().map(|e| e.event_key.as_str()).collect();
        assert_eq!(keys, ["k1", "k5"]);
        let lines: Vec<Option<u64>> = out.errors.iter().map(Error::line).collect();
        assert_eq!(lines, [Some(4), Some(5), Some(6)]);
        assert_eq!(out.errors[0].code(), "invalid_value");
    }

    #[test]
    fn unknown_or_missing_columns_fail_the_file() {
        let e = normalize(Payload { body: b"event_key,provider,type\n", headers: &Headers::new() })
            .unwrap_err();
        assert_eq!((e.code(), e.path()), ("missing_field", Some("provider_type")));
        let e = normalize(Payload {
            body: b"event_key,provider,type,provider_type,colour\n",
            headers: &Headers::new(),
        })
        .unwrap_err();
        assert_eq!(e.code(), "invalid_value");
    }

    #[test]
    fn unterminated_quote_is_an_error_at_its_line() {
        let out = read("event_key,provider,type,provider_type\nk,ses,open,\"Open\n");
        assert_eq!(out.events, vec![]);
        assert_eq!(out.errors[0].line(), Some(2));
    }
}
