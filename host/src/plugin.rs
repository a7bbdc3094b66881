//! A loaded plugin: compiled once, called in instances that are reused only after calls that
//! ended cleanly.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::{Engine, InstancePre, Linker, Memory, Store, Trap, TypedFunc};

use crate::Error;
use crate::abi::{self, ABI_VERSION};
use crate::limits::{self, Limiter, Limits, Sandbox};

/// The rules plugin, loaded and validated, ready to be called from any thread.
///
/// Cloning is cheap (the compiled module and its idle instances are shared). Each call is
/// bounded by its own fuel, an optional deadline and a memory cap. An instance is used again
/// only after a call that ended cleanly, with the call's buffers freed (the rules keep no state
/// between calls); one that trapped, ran out of fuel or time, hit the memory cap or answered
/// garbage is dropped, so a failure in one call cannot affect another. Reuse matters: a fresh
/// instance per call cost about 55 µs and a page fault for every page the call touched.
///
/// It implements [`mailstate_core::Rules`], the interface of the native rules, so code
/// written against `Rules` runs the plugin unchanged.
///
/// # Example
/// ```no_run
/// use mailstate_core::{Headers, Payload, Provider, Rules};
/// use mailstate_host::Plugin;
///
/// let rules = Plugin::builder().with_memory_limit(64 << 20).load_file("wasm/dist/mailstate_plugin.wasm")?;
/// let body = br#"{"event_key":"ses:1","provider":"ses","type":"delivered","provider_type":"Delivery"}"#;
/// let out = rules.normalize(Provider::Ndjson, Payload { body, headers: &Headers::new() })?;
/// assert_eq!(out.events.len(), 1);
/// # Ok::<(), mailstate_host::Error>(())
/// ```
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

struct Inner {
    engine: &'static Engine,
    pre: InstancePre<Sandbox>,
    limits: Limits,
    /// Whether the compiled code came from the cache folder (no compile was paid).
    from_cache: bool,
    /// Instances between calls, ready for the next one.
    idle: Mutex<Vec<Warm>>,
}

/// How many idle instances a plugin keeps (calls come from a few threads at once).
const IDLE_INSTANCES: usize = 8;

/// An instance whose memory grew past this is dropped after its call instead of kept.
const IDLE_MEMORY: usize = 64 << 20;

/// An instance with the exports a call needs.
struct Warm {
    store: Store<Sandbox>,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    call: TypedFunc<(u32, u32, u32, u32), u64>,
    memory: Memory,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin").field("limits", &self.inner.limits).finish_non_exhaustive()
    }
}

/// Options for loading a [`Plugin`]; start from [`Plugin::builder`].
#[derive(Clone, Debug, Default)]
pub struct PluginBuilder {
    limits: Limits,
    cache_dir: Option<PathBuf>,
}

impl PluginBuilder {
    /// Meter each call with `fuel` (roughly, wasm instructions): a bound that does not depend on
    /// the machine's speed or load, at the price of code about a quarter slower (the plugin is
    /// then compiled with a fuel counter). Off by default: the deadline bounds every call.
    #[must_use]
    pub fn with_fuel(mut self, fuel: u64) -> PluginBuilder {
        self.limits.fuel = Some(fuel);
        self
    }

    /// The most linear memory, in bytes, one call may use; [`crate::DEFAULT_MEMORY_LIMIT`] by
    /// default. Rounded down to whole 64 KiB pages by the engine.
    #[must_use]
    pub fn with_memory_limit(mut self, bytes: usize) -> PluginBuilder {
        self.limits.memory = bytes;
        self
    }

