//! Pacing of the messages to one Slack channel.
//!
//! Slack allows about one message per second per channel, with short bursts.
//! [`ChannelPacer`] is a token bucket: `burst` messages may go at once, then
//! one per `1 / rate` seconds; a 429 pauses the channel until Slack's
//! `Retry-After` has passed. It is a few lines of arithmetic on `Instant`s,
//! kept here rather than in a rate-limiting crate because it also has to
//! honour the pause that Slack asks for.

use std::time::Duration;

use tokio::time::Instant;

/// Token bucket for one channel.
#[derive(Debug, Clone)]
pub struct ChannelPacer {
    rate: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
    paused_until: Option<Instant>,
}

impl ChannelPacer {
    /// A full bucket: `burst` messages at once, then `rate` per second.
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            updated: Instant::now(),
            paused_until: None,
        }
    }

    /// Waits until a message may be sent, and takes its slot.
    pub async fn ready(&mut self) {
        while let Some(wait) = self.try_take(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends nothing before `until`, and starts again with an empty bucket.
    pub fn pause_until(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        self.tokens = 0.0;
        self.updated = until;
    }

    /// Takes a slot at `now`, or says how long to wait for one.
    fn try_take(&mut self, now: Instant) -> Option<Duration> {
        if let Some(until) = self.paused_until {
            if now < until {
                return Some(until - now);
            }
            self.paused_until = None;
        }
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_second() {
        let mut pacer = ChannelPacer::new(1.0, 3);
        let start = pacer.updated;
        for _ in 0..3 {
            assert_eq!(pacer.try_take(start), None);
        }
        let wait = pacer.try_take(start).expect("bucket empty");
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        assert_eq!(pacer.try_take(start + Duration::from_secs(1)), None);
        assert!(
            pacer
                .try_take(start + Duration::from_millis(1500))
                .is_some()
        );
        assert_eq!(pacer.try_take(start + Duration::from_secs(2)), None);
    }

    #[test]
    fn a_pause_holds_every_message_until_it_ends() {
        let mut pacer = ChannelPacer::new(1.0, 3);
        let start = pacer.updated;
        pacer.pause_until(start + Duration::from_secs(2));
        let wait = pacer.try_take(start).expect("paused");
        assert_eq!(wait, Duration::from_secs(2));
        let after = start + Duration::from_secs(2);
        assert_eq!(pacer.try_take(after + Duration::from_secs(1)), None);
        assert!(pacer.try_take(after + Duration::from_secs(1)).is_some());
    }
}
