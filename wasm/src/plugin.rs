//! The plugin surface: a plain core wasm module with no imports and a small, versioned ABI.
//!
//! See `wasm/README.md` for the ABI as a host sees it. In short (all integers are wasm `i32`
//! unless noted, pointers are offsets into the exported `memory`):
//!
//! - `abi_version() -> i32`: [`ABI_VERSION`]; a host refuses any other value.
//! - `alloc(len) -> ptr`: `len` bytes the host may write into (a dangling, non-zero pointer
//!   for `len == 0`).
//! - `dealloc(ptr, len)`: free a buffer from `alloc` or from `call`'s output.
//! - `call(op_ptr, op_len, in_ptr, in_len) -> i64`: run `op` (UTF-8) on the input bytes; the
//!   result is `ptr << 32 | len` of the output envelope, which the host frees with `dealloc`.
//!   The op and input buffers stay the host's; it frees them (or drops the instance).
//!
//! JSON ops answer with the envelope of `mailstate_core::wire::call`, binary ops (`batch.*`)
//! with that of `mailstate_core::wire::call_binary`; no rule lives here.
//!
//! The exports exist only when compiling for wasm32, so the crate still builds (and this
//! module's logic is tested) natively.

#![cfg_attr(
    not(target_arch = "wasm32"),
    expect(dead_code, reason = "the exports that use these items exist on wasm32 only")
)]

/// The version of the plugin ABI (the exports and their meaning, not the rules). A host must
/// refuse a plugin whose `abi_version()` differs from the one it was written for.
pub(crate) const ABI_VERSION: u32 = 1;

/// Run one op: JSON ops through `wire::call`, binary ops through `wire::call_binary`. An op
/// name that is not UTF-8 is an unknown op.
pub(crate) fn run(op: &[u8], input: &[u8]) -> Vec<u8> {
    let op = std::str::from_utf8(op).unwrap_or("\u{fffd}");
    if mailstate_core::wire::is_binary(op) {
        mailstate_core::wire::call_binary(op, input)
    } else {
        mailstate_core::wire::call(op, input)
    }
}

/// Pack an output pointer and length into the `i64` that `call` returns.
pub(crate) fn pack(ptr: u32, len: u32) -> u64 {
    (u64::from(ptr) << 32) | u64::from(len)
}

#[cfg(target_arch = "wasm32")]
mod exports {
    // The ABI hands raw pointers across the wasm boundary; this module is the one place in the
    // workspace where that needs `unsafe`.
    #![allow(unsafe_code, reason = "the plugin ABI passes raw pointers into linear memory")]

    use std::alloc::{Layout, alloc as raw_alloc, dealloc as raw_dealloc};
    use std::ptr::NonNull;

    use super::{ABI_VERSION, pack, run};

    #[unsafe(no_mangle)]
    extern "C" fn abi_version() -> u32 {
        ABI_VERSION
    }

    /// Allocate `len` bytes with alignment 1. Aborts (a trap) when memory is exhausted.
    #[unsafe(no_mangle)]
    extern "C" fn alloc(len: u32) -> *mut u8 {
        let len = len as usize;
        if len == 0 {
            return NonNull::<u8>::dangling().as_ptr();
        }
        let Ok(layout) = Layout::array::<u8>(len) else { std::process::abort() };
        // SAFETY: `layout` has a non-zero size (checked above), as `alloc` requires.
        let ptr = unsafe { raw_alloc(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        ptr
    }

    /// Free `len` bytes at `ptr`, from `alloc(len)` or from a `call` output of length `len`.
    #[unsafe(no_mangle)]
    extern "C" fn dealloc(ptr: *mut u8, len: u32) {
        let len = len as usize;
        if len == 0 || ptr.is_null() {
            return;
        }
        let Ok(layout) = Layout::array::<u8>(len) else { return };
        // SAFETY: the ABI requires `ptr` to come from `alloc(len)` or to be a `call` output of
        // length `len`; both were allocated by the global allocator with exactly this layout
        // (outputs are boxed slices, whose layout is `[u8; len]`), and are freed once.
        unsafe { raw_dealloc(ptr, layout) }
    }

    /// Run `op` on the input and return the packed output pointer and length.
    #[unsafe(no_mangle)]
    extern "C" fn call(op_ptr: *const u8, op_len: u32, in_ptr: *const u8, in_len: u32) -> u64 {
        // SAFETY: the ABI requires the host to have written `op_len` bytes at `op_ptr`, in a
        // buffer from `alloc(op_len)` that it does not touch until `call` returns.
        let op = unsafe { bytes(op_ptr, op_len) };
        // SAFETY: as above, for the input buffer.
        let input = unsafe { bytes(in_ptr, in_len) };
        let out = run(op, input).into_boxed_slice();
        // wasm32 pointers and lengths are 32 bits, so these conversions never saturate.
        let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let ptr = u32::try_from(Box::into_raw(out).cast::<u8>() as usize).unwrap_or(u32::MAX);
        pack(ptr, len)
    }

    /// A byte slice from the ABI's (pointer, length) pair; empty for a zero length.
    ///
    /// # Safety
    /// When `len > 0`, `ptr` must point to `len` initialized bytes that stay valid and
    /// unchanged for the returned lifetime.
    unsafe fn bytes<'a>(ptr: *const u8, len: u32) -> &'a [u8] {
        if len == 0 || ptr.is_null() {
            return &[];
        }
        // SAFETY: guaranteed by this function's contract.
        unsafe { std::slice::from_raw_parts(ptr, len as usize) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ops_answer_exactly_as_wire_call() {
        let input = br#"{"events":[]}"#;
        assert_eq!(run(b"reduce", input), mailstate_core::wire::call("reduce", input));
    }

    #[test]
    fn binary_ops_answer_exactly_as_wire_call_binary() {
        let input = mailstate_core::batch::EventBatch::new(2).encode();
        let out = run(b"batch.fold", &input);
        assert_eq!(out, mailstate_core::wire::call_binary("batch.fold", &input));
        assert_eq!(out[0], 0);
    }

    #[test]
    fn an_op_name_that_is_not_utf8_is_an_unknown_op() {
        let out = String::from_utf8(run(b"\xff", b"{}")).unwrap();
        assert!(out.contains("unknown_op"), "{out}");
    }

    #[test]
    fn pack_puts_the_pointer_high_and_the_length_low() {
        assert_eq!(pack(0x10, 0x20), 0x0000_0010_0000_0020);
        assert_eq!(pack(u32::MAX, 1) >> 32, u64::from(u32::MAX));
    }
}
