//! The fields a normalizer maps, picked out of one object in a single [`Scan`]: each known key
//! goes to its slot as the scan meets it, every other key to the caller (SendGrid's custom
//! arguments), and the typed accessors read the slots with the same rules and error messages as
//! [`super::RawObj`]: strings borrowed from the body, numbers kept as their exact digits, a
//! `type_mismatch` naming the JSON path, expected and found.

use std::borrow::Cow;
use std::fmt;

use super::scan::{Kind, Scan, Val};
use super::{TimeUnit, number_time, parse_time};
use crate::Timestamp;
use crate::error::Error;

/// A JSON path written out only when an error needs it: `{prefix}[{index}]` followed by up to
/// four keys (static names, or keys borrowed from the body), without an allocation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Path<'p> {
    prefix: &'static str,
    index: Option<usize>,
    keys: [&'p str; 4],
    len: usize,
}

impl<'p> Path<'p> {
    /// The path of element `index` of the array at `prefix` (`$.items[3]`).
    pub(crate) fn element(prefix: &'static str, index: usize) -> Path<'p> {
        Path { prefix, index: Some(index), keys: [""; 4], len: 0 }
    }

    /// A path without an index (`$["event-data"]`).
    pub(crate) fn root(prefix: &'static str) -> Path<'p> {
        Path { prefix, index: None, keys: [""; 4], len: 0 }
    }

    /// The path of `key` inside this one.
    pub(crate) fn key(mut self, key: &'p str) -> Path<'p> {
        if let Some(slot) = self.keys.get_mut(self.len) {
            *slot = key;
            self.len += 1;
        }
        self
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix)?;
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        for key in &self.keys[..self.len] {
            if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                write!(f, ".{key}")?;
            } else {
                write!(f, "[{key:?}]")?;
            }
        }
        Ok(())
    }
}

/// The mapped fields of one object: slot `i` holds the value of `names[i]` (the last one when a
/// key repeats, as JSON parsers do).
#[derive(Debug)]
pub(crate) struct Picked<'a, const N: usize> {
    vals: [Option<Val<'a>>; N],
    names: &'static [&'static str; N],
    path: Path<'a>,
}

