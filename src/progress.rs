//! Progress on long work (placebos, bootstraps, batches): a single updating line on stderr, only
//! when stderr is a terminal and the run is not `--quiet`, so CI logs and pipes stay clean.
//! Counting is thread-safe; the line is redrawn at most every 100 ms.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Set by `--quiet`.
pub static QUIET: AtomicBool = AtomicBool::new(false);

pub struct Progress {
    label: String,
    total: usize,
    done: AtomicUsize,
    last_draw: Mutex<Instant>,
    enabled: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>, total: usize) -> Progress {
        let enabled = !QUIET.load(Ordering::Relaxed)
            && std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none()
            && total > 1;
        Progress {
            label: label.into(),
            total,
            done: AtomicUsize::new(0),
            last_draw: Mutex::new(Instant::now()),
            enabled,
        }
    }

    /// One unit of work finished.
    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.enabled {
            return;
        }
        let Ok(mut last) = self.last_draw.try_lock() else {
            return;
        };
        if last.elapsed() >= Duration::from_millis(100) || done == self.total {
            *last = Instant::now();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}: {done}/{} ", self.label, self.total);
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.enabled {
            // Clear the line so that warnings and results start on a clean one.
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}\r", " ".repeat(self.label.len() + 24));
            let _ = err.flush();
        }
    }
}
