//! When to try a failed delivery again: capped exponential backoff with
//! jitter, computed by `backon` from the number of attempts made, so that the
//! schedule survives restarts (the attempt count is in the store).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// The retry schedule.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    initial: Duration,
    max: Duration,
}

impl RetryPolicy {
    /// Starts at `initial`, doubles per attempt up to `max`; each delay gets
    /// a random extra of up to its own length, so retries spread out.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
        }
    }

    /// The longest delay before jitter.
    pub fn max_delay(&self) -> Duration {
        self.max
    }

    /// Delay before the next try, after `attempts` failed ones (1 or more).
    pub fn delay(&self, attempts: u32) -> Duration {
        let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        ExponentialBuilder::default()
            .with_min_delay(self.initial)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(index.min(64))
            .unwrap_or(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let policy = RetryPolicy::new(Duration::from_secs(1), Duration::from_secs(60));
        for (attempts, base) in [(1, 1), (2, 2), (3, 4), (7, 60), (30, 60), (u32::MAX, 60)] {
            let delay = policy.delay(attempts);
            let base = Duration::from_secs(base);
            assert!(delay >= base && delay < base * 2, "{attempts}: {delay:?}");
        }
    }
}
