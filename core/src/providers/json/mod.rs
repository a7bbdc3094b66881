//! The one way providers read JSON: a validating scanner that hands back slices of the body
//! ([`scan`]), the fixed set of fields a batch normalizer maps picked out in one pass
//! ([`picked`]), and any object's fields by name with typed, path-naming errors ([`object`]).

pub(crate) mod body;
pub(crate) mod object;
pub(crate) mod picked;
pub(crate) mod scan;
