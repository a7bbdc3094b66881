//! One line on stderr per event that matters: Ballista's and mailstate's messages at `info`
//! and above (started, registered, task started and done, executor lost), every other crate's
//! at `warn` and above.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The logger of a cluster process; `role` starts every line (`scheduler`, `executor`).
struct Lines {
    role: &'static str,
}

impl Lines {
    fn wanted(target: &str, level: Level) -> bool {
        let ours = target.starts_with("ballista") || target.starts_with("mailstate");
        level <= if ours { Level::Info } else { Level::Warn }
    }
}

impl Log for Lines {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        Lines::wanted(metadata.target(), metadata.level())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // One write per line, so lines of concurrent tasks do not interleave.
        let line = format!(
            "mailstate cluster {}: {} {}: {}\n",
            self.role,
            record.level(),
            record.target(),
            record.args().to_string().replace('\n', " ")
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Send this process's log lines to stderr, each starting with `mailstate cluster ROLE:`.
/// A second call keeps the first logger.
pub fn init_logging(role: &'static str) {
    if log::set_boxed_logger(Box::new(Lines { role })).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}
