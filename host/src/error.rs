//! The host's error: the sandbox's failures kept apart from the rules' answers.

use std::path::PathBuf;
use std::time::Duration;

/// Why a plugin could not be loaded, or a call did not produce an answer.
///
/// Everything but [`Error::Guest`] is about the sandbox: the module, its ABI, or the limits
/// it ran into. [`Error::Guest`] is the rules themselves refusing the input, with the same
/// stable `code` the native rules give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plugin file could not be read.
    #[error("cannot read plugin {path}: {message}")]
    Io {
        /// The path that was given.
        path: PathBuf,
        /// What the operating system said.
        message: String,
    },
    /// The bytes are not a wasm module the engine can compile.
    #[error("plugin does not compile: {message}")]
    Compile {
        /// The engine's reason.
        message: String,
    },
    /// The plugin speaks another version of the ABI.
    #[error("plugin abi version {found}, expected {expected}")]
    AbiMismatch {
        /// The version this host implements.
        expected: u32,
        /// The version the plugin's `abi_version()` returned.
        found: u32,
    },
    /// A required export is absent or has the wrong type.
    #[error("plugin does not export {name} as {expected}")]
    MissingExport {
        /// The export's name.
        name: &'static str,
        /// Its required type, as the ABI states it.
        expected: &'static str,
    },
    /// The plugin imports something; a rules plugin must be self-contained.
    #[error("plugin imports {module}::{name}, but a rules plugin must import nothing")]
    UnexpectedImport {
        /// The import's module name.
        module: String,
        /// The import's field name.
        name: String,
    },
    /// The call used up its fuel (an instruction budget).
    #[error("plugin ran out of fuel after {fuel} units")]
    OutOfFuel {
        /// The budget each call gets.
        fuel: u64,
    },
    /// The call ran past its wall-clock deadline.
    #[error("plugin exceeded its deadline of {deadline:?}")]
    Deadline {
        /// The deadline each call gets.
        deadline: Duration,
    },
    /// The plugin asked for more linear memory than the limit allows.
    #[error("plugin exceeded its memory limit of {limit} bytes")]
    MemoryLimit {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The plugin trapped (a panic in the rules, an out-of-bounds access, ...).
    #[error("plugin trapped: {message}")]
    Trap {
        /// The engine's description of the trap.
        message: String,
    },
    /// The plugin returned a pointer or envelope that breaks the ABI.
    #[error("plugin answered outside the abi: {message}")]
    InvalidOutput {
        /// What was wrong.
        message: String,
    },
    /// The rules refused the input (the `error` of the envelope).
    #[error("{message}")]
    Guest {
        /// The stable error code (`invalid_json`, `type_mismatch`, ...).
        code: String,
        /// The rules' message.
        message: String,
    },
}

impl Error {
    /// The stable code of a [`Error::Guest`] error; `None` for sandbox errors.
    ///
    /// # Example
    /// ```
    /// let e = mailstate_host::Error::from(mailstate_core::Error::new(
    ///     mailstate_core::ErrorKind::InvalidJson, "expected value"));
    /// assert_eq!(e.guest_code(), Some("invalid_json"));
    /// ```
    pub fn guest_code(&self) -> Option<&str> {
        match self {
            Error::Guest { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the sandbox (not the rules) failed: everything but [`Error::Guest`].
    pub fn is_sandbox(&self) -> bool {
        !matches!(self, Error::Guest { .. })
    }
}

impl From<mailstate_core::Error> for Error {
    fn from(e: mailstate_core::Error) -> Error {
        Error::Guest { code: e.code().to_owned(), message: e.to_string() }
    }
}
