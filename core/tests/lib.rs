//! Integration tests of mailstate-core.

// Every normalize vector, played natively through `wire::call`.
mod normalize_vectors;
