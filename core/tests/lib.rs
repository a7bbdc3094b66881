//! Integration tests of mailstate-core.

// Every normalize vector, played natively through `wire::call`.
mod normalize_vectors;

// Property tests: normalize never panics on arbitrary or mutated input, for every provider.
mod normalize_never_panics;
