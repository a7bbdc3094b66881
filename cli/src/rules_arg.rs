//! `--rules PATH.wasm` and `--verbose`: which rules a command runs, and saying so.

use std::path::PathBuf;

use anyhow::Context;
use mailstate_sql::SqlRules;

/// The rules options shared by `state` and `sql`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RulesArgs {
    /// Run the rules of this wasm plugin (e.g. wasm/dist/mailstate_plugin.wasm, the artifact
    /// the edge runs) instead of the native ones, sandboxed by mailstate-host.
    #[arg(long, value_name = "PATH.wasm")]
    rules: Option<PathBuf>,
    /// Print which rules ran on stderr: `native`, or the plugin's path, ABI version and the
    /// first 12 hex digits of its SHA-256.
    #[arg(long, short)]
    verbose: bool,
}

impl RulesArgs {
    /// Whether --verbose was given.
    pub(crate) fn verbose(&self) -> bool {
        self.verbose
    }

    /// Load the rules (and say which, with --verbose).
    pub(crate) fn load(&self) -> anyhow::Result<SqlRules> {
        let rules = match &self.rules {
            None => SqlRules::native(),
            Some(path) => SqlRules::plugin(path)
                .with_context(|| format!("cannot load the rules plugin {}", path.display()))?,
        };
        if self.verbose {
            eprintln!("mailstate: rules: {}", rules.describe());
        }
        Ok(rules)
    }
}
