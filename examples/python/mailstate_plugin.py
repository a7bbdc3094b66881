"""Load mailstate's rules plugin with the `wasmtime` PyPI package.

The plugin is a plain core wasm module with no imports (ABI v1, see wasm/README.md):
`abi_version`, `alloc`, `dealloc` and `call(op_ptr, op_len, in_ptr, in_len) -> ptr << 32 | len`.
Every answer is the same bytes the Rust rules give natively.

    from mailstate_plugin import Plugin
    rules = Plugin()                       # wasm/dist/mailstate_plugin.wasm
    rules.normalize("ndjson", body)        # -> {"events": [...], "errors": [...], "control": ...}

Each call into wasm costs tens of microseconds of ctypes overhead in Python, so hand the plugin
whole payloads or batches, not single fields.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional

import wasmtime

ABI_VERSION = 1
DEFAULT_PLUGIN = Path(__file__).resolve().parents[2] / "wasm" / "dist" / "mailstate_plugin.wasm"
DEFAULT_FUEL = 2_000_000_000
DEFAULT_MEMORY_LIMIT = 256 << 20


class PluginError(Exception):
    """The rules refused the input: `code` is the stable error code (`invalid_json`, ...)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SandboxError(Exception):
    """The plugin could not run the call: a trap, exhausted fuel, the memory limit, a bad ABI."""


def plugin_path() -> Path:
    """Where the plugin is: $MAILSTATE_PLUGIN, or the output of scripts/build-wasm.sh."""
    return Path(os.environ.get("MAILSTATE_PLUGIN", DEFAULT_PLUGIN))


class Plugin:
    """One loaded plugin: the module is compiled once; an instance is reused between calls
    (and replaced after a trap, so a failed call never leaks state into the next one)."""

    def __init__(self, path: Optional[os.PathLike] = None, *, fuel: int = DEFAULT_FUEL,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT):
        path = Path(path) if path is not None else plugin_path()
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: build the plugin with scripts/build-wasm.sh "
                "(or point MAILSTATE_PLUGIN at one)")
        config = wasmtime.Config()
        config.consume_fuel = True
        self._engine = wasmtime.Engine(config)
        self._module = wasmtime.Module.from_file(self._engine, str(path))
        if list(self._module.imports):
            raise SandboxError("the plugin must import nothing")
        self._fuel = fuel
        self._memory_limit = memory_limit
        self._instantiate()
        self._store.set_fuel(self._fuel)
        found = self._abi_version(self._store)
        if found != ABI_VERSION:
            raise SandboxError(f"plugin abi version {found}, expected {ABI_VERSION}")

    def _instantiate(self) -> None:
        self._store = wasmtime.Store(self._engine)
        self._store.set_limits(memory_size=self._memory_limit)
        instance = wasmtime.Instance(self._store, self._module, [])
        exports = instance.exports(self._store)
        try:
            self._memory = exports["memory"]
            self._abi_version = exports["abi_version"]
            self._alloc = exports["alloc"]
            self._dealloc = exports["dealloc"]
            self._call = exports["call"]
        except KeyError as missing:
            raise SandboxError(f"the plugin does not export {missing}") from None

    def call(self, op: str, data: bytes) -> bytes:
        """Run `op` on `data` and return the envelope bytes exactly as the plugin wrote them."""
        store = self._store
        store.set_fuel(self._fuel)
        op_bytes = op.encode()
        try:
            op_ptr = self._put(op_bytes)
            in_ptr = self._put(data)
            packed = self._call(store, op_ptr, len(op_bytes), in_ptr, len(data))
            packed &= (1 << 64) - 1  # wasm i64 arrives signed
            out_ptr, out_len = packed >> 32, packed & 0xFFFFFFFF
            out = bytes(self._memory.read(store, out_ptr, out_ptr + out_len))
            self._dealloc(store, out_ptr, out_len)
            self._dealloc(store, op_ptr, len(op_bytes))
            self._dealloc(store, in_ptr, len(data))
            return out
        except (wasmtime.Trap, wasmtime.WasmtimeError) as trap:
            self._instantiate()
            code = getattr(trap, "trap_code", None)
            if code == wasmtime.TrapCode.OUT_OF_FUEL:
                raise SandboxError(f"out of fuel after {self._fuel} units") from trap
            raise SandboxError(f"plugin trapped: {trap}") from trap

    def _put(self, data: bytes) -> int:
        ptr = self._alloc(self._store, len(data))
        if data:
            self._memory.write(self._store, data, ptr)
        return ptr

    def call_json(self, op: str, input_value: Any) -> Any:
        """Run a JSON op; return its `output`, or raise PluginError with the rules' error."""
        envelope = json.loads(self.call(op, json.dumps(input_value).encode()))
        if "error" in envelope:
            raise PluginError(envelope["error"]["code"], envelope["error"]["message"])
        return envelope["output"]

    def normalize(self, provider: str, body: bytes | str,
                  headers: Optional[Mapping[str, str]] = None) -> Any:
        """Normalize one payload exactly as received: events, per-element errors, control."""
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                import base64
                return self.call_json("normalize", {
                    "provider": provider, "headers": dict(headers or {}),
                    "body_base64": base64.b64encode(body).decode()})
        return self.call_json("normalize", {
            "provider": provider, "headers": dict(headers or {}), "body": body})

    def reduce(self, events: list) -> list:
        """The state of each (message_id, recipient) group of canonical events."""
        return self.call_json("reduce", {"events": events})
