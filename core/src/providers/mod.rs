//! One module per provider (file name == slug), plus helpers they share.

pub(crate) mod ndjson;