/// What reading one value as an object gave: what was read from it and its exact text, or the
/// kind and text found instead.
pub(crate) type ObjectRead<'a, T> = Result<(T, &'a str), (Kind, &'a str)>;

/// [`ObjectRead`] of an object's picked fields.
pub(crate) type Read<'a, const N: usize> = ObjectRead<'a, Picked<'a, N>>;

/// A read whose value had to be an object: a `type_mismatch` at `path` when it was not.
pub(crate) fn must_be_object<T>(read: Result<T, (Kind, &str)>, path: Path<'_>) -> Result<T, Error> {
    read.map_err(|(found, _)| Error::type_mismatch(path.to_string(), "object", found.name()))
}

impl<'a, const N: usize> Picked<'a, N> {
    /// Read the value at the cursor: when it is an object, every key `slot` knows fills its
    /// slot and every other key goes to `other`. A syntax error is `Err`; a value of another
    /// kind is `Ok(Err(kind))` (the cursor is past it either way).
    pub(crate) fn read(
        scan: &mut Scan<'a>,
        names: &'static [&'static str; N],
        slot: fn(&str) -> Option<usize>,
        path: Path<'a>,
        other: impl FnMut(Cow<'a, str>, Val<'a>),
    ) -> Result<Read<'a, N>, Error> {
        let mut other = other;
        let mut vals = [None; N];
        let read = scan.fields(|key, value| match slot(&key).and_then(|i| vals.get_mut(i)) {
            Some(v) => *v = Some(value),
            None => other(key, value),
        })?;
        Ok(match read {
            Ok(text) => Ok((Picked { vals, names, path }, text)),
            Err(v) => Err((v.kind, v.text)),
        })
    }

    /// [`Picked::read`] where `descend` may read a mapped field's value itself, with the cursor
    /// on it (a nested object read in place rather than skipped and scanned again): it returns
    /// the value it consumed, or `None` to let the slot take the value as usual.
    pub(crate) fn read_with(
        scan: &mut Scan<'a>,
        names: &'static [&'static str; N],
        slot: fn(&str) -> Option<usize>,
        path: Path<'a>,
        mut other: impl FnMut(Cow<'a, str>, Val<'a>),
        mut descend: impl FnMut(usize, &mut Scan<'a>) -> Result<Option<Val<'a>>, Error>,
    ) -> Result<Read<'a, N>, Error> {
        let mut vals = [None; N];
        let read = scan.fields_with(|scan, key| {
            if let Some(i) = slot(&key).filter(|i| *i < N) {
                let value = match descend(i, scan)? {
                    Some(v) => v,
                    None => scan.value()?,
                };
                vals[i] = Some(value);
            } else {
                let value = scan.value()?;
                other(key, value);
            }
            Ok(())
        })?;
        Ok(match read {
            Ok(text) => Ok((Picked { vals, names, path }, text)),
            Err(v) => Err((v.kind, v.text)),
        })
    }

    /// The path of field `i`.
    pub(crate) fn child(&self, i: usize) -> String {
        self.path.key(self.names[i]).to_string()
    }

    /// Field `i`, when present and not `null`.
    pub(crate) fn raw(&self, i: usize) -> Option<Val<'a>> {
        self.vals.get(i).copied().flatten().filter(|v| v.kind != Kind::Null)
    }

    /// An optional field that must be a JSON string.
    pub(crate) fn string(&self, i: usize) -> Result<Option<Cow<'a, str>>, Error> {
        match self.raw(i) {
            None => Ok(None),
            Some(v) => match v.string() {
                Some(s) => Ok(Some(s)),
                None => Err(Error::type_mismatch(self.child(i), "string", v.kind.name())),
            },
        }
    }

    /// An optional string field; a number is accepted and kept as its exact digits.
    pub(crate) fn str(&self, i: usize) -> Result<Option<Cow<'a, str>>, Error> {
        match self.raw(i) {
            Some(v) if v.kind == Kind::Num => Ok(Some(Cow::Borrowed(v.text))),
            _ => self.string(i),
        }
    }

    /// An optional list of strings; a single string (or number) becomes a one-element list,
    /// `null` items are skipped.
    pub(crate) fn str_list(&self, i: usize) -> Result<Vec<Cow<'a, str>>, Error> {
        let Some(v) = self.raw(i) else { return Ok(Vec::new()) };
        match v.kind {
            Kind::Str | Kind::Num => Ok(self.str(i)?.into_iter().collect()),
            Kind::Arr => {
                let mut out = Vec::new();
                let mut bad = None;
                let mut items = Scan::new(v.text);
                items.items(|scan, n| {
                    let item = scan.value()?;
                    match item.kind {
                        Kind::Null => {}
                        Kind::Num | Kind::Str => out.extend(item.text()),
                        other => {
                            bad.get_or_insert((n, other));
                        }
                    }
                    Ok(())
                })?;
                match bad {
                    None => Ok(out),
                    Some((n, kind)) => Err(Error::type_mismatch(
                        format!("{}[{n}]", self.child(i)),
                        "string",
                        kind.name(),
                    )),
                }
            }
            other => Err(Error::type_mismatch(self.child(i), "string or array", other.name())),
        }
    }

    /// An optional nested object's text (a `type_mismatch` for another kind).
    pub(crate) fn obj(&self, i: usize) -> Result<Option<&'a str>, Error> {
        match self.raw(i) {
            None => Ok(None),
            Some(v) if v.kind == Kind::Obj => Ok(Some(v.text)),
            Some(v) => Err(Error::type_mismatch(self.child(i), "object", v.kind.name())),
        }
    }

    /// An optional unsigned integer (a JSON number or a numeric string); `None` when it does not
    /// parse.
    pub(crate) fn uint(&self, i: usize) -> Result<Option<u64>, Error> {
        let Some(v) = self.raw(i) else { return Ok(None) };
        let text = match v.kind {
            Kind::Num => Cow::Borrowed(v.text),
            Kind::Str => v.string().unwrap_or_default(),
            other => return Err(Error::type_mismatch(self.child(i), "number", other.name())),
        };
        Ok(text.trim().parse().ok())
    }

    /// An optional time in one of the providers' shapes (see [`parse_time`]).
    pub(crate) fn time(&self, i: usize, unit: TimeUnit) -> Result<Option<Timestamp>, Error> {
        let Some(v) = self.raw(i) else { return Ok(None) };
        // Integer epoch values, the common case, without building a `Value`.
        if let Ok(n) = v.text.parse::<i64>() {
            let t = number_time(Some(n), None, unit);
            return t
                .map(Some)
                .ok_or_else(|| Error::type_mismatch(self.child(i), unit.expected(), v.text));
        }
        if unit == TimeUnit::Seconds
            && let Some(t) = decimal_seconds(v.text)
        {
            return Ok(Some(t));
        }
        let value: serde_json::Value =
            serde_json::from_str(v.text).map_err(|e| Error::from_json(&e))?;
        parse_time(&value, unit)
            .map(Some)
            .map_err(|found| Error::type_mismatch(self.child(i), unit.expected(), &found))
    }
}

