//! Reading canonical events from files or stdin, line by line, in bounded memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use mailstate_core::Event;

/// Open each path (`-` is stdin; no paths means stdin).
pub(crate) fn sources(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() { vec![PathBuf::from("-")] } else { paths.to_vec() }
}

pub(crate) fn open(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    if path == Path::new("-") {
        Ok(Box::new(BufReader::new(io::stdin())))
    } else {
        let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
    }
}

/// Read a whole file (or stdin) as bytes.
pub(crate) fn read_all(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    open(path)?.read_to_end(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(buf)
}

/// Call `each` for every valid canonical event in `paths`, in order. A bad line is reported on
/// stderr as `mailstate: FILE:LINE: message` and skipped. Returns how many lines were bad.
pub(crate) fn for_each_event(
    paths: &[PathBuf],
    mut each: impl FnMut(Event) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    for_each_line(paths, |text| match Event::from_json(text) {
        Ok(event) => each(event).map(|()| None),
        Err(e) => Ok(Some(e.to_string())),
    })
}

/// Call `each` with every non-blank line of `paths` (UTF-8, trimmed), in order. `each`
/// answers `Some(message)` for a bad line, which is reported on stderr as
/// `mailstate: FILE:LINE: message` and counted. Returns how many lines were bad.
pub(crate) fn for_each_line(
    paths: &[PathBuf],
    mut each: impl FnMut(&[u8]) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<u64> {
    let mut bad = 0;
    let mut line = Vec::new();
    for path in sources(paths) {
        let mut reader = open(&path)?;
        let name =
            if path == Path::new("-") { "<stdin>".into() } else { path.display().to_string() };
        let mut n = 0u64;
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("cannot read {name}"))?;
            if read == 0 {
                break;
            }
            n += 1;
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let problem = if std::str::from_utf8(text).is_err() {
                Some("line is not valid utf-8".to_owned())
            } else {
                each(text)?
            };
            if let Some(msg) = problem {
                bad += 1;
                eprintln!("mailstate: {name}:{n}: {msg}");
            }
        }
    }
    Ok(bad)
}

/// A policy from a JSON file, or the default when no file is given.
pub(crate) fn policy<T: Default>(
    path: Option<&Path>,
    parse: fn(&[u8]) -> Result<T, mailstate_core::Error>,
) -> anyhow::Result<T> {
    let Some(p) = path else { return Ok(T::default()) };
    let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
    parse(&bytes).with_context(|| format!("in {}", p.display()))
}
