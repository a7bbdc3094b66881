//! An event's custom arguments: a small map kept as one vector sorted by key.
//!
//! Events carry zero to a handful of custom arguments. A `BTreeMap` spends a whole node (about
//! half a kilobyte) on each non-empty map, which for a batch of events costs more than reading
//! the batch; a sorted vector keeps the same behaviour (one value per key, the last inserted
//! wins; iteration and serialization in key order) and holds up to two entries inline, so the
//! usual event allocates nothing for them (measured: a heap vector per event was 8% of
//! normalizing a SendGrid batch).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

/// How many entries a map holds without allocating.
const INLINE: usize = 2;

/// Custom arguments as `key → value`, sorted by key (byte order), one value per key.
///
/// # Example
/// ```
/// use mailstate_core::Metadata;
/// let mut m: Metadata = Metadata::new();
/// m.insert("tenant".to_owned(), "acme".to_owned());
/// m.insert("order".to_owned(), "17".to_owned());
/// m.insert("tenant".to_owned(), "globex".to_owned());
/// assert_eq!(m.get("tenant").map(String::as_str), Some("globex"));
/// let keys: Vec<&String> = m.iter().map(|(k, _)| k).collect();
/// assert_eq!(keys, ["order", "tenant"]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Metadata<S = String>(SmallVec<[(S, S); INLINE]>);

impl<S> Metadata<S> {
    /// An empty map (no allocation).
    pub fn new() -> Metadata<S> {
        Metadata(SmallVec::new())
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Remove every key.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Apply `f` to every key and value (keeps the order, which `f` must not change: it is
    /// meant for conversions such as borrowed to owned text).
    pub(crate) fn map<T>(self, mut f: impl FnMut(S) -> T) -> Metadata<T> {
        Metadata(self.0.into_iter().map(|(k, v)| (f(k), f(v))).collect())
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&S, &S)> + DoubleEndedIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<S: AsRef<str>> Metadata<S> {
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| byte_order(k.as_ref(), key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&S> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Set `key` to `value`; the previous value, if there was one.
    pub fn insert(&mut self, key: S, value: S) -> Option<S> {
        // Keys often arrive in order (or one at a time): appending needs no search or shift.
        if self.0.last().is_none_or(|(last, _)| byte_order(last.as_ref(), key.as_ref()).is_lt()) {
            self.0.push((key, value));
            return None;
        }
        match self.find(key.as_ref()) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Remove `key`; its value, if it had one.
    pub fn remove(&mut self, key: &str) -> Option<S> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }
}

/// `a.cmp(b)` for the short keys of custom arguments, without the call to `memcmp` that `str`'s
/// order makes (it was a third of inserting into a map of two).
fn byte_order(a: &str, b: &str) -> Ordering {
    for (x, y) in a.bytes().zip(b.bytes()) {
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

impl<S> Default for Metadata<S> {
    fn default() -> Self {
        Metadata::new()
    }
}

impl<S: fmt::Debug> fmt::Debug for Metadata<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl<S: AsRef<str>> FromIterator<(S, S)> for Metadata<S> {
    fn from_iter<I: IntoIterator<Item = (S, S)>>(iter: I) -> Self {
        let mut m = Metadata::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl<S: AsRef<str>, const N: usize> From<[(S, S); N]> for Metadata<S> {
    fn from(entries: [(S, S); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<S> From<BTreeMap<S, S>> for Metadata<S> {
    fn from(map: BTreeMap<S, S>) -> Self {
        // Already sorted, one value per key.
        Metadata(map.into_iter().collect())
    }
}

/// The entries of a [`Metadata`] by value, in key order.
#[derive(Debug)]
pub struct MetadataIntoIter<S>(smallvec::IntoIter<[(S, S); INLINE]>);

impl<S> Iterator for MetadataIntoIter<S> {
    type Item = (S, S);
    fn next(&mut self) -> Option<(S, S)> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<S> ExactSizeIterator for MetadataIntoIter<S> {}

impl<S> IntoIterator for Metadata<S> {
    type Item = (S, S);
    type IntoIter = MetadataIntoIter<S>;
    fn into_iter(self) -> MetadataIntoIter<S> {
        MetadataIntoIter(self.0.into_iter())
    }
}

impl<'m, S> IntoIterator for &'m Metadata<S> {
    type Item = (&'m S, &'m S);
    type IntoIter = std::iter::Map<std::slice::Iter<'m, (S, S)>, fn(&(S, S)) -> (&S, &S)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<S: Serialize> Serialize for Metadata<S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, S: Deserialize<'de> + AsRef<str>> Deserialize<'de> for Metadata<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<S>(PhantomData<S>);
        impl<'de, S: Deserialize<'de> + AsRef<str>> Visitor<'de> for MapVisitor<S> {
            type Value = Metadata<S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Metadata<S>, A::Error> {
                let mut m =
                    Metadata(SmallVec::with_capacity(access.size_hint().unwrap_or(0).min(64)));
                while let Some((k, v)) = access.next_entry()? {
                    m.insert(k, v);
                }
                Ok(m)
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_like_a_btreemap_in_key_order_with_the_last_value_per_key() {
        let pairs = [("b", "2"), ("a", "1"), ("é", "x"), ("B", "3"), ("a", "9")];
        let ours: Metadata<String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let theirs: BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        assert_eq!(serde_json::to_string(&ours).unwrap(), serde_json::to_string(&theirs).unwrap());
        assert_eq!(ours, Metadata::from(theirs));
        let back: Metadata = serde_json::from_str(r#"{"z":"1","a":"2","z":"3"}"#).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), r#"{"a":"2","z":"3"}"#);
        assert_eq!(back.len(), 2);
        assert!(back.contains_key("z") && !back.contains_key("y"));
    }
}
