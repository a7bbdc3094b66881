//! The group keys of [`super::exec::MessageStateExec`]: each group's key columns as bytes,
//! stored once, the groups numbered in order of arrival.
//!
//! Text keys (every column `Utf8`, `LargeUtf8` or `Utf8View`: the usual `message_id,
//! recipient`) are stored as their bytes behind a length, about 44 bytes for a typical pair
//! where Arrow's row format takes 56; keys of other types use the row format.

use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, LargeStringBuilder, StringBuilder, StringViewBuilder,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::error::{DataFusionError, Result};
use hashbrown::HashTable;

/// How a group's key columns become bytes and back.
enum Codec {
    /// Text columns, each as a byte (0 for NULL, 1 for a value), then a value's length
    /// (LEB128) and bytes.
    Text(Vec<DataType>),
    /// Columns of any other types: Arrow's row format.
    Rows(RowConverter),
}

/// Whether a group column of type `t` can be stored: it comes back from its codec as the
/// same type (Arrow's row format gives dictionaries back as their values; nested types are
/// left to DataFusion).
pub(super) fn stored(t: &DataType) -> bool {
    t.is_primitive()
        || matches!(
            t,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)
        )
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The keys of one partition's groups.
pub(super) struct Keys {
    codec: Codec,
    /// Every group's key bytes, back to back; group `g`'s end at `ends[g]`.
    data: Vec<u8>,
    ends: Vec<u32>,
    /// Each group's key hash, 32 bits of it: the table grows and compares without reading
    /// keys (4 bytes a group); dropped with the table.
    hashes: Vec<u32>,
    /// Group numbers, found by hash and key; dropped when the input ends.
    table: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    /// One row's key, being encoded.
    scratch: Vec<u8>,
}

impl Keys {
    /// Keys of columns of `types` (each [`stored`]).
    pub(super) fn new(types: Vec<DataType>) -> Result<Keys> {
        let codec = if types.iter().all(is_text) {
            Codec::Text(types)
        } else {
            Codec::Rows(RowConverter::new(types.into_iter().map(SortField::new).collect())?)
        };
        Ok(Keys {
            codec,
            data: Vec::new(),
            ends: Vec::new(),
            hashes: Vec::new(),
            table: HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            scratch: Vec::new(),
        })
    }