    /// The wall-clock deadline of each call; [`crate::DEFAULT_DEADLINE`] by default.
    ///
    /// The deadline is checked at epoch ticks of a few milliseconds, so a call may run up to
    /// one tick past it. The first plugin loaded starts one background thread per process that
    /// advances the epoch.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> PluginBuilder {
        self.limits.deadline = deadline;
        self
    }

    /// Keep compiled plugins in `dir`, so that loading the same plugin again (in this or a
    /// later process) pays no compile: about 1.4 s for the rules plugin, against a few
    /// milliseconds to read it back.
    ///
    /// A compiled plugin is stored under the SHA-256 of its wasm bytes and a hash of the
    /// engine's settings and wasmtime version, followed by the SHA-256 of the compiled bytes,
    /// which is checked before they are used: a cached file that is damaged, or written by
    /// another wasmtime, is compiled afresh and replaced. The folder is created when needed;
    /// failing to write to it only costs the next load its compile.
    ///
    /// Compiled code read from `dir` runs as trusted native code, so `dir` must be writable
    /// only by the user who runs the plugin (a per-user cache folder), as with wasmtime's own
    /// cache.
    #[must_use]
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> PluginBuilder {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Compile and validate a plugin from wasm bytes.
    ///
    /// # Errors
    /// [`Error::Compile`] when the bytes are not a valid module; [`Error::UnexpectedImport`],
    /// [`Error::MissingExport`] or [`Error::AbiMismatch`] when it is not a rules plugin of
    /// this ABI version; a sandbox error when `abi_version()` itself fails.
    pub fn load(self, wasm: &[u8]) -> Result<Plugin, Error> {
        let engine = limits::engine(self.limits.fuel.is_some())?;
        let (module, from_cache) = match &self.cache_dir {
            Some(dir) => cache::load_or_compile(engine, wasm, dir)?,
            None => (cache::compile(engine, wasm)?, false),
        };
        abi::validate(&module)?;
        let pre = Linker::new(engine)
            .instantiate_pre(&module)
            .map_err(|e| Error::Compile { message: chain(&e) })?;
        let inner =
            Inner { engine, pre, limits: self.limits, from_cache, idle: Mutex::new(Vec::new()) };
        let plugin = Plugin { inner: Arc::new(inner) };
        let found = plugin.abi_version()?;
        if found != ABI_VERSION {
            return Err(Error::AbiMismatch { expected: ABI_VERSION, found });
        }
        Ok(plugin)
    }

    /// Read, compile and validate a plugin file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, then as [`PluginBuilder::load`].
    pub fn load_file(self, path: impl AsRef<Path>) -> Result<Plugin, Error> {
        let path = path.as_ref();
        let wasm = std::fs::read(path)
            .map_err(|e| Error::Io { path: path.to_owned(), message: e.to_string() })?;
        self.load(&wasm)
    }
}

impl Plugin {
    /// Options for loading a plugin (fuel, memory limit, deadline).
    pub fn builder() -> PluginBuilder {
        PluginBuilder::default()
    }

