//! Integration tests of mailstate-core.

// Conformance vectors of `normalize`, played natively.
mod normalize_vectors;