    /// How many groups there are.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    fn key<'a>(data: &'a [u8], ends: &[u32], g: usize) -> &'a [u8] {
        let start = if g == 0 { 0 } else { ends[g - 1] as usize };
        &data[start..ends[g] as usize]
    }

    /// The group of each row of `columns` in `out`, new keys numbered after the others.
    ///
    /// # Errors
    /// Past 2^32 groups or 4 GiB of keys in one partition, or columns not of the key types.
    pub(super) fn intern(&mut self, columns: &[ArrayRef], out: &mut Vec<usize>) -> Result<()> {
        out.clear();
        let rows = columns.first().map_or(0, Array::len);
        match &self.codec {
            Codec::Text(_) => {
                let text = columns.iter().map(TextColumn::of).collect::<Result<Vec<_>>>()?;
                let mut scratch = std::mem::take(&mut self.scratch);
                for row in 0..rows {
                    scratch.clear();
                    for c in &text {
                        encode_text(&mut scratch, c.get(row));
                    }
                    out.push(self.group_of(&scratch)?);
                }
                self.scratch = scratch;
            }
            Codec::Rows(converter) => {
                let batch: Rows = converter.convert_columns(columns)?;
                for row in &batch {
                    out.push(self.group_of(row.data())?);
                }
            }
        }
        Ok(())
    }

    /// The group of `key`, a new one when it is not there.
    fn group_of(&mut self, key: &[u8]) -> Result<usize> {
        let Keys { data, ends, hashes, table, hasher, .. } = self;
        let short = short_hash(hasher.hash_one(key));
        let found = table.find(spread(short), |&g| {
            hashes[g as usize] == short && Keys::key(data, ends, g as usize) == key
        });
        if let Some(&g) = found {
            return Ok(g as usize);
        }
        let too_many = |what: &str| {
            DataFusionError::ResourcesExhausted(format!(
                "MessageStateExec: more than {what} in one partition"
            ))
        };
        let g = ends.len();
        let id = u32::try_from(g).map_err(|_| too_many("2^32 groups"))?;
        data.extend_from_slice(key);
        ends.push(u32::try_from(data.len()).map_err(|_| too_many("4 GiB of group keys"))?);
        hashes.push(short);
        table.insert_unique(spread(short), id, |&g| spread(hashes[g as usize]));
        Ok(g)
    }

    /// Every group is out: drop the keys too (the codec stays).
    pub(super) fn release(&mut self) {
        self.end_input();
        self.data = Vec::new();
        self.ends = Vec::new();
    }

    /// The input is over: drop what only lookups need.
    pub(super) fn end_input(&mut self) {
        self.table = HashTable::new();
        self.hashes = Vec::new();
        self.scratch = Vec::new();
    }

    /// The key columns of groups `range`.
    ///
    /// # Errors
    /// Only if the stored bytes do not decode, which would be a bug here.
    pub(super) fn columns(&self, range: Range<usize>) -> Result<Vec<ArrayRef>> {
        let keys = range.map(|g| Keys::key(&self.data, &self.ends, g));
        match &self.codec {
            Codec::Rows(converter) => {
                let parser = converter.parser();
                Ok(converter.convert_rows(keys.map(|k| parser.parse(k)))?)
            }
            Codec::Text(types) => {
                let mut builders: Vec<TextBuilder> = types.iter().map(TextBuilder::new).collect();
                for mut key in keys {
                    for b in &mut builders {
                        b.append(decode_text(&mut key)?);
                    }
                }
                Ok(builders.into_iter().map(TextBuilder::finish).collect())
            }
        }
    }

    /// Heap bytes held.
    pub(super) fn size(&self) -> usize {
        let converter = match &self.codec {
            Codec::Rows(c) => c.size(),
            Codec::Text(_) => 0,
        };
        self.data.capacity()
            + (self.ends.capacity() + self.hashes.capacity()) * size_of::<u32>()
            + self.table.allocation_size()
            + self.scratch.capacity()
            + converter
    }
}

/// The 32 bits of a key's hash that a group keeps.
fn short_hash(hash: u64) -> u32 {
    u32::try_from(hash >> 32).unwrap_or_default()
}

