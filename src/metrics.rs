//! Metrics: what the service counts, in Prometheus text.
//!
//! Every name carries the `okta_mfa_notifier_` prefix. Counters move where the
//! thing happens (the hook, the worker); the outbox gauges are read from the
//! store when `/metrics` is scraped, so they are right across restarts.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label of a hook request: how it was answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `accepted`, `verified`, `unauthorized`, `unsupported_media_type`,
    /// `too_large`, `bad_request` or `unavailable`.
    pub outcome: &'static str,
}

/// Label of a Slack call: how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SlackCallLabels {
    /// `ok`, `rate_limited`, `transient` or `permanent`.
    pub result: &'static str,
}

/// Label of a System Log reading: how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackfillLabels {
    /// `ok` or `failed`.
    pub result: &'static str,
}

type HistogramMaker = fn() -> Histogram;

/// Every metric of the service.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Hook requests, by outcome.
    pub hook_requests: Family<RequestLabels, Counter>,
    /// System Log events in accepted deliveries.
    pub events_received: Counter,
    /// Events of accepted deliveries that could not be read and were skipped.
    pub events_unreadable: Counter,
    /// Alerts committed to the store for the first time.
    pub alerts_stored: Counter,
    /// Selected events that were already stored (redeliveries, replays).
    pub alerts_duplicate: Counter,
    /// Alerts Slack accepted.
    pub alerts_delivered: Counter,
    /// Failed attempts scheduled to be tried again.
    pub alerts_retried: Counter,
    /// Alerts given up as dead letters.
    pub alerts_dead_lettered: Counter,
    /// Alerts waiting for delivery (read from the store at scrape time).
    pub outbox_pending: Gauge,
    /// Dead letters in the store (read from the store at scrape time).
    pub dead_letters: Gauge,
    /// Age in seconds of the oldest alert waiting for delivery; 0 when none.
    pub oldest_pending_seconds: Gauge,
    /// Duration of `chat.postMessage` calls, by result.
    pub slack_call_seconds: Family<SlackCallLabels, Histogram, HistogramMaker>,
    /// Readings of the System Log for missed events, by result.
    pub backfill_runs: Family<BackfillLabels, Counter>,
    /// Alerts stored from the System Log because the hook missed their event.
    pub alerts_recovered: Counter,
    /// `event_hook.delivery` failures Okta reported, each counted once.
    pub hook_delivery_failures: Counter,
    /// Unix time up to which the System Log has been read; 0 before the first reading.
    pub backfill_reconciled_until: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("okta_mfa_notifier");
        let metrics = Self {
            hook_requests: Family::default(),
            events_received: Counter::default(),
            events_unreadable: Counter::default(),
            alerts_stored: Counter::default(),
            alerts_duplicate: Counter::default(),
            alerts_delivered: Counter::default(),
            alerts_retried: Counter::default(),
            alerts_dead_lettered: Counter::default(),
            outbox_pending: Gauge::default(),
            dead_letters: Gauge::default(),
            oldest_pending_seconds: Gauge::default(),
            slack_call_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 12))
            }),
            backfill_runs: Family::default(),
            alerts_recovered: Counter::default(),
            hook_delivery_failures: Counter::default(),
            backfill_reconciled_until: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "hook_requests",
            "Event-hook requests, by how they were answered",
            metrics.hook_requests.clone(),
        );
        registry.register(
            "events_received",
            "System Log events in accepted deliveries",
            metrics.events_received.clone(),
        );
        registry.register(
            "events_unreadable",
            "Events of accepted deliveries skipped because they cannot be read",
            metrics.events_unreadable.clone(),
        );
        registry.register(
            "alerts_stored",
            "Alerts committed to the store for the first time",
            metrics.alerts_stored.clone(),
        );
        registry.register(
            "alerts_duplicate",
            "Selected events already in the store (redeliveries, replays)",
            metrics.alerts_duplicate.clone(),
        );
        registry.register(
            "alerts_delivered",
            "Alerts accepted by Slack",
            metrics.alerts_delivered.clone(),
        );
        registry.register(
            "alerts_retried",
            "Failed delivery attempts scheduled to be tried again",
            metrics.alerts_retried.clone(),
        );
        registry.register(
            "alerts_dead_lettered",
            "Alerts given up as dead letters",
            metrics.alerts_dead_lettered.clone(),
        );
        registry.register(
            "outbox_pending",
            "Alerts waiting for delivery",
            metrics.outbox_pending.clone(),
        );
        registry.register(
            "dead_letters",
            "Dead letters waiting for an operator",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "outbox_oldest_pending_seconds",
            "Age of the oldest alert waiting for delivery, 0 when none",
            metrics.oldest_pending_seconds.clone(),
        );
        registry.register(
            "slack_call_seconds",
            "Duration of chat.postMessage calls, by result",
            metrics.slack_call_seconds.clone(),
        );
        registry.register(
            "backfill_runs",
            "Readings of the Okta System Log for events the hook missed, by result",
            metrics.backfill_runs.clone(),
        );
        registry.register(
            "alerts_recovered",
            "Alerts stored from the System Log because the hook never delivered their event",
            metrics.alerts_recovered.clone(),
        );
        registry.register(
            "okta_hook_delivery_failures",
            "Event hook deliveries Okta reports as failed (event_hook.delivery), each counted once",
            metrics.hook_delivery_failures.clone(),
        );
        registry.register(
            "backfill_reconciled_until_seconds",
            "Unix time up to which the System Log has been read for missed events",
            metrics.backfill_reconciled_until.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts one hook request answered with `outcome`.
    pub fn hook_request(&self, outcome: &'static str) {
        self.hook_requests
            .get_or_create(&RequestLabels { outcome })
            .inc();
    }

    /// The metrics in the Prometheus (OpenMetrics) text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "Cannot encode the metrics.");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix_and_labels() {
        let metrics = Metrics::new();
        metrics.hook_request("accepted");
        metrics.alerts_stored.inc();
        metrics
            .slack_call_seconds
            .get_or_create(&SlackCallLabels { result: "ok" })
            .observe(0.02);
        let text = metrics.encode();
        assert!(
            text.contains("okta_mfa_notifier_hook_requests_total{outcome=\"accepted\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("okta_mfa_notifier_alerts_stored_total 1"),
            "{text}"
        );
        assert!(
            text.contains("okta_mfa_notifier_slack_call_seconds_count{result=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("okta_mfa_notifier_outbox_pending 0"),
            "{text}"
        );
    }
}
