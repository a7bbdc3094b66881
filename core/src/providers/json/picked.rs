//! The fields a normalizer maps, picked out of one object in a single [`Scan`]: each known key
//! goes to its slot as the scan meets it, every other key to the caller (SendGrid's custom
//! arguments), and the typed accessors read the slots with the same rules and error messages as
//! [`super::object::Object`]: strings borrowed from the body, numbers kept as their exact digits, a
//! `type_mismatch` naming the JSON path, expected and found.

use std::borrow::Cow;
use std::fmt;

use super::scan::{Kind, Scan, Val};
use crate::Timestamp;
use crate::error::Error;
use crate::providers::time::{TimeUnit, decimal_seconds, plain_epoch, read_time, string_epoch};

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

/// A fixed set of keys, found by a perfect hash computed at compile time: a lookup is one table
/// probe and at most one comparison (a `match` on strings compares them one after another).
/// A key's index is its position in the list given to [`Keys::new`].
#[derive(Debug)]
pub(crate) struct Keys<const M: usize> {
    names: [&'static str; M],
    seed: u64,
    table: [u8; 256],
}

/// An empty entry of [`Keys`]'s table.
const NO_KEY: u8 = u8::MAX;

impl<const M: usize> Keys<M> {
    /// The table for `names`. Evaluated at compile time: two names alike in length and in the
    /// bytes the hash reads (see [`fingerprint`]) fail the build.
    pub(crate) const fn new(names: [&'static str; M]) -> Keys<M> {
        assert!(M < NO_KEY as usize, "too many keys for one table");
        let mut i = 0;
        while i < M {
            let mut j = i + 1;
            while j < M {
                assert!(
                    fingerprint(names[i].as_bytes()) != fingerprint(names[j].as_bytes()),
                    "two keys share a fingerprint (or a key repeats)"
                );
                j += 1;
            }
            i += 1;
        }
        // Distinct fingerprints: try multipliers until the top byte of the products differ.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        loop {
            let mut table = [NO_KEY; 256];
            let mut i = 0;
            let mut clash = false;
            while i < M {
                let h = hash(names[i].as_bytes(), seed);
                if table[h] != NO_KEY {
                    clash = true;
                    break;
                }
                #[expect(clippy::cast_possible_truncation, reason = "M < 255, asserted above")]
                let index = i as u8;
                table[h] = index;
                i += 1;
            }
            if !clash {
                return Keys { names, seed, table };
            }
            seed = seed.wrapping_add(0x2545_f491_4f6c_dd1e);
        }
    }

    /// The index of `key`, if it is one of the names.
    #[expect(
        clippy::inline_always,
        reason = "measured: out of line it was 6% of a SparkPost batch"
    )]
    #[inline(always)]
    pub(crate) fn find(&self, key: &str) -> Option<usize> {
        let i = usize::from(self.table[hash(key.as_bytes(), self.seed)]);
        self.names.get(i).is_some_and(|name| same(name.as_bytes(), key.as_bytes())).then_some(i)
    }

    /// The names, in index order.
    pub(crate) fn names(&self) -> &[&'static str] {
        &self.names
    }
}

/// Byte equality for short keys, in a few word compares (`==` on slices calls `memcmp`, which
/// measured at 8% of a SendGrid batch when every key went through it).
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8).map(|w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
    };
    let half = |s: &[u8], at: usize| {
        s.get(at..at + 4).map(|w| u32::from_le_bytes(w.try_into().unwrap_or([0; 4])))
    };
    match n {
        0 => true,
        1..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => {
            // Whole words, then the last word (overlapping the one before it).
            let mut at = 0;
            while at + 8 < n {
                if word(a, at) != word(b, at) {
                    return false;
                }
                at += 8;
            }
            word(a, n - 8) == word(b, n - 8)
        }
    }
}

/// The bytes of a key the hash reads: its length, its first two, middle and last two bytes.
const fn fingerprint(b: &[u8]) -> u64 {
    let n = b.len();
    if n == 0 {
        return 0;
    }
    let (second, second_last) = if n > 1 { (b[1], b[n - 2]) } else { (0, 0) };
    (n as u64)
        | (b[0] as u64) << 8
        | (b[n / 2] as u64) << 16
        | (b[n - 1] as u64) << 24
        | (second as u64) << 32
        | (second_last as u64) << 40
}

