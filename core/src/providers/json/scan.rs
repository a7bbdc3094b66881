//! A validating JSON scanner that allocates nothing: the reader under the batch providers'
//! hot path (SendGrid, Mailgun, SparkPost).
//!
//! It walks text that is already valid UTF-8 once, checks the JSON grammar as it goes
//! (strings, escapes, numbers, literals, bracket nesting) and hands back values as slices of
//! the input: a string's inside and whether it holds escapes, a number's exact digits, a
//! nested object or array as its exact text (skipped without recursion, so any depth is fine).
//! Callers visit an object's fields or an array's items with a closure and keep the slices
//! they need; decoding (an escaped string, a time) happens only for the fields a normalizer
//! maps. Reading each element into a `serde_json::Value` cost several times the parse; this
//! scan costs about 1.2 times serde_json's own `IgnoredAny` pass (BENCHMARKS.md).
//!
//! Errors are syntax errors only (`invalid_json` with the byte offset); what a field *means*
//! is checked by the caller, which keeps reading the next element after a bad one.

use std::borrow::Cow;

use crate::error::{Error, ErrorKind};

/// The JSON type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Num,
    Bool,
    Null,
    Obj,
    Arr,
}

impl Kind {
    /// The type's name as error messages say it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Num => "number",
            Kind::Bool => "boolean",
            Kind::Null => "null",
            Kind::Obj => "object",
            Kind::Arr => "array",
        }
    }
}

/// One JSON value as a slice of the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Val<'a> {
    pub(crate) kind: Kind,
    /// The exact text (with the quotes, for a string).
    pub(crate) text: &'a str,
    /// For a string: whether its inside holds a backslash escape.
    escaped: bool,
}

impl<'a> Val<'a> {
    /// A string's value: borrowed when it has no escapes, decoded otherwise. `None` for the
    /// other kinds.
    #[inline]
    pub(crate) fn string(&self) -> Option<Cow<'a, str>> {
        if self.kind != Kind::Str {
            return None;
        }
        if self.escaped {
            return self.decoded();
        }
        // The quotes are one byte each, so these bounds are on character boundaries.
        self.text.get(1..self.text.len() - 1).map(Cow::Borrowed)
    }

    /// Rare (escapes in a mapped field or a key): serde_json decodes, surrogate pairs
    /// included. The scan already checked the escapes, so this only fails on a lone surrogate.
    #[cold]
    fn decoded(&self) -> Option<Cow<'a, str>> {
        serde_json::from_str::<String>(self.text).ok().map(Cow::Owned)
    }

    /// The value of `kind` whose exact text is `text` (as [`Scan::value`] would have read it).
    pub(crate) fn of(kind: Kind, text: &'a str) -> Val<'a> {
        Val { kind, text, escaped: kind == Kind::Str && text.contains('\\') }
    }

    /// A string's value, or a number's exact digits.
    pub(crate) fn text(&self) -> Option<Cow<'a, str>> {
        match self.kind {
            Kind::Num => Some(Cow::Borrowed(self.text)),
            _ => self.string(),
        }
    }

    /// Whether this is JSON `null`.
    pub(crate) fn is_null(&self) -> bool {
        self.kind == Kind::Null
    }
}

