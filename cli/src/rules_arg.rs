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
    /// first 12 hex digits of its SHA-256, and whether its compiled code came from the cache.
    #[arg(long, short)]
    verbose: bool,
    /// Compile the plugin afresh and keep nothing. By default the compiled plugin is kept in
    /// $MAILSTATE_CACHE_DIR/plugins (else $XDG_CACHE_HOME/mailstate/plugins, else
    /// ~/.cache/mailstate/plugins), keyed by its SHA-256, so later runs skip the compile.
    #[arg(long)]
    no_plugin_cache: bool,
}

/// The folder compiled plugins are kept in, when there is a home for it.
fn plugin_cache_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = non_empty("MAILSTATE_CACHE_DIR")
        .or_else(|| non_empty("XDG_CACHE_HOME").map(|d| d.join("mailstate")))
        .or_else(|| non_empty("HOME").map(|d| d.join(".cache").join("mailstate")))?;
    Some(base.join("plugins"))
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
            Some(path) => {
                let mut builder = mailstate_host::Plugin::builder();
                let cache = if self.no_plugin_cache { None } else { plugin_cache_dir() };
                if let Some(dir) = &cache {
                    builder = builder.with_cache_dir(dir);
                }
                SqlRules::plugin_with(builder, path)
                    .with_context(|| format!("cannot load the rules plugin {}", path.display()))?
            }
        };
        if self.verbose {
            eprintln!("mailstate: rules: {}", rules.describe());
            if !rules.is_native() {
                let how =
                    if rules.plugin_from_cache() { "read from the cache" } else { "compiled" };
                eprintln!("mailstate: plugin code {how}");
            }
        }
        Ok(rules)
    }
}
