//! The one error type of core.
//!
//! Every failure carries an [`ErrorKind`] whose [`ErrorKind::code`] is stable: it is the
//! contract on every boundary (the JS `Error.code`, the plugin's `{"error":{"code"}}`, the
//! CLI output and `expect.error.code` in the conformance vectors). Messages are lowercase,
//! say what was expected and what was found, name the provider and the JSON path, and never
//! echo a secret or a computed signature.

use std::fmt;

/// What went wrong, as a stable, matchable category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not valid JSON (or is truncated).
    InvalidJson,
    /// The input is not valid UTF-8 where text was required.
    InvalidUtf8,
    /// A field has the wrong JSON type (`expected string, found number`).
    TypeMismatch,
    /// A required field is absent.
    MissingField,
    /// A field has the right type but a value we cannot accept (a bad time, an unknown type name).
    InvalidValue,
    /// The input is larger or nested deeper than the limits allow.
    TooLarge,
    /// The provider slug is not one mailstate knows.
    UnknownProvider,
    /// The provider is known but this operation is not available for it (yet).
    Unsupported,
    /// The body does not look like this provider's payload.
    WrongProvider,
    /// `--provider auto` could not tell which provider sent the payload.
    AmbiguousProvider,
    /// A wire call named an operation that does not exist.
    UnknownOp,
    /// A policy document (suppression, routing) is malformed.
    InvalidPolicy,
    /// A header that the signature scheme needs is absent.
    MissingHeader,
    /// A signature, key or secret is not in the expected encoding.
    BadEncoding,
    /// The signed timestamp is older than the tolerance allows.
    StaleTimestamp,
    /// The signed timestamp is further in the future than the tolerance allows.
    FutureTimestamp,
    /// The signature does not match the body.
    SignatureMismatch,
    /// The signature names a key we do not have, or a key cannot be used.
    UnknownKey,
    /// Credentials (basic auth, shared token) are absent or wrong.
    Unauthorized,
    /// A one-time token was seen before (replay).
    Replay,
}

impl ErrorKind {
    /// The stable snake_case code of this kind.
    ///
    /// # Example
    /// ```
    /// assert_eq!(mailstate_core::ErrorKind::TypeMismatch.code(), "type_mismatch");
    /// ```
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::TypeMismatch => "type_mismatch",
            ErrorKind::MissingField => "missing_field",
            ErrorKind::InvalidValue => "invalid_value",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::UnknownProvider => "unknown_provider",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::WrongProvider => "wrong_provider",
            ErrorKind::AmbiguousProvider => "ambiguous_provider",
            ErrorKind::UnknownOp => "unknown_op",
            ErrorKind::InvalidPolicy => "invalid_policy",
            ErrorKind::MissingHeader => "missing_header",
            ErrorKind::BadEncoding => "bad_encoding",
            ErrorKind::StaleTimestamp => "stale_timestamp",
            ErrorKind::FutureTimestamp => "future_timestamp",
            ErrorKind::SignatureMismatch => "signature_mismatch",
            ErrorKind::UnknownKey => "unknown_key",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Replay => "replay",
        }
    }

    /// The kind whose [`ErrorKind::code`] is `code`, if any.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::ErrorKind;
    /// assert_eq!(ErrorKind::from_code("too_large"), Some(ErrorKind::TooLarge));
    /// assert_eq!(ErrorKind::from_code("nope"), None);
    /// ```
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Every kind.
    pub const ALL: [ErrorKind; 20] = [
        ErrorKind::InvalidJson,
        ErrorKind::InvalidUtf8,
        ErrorKind::TypeMismatch,
        ErrorKind::MissingField,
        ErrorKind::InvalidValue,
        ErrorKind::TooLarge,
        ErrorKind::UnknownProvider,
        ErrorKind::Unsupported,
        ErrorKind::WrongProvider,
        ErrorKind::AmbiguousProvider,
        ErrorKind::UnknownOp,
        ErrorKind::InvalidPolicy,
        ErrorKind::MissingHeader,
        ErrorKind::BadEncoding,
        ErrorKind::StaleTimestamp,
        ErrorKind::FutureTimestamp,
        ErrorKind::SignatureMismatch,
        ErrorKind::UnknownKey,
        ErrorKind::Unauthorized,
        ErrorKind::Replay,
    ];

    /// True for the kinds a signature or credential check produces.
    pub fn is_authentication(self) -> bool {
        matches!(
            self,
            ErrorKind::MissingHeader
                | ErrorKind::BadEncoding
                | ErrorKind::StaleTimestamp
                | ErrorKind::FutureTimestamp
                | ErrorKind::SignatureMismatch
                | ErrorKind::UnknownKey
                | ErrorKind::Unauthorized
                | ErrorKind::Replay
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An error from core: a kind, and where it happened (provider, JSON path), and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<Inner>);

/// Boxed, so that an `Error` is one pointer: every `Result` on the hot paths (each field a
/// normalizer reads) stays small instead of carrying five fields it almost never uses.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    provider: Option<String>,
    path: Option<String>,
    line: Option<u64>,
    message: String,
}