/// A cursor over JSON text.
#[derive(Debug)]
pub(crate) struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// How many brackets a nested value may open (see [`Scan::with_max_depth`]).
    max_depth: usize,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(text: &'a str) -> Scan<'a> {
        Scan::with_max_depth(text, usize::MAX)
    }

    /// A scan where a nested value opening more than `max_depth` brackets is a `too_large`
    /// error, as serde_json's recursion limit has it (the batch readers take any depth).
    pub(crate) fn with_max_depth(text: &'a str, max_depth: usize) -> Scan<'a> {
        Scan { text, bytes: text.as_bytes(), at: 0, max_depth }
    }

    #[cold]
    fn error(&self, what: &str) -> Error {
        Error::new(ErrorKind::InvalidJson, format!("{what} at byte {}", self.at))
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.bytes.get(self.at) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.at += 1;
        }
    }

    /// The next non-whitespace byte, not consumed.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.at).copied()
    }

    /// After the last value: only whitespace may follow.
    pub(crate) fn end(&mut self) -> Result<(), Error> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    /// Read one value of any kind.
    #[expect(
        clippy::inline_always,
        reason = "measured: without it each token's Result goes through memory (about 15% of a batch)"
    )]
    #[inline(always)]
    pub(crate) fn value(&mut self) -> Result<Val<'a>, Error> {
        let start = match self.peek() {
            Some(_) => self.at,
            None => return Err(self.error("EOF while parsing a value")),
        };
        let (kind, escaped) = match self.bytes[start] {
            b'"' => (Kind::Str, self.string()?),
            b'[' => {
                self.array(|_| {})?;
                (Kind::Arr, false)
            }
            b'{' => {
                if !self.flat_object()? {
                    self.at = start;
                    self.skip_nested()?;
                }
                (Kind::Obj, false)
            }
            b't' => (Kind::Bool, self.literal("true")?),
            b'f' => (Kind::Bool, self.literal("false")?),
            b'n' => (Kind::Null, self.literal("null")?),
            b'-' | b'0'..=b'9' => (Kind::Num, self.number()?),
            _ => return Err(self.error("expected a value")),
        };
        Ok(Val { kind, text: &self.text[start..self.at], escaped })
    }

    /// Read the array at the cursor when none of its items is an object or array, handing
    /// each item to `each`: `Ok(true)` past it, `Ok(false)` (cursor anywhere inside) at the first
    /// nested item.
    pub(crate) fn flat_array(&mut self, mut each: impl FnMut(Val<'a>)) -> Result<bool, Error> {
        self.at += 1;
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(true);
        }
        loop {
            let Some(item) = self.scalar()? else { return Ok(false) };
            each(item);
            if self.next_or_close(b']')? {
                return Ok(true);
            }
        }
    }

    /// Skip the array at the cursor, handing its items to `each` while none is nested: whether
    /// none was. Most arrays in payloads are flat lists of strings or numbers (tags,
    /// categories): one tight loop; at the first nested item, the general walk from the start.
    #[inline]
    fn array(&mut self, each: impl FnMut(Val<'a>)) -> Result<bool, Error> {
        let start = self.at;
        if self.flat_array(each)? {
            return Ok(true);
        }
        self.at = start;
        self.skip_nested()?;
        Ok(false)
    }

    /// The value at the cursor as [`Scan::value`] reads it; when it is an array, its items are
    /// handed to `each` while none is nested: `(value, true)` when `each` saw them all.
    pub(crate) fn array_items(
        &mut self,
        each: impl FnMut(Val<'a>),
    ) -> Result<(Val<'a>, bool), Error> {
        if self.peek() != Some(b'[') {
            return Ok((self.value()?, false));
        }
        let start = self.at;
        let flat = self.array(each)?;
        Ok((Val { kind: Kind::Arr, text: &self.text[start..self.at], escaped: false }, flat))
    }

    /// [`Scan::flat_array`] for an object: skipped when none of its values is an object or
    /// array.
    fn flat_object(&mut self) -> Result<bool, Error> {
        self.at += 1;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(true);
        }
        loop {
            self.member_key()?;
            if self.scalar()?.is_none() {
                return Ok(false);
            }
            if self.next_or_close(b'}')? {
                return Ok(true);
            }
        }
    }

    /// An object member's key at the cursor, and past the colon after it.
    #[expect(clippy::inline_always, reason = "on every key the scanner meets; see `value`")]
    #[inline(always)]
    fn member_key(&mut self) -> Result<Val<'a>, Error> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a key"));
        }
        let start = self.at;
        let escaped = self.string()?;
        let key = Val { kind: Kind::Str, text: &self.text[start..self.at], escaped };
        if self.peek() != Some(b':') {
            return Err(self.error("expected `:`"));
        }
        self.at += 1;
        Ok(key)
    }

    /// The value at the cursor unless it is an object or array (`None`, the cursor on it).
    #[inline]
    fn scalar(&mut self) -> Result<Option<Val<'a>>, Error> {
        Ok(match self.peek() {
            Some(b'"') => {
                let start = self.at;
                let escaped = self.string()?;
                Some(Val { kind: Kind::Str, text: &self.text[start..self.at], escaped })
            }
            Some(b'{' | b'[') => None,
            _ => Some(self.value()?),
        })
    }

    /// After an item of an array (`close` is `]`) or a member of an object (`}`): past the
    /// comma (`false`) or the closing bracket (`true`).
    #[inline]
    fn next_or_close(&mut self, close: u8) -> Result<bool, Error> {
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.at += 1;
                Ok(true)
            }
            None if close == b']' => Err(self.error("EOF while parsing a list")),
            None => Err(self.error("EOF while parsing an object")),
            Some(_) if close == b']' => Err(self.error("expected `,` or `]`")),
            Some(_) => Err(self.error("expected `,` or `}`")),
        }
    }

    fn literal(&mut self, word: &str) -> Result<bool, Error> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(false)
        } else {
            Err(self.error("expected a literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let from = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.at - from
    }

    fn number(&mut self) -> Result<bool, Error> {
        if self.bytes[self.at] == b'-' {
            self.at += 1;
        }
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.bytes.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.bytes.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(false)
    }

    /// Skip a string starting at its opening quote; whether it held escapes.
    #[expect(clippy::inline_always, reason = "the scanner's hottest loop; see `value`")]
    #[inline(always)]
    fn string(&mut self) -> Result<bool, Error> {
        let bytes = self.bytes;
        // A local cursor: the loop below is the scanner's hottest, and `self.at` behind `&mut`
        // would be stored to memory at every step.
        let mut at = self.at + 1;
        let mut escaped = false;
        loop {
            // Eight bytes at a time while none is a quote, a backslash or a control character.
            while let Some(chunk) = bytes.get(at..at + 8) {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                let special = special_bytes(u64::from_le_bytes(word));
                if special != 0 {
                    // Jump to the first special byte (little-endian: the lowest set bit).
                    at += (special.trailing_zeros() / 8) as usize;
                    break;
                }
                at += 8;
            }
            match bytes.get(at) {
                None => {
                    self.at = at;
                    return Err(self.error("EOF while parsing a string"));
                }
                Some(b'"') => {
                    self.at = at + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.at = at;
                    self.escape()?;
                    at = self.at;
                }
                Some(b) if *b < 0x20 => {
                    self.at = at;
                    return Err(self.error("control character in a string"));
                }
                Some(_) => at += 1,
            }
        }
    }

    #[cold]
    fn escape(&mut self) -> Result<(), Error> {
        self.at += 1;
        match self.bytes.get(self.at) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.at += 1;
                Ok(())
            }
            Some(b'u') => {
                let hex = self.bytes.get(self.at + 1..self.at + 5);
                if hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    self.at += 5;
                    Ok(())
                } else {
                    Err(self.error("invalid unicode escape"))
                }
            }
            _ => Err(self.error("invalid escape")),
        }
    }

    /// Skip an object or array starting at its bracket, checking its grammar without
    /// recursion: a stack of one bit per open bracket.
    fn skip_nested(&mut self) -> Result<(), Error> {
        /// Where the walk is: at an opening bracket, before a member, after a value.
        enum At {
            Open,
            Member,
            After,
        }
        let mut stack = BitStack::default();
        let mut depth = 0usize;
        let mut at = At::Open;
        loop {
            at = match at {
                At::Open => {
                    let is_obj = self.bytes[self.at] == b'{';
                    stack.set(depth, is_obj);
                    depth += 1;
                    if depth > self.max_depth {
                        return Err(Error::new(ErrorKind::TooLarge, "json nested too deeply"));
                    }
                    self.at += 1;
                    let close = if is_obj { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                        depth -= 1;
                        At::After
                    } else {
                        At::Member
                    }
                }
                At::Member => {
                    if stack.get(depth - 1) {
                        self.member_key()?;
                    }
                    if let Some(b'{' | b'[') = self.peek() {
                        At::Open
                    } else {
                        self.value()?;
                        At::After
                    }
                }
                At::After => {
                    if depth == 0 {
                        return Ok(());
                    }
                    let close = if stack.get(depth - 1) { b'}' } else { b']' };
                    match self.peek() {
                        Some(b',') => {
                            self.at += 1;
                            At::Member
                        }
                        Some(b) if b == close => {
                            self.at += 1;
                            depth -= 1;
                            At::After
                        }
                        None => return Err(self.error("EOF while parsing a nested value")),
                        Some(_) => return Err(self.error("expected `,` or a closing bracket")),
                    }
                }
            };
        }
    }

    /// Visit the fields of the object at the cursor, in document order; `Err(value)` (the value
    /// skipped) when the value there is not an object, or `Ok(text)` with the object's text.
    pub(crate) fn fields(
        &mut self,
        mut visit: impl FnMut(Cow<'a, str>, Val<'a>),
    ) -> Result<Result<&'a str, Val<'a>>, Error> {
        self.fields_with(|scan, key| {
            let value = scan.value()?;
            visit(key, value);
            Ok(())
        })
    }

    /// [`Scan::fields`] where `visit` is called with the cursor on each value and must consume
    /// exactly that value (with [`Scan::value`], [`Scan::items`]…): a field holding a long
    /// array is then read once, not skipped and read again.
    pub(crate) fn fields_with(
        &mut self,
        mut visit: impl FnMut(&mut Scan<'a>, Cow<'a, str>) -> Result<(), Error>,
    ) -> Result<Result<&'a str, Val<'a>>, Error> {
        let start = match self.peek() {
            Some(b'{') => self.at,
            Some(_) => return self.value().map(Err),
            None => return Err(self.error("EOF while parsing a value")),
        };
        self.at += 1;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Ok(&self.text[start..self.at]));
        }
        loop {
            let key = self.member_key()?;
            if self.peek().is_none() {
                return Err(self.error("EOF while parsing a value"));
            }
            visit(self, key.string().unwrap_or_default())?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Ok(&self.text[start..self.at]));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    /// Visit the items of the array at the cursor: `visit` is called with the cursor on each
    /// item and must consume exactly that item (with [`Scan::value`] or [`Scan::fields`]).
    /// An error when the value there is not an array.
    pub(crate) fn items(
        &mut self,
        mut visit: impl FnMut(&mut Scan<'a>, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if self.peek() != Some(b'[') {
            return Err(self.error("expected `[`"));
        }
        self.at += 1;
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            visit(self, index)?;
            index += 1;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                None => return Err(self.error("EOF while parsing a list")),
                Some(_) => return Err(self.error("expected `,` or `]`")),
            }
        }
    }
}

