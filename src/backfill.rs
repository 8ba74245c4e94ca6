//! Back-fill: alerts for the events the hook never delivered, read back from
//! the Okta System Log.
//!
//! Okta gives a hook delivery one retry, then drops it and writes an
//! `event_hook.delivery` failure to the System Log, which keeps every event
//! for 90 days. Reading the System Log for the watched event types and
//! feeding what it holds through the hook's own selection, folding and
//! de-duplication recovers what was missed and alerts nothing twice; such
//! alerts say they were recovered and how late.
//!
//! The service reads at start and then every `okta.backfill_interval_secs`:
//! from where the last reading ended, less `okta.backfill_margin_secs` read
//! again for events Okta writes late, up to a minute ago (newer events are
//! still on their way by hook). Each page's alerts are committed before the
//! stored position moves past it, so a stop at any point loses nothing, and
//! a reading cut short resumes from its stored cursor. The task has its own
//! timeouts and waits, so Okta being slow or down never holds up the hook.
//! `okta-mfa-notifier backfill` runs one reading of a given range.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Url;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

use crate::alert::Alert;
use crate::config::Settings;
use crate::metrics::{BackfillLabels, Metrics};
use crate::okta::delivery::EventSlot;
use crate::okta::syslog::{HOOK_DELIVERY_FAILED, LogPage, RateLimit, SystemLogError, okta_time};
use crate::okta::{Delivery, OktaApi, SystemLog};
use crate::selection::{self, Rules};
use crate::store::{LogPosition, Store, StoreError, Timing};
use crate::text::{Untrusted, first_of};

/// How old an event must be before a missing one counts as missed: the hook
/// brings events within seconds, with one retry.
pub const SETTLE: Duration = Duration::from_secs(60);
/// How far back the System Log goes.
const RETENTION: Duration = Duration::from_secs(90 * 86_400);
/// Answers of 429 in a row for one page before the reading is given up
/// until the next one.
const RATE_LIMIT_RETRIES: u32 = 3;
/// The longest wait for a rate-limit window to reset.
const MAX_RATE_WAIT: Duration = Duration::from_secs(120);
/// The wait when Okta says it is rate-limiting but not until when.
const DEFAULT_RATE_WAIT: Duration = Duration::from_secs(60);
/// Pages the service reads in one go; a reading with more goes on from its
/// cursor at the next one.
const MAX_PAGES: usize = 500;
/// Pages one `backfill` command reads at most (20 million events).
pub const MAX_COMMAND_PAGES: usize = 20_000;
/// Hook failures of one page logged one by one; the rest are counted.
const FAILURES_LOGGED: usize = 10;

/// Why a reading stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// Okta did not answer as hoped.
    #[error(transparent)]
    Okta(#[from] SystemLogError),
    /// The store could not take what was found.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BackfillError {
    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Okta(e) => e.is_transient(),
            Self::Store(_) => true,
        }
    }
}

