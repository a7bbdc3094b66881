//! The plugin ABI as the host sees it; mirrors `wasm/src/plugin.rs` (see `wasm/README.md`).

use wasmtime::{ExternType, Module, ValType};

use crate::Error;

/// The ABI version this host implements.
pub const ABI_VERSION: u32 = 1;

/// A wasm value type in an export's signature.
#[derive(Clone, Copy)]
enum Ty {
    I32,
    I64,
}

/// The function exports of the ABI: name, parameters, results, and the signature as the
/// README writes it.
const FUNCS: [(&str, &[Ty], &[Ty], &str); 4] = [
    ("abi_version", &[], &[Ty::I32], "func() -> i32"),
    ("alloc", &[Ty::I32], &[Ty::I32], "func(i32) -> i32"),
    ("dealloc", &[Ty::I32, Ty::I32], &[], "func(i32, i32)"),
    ("call", &[Ty::I32, Ty::I32, Ty::I32, Ty::I32], &[Ty::I64], "func(i32, i32, i32, i32) -> i64"),
];

/// Check that `module` imports nothing and exports the ABI with the right types.
pub(crate) fn validate(module: &Module) -> Result<(), Error> {
    if let Some(import) = module.imports().next() {
        return Err(Error::UnexpectedImport {
            module: import.module().to_owned(),
            name: import.name().to_owned(),
        });
    }
    match module.get_export("memory") {
        Some(ExternType::Memory(m)) if !m.is_64() && !m.is_shared() => {}
        _ => return Err(Error::MissingExport { name: "memory", expected: "a 32-bit memory" }),
    }
    for (name, params, results, expected) in FUNCS {
        let ok = match module.get_export(name) {
            Some(ExternType::Func(f)) => same(f.params(), params) && same(f.results(), results),
            _ => false,
        };
        if !ok {
            return Err(Error::MissingExport { name, expected });
        }
    }
    Ok(())
}

fn same(found: impl ExactSizeIterator<Item = ValType>, want: &[Ty]) -> bool {
    found.len() == want.len()
        && found.zip(want).all(|(f, w)| match w {
            Ty::I32 => matches!(f, ValType::I32),
            Ty::I64 => matches!(f, ValType::I64),
        })
}

/// Split `call`'s result into the output pointer and length.
pub(crate) fn unpack(packed: u64) -> (usize, usize) {
    let high = u32::try_from(packed >> 32).unwrap_or(u32::MAX);
    let low = u32::try_from(packed & 0xffff_ffff).unwrap_or(u32::MAX);
    (high as usize, low as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_splits_pointer_and_length() {
        assert_eq!(unpack(0x0000_0010_0000_0020), (0x10, 0x20));
        assert_eq!(unpack(u64::MAX), (0xffff_ffff, 0xffff_ffff));
    }
}
