//! What bounds every call: fuel, an optional wall-clock deadline, and a memory cap.

use std::sync::{Once, OnceLock};
use std::time::Duration;

use wasmtime::{Config, Engine, ResourceLimiter};

use crate::Error;

/// Fuel each call gets unless [`crate::PluginBuilder::with_fuel`] says otherwise: about
/// a second or two of guest execution on a current machine, far above what a webhook batch
/// or an 8,192-row fold needs.
pub const DEFAULT_FUEL: u64 = 2_000_000_000;

/// Linear memory a call may use unless [`crate::PluginBuilder::with_memory_limit`] says
/// otherwise (256 MiB).
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// Table elements a plugin may have (Rust modules use a few dozen).
const TABLE_ELEMENT_LIMIT: usize = 100_000;

/// How often the epoch advances once some plugin has a deadline.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The limits of one plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) fuel: u64,
    pub(crate) memory: usize,
    pub(crate) deadline: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { fuel: DEFAULT_FUEL, memory: DEFAULT_MEMORY_LIMIT, deadline: None }
    }
}

impl Limits {
    /// Epoch ticks for the deadline: rounded up, plus one because the current tick is
    /// already partly over.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        match self.deadline {
            None => u64::MAX / 2,
            Some(d) => {
                let tick = EPOCH_TICK.as_nanos();
                u64::try_from(d.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX / 2) + 1
            }
        }
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

/// The one engine of the process: fuel and epoch interruption on, shared by every plugin.
pub(crate) fn engine() -> Result<&'static Engine, Error> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.consume_fuel(true).epoch_interruption(true);
            Engine::new(&config).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|message| Error::Compile { message: message.clone() })
}

/// Start the thread that advances the engine's epoch every [`EPOCH_TICK`] (once per process,
/// and only when a plugin has a deadline).
pub(crate) fn start_epoch_ticker(engine: &'static Engine) {
    static TICKER: Once = Once::new();
    TICKER.call_once(|| {
        std::thread::Builder::new()
            .name("mailstate-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map(drop)
            .unwrap_or_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ticks_round_up_and_add_one() {
        let l = Limits { deadline: Some(Duration::from_millis(12)), ..Limits::default() };
        assert_eq!(l.deadline_ticks(), 4);
        let l = Limits { deadline: Some(Duration::from_millis(10)), ..Limits::default() };
        assert_eq!(l.deadline_ticks(), 3);
    }
}
