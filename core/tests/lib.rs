//! Integration tests of mailstate-core.