impl Error {
    /// A new error of `kind` with a lowercase message (no provider, no path).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Inner {
            kind,
            provider: None,
            path: None,
            line: None,
            message: message.into(),
        }))
    }

    /// `expected <expected> at <path>, found <found>`.
    pub(crate) fn type_mismatch(path: impl Into<String>, expected: &str, found: &str) -> Error {
        let path = path.into();
        Error::new(ErrorKind::TypeMismatch, format!("expected {expected} at {path}, found {found}"))
            .with_path(path)
    }

    /// `missing field <path>`.
    pub(crate) fn missing(path: impl Into<String>) -> Error {
        let path = path.into();
        Error::new(ErrorKind::MissingField, format!("missing field {path}")).with_path(path)
    }

    /// `invalid value at <path>: <why>`.
    pub(crate) fn invalid(path: impl Into<String>, why: impl fmt::Display) -> Error {
        let path = path.into();
        Error::new(ErrorKind::InvalidValue, format!("invalid value at {path}: {why}"))
            .with_path(path)
    }

    /// Attach the provider slug; it prefixes the message when displayed.
    #[must_use]
    pub(crate) fn with_provider(mut self, provider: impl Into<String>) -> Error {
        self.0.provider = Some(provider.into());
        self
    }

    /// Attach the JSON path of the offending value.
    #[must_use]
    pub(crate) fn with_path(mut self, path: impl Into<String>) -> Error {
        self.0.path = Some(path.into());
        self
    }

    /// Attach the 1-based line number of the input (NDJSON, CSV); it prefixes the message.
    #[must_use]
    pub(crate) fn with_line(mut self, line: u64) -> Error {
        self.0.line = Some(line);
        self
    }

    /// The 1-based input line, for line-oriented inputs.
    pub fn line(&self) -> Option<u64> {
        self.0.line
    }

    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The stable code of [`Error::kind`].
    pub fn code(&self) -> &'static str {
        self.0.kind.code()
    }

    /// The provider whose payload failed, if known.
    pub fn provider(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }

    /// The JSON path (`$[2].email`) of the offending value, if known.
    pub fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    /// The message without the provider prefix.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Build from a serde_json error, classifying syntax/EOF vs data errors.
    pub(crate) fn from_json(err: &serde_json::Error) -> Error {
        use serde_json::error::Category;
        let kind = match err.classify() {
            Category::Io | Category::Syntax | Category::Eof => ErrorKind::InvalidJson,
            Category::Data => ErrorKind::InvalidValue,
        };
        let mut msg = err.to_string();
        if msg.contains("recursion limit exceeded") {
            return Error::new(ErrorKind::TooLarge, "json nested too deeply");
        }
        // Lower-case serde's capitalised first word ("Invalid type"), but not an acronym
        // ("EOF while parsing").
        let mut chars = msg.chars();
        if let (Some(a), Some(b)) = (chars.next(), chars.next())
            && a.is_ascii_uppercase()
            && !b.is_ascii_uppercase()
        {
            msg.replace_range(..1, &a.to_ascii_lowercase().to_string());
        }
        Error::new(kind, msg)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.0.provider {
            write!(f, "{p}: ")?;
        }
        if let Some(n) = self.0.line {
            write!(f, "line {n}: ")?;
        }
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_provider_path_expected_and_found() {
        let e = Error::type_mismatch("$[2].email", "string", "number").with_provider("sendgrid");
        assert_eq!(e.to_string(), "sendgrid: expected string at $[2].email, found number");
        assert_eq!(e.code(), "type_mismatch");
        assert_eq!(e.path(), Some("$[2].email"));
    }
}
