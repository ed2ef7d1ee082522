//! Rate-limited logging for events any client can cause at will: one line per interval, and
//! that line says how many were left out since the previous one.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LogLimit {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the next line may be written; `None` before the first.
    next: Option<Instant>,
    suppressed: u64,
}

impl LogLimit {
    pub fn new(interval: Duration) -> LogLimit {
        LogLimit {
            interval,
            state: Mutex::new(State::default()),
        }
    }

    /// `Some(events left out since the last line)` when a line may be written at `now`;
    /// `None` (and the event is counted as left out) otherwise.
    pub fn allow(&self, now: Instant) -> Option<u64> {
        // The state is two plain numbers: a panic elsewhere cannot leave it inconsistent.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.next {
            Some(next) if now < next => {
                state.suppressed = state.suppressed.saturating_add(1);
                None
            }
            _ => {
                state.next = now.checked_add(self.interval);
                Some(std::mem::take(&mut state.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_counting_the_rest() {
        let limit = LogLimit::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(limit.allow(at(0)), Some(0));
        assert_eq!(limit.allow(at(1)), None);
        assert_eq!(limit.allow(at(9)), None);
        assert_eq!(limit.allow(at(10)), Some(2));
        assert_eq!(limit.allow(at(11)), None);
        assert_eq!(limit.allow(at(100)), Some(1));
        assert_eq!(limit.allow(at(101)), None);
    }
}
