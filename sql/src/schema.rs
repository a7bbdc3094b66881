//! The canonical event as an Arrow table, and conversions between `Event`s and record batches.
//!
//! Column names and order are DESIGN.md's. Types:
//!
//! | column | Arrow type |
//! |---|---|
//! | `event_key`, `provider`, `type`, `provider_type`, `raw` | `Utf8`, not null |
//! | `provider_event_id`, `message_id`, `smtp_message_id`, `recipient`, `stream`, `bounce_class`, `bounce_category`, `smtp_status`, `enhanced_status`, `diagnostic`, `url`, `user_agent`, `ip`, `automated` | `Utf8` |
//! | `occurred_at` | `Timestamp(Millisecond, "UTC")` |
//! | `tags` | `List<Utf8>`, not null (empty when none) |
//! | `metadata` | `Map<Utf8, Utf8>`, not null (keys sorted, empty when none) |
//!
//! `metadata` is an Arrow map rather than a JSON string, so SQL reads it with
//! `metadata['campaign']` (DataFusion) or `metadata['campaign']` (DuckDB) and Parquet keeps
//! its type. Writers that cannot hold nested types (CSV) need the column selected away or
//! converted (`array_to_string(tags, ',')`).
//!
//! `bounce_category` and `automated` came after the first stores were written: a Parquet file
//! without them still reads through [`crate::register_events`], the missing columns as NULL
//! (`message_state` then treats every open and click as a person's, as before).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    ArrayRef, ListBuilder, MapBuilder, MapFieldNames, RecordBatch, StringBuilder,
    TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::error::{DataFusionError, Result};
use mailstate_core::Event;

/// The time zone of every timestamp column.
pub(crate) const UTC: &str = "UTC";

/// `Timestamp(Millisecond, "UTC")`, the type of every time column and state field.
pub(crate) fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into()))
}

fn map_field_names() -> MapFieldNames {
    MapFieldNames { entry: "entries".into(), key: "key".into(), value: "value".into() }
}

fn metadata_type() -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

static EVENT_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let s = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        s("event_key", false),
        s("provider", false),
        s("provider_event_id", true),
        s("type", false),
        s("provider_type", false),
        s("message_id", true),
        s("smtp_message_id", true),
        s("recipient", true),
        Field::new("occurred_at", timestamp_type(), true),
        s("stream", true),
        s("bounce_class", true),
        s("bounce_category", true),
        s("smtp_status", true),
        s("enhanced_status", true),
        s("diagnostic", true),
        s("url", true),
        s("user_agent", true),
        s("ip", true),
        s("automated", true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            false,
        ),
        Field::new("metadata", metadata_type(), false),
        s("raw", false),
    ]))
});

/// The Arrow schema of canonical events (see the module docs).
///
/// # Example
/// ```
/// let schema = mailstate_sql::event_schema();
/// assert_eq!(schema.field(3).name(), "type");
/// ```
pub fn event_schema() -> SchemaRef {
    Arc::clone(&EVENT_SCHEMA)
}

/// Convert canonical events to one record batch of [`event_schema`].
///
/// # Errors
/// Only if Arrow rejects the arrays it was given, which would be a bug here.
pub fn events_to_batch(events: &[Event]) -> Result<RecordBatch> {
    let n = events.len();
    let mut cols: Vec<StringBuilder> =
        (0..19).map(|_| StringBuilder::with_capacity(n, n * 16)).collect();
    let mut times = Vec::with_capacity(n);
    let mut tags = ListBuilder::new(StringBuilder::new());
    let mut metadata =
        MapBuilder::new(Some(map_field_names()), StringBuilder::new(), StringBuilder::new());
    for e in events {
        let strs: [Option<&str>; 18] = [
            Some(&e.event_key),
            Some(&e.provider),
            e.provider_event_id.as_deref(),
            Some(e.kind.as_str()),
            Some(&e.provider_type),
            e.message_id.as_deref(),
            e.smtp_message_id.as_deref(),
            e.recipient.as_deref(),
            e.stream.as_deref(),
            e.bounce_class.map(mailstate_core::BounceClass::as_str),
            e.bounce_category.map(mailstate_core::BounceCategory::as_str),
            e.smtp_status.as_deref(),
            e.enhanced_status.as_deref(),
            e.diagnostic.as_deref(),
            e.url.as_deref(),
            e.user_agent.as_deref(),
            e.ip.as_deref(),
            e.automated.map(mailstate_core::Automated::as_str),
        ];
        for (b, v) in cols.iter_mut().zip(strs) {
            b.append_option(v);
        }
        cols[18].append_value(&e.raw);
        times.push(e.occurred_at.map(mailstate_core::Timestamp::as_millis));
        for t in &e.tags {
            tags.values().append_value(t);
        }
        tags.append(true);
        for (k, v) in &e.metadata {
            metadata.keys().append_value(k);
            metadata.values().append_value(v);
        }
        metadata.append(true).map_err(DataFusionError::from)?;
    }
    let mut it = cols.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut next = || it.next().ok_or_else(|| DataFusionError::Internal("column count".into()));
    // Order of `strs` above: 0..8 come before occurred_at, 8..18 after, then raw.
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(22);
    for _ in 0..8 {
        arrays.push(next()?);
    }
    arrays.push(Arc::new(TimestampMillisecondArray::from(times).with_timezone(UTC)));
    for _ in 8..18 {
        arrays.push(next()?);
    }
    arrays.push(Arc::new(tags.finish()));
    // The builder's field names and nullability are those of `metadata_type`.
    arrays.push(Arc::new(metadata.finish()));
    arrays.push(next()?);
    Ok(RecordBatch::try_new(event_schema(), arrays)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Array;
    use mailstate_core::{EventType, Timestamp};

    #[test]
    fn batch_has_the_schema_and_one_row_per_event() {
        let mut e = Event::new("ses", EventType::HardBounce);
        e.event_key = "ses:1".into();
        e.occurred_at = Timestamp::from_millis(1_000);
        e.tags = vec!["a".into(), "b".into()].into();
        e.metadata.insert("campaign".into(), "fall".into());
        let b = events_to_batch(&[e.clone(), e]).unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema(), event_schema());
        assert_eq!(b.column_by_name("type").unwrap().len(), 2);
    }
}
