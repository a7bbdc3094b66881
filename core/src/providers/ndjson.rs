//! Canonical events as NDJSON: one JSON object per line, validated and passed through.
//!
//! Blank lines are skipped. A line that is not a valid canonical event yields an error naming
//! its line number and field; the lines around it still come out.

use crate::error::{Error, ErrorKind};
use crate::{Event, Normalized, Payload};

pub(crate) fn normalize(payload: Payload<'_>) -> Normalized {
    let mut out = Normalized::default();
    for (i, line) in payload.body.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let n = i as u64 + 1;
        let parsed = if std::str::from_utf8(line).is_err() {
            Err(Error::new(ErrorKind::InvalidUtf8, "line is not valid utf-8"))
        } else {
            Event::from_json(line)
        };
        match parsed {
            Ok(e) => out.events.push(e),
            Err(e) => out.errors.push(e.with_provider("ndjson").with_line(n)),
        }
    }
    out
}
