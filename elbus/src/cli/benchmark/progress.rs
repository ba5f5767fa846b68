//! Benchmark progress on stderr, only when it is a terminal: a line redrawn a few times a
//! second. Workers add to one counter in batches, so the hot loop stays cheap.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

/// Workers report every this many iterations.
const BATCH: u64 = 1024;
/// How often the line is redrawn.
const REDRAW: Duration = Duration::from_millis(200);

/// A worker's handle on the stage's counter; a no-op when progress is not shown.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    done: Option<Arc<AtomicU64>>,
}

impl Progress {
    /// Counts iteration `i` (0-based) of a worker: adds a batch every [`BATCH`] iterations.
    #[inline]
    pub fn tick(&self, i: u64) {
        if let Some(done) = &self.done {
            if (i + 1) % BATCH == 0 {
                done.fetch_add(BATCH, Ordering::Relaxed);
            }
        }
    }
}

/// The redrawing task of one stage.
#[derive(Debug)]
pub struct ProgressLine {
    done: Option<Arc<AtomicU64>>,
    task: Option<JoinHandle<()>>,
}

impl ProgressLine {
    /// Starts showing `stage` out of `total` iterations if `enabled`.
    pub fn start(stage: &'static str, total: u64, enabled: bool) -> ProgressLine {
        if !enabled {
            return ProgressLine {
                done: None,
                task: None,
            };
        }
        let done = Arc::new(AtomicU64::new(0));
        let counter = done.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(REDRAW);
            loop {
                ticker.tick().await;
                let done = counter.load(Ordering::Relaxed).min(total);
                let percent = done.saturating_mul(100) / total.max(1);
                let _ = write!(
                    std::io::stderr(),
                    "\r\x1b[2K{stage}: {} / {} ({percent}%)",
                    super::super::table::thousands_u64(done),
                    super::super::table::thousands_u64(total)
                );
            }
        });
        ProgressLine {
            done: Some(done),
            task: Some(task),
        }
    }

    /// The handle workers report to.
    pub fn progress(&self) -> Progress {
        Progress {
            done: self.done.clone(),
        }
    }

    /// Stops redrawing and clears the line.
    pub fn finish(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