/// Where found alerts go.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Into the store, for delivery.
    Store(&'a Store),
    /// Nowhere: they are listed in the report, less those the store (when
    /// there is one) already holds.
    DryRun(Option<&'a Store>),
}

/// What a reading did.
#[derive(Debug, Default)]
pub struct Report {
    /// Pages read.
    pub pages: usize,
    /// Events on them.
    pub events: usize,
    /// Events selected for an alert.
    pub selected: usize,
    /// Alerts stored for delivery: the hook had missed them.
    pub recovered: usize,
    /// Selected events the store already held.
    pub known: usize,
    /// Hook delivery failures not seen before.
    pub hook_failures: usize,
    /// In a dry run, the alerts that would be stored.
    pub would_alert: Vec<Alert>,
    /// Where the reading ended.
    pub until: Option<SystemTime>,
}

/// Reads the System Log for missed events.
#[derive(Debug, Clone)]
pub struct Backfill {
    log: SystemLog,
    rules: Rules,
    timing: Timing,
    metrics: Arc<Metrics>,
    margin: Duration,
    event_types: Vec<String>,
}

impl Backfill {
    /// A reader for the settings' org, event types and margin, or `None`
    /// when `okta.api_token` or `okta.org_url` is not set.
    pub fn of(settings: &Settings, metrics: Arc<Metrics>) -> anyhow::Result<Option<Self>> {
        let (Some(token), Some(org_url)) = (&settings.okta.api_token, &settings.okta.org_url)
        else {
            return Ok(None);
        };
        let api = OktaApi::new(org_url, token)?;
        let rules = Rules::of(&settings.okta);
        let mut event_types = rules.event_types.clone();
        if !event_types.iter().any(|t| t == HOOK_DELIVERY_FAILED) {
            event_types.push(HOOK_DELIVERY_FAILED.to_owned());
        }
        Ok(Some(Self {
            log: SystemLog::new(
                api,
                Duration::from_secs(settings.okta.backfill_timeout_secs),
            ),
            rules,
            timing: Timing::of(settings),
            metrics,
            margin: Duration::from_secs(settings.okta.backfill_margin_secs),
            event_types,
        }))
    }

    /// Runs [`Backfill::run`], starting it again should it ever panic.
    pub async fn supervise(self, store: Store, interval: Duration, stop: watch::Receiver<bool>) {
        loop {
            let run = tokio::spawn(self.clone().run(store.clone(), interval, stop.clone()));
            let mut run = crate::service::AbortOnDrop(run);
            match (&mut run.0).await {
                Err(e) if e.is_panic() => {
                    tracing::error!("The System Log reading failed; starting it again.");
                    tokio::time::sleep(interval.min(Duration::from_secs(60))).await;
                }
                _ => return,
            }
        }
    }

    /// Reads now, then every `interval`, until `stop` turns true.
    pub async fn run(self, store: Store, interval: Duration, mut stop: watch::Receiver<bool>) {
        if let Ok(Some(position)) = store.log_position().await {
            self.show_position(&position);
        }
        loop {
            match self.catch_up(&store).await {
                Ok(report) => {
                    self.count("ok");
                    if report.recovered > 0 || report.hook_failures > 0 {
                        tracing::info!(
                            pages = report.pages,
                            events = report.events,
                            recovered = report.recovered,
                            known = report.known,
                            hook_failures = report.hook_failures,
                            "Read the System Log for missed events."
                        );
                    } else {
                        tracing::debug!(
                            pages = report.pages,
                            events = report.events,
                            known = report.known,
                            "Read the System Log; the hook missed nothing."
                        );
                    }
                }
                Err(error) => {
                    self.count("failed");
                    tracing::warn!(
                        %error,
                        retry_in_secs = interval.as_secs(),
                        "Cannot read the System Log for missed events; trying again later."
                    );
                }
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    }

    /// The service's reading: from its stored position (or a cursor left
    /// by a reading cut short) up to a minute ago.
    pub async fn catch_up(&self, store: &Store) -> Result<Report, BackfillError> {
        let until = SystemTime::now() - SETTLE;
        let position = self.position(store, until).await?;
        let filter = self.event_types.join(",");
        let resumed = match (&position.cursor, position.cursor_until) {
            (Some(cursor), Some(cursor_until))
                if position.cursor_filter.as_deref() == Some(filter.as_str()) =>
            {
                Url::parse(cursor)
                    .ok()
                    .filter(|url| self.log.is_own_page(url))
                    .map(|url| (url, cursor_until))
            }
            _ => None,
        };
        let reading = match resumed {
            Some((url, cursor_until)) => {
                tracing::info!(
                    until = %okta_time(cursor_until.into()),
                    "Going on with a System Log reading that was cut short."
                );
                self.read(
                    url,
                    cursor_until,
                    Target::Store(store),
                    Some(position.clone()),
                )
                .await
            }
            None => {
                let reconciled = position.reconciled_until.unwrap_or(until);
                let since = reconciled.checked_sub(self.margin).unwrap_or(reconciled);
                let oldest = SystemTime::now() - RETENTION;
                let since = if since < oldest {
                    tracing::warn!(
                        "The System Log was last read more than 90 days ago; \
                         events older than 90 days are gone from it."
                    );
                    oldest
                } else {
                    since
                };
                if since >= until {
                    return Ok(Report::default());
                }
                let first = self
                    .log
                    .first_page(since.into(), until.into(), &self.event_types);
                self.read(first, until, Target::Store(store), Some(position.clone()))
                    .await
            }
        };
        if let Err(error) = &reading
            && !error.is_transient()
        {
            self.drop_cursor(store).await?;
        }
        reading
    }

    /// The stored position, made sound first: a new store starts reading at
    /// `until` (less the margin), recorded at once so that failed first
    /// readings do not move the start on; a position in the future (a clock
    /// that was wrong) is brought back to `until`.
    async fn position(&self, store: &Store, until: SystemTime) -> Result<LogPosition, StoreError> {
        let mut position = store.log_position().await?.unwrap_or_default();
        match position.reconciled_until {
            None => {
                tracing::info!(
                    since = %okta_time((until.checked_sub(self.margin).unwrap_or(until)).into()),
                    "Reading the System Log for the first time; \
                     run `okta-mfa-notifier backfill --since` to look further back."
                );
            }
            Some(reconciled) if reconciled > until => {
                tracing::warn!(
                    stored = %okta_time(reconciled.into()),
                    "The stored System Log position is in the future; reading from now on."
                );
            }
            Some(_) => return Ok(position),
        }
        position.reconciled_until = Some(until);
        position.cursor = None;
        position.cursor_until = None;
        position.cursor_filter = None;
        store.save_log_position(position.clone()).await?;
        self.show_position(&position);
        Ok(position)
    }

    /// Forgets the cursor of a reading Okta will not go on with, so that the
    /// next reading starts afresh from the stored position.
    async fn drop_cursor(&self, store: &Store) -> Result<(), StoreError> {
        let Some(mut position) = store.log_position().await? else {
            return Ok(());
        };
        if position.cursor.take().is_some() {
            position.cursor_until = None;
            position.cursor_filter = None;
            store.save_log_position(position).await?;
            tracing::warn!(
                "Dropped the cursor of a System Log reading that cannot go on; \
                 the next reading starts again from the stored position."
            );
        }
        Ok(())
    }

    /// One reading of the events published in `[since, until)`; the
    /// service's stored position is left as it is. A reading that cannot
    /// reach its end (more than [`MAX_COMMAND_PAGES`]) is an error.
    pub async fn read_range(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
        target: Target<'_>,
    ) -> Result<Report, BackfillError> {
        let first = self.log.first_page(since, until, &self.event_types);
        self.read(first, until.into(), target, None).await
    }

    /// Reads from `url` to the last page. With a `position`, it is the
    /// service's reading, whose progress is stored page by page, and which
    /// goes on at the next reading after [`MAX_PAGES`].
    async fn read(
        &self,
        mut url: Url,
        until: SystemTime,
        target: Target<'_>,
        mut position: Option<LogPosition>,
    ) -> Result<Report, BackfillError> {
        let mut report = Report {
            until: Some(until),
            ..Report::default()
        };
        let max_pages = if position.is_some() {
            MAX_PAGES
        } else {
            MAX_COMMAND_PAGES
        };
        let mut seen = HashSet::new();
        loop {
            seen.insert(url.clone());
            let page = self.page(&url).await?;
            let newest = self.take(&page, target, &mut report).await?;
            if page.foreign_next {
                return Err(SystemLogError::ForeignLink.into());
            }
            if page.next.as_ref().is_some_and(|next| seen.contains(next)) {
                return Err(SystemLogError::BadLink("leads back to a page already read").into());
            }
            let next = page.next;
            if let (Some(position), Target::Store(store)) = (&mut position, target) {
                if is_later(newest.as_deref(), position.last_published.as_deref()) {
                    position.last_published = newest;
                }
                match &next {
                    Some(next) => {
                        position.cursor = Some(next.to_string());
                        position.cursor_until = Some(until);
                        position.cursor_filter = Some(self.event_types.join(","));
                    }
                    None => {
                        position.reconciled_until = Some(until);
                        position.cursor = None;
                        position.cursor_until = None;
                        position.cursor_filter = None;
                    }
                }
                store.save_log_position(position.clone()).await?;
                if next.is_none() {
                    self.show_position(position);
                }
            }
            let Some(next) = next else {
                return Ok(report);
            };
            if report.pages >= max_pages {
                if position.is_none() {
                    return Err(SystemLogError::BadLink(
                        "chain is longer than one command reads; use a shorter range",
                    )
                    .into());
                }
                tracing::warn!(
                    pages = report.pages,
                    "Read as many System Log pages as one reading may; the rest follows at the next."
                );
                return Ok(report);
            }
            if page.rate.remaining == Some(0) {
                let wait = rate_wait(page.rate);
                tracing::info!(
                    wait_ms = wait.as_millis() as u64,
                    "Okta's rate limit for the System Log is used up; waiting for it to reset."
                );
                tokio::time::sleep(wait).await;
            }
            url = next;
        }
    }

    /// Reads one page, waiting out Okta's rate limit a few times.
    async fn page(&self, url: &Url) -> Result<LogPage, SystemLogError> {
        let mut limited = 0;
        loop {
            match self.log.page(url).await {
                Err(SystemLogError::RateLimited(rate)) if limited < RATE_LIMIT_RETRIES => {
                    limited += 1;
                    let wait = rate_wait(rate);
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        "Okta answered 429 for the System Log; waiting for its limit to reset."
                    );
                    tokio::time::sleep(wait).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// Selects, marks and stores the alerts of one page, and records its hook
    /// delivery failures; returns the newest `published` among them.
    async fn take(
        &self,
        page: &LogPage,
        target: Target<'_>,
        report: &mut Report,
    ) -> Result<Option<String>, BackfillError> {
        let delivery =
            Delivery::parse_replay(&page.body).map_err(|e| SystemLogError::Body(e.to_string()))?;
        report.pages += 1;
        report.events += delivery.len();

        let found = OffsetDateTime::now_utc();
        let selection = selection::select(&delivery, &self.rules);
        self.metrics
            .events_unreadable
            .inc_by(selection.unreadable as u64);
        let mut alerts = selection.alerts;
        for alert in &mut alerts {
            alert.mark_recovered(found);
        }
        report.selected += alerts.len();
        let failures: Vec<Box<crate::okta::LogEvent>> = delivery
            .events(&[HOOK_DELIVERY_FAILED.to_owned()])
            .filter_map(|(_, slot)| match slot {
                EventSlot::Wanted(event) => Some(event),
                _ => None,
            })
            .collect();
        let newest = alerts
            .iter()
            .map(|a| a.published.clone())
            .chain(failures.iter().map(|e| e.published.clone()))
            .max();

        match target {
            Target::Store(store) => {
                let uuids: Vec<String> = alerts
                    .iter()
                    .map(|a| Untrusted(&a.event_uuid).to_string())
                    .collect();
                let stored = store.accept(alerts, self.timing).await?;
                report.recovered += stored.new;
                report.known += stored.known;
                self.metrics.alerts_recovered.inc_by(stored.new as u64);
                self.metrics.alerts_stored.inc_by(stored.new as u64);
                if stored.new > 0 {
                    tracing::warn!(
                        event_uuids = %first_of(&uuids, 20),
                        recovered = stored.new,
                        "Recovered alerts from the System Log: the hook never delivered these events."
                    );
                }
                let new_failures = store
                    .record_hook_failures(
                        failures
                            .iter()
                            .map(|e| (e.uuid.clone(), e.published.clone()))
                            .collect(),
                    )
                    .await?;
                report.hook_failures += new_failures.len();
                self.metrics
                    .hook_delivery_failures
                    .inc_by(new_failures.len() as u64);
                let mut logged = 0;
                for event in failures.iter().filter(|e| new_failures.contains(&e.uuid)) {
                    logged += 1;
                    if logged <= FAILURES_LOGGED {
                        log_hook_failure(event);
                    }
                }
                if logged > FAILURES_LOGGED {
                    tracing::warn!(
                        failures = logged,
                        "Okta reports more failed event hook deliveries; only the first are logged one by one."
                    );
                }
            }
            Target::DryRun(store) => {
                let known = match store {
                    Some(store) => {
                        store
                            .known_events(alerts.iter().map(|a| a.event_uuid.clone()).collect())
                            .await?
                    }
                    None => Default::default(),
                };
                for alert in alerts {
                    if known.contains(&alert.event_uuid) {
                        report.known += 1;
                    } else {
                        report.would_alert.push(alert);
                    }
                }
                report.hook_failures += failures.len();
            }
        }
        Ok(newest)
    }

    fn count(&self, result: &'static str) {
        self.metrics
            .backfill_runs
            .get_or_create(&BackfillLabels { result })
            .inc();
    }

    fn show_position(&self, position: &LogPosition) {
        if let Some(until) = position.reconciled_until {
            let seconds = until
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            self.metrics
                .backfill_reconciled_until
                .set(i64::try_from(seconds).unwrap_or(i64::MAX));
        }
    }
}

/// How long to wait for Okta's rate-limit window to reset.
fn rate_wait(rate: RateLimit) -> Duration {
    let Some(reset) = rate.reset else {
        return DEFAULT_RATE_WAIT;
    };
    let Some(reset) = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(reset)) else {
        return MAX_RATE_WAIT;
    };
    reset
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .clamp(Duration::from_secs(1), MAX_RATE_WAIT)
}

/// Whether System Log time `a` is later than `b`, comparing times, not text.
fn is_later(a: Option<&str>, b: Option<&str>) -> bool {
    let parse = |t: &str| OffsetDateTime::parse(t, &Rfc3339).ok();
    match (a.and_then(parse), b.and_then(parse)) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// One WARN for one delivery Okta could not make.
fn log_hook_failure(event: &crate::okta::LogEvent) {
    let hook = event
        .target
        .as_deref()
        .and_then(|targets| targets.first())
        .and_then(|t| t.display_name.as_deref().or(t.id.as_deref()))
        .unwrap_or("-");
    let reason = event
        .outcome
        .as_ref()
        .and_then(|o| o.reason.as_deref().or(o.result.as_deref()))
        .unwrap_or("-");
    tracing::warn!(
        event_uuid = %Untrusted(&event.uuid),
        published = %Untrusted(&event.published),
        hook = %Untrusted(&truncate(hook)),
        reason = %Untrusted(&truncate(reason)),
        "Okta reports a failed event hook delivery; its events are read back from the System Log."
    );
}

fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_compares_times_not_text() {
        assert!(is_later(
            Some("2026-10-24T09:00:00Z"),
            Some("2026-10-24T08:59:59.999+00:00")
        ));
        assert!(!is_later(
            Some("2026-10-24T09:00:00+02:00"),
            Some("2026-10-24T08:00:00Z")
        ));
        assert!(is_later(Some("2026-10-24T09:00:00Z"), None));
        assert!(!is_later(Some("not a time"), Some("2026-10-24T09:00:00Z")));
    }

    #[test]
    fn rate_limit_waits_are_bounded() {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let wait = |reset| {
            rate_wait(RateLimit {
                remaining: Some(0),
                reset,
            })
        };
        assert_eq!(wait(None), DEFAULT_RATE_WAIT);
        assert_eq!(wait(Some(0)), Duration::from_secs(1), "a reset in the past");
        assert_eq!(wait(Some(now + 100_000)), MAX_RATE_WAIT);
        assert_eq!(wait(Some(u64::MAX)), MAX_RATE_WAIT, "no overflow");
        assert_eq!(wait(Some(1 << 63)), MAX_RATE_WAIT, "no overflow");
        let soon = wait(Some(now + 5));
        assert!(
            soon > Duration::from_secs(3) && soon <= Duration::from_secs(5),
            "{soon:?}"
        );
    }
}
