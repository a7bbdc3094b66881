//! The wasm rules plugin behind [`SqlRules`] (feature `plugin`): loaded with `mailstate-host`,
//! named by its file and SHA-256 in every error and description.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailstate_core::{
    Normalized, Payload, Provider, Rules,
    batch::{ReduceBatch, States, Views},
};
use mailstate_host::Plugin;
use sha2::{Digest, Sha256};

use super::{RulesError, SqlRules};

pub(super) type PluginError = mailstate_host::Error;

/// A plugin loaded from a file.
pub(super) struct LoadedPlugin {
    plugin: Plugin,
    path: PathBuf,
    abi: u32,
    sha256: String,
}

impl SqlRules {
    /// Load the rules plugin at `path` with the host's default limits.
    ///
    /// # Errors
    /// When the file cannot be read, does not compile, or is not a rules plugin of the
    /// host's ABI version.
    pub fn plugin(path: impl AsRef<Path>) -> Result<SqlRules, mailstate_host::Error> {
        SqlRules::plugin_with(Plugin::builder(), path)
    }

    /// Load the rules plugin at `path` with the limits of `builder`.
    ///
    /// # Errors
    /// As [`SqlRules::plugin`].
    pub fn plugin_with(
        builder: mailstate_host::PluginBuilder,
        path: impl AsRef<Path>,
    ) -> Result<SqlRules, mailstate_host::Error> {
        let path = path.as_ref();
        let wasm = std::fs::read(path).map_err(|e| mailstate_host::Error::Io {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let plugin = builder.load(&wasm)?;
        let abi = plugin.abi_version()?;
        let sha256 = mailstate_core::encoding::encode_hex(&Sha256::digest(&wasm));
        Ok(SqlRules {
            plugin: Some(Arc::new(LoadedPlugin { plugin, path: path.to_owned(), abi, sha256 })),
        })
    }
}

impl SqlRules {
    /// Whether the plugin's compiled code was read from a module cache
    /// (`PluginBuilder::with_cache_dir`) instead of compiled; `false` for native rules.
    pub fn plugin_from_cache(&self) -> bool {
        self.plugin.as_ref().is_some_and(|p| p.plugin.from_cache())
    }
}

impl LoadedPlugin {
    /// `plugin PATH (abi 1, sha256 0123456789ab)`: the first 12 hex digits of the file's hash.
    pub(super) fn describe(&self) -> String {
        format!("plugin {} (abi {}, sha256 {})", self.path.display(), self.abi, &self.sha256[..12])
    }

    pub(super) fn sha256(&self) -> &str {
        &self.sha256
    }

    pub(super) fn reduce_states(&self, batch: &ReduceBatch<'_>) -> Result<States, PluginError> {
        self.plugin.reduce_states(batch)
    }

    pub(super) fn reduce_views(&self, batch: &ReduceBatch<'_>) -> Result<Views, PluginError> {
        self.plugin.reduce_views(batch)
    }

    pub(super) fn call(&self, op: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
        self.plugin.call(op, input)
    }

    /// Normalize one payload: the plugin's own refusal keeps its error code; a trap, fuel or
    /// memory failure is a sandbox error naming the plugin.
    pub(super) fn normalize(
        &self,
        provider: Provider,
        payload: Payload<'_>,
    ) -> Result<Normalized, RulesError> {
        self.plugin.normalize(provider, payload).map_err(|e| match e {
            mailstate_host::Error::Guest { code, message } => {
                let kind = mailstate_core::ErrorKind::from_code(&code)
                    .unwrap_or(mailstate_core::ErrorKind::InvalidValue);
                RulesError::Rules(mailstate_core::Error::new(kind, message))
            }
            other => RulesError::Sandbox(format!("{}: {other}", self.describe())),
        })
    }
}
