//! A loaded plugin: compiled once, instantiated fresh for every call.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Engine, InstancePre, Linker, Module, Store, Trap};

use crate::Error;
use crate::abi::{self, ABI_VERSION};
use crate::limits::{self, Limiter, Limits, Sandbox};

/// The rules plugin, loaded and validated, ready to be called from any thread.
///
/// Cloning is cheap (the compiled module is shared). Every call runs in a fresh store and
/// instance, so no state leaks from one call to the next and a trap in one call cannot
/// affect another; each call is bounded by fuel, an optional deadline and a memory cap.
///
/// It implements [`mailstate_core::Rules`], the interface of the native rules, so code
/// written against `Rules` runs the plugin unchanged.
///
/// # Example
/// ```no_run
/// use mailstate_core::{Headers, Payload, Provider, Rules};
/// use mailstate_host::Plugin;
///
/// let rules = Plugin::builder().with_fuel(500_000_000).load_file("wasm/dist/mailstate_plugin.wasm")?;
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
}

impl PluginBuilder {
    /// Fuel (roughly, wasm instructions) each call may use; [`crate::DEFAULT_FUEL`] by default.
    #[must_use]
    pub fn with_fuel(mut self, fuel: u64) -> PluginBuilder {
        self.limits.fuel = fuel;
        self
    }

    /// The most linear memory, in bytes, one call may use; [`crate::DEFAULT_MEMORY_LIMIT`] by
    /// default. Rounded down to whole 64 KiB pages by the engine.
    #[must_use]
    pub fn with_memory_limit(mut self, bytes: usize) -> PluginBuilder {
        self.limits.memory = bytes;
        self
    }

    /// A wall-clock deadline for each call, on top of fuel; none by default.
    ///
    /// The deadline is checked at epoch ticks of a few milliseconds, so a call may run up to
    /// one tick past it. The first plugin with a deadline starts one background thread per
    /// process that advances the epoch.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> PluginBuilder {
        self.limits.deadline = Some(deadline);
        self
    }

    /// Compile and validate a plugin from wasm bytes.
    ///
    /// # Errors
    /// [`Error::Compile`] when the bytes are not a valid module; [`Error::UnexpectedImport`],
    /// [`Error::MissingExport`] or [`Error::AbiMismatch`] when it is not a rules plugin of
    /// this ABI version; a sandbox error when `abi_version()` itself fails.
    pub fn load(self, wasm: &[u8]) -> Result<Plugin, Error> {
        let engine = limits::engine()?;
        let module =
            Module::new(engine, wasm).map_err(|e| Error::Compile { message: chain(&e) })?;
        abi::validate(&module)?;
        let pre = Linker::new(engine)
            .instantiate_pre(&module)
            .map_err(|e| Error::Compile { message: chain(&e) })?;
        if self.limits.deadline.is_some() {
            limits::start_epoch_ticker(engine);
        }
        let plugin = Plugin { inner: Arc::new(Inner { engine, pre, limits: self.limits }) };
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

    /// Run `op` on `input` in a fresh instance and return the output envelope bytes.
    ///
    /// JSON ops answer with the envelope of [`mailstate_core::wire::call`], binary ops
    /// (`batch.*`) with that of [`mailstate_core::wire::call_binary`], byte for byte.
    ///
    /// # Errors
    /// A sandbox error: [`Error::OutOfFuel`], [`Error::Deadline`], [`Error::MemoryLimit`],
    /// [`Error::Trap`] or [`Error::InvalidOutput`]. The rules' own errors are inside the
    /// envelope, not here.
    pub fn call(&self, op: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        let mut store = self.store()?;
        self.run(&mut store, op, input).map_err(|e| match e {
            Fault::Wasm(e) => self.classify(&store, &e),
            Fault::Host(e) => e,
        })
    }

    fn store(&self) -> Result<Store<Sandbox>, Error> {
        let limits = &self.inner.limits;
        let mut store =
            Store::new(self.inner.engine, Sandbox { limiter: Limiter::new(limits.memory) });
        store.limiter(|s| &mut s.limiter);
        store.set_fuel(limits.fuel).map_err(|e| Error::Trap { message: chain(&e) })?;
        store.set_epoch_deadline(limits.deadline_ticks());
        Ok(store)
    }

    fn run(&self, store: &mut Store<Sandbox>, op: &str, input: &[u8]) -> Result<Vec<u8>, Fault> {
        let instance = self.inner.pre.instantiate(&mut *store)?;
        let alloc = instance.get_typed_func::<u32, u32>(&mut *store, "alloc")?;
        let call = instance.get_typed_func::<(u32, u32, u32, u32), u64>(&mut *store, "call")?;
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or(Error::MissingExport { name: "memory", expected: "a 32-bit memory" })?;
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
            .ok_or_else(|| invalid("call returned an output outside memory"))?;
        // No dealloc: the whole instance is dropped with the store.
        Ok(out.to_vec())
    }

    /// Turn an engine error into the sandbox error that explains it.
    fn classify(&self, store: &Store<Sandbox>, e: &wasmtime::Error) -> Error {
        let limits = &self.inner.limits;
        if store.data().limiter.hit {
            return Error::MemoryLimit { limit: limits.memory };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Error::OutOfFuel { fuel: limits.fuel },
            Some(Trap::Interrupt) => {
                Error::Deadline { deadline: limits.deadline.unwrap_or_default() }
            }
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

/// An engine error with its causes, `outer: inner: root`.
fn chain(e: &wasmtime::Error) -> String {
    e.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
