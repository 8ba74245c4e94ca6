//! Delivery: the background worker that takes alerts out of the store and
//! gets each one to its destination exactly once, or into the dead letters.
//!
//! The worker sends one alert at a time, the one due soonest. Each channel is
//! paced by a [`ChannelPacer`]. A transient failure (rate limit, Slack
//! outage, network error, timeout) is retried on the [`RetryPolicy`]
//! schedule, or after Slack's `Retry-After`; a permanent failure (token,
//! scope, channel) makes the alert a dead letter at once, and so does running
//! out of `delivery.max_age_secs`. Every dead letter is logged as one ERROR
//! saying what the operator must fix.
//!
//! An alert is marked delivered only after Slack has answered `ok`; if the
//! process dies between the two, the alert is sent again at the next start.
//! That is the one way a duplicate can happen, and it needs a crash.

mod pacer;
mod retry;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use crate::alert::Alert;
use crate::metrics::{Metrics, SlackCallLabels};
use crate::okta::{AdminConsole, OktaApi};
use crate::service::AbortOnDrop;
use crate::slack::{PostMessage, Posted, SlackClient, SlackError, message};
use crate::store::{AttemptOutcome, DeliveredRecord, Pending, Store};
use crate::text::Untrusted;

pub use pacer::ChannelPacer;
pub use retry::RetryPolicy;

/// Longest the worker sleeps without looking at the store, so that alerts
/// stored by another process (`replay`, `dead-letters retry`) are picked up.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The error recorded for an alert that could not be rendered.
pub const RENDER_FAILED: &str = "render_failed";

/// Where alerts go.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A Slack channel.
    Slack {
        /// Client holding the bot token.
        client: SlackClient,
        /// Channel ID.
        channel: String,
    },
    /// Standard output, one `chat.postMessage` body per line.
    Stdout {
        /// Channel ID written into each body; may be empty.
        channel: String,
    },
}

impl Destination {
    /// The channel alerts go to.
    pub fn channel(&self) -> &str {
        match self {
            Self::Slack { channel, .. } | Self::Stdout { channel } => channel,
        }
    }

    /// Renders and sends one alert.
    pub async fn send(
        &self,
        alert: &Alert,
        console: Option<&AdminConsole>,
    ) -> Result<Posted, SlackError> {
        // A rendering bug must cost one alert (as a dead letter), not the worker.
        let channel = self.channel();
        let message = std::panic::catch_unwind(|| message::render(alert, channel, console))
            .map_err(|_| SlackError::Permanent {
                code: RENDER_FAILED.to_owned(),
            })?;
        match self {
            Self::Stdout { channel } => {
                print_line(&message).map_err(SlackError::Transient)?;
                Ok(Posted {
                    channel: channel.clone(),
                    ts: String::new(),
                })
            }
            Self::Slack { client, .. } => post(client, &message).await,
        }
    }
}

/// The delivery worker.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    destination: Destination,
    console: Option<AdminConsole>,
    pacer: ChannelPacer,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
    okta: Option<OktaApi>,
    unrecorded: VecDeque<AttemptOutcome>,
    store_failing: bool,
}

