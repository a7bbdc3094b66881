//! What bounds every call: a wall-clock deadline, a memory cap, and fuel when asked for.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine, ResourceLimiter};

use crate::Error;

/// The wall-clock deadline of each call unless [`crate::PluginBuilder::with_deadline`] says
/// otherwise: far above what a webhook batch or a 32,768-row fold needs (milliseconds), short
/// enough that a runaway call ends soon.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// Linear memory a call may use unless [`crate::PluginBuilder::with_memory_limit`] says
/// otherwise (256 MiB).
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// Table elements a plugin may have (Rust modules use a few dozen).
const TABLE_ELEMENT_LIMIT: usize = 100_000;

/// How often the epoch advances (one background thread per process).
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The limits of one plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Fuel per call, when the plugin is metered (its code is then compiled with a fuel
    /// counter, about a quarter slower).
    pub(crate) fuel: Option<u64>,
    pub(crate) memory: usize,
    pub(crate) deadline: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { fuel: None, memory: DEFAULT_MEMORY_LIMIT, deadline: DEFAULT_DEADLINE }
    }
}

impl Limits {
    /// Epoch ticks for the deadline: rounded up, plus one because the current tick is
    /// already partly over.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_nanos();
        u64::try_from(self.deadline.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX / 2) + 1
    }
}

/// The data of every store: the memory limiter of one call.
#[derive(Debug)]
pub(crate) struct Sandbox {
    pub(crate) limiter: Limiter,
}

/// Caps linear memory and remembers whether the cap was hit, so a trap that follows can be
/// reported as [`Error::MemoryLimit`].
#[derive(Debug)]
pub(crate) struct Limiter {
    max_memory: usize,
    pub(crate) hit: bool,
}

impl Limiter {
    pub(crate) fn new(max_memory: usize) -> Limiter {
        Limiter { max_memory, hit: false }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            // Trap at once rather than let `memory.grow` return -1: a guest that ignores the
            // failure cannot spin, and the report names the real cause.
            self.hit = true;
            return Err(wasmtime::Error::msg("memory limit reached"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENT_LIMIT)
    }
}

/// The engines of the process, shared by every plugin: epoch interruption always on (the
/// deadline), fuel metering only in the one for plugins given fuel.
pub(crate) fn engine(metered: bool) -> Result<&'static Engine, Error> {
    let engine = cell(metered)
        .get_or_init(|| {
            let mut config = Config::new();
            config.consume_fuel(metered).epoch_interruption(true);
            Engine::new(&config).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|message| Error::Compile { message: message.clone() })?;
    start_epoch_ticker()?;
    Ok(engine)
}

static PLAIN: OnceLock<Result<Engine, String>> = OnceLock::new();
static METERED: OnceLock<Result<Engine, String>> = OnceLock::new();

fn cell(metered: bool) -> &'static OnceLock<Result<Engine, String>> {
    if metered { &METERED } else { &PLAIN }
}

/// The engine, if it has been made.
fn engine_if_made(metered: bool) -> Option<&'static Engine> {
    cell(metered).get().and_then(|made| made.as_ref().ok())
}

/// Start the thread that advances both engines' epochs every [`EPOCH_TICK`] (once per
/// process). Without it no deadline would ever fire, so failing to start it fails the load.
fn start_epoch_ticker() -> Result<(), Error> {
    static TICKER: OnceLock<Result<(), String>> = OnceLock::new();
    TICKER
        .get_or_init(|| {
            std::thread::Builder::new()
                .name("mailstate-epoch".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(EPOCH_TICK);
                        for engine in
                            [engine_if_made(false), engine_if_made(true)].into_iter().flatten()
                        {
                            engine.increment_epoch();
                        }
                    }
                })
                .map(drop)
                .map_err(|e| format!("cannot start the deadline thread: {e}"))
        })
        .clone()
        .map_err(|message| Error::Compile { message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ticks_round_up_and_add_one() {
        let l = Limits { deadline: Duration::from_millis(12), ..Limits::default() };
        assert_eq!(l.deadline_ticks(), 4);
        let l = Limits { deadline: Duration::from_millis(10), ..Limits::default() };
        assert_eq!(l.deadline_ticks(), 3);
    }
}