    /// Load a plugin file with the default limits.
    ///
    /// # Errors
    /// As [`PluginBuilder::load_file`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Plugin, Error> {
        Plugin::builder().load_file(path)
    }

    /// Whether this plugin's compiled code was read from the cache folder
    /// ([`PluginBuilder::with_cache_dir`]) rather than compiled by this load.
    pub fn from_cache(&self) -> bool {
        self.inner.from_cache
    }

    /// The plugin's `abi_version()`.
    ///
    /// # Errors
    /// A sandbox error when the call fails.
    pub fn abi_version(&self) -> Result<u32, Error> {
        let mut store = self.store()?;
        let instance =
            self.inner.pre.instantiate(&mut store).map_err(|e| self.classify(&store, &e))?;
        let f = instance
            .get_typed_func::<(), u32>(&mut store, "abi_version")
            .map_err(|_| Error::MissingExport { name: "abi_version", expected: "func() -> i32" })?;
        f.call(&mut store, ()).map_err(|e| self.classify(&store, &e))
    }

    /// Run `op` on `input` and return the output envelope bytes.
    ///
    /// JSON ops answer with the envelope of [`mailstate_core::wire::call`], binary ops
    /// (`batch.*`) with that of [`mailstate_core::wire::call_binary`], byte for byte.
    ///
    /// # Errors
    /// A sandbox error: [`Error::OutOfFuel`], [`Error::Deadline`], [`Error::MemoryLimit`],
    /// [`Error::Trap`] or [`Error::InvalidOutput`]. The rules' own errors are inside the
    /// envelope, not here.
    pub fn call(&self, op: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        let idle = self.inner.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut warm = match idle {
            Some(warm) => warm,
            None => self.instantiate()?,
        };
        // Every call gets its own bounds, on a kept instance as on a new one (whose
        // instantiation ran under bounds of its own).
        self.arm(&mut warm.store)?;
        match Plugin::run(&mut warm, op, input) {
            Ok((out, clean)) => {
                if clean && warm.memory.data_size(&warm.store) <= IDLE_MEMORY {
                    self.keep(warm);
                }
                Ok(out)
            }
            Err(Fault::Wasm(e)) => Err(self.classify(&warm.store, &e)),
            Err(Fault::Host(e)) => Err(e),
        }
    }

    /// Put an instance back for a later call (or drop it when enough are idle).
    fn keep(&self, warm: Warm) {
        if let Ok(mut idle) = self.inner.idle.lock()
            && idle.len() < IDLE_INSTANCES
        {
            idle.push(warm);
        }
    }

    /// A new store, armed for its first run.
    fn store(&self) -> Result<Store<Sandbox>, Error> {
        let limits = &self.inner.limits;
        let mut store =
            Store::new(self.inner.engine, Sandbox { limiter: Limiter::new(limits.memory) });
        store.limiter(|s| &mut s.limiter);
        self.arm(&mut store)?;
        Ok(store)
    }

    /// Give `store` the plugin's bounds afresh: full fuel (when metered), a new deadline, and a
    /// memory limiter that has not been hit.
    fn arm(&self, store: &mut Store<Sandbox>) -> Result<(), Error> {
        let limits = &self.inner.limits;
        store.data_mut().limiter.hit = false;
        if let Some(fuel) = limits.fuel {
            store.set_fuel(fuel).map_err(|e| Error::Trap { message: chain(&e) })?;
        }
        store.set_epoch_deadline(limits.deadline_ticks());
        Ok(())
    }

    /// A new instance with its exports.
    fn instantiate(&self) -> Result<Warm, Error> {
        let mut store = self.store()?;
        let instance =
            self.inner.pre.instantiate(&mut store).map_err(|e| self.classify(&store, &e))?;
        let missing = |name, expected| move |_| Error::MissingExport { name, expected };
        let alloc = instance
            .get_typed_func::<u32, u32>(&mut store, "alloc")
            .map_err(missing("alloc", "func(i32) -> i32"))?;
        let dealloc = instance
            .get_typed_func::<(u32, u32), ()>(&mut store, "dealloc")
            .map_err(missing("dealloc", "func(i32, i32)"))?;
        let call = instance
            .get_typed_func::<(u32, u32, u32, u32), u64>(&mut store, "call")
            .map_err(missing("call", "func(i32, i32, i32, i32) -> i64"))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or(Error::MissingExport { name: "memory", expected: "a 32-bit memory" })?;
        Ok(Warm { store, alloc, dealloc, call, memory })
    }

    /// One call on `warm`: its output, and whether every buffer of the call was freed (only
    /// then is the instance fit to keep).
    fn run(warm: &mut Warm, op: &str, input: &[u8]) -> Result<(Vec<u8>, bool), Fault> {
        let Warm { store, alloc, dealloc, call, memory } = warm;
        let put = |store: &mut Store<Sandbox>, bytes: &[u8]| -> Result<(u32, u32), Fault> {
            let len = u32::try_from(bytes.len()).map_err(|_| Error::Guest {
                code: "too_large".into(),
                message: format!("input of {} bytes does not fit a wasm32 plugin", bytes.len()),
            })?;
            let ptr = alloc.call(&mut *store, len)?;
            memory
                .write(&mut *store, ptr as usize, bytes)
                .map_err(|_| invalid("alloc returned a buffer outside memory"))?;
            Ok((ptr, len))
        };
        let (op_ptr, op_len) = put(store, op.as_bytes())?;
        let (in_ptr, in_len) = put(store, input)?;
        let packed = call.call(&mut *store, (op_ptr, op_len, in_ptr, in_len))?;
        let (ptr, len) = abi::unpack(packed);
        let out = memory
            .data(&*store)
            .get(ptr..ptr.saturating_add(len))
            .ok_or_else(|| invalid("call returned an output outside memory"))?
            .to_vec();
        // The output is ours now; the instance is kept only if the guest frees all three.
        let freed = [(op_ptr, op_len), (in_ptr, in_len)]
            .into_iter()
            .chain(u32::try_from(ptr).ok().zip(u32::try_from(len).ok()))
            .all(|buffer| dealloc.call(&mut *store, buffer).is_ok());
        Ok((out, freed && u32::try_from(ptr).is_ok() && u32::try_from(len).is_ok()))
    }

    /// Turn an engine error into the sandbox error that explains it.
    fn classify(&self, store: &Store<Sandbox>, e: &wasmtime::Error) -> Error {
        let limits = &self.inner.limits;
        if store.data().limiter.hit {
            return Error::MemoryLimit { limit: limits.memory };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Error::OutOfFuel { fuel: limits.fuel.unwrap_or_default() },
            Some(Trap::Interrupt) => Error::Deadline { deadline: limits.deadline },
            _ => Error::Trap { message: chain(e) },
        }
    }
}

