//! The admin listener: liveness, readiness and metrics, on a private address
//! (`admin.listen`), never on the public port Okta calls.
//!
//! - `/healthz`: 200 while the process serves requests.
//! - `/readyz`: 200 when the store takes a write now and the delivery worker
//!   runs; 503 with the reason otherwise.
//! - `/metrics`: Prometheus text.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;
use crate::store::Store;

/// How long the readiness probe waits for the store.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Content type of the metrics text.
const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the admin handlers look at.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// The store, probed for readiness and counted for gauges.
    pub store: Store,
    /// The service's metrics.
    pub metrics: Arc<Metrics>,
    /// True while the delivery worker runs.
    pub worker_alive: Arc<AtomicBool>,
}

/// The admin router.
pub fn router(state: AdminState) -> Router {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    crate::http::with_request_ids(router)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AdminState>) -> (StatusCode, String) {
    if !state.worker_alive.load(Ordering::SeqCst) {
        tracing::warn!("Not ready: the delivery worker is not running.");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the delivery worker is not running\n".into(),
        );
    }
    match tokio::time::timeout(PROBE_TIMEOUT, state.store.probe()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".into()),
        Ok(Err(error)) => {
            tracing::warn!(%error, "Not ready: the store does not take writes.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: the store does not take writes: {error}\n"),
            )
        }
        Err(_) => {
            tracing::warn!("Not ready: the store did not answer in time.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the store did not answer in time\n".into(),
            )
        }
    }
}

async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    match state.store.backlog().await {
        Ok(backlog) => {
            let oldest = backlog
                .oldest_pending
                .and_then(|at| std::time::SystemTime::now().duration_since(at).ok())
                .map_or(0, |age| i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
            state.metrics.outbox_pending.set(backlog.pending);
            state.metrics.dead_letters.set(backlog.dead);
            state.metrics.oldest_pending_seconds.set(oldest);
        }
        Err(error) => tracing::warn!(%error, "Cannot count the alerts in the store."),
    }
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        state.metrics.encode(),
    )
}
