//! HTTP: the public event-hook endpoint that Okta calls.
//!
//! `GET {hook_path}` answers Okta's one-time verification; `POST {hook_path}`
//! takes a delivery. Both check the shared secret first. A POST is answered
//! 200 as soon as its alerts are in the outbox; it never waits for Slack.

mod auth;
mod error;
mod hook;
mod listener;
mod request_id;
mod server;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderName;
use axum::routing::get;
use tower::util::MapRequestLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::Store;

pub use auth::HookAuth;
pub use error::HookError;
pub use listener::GuardedListener;
pub use request_id::ProcessCounter;
pub use server::serve;

/// Header Okta sets on its verification request.
pub const VERIFICATION_HEADER: &str = "x-okta-verification-challenge";

/// What the hook handlers share.
#[derive(Debug, Clone)]
pub struct HookState {
    inner: Arc<HookContext>,
}

#[derive(Debug)]
struct HookContext {
    auth: HookAuth,
    rules: crate::selection::Rules,
    max_body_bytes: usize,
    timing: crate::store::Timing,
    store: Store,
    metrics: Arc<Metrics>,
}

impl HookState {
    /// State for the hook described by `settings`, storing alerts in `store`.
    pub fn new(settings: &Settings, store: Store, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(HookContext {
                auth: HookAuth::new(&settings.okta.auth_header, &settings.okta.auth_secrets)?,
                rules: crate::selection::Rules::of(&settings.okta),
                max_body_bytes: settings.server.max_body_bytes,
                timing: crate::store::Timing::of(settings),
                store,
                metrics,
            }),
        })
    }
}

/// The public router: the hook at `hook_path`, with and without a trailing
/// slash; a request slower than `timeout`, body included, gets 408.
pub fn router(hook_path: &str, state: HookState, timeout: std::time::Duration) -> Router {
    let bare = hook_path.trim_end_matches('/');
    let bare = if bare.is_empty() { "/" } else { bare };
    let hook = get(hook::verify)
        .post(hook::receive)
        .fallback(hook::method_not_allowed);
    let mut router = Router::new().route(bare, hook.clone());
    if bare != "/" {
        router = router.route(&format!("{bare}/"), hook);
    }
    let router = router
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ));
    with_request_ids(router)
}

/// Gives every request an `x-request-id` (kept when the caller sent a short,
/// plain one), returns it in the answer, and opens a `request` span carrying
/// it, so that every log line of a request names it.
pub fn with_request_ids(router: Router) -> Router {
    let header = HeaderName::from_static(request_id::HEADER);
    router
        .layer(PropagateRequestIdLayer::new(header.clone()))
        .layer(
            // Only the span: a request's own log lines say what happened,
            // and the default per-request events would be filtered out.
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    let id = request
                        .headers()
                        .get(request_id::HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // Header values read as text hold no control characters,
                    // so the id can be logged as it is.
                    tracing::info_span!("request", request_id = %id, method = %request.method())
                })
                .on_request(())
                .on_response(())
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(header, ProcessCounter::new()))
        .layer(MapRequestLayer::new(request_id::drop_unusable))
}
