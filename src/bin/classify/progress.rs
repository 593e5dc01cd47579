//! A progress line on stderr — rows, rate, percent and ETA (from bytes read, when the input's size is
//! known) — redrawn at most 10 times a second. Shown only when stderr is a terminal, unless forced on or
//! off; messages printed while it is shown clear it first.

use std::io::Write;
use std::time::{Duration, Instant};

/// The progress line's state.
pub struct Progress {
    enabled: bool,
    total_bytes: Option<u64>,
    start: Instant,
    last_draw: Option<Instant>,
    shown: bool,
}

const WIDTH: usize = 24;

impl Progress {
    /// A progress line, drawn when `enabled`; `total_bytes` (the input file's size) gives percent and ETA.
    pub fn new(enabled: bool, total_bytes: Option<u64>) -> Self {
        Self { enabled, total_bytes: total_bytes.filter(|&t| t > 0), start: Instant::now(), last_draw: None, shown: false }
    }

    /// Whether the line is drawn at all.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Redraw for `rows` rows done and `bytes` bytes read, unless drawn less than 100 ms ago.
    pub fn update(&mut self, rows: u64, bytes: u64) {
        if !self.enabled || self.last_draw.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        self.last_draw = Some(Instant::now());
        let line = self.line(rows, bytes, self.start.elapsed().as_secs_f64());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
        self.shown = true;
    }

    /// The text of the progress line after `secs` seconds.
    pub fn line(&self, rows: u64, bytes: u64, secs: f64) -> String {
        let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
        let mut s = String::new();
        if let Some(total) = self.total_bytes {
            let frac = (bytes as f64 / total as f64).clamp(0.0, 1.0);
            let filled = (frac * WIDTH as f64).round() as usize;
            s += &format!("[{}{}] {:>3.0}% ", "#".repeat(filled), "-".repeat(WIDTH - filled), frac * 100.0);
            s += &format!("{rows} rows, {rate:.0} rows/s");
            if frac > 0.0 && secs > 0.5 {
                s += &format!(", ETA {}", clock(secs * (1.0 - frac) / frac));
            }
        } else {
            s += &format!("{rows} rows, {rate:.0} rows/s, {}", clock(secs));
        }
        s
    }

    /// Clear the line (before printing a message, and at the end).
    pub fn clear(&mut self) {
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.shown = false;
            // Redraw at the next update.
            self.last_draw = None;
        }
    }
}

/// `m:ss` or `h:mm:ss`.
fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_with_and_without_a_known_size() {
        let p = Progress::new(true, Some(1000));
        assert_eq!(p.line(200, 250, 10.0), "[######------------------]  25% 200 rows, 20 rows/s, ETA 0:30");
        let p = Progress::new(true, None);
        assert_eq!(p.line(200, 250, 75.0), "200 rows, 3 rows/s, 1:15");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