/// Fractional epoch seconds written plainly (`1767299998.412`, as Mailgun sends them) read
/// without a float: the seconds and the first three decimals are the milliseconds, the rest
/// truncated. Only non-negative values of at most 15 significant digits, where the float
/// reading ([`number_time`]) gives the same answer; anything else is `None` and goes that way.
fn decimal_seconds(text: &str) -> Option<Timestamp> {
    let (int, frac) = text.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || int.len() + frac.len() > 15 {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut ms = 0i64;
    for b in frac.bytes().chain(std::iter::repeat(b'0')).take(3) {
        ms = ms * 10 + i64::from(b - b'0');
    }
    Timestamp::from_millis(secs.checked_mul(1000)?.checked_add(ms)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds_agree_with_the_float_reading() {
        let float = |t: &str| number_time(None, t.parse().ok(), TimeUnit::Seconds);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = x % 4_000_000_000;
            let frac_len = usize::try_from(x >> 60).unwrap_or(0) % 6 + 1;
            let frac = format!("{:06}", (x >> 20) % 1_000_000);
            let text = format!("{secs}.{}", &frac[..frac_len]);
            if let Some(t) = decimal_seconds(&text) {
                assert_eq!(Some(t), float(&text), "{text}");
            }
        }
        for text in ["1767299998.412", "0.001", "1.999", "1.0005", "12.5"] {
            assert_eq!(decimal_seconds(text), float(text), "{text}");
        }
        assert_eq!(decimal_seconds("-1.5"), None);
        assert_eq!(decimal_seconds("1e3"), None);
        assert_eq!(decimal_seconds("1767299998.4123456"), None);
    }

    const NAMES: [&str; 4] = ["a", "b-c", "list", "t"];

    fn slot(key: &str) -> Option<usize> {
        NAMES.iter().position(|n| *n == key)
    }

    fn pick(text: &str) -> (Picked<'_, 4>, Vec<String>) {
        let mut others = Vec::new();
        let mut scan = Scan::new(text);
        let read = Picked::read(&mut scan, &NAMES, slot, Path::element("$", 2), |k, _| {
            others.push(k.into_owned());
        });
        (read.unwrap().unwrap().0, others)
    }

    #[test]
    fn slots_take_the_last_value_and_other_keys_go_to_the_caller() {
        let (p, others) = pick(r#"{"a":"x","z":1,"a":"y","b-c":12.50,"list":["p",null,3]}"#);
        assert_eq!(others, ["z"]);
        assert_eq!(p.string(0).unwrap().unwrap(), "y");
        assert_eq!(p.str(1).unwrap().unwrap(), "12.50");
        assert_eq!(p.str_list(2).unwrap(), ["p", "3"]);
        assert_eq!(p.raw(3).map(|v| v.text), None);
    }

    #[test]
    fn type_errors_name_the_path_expected_and_found() {
        let (p, _) = pick(r#"{"a":1,"b-c":true,"list":[{}],"t":"soon"}"#);
        assert_eq!(p.string(0).unwrap_err().message(), "expected string at $[2].a, found number");
        assert_eq!(
            p.str(1).unwrap_err().message(),
            "expected string at $[2][\"b-c\"], found boolean"
        );
        assert_eq!(
            p.str_list(2).unwrap_err().message(),
            "expected string at $[2].list[0], found object"
        );
        assert_eq!(
            p.time(3, TimeUnit::Seconds).unwrap_err().message(),
            "expected epoch seconds or an RFC 3339 time at $[2].t, found \"soon\""
        );
        let path = Path::root("$").key("message").key("headers");
        assert_eq!(path.to_string(), "$.message.headers");
    }
}