#[expect(clippy::inline_always, reason = "one multiply on every key the scanner meets")]
#[inline(always)]
const fn hash(b: &[u8], seed: u64) -> usize {
    (fingerprint(b).wrapping_mul(seed) >> 56) as usize
}

/// The mapped fields of one object: slot `i` holds the value of key `i` of its [`Keys`] (the
/// last one when a key repeats, as JSON parsers do).
#[derive(Debug)]
pub(crate) struct Picked<'a, const N: usize> {
    vals: [Option<Val<'a>>; N],
    names: &'static [&'static str],
    path: Path<'a>,
}

/// What reading one value as an object gave: its picked fields and exact text, or the kind and
/// text found instead.
pub(crate) type Read<'a, const N: usize> = Result<(Picked<'a, N>, &'a str), (Kind, &'a str)>;

/// What reading an object into a kept [`Picked`] gave: the object's exact text, or the kind and
/// text found instead.
pub(crate) type ObjectText<'a> = Result<&'a str, (Kind, &'a str)>;

/// A read whose value had to be an object: a `type_mismatch` at `path` when it was not.
pub(crate) fn must_be_object<T>(read: Result<T, (Kind, &str)>, path: Path<'_>) -> Result<T, Error> {
    read.map_err(|(found, _)| Error::type_mismatch(path.to_string(), "object", found.name()))
}

impl<'a, const N: usize> Picked<'a, N> {
    /// Read the value at the cursor: when it is an object, each of the first `N` keys of `keys`
    /// fills its slot and every other key goes to `other`, with whether it is one of `keys`
    /// (one lookup answers both). A syntax error is `Err`; a value of another kind is
    /// `Ok(Err(kind))` (the cursor is past it either way).
    #[inline]
    pub(crate) fn read<const M: usize>(
        scan: &mut Scan<'a>,
        keys: &'static Keys<M>,
        path: Path<'a>,
        other: impl FnMut(Cow<'a, str>, Val<'a>, bool),
    ) -> Result<Read<'a, N>, Error> {
        let mut picked = Picked::empty(keys);
        let read = picked.read_again(scan, keys, path, other)?;
        Ok(read.map(|text| (picked, text)))
    }

    /// No fields yet: a value to [`Picked::read_again`] into, one object after another.
    pub(crate) fn empty<const M: usize>(keys: &'static Keys<M>) -> Picked<'a, N> {
        const { assert!(N <= M, "more slots than keys") };
        Picked { vals: [None; N], names: keys.names(), path: Path::root("$") }
    }

    /// [`Picked::read`] into this value, which the caller keeps from one object to the next:
    /// the slots (a few hundred bytes) are written where they stay rather than returned and
    /// moved (measured at 4% of a SendGrid batch). On success, the object's exact text.
    #[inline]
    pub(crate) fn read_again<const M: usize>(
        &mut self,
        scan: &mut Scan<'a>,
        keys: &'static Keys<M>,
        path: Path<'a>,
        mut other: impl FnMut(Cow<'a, str>, Val<'a>, bool),
    ) -> Result<ObjectText<'a>, Error> {
        let vals = self.start(keys, path);
        let read = scan.fields(|key, value| match keys.find(&key) {
            Some(i) if i < N => vals[i] = Some(value),
            known => other(key, value, known.is_some()),
        })?;
        Ok(read.map_err(|v| (v.kind, v.text)))
    }

    /// Empty slots for the object `path` names, read with `keys`: the start of every read.
    #[inline]
    fn start<const M: usize>(
        &mut self,
        keys: &'static Keys<M>,
        path: Path<'a>,
    ) -> &mut [Option<Val<'a>>; N] {
        const { assert!(N <= M, "more slots than keys") };
        self.vals = [None; N];
        (self.names, self.path) = (keys.names(), path);
        &mut self.vals
    }

    /// [`Picked::read_again`] where `descend` may also read a mapped field's value itself
    /// (with the cursor on it; `None` to let the scan read it), as SendGrid reads `category`.
    /// `read_again` and `read_again_with` keep loops of their own: written as calls of this one
    /// with a closure that does nothing, they measured 1–3% slower on a batch (SparkPost,
    /// Mailgun, SendGrid) and 7% for Mailgun's page through `read_again_with`.
    #[inline]
    pub(crate) fn read_fields<const M: usize>(
        &mut self,
        scan: &mut Scan<'a>,
        keys: &'static Keys<M>,
        path: Path<'a>,
        mut other: impl FnMut(Cow<'a, str>, Val<'a>, bool),
        mut descend: impl FnMut(usize, &mut Scan<'a>) -> Result<Option<Val<'a>>, Error>,
    ) -> Result<ObjectText<'a>, Error> {
        let vals = self.start(keys, path);
        let read = scan.fields_with(|scan, key| {
            match keys.find(&key) {
                Some(i) if i < N => {
                    let value = match descend(i, scan)? {
                        Some(v) => v,
                        None => scan.value()?,
                    };
                    vals[i] = Some(value);
                }
                known => other(key, scan.value()?, known.is_some()),
            }
            Ok(())
        })?;
        Ok(read.map_err(|v| (v.kind, v.text)))
    }

    /// [`Picked::read`] where `descend` may read a mapped field's value itself, with the cursor
    /// on it (a nested object read in place rather than skipped and scanned again): it returns
    /// the value it consumed, or `None` to let the slot take the value as usual.
    pub(crate) fn read_with<const M: usize>(
        scan: &mut Scan<'a>,
        keys: &'static Keys<M>,
        path: Path<'a>,
        descend: impl FnMut(usize, &mut Scan<'a>) -> Result<Option<Val<'a>>, Error>,
    ) -> Result<Read<'a, N>, Error> {
        let mut picked = Picked::empty(keys);
        let read = picked.read_again_with(scan, keys, path, descend)?;
        Ok(read.map(|text| (picked, text)))
    }

    /// [`Picked::read_with`] into this value (see [`Picked::read_again`]); keys that are not
    /// mapped are skipped.
    #[inline]
    pub(crate) fn read_again_with<const M: usize>(
        &mut self,
        scan: &mut Scan<'a>,
        keys: &'static Keys<M>,
        path: Path<'a>,
        mut descend: impl FnMut(usize, &mut Scan<'a>) -> Result<Option<Val<'a>>, Error>,
    ) -> Result<ObjectText<'a>, Error> {
        let vals = self.start(keys, path);
        let read = scan.fields_with(|scan, key| {
            if let Some(i) = keys.find(&key).filter(|i| *i < N) {
                let value = match descend(i, scan)? {
                    Some(v) => v,
                    None => scan.value()?,
                };
                vals[i] = Some(value);
            } else {
                scan.value()?;
            }
            Ok(())
        })?;
        Ok(read.map_err(|v| (v.kind, v.text)))
    }

    /// The path of field `i`.
    pub(crate) fn child(&self, i: usize) -> String {
        self.path.key(self.names[i]).to_string()
    }

    /// Field `i`, when present and not `null`.
    #[inline]
    pub(crate) fn raw(&self, i: usize) -> Option<Val<'a>> {
        self.vals.get(i).copied().flatten().filter(|v| v.kind != Kind::Null)
    }

    /// An optional field that must be a JSON string.
    #[inline]
    pub(crate) fn string(&self, i: usize) -> Result<Option<Cow<'a, str>>, Error> {
        match self.raw(i) {
            None => Ok(None),
            Some(v) => match v.string() {
                Some(s) => Ok(Some(s)),
                None => Err(self.mismatch(i, "string", v.kind)),
            },
        }
    }

    /// A `type_mismatch` at field `i` (out of line: the accessors inline their common path).
    #[cold]
    fn mismatch(&self, i: usize, expected: &str, found: Kind) -> Error {
        Error::type_mismatch(self.child(i), expected, found.name())
    }

    /// Whether field `i` is JSON `true` or the string `"true"` (any case): how providers send
    /// a flag some clients type as a string. Anything else, absence included, is `false`.
    pub(crate) fn truthy(&self, i: usize) -> bool {
        self.raw(i).is_some_and(|v| match v.kind {
            Kind::Str => v.string().is_some_and(|s| s.eq_ignore_ascii_case("true")),
            _ => v.text == "true",
        })
    }

    /// An optional string field; a number is accepted and kept as its exact digits.
    #[inline]
    pub(crate) fn str(&self, i: usize) -> Result<Option<Cow<'a, str>>, Error> {
        match self.raw(i) {
            Some(v) if v.kind == Kind::Num => Ok(Some(Cow::Borrowed(v.text))),
            _ => self.string(i),
        }
    }

    /// An optional list of strings; a single string (or number) becomes a one-element list,
    /// `null` items are skipped.
    pub(crate) fn str_list(&self, i: usize) -> Result<crate::Tags<Cow<'a, str>>, Error> {
        let mut out = crate::Tags::new();
        self.str_list_into(i, &mut out)?;
        Ok(out)
    }

    /// [`Picked::str_list`] appended to `out` (an event's tags, filled where they lie: a list
    /// returned by value was copied through the `Result` at a cost measured in a SendGrid
    /// batch). On an error `out` may hold some of the items.
    pub(crate) fn str_list_into(
        &self,
        i: usize,
        out: &mut crate::Tags<Cow<'a, str>>,
    ) -> Result<(), Error> {
        let Some(v) = self.raw(i) else { return Ok(()) };
        match v.kind {
            Kind::Str | Kind::Num => {
                out.extend(self.str(i)?);
                Ok(())
            }
            Kind::Arr => {
                /// One item (see [`take_tag`]); the first item of another kind (its index and
                /// type) into `bad`.
                fn take<'a>(
                    out: &mut crate::Tags<Cow<'a, str>>,
                    bad: &mut Option<(usize, Kind)>,
                    n: &mut usize,
                    item: Val<'a>,
                ) {
                    if !take_tag(out, item) {
                        bad.get_or_insert((*n, item.kind));
                    }
                    *n += 1;
                }
                let start = out.len();
                if plain_strings(v.text, out) {
                    return Ok(());
                }
                out.truncate(start);
                let (mut bad, mut n) = (None, 0);
                // The usual list is flat: one tight loop. A nested item stops it, and the
                // general walk reads the list again from its start.
                if !Scan::new(v.text).flat_array(|item| take(out, &mut bad, &mut n, item))? {
                    out.truncate(start);
                    (bad, n) = (None, 0);
                    Scan::new(v.text).items(|scan, _| {
                        take(out, &mut bad, &mut n, scan.value()?);
                        Ok(())
                    })?;
                }
                match bad {
                    None => Ok(()),
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

    /// [`Picked::time`] in seconds for a provider that writes fractional epoch seconds
    /// (`1767299998.412`, Mailgun): that shape is read first, without trying an integer.
    #[inline]
    pub(crate) fn fractional_time(&self, i: usize) -> Result<Option<Timestamp>, Error> {
        if let Some(v) = self.raw(i)
            && v.kind == Kind::Num
            && let Some(t) = decimal_seconds(v.text)
        {
            return Ok(Some(t));
        }
        self.time(i, TimeUnit::Seconds)
    }

    /// An optional time in one of the providers' shapes (see [`parse_time`]).
    pub(crate) fn time(&self, i: usize, unit: TimeUnit) -> Result<Option<Timestamp>, Error> {
        let Some(v) = self.raw(i) else { return Ok(None) };
        // Epoch values written plainly (a number, or a string of digits), the common case,
        // without building a `Value`; anything else, and every error, the general way below.
        let plain = match v.kind {
            // A JSON number's text reads as plain digits do (one with an exponent as a float,
            // as serde_json reads it).
            Kind::Num => plain_epoch(v.text, unit),
            Kind::Str => v.string().and_then(|s| string_epoch(&s, unit)),
            _ => None,
        };
        if let Some(t) = plain {
            return Ok(Some(t));
        }
        read_time(v, unit)
            .map(Some)
            .map_err(|found| Error::type_mismatch(self.child(i), unit.expected(), &found))
    }
}

/// One item of a list of strings into `out`: a string or a number (its exact digits) pushed,
/// `null` skipped; `false` for an item of another kind, which the list's reader reports.
#[inline]
pub(crate) fn take_tag<'a>(out: &mut crate::Tags<Cow<'a, str>>, item: Val<'a>) -> bool {
    match item.kind {
        Kind::Null => true,
        Kind::Num | Kind::Str => {
            out.extend(item.text());
            true
        }
        _ => false,
    }
}

/// Append the items of an array of plain strings (no escapes; the usual tag list) to `out`,
/// borrowed from its text, which the scanner has already checked: `false` for anything else (an
/// escape, another kind of item; `out` may then hold some of the items), which the general
/// reading then handles with its errors. One pass of byte compares: reading two-tag lists the
/// general way measured at 6% of a SendGrid batch.
fn plain_strings<'a>(text: &'a str, out: &mut crate::Tags<Cow<'a, str>>) -> bool {
    let b = text.as_bytes();
    let ws = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t');
    let skip = |mut at: usize| {
        while b.get(at).is_some_and(|c| ws(*c)) {
            at += 1;
        }
        at
    };
    let mut at = skip(1);
    if b.get(at) == Some(&b']') {
        return true;
    }
    loop {
        if b.get(at) != Some(&b'"') {
            return false;
        }
        let start = at + 1;
        let Some(len) = b[start..].iter().position(|c| matches!(c, b'"' | b'\\')) else {
            return false;
        };
        let end = start + len;
        // Both ends are at ASCII quotes, so on character boundaries.
        match (b[end], text.get(start..end)) {
            (b'"', Some(item)) => out.push(Cow::Borrowed(item)),
            _ => return false,
        }
        at = skip(end + 1);
        match b.get(at) {
            Some(b',') => at = skip(at + 1),
            Some(b']') => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static NAMES: Keys<4> = Keys::new(["a", "b-c", "list", "t"]);

    fn pick(text: &str) -> (Picked<'_, 4>, Vec<String>) {
        let mut others = Vec::new();
        let mut scan = Scan::new(text);
        let read = Picked::read(&mut scan, &NAMES, Path::element("$", 2), |k, _, _| {
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
        assert_eq!(p.str_list(2).unwrap().as_slice(), ["p", "3"]);
        assert_eq!(p.raw(3).map(|v| v.text), None);
    }

    #[test]
    fn plain_string_lists_read_as_the_general_reading_does() {
        // (list, whether the plain reading takes it)
        for (list, plain) in [
            (r"[]", true),
            (r"[ ]", true),
            (r#"["invoice","eu"]"#, true),
            (r#"[ "a" , "b" ]"#, true),
            ("[\n\t\"a\",\r\n\"\"]", true),
            (r#"["é","日本"]"#, true),
            (r#"["a\"b","c"]"#, false),
            (r#"["a\\","c"]"#, false),
            (r#"["a",1,"b"]"#, false),
            (r#"["a",null]"#, false),
            (r"[1]", false),
            (r#"["a",["b"]]"#, false),
        ] {
            let text = format!(r#"{{"list":{list}}}"#);
            let (p, _) = pick(&text);
            let v = p.raw(2).expect("list");
            // The general reading: every item through the scanner.
            let mut general = Vec::new();
            Scan::new(v.text)
                .items(|scan, _| {
                    if let Some(t) = scan.value()?.text() {
                        general.push(t.into_owned());
                    }
                    Ok(())
                })
                .expect("valid list");
            let mut fast = crate::Tags::new();
            assert_eq!(plain_strings(v.text, &mut fast), plain, "{list}");
            if plain {
                assert_eq!(fast.as_slice(), general.as_slice(), "{list}");
            }
            if !list.contains('[') || list.matches('[').count() == 1 {
                assert_eq!(p.str_list(2).expect("list").to_vec(), general, "{list}");
            }
        }
    }

    #[test]
    fn fractional_times_read_as_time_reads_them() {
        for t in ["1767299998.412", "1767299998.4129", "1767299998", "1767299998412", "-1.5", "1e9"]
        {
            let text = format!(r#"{{"t":{t}}}"#);
            let (p, _) = pick(&text);
            assert_eq!(p.fractional_time(3).unwrap(), p.time(3, TimeUnit::Seconds).unwrap(), "{t}");
        }
        let (p, _) = pick(r#"{"t":"soon"}"#);
        assert_eq!(
            p.fractional_time(3).unwrap_err().message(),
            p.time(3, TimeUnit::Seconds).unwrap_err().message()
        );
        let (p, _) = pick(r#"{"t":1767299998.412}"#);
        assert_eq!(
            p.fractional_time(3).unwrap().map(Timestamp::as_millis),
            Some(1_767_299_998_412)
        );
    }

    #[test]
    fn keys_find_every_name_and_nothing_else() {
        static KEYS: Keys<8> = Keys::new([
            "email",
            "event",
            "e",
            "",
            "smtp-id",
            "sg_event_id",
            "sg_message_id",
            "url_offset",
        ]);
        for (i, name) in KEYS.names().iter().enumerate() {
            assert_eq!(KEYS.find(name), Some(i), "{name}");
        }
        for other in ["emai", "emails", "Email", "evenT", "ee", "x", "sg_event_ic", "url_offsets"] {
            assert_eq!(KEYS.find(other), None, "{other}");
        }
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