/// One bit per open bracket (`true` for an object): 256 levels inline, deeper ones spill to
/// the heap.
#[derive(Default)]
struct BitStack {
    inline: [u64; 4],
    spill: Vec<u64>,
}

impl BitStack {
    fn set(&mut self, depth: usize, bit: bool) {
        let (word, mask) = (depth / 64, 1u64 << (depth % 64));
        let slot = if let Some(w) = self.inline.get_mut(word) {
            w
        } else {
            let i = word - self.inline.len();
            if self.spill.len() <= i {
                self.spill.resize(i + 1, 0);
            }
            &mut self.spill[i]
        };
        if bit { *slot |= mask } else { *slot &= !mask }
    }

    fn get(&self, depth: usize) -> bool {
        let (word, mask) = (depth / 64, 1u64 << (depth % 64));
        let w = match self.inline.get(word) {
            Some(w) => *w,
            None => self.spill.get(word - self.inline.len()).copied().unwrap_or(0),
        };
        w & mask != 0
    }
}

/// The high bit of each byte of `w` that is `"`, `\\` or below 0x20, plus possibly bits above
/// the first such byte (the classic SWAR zero-byte tests: exact for the lowest one, which is
/// all the caller uses).
fn special_bytes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero(w ^ (ONES * u64::from(b'"')));
    let backslash = zero(w ^ (ONES * u64::from(b'\\')));
    // Bytes below 0x20: subtracting 0x20 borrows into the high bit (ASCII bytes only; bytes
    // of 0x80 and above have it set already and are masked out by `!w`).
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Val<'_>, Error> {
        let mut s = Scan::new(text);
        let v = s.value()?;
        s.end()?;
        Ok(v)
    }

    #[test]
    fn values_come_back_as_their_exact_text() {
        for (text, kind) in [
            (r#""a\"b""#, Kind::Str),
            ("-0.5e+3", Kind::Num),
            ("true", Kind::Bool),
            ("null", Kind::Null),
            (r#"{"a":[1,{"b":[]}],"c":{}}"#, Kind::Obj),
            ("[[],[[]],{}]", Kind::Arr),
        ] {
            let v = one(text).unwrap();
            assert_eq!((v.kind, v.text), (kind, text));
        }
        assert_eq!(one(r#""plain text""#).unwrap().string().unwrap(), "plain text");
        assert!(matches!(one(r#""plain""#).unwrap().string(), Some(Cow::Borrowed(_))));
        assert_eq!(one(r#""a\u00e9\n\ud83d\ude00""#).unwrap().string().unwrap(), "aé\n😀");
        assert_eq!(one("12.50").unwrap().text().unwrap(), "12.50");
    }

    #[test]
    fn strings_longer_than_a_word_find_their_end_and_escapes() {
        let long = format!("\"{}\\\"{}\"", "x".repeat(21), "é".repeat(9));
        let v = one(&long).unwrap();
        assert_eq!(v.string().unwrap(), format!("{}\"{}", "x".repeat(21), "é".repeat(9)));
        assert!(one(&format!("\"{}\u{1}\"", "y".repeat(13))).is_err());
    }

    #[test]
    fn malformed_json_is_an_error_never_a_panic() {
        for bad in [
            "",
            "[",
            "{",
            "{\"a\"",
            "{\"a\":}",
            "[1,]",
            "[1 2]",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            "1e",
            "tru",
            "\"abc",
            "\"\\x\"",
            "\"\\u12g4\"",
            "[}",
            "{]",
            "{1:2}",
            "nul",
        ] {
            let mut s = Scan::new(bad);
            let r = s.value().and_then(|_| s.end());
            assert_eq!(r.unwrap_err().code(), "invalid_json", "{bad:?}");
        }
        let unbalanced = format!("{}{}", "[".repeat(300), "]".repeat(299));
        assert_eq!(one(&unbalanced).unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn any_depth_is_skipped_without_recursion() {
        let deep = format!("{}1{}", "[{\"k\":".repeat(5000), "}]".repeat(5000));
        assert_eq!(one(&deep).unwrap().kind, Kind::Arr);
        let mismatched = format!("{}1{}", "[{\"k\":".repeat(400), "]}".repeat(400));
        assert_eq!(one(&mismatched).unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn agrees_with_serde_json_on_what_is_json() {
        for text in [
            "[1, 2.5, -3e2, \"x\", {\"k\": [true, false, null]}]",
            "{\"a\" : { \"b\" : [ ] } , \"c\" : \"\\t\" }",
            "[1,2,3]x",
            "{\"a\":1 \"b\":2}",
            "[\"\u{7f}\", \"\\/\"]",
            "[0.0e0, -0, 1E+2]",
            "[00]",
            "[.5]",
            "[1,]",
            "{\"a\":1,}",
            "[\"a\" \"b\"]",
            "{\"a\" 1}",
            "{\"a\":}",
            "{\"a\":[1,{}],\"b\":{\"c\":[]}}",
            "[[1],[\"x\",{\"y\":null}]]",
        ] {
            let mut s = Scan::new(text);
            let ours = s.value().and_then(|_| s.end()).is_ok();
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            assert_eq!(ours, serde, "{text:?}");
        }
    }

    #[test]
    fn fields_and_items_visit_in_order() {
        let mut s = Scan::new(r#"[{"a":1,"b\u0041":"x","a":2}, 3, {}]"#);
        let mut seen = Vec::new();
        s.items(|s, i| {
            let raw = match s.fields(|k, v| seen.push(format!("{i}:{k}={}", v.text)))? {
                Ok(text) => text,
                Err(v) => v.text,
            };
            seen.push(format!("{i}:raw={raw}"));
            Ok(())
        })
        .unwrap();
        s.end().unwrap();
        assert_eq!(
            seen,
            [
                "0:a=1",
                "0:bA=\"x\"",
                "0:a=2",
                r#"0:raw={"a":1,"b\u0041":"x","a":2}"#,
                "1:raw=3",
                "2:raw={}"
            ]
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Valid JSON with every kind of value, nesting and escapes, to mutate: one nested (the
    /// bracket-stack walk), and a flat array and a flat object (the one-loop skips).
    const SEEDS: [&str; 3] = [
        r#"[{"a":"x\"y\u00e9","b":[1,-2.5e3,true,false,null],"c":{"d":{}}},[],"\\"]"#,
        r#"["x\"y\u00e9",1,-2.5e3,true,false,null,"\\",0]"#,
        r#"{"a":"x\"y","b":-2.5e3,"c":true,"d":null,"e":"\u00e9","f":false}"#,
    ];

    proptest! {
        // The mutations are few enough to cover well: a trailing comma in the flat object, for
        // one, is about one case in five thousand.
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn scan_accepts_exactly_what_serde_json_accepts(
            seed in 0..SEEDS.len(),
            cut in 0..80usize,
            at in 0..80usize,
            byte in prop::sample::select(b"{}[],:\"\\ 0-.eE+tfnul\x01x".to_vec()),
        ) {
            let seed = SEEDS[seed];
            let (cut, at) = (cut % seed.len(), at % seed.len());
            for text in [
                seed[..cut].to_owned(),
                format!("{}{}{}", &seed[..at], char::from(byte), &seed[at..]),
                format!("{}{}", &seed[..at], seed.get(at + 1..).unwrap_or("")),
            ] {
                if std::str::from_utf8(text.as_bytes()).is_err() {
                    continue;
                }
                let mut s = Scan::new(&text);
                let ours = s.value().and_then(|_| s.end()).is_ok();
                let serde = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
                prop_assert_eq!(ours, serde, "{:?}", text);
            }
        }
    }
}