impl Worker {
    /// A worker sending from `store` to `destination`.
    pub fn new(
        store: Store,
        destination: Destination,
        console: Option<AdminConsole>,
        pacer: ChannelPacer,
        retry: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            destination,
            console,
            pacer,
            retry,
            metrics,
            okta: None,
            unrecorded: VecDeque::new(),
            store_failing: false,
        }
    }

    /// Asks Okta which factors remain before sending a factor-removal alert.
    pub fn with_okta_api(mut self, okta: Option<OktaApi>) -> Self {
        self.okta = okta;
        self
    }

    /// Runs the worker until `stop` turns true, starting it again should it
    /// ever fail (a panic), so that deliveries never stop silently. `alive`
    /// is true while it runs.
    pub async fn supervise(self, stop: watch::Receiver<bool>, alive: Arc<AtomicBool>) {
        alive.store(true, Ordering::SeqCst);
        let _gone = SetFalseOnDrop(alive);
        loop {
            let mut run = AbortOnDrop(tokio::spawn(self.clone().run(stop.clone())));
            // Stopping the supervisor (dropping it) stops its worker too.
            match (&mut run.0).await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    tracing::error!("The delivery worker failed; starting it again.");
                    tokio::time::sleep(IDLE_POLL).await;
                }
                Err(_) => return,
            }
        }
    }

    /// Delivers until `stop` turns true; an attempt under way is finished.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        tracing::debug!("Delivery worker started.");
        while !*stop.borrow() {
            let wait = if !self.flush_outcomes().await {
                // The store cannot record what was sent: sending more now
                // would only send it again. Wait for the store instead.
                IDLE_POLL
            } else {
                match self.store.next_pending().await {
                    Ok(Some(pending)) => {
                        let due_in = pending
                            .next_attempt_at
                            .duration_since(SystemTime::now())
                            .unwrap_or_default();
                        if due_in.is_zero() {
                            tokio::select! {
                                () = self.pacer.ready() => {}
                                _ = stop.changed() => break,
                            }
                            self.attempt(pending).await;
                            continue;
                        }
                        due_in.min(IDLE_POLL)
                    }
                    Ok(None) => IDLE_POLL,
                    Err(error) => {
                        tracing::error!(%error, "Cannot read undelivered alerts from the store.");
                        IDLE_POLL
                    }
                }
            };
            tokio::select! {
                () = self.store.arrivals() => {}
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::debug!("Delivery worker stopped.");
    }

    async fn attempt(&mut self, pending: Pending) {
        let Pending {
            id,
            mut alert,
            attempts,
            deadline,
            revision,
            ..
        } = pending;
        self.add_remaining_factors(&mut alert).await;
        let uuid = Untrusted(&alert.event_uuid);
        if SystemTime::now() >= deadline {
            let reason = "delivery.max_age_secs ran out before a try";
            self.give_up(id, uuid, attempts, reason).await;
            return;
        }

        let attempts = attempts.saturating_add(1);
        let started = Instant::now();
        let sent = self.destination.send(&alert, self.console.as_ref()).await;
        self.observe_call(&sent, started.elapsed());
        let error = match sent {
            Ok(posted) => {
                self.metrics.alerts_delivered.inc();
                let record = DeliveredRecord {
                    channel: posted.channel,
                    ts: posted.ts,
                };
                tracing::info!(event_uuid = %uuid, channel = %record.channel, ts = %record.ts, attempts, "Alert delivered.");
                let factors_sent = alert.factors_removed.len();
                self.record(AttemptOutcome::Delivered {
                    id,
                    record,
                    revision,
                    factors_sent,
                })
                .await;
                return;
            }
            Err(error) => error,
        };

        if !error.is_transient() {
            self.dead_letter(id, uuid, attempts, &error).await;
            return;
        }
        let delay = match &error {
            SlackError::RateLimited { retry_after } => {
                // Slack asks for seconds; a larger wish is capped, so that one
                // answer can never hold the channel for hours.
                let delay = retry_after
                    .map(|wish| wish.min(self.retry.max_delay()))
                    .unwrap_or_else(|| self.retry.delay(attempts));
                self.pacer.pause_until(tokio::time::Instant::now() + delay);
                delay
            }
            _ => self.retry.delay(attempts),
        };
        let next = SystemTime::now() + delay;
        if next >= deadline {
            let reason = format!("still failing when delivery.max_age_secs ran out: {error}");
            self.give_up(id, uuid, attempts, &reason).await;
            return;
        }
        self.metrics.alerts_retried.inc();
        tracing::warn!(event_uuid = %uuid, attempt = attempts, retry_in_ms = delay.as_millis() as u64, %error, "Slack delivery failed; will retry.");
        let error = error.to_string();
        self.record(AttemptOutcome::Retry {
            id,
            attempts,
            next_attempt_at: next,
            error,
        })
        .await;
    }

    async fn dead_letter(
        &mut self,
        id: i64,
        uuid: Untrusted<'_>,
        attempts: u32,
        error: &SlackError,
    ) {
        tracing::error!(
            event_uuid = %uuid,
            dead_letter_id = id,
            channel = self.destination.channel(),
            %error,
            fix = error.remedy(),
            "Alert not delivered: Slack refused it. Fix the cause, then run `okta-mfa-notifier dead-letters retry {id}`."
        );
        self.bury(id, attempts, error.to_string()).await;
    }

    async fn give_up(&mut self, id: i64, uuid: Untrusted<'_>, attempts: u32, reason: &str) {
        tracing::error!(
            event_uuid = %uuid,
            dead_letter_id = id,
            attempts,
            error = reason,
            fix = "check that Slack is reachable from this host and answering, then run `okta-mfa-notifier dead-letters retry --all`",
            "Alert not delivered: gave up after delivery.max_age_secs."
        );
        self.bury(id, attempts, reason.to_owned()).await;
    }

    /// Makes alert `id` a dead letter.
    async fn bury(&mut self, id: i64, attempts: u32, error: String) {
        self.metrics.alerts_dead_lettered.inc();
        self.record(AttemptOutcome::Dead {
            id,
            attempts,
            error,
        })
        .await;
    }

    /// Writes the outcome of an attempt to the store; if the store fails,
    /// keeps it to write later, and sends nothing until it is written.
    async fn record(&mut self, outcome: AttemptOutcome) {
        self.unrecorded.push_back(outcome);
        self.flush_outcomes().await;
    }

    /// Writes the outcomes not yet in the store, oldest first; true when none
    /// is left.
    async fn flush_outcomes(&mut self) -> bool {
        while let Some(outcome) = self.unrecorded.front() {
            let written = self.store.record_attempt(outcome).await;
            if let Err(error) = written {
                if !self.store_failing {
                    tracing::error!(%error, "Cannot record a delivery outcome in the store; sending nothing until it can.");
                    self.store_failing = true;
                }
                return false;
            }
            self.unrecorded.pop_front();
        }
        if self.store_failing {
            tracing::info!("The store records delivery outcomes again; resuming deliveries.");
            self.store_failing = false;
        }
        true
    }

    /// For a factor-removal alert, what Okta says the user still has; the
    /// alert goes out without it when Okta cannot say.
    async fn add_remaining_factors(&self, alert: &mut Alert) {
        let (Some(okta), true) = (&self.okta, alert.is_factor_removal()) else {
            return;
        };
        let Some(user_id) = alert.user.as_ref().and_then(|u| u.id.clone()) else {
            return;
        };
        match okta.remaining_factors(&user_id).await {
            Ok(remaining) => alert.factors_remaining = Some(remaining),
            Err(error) => tracing::warn!(
                event_uuid = %Untrusted(&alert.event_uuid),
                %error,
                "Cannot ask Okta which factors remain; sending the alert without it."
            ),
        }
    }

    fn observe_call(&self, sent: &Result<Posted, SlackError>, took: Duration) {
        if matches!(self.destination, Destination::Stdout { .. }) {
            return;
        }
        let result = match sent {
            Ok(_) => "ok",
            Err(SlackError::RateLimited { .. }) => "rate_limited",
            Err(e) if e.is_transient() => "transient",
            Err(_) => "permanent",
        };
        self.metrics
            .slack_call_seconds
            .get_or_create(&SlackCallLabels { result })
            .observe(took.as_secs_f64());
    }
}

/// Clears the flag when dropped: the supervisor is gone, however it ended.
struct SetFalseOnDrop(Arc<AtomicBool>);

impl Drop for SetFalseOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Posts `message`, and once more without blocks if Slack refuses the layout.
async fn post(client: &SlackClient, message: &PostMessage) -> Result<Posted, SlackError> {
    match client.post_message(message).await {
        Err(SlackError::InvalidPayload { code }) => {
            tracing::warn!(error = %code, "Slack refused the alert layout; sending it as plain text.");
            client.post_message(&message.text_only()).await
        }
        other => other,
    }
}

/// Writes `message` as one JSON line on standard output.
fn print_line(message: &PostMessage) -> Result<(), String> {
    let line = serde_json::to_string(message).map_err(|e| format!("cannot encode: {e}"))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))
}