impl mailstate_core::Rules for Plugin {
    type Error = Error;

    fn call(&self, op: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        Plugin::call(self, op, input)
    }

    fn call_binary(&self, op: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        Plugin::call(self, op, input)
    }
}

/// A failure inside [`Plugin::run`]: from the engine (classified later, with the store), or
/// already one of ours.
enum Fault {
    Wasm(wasmtime::Error),
    Host(Error),
}

impl From<wasmtime::Error> for Fault {
    fn from(e: wasmtime::Error) -> Fault {
        Fault::Wasm(e)
    }
}

impl From<Error> for Fault {
    fn from(e: Error) -> Fault {
        Fault::Host(e)
    }
}

fn invalid(message: &str) -> Error {
    Error::InvalidOutput { message: message.to_owned() }
}

/// Compiled plugins kept on disk (see [`PluginBuilder::with_cache_dir`]).
mod cache {
    use std::hash::{DefaultHasher, Hash, Hasher};
    use std::path::{Path, PathBuf};

    use sha2::{Digest, Sha256};
    use wasmtime::{Engine, Module};

    use super::chain;
    use crate::Error;

    /// Compile `wasm` for `engine`.
    pub(super) fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module, Error> {
        Module::new(engine, wasm).map_err(|e| Error::Compile { message: chain(&e) })
    }

    /// The cached module for `wasm` in `dir` when there is a sound one (and `true`), else a
    /// fresh compile, stored for next time (and `false`).
    pub(super) fn load_or_compile(
        engine: &Engine,
        wasm: &[u8],
        dir: &Path,
    ) -> Result<(Module, bool), Error> {
        let path = entry(engine, wasm, dir);
        if let Some(module) = read(engine, &path) {
            return Ok((module, true));
        }
        let module = compile(engine, wasm)?;
        if let Ok(bytes) = module.serialize() {
            // Best effort: a cache that cannot be written costs the next load a compile.
            write(dir, &path, &bytes).ok();
        }
        Ok((module, false))
    }

    /// `DIR/<sha256 of the wasm>-<engine hash>.cwasm`.
    fn entry(engine: &Engine, wasm: &[u8], dir: &Path) -> PathBuf {
        // DefaultHasher is not stable across Rust releases; a change only makes a new entry.
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let wasm_hash = mailstate_core::encoding::encode_hex(&Sha256::digest(wasm));
        dir.join(format!("{wasm_hash}-{:016x}.cwasm", h.finish()))
    }

    /// The module stored at `path`, if the file is there, whole, and loads in `engine`.
    fn read(engine: &Engine, path: &Path) -> Option<Module> {
        let bytes = std::fs::read(path).ok()?;
        let (code, digest) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
        if Sha256::digest(code).as_slice() != digest {
            return None;
        }
        // SAFETY: `Module::deserialize` requires bytes produced by `Module::serialize` of a
        // compatible engine. These are: the file was written by `write` below from
        // `Module::serialize`, its trailing SHA-256 matches (no truncation or damage), its
        // name carries the engine's compatibility hash, and wasmtime itself checks the
        // header's version and settings and refuses a mismatch (we then compile afresh). The
        // folder is the caller's own cache (see `with_cache_dir`), trusted as wasmtime's
        // cache is.
        #[expect(unsafe_code, reason = "reading back a module this host serialized")]
        let module = unsafe { Module::deserialize(engine, code) };
        module.ok()
    }

    /// Store `code` and its SHA-256 at `path`, atomically (a temporary file, then a rename).
    fn write(dir: &Path, path: &Path, code: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut bytes = Vec::with_capacity(code.len() + 32);
        bytes.extend_from_slice(code);
        bytes.extend_from_slice(&Sha256::digest(code));
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            std::fs::remove_file(&tmp).ok();
        })
    }
}

/// An engine error with its causes, `outer: inner: root`.
fn chain(e: &wasmtime::Error) -> String {
    e.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