/// The table's hash of a key from its 32 kept bits: the same on insert, lookup and growth,
/// and spread over the 64 bits the table reads (its bucket from the low bits, a tag from
/// the top seven).
fn spread(short: u32) -> u64 {
    u64::from(short).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// One text key column of a batch.
enum TextColumn<'a> {
    Utf8(&'a datafusion::arrow::array::StringArray),
    Large(&'a datafusion::arrow::array::LargeStringArray),
    View(&'a datafusion::arrow::array::StringViewArray),
}

impl<'a> TextColumn<'a> {
    fn of(column: &'a ArrayRef) -> Result<TextColumn<'a>> {
        let c = column.as_ref();
        c.as_string_opt::<i32>()
            .map(TextColumn::Utf8)
            .or_else(|| c.as_string_opt::<i64>().map(TextColumn::Large))
            .or_else(|| c.as_string_view_opt().map(TextColumn::View))
            .ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "MessageStateExec: a text key column is {}",
                    c.data_type()
                ))
            })
    }

    fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            TextColumn::Utf8(a) => a.is_valid(row).then(|| a.value(row)),
            TextColumn::Large(a) => a.is_valid(row).then(|| a.value(row)),
            TextColumn::View(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

fn encode_text(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(v) = value else {
        out.push(0);
        return;
    };
    out.push(1);
    let mut n = v.len();
    loop {
        let low = u8::try_from(n & 0x7f).unwrap_or(0);
        n >>= 7;
        if n == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(v.as_bytes());
}

/// The next value of a key written by [`encode_text`], and `key` moved past it.
fn decode_text<'a>(key: &mut &'a [u8]) -> Result<Option<&'a str>> {
    let bad = || DataFusionError::Internal("MessageStateExec: a stored key does not decode".into());
    let (&tag, mut rest) = key.split_first().ok_or_else(bad)?;
    if tag == 0 {
        *key = rest;
        return Ok(None);
    }
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let (&b, tail) = rest.split_first().ok_or_else(bad)?;
        rest = tail;
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let value = rest.get(..len).ok_or_else(bad)?;
    *key = &rest[len..];
    std::str::from_utf8(value).map(Some).map_err(|_| bad())
}

/// A builder of one text key column.
enum TextBuilder {
    Utf8(StringBuilder),
    Large(LargeStringBuilder),
    View(StringViewBuilder),
}

impl TextBuilder {
    fn new(t: &DataType) -> TextBuilder {
        match t {
            DataType::LargeUtf8 => TextBuilder::Large(LargeStringBuilder::new()),
            DataType::Utf8View => TextBuilder::View(StringViewBuilder::new()),
            _ => TextBuilder::Utf8(StringBuilder::new()),
        }
    }

    fn append(&mut self, v: Option<&str>) {
        match self {
            TextBuilder::Utf8(b) => b.append_option(v),
            TextBuilder::Large(b) => b.append_option(v),
            TextBuilder::View(b) => b.append_option(v),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            TextBuilder::Utf8(mut b) => Arc::new(b.finish()),
            TextBuilder::Large(mut b) => Arc::new(b.finish()),
            TextBuilder::View(mut b) => Arc::new(b.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray, StringViewArray};

    #[test]
    fn text_keys_number_groups_in_arrival_order_and_come_back_as_they_went_in() {
        let mut keys = Keys::new(vec![DataType::Utf8, DataType::Utf8View]).unwrap();
        let long = "x".repeat(300); // a length of two LEB128 bytes
        let a: ArrayRef = Arc::new(StringArray::from(vec![
            Some("m1"),
            None,
            Some("m1"),
            Some(""),
            Some(long.as_str()),
            None,
        ]));
        let b: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("r1"),
            Some("r1"),
            Some("r1"),
            None,
            Some("é"),
            Some("r1"),
        ]));
        let mut groups = Vec::new();
        keys.intern(&[a, b], &mut groups).unwrap();
        assert_eq!(groups, [0, 1, 0, 2, 3, 1]);
        // ("", NULL) and (NULL, "r1") are not the same key as ("", "r1") or (NULL, NULL).
        let c: ArrayRef = Arc::new(StringArray::from(vec![Some(""), None]));
        let d: ArrayRef = Arc::new(StringViewArray::from(vec![Some("r1"), None]));
        keys.intern(&[c, d], &mut groups).unwrap();
        assert_eq!(groups, [4, 5]);
        keys.end_input();
        let cols = keys.columns(1..5).unwrap();
        assert_eq!(
            cols[0].as_string::<i32>().iter().collect::<Vec<_>>(),
            [None, Some(""), Some(long.as_str()), Some("")]
        );
        assert_eq!(
            cols[1].as_string_view().iter().collect::<Vec<_>>(),
            [Some("r1"), None, Some("é"), Some("r1")]
        );
    }

    #[test]
    fn keys_of_other_types_go_through_the_row_format() {
        let mut keys = Keys::new(vec![DataType::Int64, DataType::Utf8]).unwrap();
        let n: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), None, Some(7)]));
        let s: ArrayRef = Arc::new(StringArray::from(vec!["a", "a", "a"]));
        let mut groups = Vec::new();
        keys.intern(&[n, s], &mut groups).unwrap();
        assert_eq!(groups, [0, 1, 0]);
        let cols = keys.columns(0..2).unwrap();
        assert_eq!(
            cols[0]
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .iter()
                .collect::<Vec<_>>(),
            [Some(7), None]
        );
        assert_eq!(cols[1].as_string::<i32>().iter().collect::<Vec<_>>(), [Some("a"), Some("a")]);
    }
}
