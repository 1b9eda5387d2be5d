//! Progress of long phases (seeding, index builds, comparisons): bars on a terminal, plain lines
//! otherwise, nothing in quiet mode (`--format json`, or a library caller that wants silence).
//!
//! A top-level module because every command uses it (`generate`, `compare`, `cli`, the benches), not
//! only the generator. Everything goes to stderr, so stdout holds only the result.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::fmt;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// Bars when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// One line when a phase starts and one when it ends.
    Plain,
    /// Nothing.
    Quiet,
}

/// Where progress goes: a set of terminal bars, plain stderr lines, or nowhere.
#[derive(Debug, Clone)]
pub struct Progress {
    bars: Option<MultiProgress>,
    lines: bool,
}

/// What a phase counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Rows loaded (bars show a rate).
    Rows,
    /// Steps run (bars show the elapsed time).
    Steps,
}

impl Progress {
    /// Progress on stderr as `mode` asks (bars only when stderr is a terminal).
    pub fn new(mode: ProgressMode) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        match mode {
            ProgressMode::Quiet => Progress {
                bars: None,
                lines: false,
            },
            ProgressMode::Auto if terminal => Progress {
                bars: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
                lines: false,
            },
            _ => Progress {
                bars: None,
                lines: true,
            },
        }
    }

    /// No progress at all.
    pub fn quiet() -> Progress {
        Progress::new(ProgressMode::Quiet)
    }

    /// A note between phases.
    pub fn note(&self, msg: &str) {
        if let Some(m) = &self.bars {
            let _ = m.println(format!("qcheck: {msg}"));
        } else if self.lines {
            eprintln!("qcheck: {msg}");
        }
    }

    /// Starts a phase of `total` units.
    pub fn phase(&self, name: &str, total: u64, unit: Unit) -> Phase {
        let bar = self.bars.as_ref().map(|m| {
            let template = match unit {
                Unit::Rows => {
                    "{prefix:>12} [{bar:30}] {human_pos}/{human_len} rows {per_sec} ETA {eta} {msg}"
                }
                Unit::Steps => "{prefix:>12} [{bar:30}] {pos}/{len} {elapsed} ETA {eta} {msg}",
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar = m.add(ProgressBar::new(total).with_style(style));
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if self.lines {
            let what = match unit {
                Unit::Rows => format!("{} rows", fmt::count_u64(total)),
                Unit::Steps => format!("{total} steps"),
            };
            eprintln!("qcheck: {name}: {what} ...");
        }
        Phase {
            name: name.to_string(),
            bar,
            lines: self.lines,
            unit,
            start: Instant::now(),
        }
    }
}

/// A running phase; `inc` may be called from several threads.
pub struct Phase {
    name: String,
    bar: Option<ProgressBar>,
    lines: bool,
    unit: Unit,
    start: Instant,
}

impl Phase {
    /// Counts `n` more units done.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// Shows `msg` beside the bar (plain lines show nothing).
    pub fn message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }

    /// Ends the phase, returns its duration.
    pub fn finish(self, done: u64) -> Duration {
        let elapsed = self.start.elapsed();
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.lines {
            let secs = elapsed.as_secs_f64();
            let took = fmt::duration_s(secs);
            match self.unit {
                Unit::Rows => eprintln!(
                    "qcheck: {}: {} rows in {took} ({})",
                    self.name,
                    fmt::count_u64(done),
                    fmt::rate(done as f64 / secs.max(1e-9), "rows")
                ),
                Unit::Steps => eprintln!("qcheck: {}: {done} steps in {took}", self.name),
            }
        }
        elapsed
    }
}
