//! The two hook handlers: verification (GET) and delivery (POST).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;

use super::{HookError, HookState, VERIFICATION_HEADER};
use crate::alert::Alert;
use crate::metrics::Metrics;
use crate::okta::Delivery;
use crate::selection;
use crate::store::{Store, StoreError, Timing};
use crate::text::{Untrusted, first_of};

/// When, counted from the start of a request, the hook stops waiting for the
/// store and answers 503: Okta gives up after 3 s, and a 503 in time is
/// better than a timeout it may not retry.
const STORE_DEADLINE: Duration = Duration::from_millis(2_500);
/// The least time given to the store, even when reading the body took long.
const MIN_STORE_WAIT: Duration = Duration::from_millis(200);

/// Okta's one-time verification: echo the challenge header back as JSON.
pub(super) async fn verify(
    State(state): State<HookState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, HookError> {
    let answer = answer_challenge(&state, &headers);
    let outcome = answer
        .as_ref()
        .map_or_else(HookError::outcome, |_| "verified");
    state.inner.metrics.hook_request(outcome);
    answer
}

fn answer_challenge(
    state: &HookState,
    headers: &HeaderMap,
) -> Result<Json<serde_json::Value>, HookError> {
    if !state.inner.auth.allows(headers) {
        tracing::warn!("Refused a verification request without a valid secret.");
        return Err(HookError::Unauthorized);
    }
    let challenge = headers
        .get(VERIFICATION_HEADER)
        .ok_or(HookError::MissingChallenge)?
        .to_str()
        .map_err(|_| HookError::InvalidChallenge)?;
    tracing::info!("Answered Okta's verification request.");
    Ok(Json(json!({ "verification": challenge })))
}

/// One delivery: authenticate, read, select, commit to the store, answer.
pub(super) async fn receive(
    State(state): State<HookState>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, HookError> {
    let taken = take_delivery(&state, &headers, body).await;
    let outcome = taken
        .as_ref()
        .map_or_else(HookError::outcome, |()| "accepted");
    state.inner.metrics.hook_request(outcome);
    taken.map(|()| StatusCode::OK)
}

async fn take_delivery(
    state: &HookState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), HookError> {
    let started = Instant::now();
    let hook = &state.inner;
    if !hook.auth.allows(headers) {
        tracing::warn!("Refused a delivery without a valid secret.");
        return Err(HookError::Unauthorized);
    }
    if !is_json(headers) {
        tracing::warn!("Refused a delivery that is not declared as JSON.");
        return Err(HookError::UnsupportedMediaType);
    }

    let bytes = read_body(body, headers, hook.max_body_bytes)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "Refused a delivery body."))?;
    let delivery = Delivery::parse(&bytes).map_err(|e| {
        tracing::warn!(error = %e, "Refused a body that is not an Okta delivery.");
        HookError::BadDelivery(e.to_string())
    })?;

    let selection = selection::select(&delivery, &hook.rules);
    hook.metrics.events_received.inc_by(delivery.len() as u64);
    hook.metrics
        .events_unreadable
        .inc_by(selection.unreadable as u64);
    tracing::debug!(
        event_id = ?delivery.event_id.as_deref().unwrap_or("-"),
        events = delivery.len(),
        alerts = selection.alerts.len(),
        ignored = selection.ignored,
        unreadable = selection.unreadable,
        "Read a delivery."
    );
    if selection.alerts.is_empty() {
        return Ok(());
    }
    let uuids: Vec<String> = selection
        .alerts
        .iter()
        .map(|a| Untrusted(&a.event_uuid).to_string())
        .collect();

    // The commit runs as a task of its own: should the answer go out first
    // (the deadline passed, or Okta hung up), the commit still completes and
    // is counted and logged when it does.
    let commit = tokio::spawn(commit(
        hook.store.clone(),
        Arc::clone(&hook.metrics),
        selection.alerts,
        hook.timing,
        uuids.clone(),
    ));
    let wait = STORE_DEADLINE
        .saturating_sub(started.elapsed())
        .max(MIN_STORE_WAIT);
    match tokio::time::timeout(wait, commit).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(store_failed(&e.to_string(), &uuids)),
        Ok(Err(_)) => Err(store_failed("the store task failed", &uuids)),
        Err(_) => Err(store_failed(
            "the store did not answer in time; the alerts are stored if it still does",
            &uuids,
        )),
    }
}

/// Commits the alerts of one delivery, then counts and logs what happened.
async fn commit(
    store: Store,
    metrics: Arc<Metrics>,
    alerts: Vec<Alert>,
    timing: Timing,
    uuids: Vec<String>,
) -> Result<(), StoreError> {
    let stored = store.accept(alerts, timing).await?;
    metrics.alerts_stored.inc_by(stored.new as u64);
    metrics.alerts_duplicate.inc_by(stored.known as u64);
    if stored.new > 0 {
        tracing::info!(
            event_uuids = %first_of(&uuids, 20),
            new = stored.new,
            known = stored.known,
            "Stored alerts for delivery."
        );
    } else if stored.known > 0 {
        tracing::debug!(
            known = stored.known,
            "Every alert of the delivery was already stored."
        );
    }
    Ok(())
}

/// Logs a delivery that could not be stored, naming its events so that they
/// can be replayed should Okta's one retry fail too.
fn store_failed(error: &str, uuids: &[String]) -> HookError {
    tracing::error!(
        %error,
        event_uuids = %first_of(uuids, 20),
        "Cannot store alerts; asking Okta to retry. If the retry fails too, replay these events."
    );
    HookError::Unavailable
}

/// Whether the media type is JSON, whatever its letter case and parameters,
/// and not declared in a `charset` other than UTF-8: the body is only ever
/// read as UTF-8, so a body said to be in another one is refused, not misread.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("application/json")
        && parts.all(|parameter| match parameter.split_once('=') {
            Some((name, charset)) if name.trim().eq_ignore_ascii_case("charset") => {
                let charset = charset.trim().trim_matches('"');
                charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
            }
            _ => true,
        })
}

/// Any method but GET and POST on the hook: 405, with the `Allow` header
/// the router adds and a reason.
pub(super) async fn method_not_allowed() -> (StatusCode, &'static str) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed: deliveries are POSTed, verification is a GET\n",
    )
}

/// Reads at most `limit` bytes, refusing a declared or streamed excess with 413.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<bytes::Bytes, HookError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(HookError::PayloadTooLarge(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(HookError::PayloadTooLarge(limit))
        }
        Err(e) => {
            tracing::debug!(error = %e, "Cannot read a request body.");
            Err(HookError::UnreadableBody)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_media_type_ignores_case_and_parameters() {
        for (value, expected) in [
            ("application/json", true),
            ("Application/JSON; charset=UTF-8", true),
            ("application/json;charset=utf-8", true),
            ("application/json; charset=\"utf-8\"", true),
            ("application/json; charset=utf8", true),
            ("application/json; version=1", true),
            ("application/json; charset=UTF-16", false),
            ("application/json; charset=latin1", false),
            ("application/json;charset=ISO-8859-1", false),
            ("text/json", false),
            ("application/json-patch+json", false),
            ("text/plain", false),
            ("application/jsonx", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&headers), expected, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
